//! The persistent job queue, in the store (`jobs`), so it survives restarts and serves several
//! servers. Jobs are a closed set ([`Job`]): `OpenPeriod` makes a reporting period's tasks and
//! schedules its reminder, its overdue marking and the next period; `Remind` stamps the open
//! tasks; `MarkOverdue` marks the tasks still open after the deadline.
//!
//! A job's effects and its `done` mark are one transaction that checks the job's version, so a
//! job runs exactly once however many runners race for it; a run cut short leaves it pending
//! and the next runner does it whole. A job this server does not know (a newer server's, in a
//! rolling upgrade) stays pending and is logged: it is never marked done.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_report::Period;
use gengxin_store::{Edit, Query, Store, StoreError};
use tokio::sync::watch;

use crate::App;
use crate::audit::Record;
use crate::reporting::Form;

/// How often a runner looks for due jobs.
pub const POLL: Duration = Duration::from_secs(30);

/// A job this server knows.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Job {
    /// Open a reporting period of a form: its tasks, and the jobs that follow.
    OpenPeriod { form_code: String, period: Period },
    /// Remind the tasks of a period still open.
    Remind { form_code: String, period: Period },
    /// Mark the tasks of a period still open after the deadline overdue.
    MarkOverdue { form_code: String, period: Period },
}

impl Job {
    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::OpenPeriod { .. } => "open_period",
            Job::Remind { .. } => "remind",
            Job::MarkOverdue { .. } => "mark_overdue",
        }
    }

    /// The job of a stored row, or `None` for a kind (or payload) this server does not know.
    pub fn of(row: &Feature) -> Option<Job> {
        let payload: serde_json::Value = row
            .get("payload")
            .as_str()
            .and_then(|p| serde_json::from_str(p).ok())?;
        let form_code = payload["form_code"].as_str()?.to_owned();
        let period = Period::parse(payload["period"].as_str()?)?;
        Some(match row.get("kind").as_str()? {
            "open_period" => Job::OpenPeriod { form_code, period },
            "remind" => Job::Remind { form_code, period },
            "mark_overdue" => Job::MarkOverdue { form_code, period },
            _ => return None,
        })
    }

    /// The form and the period the job is about.
    pub fn subject(&self) -> (&str, Period) {
        let (Job::OpenPeriod { form_code, period }
        | Job::Remind { form_code, period }
        | Job::MarkOverdue { form_code, period }) = self;
        (form_code, *period)
    }

    /// The row that schedules this job at `run_at` (its id names kind, form and period, so a
    /// job is scheduled once).
    pub fn row(&self, run_at: DateTime<Utc>) -> Feature {
        let (form_code, period) = self.subject();
        gengxin_report::job_row(self.kind(), form_code, &period.to_string(), run_at)
    }
}

/// The end of a day in China (UTC+8), as UTC: deadlines are whole days in local time.
pub fn end_of_day(d: NaiveDate) -> DateTime<Utc> {
    (d + chrono::Days::new(1))
        .and_hms_opt(0, 0, 0)
        .expect("midnight")
        .and_utc()
        - chrono::TimeDelta::hours(8)
}

/// Runs every pending job due at `now` that this server knows, oldest first; returns how many
/// ran.
pub async fn run_due(app: &App, now: DateTime<Utc>) -> Result<usize, StoreError> {
    let stamp = gengxin_model::timestamp(&now);
    let mut due: Vec<Feature> = app
        .store
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
    for row in due {
        let Some(job) = Job::of(&row) else {
            tracing::warn!(
                job = %row.id,
                kind = row.get("kind").as_str().unwrap_or_default(),
                "a job this server does not know; it stays pending for a server that does"
            );
            continue;
        };
        match run_one(app, &row, &job, now).await {
            Ok(()) => ran += 1,
            // Another runner did it first.
            Err(StoreError::Conflict { .. } | StoreError::Duplicate { .. }) => {}
            Err(e) => {
                tracing::warn!(job = %row.id, error = %e, "job failed; it stays pending");
                return Err(e);
            }
        }
    }
    Ok(ran)
}

async fn run_one(
    app: &App,
    row: &Feature,
    job: &Job,
    now: DateTime<Utc>,
) -> Result<(), StoreError> {
    let store = &*app.store;
    let mut edit = Edit::default();
    let mut done = row.clone();
    done.updated_at = now.max(row.updated_at);
    done.properties.insert("status".into(), "done".into());
    done.properties
        .insert("done_at".into(), gengxin_model::timestamp(&now).into());
    done.properties.insert(
        "attempts".into(),
        (row.get("attempts").as_i64().unwrap_or(0) + 1).into(),
    );
    let detail = match job {
        Job::OpenPeriod { form_code, period } => match active_form(store, form_code).await? {
            Some(form) => {
                let tasks = open_tasks(store, &form, *period, now).await?;
                let deadline = period.deadline(form.deadline_day);
                let mut next = vec![
                    Job::Remind {
                        form_code: form_code.clone(),
                        period: *period,
                    }
                    .row(end_of_day(
                        deadline - chrono::Days::new(form.remind_days as u64 + 1),
                    )),
                    Job::MarkOverdue {
                        form_code: form_code.clone(),
                        period: *period,
                    }
                    .row(end_of_day(deadline)),
                    Job::OpenPeriod {
                        form_code: form_code.clone(),
                        period: period.next(),
                    }
                    .row(end_of_day(period.end())),
                ];
                let mut existing = Vec::new();
                for n in &next {
                    if store.get(LayerId::Jobs, &n.id).await?.is_some() {
                        existing.push(n.id.clone());
                    }
                }
                next.retain(|n| !existing.contains(&n.id));
                let detail = format!("{} tasks for {form_code} {period}", tasks.len());
                edit.insert.push((LayerId::ReportTasks, tasks));
                edit.insert.push((LayerId::Jobs, next));
                detail
            }
            None => retired(job),
        },
        Job::Remind { form_code, period } | Job::MarkOverdue { form_code, period } => {
            if active_form(store, form_code).await?.is_none() {
                retired(job)
            } else {
                let open = store
                    .query(
                        LayerId::ReportTasks,
                        Query {
                            equals: vec![
                                ("form_code".into(), Value::Text(form_code.clone())),
                                ("period".into(), Value::Text(period.to_string())),
                                ("status".into(), Value::Text("open".into())),
                            ],
                            ..Query::default()
                        },
                    )
                    .await?;
                let k = job.kind();
                let detail = format!("{k}: {} open tasks of {form_code} {period}", open.len());
                let remind = matches!(job, Job::Remind { .. });
                let marked: Vec<Feature> = open
                    .into_iter()
                    .map(|mut t| {
                        t.updated_at = now.max(t.updated_at);
                        if remind {
                            t.properties.insert(
                                "reminded_at".into(),
                                gengxin_model::timestamp(&now).into(),
                            );
                        } else {
                            t.properties.insert("status".into(), "overdue".into());
                        }
                        t
                    })
                    .collect();
                edit.update.push((LayerId::ReportTasks, marked));
                detail
            }
        }
    };
    edit.update.push((LayerId::Jobs, vec![done]));
    let rec = Record::system("write").on("jobs", &row.id).detail(detail);
    app.apply(edit, vec![rec]).await
}

/// The form was retired: nothing to do, but the job is done.
fn retired(job: &Job) -> String {
    let (form_code, period) = job.subject();
    format!("{} for {form_code} {period}: nothing to do", job.kind())
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

/// The background runner: due jobs now and then every [`POLL`], until told to stop.
pub struct Runner {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
}

impl Runner {
    /// Starts the runner on the current runtime.
    pub fn start(app: App) -> Runner {
        let (stop, mut stopped) = watch::channel(false);
        let task = tokio::spawn(async move {
            loop {
                if let Err(e) = run_due(&app, app.now()).await {
                    tracing::warn!(error = %e, "job runner");
                }
                tokio::select! {
                    _ = tokio::time::sleep(POLL) => {}
                    _ = stopped.changed() => return,
                }
            }
        });
        Runner { stop, task }
    }

    /// Stops the runner after the job it is running, if any (a job is one transaction: one cut
    /// short by a crash instead is done whole by the next runner).
    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}
