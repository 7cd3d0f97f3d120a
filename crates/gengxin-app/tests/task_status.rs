//! One definition of a reporting task's state for my tasks and the calendar: a task still stored
//! `open` once its deadline day (China time) has ended counts as overdue, before the
//! mark-overdue job has run; the calendar's counts add up (tasks = submitted + open + overdue,
//! missing = open + overdue) and agree with the district user's tasks.

use std::collections::BTreeSet;
use std::sync::Arc;

use chrono::{DateTime, TimeZone, Utc};
use gengxin_app::reporting::{self, task_status};
use gengxin_app::{Actor, App, Clock};
use gengxin_auth::{Principal, Role};
use gengxin_model::{Feature, GENERATED, LayerId};
use gengxin_store::Store;
use gengxin_store::gpkg::GeoPackageStore;

fn at(y: i32, m: u32, d: u32, h: u32) -> DateTime<Utc> {
    Utc.with_ymd_and_hms(y, m, d, h, 0, 0).unwrap()
}

fn task(project: &str, status: &str) -> Feature {
    Feature::new(
        format!("task:progress:2026-10:{project}"),
        "gengxin",
        at(2026, 11, 1, 0),
    )
    .set("form_code", "progress")
    .set("project_id", project)
    .set("district_code", "420106")
    .set("period", "2026-10")
    .set("deadline", "2026-11-05")
    .set("status", status)
}

fn district_user() -> Actor {
    Actor::caller(
        Some(Principal {
            user_id: "wuchang".into(),
            username: "wuchang".into(),
            role: Role::District,
            organisation_id: "org".into(),
            district: Some("420106".into()),
            community: None,
            projects: BTreeSet::new(),
        }),
        None,
    )
}

#[test]
fn an_open_task_is_overdue_once_its_deadline_day_has_ended_in_china() {
    let t = task("prj-1", "open");
    // 2026-11-05 24:00 in China is 16:00 UTC.
    assert_eq!(task_status(&t, at(2026, 11, 5, 15)), "open");
    assert_eq!(task_status(&t, at(2026, 11, 5, 16)), "overdue");
    assert_eq!(
        task_status(&task("prj-1", "submitted"), at(2026, 12, 1, 0)),
        "submitted"
    );
    assert_eq!(
        task_status(&task("prj-1", "overdue"), at(2026, 12, 1, 0)),
        "overdue"
    );
}

#[tokio::test]
async fn the_calendar_counts_add_up_and_agree_with_my_tasks_before_the_job_runs() {
    let dir = tempfile::tempdir().unwrap();
    let store: Arc<dyn Store> =
        Arc::new(GeoPackageStore::create_or_open(&dir.path().join("t.gpkg")).unwrap());
    let project = |id: &str| {
        Feature::new(id, GENERATED, at(2026, 1, 1, 0))
            .set("code", id)
            .set("name", format!("{id} 改造项目"))
            .set("renewal_object_id", "ro-1")
            .set("start_date", "2026-01-01")
            .set("planned_end_date", "2027-12-31")
            .set("district_code", "420106")
            .set("stage", "construction")
    };
    store
        .insert(vec![
            (
                LayerId::Projects,
                vec![project("prj-1"), project("prj-2"), project("prj-3")],
            ),
            (
                LayerId::ReportTasks,
                // Stored open: the mark-overdue job has not run yet.
                vec![
                    task("prj-1", "submitted"),
                    task("prj-2", "open"),
                    task("prj-3", "open"),
                ],
            ),
        ])
        .await
        .unwrap();
    let who = district_user();
    for (now, open, overdue) in [(at(2026, 11, 5, 8), 2, 0), (at(2026, 11, 6, 8), 0, 2)] {
        let app = App::new(store.clone()).with_clock(Clock::Fixed(now));
        let cal = reporting::status(&app, &who, Some("progress"), None)
            .await
            .unwrap();
        assert_eq!(cal.len(), 1);
        let p = &cal[0];
        assert_eq!(
            (p.tasks, p.submitted, p.open, p.overdue),
            (3, 1, open, overdue),
            "{now}"
        );
        assert_eq!(p.tasks, p.submitted + p.open + p.overdue);
        assert_eq!(p.missing.len(), p.open + p.overdue);
        let mine = reporting::tasks(&app, &who).await.unwrap();
        assert_eq!(mine.to_fill.len(), p.missing.len());
        let late = mine
            .to_fill
            .iter()
            .filter(|t| t.row.get("status").as_str() == Some("overdue"))
            .count();
        assert_eq!(late, overdue, "{now}");
        let missing_late = p
            .missing
            .iter()
            .filter(|t| t.row.get("status").as_str() == Some("overdue"))
            .count();
        assert_eq!(missing_late, overdue, "{now}");
    }
}
