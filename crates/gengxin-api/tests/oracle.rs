//! The scope oracle: no answer may depend on rows the caller may not see. Every probe runs as
//! every scoped caller (the public, a district, an entity, a community worker) against two
//! stores that differ only in rows outside all their scopes — another district's projects,
//! milestones and reports, another community's special populations and supplies — and the two
//! answers must be identical, byte for byte after dropping the response time stamp: rows, counts,
//! paging links, summaries. The probes are shaped the way an attacker shapes them: `limit=1`
//! with equality filters on the hidden rows' values, tiny boxes around hidden points, summaries
//! of places whose projects are out of scope. Run on both backends.

use std::sync::Arc;

use axum::body::Body;
use axum::http::Request;
use chrono::{TimeZone, Utc};
use gengxin_model::{Feature, GENERATED, LayerId};
use gengxin_store::Store;
use geo_types::polygon;
use http_body_util::BodyExt;
use tower::ServiceExt;

const C1: &str = "420106001001";
const C2: &str = "420102001001";

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

fn square(id: &str, x: f64, y: f64, d: f64) -> Feature {
    Feature::new(id, GENERATED, at()).with_geometry(
        polygon![(x: x, y: y), (x: x + d, y: y), (x: x + d, y: y + d), (x: x, y: y + d)],
    )
}

fn unit(code: &str, level: &str, parent: Option<&str>, x: f64) -> Feature {
    square(code, x, 30.0, 0.5)
        .set("code", code)
        .set("name", format!("{code} 区"))
        .set("level", level)
        .set("kind", level)
        .set("parent_code", parent)
}

fn object(id: &str, district: &str, x: f64) -> Feature {
    square(id, x, 30.2, 0.01)
        .set("name", format!("{id} 片区"))
        .set("kind", "old_town")
        .set("district_code", district)
}

fn project(id: &str, object: &str, district: &str) -> Feature {
    Feature::new(id, GENERATED, at())
        .set("code", id)
        .set("name", format!("{id} 旧城改造项目"))
        .set("renewal_object_id", object)
        .set("district_code", district)
        .set("stage", "construction")
        .set("investment_total_wan", 1234.0)
        .set("progress_pct", 40.0)
        .set("start_date", "2025-01-01")
        .set("planned_end_date", "2027-12-31")
}

fn milestone(id: &str, p: &str) -> Feature {
    Feature::new(id, GENERATED, at())
        .set("project_id", p)
        .set("seq", 1_i64)
        .set("stage", "construction")
        .set("name", "开工")
        .set("planned_date", "2025-03-01")
        .set("status", "pending")
}

fn report(id: &str, p: &str) -> Feature {
    Feature::new(id, GENERATED, at())
        .set("project_id", p)
        .set("period", "2025-12")
        .set("report_date", "2025-12-25")
        .set("stage", "construction")
        .set("progress_pct", 55.0)
}

fn person(id: &str, c: &str, x: f64, name: &str) -> Feature {
    Feature::new(id, GENERATED, at())
        .with_geometry(geo_types::Point::new(x, 30.21))
        .set("kind", "elderly_alone")
        .set("person_name", name)
        .set("phone", "13800000000")
        .set("birth_year", 1940_i64)
        .set("community_code", c)
}

fn supply(id: &str, c: &str) -> Feature {
    Feature::new(id, GENERATED, at())
        .set("community_code", c)
        .set("item", "口罩")
        .set("unit", "个")
        .set("quantity", 100.0)
}

fn user(role: &str) -> Feature {
    let mut u = gengxin_auth::account::NewUser {
        username: role.into(),
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

/// The scoped callers: none of them may see any of the hidden rows.
const CALLERS: [&str; 4] = ["public", "district", "entity", "community_worker"];

fn token_of(role: &str) -> String {
    format!("gxt_oracle_{role}")
}

/// Fills a store: what every scoped caller may see, and with `hidden` also rows none of them
/// may see.
async fn fill(store: &dyn Store, hidden: bool) {
    let mut layers = vec![
        (
            LayerId::AdminUnits,
            vec![
                unit("420100", "city", None, 113.5),
                unit("420106", "district", Some("420100"), 114.0),
                unit("420102", "district", Some("420100"), 114.5),
            ],
        ),
        (
            LayerId::RenewalObjects,
            vec![
                object("ro-1", "420106", 114.1),
                object("ro-2", "420102", 114.6),
            ],
        ),
        (
            LayerId::Organisations,
            vec![
                Feature::new("org", "test", at())
                    .set("name", "市城市更新办")
                    .set("kind", "city_department"),
            ],
        ),
        (
            LayerId::Users,
            CALLERS[1..].iter().map(|r| user(r)).collect(),
        ),
        (
            LayerId::ApiTokens,
            CALLERS[1..]
                .iter()
                .map(|r| {
                    Feature::new(gengxin_auth::secret::digest(&token_of(r)), "test", at())
                        .set("user_id", *r)
                        .set("name", "tests")
                })
                .collect(),
        ),
        (LayerId::Projects, vec![project("prj-1", "ro-1", "420106")]),
        (LayerId::Milestones, vec![milestone("m-1", "prj-1")]),
        (LayerId::ProgressReports, vec![report("r-1", "prj-1")]),
        (
            LayerId::SpecialPopulations,
            vec![person("sp-1", C1, 114.1, "李四")],
        ),
        (LayerId::Supplies, vec![supply("su-1", C1)]),
    ];
    if hidden {
        // Ids sort after the visible ones and before them ("a-…"), so a page cut before the
        // scope filter would show them in its link.
        let extra: Vec<(LayerId, Vec<Feature>)> = vec![
            (
                LayerId::Projects,
                vec![
                    project("prj-2", "ro-2", "420102"),
                    project("a-prj", "ro-1", "420102"),
                ],
            ),
            (
                LayerId::Milestones,
                vec![milestone("m-2", "prj-2"), milestone("a-m", "a-prj")],
            ),
            (LayerId::ProgressReports, vec![report("r-2", "prj-2")]),
            (
                LayerId::SpecialPopulations,
                vec![
                    person("sp-2", C2, 114.6, "王五"),
                    person("a-sp", C2, 114.1, "李四"),
                ],
            ),
            (LayerId::Supplies, vec![supply("su-2", C2)]),
        ];
        for (l, rows) in extra {
            layers
                .iter_mut()
                .find(|(k, _)| *k == l)
                .unwrap()
                .1
                .extend(rows);
        }
    }
    store.insert(layers).await.unwrap();
}

/// The probes: every list, count, summary and search an attacker would shape.
const PROBES: &[&str] = &[
    "/api/layers",
    "/ogc/collections",
    "/ogc/collections/projects",
    "/ogc/collections/milestones",
    "/ogc/collections/supplies",
    "/api/layers/projects/features?limit=1",
    "/api/layers/projects/features?limit=1&district_code=420102",
    "/api/layers/projects/features?limit=1&renewal_object_id=ro-1",
    "/api/layers/projects/features?limit=1&name=prj-2%20%E6%97%A7%E5%9F%8E%E6%94%B9%E9%80%A0%E9%A1%B9%E7%9B%AE",
    "/api/layers/projects/features?limit=1&after=a",
    "/api/layers/projects/features",
    "/api/layers/milestones/features?limit=1",
    "/api/layers/milestones/features?limit=1&project_id=prj-2",
    "/api/layers/progress_reports/features?limit=1",
    "/api/layers/special_populations/features?limit=1",
    "/api/layers/special_populations/features?limit=1&person_name=%E7%8E%8B%E4%BA%94",
    "/api/layers/special_populations/features?limit=1&phone=13800000000",
    "/api/layers/special_populations/features?limit=1&bbox=114.5999,30.2099,114.6001,30.2101",
    "/api/layers/special_populations/features?limit=1&bbox=114.0999,30.2099,114.1001,30.2101",
    "/api/layers/special_populations/features?limit=1&community_code=420102001001",
    "/api/layers/supplies/features?limit=1",
    "/api/layers/supplies/features?limit=1&community_code=420102001001",
    "/ogc/collections/projects/items?limit=1",
    "/ogc/collections/projects/items?limit=1&district_code=420102",
    "/ogc/collections/milestones/items?limit=1",
    "/ogc/collections/supplies/items?limit=1",
    "/api/summary/admin_units/420100",
    "/api/summary/admin_units/420102",
    "/api/summary/admin_units/420106",
    "/api/summary/renewal_objects/ro-1",
    "/api/summary/renewal_objects/ro-2",
    "/api/summary/admin_units/420102?as_of=2025-06-30",
    "/api/progress?limit=1",
    "/api/progress?district=420102",
    "/api/progress?renewal_object=ro-1",
    "/api/search?q=prj",
    "/api/search?q=%E6%97%A7%E5%9F%8E%E6%94%B9%E9%80%A0",
    "/api/search?q=%E7%8E%8B%E4%BA%94",
];

async fn get(app: &axum::Router, role: &str, uri: &str) -> (u16, String) {
    let mut req = Request::builder().uri(uri);
    if role != "public" {
        req = req.header("authorization", format!("Bearer {}", token_of(role)));
    }
    let r = app
        .clone()
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let status = r.status().as_u16();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let mut v: serde_json::Value =
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null);
    if let Some(o) = v.as_object_mut() {
        o.remove("timeStamp");
    }
    (status, v.to_string())
}

/// Both stores of one backend answer every probe, as every scoped caller, alike.
async fn answers_do_not_depend_on_hidden_rows(
    with: Arc<dyn Store>,
    without: Arc<dyn Store>,
    keys: &std::path::Path,
) {
    fill(&*with, true).await;
    fill(&*without, false).await;
    // Each store with its key (reads of personal rows are audited).
    let app = |store: Arc<dyn Store>, name: &str| {
        let k = gengxin_app::keys::Keys::new(&[7; 32], keys.join(name));
        gengxin_api::router_for(gengxin_app::App::new(store).with_keys(k))
    };
    let (a, b) = (app(with, "with.heads"), app(without, "without.heads"));
    let mut leaks = Vec::new();
    for role in CALLERS {
        for uri in PROBES {
            let (sa, ja) = get(&a, role, uri).await;
            let (sb, jb) = get(&b, role, uri).await;
            if sa != sb || ja != jb {
                leaks.push(format!(
                    "{role} GET {uri} depends on hidden rows:\n with them:    {sa} {ja}\n without them: {sb} {jb}"
                ));
            } else if ["prj-2", "a-prj", "sp-2", "a-sp", "王五"]
                .iter()
                .any(|h| ja.contains(h))
            {
                leaks.push(format!("{role} GET {uri} shows a hidden row: {ja}"));
            }
        }
    }
    assert!(
        leaks.is_empty(),
        "{} of {} probes leak:\n{}",
        leaks.len(),
        CALLERS.len() * PROBES.len(),
        leaks.join("\n")
    );

    // The probes reach data: in-scope callers do see their own rows through the same paths, so
    // the equality above is not two empty answers.
    let (_, own) = get(&a, "district", "/api/layers/projects/features?limit=1").await;
    assert!(own.contains("prj-1"), "{own}");
    let (_, own) = get(
        &a,
        "community_worker",
        "/api/layers/special_populations/features",
    )
    .await;
    assert!(own.contains("sp-1") && own.contains("李四"), "{own}");
    let (_, summary) = get(&a, "district", "/api/summary/admin_units/420100").await;
    let summary: serde_json::Value = serde_json::from_str(&summary).unwrap();
    assert_eq!(summary["projects"]["count"], 1, "{summary}");
    assert_eq!(summary["counts"]["projects"], 1, "{summary}");
    // The city sees all three projects; the public none.
    let (_, all) = get(&a, "public", "/api/summary/admin_units/420100").await;
    let all: serde_json::Value = serde_json::from_str(&all).unwrap();
    assert!(
        all["projects"].is_null() && all["counts"]["projects"].is_null(),
        "{all}"
    );
}

#[tokio::test]
async fn geopackage_answers_do_not_depend_on_hidden_rows() {
    let dir = tempfile::tempdir().unwrap();
    let open = |n: &str| {
        let s = gengxin_store::gpkg::GeoPackageStore::create_or_open(&dir.path().join(n)).unwrap();
        Arc::new(s) as Arc<dyn Store>
    };
    answers_do_not_depend_on_hidden_rows(open("with.gpkg"), open("without.gpkg"), dir.path()).await;
}

fn admin_url() -> String {
    std::env::var("GENGXIN_TEST_PG")
        .unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/postgres".to_owned())
}

/// Runs statements on the test server (`GENGXIN_TEST_PG`) as its admin.
async fn admin(statements: &[String]) {
    use sqlx::ConnectOptions;
    let url = admin_url();
    let mut c = <sqlx::postgres::PgConnectOptions as std::str::FromStr>::from_str(&url)
        .unwrap()
        .connect()
        .await
        .unwrap_or_else(|e| panic!("PostgreSQL at {url} is needed by these tests: {e}"));
    for sql in statements {
        sqlx::raw_sql(sqlx::AssertSqlSafe(sql.clone()))
            .execute(&mut c)
            .await
            .unwrap();
    }
}

/// A scratch database of its own on the test server.
async fn scratch(name: &str) -> String {
    admin(&[
        format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"),
        format!("CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"),
    ])
    .await;
    let url = admin_url();
    let (prefix, _) = url.rsplit_once('/').unwrap();
    format!("{prefix}/{name}")
}

#[tokio::test]
async fn postgis_answers_do_not_depend_on_hidden_rows() {
    let pid = std::process::id();
    let (a, b) = (
        format!("gengxin_t_oracle_a_{pid}"),
        format!("gengxin_t_oracle_b_{pid}"),
    );
    let with = gengxin_store::create_or_open(&scratch(&a).await)
        .await
        .unwrap();
    let without = gengxin_store::create_or_open(&scratch(&b).await)
        .await
        .unwrap();
    let dir = tempfile::tempdir().unwrap();
    answers_do_not_depend_on_hidden_rows(with, without, dir.path()).await;
    admin(&[
        format!("DROP DATABASE IF EXISTS {a} WITH (FORCE)"),
        format!("DROP DATABASE IF EXISTS {b} WITH (FORCE)"),
    ])
    .await;
}
