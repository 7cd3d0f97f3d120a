//! The persistent job queue, in the store (`jobs`), so it survives restarts and serves several
//! servers. Jobs are a closed set ([`Job`]): `OpenPeriod` makes a reporting period's tasks and
//! schedules its reminder, its overdue marking and the next period; `Remind` stamps the open
//! tasks; `MarkOverdue` marks the tasks still open after the deadline; `EvaluateLifeCircle`
//! runs the life-circle evaluation asked for over the API ([`evaluate_life_circle`]).
//!
//! A job's effects and its `done` mark are one transaction that checks the job's version, so a
//! job runs exactly once however many runners race for it; a run cut short leaves it pending
//! and the next runner does it whole. A job this server does not know (a newer server's, in a
//! rolling upgrade) stays pending and is logged: it is never marked done.
//!
//! Long work (the evaluation) is claimed first: its row goes from `pending` to `running` in a
//! transaction that checks its version, so of several servers exactly one runs it; the others
//! (and every later request while it is pending or running) join it. At most one such job of a
//! kind is pending or running at a time: its id is the kind and a sequence number, so two
//! servers starting one at once insert the same id and the second joins the first.

use std::collections::HashMap;
use std::time::Duration;

use chrono::{DateTime, NaiveDate, Utc};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_report::Period;
use gengxin_store::{Edit, Query, Store, StoreError};
use tokio::sync::watch;

use crate::audit::Record;
use crate::reporting::Form;
use crate::{Actor, App, AppError};

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
    /// Run the life-circle evaluation (claimed first: see the module docs).
    EvaluateLifeCircle,
}

impl Job {
    /// The stored kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Job::OpenPeriod { .. } => "open_period",
            Job::Remind { .. } => "remind",
            Job::MarkOverdue { .. } => "mark_overdue",
            Job::EvaluateLifeCircle => EVALUATE_LIFE_CIRCLE,
        }
    }

    /// The job of a stored row, or `None` for a kind (or payload) this server does not know.
    pub fn of(row: &Feature) -> Option<Job> {
        if row.get("kind").as_str()? == EVALUATE_LIFE_CIRCLE {
            return Some(Job::EvaluateLifeCircle);
        }
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

    /// The form and the period the job is about (none for the evaluation).
    pub fn subject(&self) -> Option<(&str, Period)> {
        match self {
            Job::OpenPeriod { form_code, period }
            | Job::Remind { form_code, period }
            | Job::MarkOverdue { form_code, period } => Some((form_code, *period)),
            Job::EvaluateLifeCircle => None,
        }
    }

    /// The row that schedules this job at `run_at` (its id names kind, form and period, so a
    /// job is scheduled once; an evaluation's is its first).
    pub fn row(&self, run_at: DateTime<Utc>) -> Feature {
        match self.subject() {
            Some((form_code, period)) => {
                gengxin_report::job_row(self.kind(), form_code, &period.to_string(), run_at)
            }
            None => claimed_row(self.kind(), 1, &Actor::default(), run_at),
        }
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
        if row.get("kind").as_str() == Some(EVALUATE_LIFE_CIRCLE) {
            // Started by a server that stopped before claiming it: run it here.
            if run_claimed(app.clone(), row.id.clone()).await.is_some() {
                ran += 1;
            }
            continue;
        }
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
        // Claimed and run by `run_claimed` (run_due sends it there), never here.
        Job::EvaluateLifeCircle => return Ok(()),
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
    match job.subject() {
        Some((form_code, period)) => {
            format!("{} for {form_code} {period}: nothing to do", job.kind())
        }
        None => format!("{}: nothing to do", job.kind()),
    }
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

/// The kind of the life-circle evaluation job.
pub const EVALUATE_LIFE_CIRCLE: &str = "evaluate_life_circle";

/// A claimed job not finished within this is taken as abandoned (its server stopped mid-run):
/// the next request starts a new one and marks it failed. An evaluation takes seconds.
pub const LEASE: chrono::TimeDelta = chrono::TimeDelta::minutes(15);

/// A job as the API shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct JobState {
    pub id: String,
    pub kind: String,
    /// `pending`, `running`, `done` or `failed`.
    pub state: String,
    pub created: DateTime<Utc>,
    /// RFC 3339, once claimed.
    pub started: Option<String>,
    /// RFC 3339, once done or failed.
    pub finished: Option<String>,
    /// What the job did, once done (for the evaluation: its [`crate::evaluation::Outcome`]).
    pub result: Option<serde_json::Value>,
    /// Why it failed.
    pub error: Option<String>,
    /// The user who asked for it (the actor's name); none for scheduled jobs.
    pub requested_by: Option<String>,
}

fn payload_of(row: &Feature) -> serde_json::Map<String, serde_json::Value> {
    row.get("payload")
        .as_str()
        .and_then(|p| serde_json::from_str(p).ok())
        .unwrap_or_default()
}

impl JobState {
    pub fn of(row: &Feature) -> JobState {
        let p = payload_of(row);
        let text = |k: &str| row.get(k).as_str().map(str::to_owned);
        JobState {
            id: row.id.clone(),
            kind: text("kind").unwrap_or_default(),
            state: text("status").unwrap_or_default(),
            created: row.created_at,
            started: p
                .get("started_at")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
            finished: text("done_at"),
            result: p.get("result").cloned(),
            error: text("last_error"),
            requested_by: p
                .get("requested_by")
                .and_then(|v| v.as_str())
                .map(str::to_owned),
        }
    }

    /// Pending, or running within its [`LEASE`].
    pub fn active(&self, row: &Feature, now: DateTime<Utc>) -> bool {
        match self.state.as_str() {
            "pending" => true,
            "running" => row.updated_at + LEASE > now,
            _ => false,
        }
    }
}

/// A job by id, if any.
pub async fn get(app: &App, id: &str) -> Result<Option<JobState>, StoreError> {
    Ok(app
        .store
        .get(LayerId::Jobs, id)
        .await?
        .as_ref()
        .map(JobState::of))
}

/// The `n`th job of a claimed kind, pending, asked for by `actor` at `at`.
fn claimed_row(kind: &str, n: u64, actor: &Actor, at: DateTime<Utc>) -> Feature {
    let mut p = serde_json::Map::new();
    if actor.caller.is_some() || actor.operator.is_some() {
        p.insert("requested_by".into(), actor.name().into());
    }
    Feature::new(format!("job:{kind}:{n}"), "gengxin", at)
        .set("kind", kind)
        .set("run_at", gengxin_model::timestamp(&at))
        .set("status", "pending")
        .set("attempts", 0_i64)
        .set("payload", serde_json::Value::Object(p).to_string())
}

/// Starts the life-circle evaluation as a job, or joins the one pending or running (on this
/// server or another one on the same store). Returns the job and whether this call started it.
/// The job runs on this runtime whether or not the caller waits; poll it with [`get`].
pub async fn evaluate_life_circle(app: &App, actor: &Actor) -> Result<(JobState, bool), AppError> {
    // Requests of this process take turns here (not for the run: only to find or insert).
    let _one = app.evaluating.lock().await;
    loop {
        let now = app.now();
        let rows = app
            .store
            .query(
                LayerId::Jobs,
                Query {
                    equals: vec![("kind".into(), Value::Text(EVALUATE_LIFE_CIRCLE.into()))],
                    ..Query::default()
                },
            )
            .await?;
        let seq = |r: &Feature| {
            r.id.rsplit(':')
                .next()
                .and_then(|n| n.parse::<u64>().ok())
                .unwrap_or(0)
        };
        if let Some(active) = rows
            .iter()
            .filter(|r| JobState::of(r).active(r, now))
            .max_by_key(|r| seq(r))
        {
            return Ok((JobState::of(active), false));
        }
        let n = rows.iter().map(seq).max().unwrap_or(0) + 1;
        let row = claimed_row(EVALUATE_LIFE_CIRCLE, n, actor, now);
        // Claims abandoned by a stopped server are failed in the same transaction.
        let abandoned: Vec<Feature> = rows
            .iter()
            .filter(|r| r.get("status").as_str() == Some("running"))
            .map(|r| {
                let mut r = r.clone();
                r.updated_at = now.max(r.updated_at);
                r.properties.insert("status".into(), "failed".into());
                r.properties.insert(
                    "last_error".into(),
                    "abandoned: the server running it stopped".into(),
                );
                r.properties
                    .insert("done_at".into(), gengxin_model::timestamp(&now).into());
                r
            })
            .collect();
        let mut edit = Edit::default();
        edit.insert.push((LayerId::Jobs, vec![row.clone()]));
        if !abandoned.is_empty() {
            edit.update.push((LayerId::Jobs, abandoned));
        }
        match app.store.apply(edit).await {
            Ok(()) => {
                let job = JobState::of(&row);
                let (app, id, actor) = (app.clone(), row.id.clone(), actor.clone());
                tokio::spawn(async move { run_claimed_as(app, id, Some(actor)).await });
                return Ok((job, true));
            }
            // Another server started one at the same moment: join it.
            Err(StoreError::Duplicate { .. } | StoreError::Conflict { .. }) => continue,
            Err(e) => return Err(e.into()),
        }
    }
}

/// Claims a pending evaluation job and runs it; `None` when another runner has it.
pub async fn run_claimed(app: App, id: String) -> Option<JobState> {
    run_claimed_as(app, id, None).await
}

async fn run_claimed_as(app: App, id: String, actor: Option<Actor>) -> Option<JobState> {
    match claim_and_run(&app, &id, actor).await {
        Ok(state) => state,
        Err(e) => {
            tracing::warn!(job = %id, error = %e, "evaluation job");
            None
        }
    }
}

async fn claim_and_run(
    app: &App,
    id: &str,
    actor: Option<Actor>,
) -> Result<Option<JobState>, StoreError> {
    let Some(row) = app.store.get(LayerId::Jobs, id).await? else {
        return Ok(None);
    };
    if row.get("status").as_str() != Some("pending") {
        return Ok(None);
    }
    let now = app.now();
    let mut claimed = row.clone();
    let mut p = payload_of(&row);
    p.insert("started_at".into(), gengxin_model::timestamp(&now).into());
    claimed.updated_at = now.max(row.updated_at);
    claimed.properties.insert("status".into(), "running".into());
    claimed.properties.insert(
        "attempts".into(),
        (row.get("attempts").as_i64().unwrap_or(0) + 1).into(),
    );
    claimed.properties.insert(
        "payload".into(),
        serde_json::Value::Object(p.clone()).to_string().into(),
    );
    let mut edit = Edit::default();
    edit.update.push((LayerId::Jobs, vec![claimed]));
    match app.store.apply(edit).await {
        Ok(()) => {}
        // Another runner claimed it first.
        Err(StoreError::Conflict { .. }) => return Ok(None),
        Err(e) => return Err(e),
    }
    let Some(running) = app.store.get(LayerId::Jobs, id).await? else {
        return Ok(None);
    };
    // Audited as the user who asked, or (picked up by a runner) as the system.
    let record = match &actor {
        Some(a) => Record::by(a, "write", "ok"),
        None => Record::system("write"),
    };
    let outcome = crate::evaluation::run_life_circle_with(app, record, |edit, out| {
        let mut done = running.clone();
        let end = app.now();
        let mut p = p.clone();
        p.insert(
            "result".into(),
            serde_json::to_value(out).unwrap_or(serde_json::Value::Null),
        );
        done.updated_at = end.max(running.updated_at);
        done.properties.insert("status".into(), "done".into());
        done.properties
            .insert("done_at".into(), gengxin_model::timestamp(&end).into());
        done.properties.insert(
            "payload".into(),
            serde_json::Value::Object(p).to_string().into(),
        );
        edit.update.push((LayerId::Jobs, vec![done]));
    })
    .await;
    if let Err(e) = outcome {
        let end = app.now();
        let mut failed = running.clone();
        failed.updated_at = end.max(running.updated_at);
        failed.properties.insert("status".into(), "failed".into());
        failed
            .properties
            .insert("last_error".into(), e.to_string().into());
        failed
            .properties
            .insert("done_at".into(), gengxin_model::timestamp(&end).into());
        let mut edit = Edit::default();
        edit.update.push((LayerId::Jobs, vec![failed]));
        app.store.apply(edit).await?;
    }
    get(app, id).await
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
