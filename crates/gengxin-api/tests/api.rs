//! The router in process (`oneshot`) over a real GeoPackage store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use gengxin_model::{Feature, GENERATED, LayerId, ValidationError};
use gengxin_store::gpkg::GeoPackageStore;
use gengxin_store::{Query, Store, StoreError, StoreInfo};
use geo_types::polygon;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn square(id: &str, x: f64, y: f64, d: f64) -> Feature {
    Feature::new(
        id,
        GENERATED,
        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
    )
    .with_geometry(polygon![(x: x, y: y), (x: x + d, y: y), (x: x + d, y: y + d), (x: x, y: y + d)])
}

fn unit(code: &str, name: &str, level: &str, parent: Option<&str>, x: f64) -> Feature {
    square(code, x, 30.0, 0.1)
        .set("code", code)
        .set("name", name)
        .set("level", level)
        .set(
            "kind",
            if level == "street" {
                "subdistrict"
            } else {
                level
            },
        )
        .set("parent_code", parent)
}

async fn fixture() -> (tempfile::TempDir, axum::Router) {
    let (dir, store) = fixture_store().await;
    (dir, as_admin(gengxin_api::app(store)))
}

async fn fixture_store() -> (tempfile::TempDir, Arc<dyn Store>) {
    let dir = tempfile::tempdir().unwrap();
    let store = GeoPackageStore::create_or_open(&dir.path().join("api.gpkg")).unwrap();
    let parcel = |id: &str, x: f64, lu: &str| {
        square(id, x, 30.5, 0.001)
            .set("code", id)
            .set("land_use", lu)
            .set("area_m2", 9000.0)
            .set("district_code", "420106")
    };
    store
        .insert(vec![
            (
                LayerId::AdminUnits,
                vec![
                    unit("420100", "武汉市", "city", None, 114.0),
                    unit("420106", "武昌区", "district", Some("420100"), 114.3),
                    unit("420102", "江岸区", "district", Some("420100"), 114.2),
                    unit("420106001", "积玉桥街道", "street", Some("420106"), 114.3),
                ],
            ),
            (
                LayerId::Parcels,
                vec![
                    parcel("p1", 114.30, "0701"),
                    parcel("p2", 114.31, "0901"),
                    parcel("p3", 114.32, "0701"),
                    parcel("p4", 114.50, "0701"),
                ],
            ),
            (
                LayerId::Projects,
                vec![
                    Feature::new(
                        "prj-1",
                        GENERATED,
                        Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
                    )
                    .set("code", "GX2026-1")
                    .set("name", "积玉桥旧城改造项目")
                    .set("renewal_object_id", "ro-1")
                    .set("district_code", "420106")
                    .set("stage", "construction")
                    .set("start_date", "2026-01-01")
                    .set("planned_end_date", "2028-12-31"),
                ],
            ),
        ])
        .await
        .unwrap();
    store
        .add_attachments(vec![(
            Feature::new(
                "att-1",
                GENERATED,
                Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap(),
            )
            .set("owner_layer", "projects")
            .set("owner_id", "prj-1")
            .set("file_name", "项目 简介\r\n\".txt")
            .set("media_type", "text/plain; charset=utf-8"),
            "积玉桥旧城改造".as_bytes().to_vec(),
        )])
        .await
        .unwrap();
    signed_in_as_admin(&store).await;
    (dir, Arc::new(store))
}

/// The API token of the fixture's city administrator.
const ADMIN_TOKEN: &str = "gxt_fixture_admin_token";
/// The API token of the fixture's city leader.
const LEADER_TOKEN: &str = "gxt_fixture_leader_token";
/// A request with this header is sent as the public (no token added).
const ANONYMOUS: &str = "x-test-anonymous";

/// Adds a city administrator with an API token to a store.
async fn signed_in_as_admin(store: &dyn Store) {
    let (admin, _) = gengxin_auth::account::new_user(
        gengxin_auth::account::NewUser {
            username: "admin".into(),
            role: "city_admin".into(),
            organisation_id: "org-city".into(),
            password: "Crane-Tower-2026".into(),
            ..Default::default()
        },
        Utc::now(),
    )
    .unwrap();
    let (leader, _) = gengxin_auth::account::new_user(
        gengxin_auth::account::NewUser {
            username: "leader".into(),
            role: "city_leader".into(),
            organisation_id: "org-city".into(),
            password: "East-Lake-2026".into(),
            ..Default::default()
        },
        Utc::now(),
    )
    .unwrap();
    let token = |t: &str, user: &str| {
        Feature::new(gengxin_auth::secret::digest(t), "test", Utc::now())
            .set("user_id", user)
            .set("name", "tests")
    };
    store
        .insert(vec![
            (LayerId::Users, vec![admin, leader]),
            (
                LayerId::ApiTokens,
                vec![token(ADMIN_TOKEN, "admin"), token(LEADER_TOKEN, "leader")],
            ),
        ])
        .await
        .unwrap();
}

/// Sends every request as the fixture's administrator unless it says it is anonymous: the
/// tests of features read and write as the role that may do everything; the permission tests
/// (tests/permissions.rs) cover the other roles and the public.
fn as_admin(app: axum::Router) -> axum::Router {
    app.layer(axum::middleware::map_request(
        |mut req: Request<Body>| async move {
            if req.headers_mut().remove(ANONYMOUS).is_none()
                && !req.headers().contains_key("authorization")
            {
                req.headers_mut().insert(
                    "authorization",
                    format!("Bearer {ADMIN_TOKEN}").parse().unwrap(),
                );
            }
            req
        },
    ))
}

async fn call(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value, String) {
    let r = app
        .clone()
        .oneshot(Request::get(uri).body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::String(
        String::from_utf8_lossy(&bytes).into(),
    ));
    (status, json, ctype)
}

fn assert_error(v: &serde_json::Value, code: &str) {
    assert_eq!(v["error"]["code"], code, "{v}");
    assert!(!v["error"]["message"].as_str().unwrap().is_empty());
}

#[tokio::test]
async fn health_reports_the_store() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/health").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["status"], "ok");
    assert_eq!(v["backend"], "geopackage");
    assert_eq!(v["schema_version"], gengxin_store::gpkg::latest_version());
    // The fixture calls as the city administrator, who is told where the store is.
    assert!(v["location"].as_str().unwrap().ends_with("api.gpkg"), "{v}");
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/",
        "/api/openapi.json",
        "/api/health",
        "/api/units/{code}",
        "/api/units/{code}/children",
        "/api/layers",
        "/api/layers/{layer}/features",
        "/api/layers/{layer}/features/{id}",
        "/api/attachments/{id}",
        "/api/summary/{layer}/{id}",
        "/api/saved-queries",
        "/ogc/collections/{collection}/items",
    ] {
        assert!(v["paths"].get(p).is_some(), "{p} missing");
    }
    // Clients generated from the document need every operation id once.
    let mut ids = std::collections::BTreeSet::new();
    for (path, ops) in v["paths"].as_object().unwrap() {
        for (method, op) in ops.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            assert!(
                ids.insert(id.to_owned()),
                "{method} {path}: operationId {id} twice"
            );
        }
    }
}

#[tokio::test]
async fn the_admin_tree_lists_children_in_code_order() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/units/420100/children").await;
    assert_eq!(s, StatusCode::OK);
    let kids = v.as_array().unwrap();
    assert_eq!(kids.len(), 2);
    assert_eq!(kids[0]["code"], "420102");
    assert_eq!(kids[0]["name"], "江岸区");
    assert_eq!(kids[1]["name"], "武昌区");
    assert_eq!(kids[1]["level"], "district");
    assert_eq!(kids[1]["geometry"], "/api/units/420106");
    assert_eq!(kids[1]["kind"], "district");
    assert_eq!(kids[1]["parent_code"], "420100");
    assert!(kids[1].get("coordinates").is_none() && kids[1]["geometry"].is_string());
    let (_, v, _) = call(&app, "/api/units/420106/children").await;
    assert_eq!(v[0]["name"], "积玉桥街道");
    let (s, v, _) = call(&app, "/api/units/420102/children").await;
    assert_eq!((s, v.as_array().unwrap().len()), (StatusCode::OK, 0));
    let (s, v, _) = call(&app, "/api/units/429999/children").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found");
    for bad in [
        "/api/units/abc'--/children",
        "/api/units/42010/children",
        "/api/units/4201000000001/children",
        "/api/units/%FF%FE/children",
        "/api/units/abc",
    ] {
        let (s, v, _) = call(&app, bad).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{bad}: {v}");
        assert_error(&v, "bad_request");
    }
}

#[tokio::test]
async fn a_unit_comes_with_its_geometry() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/units/420106").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["type"], "Feature");
    assert_eq!(v["id"], "420106");
    assert_eq!(v["geometry"]["type"], "MultiPolygon");
    assert_eq!(v["geometry"]["coordinates"][0][0][0][0], 114.3);
    assert_eq!(v["properties"]["name"], "武昌区");
    assert_eq!(v["properties"]["provenance"], "generated");
    assert_eq!(v["properties"]["created_at"], "2026-01-02T03:04:05.000Z");
    assert_eq!(v["properties"]["updated_at"], "2026-01-02T03:04:05.000Z");
    assert_eq!(v["properties"]["version"], 1);
    assert_eq!(v["properties"]["children"], "/api/units/420106/children");
    let (s, v, _) = call(&app, "/api/units/429999").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found");
}

#[tokio::test]
async fn layers_list_the_catalogue_with_counts() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/layers").await;
    assert_eq!(s, StatusCode::OK);
    let ls = v.as_array().unwrap();
    // Custom rows are listed as their custom layers, not as tables.
    let expected: Vec<&str> = gengxin_model::catalogue()
        .iter()
        .filter(|l| !matches!(l.id, LayerId::CustomFeatures | LayerId::CustomRows))
        // Bookkeeping (accounts, audit, imports, saved queries) has its own endpoints.
        .filter(|l| l.access != gengxin_model::Access::System)
        .map(|l| l.name)
        .collect();
    assert_eq!(ls.len(), expected.len());
    let names: Vec<&str> = ls.iter().map(|l| l["name"].as_str().unwrap()).collect();
    assert_eq!(names, expected);
    let count = |name: &str| ls.iter().find(|l| l["name"] == name).unwrap()["count"].clone();
    assert_eq!(count("admin_units"), 4);
    assert_eq!(count("projects"), 1);
    assert_eq!(count("attachments"), 1);
    assert_eq!(count("buildings"), 0);
    let parcels = ls.iter().find(|l| l["name"] == "parcels").unwrap();
    assert_eq!(parcels["count"], 4);
    assert_eq!(parcels["geometry_type"], "MULTIPOLYGON");
    assert_eq!(parcels["database"], "renewal");
    assert_eq!(parcels["title_zh"], "地块");
    assert_eq!(parcels["features"], "/api/layers/parcels/features");
    let lu = parcels["fields"]
        .as_array()
        .unwrap()
        .iter()
        .find(|f| f["name"] == "land_use")
        .unwrap();
    assert!(
        lu["codes"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c["code"] == "0701" && c["zh"] == "城镇住宅用地")
    );
    let projects = ls.iter().find(|l| l["name"] == "projects").unwrap();
    assert!(projects["geometry_type"].is_null());
    let name = &projects["fields"].as_array().unwrap()[1];
    assert_eq!(
        (
            &name["name"],
            &name["type"],
            &name["required"],
            &name["codes"]
        ),
        (
            &"name".into(),
            &"text".into(),
            &true.into(),
            &serde_json::Value::Null
        )
    );
    assert_eq!(
        ls.iter()
            .find(|l| l["name"] == "special_populations")
            .unwrap()["personal"],
        true
    );
}

#[tokio::test]
async fn features_by_bbox_filter_and_page() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(
        &app,
        "/api/layers/parcels/features?bbox=114.29,30.4,114.4,30.6",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["type"], "FeatureCollection");
    let ids: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p1", "p2", "p3"]);
    assert!(v.get("next").is_none());

    let (_, v, _) = call(
        &app,
        "/api/layers/parcels/features?bbox=114.29,30.4,114.4,30.6&limit=2",
    )
    .await;
    assert_eq!(v["numberReturned"], 2);
    let next = v["next"].as_str().unwrap().to_owned();
    assert!(
        next.contains("after=p2") && next.contains("bbox="),
        "{next}"
    );
    let (_, v, _) = call(&app, &next).await;
    assert_eq!(v["features"][0]["id"], "p3");
    assert_eq!(v["numberReturned"], 1);

    let (_, v, _) = call(&app, "/api/layers/parcels/features?limit=3").await;
    assert_eq!(v["numberReturned"], 3);
    let next = v["next"].as_str().unwrap().to_owned();
    assert!(!next.contains("bbox="), "{next}");
    let (_, v, _) = call(&app, &next).await;
    assert_eq!(v["features"][0]["id"], "p4");

    let (_, v, _) = call(&app, "/api/layers/parcels/features?land_use=0901").await;
    assert_eq!(v["features"].as_array().unwrap().len(), 1);
    assert_eq!(v["features"][0]["id"], "p2");
    assert_eq!(v["features"][0]["properties"]["land_use"], "0901");

    // Filters combine with bbox (AND), and numbers are compared as numbers.
    let (_, v, _) = call(
        &app,
        "/api/layers/parcels/features?bbox=114.29,30.4,114.6,30.6&land_use=0701&area_m2=9000",
    )
    .await;
    let ids: Vec<&str> = v["features"]
        .as_array()
        .unwrap()
        .iter()
        .map(|f| f["id"].as_str().unwrap())
        .collect();
    assert_eq!(ids, ["p1", "p3", "p4"]);
    let (_, v, _) = call(&app, "/api/layers/parcels/features?area_m2=1").await;
    assert_eq!(v["numberReturned"], 0);
    let (_, v, _) = call(&app, "/api/layers/projects/features?stage=construction").await;
    assert_eq!(v["numberReturned"], 1);

    let (_, v, _) = call(&app, "/api/layers/projects/features").await;
    assert!(v["features"][0]["geometry"].is_null());
    assert_eq!(v["features"][0]["properties"]["name"], "积玉桥旧城改造项目");
}

#[tokio::test]
async fn malformed_feature_queries_are_400_and_unknown_things_404() {
    let (_d, app) = fixture().await;
    for (uri, status, code) in [
        (
            "/api/layers/parcels/features?bbox=1,2,3",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/parcels/features?bbox=a,b,c,d",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/parcels/features?bbox=114,31,113,30",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/parcels/features?bbox=500000,3300000,500100,3300100",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/projects/features?start_date=2026-1-1",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/parcels/features?limit=0",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/parcels/features?limit=100000",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/parcels/features?colour=red",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/parcels/features?far=high",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/projects/features?plan_year=soon",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/parcels/features?limit=ten",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/projects/features?bbox=114,30,115,31",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/api/layers/nope/features",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            "/api/layers/parcels/features/nope",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("/api/no/such/route", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (s, v, _) = call(&app, uri).await;
        assert_eq!(s, status, "{uri}: {v}");
        assert_error(&v, code);
    }
    let (_, v, _) = call(&app, "/api/layers/parcels/features?colour=red").await;
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("colour"), "the message names the field: {msg}");
    let (_, v, _) = call(&app, "/api/layers/projects/features?bbox=114,30,115,31").await;
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(msg.contains("no geometry"), "{msg}");

    let (s, v, _) = call(&app, "/api/layers/parcels/features/p2").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["type"], "Feature");
    assert_eq!(v["id"], "p2");
    assert_eq!(v["geometry"]["type"], "MultiPolygon");
    assert_eq!(v["properties"]["land_use"], "0901");
    let (s, v, _) = call(&app, "/api/layers/projects/features/prj-1").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["geometry"].is_null());
    assert_eq!(v["properties"]["stage"], "construction");
}

#[tokio::test]
async fn other_methods_are_405_in_the_error_shape() {
    let (_d, app) = fixture().await;
    let r = app
        .clone()
        .oneshot(Request::post("/api/layers").body(Body::from("{}")).unwrap())
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::METHOD_NOT_ALLOWED);
    let allow = r.headers()["allow"].to_str().unwrap().to_owned();
    assert!(allow.contains("GET"), "{allow}");
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert_error(&v, "method_not_allowed");
}

#[tokio::test]
async fn the_page_is_the_embedded_chinese_web_application() {
    let (_d, app) = fixture().await;
    let (s, v, ctype) = call(&app, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ctype, "text/html; charset=utf-8");
    let html = v.as_str().unwrap();
    assert!(html.contains("lang=\"zh-CN\""));
    assert!(html.contains("<title>城市更新精细化管理决策系统</title>"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
    );
    // Every script the page loads is served, as JavaScript.
    let scripts: Vec<&str> = html
        .split("src=\"./assets/")
        .skip(1)
        .map(|p| &p[..p.find('"').unwrap()])
        .collect();
    assert!(!scripts.is_empty(), "{html}");
    for name in scripts {
        let (s, _, ctype) = call(&app, &format!("/assets/{name}")).await;
        assert_eq!(s, StatusCode::OK, "{name}");
        assert_eq!(ctype, "text/javascript; charset=utf-8");
    }
    let (s, v, _) = call(&app, "/assets/nothing.js").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found");
}

/// The OpenAPI document the web application's types are generated from (`web/openapi.json`) is
/// the server's own. Refresh it with `GENGXIN_WRITE_OPENAPI=1 cargo test -p gengxin-api openapi`.
#[test]
fn the_web_applications_openapi_copy_is_fresh() {
    let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../web/openapi.json");
    let fresh = serde_json::to_string_pretty(&gengxin_api::openapi_document()).unwrap() + "\n";
    if std::env::var_os("GENGXIN_WRITE_OPENAPI").is_some() {
        std::fs::write(path, &fresh).unwrap();
    }
    let committed = std::fs::read_to_string(path).unwrap();
    assert!(
        committed == fresh,
        "web/openapi.json is stale: run GENGXIN_WRITE_OPENAPI=1 cargo test -p gengxin-api openapi"
    );
}

#[tokio::test]
async fn attachments_download_with_safe_headers() {
    let (_d, app) = fixture().await;
    let r = app
        .clone()
        .oneshot(
            Request::get("/api/attachments/att-1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let h = r.headers().clone();
    assert_eq!(h["content-type"], "text/plain; charset=utf-8");
    assert_eq!(h["x-content-type-options"], "nosniff");
    let cd = h["content-disposition"].to_str().unwrap();
    assert!(cd.starts_with("attachment; filename*=UTF-8''"), "{cd}");
    let name = cd.trim_start_matches("attachment; filename*=UTF-8''");
    assert!(
        !name.contains(['"', ' ', '\r', '\n', ';']),
        "name must be encoded: {cd}"
    );
    assert!(cd.contains("%E9%A1%B9%E7%9B%AE"), "{cd}");
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    assert_eq!(std::str::from_utf8(&bytes).unwrap(), "积玉桥旧城改造");
    let (s, v, _) = call(&app, "/api/attachments/none").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found");
}

/// A store that answers every call with one error, to check the status mapping end to end.
struct Failing(MakeError);

type MakeError = fn() -> StoreError;

#[async_trait::async_trait]
impl Store for Failing {
    async fn info(&self) -> Result<StoreInfo, StoreError> {
        Err((self.0)())
    }
    async fn apply(&self, _: gengxin_store::Edit) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn get(&self, _: LayerId, _: &str) -> Result<Option<Feature>, StoreError> {
        Err((self.0)())
    }
    async fn query(&self, _: LayerId, _: Query) -> Result<Vec<Feature>, StoreError> {
        Err((self.0)())
    }
    async fn count(&self, _: LayerId) -> Result<u64, StoreError> {
        Err((self.0)())
    }
    fn changes(&self) -> tokio::sync::broadcast::Receiver<gengxin_store::Change> {
        tokio::sync::broadcast::channel(1).1
    }
    async fn put_files(&self, _: Vec<Vec<u8>>) -> Result<(), StoreError> {
        Err((self.0)())
    }
    async fn file(&self, _: &str) -> Result<Option<Vec<u8>>, StoreError> {
        Err((self.0)())
    }
}

fn failing(e: MakeError) -> axum::Router {
    gengxin_api::app(Arc::new(Failing(e)))
}

#[tokio::test]
async fn health_is_503_when_the_store_fails() {
    for e in [
        (|| StoreError::Unavailable("pool timed out".into())) as MakeError,
        || StoreError::Internal("disk I/O error at /secret/path".into()),
    ] {
        let (s, v, _) = call(&failing(e), "/api/health").await;
        assert_eq!(s, StatusCode::SERVICE_UNAVAILABLE, "{v}");
        assert_error(&v, "store_unavailable");
        assert!(!v.to_string().contains("/secret/path"), "{v}");
    }
}

#[tokio::test]
async fn store_errors_map_to_statuses_and_internal_details_stay_inside() {
    let cases: [(MakeError, StatusCode, &str); 8] = [
        (
            || StoreError::Conflict {
                layer: "parcels",
                id: "p1".into(),
                expected: 1,
                found: 2,
            },
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            || StoreError::NotFound {
                layer: "parcels",
                id: "p1".into(),
            },
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        (
            || StoreError::BadQuery("area_m2 cannot equal text".into()),
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            || {
                StoreError::Invalid(ValidationError::NoProvenance {
                    layer: "parcels",
                    id: "p9".into(),
                })
            },
            StatusCode::UNPROCESSABLE_ENTITY,
            "invalid_feature",
        ),
        (
            || StoreError::Duplicate {
                layer: "parcels",
                id: "p1".into(),
            },
            StatusCode::CONFLICT,
            "conflict",
        ),
        (
            || StoreError::UnknownField {
                layer: "parcels",
                field: "colour".into(),
            },
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            || StoreError::Unavailable("pool timed out".into()),
            StatusCode::SERVICE_UNAVAILABLE,
            "store_unavailable",
        ),
        (
            || StoreError::Internal("no such table: renewal_parcels at /secret/path".into()),
            StatusCode::INTERNAL_SERVER_ERROR,
            "internal",
        ),
    ];
    for (e, status, code) in cases {
        let app = failing(e);
        for uri in [
            "/api/layers/parcels/features",
            "/api/layers/parcels/features/p1",
            "/api/units/420100/children",
            "/api/layers",
        ] {
            let (s, v, _) = call(&app, uri).await;
            assert_eq!(s, status, "{uri}: {v}");
            assert_error(&v, code);
            assert!(!v.to_string().contains("/secret/path"), "leaked: {v}");
        }
    }
}

async fn send(
    app: &axum::Router,
    method: &str,
    uri: &str,
    if_match: Option<&str>,
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value, Option<String>) {
    let headers: Vec<(&str, &str)> = if_match.map(|v| ("if-match", v)).into_iter().collect();
    let (status, json, h) = send_with(app, method, uri, &headers, body).await;
    let etag = h.get("etag").map(|v| v.to_str().unwrap().to_owned());
    (status, json, etag)
}

async fn send_with(
    app: &axum::Router,
    method: &str,
    uri: &str,
    headers: &[(&str, &str)],
    body: serde_json::Value,
) -> (StatusCode, serde_json::Value, axum::http::HeaderMap) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = match body {
        serde_json::Value::Null => Body::empty(),
        b => Body::from(b.to_string()),
    };
    let r = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = r.status();
    let h = r.headers().clone();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let json = serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    (status, json, h)
}

fn parcels_count(v: &serde_json::Value) -> u64 {
    v.as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "parcels")
        .unwrap()["count"]
        .as_u64()
        .unwrap()
}

#[tokio::test]
async fn edits_need_the_current_version_and_lose_nothing() {
    let (_dir, app) = fixture().await;
    let (_, layers, _) = call(&app, "/api/layers").await;
    assert_eq!(parcels_count(&layers), 4);
    let new = serde_json::json!({
        "type": "Feature", "id": "p9",
        "geometry": {"type": "Polygon", "coordinates": [[[114.4, 30.5], [114.401, 30.5], [114.401, 30.501], [114.4, 30.5]]]},
        "properties": {"code": "P-9", "land_use": "0701", "area_m2": 1200, "district_code": "420106", "version": 77}
    });
    let (s, v, etag) = send(
        &app,
        "POST",
        "/api/layers/parcels/features",
        None,
        new.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        etag.as_deref(),
        Some("\"1\""),
        "a new feature is version 1, whatever the body says"
    );
    assert_eq!(v["properties"]["provenance"], "manual");
    assert_eq!(v["properties"]["area_m2"], 1200.0);
    // The cached count follows the write at once.
    let (_, layers, _) = call(&app, "/api/layers").await;
    assert_eq!(parcels_count(&layers), 5);
    let (s, v, _) = send(
        &app,
        "POST",
        "/api/layers/parcels/features",
        None,
        new.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    // Two editors read version 1; the first to save wins, the second gets 409.
    let mut edit = new.clone();
    edit["properties"]["land_use"] = "0901".into();
    let (s, v, _) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p9",
        None,
        edit.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::PRECONDITION_REQUIRED, "{v}");
    assert_error(&v, "precondition_required");
    let (s, v, etag) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p9",
        Some("\"1\""),
        edit.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(etag.as_deref(), Some("\"2\""));
    assert_eq!(v["properties"]["land_use"], "0901");
    let mut other = new.clone();
    other["properties"]["area_m2"] = 1.into();
    let (s, v, _) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p9",
        Some("\"1\""),
        other,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert_error(&v, "conflict");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("version 2"),
        "{v}"
    );
    let (_, v, _) = call(&app, "/api/layers/parcels/features/p9").await;
    assert_eq!(
        (
            v["properties"]["land_use"].as_str(),
            v["properties"]["area_m2"].as_f64()
        ),
        (Some("0901"), Some(1200.0))
    );
    // Bad edits are refused and change nothing.
    let mut bad = edit.clone();
    bad["properties"]["land_use"] = "9999".into();
    let (s, v, _) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p9",
        Some("\"2\""),
        bad,
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    let (s, _, _) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p9",
        Some("soon"),
        edit.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p8",
        Some("\"2\""),
        edit.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "body id and path id differ");
    let (s, _, _) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p9",
        Some("\"2\""),
        serde_json::json!([1, 2]),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = send(
        &app,
        "DELETE",
        "/api/layers/parcels/features/p9",
        Some("\"1\""),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    let (s, _, _) = send(
        &app,
        "DELETE",
        "/api/layers/parcels/features/p9",
        Some("W/\"2\""),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (s, _, _) = call(&app, "/api/layers/parcels/features/p9").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, layers, _) = call(&app, "/api/layers").await;
    assert_eq!(parcels_count(&layers), 4);
}

#[tokio::test]
async fn writes_stream_to_clients_as_server_sent_events() {
    let (_dir, app) = fixture().await;
    let r = app
        .clone()
        .oneshot(Request::get("/api/changes").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(r.headers()["content-type"], "text/event-stream");
    let mut body = r.into_body();
    let (_, p1, etag) = send(
        &app,
        "GET",
        "/api/layers/parcels/features/p1",
        None,
        serde_json::Value::Null,
    )
    .await;
    let (s, _, _) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p1",
        etag.as_deref(),
        p1,
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let frame = tokio::time::timeout(std::time::Duration::from_secs(5), body.frame())
        .await
        .expect("an event")
        .unwrap()
        .unwrap();
    let text = String::from_utf8(frame.into_data().unwrap().to_vec()).unwrap();
    assert!(text.starts_with("event: change\n"), "{text}");
    assert!(
        text.contains(r#"data: {"layer":"parcels","ids":["p1"]}"#),
        "{text}"
    );
}

async fn upload(app: &axum::Router, uri: &str, body: Vec<u8>) -> (StatusCode, serde_json::Value) {
    let r = app
        .clone()
        .oneshot(
            Request::post(uri)
                .header("content-type", "application/octet-stream")
                .body(Body::from(body))
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

const DISTRICTS: &str = r#"{"type":"FeatureCollection","features":[
  {"type":"Feature","id":"d1","properties":{"name":"江岸区","gb":156420102},"geometry":{"type":"Polygon","coordinates":[[[114.30,30.60],[114.32,30.60],[114.32,30.62],[114.30,30.60]]]}},
  {"type":"Feature","id":"d2","properties":{"name":"武昌区","gb":156420106},"geometry":{"type":"Polygon","coordinates":[[[114.30,30.50],[114.32,30.50],[114.32,30.52],[114.30,30.50]]]}}]}"#;

#[tokio::test]
async fn files_upload_into_layers_list_export_and_undo_over_http() {
    let (_d, app) = fixture().await;
    // A dry run reports and writes nothing.
    let (s, v) = upload(
        &app,
        "/api/imports?layer=plan_a&file_name=districts.geojson&dry_run=true",
        DISTRICTS.into(),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["read"].as_u64(), v["dry_run"].as_bool()),
        (Some(2), Some(true))
    );
    let (_, layers, _) = call(&app, "/api/layers").await;
    assert!(
        !layers
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["name"] == "plan_a")
    );

    let (s, v) = upload(
        &app,
        "/api/imports?layer=plan_a&file_name=districts.geojson",
        DISTRICTS.into(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["imported"], 2);
    let import_id = v["import_id"].as_str().unwrap().to_owned();
    // The custom layer is served like any other, with every source attribute.
    let (_, layers, _) = call(&app, "/api/layers").await;
    let plan = layers
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == "plan_a")
        .unwrap()
        .clone();
    assert_eq!(
        (plan["database"].as_str(), plan["count"].as_u64()),
        (Some("custom"), Some(2))
    );
    let (s, fc, _) = call(
        &app,
        "/api/layers/plan_a/features?bbox=114.29,30.59,114.33,30.63",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{fc}");
    assert_eq!(fc["numberReturned"], 1);
    assert_eq!(fc["features"][0]["id"], "d1");
    assert_eq!(fc["features"][0]["properties"]["name"], "江岸区");
    assert_eq!(fc["features"][0]["properties"]["gb"], 156420102);
    // Read by the importer's organisation only, by default; anyone when imported as public.
    let anonymous = |uri: &str| {
        let r = Request::get(uri)
            .header(ANONYMOUS, "1")
            .body(Body::empty())
            .unwrap();
        let app = app.clone();
        async move { app.oneshot(r).await.unwrap().status() }
    };
    assert_eq!(
        anonymous("/api/layers/plan_a/features").await,
        StatusCode::UNAUTHORIZED
    );
    assert_eq!(
        anonymous("/api/layers/plan_a/export?format=csv").await,
        StatusCode::UNAUTHORIZED
    );
    let (s, v) = upload(
        &app,
        "/api/imports?layer=plan_w&file_name=districts.geojson&access=world",
        DISTRICTS.into(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("public, staff, organisation"),
        "{v}"
    );
    let (s, v) = upload(
        &app,
        "/api/imports?layer=plan_p&file_name=districts.geojson&access=public",
        DISTRICTS.into(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(
        anonymous("/api/layers/plan_p/features").await,
        StatusCode::OK
    );
    let (s, one, _) = call(&app, "/api/layers/plan_a/features/d2").await;
    assert_eq!(s, StatusCode::OK, "{one}");
    assert_eq!(one["properties"]["name"], "武昌区");
    let (s, _, _) = call(&app, "/api/layers/plan_a/features/d9").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, list, _) = call(&app, "/api/imports").await;
    let rec = list
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["id"] == import_id.as_str())
        .unwrap()
        .clone();
    assert_eq!(
        (rec["file_name"].as_str(), rec["state"].as_str()),
        (Some("districts.geojson"), Some("applied"))
    );

    // Export: a CSV download of a model layer with a filter, and GeoJSON of the custom layer.
    // `codes=true`: field names and codes, for machines.
    let r = app
        .clone()
        .oneshot(
            Request::get("/api/layers/parcels/export?format=csv&land_use=0701&codes=true")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    assert_eq!(r.headers()["content-type"], "text/csv; charset=utf-8");
    assert!(
        r.headers()["content-disposition"]
            .to_str()
            .unwrap()
            .contains("parcels.csv")
    );
    let csv =
        String::from_utf8(r.into_body().collect().await.unwrap().to_bytes().to_vec()).unwrap();
    assert!(csv.lines().count() >= 2, "{csv}");
    assert!(csv.lines().skip(1).all(|l| l.contains(",0701,")), "{csv}");
    assert!(
        csv.trim_start_matches('\u{feff}')
            .starts_with("id,code,land_use,"),
        "{csv}"
    );
    // By default for people: the fields' Chinese titles and code names (English on request).
    let (s, csv, _) = call(&app, "/api/layers/parcels/export?format=csv&land_use=0701").await;
    assert_eq!(s, StatusCode::OK);
    let csv = csv.as_str().unwrap();
    assert!(csv.starts_with("\u{feff}编号,地块编号,现状用地,"), "{csv}");
    assert!(!csv.contains(",0701,"), "{csv}");
    let (_, csv, _) = call(
        &app,
        "/api/layers/parcels/export?format=csv&land_use=0701&lang=en",
    )
    .await;
    assert!(
        csv.as_str()
            .unwrap()
            .starts_with("\u{feff}ID,Code,Land use,"),
        "{csv}"
    );
    let (s, _, _) = call(&app, "/api/layers/parcels/export?format=csv&lang=fr").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, _, _) = call(&app, "/api/layers/parcels/export?format=csv&codes=maybe").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    let (s, gj, _) = call(&app, "/api/layers/plan_a/export?format=geojson").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(gj["features"].as_array().unwrap().len(), 2);

    // Refusals in the JSON error shape.
    let (s, v) = upload(
        &app,
        "/api/imports?layer=plan_b&file_name=x.geojson",
        b"{not json".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert_error(&v, "invalid_file");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .starts_with("x.geojson:"),
        "{v}"
    );
    let (s, v) = upload(
        &app,
        "/api/imports?layer=plan_b&file_name=../../etc/x.kml",
        b"<kml/>".to_vec(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "bad_request");
    let (s, v) = upload(
        &app,
        "/api/imports?layer=plan_b&file_name=a.geojson&sql=drop",
        DISTRICTS.into(),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let (s, v, _) = call(&app, "/api/layers/parcels/export?format=pdf").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "bad_request");
    let (s, v, _) = call(&app, "/api/layers/nope/export?format=csv").await;
    assert_eq!(s, StatusCode::NOT_FOUND, "{v}");

    // Undo, then undo again: 409.
    let (s, v) = upload(&app, &format!("/api/imports/{import_id}/undo"), vec![]).await;
    assert_eq!((s, v["removed"].as_u64()), (StatusCode::OK, Some(2)), "{v}");
    let (s, v) = upload(&app, &format!("/api/imports/{import_id}/undo"), vec![]).await;
    assert_eq!(s, StatusCode::CONFLICT);
    assert_error(&v, "conflict");
    let (s, _, _) = call(&app, "/api/layers/plan_a/features").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

/// A FeatureCollection of `n` small squares with ids `s1` … `s{n}` (from `first` on); feature
/// `broken` (1-based), if any, has coordinates that are not a geometry.
fn squares(first: usize, n: usize, broken: Option<usize>) -> Vec<u8> {
    let mut out = String::from(r#"{"type":"FeatureCollection","features":["#);
    for i in first..first + n {
        if i > first {
            out.push(',');
        }
        let x = 114.0 + (i % 1000) as f64 * 0.001;
        let y = 30.0 + (i / 1000) as f64 * 0.001;
        let coords = if broken == Some(i) {
            r#""not coordinates""#.to_owned()
        } else {
            format!(
                "[[[{x},{y}],[{},{y}],[{},{}],[{x},{}],[{x},{y}]]]",
                x + 0.0005,
                x + 0.0005,
                y + 0.0005,
                y + 0.0005
            )
        };
        out.push_str(&format!(
            r#"{{"type":"Feature","id":"s{i}","properties":{{"n":{i}}},"geometry":{{"type":"Polygon","coordinates":{coords}}}}}"#
        ));
    }
    out.push_str("]}");
    out.into_bytes()
}

/// The rows of a custom layer (0 when it does not exist) and the number of import records.
async fn stored(app: &axum::Router, layer: &str) -> (u64, usize) {
    let (_, layers, _) = call(app, "/api/layers").await;
    let rows = layers
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["name"] == layer)
        .map_or(0, |l| l["count"].as_u64().unwrap());
    let (_, list, _) = call(app, "/api/imports").await;
    (rows, list.as_array().unwrap().len())
}

#[tokio::test]
async fn a_streamed_import_that_fails_late_stores_nothing() {
    let (_d, app) = fixture().await;
    // 20,500 features: the streamed import writes them in three batches of at most 10,000.
    assert_eq!(gengxin_app::imports::BATCH, 10_000);
    let (s, v) = upload(
        &app,
        "/api/imports?layer=late&file_name=late.geojson",
        squares(1, 20_500, Some(20_400)),
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert_error(&v, "invalid_file");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("feature 20400: bad geometry"),
        "{v}"
    );
    assert_eq!(stored(&app, "late").await, (0, 0));

    // The layer already holds `s20400`: the store refuses the third batch, after two were
    // written in the transaction, and none of them stays.
    let (s, v) = upload(
        &app,
        "/api/imports?layer=late&file_name=one.geojson",
        squares(20_400, 1, None),
    )
    .await;
    assert_eq!(
        (s, v["imported"].as_u64()),
        (StatusCode::CREATED, Some(1)),
        "{v}"
    );
    let (s, v) = upload(
        &app,
        "/api/imports?layer=late&file_name=late.geojson",
        squares(1, 20_500, None),
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT, "{v}");
    assert!(
        v["error"]["message"].as_str().unwrap().contains("s20400"),
        "{v}"
    );
    assert_eq!(stored(&app, "late").await, (1, 1));
    // Without the clash it imports, all 20,500 rows.
    let (s, v) = upload(
        &app,
        "/api/imports?layer=late&file_name=late.geojson",
        squares(20_401, 20_500, None),
    )
    .await;
    assert_eq!(
        (s, v["imported"].as_u64()),
        (StatusCode::CREATED, Some(20_500)),
        "{v}"
    );
    assert_eq!(stored(&app, "late").await, (20_501, 2));
}

#[tokio::test]
async fn uploads_are_bounded_in_size_and_in_number_at_once() {
    use tokio_stream::wrappers::ReceiverStream;
    let (_d, store) = fixture_store().await;
    let limits = gengxin_api::limits::Limits::from_env()
        .with_imports(gengxin_api::ImportLimits::new(1_000, 1));
    let app = as_admin(gengxin_api::router_with(
        gengxin_app::App::new(store),
        Arc::new(limits),
    ));
    // Over the size limit, declared or not: 413 in the error shape, and nothing stored.
    let big = squares(1, 20, None);
    assert!(big.len() > 1_000);
    let (s, v) = upload(
        &app,
        "/api/imports?layer=big&file_name=b.geojson",
        big.clone(),
    )
    .await;
    assert_eq!(s, StatusCode::PAYLOAD_TOO_LARGE, "{v}");
    assert_error(&v, "payload_too_large");
    let r = app
        .clone()
        .oneshot(
            Request::post("/api/imports?layer=big&file_name=b.geojson")
                .header("content-length", big.len())
                .body(Body::from(big))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_eq!(stored(&app, "big").await, (0, 0));

    // One import at a time: while an upload is under way, another is refused at once.
    let (tx, rx) = tokio::sync::mpsc::channel::<Result<Vec<u8>, std::io::Error>>(1);
    let slow = tokio::spawn(
        app.clone().oneshot(
            Request::post("/api/imports?layer=slow&file_name=s.geojson")
                .body(Body::from_stream(ReceiverStream::new(rx)))
                .unwrap(),
        ),
    );
    let (a, b) = DISTRICTS.as_bytes().split_at(100);
    let (b, c) = b.split_at(100);
    tx.send(Ok(a.to_vec())).await.unwrap();
    // The channel holds one chunk: this send returns once the handler has read the first.
    tx.send(Ok(b.to_vec())).await.unwrap();
    let r = app
        .clone()
        .oneshot(
            Request::post("/api/imports?layer=other&file_name=o.geojson")
                .body(Body::from(DISTRICTS))
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::TOO_MANY_REQUESTS);
    assert_eq!(r.headers()["retry-after"], "30");
    let v: serde_json::Value =
        serde_json::from_slice(&r.into_body().collect().await.unwrap().to_bytes()).unwrap();
    assert_error(&v, "too_many_requests");
    tx.send(Ok(c.to_vec())).await.unwrap();
    drop(tx);
    let r = slow.await.unwrap().unwrap();
    assert_eq!(r.status(), StatusCode::CREATED);
    // The slot is free again.
    let (s, v) = upload(
        &app,
        "/api/imports?layer=other&file_name=o.geojson",
        DISTRICTS.into(),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(stored(&app, "slow").await.0, 2);
    assert_eq!(stored(&app, "other").await, (2, 2));
}

async fn call_bytes(app: &axum::Router, uri: &str) -> (StatusCode, String, Vec<u8>) {
    let r = app
        .clone()
        .oneshot(
            Request::get(uri)
                .header("host", "maps.example:8080")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let status = r.status();
    let ctype = r
        .headers()
        .get("content-type")
        .map(|v| v.to_str().unwrap().to_owned())
        .unwrap_or_default();
    (
        status,
        ctype,
        r.into_body().collect().await.unwrap().to_bytes().to_vec(),
    )
}

/// The one layer of a tile: its name and each feature's properties.
fn decode_tile(bytes: &[u8]) -> (String, Vec<serde_json::Map<String, serde_json::Value>>) {
    use geozero::mvt::{Message, Tile};
    let tile = Tile::decode(bytes).expect("a vector tile");
    assert_eq!(tile.layers.len(), 1);
    let l = &tile.layers[0];
    assert_eq!((l.version, l.extent), (2, Some(4096)));
    let features = l
        .features
        .iter()
        .map(|f| {
            assert!(!f.geometry.is_empty());
            f.tags
                .chunks(2)
                .map(|kv| {
                    let v = &l.values[kv[1] as usize];
                    let v = if let Some(s) = &v.string_value {
                        serde_json::json!(s)
                    } else if let Some(b) = v.bool_value {
                        serde_json::json!(b)
                    } else if let Some(d) = v.double_value {
                        serde_json::json!(d)
                    } else {
                        serde_json::json!(v.sint_value)
                    };
                    (l.keys[kv[0] as usize].clone(), v)
                })
                .collect()
        })
        .collect();
    (l.name.clone(), features)
}

fn tile_url(layer: &str, lon: f64, lat: f64, z: u8) -> String {
    let t = gengxin_engine::tile::TileId::containing(lon, lat, z);
    format!("/tiles/{layer}/{}/{}/{}.mvt", t.z, t.x, t.y)
}

#[tokio::test]
async fn tiles_are_listed_with_tilejson_and_carry_the_styling_attributes() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/tiles").await;
    assert_eq!(s, StatusCode::OK);
    let names: Vec<&str> = v
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["layer"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"admin_units") && names.contains(&"buildings"));
    assert!(
        !names.contains(&"special_populations"),
        "personal layers are not tiled"
    );
    assert!(
        !names.contains(&"projects"),
        "attribute layers are not tiled"
    );

    let (s, ctype, body) = call_bytes(&app, "/tiles/parcels.json").await;
    assert_eq!((s, ctype.as_str()), (StatusCode::OK, "application/json"));
    let tj: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(tj["tilejson"], "3.0.0");
    assert_eq!(
        tj["tiles"][0],
        "http://maps.example:8080/tiles/parcels/{z}/{x}/{y}.mvt"
    );
    assert_eq!(tj["vector_layers"][0]["id"], "parcels");
    assert_eq!(tj["minzoom"], 12);
    // Bounds: the city's extent (the fixture's city is the square at 114.0, 30.0).
    assert_eq!(tj["bounds"], serde_json::json!([114.0, 30.0, 114.1, 30.1]));

    let (s, ctype, body) = call_bytes(&app, &tile_url("parcels", 114.3005, 30.5005, 14)).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ctype, "application/vnd.mapbox-vector-tile");
    let (name, features) = decode_tile(&body);
    assert_eq!(name, "parcels");
    let p1 = features
        .iter()
        .find(|f| f["id"] == "p1")
        .expect("p1 in its tile");
    assert_eq!(p1["land_use"], "0701");
    assert_eq!(p1["area_m2"], 9000.0);
    assert_eq!(p1["generated"], true);
    assert!(features.iter().all(|f| f["id"] != "p4"), "p4 is 20 km away");
    // Below the layer's zoom, and where nothing is: an empty tile, still 200.
    for url in [
        tile_url("parcels", 114.3005, 30.5005, 11),
        tile_url("parcels", 10.0, 10.0, 14),
    ] {
        let (s, _, body) = call_bytes(&app, &url).await;
        assert_eq!((s, body.len()), (StatusCode::OK, 0), "{url}");
    }
}

#[tokio::test]
async fn admin_tiles_thin_by_level_and_follow_writes() {
    let (_d, app) = fixture().await;
    let names = |body: Vec<u8>| -> Vec<String> {
        let mut v: Vec<String> = decode_tile(&body)
            .1
            .iter()
            .map(|f| f["name"].as_str().unwrap().to_owned())
            .collect();
        v.sort();
        v
    };
    // The fixture's 武昌区 and its street 积玉桥街道 share the square at 114.3, 30.0.
    let (_, _, z8) = call_bytes(&app, &tile_url("admin_units", 114.35, 30.05, 8)).await;
    assert!(names(z8.clone()).contains(&"武昌区".to_owned()));
    assert!(
        !names(z8).contains(&"积玉桥街道".to_owned()),
        "streets from z9"
    );
    let (_, _, z9) = call_bytes(&app, &tile_url("admin_units", 114.35, 30.05, 9)).await;
    assert!(names(z9).contains(&"积玉桥街道".to_owned()));

    // A tile seen once (and cached) shows a write made after it.
    let url = tile_url("parcels", 114.3005, 30.5005, 14);
    let (_, _, before) = call_bytes(&app, &url).await;
    let n = decode_tile(&before).1.len();
    let body = serde_json::json!({"type": "Feature", "id": "p9",
        "geometry": {"type": "Polygon", "coordinates": [[[114.3002, 30.5002], [114.3004, 30.5002], [114.3004, 30.5004], [114.3002, 30.5002]]]},
        "properties": {"code": "p9", "land_use": "1001", "area_m2": 100.0, "district_code": "420106"}});
    let (s, _, _) = send(&app, "POST", "/api/layers/parcels/features", None, body).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, _, after) = call_bytes(&app, &url).await;
    let after = decode_tile(&after).1;
    assert_eq!(after.len(), n + 1);
    assert!(
        after
            .iter()
            .any(|f| f["id"] == "p9" && f["land_use"] == "1001")
    );
}

#[tokio::test]
async fn bad_tile_requests_are_refused_with_reasons() {
    let (_d, app) = fixture().await;
    for (url, status, code) in [
        (
            "/tiles/parcels/3/9/1.mvt",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/tiles/parcels/25/0/0.mvt",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/tiles/parcels/a/0/0.mvt",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        (
            "/tiles/parcels/1/0/0.png",
            StatusCode::BAD_REQUEST,
            "bad_request",
        ),
        ("/tiles/nope/1/0/0.mvt", StatusCode::NOT_FOUND, "not_found"),
        (
            "/tiles/special_populations/1/0/0.mvt",
            StatusCode::NOT_FOUND,
            "not_found",
        ),
        ("/tiles/projects.json", StatusCode::NOT_FOUND, "not_found"),
        ("/tiles/parcels.xml", StatusCode::NOT_FOUND, "not_found"),
    ] {
        let (s, v, _) = call(&app, url).await;
        assert_eq!(s, status, "{url}: {v}");
        assert_error(&v, code);
    }
}

#[tokio::test]
async fn chinese_label_glyphs_are_served_from_the_cjk_font() {
    let (_d, app) = fixture().await;
    // 武 is U+6B66, in the range 27392-27647.
    let (s, ctype, body) = call_bytes(
        &app,
        "/fonts/Noto%20Sans%20CJK%20SC%20Regular/27392-27647.pbf",
    )
    .await;
    assert_eq!(
        s,
        StatusCode::OK,
        "{} (the tests need Debian's fonts-noto-cjk)",
        String::from_utf8_lossy(&body)
    );
    assert_eq!(ctype, "application/x-protobuf");
    // Browsers keep glyph ranges (the map's second load asks for none), also when signed in
    // (this app sends a bearer token with every request).
    let r = app
        .clone()
        .oneshot(
            Request::get("/fonts/Noto%20Sans%20CJK%20SC%20Regular/27392-27647.pbf")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(
        r.headers().get("cache-control").unwrap(),
        "public, max-age=86400"
    );
    use gengxin_fonts::proto::Glyphs;
    use prost::Message;
    let g = Glyphs::decode(&body[..]).unwrap();
    let stack = &g.stacks[0];
    assert_eq!(stack.range, "27392-27647");
    let wu = stack.glyphs.iter().find(|g| g.id == 0x6B66).expect("武");
    assert!(wu.bitmap.as_ref().is_some_and(|b| !b.is_empty()));
    for (url, status) in [
        (
            "/fonts/Noto%20Sans%20CJK%20SC%20Regular/1-256.pbf",
            StatusCode::BAD_REQUEST,
        ),
        ("/fonts/Arial%20Regular/0-255.pbf", StatusCode::NOT_FOUND),
    ] {
        let (s, v, _) = call(&app, url).await;
        assert_eq!(s, status, "{url}: {v}");
    }
    // A fontstack list naming the server's font is served.
    let (s, _, _) = call_bytes(
        &app,
        "/fonts/Open%20Sans%20Regular,Noto%20Sans%20CJK%20SC%20Regular/0-255.pbf",
    )
    .await;
    assert_eq!(s, StatusCode::OK);
}

#[tokio::test]
async fn clients_that_accept_gzip_get_compressed_tiles_and_pages() {
    let (_d, app) = fixture().await;
    for uri in ["/", "/tiles/admin_units/8/209/105.mvt", "/api/layers"] {
        let r = app
            .clone()
            .oneshot(
                Request::get(uri)
                    .header("accept-encoding", "gzip")
                    .body(Body::empty())
                    .unwrap(),
            )
            .await
            .unwrap();
        assert_eq!(r.status(), StatusCode::OK, "{uri}");
        assert_eq!(r.headers()["content-encoding"], "gzip", "{uri}");
    }
}

#[tokio::test]
async fn search_follows_writes() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/search?q=wuchang").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v[0]["name"], "武昌区");
    assert_eq!(v[0]["type"], "admin_units");
    let (_, v, _) = call(&app, "/api/search?q=%E6%B4%AA%E5%B1%B1").await; // 洪山
    assert!(v.as_array().unwrap().iter().all(|h| h["name"] != "洪山区"));
    let body = serde_json::json!({"type": "Feature", "id": "420111",
        "geometry": {"type": "Polygon", "coordinates": [[[114.4, 30.0], [114.5, 30.0], [114.5, 30.1], [114.4, 30.0]]]},
        "properties": {"code": "420111", "name": "洪山区", "level": "district", "kind": "district", "parent_code": "420100"}});
    let (s, _, _) = send(&app, "POST", "/api/layers/admin_units/features", None, body).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, v, _) = call(&app, "/api/search?q=hongshan").await;
    assert_eq!(v[0]["id"], "420111");
    let (s, v, _) = call(&app, "/api/search?q=x&type=special_populations").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "bad_request");
}

fn enc(s: &str) -> String {
    form_urlencoded::byte_serialize(s.as_bytes()).collect()
}

fn ids(v: &serde_json::Value) -> Vec<String> {
    v["features"]
        .as_array()
        .unwrap_or_else(|| panic!("{v}"))
        .iter()
        .map(|f| f["id"].as_str().unwrap().to_owned())
        .collect()
}

#[tokio::test]
async fn ogc_features_landing_conformance_collections_and_queryables() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/ogc").await;
    assert_eq!(s, StatusCode::OK);
    let rels: Vec<&str> = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l["rel"].as_str().unwrap())
        .collect();
    for rel in ["self", "service-desc", "conformance", "data"] {
        assert!(rels.contains(&rel), "{rels:?}");
    }
    let (_, v, _) = call(&app, "/ogc/conformance").await;
    let classes = v["conformsTo"].to_string();
    for c in [
        "conf/core",
        "conf/geojson",
        "conf/filter",
        "cql2-text",
        "cql2-json",
        "advanced-comparison-operators",
        "basic-spatial-functions",
    ] {
        assert!(classes.contains(c), "{c} missing");
    }
    let (_, v, _) = call(&app, "/ogc/collections").await;
    let names: Vec<&str> = v["collections"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| c["id"].as_str().unwrap())
        .collect();
    assert!(names.contains(&"parcels") && names.contains(&"projects"));
    // Personal and bookkeeping layers are not served.
    for hidden in [
        "special_populations",
        "epidemic_cases",
        "imports",
        "custom_rows",
        "saved_queries",
    ] {
        assert!(!names.contains(&hidden), "{hidden} is served");
    }
    let (_, v, _) = call(&app, "/ogc/collections/parcels").await;
    assert_eq!(v["numberOfFeatures"], 4);
    let (s, v, ctype) = call(&app, "/ogc/collections/parcels/queryables").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(ctype, "application/schema+json");
    assert_eq!(v["properties"]["area_m2"]["type"], "number");
    assert!(
        v["properties"]["land_use"]["enum"]
            .as_array()
            .unwrap()
            .iter()
            .any(|c| c == "1001")
    );
    assert_eq!(v["properties"]["geom"]["format"], "geometry-any");
    let (s, v, _) = call(&app, "/ogc/collections/special_populations/items").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found");
}

#[tokio::test]
async fn ogc_items_filter_page_select_and_export() {
    let (_d, app) = fixture().await;
    let items = "/ogc/collections/parcels/items";
    let (s, v, ctype) = call(
        &app,
        &format!("{items}?filter={}", enc("land_use = '0701'")),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ctype, "application/geo+json");
    assert_eq!(v["numberMatched"], 3);
    assert_eq!(ids(&v), ["p1", "p3", "p4"]);

    // Paging: limit and offset, with next/prev links that carry the filter.
    let (_, v, _) = call(
        &app,
        &format!("{items}?limit=2&filter={}", enc("land_use = '0701'")),
    )
    .await;
    assert_eq!(
        (v["numberMatched"].as_u64(), v["numberReturned"].as_u64()),
        (Some(3), Some(2))
    );
    let next = v["links"]
        .as_array()
        .unwrap()
        .iter()
        .find(|l| l["rel"] == "next")
        .unwrap()["href"]
        .as_str()
        .unwrap()
        .to_owned();
    let path = &next[next.find("/ogc").unwrap()..];
    let (_, v, _) = call(&app, path).await;
    assert_eq!(ids(&v), ["p4"]);
    assert!(
        v["links"]
            .as_array()
            .unwrap()
            .iter()
            .all(|l| l["rel"] != "next")
    );
    assert!(
        v["links"]
            .as_array()
            .unwrap()
            .iter()
            .any(|l| l["rel"] == "prev")
    );

    // properties narrows what comes back.
    let (_, v, _) = call(&app, &format!("{items}?properties=code&limit=1")).await;
    let props = v["features"][0]["properties"].as_object().unwrap();
    assert_eq!(props.keys().collect::<Vec<_>>(), ["code"]);

    // bbox and equality parameters.
    let (_, v, _) = call(
        &app,
        &format!("{items}?bbox=114.305,30.4,114.4,30.6&land_use=0701"),
    )
    .await;
    assert_eq!(ids(&v), ["p3"]);

    // Distances in metres: p1 lies at the point, p2's west edge ≈ 910 m east of it.
    let near = |d: u32| {
        format!(
            "{items}?filter={}",
            enc(&format!(
                "S_DWITHIN(geom, POINT(114.3005 30.5005), {d}, meters)"
            ))
        )
    };
    let (_, v, _) = call(&app, &near(500)).await;
    assert_eq!(ids(&v), ["p1"]);
    let (_, v, _) = call(&app, &near(1000)).await;
    assert_eq!(ids(&v), ["p1", "p2"]);

    // CQL2-JSON gives the same answer as the text.
    let json_filter = serde_json::json!({"op": "and", "args": [
        {"op": "in", "args": [{"property": "land_use"}, ["0701", "0901"]]},
        {"op": "s_intersects", "args": [{"property": "geom"}, {"bbox": [114.29, 30.4, 114.315, 30.6]}]},
    ]});
    let (s, v, _) = call(
        &app,
        &format!(
            "{items}?filter-lang=cql2-json&filter={}",
            enc(&json_filter.to_string())
        ),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v), ["p1", "p2"]);

    // Any result downloads in the export formats.
    let (s, csv, _) = call(
        &app,
        &format!("{items}?f=csv&filter={}", enc("land_use = '0701'")),
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let csv = csv.as_str().unwrap();
    assert!(
        csv.trim_start_matches('\u{feff}').starts_with("编号,"),
        "{csv}"
    );
    assert_eq!(csv.lines().count(), 4, "{csv}");
    let (_, csv, _) = call(
        &app,
        &format!(
            "{items}?f=csv&codes=true&filter={}",
            enc("land_use = '0701'")
        ),
    )
    .await;
    assert!(
        csv.as_str()
            .unwrap()
            .trim_start_matches('\u{feff}')
            .starts_with("id,"),
        "{csv}"
    );

    // f=geojson is a download of every match too, not a page.
    let (s, gj, ctype) = call(&app, &format!("{items}?f=geojson&limit=1")).await;
    assert_eq!(
        (s, ctype.as_str()),
        (StatusCode::OK, "application/geo+json")
    );
    assert_eq!(gj["features"].as_array().unwrap().len(), 4, "{gj}");

    // Attribute collections answer filters too.
    let (_, v, _) = call(
        &app,
        &format!(
            "/ogc/collections/projects/items?filter={}",
            enc("stage = 'construction' AND start_date >= DATE('2026-01-01')")
        ),
    )
    .await;
    assert_eq!(ids(&v), ["prj-1"]);
    let (_, v, _) = call(&app, "/ogc/collections/projects/items/prj-1").await;
    assert_eq!(v["properties"]["code"], "GX2026-1");
}

#[tokio::test]
async fn malformed_injected_and_abusive_filters_are_400_and_change_nothing() {
    let (dir, app) = fixture().await;
    let path = dir.path().join("api.gpkg");
    let hash = |p: std::path::PathBuf| async move {
        let s = GeoPackageStore::open(&p).unwrap();
        gengxin_store::canonical_hash(&s).await.unwrap()
    };
    let before = hash(path.clone()).await;
    // As long as a URI may be (64 KiB); the parser's own limits are tested far beyond that in
    // gengxin-query.
    let deep_parens = format!("{}area_m2 > 1{}", "(".repeat(3000), ")".repeat(3000));
    let deep_not = format!("{}area_m2 > 1", "NOT ".repeat(5000));
    let huge_in = format!(
        "code IN ({})",
        (0..3000)
            .map(|i| format!("'{i}'"))
            .collect::<Vec<_>>()
            .join(",")
    );
    let mut deep_json = String::from(r#"{"op":"=","args":[{"property":"code"},"x"]}"#);
    for _ in 0..500 {
        deep_json = format!(r#"{{"op":"not","args":[{deep_json}]}}"#);
    }
    let texts: Vec<(String, &str)> = vec![
        ("'; DROP TABLE renewal_parcels; --".into(), "invalid_filter"),
        (
            "code = 'x'; DELETE FROM renewal_parcels".into(),
            "invalid_filter",
        ),
        ("code = 'a' OR 1=1".into(), "invalid_filter"),
        ("1=1".into(), "invalid_filter"),
        (
            "code = 'x' UNION SELECT * FROM gengxin_meta".into(),
            "invalid_filter",
        ),
        ("pg_sleep(10)".into(), "invalid_filter"),
        ("code = 'x' --".into(), "invalid_filter"),
        ("\"code\" = \"x\"".into(), "invalid_filter"),
        ("area_m2 >> 3".into(), "invalid_filter"),
        ("code = 'unterminated".into(), "invalid_filter"),
        ("no_such_field = 1".into(), "invalid_filter"),
        ("area_m2 = 'text'".into(), "invalid_filter"),
        (
            "S_INTERSECTS(geom, POLYGON((0 0, 1 0, 1 1)))".into(),
            "invalid_filter",
        ),
        (
            "S_DWITHIN(geom, POINT(114 30), 1e12)".into(),
            "filter_too_expensive",
        ),
        (String::new(), "invalid_filter"),
        (deep_parens, "filter_too_expensive"),
        (deep_not, "filter_too_expensive"),
        (huge_in, "filter_too_expensive"),
        (
            format!("code LIKE '{}'", "%a".repeat(5000)),
            "filter_too_expensive",
        ),
    ];
    for (filter, code) in &texts {
        let (s, v, _) = call(
            &app,
            &format!("/ogc/collections/parcels/items?filter={}", enc(filter)),
        )
        .await;
        let shown: String = filter.chars().take(60).collect();
        assert_eq!(s, StatusCode::BAD_REQUEST, "{shown}: {v}");
        assert_eq!(v["error"]["code"], *code, "{shown}: {v}");
        assert_eq!(v["error"]["at"]["parameter"], "filter", "{shown}: {v}");
    }
    // Text errors say where: `>>` at column 10.
    let (_, v, _) = call(
        &app,
        &format!(
            "/ogc/collections/parcels/items?filter={}",
            enc("area_m2 >> 3")
        ),
    )
    .await;
    assert_eq!(
        (
            v["error"]["at"]["line"].as_u64(),
            v["error"]["at"]["column"].as_u64()
        ),
        (Some(1), Some(10)),
        "{v}"
    );
    // JSON errors point into the JSON.
    let bad_json = serde_json::json!({"op": "and", "args": [
        {"op": "=", "args": [{"property": "code"}, "p1"]},
        {"op": ">", "args": [{"property": "nope"}, 1]},
    ]});
    let jsons = [
        (bad_json.to_string(), "invalid_filter"),
        (deep_json, "filter_too_expensive"),
        ("{\"op\": \"=\", \"args\": [".into(), "invalid_filter"),
        (serde_json::json!({"op": "or", "args": vec![serde_json::json!({"op": "=", "args": [{"property": "code"}, "x"]}); 300]}).to_string(), "filter_too_expensive"),
    ];
    for (i, (filter, code)) in jsons.iter().enumerate() {
        let (s, v, _) = call(
            &app,
            &format!(
                "/ogc/collections/parcels/items?filter-lang=cql2-json&filter={}",
                enc(filter)
            ),
        )
        .await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "json {i}: {v}");
        assert_eq!(v["error"]["code"], *code, "json {i}: {v}");
        if i == 0 {
            assert_eq!(v["error"]["at"]["pointer"], "/args/1/args/0", "{v}");
        }
    }
    // Other malformed parameters.
    for q in [
        "limit=0",
        "limit=10001",
        "offset=-1",
        "bbox=1,2,3",
        "filter-lang=sql",
        "filter-crs=EPSG:3857",
        "datetime=2020-01-01",
        "nope=1",
        "properties=nope",
        "f=exe",
    ] {
        let (s, v, _) = call(&app, &format!("/ogc/collections/parcels/items?{q}")).await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{q}: {v}");
    }
    // Nothing was written, and the server still answers.
    assert_eq!(hash(path).await, before);
    let (s, v, _) = call(&app, "/ogc/collections/parcels/items").await;
    assert_eq!((s, v["numberMatched"].as_u64()), (StatusCode::OK, Some(4)));
}

#[tokio::test]
async fn summaries_points_shapes_and_progress() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/summary/admin_units/420106").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "武昌区");
    assert_eq!(v["counts"]["parcels"], 4);
    assert_eq!(v["counts"]["projects"], 1);
    assert_eq!(v["land_use"][0]["code"], "0701");
    assert_eq!(v["land_use"][0]["name"], "城镇住宅用地");
    assert_eq!(v["land_use"][0]["area_m2"], 27000.0);
    assert_eq!(v["projects"]["by_stage"][0]["name"], "建设实施");
    assert_eq!(v["bbox"].as_array().unwrap().len(), 4);
    // Summaries are kept, and made again after a write to a layer they count.
    let body = serde_json::json!({"type": "Feature", "id": "p5",
        "geometry": {"type": "Polygon", "coordinates": [[[114.33, 30.5], [114.331, 30.5], [114.331, 30.501], [114.33, 30.5]]]},
        "properties": {"code": "p5", "land_use": "1001", "area_m2": 100.0, "district_code": "420106"}});
    let (s, _, _) = send(&app, "POST", "/api/layers/parcels/features", None, body).await;
    assert_eq!(s, StatusCode::CREATED);
    let (_, v, _) = call(&app, "/api/summary/admin_units/420106").await;
    assert_eq!(v["counts"]["parcels"], 5);
    let (s, _, _) = send(
        &app,
        "DELETE",
        "/api/layers/parcels/features/p5",
        Some("\"1\""),
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v, _) = call(&app, "/api/summary/admin_units/420106").await;
    assert_eq!(v["counts"]["parcels"], 4);
    let (_, v, _) = call(&app, "/api/summary/admin_units/420102").await;
    assert_eq!(
        (
            v["counts"]["parcels"].as_u64(),
            v["counts"]["projects"].as_u64()
        ),
        (Some(0), Some(0))
    );
    let (_, v, _) = call(&app, "/api/summary/admin_units/420100").await;
    assert_eq!(v["counts"]["parcels"], 4);
    let (_, v, _) = call(&app, "/api/summary/parcels/p2").await;
    assert_eq!(v["land_use"][0]["code"], "0901");
    // Before the project started, the city has no project.
    let (_, v, _) = call(&app, "/api/summary/admin_units/420100?as_of=2025-06-01").await;
    assert_eq!(v["counts"]["projects"], 0);
    for (uri, status) in [
        ("/api/summary/admin_units/999999", StatusCode::NOT_FOUND),
        ("/api/summary/buildings/b1", StatusCode::NOT_FOUND),
        (
            "/api/summary/admin_units/420106?as_of=yesterday",
            StatusCode::BAD_REQUEST,
        ),
    ] {
        assert_eq!(call(&app, uri).await.0, status, "{uri}");
    }

    // What is at a point.
    let (s, v, _) = call(
        &app,
        "/api/at?lon=114.3005&lat=30.5005&layers=parcels,admin_units",
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v["results"][0]), ["p1"]);
    assert!(v["results"][0]["features"][0]["geometry"].is_null());
    for q in [
        "lon=114.3",
        "lon=500&lat=30",
        "lon=114.3&lat=30.5&layers=projects",
        "lon=114.3&lat=30.5&tolerance_m=9999",
    ] {
        assert_eq!(
            call(&app, &format!("/api/at?{q}")).await.0,
            StatusCode::BAD_REQUEST,
            "{q}"
        );
    }

    // What lies in a drawn shape, or within a distance of it.
    let square = serde_json::json!({"type": "Polygon", "coordinates": [[[114.295, 30.49], [114.315, 30.49], [114.315, 30.52], [114.295, 30.52], [114.295, 30.49]]]});
    let (s, v, _) = send(
        &app,
        "POST",
        "/api/spatial",
        None,
        serde_json::json!({"layers": ["parcels"], "geometry": square}),
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(ids(&v["results"][0]), ["p1", "p2"]);
    let point = serde_json::json!({"type": "Point", "coordinates": [114.3005, 30.5005]});
    let (_, v, _) = send(
        &app,
        "POST",
        "/api/spatial",
        None,
        serde_json::json!({"layers": ["parcels"], "geometry": point, "buffer_m": 1000}),
    )
    .await;
    assert_eq!(ids(&v["results"][0]), ["p1", "p2"]);
    let open_ring = serde_json::json!({"type": "Polygon", "coordinates": [[[114.0, 30.0], [114.1, 30.0], [114.1, 30.1]]]});
    let (s, v, _) = send(
        &app,
        "POST",
        "/api/spatial",
        None,
        serde_json::json!({"layers": ["parcels"], "geometry": open_ring}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["at"]["pointer"]
            .as_str()
            .unwrap()
            .starts_with("/geometry"),
        "{v}"
    );
    let (s, _, _) = send(
        &app,
        "POST",
        "/api/spatial",
        None,
        serde_json::json!({"layers": ["parcels"], "geometry": point, "buffer_m": -5}),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST);

    // Projects against plan.
    let (s, v, _) = call(&app, "/api/progress").await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["numberMatched"], 1);
    assert_eq!(v["projects"][0]["stage_name"], "建设实施");
    let (_, v, _) = call(&app, "/api/progress?as_of=2025-06-01").await;
    assert_eq!(v["numberMatched"], 0);
    let (_, v, _) = call(&app, "/api/progress?district=420102").await;
    assert_eq!(v["numberMatched"], 0);
    assert_eq!(
        call(&app, "/api/progress?stage=flying").await.0,
        StatusCode::BAD_REQUEST
    );
}

#[tokio::test]
async fn saved_queries_belong_to_their_owner_and_run_through_ogc() {
    let (_d, app) = fixture().await;
    // alice is the fixture's administrator, bob a city leader: each sees only their own.
    let alice: [(&str, &str); 0] = [];
    let body = serde_json::json!({"name": "武昌住宅地块", "collection": "parcels", "filter": "land_use = '0701'"});
    let (s, v, h) = send_with(&app, "POST", "/api/saved-queries", &alice, body).await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    assert_eq!(h["location"], format!("/api/saved-queries/{id}"));
    let (_, v, _) = send_with(
        &app,
        "GET",
        "/api/saved-queries",
        &alice,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    assert_eq!(v[0]["name"], "武昌住宅地块");
    // Another user sees none of it.
    let leader = format!("Bearer {LEADER_TOKEN}");
    let bob = [("authorization", leader.as_str())];
    let (_, v, _) = send_with(
        &app,
        "GET",
        "/api/saved-queries",
        &bob,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(v, serde_json::json!([]));
    let (s, _, _) = send_with(
        &app,
        "DELETE",
        &format!("/api/saved-queries/{id}"),
        &bob,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // Running it leads to its result; with f, to a download.
    let (s, _, h) = send_with(
        &app,
        "GET",
        &format!("/api/saved-queries/{id}/run?f=csv"),
        &alice,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::SEE_OTHER);
    let to = h["location"].to_str().unwrap().to_owned();
    assert!(
        to.starts_with("/ogc/collections/parcels/items?") && to.contains("f=csv"),
        "{to}"
    );
    let (s, csv, _) = call(&app, &to).await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(csv.as_str().unwrap().lines().count(), 4);
    // A broken filter is refused and nothing is saved.
    let bad = serde_json::json!({"name": "x", "collection": "parcels", "filter": "land_use = "});
    let (s, v, _) = send_with(&app, "POST", "/api/saved-queries", &alice, bad).await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_eq!(v["error"]["code"], "invalid_filter");
    let (s, _, _) = send_with(
        &app,
        "POST",
        "/api/saved-queries",
        &alice,
        serde_json::json!({"name": "x", "collection": "special_populations"}),
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (_, v, _) = send_with(
        &app,
        "GET",
        "/api/saved-queries",
        &alice,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(v.as_array().unwrap().len(), 1);
    let (s, _, _) = send_with(
        &app,
        "DELETE",
        &format!("/api/saved-queries/{id}"),
        &alice,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(s, StatusCode::NO_CONTENT);
    let (_, v, _) = send_with(
        &app,
        "GET",
        "/api/saved-queries",
        &alice,
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(v, serde_json::json!([]));
}

/// Every error code the API can answer (the closed `Code` enum) is in the README's table with
/// its status, and the table lists no other.
#[test]
fn every_error_code_is_documented_with_its_status() {
    let readme =
        std::fs::read_to_string(concat!(env!("CARGO_MANIFEST_DIR"), "/../../README.md")).unwrap();
    let documented: Vec<(String, u16)> = readme
        .lines()
        .filter_map(|l| {
            let cells: Vec<&str> = l.split('|').map(str::trim).collect();
            let code = cells.get(1)?.strip_prefix('`')?.strip_suffix('`')?;
            let status = cells.get(2)?.parse().ok()?;
            Some((code.to_owned(), status))
        })
        .collect();
    let answered: Vec<(String, u16)> = gengxin_api::Code::ALL
        .iter()
        .map(|c| (c.as_str().to_owned(), c.status().as_u16()))
        .collect();
    assert!(answered.len() >= 18);
    assert_eq!(documented, answered);
}

/// The public's answers about resident reports, read from every path.
mod generalised {
    use super::*;
    use geo::{Distance, Haversine, Point};

    /// Exact points of five reports, 3 m apart eastward, near 积玉桥.
    fn exact() -> Vec<(String, [f64; 2])> {
        let m_per_deg_lon = 111_320.0 * 30.5472f64.to_radians().cos();
        (0..5)
            .map(|i| {
                (
                    format!("rr-{i}"),
                    [114.302_137 + 3.0 * i as f64 / m_per_deg_lon, 30.547_213],
                )
            })
            .collect()
    }

    fn metres(a: [f64; 2], b: [f64; 2]) -> f64 {
        Haversine.distance(Point::new(a[0], a[1]), Point::new(b[0], b[1]))
    }

    fn point(f: &serde_json::Value) -> [f64; 2] {
        let c = &f["geometry"]["coordinates"];
        [c[0].as_f64().unwrap(), c[1].as_f64().unwrap()]
    }

    /// Features of a collection by id → shown point.
    fn shown(v: &serde_json::Value) -> BTreeMap<String, [f64; 2]> {
        v["features"]
            .as_array()
            .unwrap_or_else(|| panic!("{v}"))
            .iter()
            .map(|f| (f["id"].as_str().unwrap().to_owned(), point(f)))
            .collect()
    }

    async fn public(app: &axum::Router, uri: &str) -> (StatusCode, serde_json::Value) {
        let (s, v, _) = send_with(app, "GET", uri, &[(ANONYMOUS, "1")], Value::Null).await;
        (s, v)
    }

    async fn reports() -> (tempfile::TempDir, axum::Router) {
        let (d, app) = fixture().await;
        for (id, p) in exact() {
            let (s, v, _) = send(
                &app,
                "POST",
                "/api/layers/resident_reports/features",
                None,
                json!({"type": "Feature", "id": id,
                    "geometry": {"type": "Point", "coordinates": p},
                    "properties": {"category": "city_appearance", "description": "楼道堆物",
                        "status": "received", "reported_at": "2026-11-30T08:00:00Z",
                        "address": format!("和平大道 88 号 {id} 室"),
                        "community_code": "420106001001"}}),
            )
            .await;
            assert_eq!(s, StatusCode::CREATED, "{v}");
        }
        (d, app)
    }

    use serde_json::{Value, json};
    use std::collections::BTreeMap;

    #[tokio::test]
    async fn the_public_sees_reports_on_a_fifty_metre_grid_and_staff_exactly() {
        let (_d, app) = reports().await;
        let exact: BTreeMap<String, [f64; 2]> = exact().into_iter().collect();
        let (s, v) = public(&app, "/api/layers/resident_reports/features").await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let pub_list = shown(&v);
        assert_eq!(pub_list.len(), 5);
        for f in v["features"].as_array().unwrap() {
            assert!(f["properties"]["address"].is_null(), "{f}");
        }
        let mut distinct: Vec<[f64; 2]> = Vec::new();
        for (id, p) in &pub_list {
            let moved = metres(*p, exact[id]);
            // Moved, and at most half a 50 m cell's diagonal.
            assert!(moved > 0.01 && moved <= 35.9, "{id} moved {moved} m");
            if !distinct.contains(p) {
                distinct.push(*p);
            }
        }
        // Twelve metres of reports fall into one or two cells, whose centres are a cell apart.
        assert!(distinct.len() <= 2, "{distinct:?}");
        if let [a, b] = distinct[..] {
            assert!((metres(a, b) - 50.0).abs() < 1.0, "{}", metres(a, b));
        }
        // Staff read what was stored.
        let (_, v, _) = call(&app, "/api/layers/resident_reports/features").await;
        assert_eq!(shown(&v), exact);
        assert!(v["features"][0]["properties"]["address"].is_string(), "{v}");

        // One by id, through both APIs: the same shape.
        for uri in [
            "/api/layers/resident_reports/features/rr-0",
            "/ogc/collections/resident_reports/items/rr-0",
        ] {
            let (s, f) = public(&app, uri).await;
            assert_eq!(s, StatusCode::OK, "{uri}: {f}");
            assert_eq!(point(&f), pub_list["rr-0"], "{uri}");
            assert!(f["properties"]["address"].is_null(), "{uri}: {f}");
            let (_, f, _) = call(&app, uri).await;
            assert_eq!(point(&f), exact["rr-0"], "{uri}");
        }
        // The OGC collection and the export: the same positions.
        let (_, v) = public(&app, "/ogc/collections/resident_reports/items").await;
        assert_eq!(shown(&v), pub_list);
        let (s, v) = public(&app, "/api/layers/resident_reports/export?format=geojson").await;
        assert_eq!(s, StatusCode::OK);
        assert_eq!(shown(&v), pub_list);
        assert!(
            v["features"]
                .as_array()
                .unwrap()
                .iter()
                .all(|f| f["properties"]["address"].is_null()),
            "{v}"
        );
        // Past states hold the stored positions: staff only.
        let (s, _) = public(&app, "/api/history/resident_reports/rr-0").await;
        assert_eq!(s, StatusCode::UNAUTHORIZED);
        let (s, _, _) = call(&app, "/api/history/resident_reports/rr-0").await;
        assert_eq!(s, StatusCode::OK);
    }

    #[tokio::test]
    async fn boxes_filters_and_point_queries_see_only_the_shown_positions() {
        let (_d, app) = reports().await;
        let p = exact()[0].1;
        let (_, v) = public(&app, "/api/layers/resident_reports/features").await;
        let pub_list = shown(&v);
        let near = |r: f64| -> Vec<String> {
            pub_list
                .iter()
                .filter(|(_, q)| metres(**q, p) <= r)
                .map(|(id, _)| id.clone())
                .collect()
        };
        let d = 0.000_02;
        let bbox = format!("{},{},{},{}", p[0] - d, p[1] - d, p[0] + d, p[1] + d);
        let in_box: Vec<String> = pub_list
            .iter()
            .filter(|(_, q)| (q[0] - p[0]).abs() <= d && (q[1] - p[1]).abs() <= d)
            .map(|(id, _)| id.clone())
            .collect();
        let filter = enc(&format!("S_DWITHIN(geom, POINT({} {}), 2)", p[0], p[1]));
        let body = json!({"layers": ["resident_reports"],
            "geometry": {"type": "Point", "coordinates": p}, "buffer_m": 2});
        let probes: Vec<(String, Vec<String>)> = vec![
            (
                format!("/api/layers/resident_reports/features?bbox={bbox}"),
                in_box.clone(),
            ),
            (
                format!("/ogc/collections/resident_reports/items?bbox={bbox}"),
                in_box.clone(),
            ),
            (
                format!("/ogc/collections/resident_reports/items?filter={filter}"),
                near(2.0),
            ),
            (
                format!(
                    "/ogc/collections/resident_reports/items?filter={}",
                    enc("address LIKE '%rr-0%'")
                ),
                vec![],
            ),
            (
                "/api/layers/resident_reports/features?address=x".into(),
                vec![],
            ),
        ];
        for (uri, want) in &probes {
            let (s, v) = public(&app, uri).await;
            assert_eq!(s, StatusCode::OK, "{uri}: {v}");
            let got: Vec<String> = shown(&v).into_keys().collect();
            assert_eq!(&got, want, "{uri}");
            // The same probe finds the stored row for staff: the probe could have told.
            let (_, v, _) = call(&app, uri).await;
            if !uri.contains("address=x") {
                assert!(shown(&v).contains_key("rr-0"), "{uri}: {v}");
            }
        }
        let at = format!(
            "/api/at?lon={}&lat={}&layers=resident_reports&tolerance_m=2&geometry=true",
            p[0], p[1]
        );
        let (_, v) = public(&app, &at).await;
        let got: Vec<String> = v["results"][0]["features"]
            .as_array()
            .unwrap()
            .iter()
            .map(|f| f["id"].as_str().unwrap().to_owned())
            .collect();
        assert_eq!(got, near(2.0), "{v}");
        let (s, v, _) = send_with(
            &app,
            "POST",
            "/api/spatial",
            &[(ANONYMOUS, "1")],
            body.clone(),
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        assert_eq!(v["results"][0]["numberMatched"], near(2.0).len(), "{v}");
        let (_, v, _) = send_with(&app, "POST", "/api/spatial", &[], body).await;
        assert!(
            v["results"][0]["numberMatched"].as_u64().unwrap() >= 1,
            "{v}"
        );
    }

    #[tokio::test]
    async fn tiles_carry_the_public_positions() {
        let (_d, app) = reports().await;
        let (_, v) = public(&app, "/api/layers/resident_reports/features").await;
        let pub_list = shown(&v);
        let p = exact()[0].1;
        let t = gengxin_engine::tile::TileId::containing(p[0], p[1], 18);
        let (s, _, bytes) = call_bytes(&app, &tile_url("resident_reports", p[0], p[1], 18)).await;
        assert_eq!(s, StatusCode::OK);
        use geozero::mvt::{Message, Tile};
        let tile = Tile::decode(&bytes[..]).unwrap();
        // Tile pixels back to lon/lat by the Web Mercator formulas.
        let n = 2f64.powi(t.z as i32);
        let lonlat = |x: f64, y: f64| {
            let lon = (t.x as f64 + x / 4096.0) / n * 360.0 - 180.0;
            let merc = std::f64::consts::PI * (1.0 - 2.0 * (t.y as f64 + y / 4096.0) / n);
            [lon, merc.sinh().atan().to_degrees()]
        };
        let zig = |v: u32| ((v >> 1) as i64) ^ -((v & 1) as i64);
        let points: Vec<[f64; 2]> = tile.layers[0]
            .features
            .iter()
            .map(|f| {
                assert_eq!(f.geometry[0], 9, "one MoveTo");
                lonlat(zig(f.geometry[1]) as f64, zig(f.geometry[2]) as f64)
            })
            .collect();
        assert!(!points.is_empty());
        for q in points {
            let nearest = pub_list
                .values()
                .map(|s| metres(q, *s))
                .fold(f64::MAX, f64::min);
            assert!(
                nearest < 0.5,
                "a tile point {q:?} is {nearest} m from every public position"
            );
        }
    }
}

#[tokio::test]
async fn health_names_the_store_location_to_the_administrator_only() {
    let (_d, app) = fixture().await;
    let (_, v, _) = send_with(
        &app,
        "GET",
        "/api/health",
        &[(ANONYMOUS, "1")],
        serde_json::Value::Null,
    )
    .await;
    assert_eq!(v["status"], "ok", "{v}");
    assert!(v.get("location").is_none(), "{v}");
    let (_, v, _) = send_with(
        &app,
        "GET",
        "/api/health",
        &[("authorization", &format!("Bearer {LEADER_TOKEN}"))],
        serde_json::Value::Null,
    )
    .await;
    assert!(v.get("location").is_none(), "{v}");
}

#[tokio::test]
async fn every_answer_carries_the_security_headers_and_private_ones_are_not_stored() {
    let (_d, app) = fixture().await;
    let anon = [(ANONYMOUS, "1")];
    for (uri, headers, private) in [
        ("/", &anon[..], false),
        ("/api/layers", &anon[..], false),
        ("/no/such/route", &anon[..], false),
        ("/api/auth/me", &anon[..], true),
        ("/api/layers", &[][..], true),
        ("/api/audit", &[][..], true),
        // The same for everyone: kept by the browser even when signed in.
        (
            "/fonts/Noto%20Sans%20CJK%20SC%20Regular/0-255.pbf",
            &[][..],
            false,
        ),
    ] {
        let (_, _, h) = send_with(&app, "GET", uri, headers, serde_json::Value::Null).await;
        let get = |k: &str| {
            h.get(k)
                .map(|v| v.to_str().unwrap().to_owned())
                .unwrap_or_default()
        };
        let csp = get("content-security-policy");
        for part in [
            "script-src 'self'",
            "frame-ancestors 'none'",
            "object-src 'none'",
        ] {
            assert!(csp.contains(part), "{uri}: {csp}");
        }
        assert_eq!(get("x-content-type-options"), "nosniff", "{uri}");
        assert_eq!(get("x-frame-options"), "DENY", "{uri}");
        assert_eq!(get("referrer-policy"), "no-referrer", "{uri}");
        assert!(
            get("strict-transport-security").is_empty(),
            "{uri}: not behind TLS"
        );
        assert_eq!(
            get("cache-control").contains("no-store"),
            private,
            "{uri}: {}",
            get("cache-control")
        );
    }
}

#[tokio::test]
async fn clients_cannot_set_provenance() {
    let (_d, app) = fixture().await;
    let new = |prov: Option<&str>| {
        let mut p = serde_json::json!({"code": "p9", "land_use": "0701", "area_m2": 10.0, "district_code": "420106"});
        if let Some(v) = prov {
            p["provenance"] = v.into();
        }
        serde_json::json!({"type": "Feature", "id": "p9",
            "geometry": {"type": "Polygon", "coordinates": [[[114.4, 30.5], [114.401, 30.5], [114.401, 30.501], [114.4, 30.5]]]},
            "properties": p})
    };
    let (s, v, _) = send(
        &app,
        "POST",
        "/api/layers/parcels/features",
        None,
        new(Some("OpenStreetMap")),
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("provenance"),
        "{v}"
    );
    let (s, v, etag) = send(
        &app,
        "POST",
        "/api/layers/parcels/features",
        None,
        new(Some("manual")),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    assert_eq!(v["properties"]["provenance"], "manual");
    // A generated row keeps its label: changing it is refused, sending it back is fine.
    let (_, p1, _) = call(&app, "/api/layers/parcels/features/p1").await;
    assert_eq!(p1["properties"]["provenance"], "generated");
    let mut edited = p1.clone();
    edited["properties"]["provenance"] = "市规划院".into();
    let (s, v, _) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p1",
        Some("\"1\""),
        edited,
    )
    .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    let mut edited = p1.clone();
    edited["properties"]["area_m2"] = 9100.0.into();
    let (s, v, _) = send(
        &app,
        "PUT",
        "/api/layers/parcels/features/p1",
        Some("\"1\""),
        edited,
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["properties"]["provenance"], "generated");
    let _ = etag;
}

#[tokio::test]
async fn json_bodies_are_refused_in_the_error_shape() {
    let (_d, app) = fixture().await;
    let send_raw = |uri: &'static str, ctype: &'static str, body: &'static str| {
        let app = app.clone();
        async move {
            let r = app
                .oneshot(
                    Request::post(uri)
                        .header("content-type", ctype)
                        .body(Body::from(body))
                        .unwrap(),
                )
                .await
                .unwrap();
            let status = r.status();
            let ctype = r.headers()["content-type"].to_str().unwrap().to_owned();
            let bytes = r.into_body().collect().await.unwrap().to_bytes();
            (
                status,
                ctype,
                serde_json::from_slice::<serde_json::Value>(&bytes).unwrap(),
            )
        }
    };
    for uri in [
        "/api/saved-queries",
        "/api/spatial",
        "/api/forms",
        "/api/admin/organisations",
    ] {
        let (s, ctype, v) = send_raw(uri, "text/plain", "{}").await;
        assert_eq!(s, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{uri}");
        assert!(ctype.starts_with("application/json"), "{uri}: {ctype}");
        assert_error(&v, "unsupported_media_type");
        let (s, _, v) = send_raw(uri, "application/json", "{\"name\": {}").await;
        assert_eq!(s, StatusCode::BAD_REQUEST, "{uri}");
        assert_error(&v, "bad_request");
        let (s, _, v) = send_raw(uri, "application/json", "{\"name\": {}}").await;
        assert_eq!(
            s,
            StatusCode::BAD_REQUEST,
            "{uri}: a body of the wrong shape"
        );
        assert_error(&v, "bad_request");
    }
}
