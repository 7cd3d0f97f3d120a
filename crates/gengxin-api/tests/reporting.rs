//! The "+1" mechanism end to end over a real GeoPackage: forms, the reporting cycle run by the
//! persistent job queue (across a restart), the review chain with its merge into the master
//! data, two reviewers (and two editors) at once, idempotent submissions and bulk reporting.

use std::path::Path;
use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use chrono::{TimeZone, Utc};
use gengxin_model::{Feature, GENERATED, LayerId, Value};
use gengxin_store::gpkg::GeoPackageStore;
use gengxin_store::{Query, Store};
use http_body_util::BodyExt;
use serde_json::{Value as Json, json};
use tower::ServiceExt;

fn at() -> chrono::DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 1, 2, 3, 4, 5).unwrap()
}

const USERS: &[(&str, &str)] = &[
    ("admin", "city_admin"),
    ("admin2", "city_admin"),
    ("leader", "city_leader"),
    ("wuchang", "district"),
    ("wuchang2", "district"),
    ("jiangan", "district"),
    ("entity", "entity"),
    ("auditor", "audit_admin"),
];

async fn seed(path: &Path) {
    let store = GeoPackageStore::create_or_open(path).unwrap();
    let project = |id: &str, district: &str| {
        Feature::new(id, GENERATED, at())
            .set("code", id)
            .set("name", format!("{id} 改造项目"))
            .set("renewal_object_id", "ro")
            .set("district_code", district)
            .set("stage", "construction")
            .set("progress_pct", 40.0)
            .set("investment_done_wan", 194.1)
            .set("start_date", "2026-01-01")
            .set("planned_end_date", "2028-12-31")
    };
    let mut users = Vec::new();
    let mut tokens = Vec::new();
    for (name, role) in USERS {
        let mut u = gengxin_auth::account::NewUser {
            username: (*name).into(),
            role: (*role).into(),
            organisation_id: "org".into(),
            password: "Lantern-Harbor-77".into(),
            ..Default::default()
        };
        match *name {
            "wuchang" | "wuchang2" => u.district_code = Some("420106".into()),
            "jiangan" => u.district_code = Some("420102".into()),
            "entity" => u.project_ids = vec!["prj-1".into()],
            _ => {}
        }
        users.push(gengxin_auth::account::new_user(u, at()).unwrap().0);
        tokens.push(
            Feature::new(
                gengxin_auth::secret::digest(&format!("gxt_{name}")),
                "test",
                at(),
            )
            .set("user_id", *name)
            .set("name", "tests"),
        );
    }
    store
        .insert(vec![
            (
                LayerId::Projects,
                vec![
                    project("prj-1", "420106"),
                    project("prj-2", "420106"),
                    project("prj-3", "420102"),
                ],
            ),
            (LayerId::Users, users),
            (LayerId::ApiTokens, tokens),
        ])
        .await
        .unwrap();
}

fn open(path: &Path) -> (Arc<dyn Store>, axum::Router) {
    let store: Arc<dyn Store> = Arc::new(GeoPackageStore::open(path).unwrap());
    (store.clone(), gengxin_api::app(store))
}

async fn call(
    app: &axum::Router,
    user: &str,
    method: &str,
    uri: &str,
    body: Option<serde_json::Value>,
    headers: &[(&str, &str)],
) -> (StatusCode, serde_json::Value) {
    let mut req = Request::builder()
        .method(method)
        .uri(uri)
        .header("authorization", format!("Bearer gxt_{user}"))
        .header("content-type", "application/json");
    for (k, v) in headers {
        req = req.header(*k, *v);
    }
    let body = body.map_or(Body::empty(), |b| Body::from(b.to_string()));
    let r = app.clone().oneshot(req.body(body).unwrap()).await.unwrap();
    let status = r.status();
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    (
        status,
        serde_json::from_slice(&bytes).unwrap_or(serde_json::Value::Null),
    )
}

fn progress_form() -> serde_json::Value {
    serde_json::json!({
        "code": "progress", "name": "月度进度填报",
        "fields": serde_json::to_value(gengxin_report::standard_progress_fields()).unwrap(),
        "review_chain": "district_city", "cycle": "monthly", "deadline_day": 5, "remind_days": 3,
    })
}

fn this_month() -> String {
    gengxin_report::Period::of(Utc::now().date_naive(), false).to_string()
}

async fn submit(app: &axum::Router, user: &str, project: &str, pct: f64) -> serde_json::Value {
    let (s, v) = call(
        app,
        user,
        "POST",
        "/api/submissions",
        Some(serde_json::json!({
            "form_id": "progress@1", "project_id": project, "period": this_month(),
            "values": {"stage": "construction", "progress_pct": pct, "note": "主体结构施工"},
            "submit": true,
        })),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    v
}

#[tokio::test]
async fn a_cycle_marks_missing_reports_overdue_after_a_restart() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("cycle.gpkg");
    seed(&path).await;
    let (store, app) = open(&path);
    let (s, v) = call(
        &app,
        "admin",
        "POST",
        "/api/forms",
        Some(progress_form()),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    // The form's period opens: one task per project.
    assert_eq!(
        gengxin_app::jobs::run_due(&gengxin_app::App::new(store.clone()), Utc::now())
            .await
            .unwrap(),
        1
    );
    let tasks = store
        .query(LayerId::ReportTasks, Query::default())
        .await
        .unwrap();
    assert_eq!(tasks.len(), 3);
    let (_, mine) = call(&app, "entity", "GET", "/api/tasks", None, &[]).await;
    assert_eq!(mine["to_fill"].as_array().unwrap().len(), 1, "{mine}");
    submit(&app, "entity", "prj-1", 55.0).await;
    // The server stops; the deadline passes while it is down; it starts again.
    drop(app);
    drop(store);
    let (store, app) = open(&path);
    let period = gengxin_report::Period::parse(&this_month()).unwrap();
    let after = gengxin_api_deadline(period) + chrono::TimeDelta::hours(1);
    let ran = gengxin_app::jobs::run_due(&gengxin_app::App::new(store.clone()), after)
        .await
        .unwrap();
    assert_eq!(ran, 3, "remind, mark overdue, open the next period");
    let status_of = |id: &str| {
        let store = store.clone();
        let id = id.to_owned();
        async move {
            store
                .get(
                    LayerId::ReportTasks,
                    &format!("task:progress:{period}:{id}"),
                )
                .await
                .unwrap()
                .unwrap()
                .get("status")
                .as_str()
                .unwrap()
                .to_owned()
        }
    };
    assert_eq!(status_of("prj-1").await, "submitted");
    assert_eq!(status_of("prj-2").await, "overdue");
    assert_eq!(status_of("prj-3").await, "overdue");
    // Run again: nothing is due twice.
    assert_eq!(
        gengxin_app::jobs::run_due(&gengxin_app::App::new(store.clone()), after)
            .await
            .unwrap(),
        0
    );
    // Who has not reported: the district sees its own district only.
    let uri = format!("/api/reporting/status?form=progress&period={period}");
    let (_, v) = call(&app, "wuchang", "GET", &uri, None, &[]).await;
    assert_eq!(v[0]["overdue"], 1, "{v}");
    assert_eq!(v[0]["missing"][0]["project_id"], "prj-2");
    let (_, v) = call(&app, "leader", "GET", &uri, None, &[]).await;
    assert_eq!(
        (v[0]["submitted"].clone(), v[0]["overdue"].clone()),
        (1.into(), 2.into())
    );
    let (s, _) = call(&app, "entity", "GET", &uri, None, &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
}

/// The deadline's end (24:00 China time) of a monthly period with a 5-day deadline.
fn gengxin_api_deadline(p: gengxin_report::Period) -> chrono::DateTime<Utc> {
    let d = p.deadline(5) + chrono::Days::new(1);
    d.and_hms_opt(0, 0, 0).unwrap().and_utc() - chrono::TimeDelta::hours(8)
}

#[tokio::test]
async fn a_submission_is_reviewed_twice_and_merged_as_one_versioned_change() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("review.gpkg");
    seed(&path).await;
    let (store, app) = open(&path);
    call(
        &app,
        "admin",
        "POST",
        "/api/forms",
        Some(progress_form()),
        &[],
    )
    .await;
    let sub = submit(&app, "entity", "prj-1", 55.0).await;
    let id = sub["id"].as_str().unwrap().to_owned();
    let uri = format!("/api/submissions/{id}");
    // The reviewer sees the diff against the current data.
    let (_, v) = call(&app, "wuchang", "GET", &uri, None, &[]).await;
    assert_eq!(v["can_review"], true);
    let diff = v["diff"].as_array().unwrap();
    assert_eq!(diff.len(), 1, "{v}");
    assert_eq!(diff[0]["field"], "progress_pct");
    assert_eq!(
        (diff[0]["before"].clone(), diff[0]["after"].clone()),
        (40.0.into(), 55.0.into())
    );
    // Out of scope: another district neither sees nor reviews it.
    let (s, _) = call(&app, "jiangan", "GET", &uri, None, &[]).await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    // The city cannot approve before the district has reviewed.
    let review = |version: i64, decision: &str, comment: &str| {
        Some(serde_json::json!({"version": version, "decision": decision, "comment": comment}))
    };
    let r_uri = format!("{uri}/review");
    let (s, _) = call(&app, "admin", "POST", &r_uri, review(1, "approve", ""), &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    // Two district reviewers at once: one wins, the other gets 409; one review is recorded.
    let (a, b) = tokio::join!(
        call(
            &app,
            "wuchang",
            "POST",
            &r_uri,
            review(1, "approve", ""),
            &[]
        ),
        call(
            &app,
            "wuchang2",
            "POST",
            &r_uri,
            review(1, "reject", "数据有误"),
            &[]
        ),
    );
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let (_, v) = call(&app, "leader", "GET", &uri, None, &[]).await;
    assert_eq!(v["reviews"].as_array().unwrap().len(), 1);
    let state = v["status"].as_str().unwrap().to_owned();
    let version = v["version"].as_i64().unwrap();
    if state == "rejected" {
        // The author fixes it and sends it again; the district approves this time.
        let (s, v) = call(
            &app,
            "entity",
            "PUT",
            &uri,
            Some(serde_json::json!({
            "version": version, "submit": true,
            "values": {"stage": "construction", "progress_pct": 55, "note": "已核实"}})),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let (s, _) = call(
            &app,
            "wuchang",
            "POST",
            &r_uri,
            review(version + 1, "approve", ""),
            &[],
        )
        .await;
        assert_eq!(s, StatusCode::OK);
    } else {
        assert_eq!(state, "district_approved");
    }
    let (_, v) = call(&app, "leader", "GET", &uri, None, &[]).await;
    assert_eq!(v["status"], "district_approved");
    let version = v["version"].as_i64().unwrap();
    // Two city approvals at once: merged once.
    let (a, b) = tokio::join!(
        call(
            &app,
            "admin",
            "POST",
            &r_uri,
            review(version, "approve", ""),
            &[]
        ),
        call(
            &app,
            "admin2",
            "POST",
            &r_uri,
            review(version, "approve", ""),
            &[]
        ),
    );
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409], "{a:?} {b:?}");
    let project = store
        .get(LayerId::Projects, "prj-1")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(project.get("progress_pct"), &Value::Real(55.0));
    assert_eq!(project.version, 2, "one merge, one new version");
    let reports = store
        .query(LayerId::ProgressReports, Query::default())
        .await
        .unwrap();
    assert_eq!(reports.len(), 1);
    assert_eq!(
        reports[0].get("note").as_str(),
        Some(if state == "rejected" {
            "已核实"
        } else {
            "主体结构施工"
        })
    );
    // The history says who, when, from which submission, and what was there before.
    let (_, h) = call(
        &app,
        "leader",
        "GET",
        "/api/history/projects/prj-1?as_of=2100-01-01",
        None,
        &[],
    )
    .await;
    let changes = h["changes"].as_array().unwrap();
    assert_eq!(changes.len(), 1, "{h}");
    assert_eq!(changes[0]["submission_id"], id.as_str());
    assert_eq!(changes[0]["before"]["properties"]["progress_pct"], 40.0);
    assert_eq!(h["state"]["properties"]["progress_pct"], 55.0);
    // Approved is final.
    let (s, _) = call(
        &app,
        "admin",
        "POST",
        &r_uri,
        review(version + 1, "approve", ""),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CONFLICT);
    // The audit log holds the submission and both reviews, and its chain is whole.
    let (_, a) = call(
        &app,
        "auditor",
        "GET",
        "/api/audit?action=review",
        None,
        &[],
    )
    .await;
    assert!(a["records"].as_array().unwrap().len() >= 2, "{a}");
    let (_, a) = call(&app, "auditor", "GET", "/api/audit/verify", None, &[]).await;
    assert_eq!(a["ok"], true);
}

#[tokio::test]
async fn nobody_reviews_their_own_submission() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("own.gpkg");
    seed(&path).await;
    let (_store, app) = open(&path);
    call(
        &app,
        "admin",
        "POST",
        "/api/forms",
        Some(progress_form()),
        &[],
    )
    .await;
    // A district user reports for a project of its district, then tries to approve it.
    let sub = submit(&app, "wuchang", "prj-2", 61.0).await;
    let uri = format!("/api/submissions/{}", sub["id"].as_str().unwrap());
    let (_, v) = call(&app, "wuchang", "GET", &uri, None, &[]).await;
    assert_eq!(v["can_review"], false, "{v}");
    let approve = Some(serde_json::json!({"version": 1, "decision": "approve", "comment": ""}));
    let r_uri = format!("{uri}/review");
    let (s, v) = call(&app, "wuchang", "POST", &r_uri, approve.clone(), &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN, "{v}");
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("own submission"),
        "{v}"
    );
    // Another reviewer of the district decides; then the city, whose reviewer did not submit.
    let (_, v) = call(&app, "wuchang2", "GET", &uri, None, &[]).await;
    assert_eq!(v["can_review"], true, "{v}");
    let (s, v) = call(&app, "wuchang2", "POST", &r_uri, approve, &[]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "district_approved", "{v}");
    // The city administrator's own submission goes to another city reviewer.
    let own = submit(&app, "admin", "prj-3", 20.0).await;
    let own_uri = format!("/api/submissions/{}/review", own["id"].as_str().unwrap());
    let district = Some(serde_json::json!({"version": 1, "decision": "approve", "comment": ""}));
    let (s, v) = call(&app, "jiangan", "POST", &own_uri, district, &[]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let city = Some(serde_json::json!({"version": 2, "decision": "approve", "comment": ""}));
    let (s, _) = call(&app, "admin", "POST", &own_uri, city.clone(), &[]).await;
    assert_eq!(s, StatusCode::FORBIDDEN);
    let (s, v) = call(&app, "admin2", "POST", &own_uri, city, &[]).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["status"], "approved", "{v}");
}

#[tokio::test]
async fn two_editors_of_one_record_one_wins_and_retries_are_idempotent() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("edit.gpkg");
    seed(&path).await;
    let (store, app) = open(&path);
    let body = |name: &str| {
        Some(
            serde_json::json!({"type": "Feature", "id": "prj-2", "geometry": null, "properties": {
            "code": "prj-2", "name": name, "renewal_object_id": "ro", "district_code": "420106",
            "stage": "construction", "start_date": "2026-01-01", "planned_end_date": "2028-12-31"}}),
        )
    };
    let uri = "/api/layers/projects/features/prj-2";
    let (a, b) = tokio::join!(
        call(
            &app,
            "admin",
            "PUT",
            uri,
            body("甲"),
            &[("if-match", "\"1\"")]
        ),
        call(
            &app,
            "admin2",
            "PUT",
            uri,
            body("乙"),
            &[("if-match", "\"1\"")]
        ),
    );
    let mut statuses = [a.0.as_u16(), b.0.as_u16()];
    statuses.sort();
    assert_eq!(statuses, [200, 409]);
    let p = store
        .get(LayerId::Projects, "prj-2")
        .await
        .unwrap()
        .unwrap();
    assert_eq!(p.version, 2);
    let winner = if a.0 == StatusCode::OK { "甲" } else { "乙" };
    assert_eq!(p.get("name").as_str(), Some(winner));
    // A submission retried with its Idempotency-Key is made once.
    call(
        &app,
        "admin",
        "POST",
        "/api/forms",
        Some(progress_form()),
        &[],
    )
    .await;
    let req = serde_json::json!({
        "form_id": "progress@1", "project_id": "prj-2", "period": this_month(),
        "values": {"stage": "construction", "progress_pct": 60}, "submit": true});
    let key = [("idempotency-key", "client-42")];
    let (s1, v1) = call(
        &app,
        "wuchang",
        "POST",
        "/api/submissions",
        Some(req.clone()),
        &key,
    )
    .await;
    let (s2, v2) = call(
        &app,
        "wuchang",
        "POST",
        "/api/submissions",
        Some(req.clone()),
        &key,
    )
    .await;
    assert_eq!((s1, s2), (StatusCode::CREATED, StatusCode::OK));
    assert_eq!(v1["id"], v2["id"]);
    // Bad values are refused field by field; a project out of scope is not there.
    let mut bad = req.clone();
    bad["values"] = serde_json::json!({"stage": "flying", "progress_pct": 150});
    let (s, v) = call(&app, "wuchang", "POST", "/api/submissions", Some(bad), &[]).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    let msg = v["error"]["message"].as_str().unwrap();
    assert!(
        msg.contains("stage") && msg.contains("progress_pct"),
        "{msg}"
    );
    let mut other = req.clone();
    other["project_id"] = "prj-3".into();
    let (s, _) = call(
        &app,
        "wuchang",
        "POST",
        "/api/submissions",
        Some(other),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let subs = store
        .query(LayerId::Submissions, Query::default())
        .await
        .unwrap();
    assert_eq!(subs.len(), 1);
}

#[tokio::test]
async fn bulk_reporting_by_spreadsheet_reports_every_row() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("bulk.gpkg");
    seed(&path).await;
    let (store, app) = open(&path);
    call(
        &app,
        "admin",
        "POST",
        "/api/forms",
        Some(progress_form()),
        &[],
    )
    .await;
    let period = this_month();
    let r = app
        .clone()
        .oneshot(
            Request::get(format!("/api/forms/progress@1/template?period={period}"))
                .header("authorization", "Bearer gxt_wuchang")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let rows = gengxin_io::sheet::read("t.xlsx", &bytes).unwrap();
    // The district's two projects, not the other district's.
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[1][0], "prj-1");
    assert_eq!(rows[2][0], "prj-2");
    let col = |name: &str| {
        rows[0]
            .iter()
            .position(|h| h.ends_with(&format!("[{name}]")))
            .unwrap()
    };
    let mut filled = rows.clone();
    filled[1][col("stage")] = "construction".into();
    filled[1][col("progress_pct")] = "62.5".into();
    filled[2][col("stage")] = "construction".into();
    filled[2][col("progress_pct")] = "一百".into();
    filled.push(vec!["prj-3".into()]);
    let xlsx = gengxin_io::sheet::write("x", &filled[0], &filled[1..]).unwrap();
    let upload = |bytes: Vec<u8>| {
        let app = app.clone();
        let period = period.clone();
        async move {
            let r = app
                .oneshot(
                    Request::post(format!("/api/forms/progress@1/upload?period={period}"))
                        .header("authorization", "Bearer gxt_wuchang")
                        .body(Body::from(bytes))
                        .unwrap(),
                )
                .await
                .unwrap();
            let s = r.status();
            let b = r.into_body().collect().await.unwrap().to_bytes();
            (s, serde_json::from_slice::<serde_json::Value>(&b).unwrap())
        }
    };
    let (s, v) = upload(xlsx.clone()).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(
        (v["accepted"].clone(), v["rejected"].clone()),
        (1.into(), 2.into()),
        "{v}"
    );
    assert_eq!(v["report"][1]["errors"][0]["field"], "progress_pct");
    assert_eq!(v["report"][2]["errors"][0]["field"], "project_id");
    // The same file again makes nothing new.
    let (_, v) = upload(xlsx).await;
    assert_eq!(v["report"][0]["duplicate"], true, "{v}");
    assert_eq!(store.count(LayerId::Submissions).await.unwrap(), 1);
    let (s, v) = upload(b"not a workbook".to_vec()).await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY);
    assert!(
        v["error"]["message"]
            .as_str()
            .unwrap()
            .contains("not a readable .xlsx"),
        "{v}"
    );
}

/// A tiny JPEG (markers only) with an EXIF block that names a GPS position.
fn jpeg_with_exif() -> Vec<u8> {
    let exif = b"Exif\0\0GPSLatitude 30.5431 secret-position";
    let mut j = vec![0xFF, 0xD8, 0xFF, 0xE1];
    j.extend(((exif.len() + 2) as u16).to_be_bytes());
    j.extend(exif);
    // Start of scan with an empty header, a few bytes of entropy-coded data, end of image.
    j.extend([
        0xFF, 0xDA, 0x00, 0x08, 0x01, 0x01, 0x00, 0x00, 0x3F, 0x00, 0x12, 0x34, 0x56, 0xFF, 0xD9,
    ]);
    j
}

#[tokio::test]
async fn report_photos_are_stored_without_exif_for_reporters_only() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("photo.gpkg");
    seed(&path).await;
    let (_store, app) = open(&path);
    let send = |user: &str, project: &str| {
        let app = app.clone();
        let req = Request::post(format!(
            "/api/attachments?owner_id={project}&file_name=%E7%8E%B0%E5%9C%BA.jpg"
        ))
        .header("authorization", format!("Bearer gxt_{user}"))
        .header("content-type", "image/jpeg")
        .body(Body::from(jpeg_with_exif()))
        .unwrap();
        async move {
            let r = app.oneshot(req).await.unwrap();
            let s = r.status();
            let b = r.into_body().collect().await.unwrap().to_bytes();
            (
                s,
                serde_json::from_slice::<serde_json::Value>(&b).unwrap_or_default(),
            )
        }
    };
    let (s, _) = send("jiangan", "prj-1").await;
    assert_eq!(s, StatusCode::FORBIDDEN, "another district's project");
    let (s, v) = send("entity", "prj-1").await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let id = v["id"].as_str().unwrap().to_owned();
    let r = app
        .clone()
        .oneshot(
            Request::get(format!("/api/attachments/{id}"))
                .header("authorization", "Bearer gxt_wuchang")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::OK);
    let bytes = r.into_body().collect().await.unwrap().to_bytes();
    let text = String::from_utf8_lossy(&bytes);
    assert!(!text.contains("secret-position"), "EXIF kept");
    // Still the image: its start marker and its scan data are there.
    assert!(bytes.starts_with(&[0xFF, 0xD8]));
    assert!(bytes.windows(3).any(|w| w == [0x12, 0x34, 0x56]));
    // The public never downloads it.
    let r = app
        .clone()
        .oneshot(
            Request::get(format!("/api/attachments/{id}"))
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn a_falling_cumulative_value_is_flagged_to_the_reviewers_and_the_approved_diff_stays() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("plausible.gpkg");
    seed(&path).await;
    let (_, app) = open(&path);
    call(
        &app,
        "admin",
        "POST",
        "/api/forms",
        Some(progress_form()),
        &[],
    )
    .await;
    // The form starts from the last approved values (here: the project's).
    let check = |values: serde_json::Value, notes: serde_json::Value| {
        Some(serde_json::json!({"project_id": "prj-1", "values": values, "notes": notes}))
    };
    let c_uri = "/api/forms/progress@1/check";
    let (s, c) = call(
        &app,
        "entity",
        "POST",
        c_uri,
        check(json!({}), json!({})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{c}");
    assert_eq!(
        c["baseline"]["values"],
        json!({"stage": "construction", "progress_pct": 40.0, "investment_done_wan": 194.1,
               "start_date": "2026-01-01", "planned_end_date": "2028-12-31"})
    );
    assert_eq!(c["baseline"]["submission_id"], Json::Null);
    // Another district's user may not check (nor learn the values of) this project.
    let (s, _) = call(
        &app,
        "jiangan",
        "POST",
        c_uri,
        check(json!({}), json!({})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let falling = json!({"stage": "construction", "progress_pct": 45, "investment_done_wan": 100});
    let (_, c) = call(
        &app,
        "entity",
        "POST",
        c_uri,
        check(falling.clone(), json!({})),
        &[],
    )
    .await;
    let f = &c["findings"][0];
    assert_eq!(
        (f["field"].clone(), f["rule"].clone()),
        (json!("investment_done_wan"), json!("falls"))
    );
    assert_eq!(
        (f["before"].clone(), f["after"].clone()),
        (json!(194.1), json!(100.0))
    );
    // Submitted without a note: refused, per field; with one: accepted and stored.
    let body = |notes: serde_json::Value| {
        Some(
            json!({"form_id": "progress@1", "project_id": "prj-1", "period": this_month(),
                    "values": falling, "notes": notes, "submit": true}),
        )
    };
    let (s, v) = call(
        &app,
        "entity",
        "POST",
        "/api/submissions",
        body(json!({})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "{v}");
    assert!(v.to_string().contains("investment_done_wan: "), "{v}");
    let note = "上期误报，按审计结果更正";
    let (s, v) = call(
        &app,
        "entity",
        "POST",
        "/api/submissions",
        body(json!({"investment_done_wan": note})),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::CREATED, "{v}");
    let uri = format!("/api/submissions/{}", v["id"].as_str().unwrap());
    // Both reviewers see the flag, with the reporter's note, next to the field.
    for reviewer in ["wuchang", "admin"] {
        let (_, d) = call(&app, reviewer, "GET", &uri, None, &[]).await;
        let checks = d["checks"].as_array().unwrap();
        assert_eq!(checks.len(), 1, "{d}");
        assert_eq!(checks[0]["field"], "investment_done_wan");
        assert_eq!(checks[0]["severity"], "warning");
        assert_eq!(checks[0]["note"], note);
        assert!(checks[0]["message"].as_str().unwrap().contains("194.1"));
    }
    // Approved by the district, then the city: the diff still shows before → after.
    let review = |version: i64| Some(json!({"version": version, "decision": "approve"}));
    let (s, r) = call(
        &app,
        "wuchang",
        "POST",
        &format!("{uri}/review"),
        review(1),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK, "{r}");
    let version = r["version"].as_i64().unwrap();
    let (s, _) = call(
        &app,
        "admin",
        "POST",
        &format!("{uri}/review"),
        review(version),
        &[],
    )
    .await;
    assert_eq!(s, StatusCode::OK);
    let (_, d) = call(&app, "leader", "GET", &uri, None, &[]).await;
    assert_eq!(d["status"], "approved");
    let diff: Vec<_> = d["diff"]
        .as_array()
        .unwrap()
        .iter()
        .map(|c| (c["field"].clone(), c["before"].clone(), c["after"].clone()))
        .collect();
    assert_eq!(
        diff,
        [
            (json!("progress_pct"), json!(40.0), json!(45.0)),
            (json!("investment_done_wan"), json!(194.1), json!(100.0)),
        ]
    );
    // The next report starts from the approved values.
    let (_, c) = call(
        &app,
        "entity",
        "POST",
        c_uri,
        check(json!({}), json!({})),
        &[],
    )
    .await;
    assert_eq!(c["baseline"]["values"]["investment_done_wan"], json!(100.0));
    assert_eq!(c["baseline"]["submission_id"], d["id"]);
}
