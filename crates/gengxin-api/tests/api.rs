//! The router in process (`oneshot`) over a real GeoPackage store.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use gengxin_model::{Feature, GENERATED, LayerId};
use gengxin_store::Store;
use gengxin_store::gpkg::GeoPackageStore;
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
    let store: Arc<dyn Store> = Arc::new(store);
    (dir, gengxin_api::app(store))
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
    assert_eq!(v["schema_version"], 1);
}

#[tokio::test]
async fn openapi_lists_every_route() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/openapi.json").await;
    assert_eq!(s, StatusCode::OK);
    assert!(v["openapi"].as_str().unwrap().starts_with("3."));
    for p in [
        "/api/health",
        "/api/units/{code}",
        "/api/units/{code}/children",
        "/api/layers",
        "/api/layers/{layer}/features",
        "/api/layers/{layer}/features/{id}",
        "/api/attachments/{id}",
    ] {
        assert!(v["paths"].get(p).is_some(), "{p} missing");
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
    let (_, v, _) = call(&app, "/api/units/420106/children").await;
    assert_eq!(v[0]["name"], "积玉桥街道");
    let (s, v, _) = call(&app, "/api/units/420102/children").await;
    assert_eq!((s, v.as_array().unwrap().len()), (StatusCode::OK, 0));
    let (s, v, _) = call(&app, "/api/units/429999/children").await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    assert_error(&v, "not_found");
    let (s, v, _) = call(&app, "/api/units/abc'--/children").await;
    assert_eq!(s, StatusCode::BAD_REQUEST);
    assert_error(&v, "bad_request");
}

#[tokio::test]
async fn a_unit_comes_with_its_geometry() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/units/420106").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["type"], "Feature");
    assert_eq!(v["geometry"]["type"], "MultiPolygon");
    assert_eq!(v["properties"]["name"], "武昌区");
    assert_eq!(v["properties"]["provenance"], "generated");
    assert_eq!(v["properties"]["created_at"], "2026-01-02T03:04:05.000Z");
    assert_eq!(v["properties"]["children"], "/api/units/420106/children");
}

#[tokio::test]
async fn layers_list_the_catalogue_with_counts() {
    let (_d, app) = fixture().await;
    let (s, v, _) = call(&app, "/api/layers").await;
    assert_eq!(s, StatusCode::OK);
    let ls = v.as_array().unwrap();
    assert_eq!(ls.len(), gengxin_model::catalogue().len());
    let parcels = ls.iter().find(|l| l["name"] == "parcels").unwrap();
    assert_eq!(parcels["count"], 4);
    assert_eq!(parcels["geometry_type"], "MULTIPOLYGON");
    assert_eq!(parcels["database"], "renewal");
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

    let (_, v, _) = call(&app, "/api/layers/parcels/features?land_use=0901").await;
    assert_eq!(v["features"].as_array().unwrap().len(), 1);
    assert_eq!(v["features"][0]["properties"]["land_use"], "0901");

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
    let (s, v, _) = call(&app, "/api/layers/parcels/features/p2").await;
    assert_eq!(s, StatusCode::OK);
    assert_eq!(v["properties"]["land_use"], "0901");
}

#[tokio::test]
async fn the_landing_page_is_chinese_html() {
    let (_d, app) = fixture().await;
    let (s, v, ctype) = call(&app, "/").await;
    assert_eq!(s, StatusCode::OK);
    assert!(ctype.starts_with("text/html"), "{ctype}");
    let html = v.as_str().unwrap();
    assert!(html.contains("lang=\"zh-CN\"") && html.contains("城市更新与社区治理决策支持平台"));
    assert!(html.contains("/api/units/420100/children"));
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "no external resources"
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
