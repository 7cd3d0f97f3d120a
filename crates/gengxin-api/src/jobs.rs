//! The persistent job queue of reporting cycles, in the store (`jobs`), so it survives restarts
//! and serves several servers: `open_period` makes a period's reporting tasks and schedules its
//! reminder, its overdue marking and the next period; `remind` stamps the open tasks;
//! `mark_overdue` marks the tasks still open after the deadline.
//!
//! A job's effects and its `done` mark are one transaction that checks the job's version, so a
//! job runs exactly once however many runners race for it; a run cut short leaves it pending
//! and the next runner does it whole.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_report::Period;
use gengxin_store::{Edit, Query, Store, StoreError};

use crate::audit::{self, Record};
use crate::reporting::Form;

/// How often a runner looks for due jobs.
const POLL: Duration = Duration::from_secs(30);

/// The end of a day in China (UTC+8), as UTC: deadlines are whole days in local time.
pub fn end_of_day(d: NaiveDate) -> DateTime<Utc> {
    (d + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        - chrono::TimeDelta::hours(8)
}

/// Runs every pending job due at `now`, oldest first; returns how many ran.
pub async fn run_due(
    store: &dyn Store,
    lock: &tokio::sync::Mutex<()>,
    now: DateTime<Utc>,
) -> Result<usize, StoreError> {
    let stamp = gengxin_model::timestamp(&now);
    let mut due: Vec<Feature> = store
        .query(
            LayerId::Jobs,
            Query {
                equals: vec![("status".into(), Value::Text("pending".into()))],
                ..Query::default()
            },
        )
        .await?
        .into_iter()
        .filter(|j| {
            j.get("run_at")
                .as_str()
                .is_some_and(|t| t <= stamp.as_str())
        })
        .collect();
    due.sort_by(|a, b| a.get("run_at").as_str().cmp(&b.get("run_at").as_str()));
    let mut ran = 0;
    for j in due {
        match run_one(store, lock, &j, now).await {
            Ok(()) => ran += 1,
            // Another runner did it first.
            Err(StoreError::Conflict { .. } | StoreError::Duplicate { .. }) => {}
            Err(e) => {
                tracing::warn!(job = %j.id, error = %e, "job failed; it stays pending");
                return Err(e);
            }
        }
    }
    Ok(ran)
}

async fn run_one(
    store: &dyn Store,
    lock: &tokio::sync::Mutex<()>,
    j: &Feature,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let payload: serde_json::Value = j
        .get("payload")
        .as_str()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default();
    let form_code = payload["form_code"].as_str().unwrap_or_default().to_owned();
    let period_raw = payload["period"].as_str().unwrap_or_default().to_owned();
    let kind = j.get("kind").as_str().unwrap_or_default().to_owned();
    let mut edit = Edit::default();
    let mut done = j.clone();
    done.updated_at = now.max(j.updated_at);
    done.properties.insert("status".into(), "done".into());
    done.properties
        .insert("done_at".into(), gengxin_model::timestamp(&now).into());
    done.properties.insert(
        "attempts".into(),
        (j.get("attempts").as_i64().unwrap_or(0) + 1).into(),
    );
    let form = active_form(store, &form_code).await?;
    let detail;
    match (kind.as_str(), form, Period::parse(&period_raw)) {
        ("open_period", Some(form), Some(period)) => {
            let tasks = open_tasks(store, &form, period, now).await?;
            detail = format!("{} tasks for {form_code} {period}", tasks.len());
            let deadline = period.deadline(form.deadline_day);
            let mut next = vec![
                gengxin_report::job_row(
                    "remind",
                    &form_code,
                    &period_raw,
                    end_of_day(deadline - chrono::Days::new(form.remind_days as u64 + 1)),
                ),
                gengxin_report::job_row(
                    "mark_overdue",
                    &form_code,
                    &period_raw,
                    end_of_day(deadline),
                ),
                gengxin_report::job_row(
                    "open_period",
                    &form_code,
                    &period.next().to_string(),
                    end_of_day(period.end()),
                ),
            ];
            let mut existing = Vec::new();
            for n in &next {
                if store.get(LayerId::Jobs, &n.id).await?.is_some() {
                    existing.push(n.id.clone());
                }
            }
            next.retain(|n| !existing.contains(&n.id));
            edit.insert.push((LayerId::ReportTasks, tasks));
            edit.insert.push((LayerId::Jobs, next));
        }
        (k @ ("remind" | "mark_overdue"), Some(_), Some(_)) => {
            let open = store
                .query(
                    LayerId::ReportTasks,
                    Query {
                        equals: vec![
                            ("form_code".into(), Value::Text(form_code.clone())),
                            ("period".into(), Value::Text(period_raw.clone())),
                            ("status".into(), Value::Text("open".into())),
                        ],
                        ..Query::default()
                    },
                )
                .await?;
            detail = format!("{k}: {} open tasks of {form_code} {period_raw}", open.len());
            let marked: Vec<Feature> = open
                .into_iter()
                .map(|mut t| {
                    t.updated_at = now.max(t.updated_at);
                    if k == "remind" {
                        t.properties
                            .insert("reminded_at".into(), gengxin_model::timestamp(&now).into());
                    } else {
                        t.properties.insert("status".into(), "overdue".into());
                    }
                    t
                })
                .collect();
            edit.update.push((LayerId::ReportTasks, marked));
        }
        _ => {
            // The form was retired or the job is malformed: nothing to do, but done.
            detail = format!("{kind} for {form_code} {period_raw}: nothing to do");
        }
    }
    edit.update.push((LayerId::Jobs, vec![done]));
    let rec = Record {
        actor: "system".into(),
        role: "system".into(),
        action: "write",
        outcome: "ok",
        target_layer: "jobs".into(),
        target_id: j.id.clone(),
        detail,
        ..Record::default()
    };
    audit::apply_to(store, lock, edit, vec![rec]).await
}

async fn active_form(store: &dyn Store, code: &str) -> Result<Option<Form>, StoreError> {
    let rows = store
        .query(
            LayerId::ReportForms,
            Query {
                equals: vec![("form_code".into(), Value::Text(code.to_owned()))],
                ..Query::default()
            },
        )
        .await?;
    Ok(rows
        .iter()
        .filter_map(|r| Form::of(r).ok())
        .filter(|f| f.active)
        .max_by_key(|f| f.version))
}

/// A task per project the form applies to (by its renewal object's kind), not yet made.
async fn open_tasks(
    store: &dyn Store,
    form: &Form,
    period: Period,
    now: DateTime<Utc>,
) -> Result<Vec<Feature>, StoreError> {
    let projects = store.query(LayerId::Projects, Query::default()).await?;
    let kinds: HashMap<String, String> = if form.renewal_kind.is_some() {
        store
            .query(LayerId::RenewalObjects, Query::default())
            .await?
            .into_iter()
            .filter_map(|o| Some((o.id.clone(), o.get("kind").as_str()?.to_owned())))
            .collect()
    } else {
        HashMap::new()
    };
    let existing: std::collections::HashSet<String> = store
        .query(
            LayerId::ReportTasks,
            Query {
                equals: vec![
                    ("form_code".into(), Value::Text(form.code.clone())),
                    ("period".into(), Value::Text(period.to_string())),
                ],
                ..Query::default()
            },
        )
        .await?
        .into_iter()
        .map(|t| t.id)
        .collect();
    let deadline = period.deadline(form.deadline_day).to_string();
    Ok(projects
        .iter()
        // Completed projects report no more.
        .filter(|p| p.get("stage").as_str() != Some("completed"))
        .filter(|p| {
            form.renewal_kind.as_ref().is_none_or(|k| {
                p.get("renewal_object_id")
                    .as_str()
                    .and_then(|o| kinds.get(o))
                    == Some(k)
            })
        })
        .map(|p| {
            Feature::new(
                format!("task:{}:{period}:{}", form.code, p.id),
                "gengxin",
                now,
            )
            .set("form_code", form.code.as_str())
            .set("project_id", p.id.as_str())
            .set(
                "district_code",
                p.get("district_code").as_str().unwrap_or_default(),
            )
            .set("period", period.to_string())
            .set("deadline", deadline.as_str())
            .set("status", "open")
        })
        .filter(|t| !existing.contains(&t.id))
        .collect())
}

/// Runs due jobs now and then every 30 seconds, for as long as the server runs.
pub async fn run_forever(store: Arc<dyn Store>, lock: Arc<tokio::sync::Mutex<()>>) {
    loop {
        if let Err(e) = run_due(&*store, &lock, Utc::now()).await {
            tracing::warn!(error = %e, "job runner");
        }
        tokio::time::sleep(POLL).await;
    }
}
