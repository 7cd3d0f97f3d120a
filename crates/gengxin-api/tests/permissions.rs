//! The permission matrix: every endpoint × every role (and the public) × an object in scope and
//! one out of scope, with the status each cell must answer; list endpoints also by the ids they
//! return. Then sign-in itself: lockout, the TOTP second factor without replay, CSRF, logout,
//! API tokens, and the audit chain.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use gengxin_model::{Feature, GENERATED, LayerId};
use gengxin_store::gpkg::GeoPackageStore;
use gengxin_store::{Store, StoreError};
use geo_types::polygon;
use http_body_util::BodyExt;
use tower::ServiceExt;

/// The callers, in the order of every row of expected statuses.
const ROLES: [&str; 8] = [
    "public",
    "city_admin",
    "city_leader",
    "district",
    "entity",
    "community_worker",
    "security_admin",
    "audit_admin",
];

const C1: &str = "420106001001";
const C2: &str = "420102001001";

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn point(id: &str, x: f64) -> Feature {
    Feature::new(id, GENERATED, at()).with_geometry(geo_types::Point::new(x, 30.5))
}

fn user(name: &str, role: &str) -> Feature {
    let mut u = gengxin_auth::account::NewUser {
        username: name.into(),
        role: role.into(),
        organisation_id: "org".into(),
        password: "Lantern-Harbor-77".into(),
        ..Default::default()
    };
    match role {
        "district" => u.district_code = Some("420106".into()),
        "entity" => u.project_ids = vec!["prj-1".into()],
        "community_worker" => u.community_code = Some(C1.into()),
        _ => {}
    }
    gengxin_auth::account::new_user(u, at()).unwrap().0
}

fn token_of(role: &str) -> String {
    format!("gxt_test_{role}")
}

async fn fixture() -> (tempfile::TempDir, Arc<dyn Store>, axum::Router) {
    let dir = tempfile::tempdir().unwrap();
    let store = GeoPackageStore::create_or_open(&dir.path().join("perm.gpkg")).unwrap();
    let project = |id: &str, district: &str| {
        Feature::new(id, GENERATED, at())
            .set("code", id)
            .set("name", format!("{id} 旧城改造项目"))
            .set("renewal_object_id", "ro")
            .set("district_code", district)
            .set("stage", "construction")
            .set("start_date", "2026-01-01")
            .set("planned_end_date", "2028-12-31")
    };
    let milestone = |id: &str, p: &str| {
        Feature::new(id, GENERATED, at())
            .set("project_id", p)
            .set("seq", 1_i64)
            .set("stage", "construction")
            .set("name", "开工")
            .set("planned_date", "2026-03-01")
            .set("status", "done")
    };
    let special = |id: &str, c: &str, x: f64| {
        point(id, x)
            .set("kind", "elderly_alone")
            .set("person_name", "张三")
            .set("phone", "13800000000")
            .set("community_code", c)
    };
    let supply = |id: &str, c: &str| {
        Feature::new(id, GENERATED, at())
            .set("community_code", c)
            .set("item", "口罩")
            .set("unit", "个")
            .set("quantity", 100.0)
    };
    let mut users = Vec::new();
    let mut tokens = Vec::new();
    for role in &ROLES[1..] {
        users.push(user(role, role));
        tokens.push(
            Feature::new(gengxin_auth::secret::digest(&token_of(role)), "test", at())
                .set("user_id", *role)
                .set("name", "tests"),
        );
    }
    store
        .insert(vec![
            (
                LayerId::Parcels,
                vec![
                    Feature::new("p1", GENERATED, at())
                        .with_geometry(polygon![(x: 114.3, y: 30.5), (x: 114.301, y: 30.5), (x: 114.301, y: 30.501)])
                        .set("code", "p1")
                        .set("land_use", "0701")
                        .set("area_m2", 100.0)
                        .set("district_code", "420106"),
                ],
            ),
            (
                LayerId::Projects,
                vec![project("prj-1", "420106"), project("prj-2", "420102")],
            ),
            (
                LayerId::Milestones,
                vec![milestone("m-1", "prj-1"), milestone("m-2", "prj-2")],
            ),
            (
                LayerId::SpecialPopulations,
                vec![special("sp-1", C1, 114.3), special("sp-2", C2, 114.2)],
            ),
            (
                LayerId::Supplies,
                vec![supply("su-1", C1), supply("su-2", C2)],
            ),
            (
                LayerId::Organisations,
                vec![
                    Feature::new("org", "test", at())
                        .set("name", "市城市更新办")
                        .set("kind", "city_department"),
                ],
            ),
            (LayerId::Users, users),
            (LayerId::ApiTokens, tokens),
            (
                LayerId::Jobs,
                vec![
                    Feature::new("job:evaluate_life_circle:1", "gengxin", at())
                        .set("kind", "evaluate_life_circle")
                        .set("run_at", gengxin_model::timestamp(&at()))
                        .set("status", "done")
                        .set("attempts", 1_i64)
                        .set("payload", r#"{"requested_by": "district", "result": {}}"#),
                ],
            ),
            (
                LayerId::CustomLayers,
                [
                    ("plan_org", Some("organisation"), Some("org2")),
                    ("plan_mine", Some("organisation"), Some("org")),
                    ("plan_staff", Some("staff"), None),
                    ("plan_public", Some("public"), None),
                    ("plan_legacy", None, None),
                ]
                .into_iter()
                .map(|(name, access, org)| {
                    let mut row = gengxin_io::custom::CustomLayer {
                        name: name.into(),
                        title: format!("{name} 规划"),
                        spatial: false,
                        fields: vec![("n".into(), gengxin_model::FieldType::Int)],
                        import_id: None,
                        access: access.unwrap_or_default().into(),
                        organisation_id: org.map(Into::into),
                    }
                    .to_row(at(), "test");
                    if access.is_none() {
                        // A definition made before access classes.
                        row.properties.remove("access");
                    }
                    row
                })
                .collect(),
            ),
            (
                LayerId::CustomRows,
                ["plan_org", "plan_mine", "plan_staff", "plan_public", "plan_legacy"]
                    .iter()
                    .map(|l| {
                        Feature::new(format!("{l}:{l}-1"), "test", at())
                            .set("layer_id", *l)
                            .set("properties", r#"{"n": 1}"#)
                    })
                    .collect(),
            ),
        ])
        .await
        .unwrap();
    let attachment = |id: &str, owner: &str| {
        (
            Feature::new(id, GENERATED, at())
                .set("owner_layer", "projects")
                .set("owner_id", owner)
                .set("file_name", format!("{id}.txt"))
                .set("media_type", "text/plain"),
            id.as_bytes().to_vec(),
        )
    };
    store
        .add_attachments(vec![
            attachment("att-1", "prj-1"),
            attachment("att-2", "prj-2"),
        ])
        .await
        .unwrap();
    let store: Arc<dyn Store> = Arc::new(store);
    (dir, store.clone(), gengxin_api::app(store))
}

async fn request(
    app: &axum::Router,
    role: &str,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: Option<serde_json::Value>,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder().method(method).uri(uri);
    if role != "public" {
        req = req.header("authorization", format!("Bearer {}", token_of(role)));
    }
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        Some(b) => {
            req = req.header("content-type", "application/json");
            Body::from(b.to_string())
        }
        None => Body::empty(),
    };
    let r = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

/// One row of the matrix: a request and the status per caller (in [`ROLES`] order).
struct Cell {
    method: &'static str,
    uri: &'static str,
    expect: [u16; 8],
}

const fn get(uri: &'static str, expect: [u16; 8]) -> Cell {
    Cell {
        method: "GET",
        uri,
        expect,
    }
}

/// Reads: in scope and out of scope for the district (420106), the entity (prj-1) and the
/// community worker (C1); out of scope answers as absent (404), never as the row.
const READS: &[Cell] = &[
    get("/api/health", [200; 8]),
    get("/api/layers", [200; 8]),
    get("/api/units/420106", [404; 8]),
    get("/api/layers/parcels/features/p1", [200; 8]),
    get("/api/layers/parcels/features", [200; 8]),
    get("/tiles", [200; 8]),
    get("/ogc/collections/parcels/items/p1", [200; 8]),
    get("/api/search?q=p1", [200; 8]),
    get("/api/isochrone?lon=114.3&lat=30.5", [422; 8]),
    // Project records.
    get(
        "/api/layers/projects/features/prj-1",
        [401, 200, 200, 200, 200, 403, 403, 403],
    ),
    get(
        "/api/layers/projects/features/prj-2",
        [401, 200, 200, 404, 404, 403, 403, 403],
    ),
    get(
        "/api/layers/milestones/features/m-1",
        [401, 200, 200, 200, 200, 403, 403, 403],
    ),
    get(
        "/api/layers/milestones/features/m-2",
        [401, 200, 200, 404, 404, 403, 403, 403],
    ),
    get(
        "/ogc/collections/projects/items/prj-1",
        [401, 200, 200, 200, 200, 403, 403, 403],
    ),
    get(
        "/ogc/collections/projects/items/prj-2",
        [401, 200, 200, 404, 404, 403, 403, 403],
    ),
    get(
        "/api/attachments/att-1",
        [401, 200, 200, 200, 200, 403, 403, 403],
    ),
    get(
        "/api/attachments/att-2",
        [401, 200, 200, 404, 404, 403, 403, 403],
    ),
    get("/api/progress", [401, 200, 200, 200, 200, 403, 403, 403]),
    get(
        "/api/layers/projects/export?format=csv",
        [401, 200, 200, 403, 403, 403, 403, 403],
    ),
    get(
        "/ogc/collections/projects/items?f=csv",
        [401, 200, 200, 403, 403, 403, 403, 403],
    ),
    // Raw codes for machines and English headings: the same rule.
    get(
        "/api/layers/projects/export?format=xlsx&codes=true",
        [401, 200, 200, 403, 403, 403, 403, 403],
    ),
    get(
        "/ogc/collections/projects/items?f=csv&codes=true&lang=en",
        [401, 200, 200, 403, 403, 403, 403, 403],
    ),
    get(
        "/api/history/projects/prj-2",
        [401, 200, 200, 404, 404, 403, 403, 403],
    ),
    // Personal information: the worker of its community and the city administrator only.
    get(
        "/api/layers/special_populations/features/sp-1",
        [401, 200, 403, 403, 403, 200, 403, 403],
    ),
    get(
        "/api/layers/special_populations/features/sp-2",
        [401, 200, 403, 403, 403, 404, 403, 403],
    ),
    get(
        "/api/layers/special_populations/features",
        [401, 200, 403, 403, 403, 200, 403, 403],
    ),
    get("/ogc/collections/special_populations/items", [404; 8]),
    get(
        "/api/layers/special_populations/export?format=csv",
        [401, 200, 403, 403, 403, 403, 403, 403],
    ),
    // A community's operational records.
    get(
        "/api/layers/supplies/features/su-1",
        [401, 200, 200, 200, 403, 200, 403, 403],
    ),
    get(
        "/api/layers/supplies/features/su-2",
        [401, 200, 200, 404, 403, 404, 403, 403],
    ),
    // Custom layers, by the access class chosen at import (the security and audit
    // administrators see public data only).
    get(
        "/api/layers/plan_org/features",
        [401, 200, 403, 403, 403, 403, 403, 403],
    ),
    get(
        "/api/layers/plan_org/features/plan_org-1",
        [401, 200, 403, 403, 403, 403, 403, 403],
    ),
    get(
        "/api/layers/plan_org/export?format=csv",
        [401, 200, 403, 403, 403, 403, 403, 403],
    ),
    get(
        "/api/layers/plan_mine/features",
        [401, 200, 200, 200, 200, 200, 403, 403],
    ),
    get(
        "/api/layers/plan_staff/features",
        [401, 200, 200, 200, 200, 200, 403, 403],
    ),
    get(
        "/api/layers/plan_staff/export?format=csv",
        [401, 200, 200, 200, 200, 200, 403, 403],
    ),
    get(
        "/api/layers/plan_legacy/features",
        [401, 200, 200, 200, 200, 200, 403, 403],
    ),
    get("/api/layers/plan_public/features", [200; 8]),
    get("/api/layers/plan_public/features/plan_public-1", [200; 8]),
    get("/api/layers/plan_none/features", [404; 8]),
    // Summaries: the public and the community worker get no project figures (checked by
    // tests/oracle.rs); everyone gets the place.
    get("/api/summary/admin_units/420106", [404; 8]),
    // Bookkeeping is never a layer.
    get("/api/layers/users/features", [404; 8]),
    get("/api/layers/sessions/features", [404; 8]),
    get("/api/layers/audit_log/features", [404; 8]),
    get("/api/layers/users/features/city_admin", [404; 8]),
    get("/ogc/collections/users/items", [404; 8]),
    // Accounts and administration.
    get("/api/auth/me", [401, 200, 200, 200, 200, 200, 200, 200]),
    get("/api/auth/tokens", [401, 200, 200, 200, 200, 200, 200, 200]),
    get(
        "/api/saved-queries",
        [401, 200, 200, 200, 200, 200, 200, 200],
    ),
    get("/api/admin/users", [401, 200, 403, 403, 403, 403, 200, 403]),
    get(
        "/api/admin/organisations",
        [401, 200, 403, 403, 403, 403, 403, 403],
    ),
    get("/api/audit", [401, 403, 403, 403, 403, 403, 403, 200]),
    get(
        "/api/audit/export",
        [401, 403, 403, 403, 403, 403, 403, 200],
    ),
    get(
        "/api/audit/export?codes=true&lang=en",
        [401, 403, 403, 403, 403, 403, 403, 200],
    ),
    get(
        "/api/audit/verify",
        [401, 403, 403, 403, 403, 403, 403, 200],
    ),
    get("/api/imports", [401, 200, 403, 403, 403, 403, 403, 403]),
    // A job: the administrator sees every one, a user those they asked for.
    get(
        "/api/jobs/job:evaluate_life_circle:1",
        [401, 200, 404, 200, 404, 404, 404, 404],
    ),
    get(
        "/api/jobs/job:none",
        [401, 404, 404, 404, 404, 404, 404, 404],
    ),
    // The page, the documents and the map's resources.
    get("/", [200; 8]),
    get("/assets/none.js", [404; 8]),
    get("/api/openapi.json", [200; 8]),
    get("/api/units/420106/children", [404; 8]),
    get("/tiles/parcels.json", [200; 8]),
    get("/tiles/parcels/15/26787/13458.mvt", [200; 8]),
    get("/tiles/special_populations/15/26787/13458.mvt", [404; 8]),
    get(
        "/fonts/Noto%20Sans%20CJK%20SC%20Regular/0-255.pbf",
        [200; 8],
    ),
    get("/ogc", [200; 8]),
    get("/ogc/conformance", [200; 8]),
    get("/ogc/collections", [200; 8]),
    get("/ogc/collections/parcels", [200; 8]),
    get("/ogc/collections/parcels/queryables", [200; 8]),
    get(
        "/ogc/collections/projects",
        [401, 200, 200, 200, 200, 403, 403, 403],
    ),
    // Retrieval of public data.
    get("/api/summary/parcels/p1", [200; 8]),
    get("/api/at?lon=114.3005&lat=30.5002", [200; 8]),
    get("/api/life-circle/communities/420106001001", [404; 8]),
    get(
        "/api/saved-queries/sq-none",
        [401, 404, 404, 404, 404, 404, 404, 404],
    ),
    get(
        "/api/saved-queries/sq-none/run",
        [401, 404, 404, 404, 404, 404, 404, 404],
    ),
    // Reporting.
    get("/api/forms", [401, 200, 200, 200, 200, 200, 200, 200]),
    get(
        "/api/forms/progress@1",
        [401, 404, 404, 404, 404, 404, 404, 404],
    ),
    get(
        "/api/forms/progress@1/template?period=2026-11",
        [401, 404, 404, 404, 404, 404, 404, 404],
    ),
    get("/api/submissions", [401, 200, 200, 200, 200, 200, 200, 200]),
    get(
        "/api/submissions/sub-none",
        [401, 404, 404, 404, 404, 404, 404, 404],
    ),
    get("/api/tasks", [401, 200, 200, 200, 200, 200, 200, 200]),
    get(
        "/api/reporting/status",
        [401, 200, 200, 200, 403, 403, 403, 403],
    ),
];

/// Operations not in the tables above, with why: each is covered where it is named.
const ELSEWHERE: &[(&str, &str, &str)] = &[(
    "GET",
    "/api/changes",
    "a stream that never ends; tests/api.rs checks it forwards only the layers the caller reads",
)];

/// One write of the matrix: run as each caller on a fresh store, so no caller sees another's.
struct Write {
    method: &'static str,
    uri: &'static str,
    headers: &'static [(&'static str, &'static str)],
    body: fn() -> Option<serde_json::Value>,
    expect: [u16; 8],
}

fn none() -> Option<serde_json::Value> {
    None
}

const IF_MATCH_1: &[(&str, &str)] = &[("if-match", "\"1\"")];

const WRITES: &[Write] = &[
    Write {
        method: "POST",
        uri: "/api/auth/login",
        headers: &[],
        body: || Some(serde_json::json!({"username": "district", "password": "wrong-Password-1"})),
        expect: [401; 8],
    },
    Write {
        method: "POST",
        uri: "/api/auth/logout",
        headers: &[],
        body: none,
        expect: [204; 8],
    },
    Write {
        method: "POST",
        uri: "/api/auth/password",
        headers: &[],
        body: || {
            Some(serde_json::json!({"current": "wrong-Password-1", "new": "Another-Lantern-88"}))
        },
        expect: [401; 8],
    },
    Write {
        method: "POST",
        uri: "/api/auth/tokens",
        headers: &[],
        body: || Some(serde_json::json!({"name": "报表"})),
        expect: [401, 201, 201, 201, 201, 201, 201, 201],
    },
    Write {
        method: "DELETE",
        uri: "/api/auth/tokens/none",
        headers: &[],
        body: none,
        expect: [401, 404, 404, 404, 404, 404, 404, 404],
    },
    Write {
        method: "POST",
        uri: "/api/admin/users",
        headers: &[],
        body: || {
            Some(
                serde_json::json!({"username": "new_leader", "role": "city_leader",
                "organisation_id": "org", "password": "Lantern-Harbor-78"}),
            )
        },
        expect: [401, 201, 403, 403, 403, 403, 403, 403],
    },
    Write {
        method: "PUT",
        uri: "/api/admin/users/district",
        headers: &[],
        body: || Some(serde_json::json!({"version": 1, "disabled": false})),
        expect: [401, 200, 403, 403, 403, 403, 403, 403],
    },
    Write {
        method: "PUT",
        uri: "/api/admin/users/district",
        headers: &[],
        body: || Some(serde_json::json!({"version": 1, "unlock": true})),
        expect: [401, 403, 403, 403, 403, 403, 200, 403],
    },
    Write {
        method: "POST",
        uri: "/api/admin/users/district/totp",
        headers: &[],
        body: none,
        expect: [401, 403, 403, 403, 403, 403, 200, 403],
    },
    Write {
        method: "POST",
        uri: "/api/admin/organisations",
        headers: &[],
        body: || {
            Some(
                serde_json::json!({"id": "org-2", "name": "区更新办", "kind": "district_government", "district_code": "420106"}),
            )
        },
        expect: [401, 201, 403, 403, 403, 403, 403, 403],
    },
    Write {
        method: "POST",
        uri: "/api/layers/supplies/features",
        headers: &[],
        body: || {
            Some(
                serde_json::json!({"type": "Feature", "id": "su-new", "geometry": null, "properties": {
                "community_code": C1, "item": "消毒液", "unit": "瓶", "quantity": 5.0}}),
            )
        },
        expect: [401, 201, 403, 403, 403, 201, 403, 403],
    },
    Write {
        method: "DELETE",
        uri: "/api/layers/supplies/features/su-1",
        headers: IF_MATCH_1,
        body: none,
        expect: [401, 204, 403, 403, 403, 204, 403, 403],
    },
    Write {
        method: "PUT",
        uri: "/api/layers/projects/features/prj-1",
        headers: IF_MATCH_1,
        body: || {
            Some(
                serde_json::json!({"type": "Feature", "id": "prj-1", "geometry": null, "properties": {
                "code": "prj-1", "name": "改名", "renewal_object_id": "ro", "district_code": "420106",
                "stage": "construction", "start_date": "2026-01-01", "planned_end_date": "2028-12-31"}}),
            )
        },
        expect: [401, 200, 403, 403, 403, 403, 403, 403],
    },
    Write {
        method: "POST",
        uri: "/api/attachments?owner_id=prj-1&file_name=photo.txt",
        headers: &[],
        body: || Some(serde_json::json!({"note": "现场"})),
        expect: [401, 201, 403, 201, 201, 403, 403, 403],
    },
    Write {
        method: "POST",
        uri: "/api/imports?layer=hazards&file_name=h.geojson",
        headers: &[],
        body: || {
            Some(
                serde_json::json!({"type": "FeatureCollection", "features": [{"type": "Feature",
                "geometry": {"type": "Point", "coordinates": [114.3, 30.5]}, "properties": {"名称": "危房"}}]}),
            )
        },
        expect: [401, 201, 403, 403, 403, 403, 403, 403],
    },
    Write {
        method: "POST",
        uri: "/api/imports/imp-none/undo",
        headers: &[],
        body: none,
        expect: [401, 404, 403, 403, 403, 403, 403, 403],
    },
    Write {
        method: "POST",
        uri: "/api/life-circle/evaluate",
        headers: &[],
        body: none,
        expect: [401, 202, 403, 403, 403, 403, 403, 403],
    },
    Write {
        method: "POST",
        uri: "/api/spatial",
        headers: &[],
        body: || {
            Some(
                serde_json::json!({"layers": ["parcels"], "geometry": {"type": "Point",
                "coordinates": [114.3005, 30.5002]}, "buffer_m": 100}),
            )
        },
        expect: [200; 8],
    },
    Write {
        method: "POST",
        uri: "/api/saved-queries",
        headers: &[],
        body: || {
            Some(
                serde_json::json!({"name": "大地块", "collection": "parcels", "filter": "area_m2 > 50"}),
            )
        },
        expect: [401, 201, 201, 201, 201, 201, 201, 201],
    },
    Write {
        method: "DELETE",
        uri: "/api/saved-queries/sq-none",
        headers: &[],
        body: none,
        expect: [401, 404, 404, 404, 404, 404, 404, 404],
    },
    Write {
        method: "POST",
        uri: "/api/forms",
        headers: &[],
        body: || {
            Some(
                serde_json::json!({"code": "progress", "name": "月度进度填报",
                "fields": [{"name": "progress_pct", "label": "总体进度", "kind": "number", "required": true,
                            "min": 0, "max": 100, "target": "progress_pct"}],
                "review_chain": "district_city", "cycle": "monthly", "deadline_day": 5, "remind_days": 3}),
            )
        },
        expect: [401, 201, 403, 403, 403, 403, 403, 403],
    },
    Write {
        method: "POST",
        uri: "/api/forms/progress@1/check",
        headers: &[],
        body: || Some(serde_json::json!({"project_id": "prj-1", "values": {"progress_pct": 20.0}})),
        expect: [401, 404, 404, 404, 404, 404, 404, 404],
    },
    Write {
        method: "POST",
        uri: "/api/forms/progress@1/upload?period=2026-11",
        headers: &[],
        body: none,
        expect: [401, 404, 404, 404, 404, 404, 404, 404],
    },
    Write {
        method: "POST",
        uri: "/api/submissions",
        headers: &[],
        body: || {
            Some(
                serde_json::json!({"form_id": "progress@1", "project_id": "prj-1",
                "period": "2026-11", "values": {"progress_pct": 20.0}}),
            )
        },
        expect: [401, 404, 404, 404, 404, 404, 404, 404],
    },
    Write {
        method: "PUT",
        uri: "/api/submissions/sub-none",
        headers: &[],
        body: || Some(serde_json::json!({"version": 1, "values": {"progress_pct": 20.0}})),
        expect: [401, 404, 404, 404, 404, 404, 404, 404],
    },
    Write {
        method: "POST",
        uri: "/api/submissions/sub-none/review",
        headers: &[],
        body: || Some(serde_json::json!({"version": 1, "decision": "approve"})),
        expect: [401, 404, 404, 404, 404, 404, 404, 404],
    },
];

#[tokio::test]
async fn every_write_answers_each_role_as_the_matrix_says() {
    let mut wrong = Vec::new();
    for w in WRITES {
        for (i, role) in ROLES.iter().enumerate() {
            let (_d, _store, app) = fixture().await;
            let (status, body) = request(&app, role, w.method, w.uri, w.headers, (w.body)()).await;
            if status.as_u16() != w.expect[i] {
                wrong.push(format!(
                    "{} {} as {role}: {} (expected {}) {body}",
                    w.method, w.uri, status, w.expect[i]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

/// Does a concrete request path match an OpenAPI path template (`{x}` one segment)?
fn matches(template: &str, uri: &str) -> bool {
    let path = uri.split('?').next().unwrap_or(uri);
    let t: Vec<&str> = template.trim_matches('/').split('/').collect();
    let p: Vec<&str> = path.trim_matches('/').split('/').collect();
    t.len() == p.len()
        && t.iter().zip(&p).all(|(t, p)| {
            (t.starts_with('{') && t.ends_with('}') && !p.is_empty())
                || t == p
                // `{z}/{x}/{y}.mvt`, `{layer}.json`, `{range}.pbf`: a parameter with a suffix.
                || t.split_once('}').is_some_and(|(_, suffix)| {
                    t.starts_with('{') && !suffix.is_empty() && p.ends_with(suffix)
                })
        })
}

#[tokio::test]
async fn every_operation_of_the_openapi_document_has_a_row_in_the_matrix() {
    let (_d, _store, app) = fixture().await;
    let (_, doc) = request(&app, "public", "GET", "/api/openapi.json", &[], None).await;
    let mut missing = Vec::new();
    let mut operations = 0;
    for (path, item) in doc["paths"].as_object().unwrap() {
        for method in ["get", "post", "put", "delete", "patch"] {
            if item.get(method).is_none() {
                continue;
            }
            operations += 1;
            let m = method.to_uppercase();
            let covered = READS.iter().any(|c| c.method == m && matches(path, c.uri))
                || WRITES.iter().any(|w| w.method == m && matches(path, w.uri))
                || ELSEWHERE.iter().any(|(em, ep, _)| *em == m && ep == path);
            if !covered {
                missing.push(format!("{m} {path}"));
            }
        }
    }
    assert!(
        operations > 50,
        "the document lists {operations} operations"
    );
    assert!(
        missing.is_empty(),
        "no row in the permission matrix: {missing:#?}"
    );
}

#[tokio::test]
async fn every_read_answers_each_role_as_the_matrix_says() {
    let (_d, _store, app) = fixture().await;
    let mut wrong = Vec::new();
    for cell in READS {
        for (i, role) in ROLES.iter().enumerate() {
            let (status, body) = request(&app, role, cell.method, cell.uri, &[], None).await;
            if status.as_u16() != cell.expect[i] {
                wrong.push(format!(
                    "{} {} as {role}: {} (expected {}) {body}",
                    cell.method, cell.uri, status, cell.expect[i]
                ));
            }
        }
    }
    assert!(wrong.is_empty(), "{}", wrong.join("\n"));
}

fn ids(v: &serde_json::Value, key: &str) -> Vec<String> {
    let mut out: Vec<String> = v[key]
        .as_array()
        .map(|a| {
            a.iter()
                .map(|f| f["id"].as_str().unwrap_or_default().to_owned())
                .collect()
        })
        .unwrap_or_default();
    out.sort();
    out
}

#[tokio::test]
async fn lists_return_only_the_rows_in_scope() {
    let (_d, _store, app) = fixture().await;
    let both = vec!["prj-1".to_owned(), "prj-2".to_owned()];
    let own = vec!["prj-1".to_owned()];
    for (role, expect) in [
        ("city_admin", &both),
        ("city_leader", &both),
        ("district", &own),
        ("entity", &own),
    ] {
        let (_, v) = request(
            &app,
            role,
            "GET",
            "/api/layers/projects/features",
            &[],
            None,
        )
        .await;
        assert_eq!(&ids(&v, "features"), expect, "features as {role}");
        let (_, v) = request(
            &app,
            role,
            "GET",
            "/ogc/collections/projects/items",
            &[],
            None,
        )
        .await;
        assert_eq!(&ids(&v, "features"), expect, "ogc as {role}");
        assert_eq!(v["numberMatched"], expect.len(), "ogc count as {role}");
        let (_, v) = request(&app, role, "GET", "/api/progress", &[], None).await;
        assert_eq!(&ids(&v, "projects"), expect, "progress as {role}");
        let (_, v) = request(&app, role, "GET", "/api/search?q=旧城改造", &[], None).await;
        let mut hits: Vec<String> = v
            .as_array()
            .unwrap()
            .iter()
            .filter(|h| h["type"] == "projects")
            .map(|h| h["id"].as_str().unwrap().to_owned())
            .collect();
        hits.sort();
        assert_eq!(&hits, expect, "search as {role}");
    }
    let (_, v) = request(&app, "public", "GET", "/api/search?q=旧城改造", &[], None).await;
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .all(|h| h["type"] != "projects"),
        "{v}"
    );
    let (_, v) = request(
        &app,
        "community_worker",
        "GET",
        "/api/layers/special_populations/features",
        &[],
        None,
    )
    .await;
    assert_eq!(ids(&v, "features"), vec!["sp-1".to_owned()]);
    // The public and scoped roles do not see layers they may not read.
    let (_, v) = request(&app, "public", "GET", "/api/layers", &[], None).await;
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["name"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"parcels") && !names.contains(&"projects"));
    assert!(!names.contains(&"special_populations") && !names.contains(&"users"));
}

#[tokio::test]
async fn writes_are_for_the_admin_and_the_worker_of_the_community() {
    let (_d, store, app) = fixture().await;
    let supply = |id: &str, c: &str| {
        serde_json::json!({"type": "Feature", "id": id, "geometry": null, "properties": {
            "community_code": c, "item": "消毒液", "unit": "瓶", "quantity": 5.0}})
    };
    for (role, c, expect) in [
        ("public", C1, 401),
        ("city_leader", C1, 403),
        ("district", C1, 403),
        ("entity", C1, 403),
        ("community_worker", C2, 403),
        ("community_worker", C1, 201),
        ("city_admin", C2, 201),
    ] {
        let id = format!("new-{role}-{c}");
        let (s, v) = request(
            &app,
            role,
            "POST",
            "/api/layers/supplies/features",
            &[],
            Some(supply(&id, c)),
        )
        .await;
        assert_eq!(s.as_u16(), expect, "{role} in {c}: {v}");
        let stored = store.get(LayerId::Supplies, &id).await.unwrap();
        assert_eq!(stored.is_some(), expect == 201, "{role} {c}");
    }
    // Replacing a project: only the administrator; a refused edit changes nothing.
    let body = serde_json::json!({"type": "Feature", "id": "prj-1", "geometry": null, "properties": {
        "code": "prj-1", "name": "改名", "renewal_object_id": "ro", "district_code": "420106",
        "stage": "construction", "start_date": "2026-01-01", "planned_end_date": "2028-12-31"}});
    for (role, expect) in [
        ("public", 401),
        ("city_leader", 403),
        ("district", 403),
        ("entity", 403),
        ("community_worker", 403),
        ("city_admin", 200),
    ] {
        let (s, v) = request(
            &app,
            role,
            "PUT",
            "/api/layers/projects/features/prj-1",
            &[("if-match", "\"1\"")],
            Some(body.clone()),
        )
        .await;
        assert_eq!(s.as_u16(), expect, "{role}: {v}");
    }
    // A worker cannot delete what lies outside its community: it does not exist for them.
    let (s, _) = request(
        &app,
        "community_worker",
        "DELETE",
        "/api/layers/special_populations/features/sp-2",
        &[("if-match", "\"1\"")],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert!(
        store
            .get(LayerId::SpecialPopulations, "sp-2")
            .await
            .unwrap()
            .is_some()
    );
    // The administrator's edit left its history: who, before and after; as of before it, v1.
    let (s, v) = request(
        &app,
        "city_leader",
        "GET",
        "/api/history/projects/prj-1?as_of=2026-01-01",
        &[],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let changes = v["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0]["actor"], "city_admin");
    assert_eq!(
        changes[0]["before"]["properties"]["name"],
        "prj-1 旧城改造项目"
    );
    assert_eq!(changes[0]["after"]["properties"]["name"], "改名");
    assert_eq!(
        v["state"],
        serde_json::Value::Null,
        "no change was stored before"
    );
    let (_, v) = request(
        &app,
        "city_leader",
        "GET",
        "/api/history/projects/prj-1?as_of=2100-01-01",
        &[],
        None,
    )
    .await;
    assert_eq!(v["state"]["properties"]["name"], "改名");
    assert_eq!(v["state"]["properties"]["version"], 2);
}

async fn login(
    app: &axum::Router,
    username: &str,
    password: &str,
    totp: Option<&str>,
) -> (StatusCode, serde_json::Value, Option<String>) {
    let (status, bytes, cookie) = login_raw(app, username, password, totp).await;
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or_default(),
        cookie,
    )
}

/// A sign-in's status, body bytes and `Set-Cookie`.
async fn login_raw(
    app: &axum::Router,
    username: &str,
    password: &str,
    totp: Option<&str>,
) -> (StatusCode, Vec<u8>, Option<String>) {
    let r = app
        .clone()
        .oneshot(
            Request::post("/api/auth/login")
                .header("content-type", "application/json")
                .body(Body::from(
                    serde_json::json!({"username": username, "password": password, "totp": totp})
                        .to_string(),
                ))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let cookie = r
        .headers()
        .get("set-cookie")
        .map(|c| c.to_str().unwrap().to_owned());
    let bytes = r.into_body().collect().await.unwrap().to_bytes().to_vec();
    (status, bytes, cookie)
}

/// The current TOTP code of a fixture user (its secret is stored plain in the fixture), the
/// code's step made usable again (the tests sign in more often than every 30 seconds).
async fn code_of(store: &Arc<dyn Store>, username: &str) -> String {
    let mut u = store.get(LayerId::Users, username).await.unwrap().unwrap();
    let secret = u.get("totp_secret").as_str().unwrap().to_owned();
    if u.properties.remove("totp_last_step").is_some() {
        store.update(vec![(LayerId::Users, vec![u])]).await.unwrap();
    }
    gengxin_auth::totp::code_at(&secret, Utc::now().timestamp() as u64).unwrap()
}

/// Signs in with the right password and code: the session cookie and the CSRF token.
async fn signed_in(app: &axum::Router, store: &Arc<dyn Store>, username: &str) -> (String, String) {
    let code = code_of(store, username).await;
    let (s, v, cookie) = login(app, username, "Lantern-Harbor-77", Some(&code)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let cookie = cookie.unwrap().split(';').next().unwrap().to_owned();
    (cookie, v["csrf"].as_str().unwrap().to_owned())
}

async fn with_cookie(
    app: &axum::Router,
    method: &str,
    uri: &str,
    cookie: &str,
    csrf: Option<&str>,
) -> StatusCode {
    with_cookie_body(
        app,
        method,
        uri,
        cookie,
        csrf,
        serde_json::json!({"name": "cli"}),
    )
    .await
    .0
}

async fn with_cookie_body(
    app: &axum::Router,
    method: &str,
    uri: &str,
    cookie: &str,
    csrf: Option<&str>,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("cookie", cookie)
        .header("content-type", "application/json");
    if let Some(c) = csrf {
        req = req.header("x-csrf-token", c);
    }
    let r = app
        .clone()
        .oneshot(req.body(Body::from(body.to_string())).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (status, serde_json::from_slice(&bytes).unwrap_or_default())
}

#[tokio::test]
async fn sign_in_locks_after_five_failures_and_needs_csrf_for_changes() {
    let (_d, store, app) = fixture().await;
    // A right password and code sign in: HttpOnly, SameSite cookie; the CSRF token in the body.
    let code = code_of(&store, "district").await;
    let (s, v, cookie) = login(&app, "district", "Lantern-Harbor-77", Some(&code)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let set = cookie.unwrap();
    assert!(
        set.contains("HttpOnly") && set.contains("SameSite=Strict"),
        "{set}"
    );
    let cookie = set.split(';').next().unwrap().to_owned();
    let csrf = v["csrf"].as_str().unwrap().to_owned();
    assert_eq!(v["role"], "district");
    assert_eq!(
        with_cookie(&app, "GET", "/api/auth/me", &cookie, None).await,
        StatusCode::OK
    );
    // A change without the CSRF token is refused; with it, it goes through.
    assert_eq!(
        with_cookie(&app, "POST", "/api/auth/tokens", &cookie, None).await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        with_cookie(
            &app,
            "POST",
            "/api/auth/tokens",
            &cookie,
            Some("gxc_forged")
        )
        .await,
        StatusCode::FORBIDDEN
    );
    assert_eq!(
        with_cookie(&app, "POST", "/api/auth/tokens", &cookie, Some(&csrf)).await,
        StatusCode::CREATED
    );
    // Logout ends the session on the server: the old cookie is the public's.
    assert_eq!(
        with_cookie(&app, "POST", "/api/auth/logout", &cookie, Some(&csrf)).await,
        StatusCode::NO_CONTENT
    );
    assert_eq!(
        with_cookie(&app, "GET", "/api/auth/me", &cookie, None).await,
        StatusCode::UNAUTHORIZED
    );
    // Five failures lock the account (wrong passwords and wrong codes alike): then even the
    // right password and code are refused, with the same answer.
    let (_, refused, _) = login_raw(&app, "nobody", "Lantern-Harbor-77", Some("123456")).await;
    for i in 0..5 {
        let (s, _, _) = if i % 2 == 0 {
            login(&app, "entity", "wrong-Password-1", Some("123456")).await
        } else {
            let bad = if code_of(&store, "entity").await == "000000" {
                "111111"
            } else {
                "000000"
            };
            login(&app, "entity", "Lantern-Harbor-77", Some(bad)).await
        };
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let code = code_of(&store, "entity").await;
    let (s, body, _) = login_raw(&app, "entity", "Lantern-Harbor-77", Some(&code)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    assert_eq!(
        body, refused,
        "a locked account answers like an unknown user"
    );
    // Every attempt is in the audit log, and the chain holds.
    let (_, v) = request(
        &app,
        "audit_admin",
        "GET",
        "/api/audit?action=login",
        &[],
        None,
    )
    .await;
    let records = v["records"].as_array().unwrap();
    let failed = records.iter().filter(|r| r["outcome"] == "failed").count();
    let ok = records.iter().filter(|r| r["outcome"] == "ok").count();
    assert_eq!((failed, ok), (7, 1), "{v}");
    assert!(
        records
            .iter()
            .any(|r| r["detail"].as_str().unwrap_or_default().contains("locked")),
        "{v}"
    );
    let text = v.to_string();
    assert!(!text.contains("Lantern-Harbor-77") && !text.contains("wrong-Password-1"));
    let (_, v) = request(&app, "audit_admin", "GET", "/api/audit/verify", &[], None).await;
    assert_eq!(v["ok"], true, "{v}");
}

#[tokio::test]
async fn every_failed_sign_in_gets_one_identical_answer() {
    let (_d, store, app) = fixture().await;
    let code = code_of(&store, "city_leader").await;
    let wrong_code = if code == "000000" { "111111" } else { "000000" };
    // Without a code: always totp_required, whether or not the password is right, for a user
    // that exists or not.
    let mut no_code = Vec::new();
    for (user, pw) in [
        ("city_leader", "Lantern-Harbor-77"),
        ("city_leader", "wrong-Password-1"),
        ("nobody", "Lantern-Harbor-77"),
    ] {
        for totp in [None, Some("")] {
            let (s, body, cookie) = login_raw(&app, user, pw, totp).await;
            assert_eq!(s, StatusCode::UNAUTHORIZED);
            assert!(cookie.is_none());
            no_code.push(body);
        }
    }
    let v: serde_json::Value = serde_json::from_slice(&no_code[0]).unwrap();
    assert_eq!(v["error"]["code"], "totp_required", "{v}");
    assert!(no_code.iter().all(|b| *b == no_code[0]));
    // With a code: an unknown user, a wrong password, a wrong code, a disabled account, a
    // replayed code and a locked account answer byte for byte alike.
    let mut answers = vec![
        login_raw(&app, "nobody", "Lantern-Harbor-77", Some(&code)).await,
        login_raw(&app, "city_leader", "wrong-Password-1", Some(&code)).await,
        login_raw(&app, "city_leader", "Lantern-Harbor-77", Some(wrong_code)).await,
    ];
    let (s, _, _) = login(&app, "city_leader", "Lantern-Harbor-77", Some(&code)).await;
    assert_eq!(s, StatusCode::OK);
    answers.push(login_raw(&app, "city_leader", "Lantern-Harbor-77", Some(&code)).await);
    let mut u = store
        .get(LayerId::Users, "district")
        .await
        .unwrap()
        .unwrap();
    u.properties.insert("disabled".into(), true.into());
    store.update(vec![(LayerId::Users, vec![u])]).await.unwrap();
    let code = code_of(&store, "district").await;
    answers.push(login_raw(&app, "district", "Lantern-Harbor-77", Some(&code)).await);
    let mut u = store.get(LayerId::Users, "entity").await.unwrap().unwrap();
    u.properties.insert(
        "locked_until".into(),
        gengxin_model::timestamp(&(Utc::now() + chrono::TimeDelta::minutes(10))).into(),
    );
    store.update(vec![(LayerId::Users, vec![u])]).await.unwrap();
    let code = code_of(&store, "entity").await;
    answers.push(login_raw(&app, "entity", "Lantern-Harbor-77", Some(&code)).await);
    let v: serde_json::Value = serde_json::from_slice(&answers[0].1).unwrap();
    assert_eq!(v["error"]["code"], "unauthenticated", "{v}");
    for (i, (s, body, cookie)) in answers.iter().enumerate() {
        assert_eq!(*s, StatusCode::UNAUTHORIZED, "answer {i}");
        assert!(cookie.is_none(), "answer {i}");
        assert_eq!(
            body,
            &answers[0].1,
            "answer {i}: {}",
            String::from_utf8_lossy(body)
        );
    }
}

#[tokio::test]
async fn every_role_needs_a_fresh_totp_code() {
    let (_d, store, app) = fixture().await;
    for role in &ROLES[1..] {
        let (s, v, _) = login(&app, role, "Lantern-Harbor-77", None).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        assert_eq!(v["error"]["code"], "totp_required", "{role}");
        let (s, _, _) = login(&app, role, "Lantern-Harbor-77", Some("12345")).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{role}");
        let code = code_of(&store, role).await;
        let (s, v, _) = login(&app, role, "Lantern-Harbor-77", Some(&code)).await;
        assert_eq!(s, StatusCode::OK, "{role}: {v}");
        // The same code again is a replay.
        let (s, v, _) = login(&app, role, "Lantern-Harbor-77", Some(&code)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{role}");
        assert_eq!(v["error"]["code"], "unauthenticated");
    }
}

/// Changes a password with a session cookie: the status and the body.
async fn change_password(
    app: &axum::Router,
    (cookie, csrf): &(String, String),
    current: &str,
    new: &str,
) -> (StatusCode, serde_json::Value) {
    with_cookie_body(
        app,
        "POST",
        "/api/auth/password",
        cookie,
        Some(csrf),
        serde_json::json!({"current": current, "new": new}),
    )
    .await
}

#[tokio::test]
async fn a_password_change_ends_other_sessions_revokes_tokens_and_keeps_a_history() {
    let (_d, store, app) = fixture().await;
    let here = signed_in(&app, &store, "city_leader").await;
    let elsewhere = signed_in(&app, &store, "city_leader").await;
    // The leader's API token of the fixture works until the change.
    let (s, _) = request(&app, "city_leader", "GET", "/api/auth/me", &[], None).await;
    assert_eq!(s, StatusCode::OK);
    // Refusals, each with its own message.
    for (new, says) in [
        ("Wuhan@2026#x", "place name"),
        ("1qaz@WSXedc", "keyboard walk"),
        ("Lantern\u{0}Harbor-1", "control characters"),
        ("Lantern-Harbor-77", "last 5 passwords"),
    ] {
        let (s, v) = change_password(&app, &here, "Lantern-Harbor-77", new).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{new}: {v}");
        let msg = v["error"]["message"].as_str().unwrap();
        assert!(msg.contains(says), "{new}: {msg}");
    }
    let (s, v) = change_password(&app, &here, "Lantern-Harbor-77", "Violet-Kettle-01").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    // This session goes on; the other one ended; the API token is revoked.
    assert_eq!(
        with_cookie(&app, "GET", "/api/auth/me", &here.0, None).await,
        StatusCode::OK
    );
    assert_eq!(
        with_cookie(&app, "GET", "/api/auth/me", &elsewhere.0, None).await,
        StatusCode::UNAUTHORIZED
    );
    let (s, _) = request(&app, "city_leader", "GET", "/api/auth/me", &[], None).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The history: the last five passwords come back refused, the sixth last is allowed.
    let mut current = "Violet-Kettle-01".to_owned();
    for i in 2..=5 {
        let next = format!("Violet-Kettle-0{i}");
        let (s, v) = change_password(&app, &here, &current, &next).await;
        assert_eq!(s, StatusCode::NO_CONTENT, "{next}: {v}");
        current = next;
    }
    for old in ["Violet-Kettle-01", "Violet-Kettle-04", "Violet-Kettle-05"] {
        let (s, v) = change_password(&app, &here, &current, old).await;
        assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{old}: {v}");
    }
    let (s, v) = change_password(&app, &here, &current, "Lantern-Harbor-77").await;
    assert_eq!(s, StatusCode::NO_CONTENT, "{v}");
    let row = store
        .get(LayerId::Users, "city_leader")
        .await
        .unwrap()
        .unwrap();
    let history = row.get("password_history").as_str().unwrap();
    assert!(history.starts_with("[\"$argon2id$") && !history.contains("Violet"));
    // Audited, with what ended.
    let (_, v) = request(
        &app,
        "audit_admin",
        "GET",
        "/api/audit?action=account",
        &[],
        None,
    )
    .await;
    assert!(
        v["records"]
            .as_array()
            .unwrap()
            .iter()
            .any(|r| r["detail"]
                == "password changed; 1 other session(s) ended, 1 API token(s) revoked"),
        "{v}"
    );
}

#[tokio::test]
async fn wrong_current_passwords_lock_the_account_like_sign_ins() {
    let (_d, store, app) = fixture().await;
    let session = signed_in(&app, &store, "entity").await;
    for _ in 0..5 {
        let (s, v) = change_password(&app, &session, "wrong-Password-1", "Violet-Kettle-01").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED, "{v}");
    }
    let row = store.get(LayerId::Users, "entity").await.unwrap().unwrap();
    assert!(row.get("locked_until").as_str().is_some(), "{row:?}");
    // Locked: the right current password is refused too, and signing in is refused.
    let (s, _) = change_password(&app, &session, "Lantern-Harbor-77", "Violet-Kettle-01").await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    let code = code_of(&store, "entity").await;
    let (s, _, _) = login(&app, "entity", "Lantern-Harbor-77", Some(&code)).await;
    assert_eq!(s, StatusCode::UNAUTHORIZED);
    // The security administrator lifts the lock.
    let row = store.get(LayerId::Users, "entity").await.unwrap().unwrap();
    let (s, v) = request(
        &app,
        "security_admin",
        "PUT",
        "/api/admin/users/entity",
        &[],
        Some(serde_json::json!({"version": row.version, "unlock": true})),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let code = code_of(&store, "entity").await;
    let (s, _, _) = login(&app, "entity", "Lantern-Harbor-77", Some(&code)).await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn the_three_administrators_keep_to_their_duties() {
    let (_d, store, app) = fixture().await;
    let version = |u: &str| {
        let store = store.clone();
        let u = u.to_owned();
        async move {
            store
                .get(LayerId::Users, &u)
                .await
                .unwrap()
                .unwrap()
                .version
        }
    };
    let put = |who: &'static str, user: &'static str, body: serde_json::Value| {
        let app = app.clone();
        async move {
            request(
                &app,
                who,
                "PUT",
                &format!("/api/admin/users/{user}"),
                &[],
                Some(body),
            )
            .await
        }
    };
    // No one gives an administrator role: not when making an account, not by a change, not to
    // itself.
    for role in ["city_admin", "security_admin", "audit_admin"] {
        let (s, v) = request(
            &app,
            "city_admin",
            "POST",
            "/api/admin/users",
            &[],
            Some(serde_json::json!({"username": "new_admin", "role": role,
                "organisation_id": "org", "password": "Lantern-Harbor-78"})),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{role}: {v}");
        assert!(
            v["error"]["message"]
                .as_str()
                .unwrap()
                .contains("command line"),
            "{v}"
        );
        let v1 = version("city_leader").await;
        let (s, v) = put(
            "security_admin",
            "city_leader",
            serde_json::json!({"version": v1, "role": role}),
        )
        .await;
        assert_eq!(s, StatusCode::FORBIDDEN, "{role}: {v}");
        for me in ["security_admin", "city_admin"] {
            let vm = version(me).await;
            let (s, v) = request(
                &app,
                me,
                "PUT",
                &format!("/api/admin/users/{me}"),
                &[],
                Some(serde_json::json!({"version": vm, "role": role})),
            )
            .await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{me} → {role}: {v}");
        }
    }
    // An administrator's role is not changed through the API, nor is it disabled.
    let va = version("audit_admin").await;
    let (s, _) = put(
        "security_admin",
        "audit_admin",
        serde_json::json!({"version": va, "role": "city_leader"}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, _) = put(
        "city_admin",
        "audit_admin",
        serde_json::json!({"version": va, "disabled": true}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Roles and scopes are the security administrator's, not the system administrator's …
    let vd = version("district").await;
    let change = serde_json::json!({"version": vd, "role": "city_leader", "district_code": ""});
    let (s, v) = put("city_admin", "district", change.clone()).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    let (s, v) = put("security_admin", "district", change).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["role"], "city_leader");
    // … and disabling an account the system administrator's, not the security administrator's.
    let vd = version("district").await;
    let (s, _) = put(
        "security_admin",
        "district",
        serde_json::json!({"version": vd, "disabled": true}),
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = put(
        "city_admin",
        "district",
        serde_json::json!({"version": vd, "disabled": true}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    // The audit log is the audit administrator's alone.
    for who in ["city_admin", "security_admin"] {
        for uri in ["/api/audit", "/api/audit/verify", "/api/audit/export"] {
            let (s, _) = request(&app, who, "GET", uri, &[], None).await;
            assert_eq!(s, StatusCode::FORBIDDEN, "{who} {uri}");
        }
    }
    let (s, v) = request(&app, "audit_admin", "GET", "/api/audit/verify", &[], None).await;
    assert_eq!((s, v["ok"].clone()), (StatusCode::OK, true.into()), "{v}");
    // The audit administrator manages nothing.
    let (s, _) = request(&app, "audit_admin", "GET", "/api/admin/users", &[], None).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // A TOTP reset gives a new secret that signs in; the old one no longer does.
    let old = code_of(&store, "entity").await;
    let (s, v) = request(
        &app,
        "security_admin",
        "POST",
        "/api/admin/users/entity/totp",
        &[],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let secret = v["totp_uri"]
        .as_str()
        .unwrap()
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let code = gengxin_auth::totp::code_at(&secret, Utc::now().timestamp() as u64).unwrap();
    if code != old {
        let (s, _, _) = login(&app, "entity", "Lantern-Harbor-77", Some(&old)).await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
    }
    let (s, v, _) = login(&app, "entity", "Lantern-Harbor-77", Some(&code)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let (s, _) = request(
        &app,
        "security_admin",
        "POST",
        "/api/admin/users/security_admin/totp",
        &[],
        None,
    )
    .await;
    assert_eq!(s, StatusCode::FORBIDDEN, "not its own");
}

#[tokio::test]
async fn api_tokens_work_until_revoked_and_the_audit_log_cannot_be_rewritten() {
    let (_d, store, app) = fixture().await;
    let (s, v) = request(
        &app,
        "city_leader",
        "POST",
        "/api/auth/tokens",
        &[],
        Some(serde_json::json!({"name": "报表系统", "days": 30})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let token = v["token"].as_str().unwrap().to_owned();
    let id = v["id"].as_str().unwrap().to_owned();
    let bearer = format!("Bearer {token}");
    let me = |b: String| {
        let app = app.clone();
        async move {
            app.oneshot(
                Request::get("/api/auth/me")
                    .header("authorization", b)
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap()
            .status()
        }
    };
    assert_eq!(me(bearer.clone()).await, StatusCode::OK);
    let uri = format!("/api/auth/tokens/{id}");
    let (s, _) = request(&app, "district", "DELETE", &uri, &[], None).await;
    assert_eq!(s, StatusCode::NOT_FOUND, "not the district user's token");
    let (s, _) = request(&app, "city_leader", "DELETE", &uri, &[], None).await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    assert_eq!(me(bearer).await, StatusCode::UNAUTHORIZED);
    // The store refuses to change or delete audit records, whoever asks.
    let first = store
        .get(LayerId::AuditLog, "000000000001")
        .await
        .unwrap()
        .unwrap();
    let mut forged = first.clone();
    forged.properties.insert("actor".into(), "mallory".into());
    assert!(matches!(
        store.update(vec![(LayerId::AuditLog, vec![forged])]).await,
        Err(StoreError::AppendOnly { .. })
    ));
    assert!(matches!(
        store
            .delete(vec![(LayerId::AuditLog, vec![(first.id.clone(), 1)])])
            .await,
        Err(StoreError::AppendOnly { .. })
    ));
    let (_, v) = request(&app, "audit_admin", "GET", "/api/audit/verify", &[], None).await;
    assert_eq!(v["ok"], true, "{v}");
    assert!(v["records"].as_u64().unwrap() >= 2);
}

#[tokio::test]
async fn refused_requests_on_guarded_layers_are_audited_and_others_are_not() {
    let (_d, _store, app) = fixture().await;
    let refused = [
        // Another community's special population: absent for the worker.
        (
            "community_worker",
            "/api/layers/special_populations/features/sp-2",
            404,
        ),
        // A personal layer the district user may not read.
        (
            "district",
            "/api/layers/special_populations/features/sp-1",
            403,
        ),
        // Another district's project.
        ("district", "/api/layers/projects/features/prj-2", 404),
    ];
    for (role, uri, status) in refused {
        let (s, v) = request(&app, role, "GET", uri, &[], None).await;
        assert_eq!(s.as_u16(), status, "{role} {uri}: {v}");
    }
    // Not recorded: a public layer's 404, an answered read, the public's refusals.
    for (role, uri, status) in [
        ("district", "/api/layers/parcels/features/nope", 404),
        (
            "community_worker",
            "/api/layers/special_populations/features/sp-1",
            200,
        ),
        ("public", "/ogc/collections/special_populations/items", 404),
    ] {
        let (s, v) = request(&app, role, "GET", uri, &[], None).await;
        assert_eq!(s.as_u16(), status, "{role} {uri}: {v}");
    }
    let (_, v) = request(
        &app,
        "audit_admin",
        "GET",
        "/api/audit?action=access",
        &[],
        None,
    )
    .await;
    let seen: Vec<(&str, &str, &str, &str)> = v["records"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| {
            (
                r["actor"].as_str().unwrap(),
                r["outcome"].as_str().unwrap(),
                r["target_layer"].as_str().unwrap(),
                r["target_id"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        seen,
        vec![
            (
                "community_worker",
                "not_found",
                "special_populations",
                "sp-2"
            ),
            ("district", "denied", "special_populations", "sp-1"),
            ("district", "not_found", "projects", "prj-2"),
        ],
        "{v}"
    );
    assert_eq!(
        v["records"][0]["detail"],
        "GET /api/layers/{layer}/features/{id}"
    );
    let (_, v) = request(&app, "audit_admin", "GET", "/api/audit/verify", &[], None).await;
    assert_eq!(v["ok"], true, "{v}");
}

#[tokio::test]
async fn a_new_users_totp_secret_is_stored_sealed_and_signs_in() {
    let (dir, store, app) = fixture().await;
    let (s, v) = request(
        &app,
        "city_admin",
        "POST",
        "/api/admin/users",
        &[],
        Some(
            serde_json::json!({"username": "second_leader", "role": "city_leader",
            "organisation_id": "org", "password": "Lantern-Harbor-78"}),
        ),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let uri = v["totp_uri"].as_str().unwrap();
    let secret = uri
        .split("secret=")
        .nth(1)
        .unwrap()
        .split('&')
        .next()
        .unwrap()
        .to_owned();
    let row = store
        .get(LayerId::Users, "second_leader")
        .await
        .unwrap()
        .unwrap();
    let stored = row.get("totp_secret").as_str().unwrap();
    assert!(
        stored.starts_with("enc1:") && !stored.contains(&secret),
        "{stored}"
    );
    // The key file was made beside the store, owner-only.
    let key = dir.path().join("perm.gpkg.key");
    assert_eq!(std::fs::read(&key).unwrap().len(), 32);
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(&key).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o600);
    }
    let code = gengxin_auth::totp::code_at(&secret, Utc::now().timestamp() as u64).unwrap();
    let (s, v, _) = login(&app, "second_leader", "Lantern-Harbor-78", Some(&code)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
}

// --- Bounded work: evaluation jobs, concurrency limits, the CQL2 budget ---------------------

fn limits(heavy: usize, budget: u64) -> Arc<gengxin_api::limits::Limits> {
    let sizes = gengxin_api::limits::Sizes {
        heavy,
        ..gengxin_api::limits::Sizes::for_cores(2)
    };
    Arc::new(gengxin_api::limits::Limits::new(sizes, budget))
}

/// A full class answers 429 at once, in the JSON error shape with Retry-After, while health
/// (never limited) answers 200; once the permit is back the same request answers 200.
#[tokio::test]
async fn a_full_class_answers_429_with_retry_after_while_health_answers() {
    let (_d, store, _) = fixture().await;
    let lim = limits(1, u64::MAX);
    let app = gengxin_api::router_with(gengxin_app::App::new(store), lim.clone());
    let heavy = "/ogc/collections/parcels/items?filter=area_m2%20%3E%2050";
    let held = lim.try_acquire(gengxin_api::limits::Class::Heavy).unwrap();
    let r = app
        .clone()
        .oneshot(Request::get(heavy).body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "1");
    let body: serde_json::Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_eq!(body["error"]["code"], "too_many_requests");
    let (status, health) = request(&app, "public", "GET", "/api/health", &[], None).await;
    assert_eq!(
        (status, health["status"].as_str()),
        (StatusCode::OK, Some("ok"))
    );
    // A light read of the same collection is another class.
    let (status, _) = request(
        &app,
        "public",
        "GET",
        "/ogc/collections/parcels/items",
        &[],
        None,
    )
    .await;
    assert_eq!(status, StatusCode::OK);
    drop(held);
    let (status, page) = request(&app, "public", "GET", heavy, &[], None).await;
    assert_eq!(
        (status, page["numberMatched"].as_u64()),
        (StatusCode::OK, Some(1))
    );
}

/// A filter over the budget is refused before it runs, naming the budget; one under it runs.
/// The fixture's parcels layer has 1 feature: 3 ORed comparisons cost 3 × 1.
#[tokio::test]
async fn a_cql2_filter_over_the_budget_is_refused_with_its_cost() {
    let (_d, store, _) = fixture().await;
    let app = gengxin_api::router_with(gengxin_app::App::new(store), limits(1, 2));
    let ors = "/ogc/collections/parcels/items?filter=area_m2%20%3E%201%20OR%20area_m2%20%3E%202%20OR%20area_m2%20%3E%203";
    let (status, body) = request(&app, "public", "GET", ors, &[], None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{body}");
    assert_eq!(body["error"]["code"], "filter_too_expensive");
    let msg = body["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("about 3 comparisons") && msg.contains("GENGXIN_CQL2_BUDGET"),
        "{msg}"
    );
    let one = "/ogc/collections/parcels/items?filter=area_m2%20%3E%201";
    let (status, page) = request(&app, "public", "GET", one, &[], None).await;
    assert_eq!(
        (status, page["numberMatched"].as_u64()),
        (StatusCode::OK, Some(1))
    );
}

/// An evaluation running on another server (claimed in the store) is joined by every request
/// to either of two servers on the store: each answers 202 with its Location, and the store
/// holds one active evaluation job. Once it is over, the next request starts a new one, which
/// fails (the fixture has no roads) with the reason recorded.
#[tokio::test]
async fn evaluate_requests_join_the_running_job_across_servers() {
    let (_d, store, _) = fixture().await;
    let now = Utc::now();
    let running = Feature::new("job:evaluate_life_circle:7", "gengxin", now)
        .set("kind", "evaluate_life_circle")
        .set("run_at", gengxin_model::timestamp(&now))
        .set("status", "running")
        .set("attempts", 1_i64)
        .set("payload", r#"{"requested_by": "city_admin"}"#);
    store
        .insert(vec![(LayerId::Jobs, vec![running.clone()])])
        .await
        .unwrap();
    let servers = [
        gengxin_api::app(store.clone()),
        gengxin_api::app(store.clone()),
    ];
    for app in servers.iter().chain(servers.iter()) {
        let mut req = Request::post("/api/life-circle/evaluate");
        req = req.header(
            "authorization",
            format!("Bearer {}", token_of("city_admin")),
        );
        let r = app
            .clone()
            .oneshot(req.body(Body::empty()).unwrap())
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::ACCEPTED);
        assert_eq!(
            r.headers()["location"],
            "/api/jobs/job:evaluate_life_circle:7"
        );
        let body: serde_json::Value =
            serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
        assert_eq!(
            (body["id"].as_str(), body["state"].as_str()),
            (Some("job:evaluate_life_circle:7"), Some("running"))
        );
    }
    let evaluations = |rows: &[Feature]| {
        rows.iter()
            .filter(|r| r.get("kind").as_str() == Some("evaluate_life_circle"))
            .map(|r| r.id.clone())
            .collect::<Vec<_>>()
    };
    let jobs = store
        .query(LayerId::Jobs, Default::default())
        .await
        .unwrap();
    let mut ids = evaluations(&jobs);
    ids.sort();
    assert_eq!(
        ids,
        ["job:evaluate_life_circle:1", "job:evaluate_life_circle:7"]
    );
    // A runner finds it claimed: it does not run it again.
    let app = gengxin_app::App::new(store.clone());
    assert_eq!(
        gengxin_app::jobs::run_claimed(app, "job:evaluate_life_circle:7".into()).await,
        None
    );
    // The run ends (here: marked done by hand); the next request starts job 8 and it fails.
    let mut done = store
        .get(LayerId::Jobs, "job:evaluate_life_circle:7")
        .await
        .unwrap()
        .unwrap();
    done.properties.insert("status".into(), "done".into());
    store
        .update(vec![(LayerId::Jobs, vec![done])])
        .await
        .unwrap();
    let (status, started) = request(
        &servers[1],
        "city_admin",
        "POST",
        "/api/life-circle/evaluate",
        &[],
        None,
    )
    .await;
    assert_eq!(
        (status, started["id"].as_str()),
        (StatusCode::ACCEPTED, Some("job:evaluate_life_circle:8"))
    );
    let mut job = started;
    for _ in 0..200 {
        if job["state"] == "failed" || job["state"] == "done" {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
        job = request(
            &servers[0],
            "city_admin",
            "GET",
            "/api/jobs/job:evaluate_life_circle:8",
            &[],
            None,
        )
        .await
        .1;
    }
    assert_eq!(job["state"], "failed", "{job}");
    assert!(
        job["error"]
            .as_str()
            .unwrap()
            .contains("roads layer is empty"),
        "{job}"
    );
    assert!(
        job["started"].is_string() && job["finished"].is_string(),
        "{job}"
    );
}
