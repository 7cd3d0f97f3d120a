//! The "+1" update mechanism's use cases: report forms (versioned), submissions (draft →
//! submitted → district review → city approval, or returned with comments), the merge of an
//! approved submission into the master data as one versioned change, tasks, who has not
//! reported, and bulk reporting through a spreadsheet.
//!
//! Every state change is one store transaction with its audit record and checks the version
//! the actor read: two reviewers acting at once get one success and one conflict, and nothing
//! is applied twice. The rules (validation, the review chain, periods, the diff and merge) are
//! `gengxin-report`'s; this module reads and writes the rows.

use std::collections::{BTreeMap, HashMap, HashSet};

use chrono::{DateTime, Utc};
use gengxin_auth::policy::{Denied, require_admin, require_login};
use gengxin_auth::{Principal, Role, secret};
use gengxin_model::{Feature, Layer, LayerId, Value};
use gengxin_report::{Chain, Decision, FieldError, Finding, FormField, Level, Period};
use gengxin_store::{Edit, Query, StoreError};
use serde_json::{Map, Value as Json};

use crate::audit::Record;
use crate::jobs::Job;
use crate::{Actor, App, AppError};

/// A form version as stored in `report_forms`.
#[derive(Debug, Clone)]
pub struct Form {
    pub id: String,
    pub code: String,
    pub version: i64,
    pub name: String,
    pub renewal_kind: Option<String>,
    pub fields: Vec<FormField>,
    pub chain: Chain,
    pub quarterly: bool,
    pub deadline_day: u32,
    pub remind_days: u32,
    pub active: bool,
}

impl Form {
    pub fn of(f: &Feature) -> Result<Form, AppError> {
        let t = |k: &str| f.get(k).as_str().unwrap_or_default().to_owned();
        Ok(Form {
            id: f.id.clone(),
            code: t("form_code"),
            version: f.get("form_version").as_i64().unwrap_or(1),
            name: t("name"),
            renewal_kind: f.get("renewal_kind").as_str().map(str::to_owned),
            fields: gengxin_report::parse_fields(&t("fields")).map_err(AppError::internal)?,
            chain: Chain::from_code(&t("review_chain"))
                .ok_or_else(|| AppError::internal("unknown review chain"))?,
            quarterly: t("cycle") == "quarterly",
            deadline_day: f.get("deadline_day").as_i64().unwrap_or(5) as u32,
            remind_days: f.get("remind_days").as_i64().unwrap_or(3) as u32,
            active: f.get("active") != &Value::Bool(false),
        })
    }

    /// The period `raw` names, if it is one of this form's kind (a month or a quarter).
    pub fn period(&self, raw: &str) -> Result<Period, AppError> {
        Period::parse(raw)
            .filter(|p| p.quarterly == self.quarterly)
            .ok_or_else(|| {
                AppError::BadRequest(format!(
                    "period {raw:?} must be {} for form {}",
                    if self.quarterly {
                        "a quarter such as 2026-Q4"
                    } else {
                        "a month such as 2026-11"
                    },
                    self.id
                ))
            })
    }
}

/// A form definition to store as a new form, or as the next version of one.
#[derive(Debug, Clone)]
pub struct FormDefinition {
    /// Stable code; a new definition of an existing code is its next version.
    pub code: String,
    pub name: String,
    pub renewal_kind: Option<String>,
    /// The fields, as the JSON array `gengxin_report::parse_fields` reads.
    pub fields: Json,
    /// `district_city`, `city` or `district`.
    pub review_chain: String,
    /// `monthly` or `quarterly`.
    pub cycle: String,
    /// Days after the period's end the report is due.
    pub deadline_day: u32,
    /// Days before the deadline the reminder goes out.
    pub remind_days: u32,
}

/// A stored row (a submission or a task) with the name of its project, when known.
#[derive(Debug, Clone)]
pub struct Listed {
    pub row: Feature,
    pub project_name: Option<String>,
}

impl Listed {
    fn new(row: &Feature, project: Option<&Feature>) -> Listed {
        Listed {
            row: row.clone(),
            project_name: project.and_then(|p| p.get("name").as_str().map(str::to_owned)),
        }
    }
}

/// One submission as a reviewer sees it.
#[derive(Debug, Clone)]
pub struct SubmissionDetail {
    pub submission: Listed,
    pub form: Form,
    /// Each project field it changes: the value before (the project's now, or, once approved,
    /// the one its approval replaced) and the reported one.
    pub diff: Vec<gengxin_report::Change>,
    pub project_version: i64,
    /// May the caller approve or return it now?
    pub can_review: bool,
}

/// The last approved values of a project for a form: what a new report starts from and is
/// checked against.
#[derive(Debug, Clone, Default)]
pub struct Baseline {
    /// By field name (see `gengxin_report::baseline`).
    pub values: Map<String, Json>,
    /// The last approved submission of this form for the project, and its period.
    pub submission_id: Option<String>,
    pub period: Option<String>,
}

/// Values checked before they are sent: the per-field errors and the plausibility findings.
#[derive(Debug, Clone)]
pub struct Checked {
    pub baseline: Baseline,
    pub errors: Vec<FieldError>,
    pub findings: Vec<Finding>,
}

/// My tasks.
#[derive(Debug, Clone, Default)]
pub struct Tasks {
    /// Reports to fill (open or overdue, in my scope).
    pub to_fill: Vec<Listed>,
    /// Submissions awaiting my review.
    pub to_review: Vec<Listed>,
    /// My drafts and my submissions returned to me.
    pub returned_or_draft: Vec<Listed>,
}

/// One form's period: its deadline and its tasks by state.
#[derive(Debug, Clone)]
pub struct PeriodStatus {
    pub form_code: String,
    pub period: String,
    pub deadline: Option<String>,
    pub tasks: usize,
    pub submitted: usize,
    pub open: usize,
    pub overdue: usize,
    /// The tasks not yet submitted: who has not reported.
    pub missing: Vec<Listed>,
}

/// The outcome of one row of an uploaded workbook.
#[derive(Debug, Clone)]
pub struct UploadRow {
    /// The spreadsheet's row number (the header is row 1).
    pub row: usize,
    pub project_id: String,
    /// The submission it made (or had made from the same file before).
    pub submission_id: Option<String>,
    /// Uploaded before: nothing new was created.
    pub duplicate: bool,
    pub errors: Vec<FieldError>,
}

/// What an upload did, row by row.
#[derive(Debug, Clone)]
pub struct UploadReport {
    pub accepted: usize,
    pub rows: Vec<UploadRow>,
}

/// A bulk-reporting template.
pub struct Template {
    pub file_name: String,
    pub bytes: Vec<u8>,
}

/// May this user report on this project (fill its forms)?
pub fn may_report(p: &Principal, project: &Feature) -> bool {
    match p.role {
        Role::CityAdmin => true,
        Role::District => {
            p.district.is_some() && project.get("district_code").as_str() == p.district.as_deref()
        }
        Role::Entity => p.projects.contains(&project.id),
        Role::CityLeader | Role::CommunityWorker | Role::SecurityAdmin | Role::AuditAdmin => false,
    }
}

/// May this user see submissions about this project?
fn may_see(p: &Principal, project: &Feature) -> bool {
    p.role == Role::CityLeader || may_report(p, project)
}

/// The review level a user acts at for a project, if any.
fn level(p: &Principal, project: &Feature) -> Option<Level> {
    match p.role {
        Role::CityAdmin => Some(Level::City),
        Role::District if may_report(p, project) => Some(Level::District),
        _ => None,
    }
}

fn principal(actor: &Actor) -> Result<Principal, AppError> {
    Ok(require_login(&actor.caller)?.clone())
}

async fn stored_form(app: &App, id: &str) -> Result<Form, AppError> {
    let row = app
        .store
        .get(LayerId::ReportForms, id)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no form {id:?}; see /api/forms")))?;
    Form::of(&row)
}

async fn project(app: &App, id: &str) -> Result<Option<Feature>, AppError> {
    Ok(app.store.get(LayerId::Projects, id).await?)
}

async fn projects_by_id(app: &App) -> Result<HashMap<String, Feature>, AppError> {
    let projects = app.snapshot(LayerId::Projects).await?;
    Ok(projects
        .features
        .iter()
        .map(|f| (f.id.clone(), f.clone()))
        .collect())
}

/// A JSON text stored in a field, parsed (null when absent or unreadable).
pub fn parse_json(v: &Value) -> Json {
    v.as_str()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Json::Null)
}

fn conflict(e: StoreError) -> AppError {
    match e {
        StoreError::Conflict { .. } => AppError::Conflict(
            "someone else acted on this first; reload and look again (nothing was applied)".into(),
        ),
        e => e.into(),
    }
}

fn record(actor: &Actor, action: &'static str, id: &str, detail: String) -> Record {
    Record::by(actor, action, "ok")
        .on("submissions", id)
        .detail(detail)
}

fn invalid(errors: Vec<FieldError>) -> AppError {
    AppError::Unprocessable(
        errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// The last approved values of a project for a form (of any version of the form's code),
/// leaving out the submission `except` (the one being looked at).
async fn baseline(
    app: &App,
    form: &Form,
    project: &Feature,
    except: Option<&str>,
) -> Result<Baseline, AppError> {
    let rows = app
        .store
        .query(
            LayerId::Submissions,
            Query {
                equals: vec![
                    ("project_id".into(), Value::Text(project.id.clone())),
                    ("status".into(), Value::Text("approved".into())),
                ],
                ..Query::default()
            },
        )
        .await?;
    let prefix = format!("{}@", form.code);
    let last = rows
        .iter()
        .filter(|r| Some(r.id.as_str()) != except)
        .filter(|r| {
            r.get("form_id")
                .as_str()
                .is_some_and(|f| f.starts_with(&prefix))
        })
        .max_by_key(|r| (r.get("period").as_str().map(str::to_owned), r.updated_at));
    let values = last.map(|r| parse_json(r.get("values")));
    Ok(Baseline {
        values: gengxin_report::baseline(
            &form.fields,
            project,
            values.as_ref().and_then(Json::as_object),
        ),
        submission_id: last.map(|r| r.id.clone()),
        period: last.and_then(|r| r.get("period").as_str().map(str::to_owned)),
    })
}

/// Plausibility findings of validated values, stored with the submission; with `submit`, an
/// error or an unexplained warning refuses it (422, per field).
fn plausible(
    form: &Form,
    values: &Map<String, Json>,
    base: &Baseline,
    notes: &Map<String, Json>,
    today: chrono::NaiveDate,
    submit: bool,
) -> Result<Vec<Finding>, AppError> {
    let found = gengxin_report::check(&form.fields, values, &base.values, notes, today);
    let blocking: Vec<FieldError> = found
        .iter()
        .filter(|f| f.blocks())
        .map(|f| FieldError {
            field: f.field.clone(),
            message: f.message.clone(),
        })
        .collect();
    if submit && !blocking.is_empty() {
        return Err(invalid(blocking));
    }
    Ok(found)
}

/// Checks values as the reporter types them, without storing anything: the last approved
/// values (to prefill the form), each field's error and the plausibility findings.
pub async fn check(
    app: &App,
    actor: &Actor,
    form_id: &str,
    project_id: &str,
    values: &Map<String, Json>,
    notes: &Map<String, Json>,
) -> Result<Checked, AppError> {
    let p = principal(actor)?;
    let form = stored_form(app, form_id).await?;
    let project = project(app, project_id)
        .await?
        .filter(|pr| may_see(&p, pr))
        .ok_or_else(|| AppError::NotFound(format!("no project {project_id:?}")))?;
    if !may_report(&p, &project) {
        return Err(Denied::Forbidden.into());
    }
    let base = baseline(app, &form, &project, None).await?;
    let (errors, findings) = match gengxin_report::validate(&form.fields, values, false) {
        Ok(v) => (
            Vec::new(),
            gengxin_report::check(
                &form.fields,
                &v,
                &base.values,
                notes,
                app.now().date_naive(),
            ),
        ),
        Err(e) => (e, Vec::new()),
    };
    Ok(Checked {
        baseline: base,
        errors,
        findings,
    })
}

fn findings_json(f: &[Finding]) -> String {
    serde_json::to_string(f).expect("findings serialise")
}

/// Active report forms (the latest version of each).
pub async fn forms(app: &App, actor: &Actor) -> Result<Vec<Form>, AppError> {
    require_login(&actor.caller)?;
    let rows = app
        .store
        .query(LayerId::ReportForms, Query::default())
        .await?;
    Ok(rows
        .iter()
        .map(Form::of)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|f| f.active)
        .collect())
}

/// One form version.
pub async fn form(app: &App, actor: &Actor, id: &str) -> Result<Form, AppError> {
    require_login(&actor.caller)?;
    stored_form(app, id).await
}

/// Defines a form, or the next version of one (city administrator). The current period opens
/// at once: the job queue creates its reporting tasks.
pub async fn create_form(app: &App, actor: &Actor, b: FormDefinition) -> Result<Form, AppError> {
    require_admin(&actor.caller)?;
    let fields = gengxin_report::parse_fields(&b.fields.to_string())
        .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    if Chain::from_code(&b.review_chain).is_none()
        || !["monthly", "quarterly"].contains(&b.cycle.as_str())
    {
        return Err(AppError::Unprocessable(
            "review_chain is district_city, city or district; cycle is monthly or quarterly".into(),
        ));
    }
    let ok_code = (1..=40).contains(&b.code.len())
        && b.code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok_code || b.deadline_day > 60 || b.remind_days > 60 {
        return Err(AppError::Unprocessable(
            "code is 1–40 letters, digits, '-' or '_'; deadline_day and remind_days at most 60"
                .into(),
        ));
    }
    let now = app.now();
    let existing: Vec<Feature> = app
        .store
        .query(
            LayerId::ReportForms,
            Query {
                equals: vec![("form_code".into(), Value::Text(b.code.clone()))],
                ..Query::default()
            },
        )
        .await?;
    let version = existing
        .iter()
        .filter_map(|f| f.get("form_version").as_i64())
        .max()
        .unwrap_or(0)
        + 1;
    let row = gengxin_report::form_row(
        &b.code,
        version,
        &b.name,
        b.renewal_kind.as_deref(),
        &fields,
        &b.review_chain,
        &b.cycle,
        b.deadline_day,
        b.remind_days,
        now,
    );
    let retired: Vec<Feature> = existing
        .into_iter()
        .filter(|f| f.get("active") != &Value::Bool(false))
        .map(|mut f| {
            f.properties.insert("active".into(), false.into());
            f.updated_at = now.max(f.updated_at);
            f
        })
        .collect();
    let period = Period::of(now.date_naive(), b.cycle == "quarterly");
    let job = Job::OpenPeriod {
        form_code: b.code.clone(),
        period,
    }
    .row(now);
    let mut edit = Edit {
        update: vec![(LayerId::ReportForms, retired)],
        insert: vec![(LayerId::ReportForms, vec![row.clone()])],
        ..Edit::default()
    };
    if app.store.get(LayerId::Jobs, &job.id).await?.is_none() {
        edit.insert.push((LayerId::Jobs, vec![job]));
    }
    let rec = Record::by(actor, "write", "ok")
        .on("report_forms", &row.id)
        .detail(format!("form {} version {version}", b.code));
    app.apply(edit, vec![rec]).await.map_err(conflict)?;
    Form::of(&row)
}

/// A form filled for a project and period.
#[derive(Debug, Clone)]
pub struct NewSubmission {
    pub form_id: String,
    pub project_id: String,
    pub period: String,
    pub values: Map<String, Json>,
    /// The reporter's notes explaining plausibility warnings, by field.
    pub notes: Map<String, Json>,
    /// Submit for review now (else a draft).
    pub submit: bool,
    /// The caller's idempotency key: a retry with the same key finds the first submission.
    pub key: Option<String>,
}

/// A submission's id: from the caller's idempotency key when sent (a retried request finds the
/// first one), else random.
fn submission_id(p: &Principal, key: Option<&str>) -> String {
    match key {
        Some(k) => format!(
            "sub-{}",
            &secret::digest(&format!("{}\n{k}", p.user_id))[..24]
        ),
        None => format!("sub-{}", &secret::new_token("")[..24]),
    }
}

/// The task of a project for a form and period, if the cycle made one.
fn task_id(form_code: &str, period: &str, project: &str) -> String {
    format!("task:{form_code}:{period}:{project}")
}

/// Marks a project's task of the period submitted, in the submission's transaction.
async fn task_done(
    app: &App,
    edit: &mut Edit,
    form: &Form,
    period: &str,
    project: &str,
    submission: &str,
) -> Result<(), AppError> {
    if let Some(mut t) = app
        .store
        .get(LayerId::ReportTasks, &task_id(&form.code, period, project))
        .await?
    {
        t.properties.insert("status".into(), "submitted".into());
        t.properties
            .insert("submission_id".into(), submission.into());
        t.updated_at = app.now().max(t.updated_at);
        edit.update.push((LayerId::ReportTasks, vec![t]));
    }
    Ok(())
}

/// Fills a form for a project and period: a draft, or submitted for review. Returns the
/// submission and whether it is new (`false`: the same idempotency key made it before).
pub async fn create_submission(
    app: &App,
    actor: &Actor,
    b: NewSubmission,
) -> Result<(Listed, bool), AppError> {
    let p = principal(actor)?;
    let key = b.key.as_deref().filter(|k| (1..=200).contains(&k.len()));
    let id = submission_id(&p, key);
    if key.is_some()
        && let Some(first) = app.store.get(LayerId::Submissions, &id).await?
    {
        return Ok((Listed::new(&first, None), false));
    }
    let form = stored_form(app, &b.form_id).await?;
    if !form.active {
        return Err(AppError::Unprocessable(format!(
            "form {} has a newer version; fill that one",
            form.id
        )));
    }
    let period = form.period(&b.period)?.to_string();
    let project = project(app, &b.project_id)
        .await?
        .filter(|pr| may_see(&p, pr))
        .ok_or_else(|| AppError::NotFound(format!("no project {:?}", b.project_id)))?;
    if !may_report(&p, &project) {
        return Err(Denied::Forbidden.into());
    }
    let values = gengxin_report::validate(&form.fields, &b.values, b.submit).map_err(invalid)?;
    let now = app.now();
    let base = baseline(app, &form, &project, None).await?;
    let found = plausible(&form, &values, &base, &b.notes, now.date_naive(), b.submit)?;
    let row = Feature::new(id.clone(), "manual", now)
        .set("form_id", form.id.as_str())
        .set("project_id", project.id.as_str())
        .set(
            "district_code",
            project.get("district_code").as_str().unwrap_or_default(),
        )
        .set("period", period.as_str())
        .set("status", if b.submit { "submitted" } else { "draft" })
        .set("values", Json::Object(values).to_string())
        .set("author", p.username.as_str())
        .set(
            "submitted_at",
            b.submit.then(|| gengxin_model::timestamp(&now)),
        )
        .set("idempotency_key", key.map(str::to_owned))
        .set("checks", findings_json(&found));
    let mut edit = Edit {
        insert: vec![(LayerId::Submissions, vec![row.clone()])],
        ..Edit::default()
    };
    if b.submit {
        task_done(app, &mut edit, &form, &period, &project.id, &id).await?;
    }
    let action = if b.submit { "submit" } else { "write" };
    let detail = format!("{} {} {period}", form.id, project.id);
    match app
        .apply(edit, vec![record(actor, action, &id, detail)])
        .await
    {
        Ok(()) => Ok((Listed::new(&row, Some(&project)), true)),
        // The same key raced itself: the other request made it.
        Err(StoreError::Duplicate {
            layer: "submissions",
            ..
        }) if key.is_some() => {
            let first = app
                .store
                .get(LayerId::Submissions, &id)
                .await?
                .ok_or_else(|| AppError::Conflict("try again".into()))?;
            Ok((Listed::new(&first, None), false))
        }
        Err(e) => Err(conflict(e)),
    }
}

/// Changes a draft or a returned submission (its author only), and optionally submits it.
/// `version` is the one the author read; a stale one is a conflict.
pub async fn edit_submission(
    app: &App,
    actor: &Actor,
    id: &str,
    version: i64,
    values: &Map<String, Json>,
    notes: &Map<String, Json>,
    submit: bool,
) -> Result<Listed, AppError> {
    let p = principal(actor)?;
    let current = app
        .store
        .get(LayerId::Submissions, id)
        .await?
        .filter(|f| f.get("author").as_str() == Some(p.username.as_str()))
        .ok_or_else(|| AppError::NotFound(format!("you have no submission {id}")))?;
    let status = current
        .get("status")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !matches!(status.as_str(), "draft" | "rejected") {
        return Err(AppError::Conflict(format!(
            "the submission is {status}: only drafts and returned submissions change"
        )));
    }
    let form = stored_form(app, current.get("form_id").as_str().unwrap_or_default()).await?;
    let values = gengxin_report::validate(&form.fields, values, submit).map_err(invalid)?;
    let now = app.now();
    let project = project(app, current.get("project_id").as_str().unwrap_or_default())
        .await?
        .ok_or_else(|| AppError::NotFound("the project is gone".into()))?;
    let base = baseline(app, &form, &project, Some(id)).await?;
    let found = plausible(&form, &values, &base, notes, now.date_naive(), submit)?;
    let mut row = current.clone();
    row.properties
        .insert("checks".into(), findings_json(&found).into());
    row.version = version;
    row.updated_at = now.max(current.updated_at);
    row.properties
        .insert("values".into(), Json::Object(values).to_string().into());
    let mut edit = Edit::default();
    if submit {
        row.properties.insert("status".into(), "submitted".into());
        row.properties
            .insert("submitted_at".into(), gengxin_model::timestamp(&now).into());
        let text = |k: &str| current.get(k).as_str().unwrap_or_default().to_owned();
        task_done(
            app,
            &mut edit,
            &form,
            &text("period"),
            &text("project_id"),
            id,
        )
        .await?;
    }
    edit.update.push((LayerId::Submissions, vec![row]));
    let action = if submit { "submit" } else { "write" };
    app.apply(edit, vec![record(actor, action, id, "edited".into())])
        .await
        .map_err(conflict)?;
    let stored = app
        .store
        .get(LayerId::Submissions, id)
        .await?
        .ok_or_else(|| AppError::NotFound("gone".into()))?;
    Ok(Listed::new(&stored, None))
}

/// Which submissions to list: each set field must match.
#[derive(Debug, Clone, Default)]
pub struct SubmissionFilter {
    pub status: Option<String>,
    pub project_id: Option<String>,
    pub period: Option<String>,
    pub form_id: Option<String>,
}

/// Submissions the caller may see, newest first (others' drafts are not seen).
pub async fn submissions(
    app: &App,
    actor: &Actor,
    filter: &SubmissionFilter,
) -> Result<Vec<Listed>, AppError> {
    let p = principal(actor)?;
    let equals = [
        ("status", &filter.status),
        ("project_id", &filter.project_id),
        ("period", &filter.period),
        ("form_id", &filter.form_id),
    ]
    .into_iter()
    .filter_map(|(k, v)| Some((k.to_owned(), Value::Text(v.clone()?))))
    .collect();
    let rows = app
        .store
        .query(
            LayerId::Submissions,
            Query {
                equals,
                ..Query::default()
            },
        )
        .await?;
    let by_id = projects_by_id(app).await?;
    let mut out: Vec<(&Feature, &Feature)> = rows
        .iter()
        .filter_map(|r| Some((r, by_id.get(r.get("project_id").as_str()?)?)))
        .filter(|(r, pr)| {
            may_see(&p, pr)
                && (r.get("status").as_str() != Some("draft")
                    || r.get("author").as_str() == Some(p.username.as_str()))
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.0.updated_at));
    Ok(out
        .into_iter()
        .map(|(r, pr)| Listed::new(r, Some(pr)))
        .collect())
}

/// A submission the caller may see, and its project.
async fn visible_submission(
    app: &App,
    p: &Principal,
    id: &str,
) -> Result<(Feature, Feature), AppError> {
    let missing = || AppError::NotFound(format!("no submission {id}"));
    let row = app
        .store
        .get(LayerId::Submissions, id)
        .await?
        .ok_or_else(missing)?;
    let project = project(app, row.get("project_id").as_str().unwrap_or_default())
        .await?
        .filter(|pr| may_see(p, pr))
        .ok_or_else(missing)?;
    if row.get("status").as_str() == Some("draft")
        && row.get("author").as_str() != Some(p.username.as_str())
    {
        return Err(missing());
    }
    Ok((row, project))
}

/// One submission, with the diff a reviewer checks.
pub async fn submission(app: &App, actor: &Actor, id: &str) -> Result<SubmissionDetail, AppError> {
    let p = principal(actor)?;
    let (row, project) = visible_submission(app, &p, id).await?;
    let form = stored_form(app, row.get("form_id").as_str().unwrap_or_default()).await?;
    let values = parse_json(row.get("values"));
    // Once approved, the project holds the reported values: the diff is the one its approval
    // stored (before → after).
    let diff = match parse_json(row.get("changes")) {
        Json::Array(a) => a
            .into_iter()
            .filter_map(|c| {
                Some(gengxin_report::Change {
                    field: c.get("field")?.as_str()?.to_owned(),
                    label: c.get("label")?.as_str()?.to_owned(),
                    before: c.get("before").cloned().unwrap_or(Json::Null),
                    after: c.get("after").cloned().unwrap_or(Json::Null),
                })
            })
            .collect(),
        _ => gengxin_report::diff(
            &form.fields,
            values.as_object().unwrap_or(&Map::new()),
            &project,
        ),
    };
    let own = row.get("author").as_str() == Some(p.username.as_str());
    let can_review = !own
        && level(&p, &project).is_some_and(|l| {
            gengxin_report::transition(
                form.chain,
                row.get("status").as_str().unwrap_or_default(),
                l,
                Decision::Approve,
            )
            .is_ok()
        });
    Ok(SubmissionDetail {
        submission: Listed::new(&row, Some(&project)),
        form,
        diff,
        project_version: project.version,
        can_review,
    })
}

/// Reviews a submission at the caller's level (district review, city approval). A rejection
/// needs a comment and returns it to its author; the final approval merges it into the master
/// data (the project's fields and a progress report) as one versioned change. A stale version,
/// or a project changed since the reviewer looked, is a conflict and applies nothing.
pub async fn review(
    app: &App,
    actor: &Actor,
    id: &str,
    version: i64,
    decision: &str,
    comment: &str,
) -> Result<Listed, AppError> {
    let p = principal(actor)?;
    let (row, project) = visible_submission(app, &p, id).await?;
    let comment = comment.trim();
    let decided = match decision {
        "approve" => Decision::Approve,
        "reject" if !comment.is_empty() => Decision::Reject,
        "reject" => {
            return Err(AppError::Unprocessable(
                "a rejection needs a comment".into(),
            ));
        }
        _ => return Err(AppError::BadRequest("decision is approve or reject".into())),
    };
    let form = stored_form(app, row.get("form_id").as_str().unwrap_or_default()).await?;
    let level = level(&p, &project).ok_or(AppError::Denied(Denied::Forbidden))?;
    if row.get("author").as_str() == Some(p.username.as_str()) {
        return Err(AppError::Forbidden(
            "nobody reviews their own submission: another reviewer of this level decides".into(),
        ));
    }
    if version != row.version {
        return Err(AppError::Conflict(format!(
            "the submission is at version {}, you reviewed version {version}",
            row.version
        )));
    }
    let status = row.get("status").as_str().unwrap_or_default();
    let next =
        gengxin_report::transition(form.chain, status, level, decided).map_err(|e| match e {
            gengxin_report::ReviewError::WrongLevel(_) => AppError::Denied(Denied::Forbidden),
            e => AppError::Conflict(e.to_string()),
        })?;
    let now = app.now();
    let mut reviews = match parse_json(row.get("reviews")) {
        Json::Array(a) => a,
        _ => Vec::new(),
    };
    reviews.push(serde_json::json!({
        "by": p.username, "level": match level { Level::District => "district", Level::City => "city" },
        "decision": decision, "comment": comment, "at": gengxin_model::timestamp(&now),
    }));
    let mut updated = row.clone();
    updated.version = version;
    updated.updated_at = now.max(row.updated_at);
    updated.properties.insert("status".into(), next.into());
    updated
        .properties
        .insert("reviews".into(), Json::Array(reviews).to_string().into());
    let mut edit = Edit::default();
    if next == "approved" {
        let values = parse_json(row.get("values"));
        let values = values.as_object().cloned().unwrap_or_default();
        let merged = gengxin_report::merge(&form.fields, &values, &project);
        let changes = gengxin_report::diff(&form.fields, &values, &project);
        updated.properties.insert(
            "changes".into(),
            serde_json::to_string(&changes)
                .expect("changes serialise")
                .into(),
        );
        let change = crate::history::entry(
            Layer::by_id(LayerId::Projects),
            &project.id,
            Some(&project),
            Some(&Feature {
                version: project.version + 1,
                ..merged.clone()
            }),
            &p.username,
            Some(id),
            now,
        );
        updated
            .properties
            .insert("change_id".into(), change.id.clone().into());
        let mut m = merged;
        m.updated_at = now.max(project.updated_at);
        edit.update.push((LayerId::Projects, vec![m]));
        edit.insert.push((LayerId::RecordHistory, vec![change]));
        if let Some(r) = progress_report(id, &row, &values, now) {
            edit.insert.push((LayerId::ProgressReports, vec![r]));
        }
    }
    edit.update.push((LayerId::Submissions, vec![updated]));
    let rec = record(actor, "review", id, format!("{status} → {next}"));
    app.apply(edit, vec![rec]).await.map_err(conflict)?;
    let stored = app
        .store
        .get(LayerId::Submissions, id)
        .await?
        .ok_or_else(|| AppError::NotFound("gone".into()))?;
    Ok(Listed::new(&stored, Some(&project)))
}

/// The progress report an approved submission adds (when it reports stage and progress).
fn progress_report(
    id: &str,
    row: &Feature,
    values: &Map<String, Json>,
    now: DateTime<Utc>,
) -> Option<Feature> {
    let stage = values.get("stage")?.as_str()?;
    let pct = values.get("progress_pct")?.as_f64()?;
    let mut r = Feature::new(format!("rpt-{id}"), "reported", now)
        .set("project_id", row.get("project_id").as_str()?)
        .set("period", row.get("period").as_str()?)
        .set("report_date", now.date_naive().to_string())
        .set("stage", stage)
        .set("progress_pct", pct)
        .set("reported_by", row.get("author").as_str()?);
    if let Some(x) = values.get("investment_done_wan").and_then(Json::as_f64) {
        r = r.set("investment_done_wan", x);
    }
    if let Some(n) = values.get("note").and_then(Json::as_str) {
        r = r.set("note", n);
    }
    Some(r)
}

/// A task's status at `now`: the stored one, except that a task still `open` once its deadline
/// day (China time) has ended is `overdue`, as the mark-overdue job will store it (the job runs
/// every [`crate::jobs::POLL`], and only while a server runs, so the stored status may lag).
/// My tasks and the calendar count with this one definition: 未报 = open + overdue.
pub fn task_status(task: &Feature, now: DateTime<Utc>) -> &str {
    let stored = task.get("status").as_str().unwrap_or_default();
    let past = task
        .get("deadline")
        .as_str()
        .and_then(|d| chrono::NaiveDate::parse_from_str(d, "%Y-%m-%d").ok())
        .is_some_and(|d| now >= crate::jobs::end_of_day(d));
    if stored == "open" && past {
        "overdue"
    } else {
        stored
    }
}

/// A task as listed at `now`: with its status by [`task_status`].
fn task_at(task: &Feature, now: DateTime<Utc>) -> Feature {
    let mut t = task.clone();
    let st = task_status(task, now).to_owned();
    t.properties.insert("status".into(), st.into());
    t
}

/// My tasks: reports to fill (open or overdue, in my scope), submissions awaiting my review,
/// and my drafts and returned submissions.
pub async fn tasks(app: &App, actor: &Actor) -> Result<Tasks, AppError> {
    let p = principal(actor)?;
    let by_id = projects_by_id(app).await?;
    let project_of = |r: &Feature| by_id.get(r.get("project_id").as_str().unwrap_or_default());
    let now = app.now();
    let open = app
        .store
        .query(LayerId::ReportTasks, Query::default())
        .await?;
    let to_fill = if matches!(p.role, Role::District | Role::Entity) {
        open.iter()
            .filter(|t| t.get("status").as_str() != Some("submitted"))
            .filter_map(|t| {
                let pr = project_of(t)?;
                may_report(&p, pr).then(|| Listed::new(&task_at(t, now), Some(pr)))
            })
            .collect()
    } else {
        Vec::new()
    };
    let forms: HashMap<String, Form> = app
        .store
        .query(LayerId::ReportForms, Query::default())
        .await?
        .iter()
        .filter_map(|f| Form::of(f).ok().map(|f| (f.id.clone(), f)))
        .collect();
    let subs = app
        .store
        .query(LayerId::Submissions, Query::default())
        .await?;
    let to_review = subs
        .iter()
        .filter_map(|r| {
            let pr = project_of(r)?;
            let form = forms.get(r.get("form_id").as_str()?)?;
            let l = level(&p, pr)?;
            gengxin_report::transition(form.chain, r.get("status").as_str()?, l, Decision::Approve)
                .ok()
                .map(|_| Listed::new(r, Some(pr)))
        })
        .collect();
    let returned_or_draft = subs
        .iter()
        .filter(|r| {
            r.get("author").as_str() == Some(p.username.as_str())
                && matches!(r.get("status").as_str(), Some("draft" | "rejected"))
        })
        .map(|r| Listed::new(r, project_of(r)))
        .collect();
    Ok(Tasks {
        to_fill,
        to_review,
        returned_or_draft,
    })
}

/// The reporting calendar and who has not reported: per form and period (newest first), the
/// deadline and the tasks by state ([`task_status`]: tasks = submitted + open + overdue, and
/// `missing` is the open and overdue ones). District users see their district.
pub async fn status(
    app: &App,
    actor: &Actor,
    form: Option<&str>,
    period: Option<&str>,
) -> Result<Vec<PeriodStatus>, AppError> {
    let p = principal(actor)?;
    if !matches!(p.role, Role::CityAdmin | Role::CityLeader | Role::District) {
        return Err(Denied::Forbidden.into());
    }
    let mut equals: Vec<(String, Value)> = [("form_code", form), ("period", period)]
        .into_iter()
        .filter_map(|(k, v)| Some((k.to_owned(), Value::Text(v?.to_owned()))))
        .collect();
    if p.role == Role::District {
        equals.push((
            "district_code".to_owned(),
            Value::Text(p.district.clone().unwrap_or_default()),
        ));
    }
    let rows = app
        .store
        .query(
            LayerId::ReportTasks,
            Query {
                equals,
                ..Query::default()
            },
        )
        .await?;
    let by_id = projects_by_id(app).await?;
    let now = app.now();
    let rows: Vec<Feature> = rows.iter().map(|t| task_at(t, now)).collect();
    let mut periods: BTreeMap<(String, String), Vec<&Feature>> = BTreeMap::new();
    for t in &rows {
        let text = |k: &str| t.get(k).as_str().unwrap_or_default().to_owned();
        periods
            .entry((text("form_code"), text("period")))
            .or_default()
            .push(t);
    }
    Ok(periods
        .into_iter()
        .rev()
        .map(|((form_code, period), ts)| {
            let count = |st: &str| {
                ts.iter()
                    .filter(|t| t.get("status").as_str() == Some(st))
                    .count()
            };
            PeriodStatus {
                deadline: ts
                    .first()
                    .and_then(|t| t.get("deadline").as_str().map(str::to_owned)),
                tasks: ts.len(),
                submitted: count("submitted"),
                open: count("open"),
                overdue: count("overdue"),
                missing: ts
                    .iter()
                    .filter(|t| t.get("status").as_str() != Some("submitted"))
                    .map(|t| {
                        let pr = by_id.get(t.get("project_id").as_str().unwrap_or_default());
                        Listed::new(t, pr)
                    })
                    .collect(),
                form_code,
                period,
            }
        })
        .collect())
}

/// The bulk-reporting template of a form for a period: one row per project the caller reports
/// on, one column per field (`label [name]`).
pub async fn template(
    app: &App,
    actor: &Actor,
    form_id: &str,
    period: &str,
) -> Result<Template, AppError> {
    let p = principal(actor)?;
    let form = stored_form(app, form_id).await?;
    let period = form.period(period)?;
    let projects = app.snapshot(LayerId::Projects).await?;
    let mine: Vec<&Feature> = projects
        .features
        .iter()
        .filter(|pr| may_report(&p, pr))
        .collect();
    if mine.is_empty() {
        return Err(Denied::Forbidden.into());
    }
    let mut header = vec![
        "项目ID [project_id]".to_owned(),
        "项目名称 [project_name]".to_owned(),
        "所属区 [district_code]".to_owned(),
    ];
    header.extend(form.fields.iter().map(|f| match &f.unit {
        Some(u) => format!("{}({u}) [{}]", f.label, f.name),
        None => format!("{} [{}]", f.label, f.name),
    }));
    let rows: Vec<Vec<String>> = mine
        .iter()
        .map(|pr| {
            let text = |k: &str| pr.get(k).as_str().unwrap_or_default().to_owned();
            let mut r = vec![pr.id.clone(), text("name"), text("district_code")];
            r.extend(form.fields.iter().map(|_| String::new()));
            r
        })
        .collect();
    Ok(Template {
        bytes: gengxin_io::sheet::write(&period.to_string(), &header, &rows)?,
        file_name: format!("{}-{period}.xlsx", form.code),
    })
}

/// Takes a filled template: every row is checked (project in scope, values valid) and
/// reported; the valid rows become submitted submissions, all in one transaction. The same
/// file again creates nothing new.
pub async fn upload(
    app: &App,
    actor: &Actor,
    form_id: &str,
    period: &str,
    body: &[u8],
) -> Result<UploadReport, AppError> {
    let p = principal(actor)?;
    let form = stored_form(app, form_id).await?;
    let period = form.period(period)?.to_string();
    let rows = gengxin_io::sheet::read("upload.xlsx", body)?;
    let Some((head, data)) = rows.split_first() else {
        return Err(AppError::BadRequest("the workbook is empty".into()));
    };
    // Columns by the `[name]` at the end of each header.
    let names: Vec<Option<String>> = head
        .iter()
        .map(|h| {
            h.rsplit_once('[')
                .and_then(|(_, n)| n.strip_suffix(']'))
                .map(str::to_owned)
        })
        .collect();
    let col = |n: &str| names.iter().position(|c| c.as_deref() == Some(n));
    let project_col = col("project_id").ok_or_else(|| {
        AppError::BadRequest("no 项目ID [project_id] column: use the template".into())
    })?;
    let file_hash = secret::digest(&String::from_utf8_lossy(body));
    let by_id = projects_by_id(app).await?;
    let now = app.now();
    let mut report = Vec::new();
    let mut edit = Edit::default();
    let mut new_rows = Vec::new();
    let mut records = Vec::new();
    for (i, r) in data.iter().enumerate() {
        let line = i + 2;
        let pid = r.get(project_col).cloned().unwrap_or_default();
        let mut out = UploadRow {
            row: line,
            project_id: pid.clone(),
            submission_id: None,
            duplicate: false,
            errors: Vec::new(),
        };
        let Some(pr) = by_id.get(pid.as_str()).filter(|pr| may_report(&p, pr)) else {
            out.errors.push(FieldError {
                field: "project_id".into(),
                message: "不是你可填报的项目 (not a project you report on)".into(),
            });
            report.push(out);
            continue;
        };
        let mut values = Map::new();
        for f in &form.fields {
            if let Some(c) = col(&f.name)
                && let Some(v) = r.get(c).filter(|v| !v.trim().is_empty())
            {
                values.insert(f.name.clone(), Json::from(v.trim()));
            }
        }
        let base = baseline(app, &form, pr, None).await?;
        let checked = gengxin_report::validate(&form.fields, &values, true).and_then(|v| {
            // A sheet has no notes: errors refuse the row, warnings go to the reviewers.
            let found = gengxin_report::check(
                &form.fields,
                &v,
                &base.values,
                &Map::new(),
                now.date_naive(),
            );
            let errors: Vec<FieldError> = found
                .iter()
                .filter(|f| f.severity == gengxin_report::Severity::Error)
                .map(|f| FieldError {
                    field: f.field.clone(),
                    message: f.message.clone(),
                })
                .collect();
            if errors.is_empty() {
                Ok((v, found))
            } else {
                Err(errors)
            }
        });
        match checked {
            Err(errors) => out.errors = errors,
            Ok((values, found)) => {
                let sid = submission_id(&p, Some(&format!("{file_hash}:{line}")));
                out.submission_id = Some(sid.clone());
                if app.store.get(LayerId::Submissions, &sid).await?.is_some() {
                    out.duplicate = true;
                    report.push(out);
                    continue;
                }
                new_rows.push(
                    Feature::new(sid.clone(), "upload", now)
                        .set("form_id", form.id.as_str())
                        .set("project_id", pid.as_str())
                        .set(
                            "district_code",
                            pr.get("district_code").as_str().unwrap_or_default(),
                        )
                        .set("period", period.as_str())
                        .set("status", "submitted")
                        .set("values", Json::Object(values).to_string())
                        .set("author", p.username.as_str())
                        .set("submitted_at", gengxin_model::timestamp(&now))
                        .set("checks", findings_json(&found)),
                );
                task_done(app, &mut edit, &form, &period, &pid, &sid).await?;
                records.push(record(actor, "submit", &sid, format!("bulk row {line}")));
            }
        }
        report.push(out);
    }
    let accepted = new_rows.len();
    if accepted > 0 {
        edit.insert.push((LayerId::Submissions, new_rows));
        // Tasks of one project twice in one file: keep the last update only once.
        for (_, ts) in &mut edit.update {
            let mut seen = HashSet::new();
            ts.retain(|t| seen.insert(t.id.clone()));
        }
        app.apply(edit, records).await.map_err(conflict)?;
    }
    Ok(UploadReport {
        accepted,
        rows: report,
    })
}
