//! The "+1" update mechanism on the wire: report forms (versioned), submissions (draft →
//! submitted → district review → city approval, or returned with comments), the merge of an
//! approved submission into the master data as one versioned change, my tasks, who has not
//! reported, and bulk reporting through a spreadsheet.
//!
//! Every state change is one store transaction with its audit record and checks the version
//! the actor read: two reviewers acting at once get one success and one 409, and nothing is
//! applied twice.

use std::collections::HashMap;

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use gengxin_auth::policy::{Denied, require_admin, require_login};
use gengxin_auth::{Principal, Role, secret};
use gengxin_model::{Feature, Layer, LayerId, Value};
use gengxin_report::{Chain, Decision, Level, Period};
use gengxin_store::{Edit, Query, StoreError};
use serde::Deserialize;
use serde_json::{Value as Json_, json};

use crate::audit::{self, Record};
use crate::extract::ApiPath;
use crate::who::{Who, allow};
use crate::{ApiError, AppState};
use gengxin_app::reporting::Form;

fn form_json(f: &Form) -> Json_ {
    json!({
        "id": f.id, "code": f.code, "version": f.version, "name": f.name,
        "renewal_kind": f.renewal_kind, "fields": f.fields,
        "review_chain": match f.chain { Chain::DistrictCity => "district_city", Chain::City => "city", Chain::District => "district" },
        "cycle": if f.quarterly { "quarterly" } else { "monthly" },
        "deadline_day": f.deadline_day, "remind_days": f.remind_days, "active": f.active,
    })
}

async fn form(s: &AppState, id: &str) -> Result<Form, ApiError> {
    let row = s
        .store
        .get(LayerId::ReportForms, id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no form {id:?}; see /api/forms")))?;
    Ok(Form::of(&row)?)
}

/// May this user report on this project (fill its forms)?
pub(crate) fn may_report(p: &Principal, project: &Feature) -> bool {
    match p.role {
        Role::CityAdmin => true,
        Role::District => {
            p.district.is_some() && project.get("district_code").as_str() == p.district.as_deref()
        }
        Role::Entity => p.projects.contains(&project.id),
        Role::CityLeader | Role::CommunityWorker => false,
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

async fn project(s: &AppState, id: &str) -> Result<Option<Feature>, ApiError> {
    Ok(s.store.get(LayerId::Projects, id).await?)
}

fn parse_json(v: &Value) -> Json_ {
    v.as_str()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(Json_::Null)
}

fn submission_json(f: &Feature, project: Option<&Feature>) -> Json_ {
    let t = |k: &str| f.get(k).as_str();
    json!({
        "id": f.id, "form_id": t("form_id"), "project_id": t("project_id"),
        "project_name": project.and_then(|p| p.get("name").as_str()),
        "district_code": t("district_code"), "period": t("period"), "status": t("status"),
        "values": parse_json(f.get("values")), "author": t("author"),
        "submitted_at": t("submitted_at"),
        "reviews": match parse_json(f.get("reviews")) { Json_::Null => json!([]), r => r },
        "change_id": t("change_id"), "version": f.version,
        "created_at": gengxin_model::timestamp(&f.created_at),
        "updated_at": gengxin_model::timestamp(&f.updated_at),
    })
}

fn conflict(e: StoreError) -> ApiError {
    match e {
        StoreError::Conflict { .. } => ApiError::conflict(
            "someone else acted on this first; reload and look again (nothing was applied)",
        ),
        e => e.into(),
    }
}

fn record(who: &Who, action: &'static str, id: &str, detail: String) -> Record {
    let mut r = audit::record(who, action, "ok");
    r.target_layer = "submissions".into();
    r.target_id = id.to_owned();
    r.detail = detail;
    r
}

/// Active report forms (the latest version of each).
#[utoipa::path(get, path = "/api/forms", operation_id = "reporting_forms", responses(
    (status = 200, description = "Forms", body = Object),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn forms(State(s): State<AppState>, who: Who) -> Result<Json<Json_>, ApiError> {
    allow(require_login(&who.caller))?;
    let rows = s
        .store
        .query(LayerId::ReportForms, Query::default())
        .await?;
    let forms: Vec<Json_> = rows
        .iter()
        .map(Form::of)
        .collect::<Result<Vec<_>, _>>()?
        .into_iter()
        .filter(|f| f.active)
        .map(|f| form_json(&f))
        .collect();
    Ok(Json(json!(forms)))
}

/// One form version.
#[utoipa::path(get, path = "/api/forms/{id}", operation_id = "reporting_one_form", params(("id" = String, Path)), responses(
    (status = 200, description = "The form", body = Object),
    (status = 404, description = "No such form", body = crate::error::ErrorBody),
))]
pub async fn one_form(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Json_>, ApiError> {
    allow(require_login(&who.caller))?;
    Ok(Json(form_json(&form(&s, &id).await?)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewForm {
    /// Stable code; a new definition of an existing code is its next version.
    code: String,
    name: String,
    #[serde(default)]
    renewal_kind: Option<String>,
    #[schema(value_type = Object)]
    fields: Json_,
    /// district_city, city or district.
    review_chain: String,
    /// monthly or quarterly.
    cycle: String,
    /// Days after the period's end the report is due.
    deadline_day: u32,
    /// Days before the deadline the reminder goes out.
    remind_days: u32,
}

/// Defines a form, or the next version of one (city administrator). The current period opens
/// at once: the job queue creates its reporting tasks.
#[utoipa::path(post, path = "/api/forms", operation_id = "reporting_create_form", request_body = NewForm, responses(
    (status = 201, description = "The new form version", body = Object),
    (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
    (status = 422, description = "A bad definition", body = crate::error::ErrorBody),
))]
pub async fn create_form(
    State(s): State<AppState>,
    who: Who,
    Json(b): Json<NewForm>,
) -> Result<(StatusCode, Json<Json_>), ApiError> {
    allow(require_admin(&who.caller))?;
    let fields = gengxin_report::parse_fields(&b.fields.to_string())
        .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    if Chain::from_code(&b.review_chain).is_none()
        || !["monthly", "quarterly"].contains(&b.cycle.as_str())
    {
        return Err(ApiError::unprocessable(
            "review_chain is district_city, city or district; cycle is monthly or quarterly",
        ));
    }
    let ok_code = (1..=40).contains(&b.code.len())
        && b.code
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == '-');
    if !ok_code || b.deadline_day > 60 || b.remind_days > 60 {
        return Err(ApiError::unprocessable(
            "code is 1–40 letters, digits, '-' or '_'; deadline_day and remind_days at most 60",
        ));
    }
    let now = Utc::now();
    let existing: Vec<Feature> = s
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
    let job = gengxin_app::jobs::Job::OpenPeriod {
        form_code: b.code.clone(),
        period,
    }
    .row(now);
    let mut edit = Edit {
        update: vec![(LayerId::ReportForms, retired)],
        insert: vec![(LayerId::ReportForms, vec![row.clone()])],
        ..Edit::default()
    };
    if s.store.get(LayerId::Jobs, &job.id).await?.is_none() {
        edit.insert.push((LayerId::Jobs, vec![job]));
    }
    let mut rec = audit::record(&who, "write", "ok");
    rec.target_layer = "report_forms".into();
    rec.target_id = row.id.clone();
    rec.detail = format!("form {} version {version}", b.code);
    audit::apply(&s, edit, vec![rec]).await.map_err(conflict)?;
    Ok((StatusCode::CREATED, Json(form_json(&Form::of(&row)?))))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewSubmission {
    form_id: String,
    project_id: String,
    period: String,
    #[schema(value_type = Object)]
    values: serde_json::Map<String, Json_>,
    /// Submit for review now (else a draft).
    #[serde(default)]
    submit: bool,
}

/// A submission's id: from the caller's `Idempotency-Key` when sent (a retried request finds
/// the first one), else random.
fn submission_id(p: &Principal, key: Option<&str>) -> String {
    match key {
        Some(k) => format!(
            "sub-{}",
            &secret::digest(&format!("{}\n{k}", p.user_id))[..24]
        ),
        None => format!("sub-{}", &secret::new_token("")[..24]),
    }
}

fn invalid(errors: Vec<gengxin_report::FieldError>) -> ApiError {
    ApiError::unprocessable(
        errors
            .iter()
            .map(|e| format!("{}: {}", e.field, e.message))
            .collect::<Vec<_>>()
            .join("; "),
    )
}

/// The task of a project for a form and period, if the cycle made one.
fn task_id(form_code: &str, period: &str, project: &str) -> String {
    format!("task:{form_code}:{period}:{project}")
}

/// Marks a project's task of the period submitted, in the submission's transaction.
async fn task_done(
    s: &AppState,
    edit: &mut Edit,
    form: &Form,
    period: &str,
    project: &str,
    submission: &str,
) -> Result<(), ApiError> {
    if let Some(mut t) = s
        .store
        .get(LayerId::ReportTasks, &task_id(&form.code, period, project))
        .await?
    {
        t.properties.insert("status".into(), "submitted".into());
        t.properties
            .insert("submission_id".into(), submission.into());
        t.updated_at = Utc::now().max(t.updated_at);
        edit.update.push((LayerId::ReportTasks, vec![t]));
    }
    Ok(())
}

/// Fills a form for a project and period: a draft, or submitted for review (`submit`). Send an
/// `Idempotency-Key` header to make a retry safe: the same key answers the first submission.
#[utoipa::path(post, path = "/api/submissions", operation_id = "reporting_create_submission", request_body = NewSubmission, responses(
    (status = 201, description = "Created", body = Object),
    (status = 200, description = "The same Idempotency-Key was seen: the first submission", body = Object),
    (status = 403, description = "Not a reporter of this project", body = crate::error::ErrorBody),
    (status = 422, description = "Invalid values, per field", body = crate::error::ErrorBody),
))]
pub async fn create_submission(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    Json(b): Json<NewSubmission>,
) -> Result<(StatusCode, Json<Json_>), ApiError> {
    let p = allow(require_login(&who.caller))?.clone();
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .filter(|k| (1..=200).contains(&k.len()));
    let id = submission_id(&p, key);
    if key.is_some()
        && let Some(first) = s.store.get(LayerId::Submissions, &id).await?
    {
        return Ok((StatusCode::OK, Json(submission_json(&first, None))));
    }
    let form = form(&s, &b.form_id).await?;
    if !form.active {
        return Err(ApiError::unprocessable(format!(
            "form {} has a newer version; fill that one",
            form.id
        )));
    }
    let period = form.period(&b.period)?.to_string();
    let project = project(&s, &b.project_id)
        .await?
        .filter(|pr| may_see(&p, pr))
        .ok_or_else(|| ApiError::not_found(format!("no project {:?}", b.project_id)))?;
    if !may_report(&p, &project) {
        return Err(ApiError::from(Denied::Forbidden));
    }
    let values = gengxin_report::validate(&form.fields, &b.values, b.submit).map_err(invalid)?;
    let now = Utc::now();
    let row = Feature::new(id.clone(), "manual", now)
        .set("form_id", form.id.as_str())
        .set("project_id", project.id.as_str())
        .set(
            "district_code",
            project.get("district_code").as_str().unwrap_or_default(),
        )
        .set("period", period.as_str())
        .set("status", if b.submit { "submitted" } else { "draft" })
        .set("values", Json_::Object(values).to_string())
        .set("author", p.username.as_str())
        .set(
            "submitted_at",
            b.submit.then(|| gengxin_model::timestamp(&now)),
        )
        .set("idempotency_key", key.map(str::to_owned));
    let mut edit = Edit {
        insert: vec![(LayerId::Submissions, vec![row.clone()])],
        ..Edit::default()
    };
    if b.submit {
        task_done(&s, &mut edit, &form, &period, &project.id, &id).await?;
    }
    let action = if b.submit { "submit" } else { "write" };
    let detail = format!("{} {} {period}", form.id, project.id);
    match audit::apply(&s, edit, vec![record(&who, action, &id, detail)]).await {
        Ok(()) => Ok((
            StatusCode::CREATED,
            Json(submission_json(&row, Some(&project))),
        )),
        // The same key raced itself: the other request made it.
        Err(StoreError::Duplicate {
            layer: "submissions",
            ..
        }) if key.is_some() => {
            let first = s
                .store
                .get(LayerId::Submissions, &id)
                .await?
                .ok_or_else(|| ApiError::conflict("try again"))?;
            Ok((StatusCode::OK, Json(submission_json(&first, None))))
        }
        Err(e) => Err(conflict(e)),
    }
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct SubmissionEdit {
    /// The version read; a stale one answers 409.
    version: i64,
    #[schema(value_type = Object)]
    values: serde_json::Map<String, Json_>,
    #[serde(default)]
    submit: bool,
}

/// Changes a draft or a returned submission (its author only), and optionally submits it.
#[utoipa::path(put, path = "/api/submissions/{id}", operation_id = "reporting_edit_submission", params(("id" = String, Path)),
    request_body = SubmissionEdit, responses(
    (status = 200, description = "Saved", body = Object),
    (status = 404, description = "No such submission of yours", body = crate::error::ErrorBody),
    (status = 409, description = "Changed meanwhile, or not editable in its state", body = crate::error::ErrorBody),
    (status = 422, description = "Invalid values", body = crate::error::ErrorBody),
))]
pub async fn edit_submission(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    Json(b): Json<SubmissionEdit>,
) -> Result<Json<Json_>, ApiError> {
    let p = allow(require_login(&who.caller))?.clone();
    let current = s
        .store
        .get(LayerId::Submissions, &id)
        .await?
        .filter(|f| f.get("author").as_str() == Some(p.username.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("you have no submission {id}")))?;
    let status = current
        .get("status")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    if !matches!(status.as_str(), "draft" | "rejected") {
        return Err(ApiError::conflict(format!(
            "the submission is {status}: only drafts and returned submissions change"
        )));
    }
    let form = form(&s, current.get("form_id").as_str().unwrap_or_default()).await?;
    let values = gengxin_report::validate(&form.fields, &b.values, b.submit).map_err(invalid)?;
    let now = Utc::now();
    let mut row = current.clone();
    row.version = b.version;
    row.updated_at = now.max(current.updated_at);
    row.properties
        .insert("values".into(), Json_::Object(values).to_string().into());
    let mut edit = Edit::default();
    if b.submit {
        row.properties.insert("status".into(), "submitted".into());
        row.properties
            .insert("submitted_at".into(), gengxin_model::timestamp(&now).into());
        let period = current
            .get("period")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let project = current
            .get("project_id")
            .as_str()
            .unwrap_or_default()
            .to_owned();
        task_done(&s, &mut edit, &form, &period, &project, &id).await?;
    }
    edit.update.push((LayerId::Submissions, vec![row]));
    let action = if b.submit { "submit" } else { "write" };
    audit::apply(&s, edit, vec![record(&who, action, &id, "edited".into())])
        .await
        .map_err(conflict)?;
    let stored = s
        .store
        .get(LayerId::Submissions, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("gone"))?;
    Ok(Json(submission_json(&stored, None)))
}

/// Submissions the caller may see, newest first: filter by `status`, `project_id`, `period`,
/// `form_id`.
#[utoipa::path(get, path = "/api/submissions", operation_id = "reporting_submissions",
    params(("status" = Option<String>, Query), ("project_id" = Option<String>, Query),
        ("period" = Option<String>, Query), ("form_id" = Option<String>, Query)),
    responses(
        (status = 200, description = "Submissions", body = Object),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
    ))]
pub async fn submissions(
    State(s): State<AppState>,
    who: Who,
    RawQuery(raw): RawQuery,
) -> Result<Json<Json_>, ApiError> {
    let p = allow(require_login(&who.caller))?.clone();
    let mut equals = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "status" | "project_id" | "period" | "form_id" => {
                equals.push((k.into_owned(), Value::Text(v.into_owned())))
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}; use status, project_id, period, form_id"
                )));
            }
        }
    }
    let rows = s
        .store
        .query(
            LayerId::Submissions,
            Query {
                equals,
                ..Query::default()
            },
        )
        .await?;
    let projects = s.snapshots.get(&*s.store, LayerId::Projects).await?;
    let by_id: HashMap<&str, &Feature> = projects
        .features
        .iter()
        .map(|f| (f.id.as_str(), f))
        .collect();
    let mut out: Vec<(&Feature, Option<&&Feature>)> = rows
        .iter()
        .map(|r| {
            (
                r,
                by_id.get(r.get("project_id").as_str().unwrap_or_default()),
            )
        })
        .filter(|(r, pr)| {
            pr.is_some_and(|pr| may_see(&p, pr))
                && (r.get("status").as_str() != Some("draft")
                    || r.get("author").as_str() == Some(p.username.as_str()))
        })
        .collect();
    out.sort_by_key(|r| std::cmp::Reverse(r.0.updated_at));
    Ok(Json(json!(
        out.iter()
            .map(|(r, pr)| submission_json(r, pr.copied()))
            .collect::<Vec<_>>()
    )))
}

/// One submission, with the diff a reviewer checks: each project field it would change, its
/// current value and the reported one.
#[utoipa::path(get, path = "/api/submissions/{id}", operation_id = "reporting_submission", params(("id" = String, Path)), responses(
    (status = 200, description = "The submission and its diff", body = Object),
    (status = 404, description = "No such submission (or not visible)", body = crate::error::ErrorBody),
))]
pub async fn submission(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<Json_>, ApiError> {
    let p = allow(require_login(&who.caller))?.clone();
    let (row, project) = visible_submission(&s, &p, &id).await?;
    let form = form(&s, row.get("form_id").as_str().unwrap_or_default()).await?;
    let values = parse_json(row.get("values"));
    let diff = gengxin_report::diff(
        &form.fields,
        values.as_object().unwrap_or(&serde_json::Map::new()),
        &project,
    );
    let mut body = submission_json(&row, Some(&project));
    body["form"] = form_json(&form);
    body["diff"] = json!(diff);
    body["project_version"] = json!(project.version);
    body["can_review"] = json!(level(&p, &project).is_some_and(|l| {
        gengxin_report::transition(
            form.chain,
            row.get("status").as_str().unwrap_or_default(),
            l,
            Decision::Approve,
        )
        .is_ok()
    }));
    Ok(Json(body))
}

async fn visible_submission(
    s: &AppState,
    p: &Principal,
    id: &str,
) -> Result<(Feature, Feature), ApiError> {
    let missing = || ApiError::not_found(format!("no submission {id}"));
    let row = s
        .store
        .get(LayerId::Submissions, id)
        .await?
        .ok_or_else(missing)?;
    let project = project(s, row.get("project_id").as_str().unwrap_or_default())
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

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Review {
    /// The submission's version the reviewer read.
    version: i64,
    /// approve or reject.
    decision: String,
    #[serde(default)]
    comment: String,
}

/// Reviews a submission at the caller's level (district review, city approval). A rejection
/// needs a comment and returns it to its author; the final approval merges it into the master
/// data (the project's fields and a progress report) as one versioned change. A stale version,
/// or a project changed since the reviewer looked, answers 409 and applies nothing.
#[utoipa::path(post, path = "/api/submissions/{id}/review", operation_id = "reporting_review", params(("id" = String, Path)),
    request_body = Review, responses(
    (status = 200, description = "Reviewed", body = Object),
    (status = 403, description = "Not a reviewer of this step", body = crate::error::ErrorBody),
    (status = 409, description = "Someone acted first", body = crate::error::ErrorBody),
))]
pub async fn review(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    Json(b): Json<Review>,
) -> Result<Json<Json_>, ApiError> {
    let p = allow(require_login(&who.caller))?.clone();
    let (row, project) = visible_submission(&s, &p, &id).await?;
    let decision = match b.decision.as_str() {
        "approve" => Decision::Approve,
        "reject" if !b.comment.trim().is_empty() => Decision::Reject,
        "reject" => return Err(ApiError::unprocessable("a rejection needs a comment")),
        _ => return Err(ApiError::bad_request("decision is approve or reject")),
    };
    let form = form(&s, row.get("form_id").as_str().unwrap_or_default()).await?;
    let level = level(&p, &project).ok_or_else(|| ApiError::from(Denied::Forbidden))?;
    if b.version != row.version {
        return Err(ApiError::conflict(format!(
            "the submission is at version {}, you reviewed version {}",
            row.version, b.version
        )));
    }
    let status = row.get("status").as_str().unwrap_or_default();
    let next =
        gengxin_report::transition(form.chain, status, level, decision).map_err(|e| match e {
            gengxin_report::ReviewError::WrongLevel(_) => ApiError::from(Denied::Forbidden),
            e => ApiError::conflict(e.to_string()),
        })?;
    let now = Utc::now();
    let mut reviews = match parse_json(row.get("reviews")) {
        Json_::Array(a) => a,
        _ => Vec::new(),
    };
    reviews.push(json!({
        "by": p.username, "level": match level { Level::District => "district", Level::City => "city" },
        "decision": b.decision, "comment": b.comment.trim(), "at": gengxin_model::timestamp(&now),
    }));
    let mut updated = row.clone();
    updated.version = b.version;
    updated.updated_at = now.max(row.updated_at);
    updated.properties.insert("status".into(), next.into());
    updated
        .properties
        .insert("reviews".into(), Json_::Array(reviews).to_string().into());
    let mut edit = Edit::default();
    if next == "approved" {
        let values = parse_json(row.get("values"));
        let values = values.as_object().cloned().unwrap_or_default();
        let merged = gengxin_report::merge(&form.fields, &values, &project);
        let projects = Layer::by_id(LayerId::Projects);
        let change = gengxin_app::history::entry(
            projects,
            &project.id,
            Some(&project),
            Some(&Feature {
                version: project.version + 1,
                ..merged.clone()
            }),
            &p.username,
            Some(&id),
            now,
        );
        updated
            .properties
            .insert("change_id".into(), change.id.clone().into());
        let mut m = merged;
        m.updated_at = now.max(project.updated_at);
        edit.update.push((LayerId::Projects, vec![m]));
        edit.insert.push((LayerId::RecordHistory, vec![change]));
        if let Some(r) = progress_report(&id, &row, &values, now) {
            edit.insert.push((LayerId::ProgressReports, vec![r]));
        }
    }
    edit.update.push((LayerId::Submissions, vec![updated]));
    let rec = record(&who, "review", &id, format!("{} → {next}", status));
    audit::apply(&s, edit, vec![rec]).await.map_err(conflict)?;
    let stored = s
        .store
        .get(LayerId::Submissions, &id)
        .await?
        .ok_or_else(|| ApiError::not_found("gone"))?;
    Ok(Json(submission_json(&stored, Some(&project))))
}

/// The progress report an approved submission adds (when it reports stage and progress).
fn progress_report(
    id: &str,
    row: &Feature,
    values: &serde_json::Map<String, Json_>,
    now: chrono::DateTime<Utc>,
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
    if let Some(x) = values.get("investment_done_wan").and_then(Json_::as_f64) {
        r = r.set("investment_done_wan", x);
    }
    if let Some(n) = values.get("note").and_then(Json_::as_str) {
        r = r.set("note", n);
    }
    Some(r)
}

/// My tasks: reports to fill (open or overdue, in my scope) and submissions awaiting my review.
#[utoipa::path(get, path = "/api/tasks", operation_id = "reporting_tasks", responses(
    (status = 200, description = "To fill and to review", body = Object),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn tasks(State(s): State<AppState>, who: Who) -> Result<Json<Json_>, ApiError> {
    let p = allow(require_login(&who.caller))?.clone();
    let projects = s.snapshots.get(&*s.store, LayerId::Projects).await?;
    let by_id: HashMap<&str, &Feature> = projects
        .features
        .iter()
        .map(|f| (f.id.as_str(), f))
        .collect();
    let open = s
        .store
        .query(LayerId::ReportTasks, Query::default())
        .await?;
    let to_fill: Vec<Json_> = if matches!(p.role, Role::District | Role::Entity) {
        open.iter()
            .filter(|t| t.get("status").as_str() != Some("submitted"))
            .filter_map(|t| {
                let pr = by_id.get(t.get("project_id").as_str()?)?;
                may_report(&p, pr).then(|| task_json(t, Some(pr)))
            })
            .collect()
    } else {
        Vec::new()
    };
    let forms: HashMap<String, Form> = s
        .store
        .query(LayerId::ReportForms, Query::default())
        .await?
        .iter()
        .filter_map(|f| Form::of(f).ok().map(|f| (f.id.clone(), f)))
        .collect();
    let subs = s
        .store
        .query(LayerId::Submissions, Query::default())
        .await?;
    let to_review: Vec<Json_> = subs
        .iter()
        .filter_map(|r| {
            let pr = by_id.get(r.get("project_id").as_str()?)?;
            let form = forms.get(r.get("form_id").as_str()?)?;
            let l = level(&p, pr)?;
            gengxin_report::transition(form.chain, r.get("status").as_str()?, l, Decision::Approve)
                .ok()
                .map(|_| submission_json(r, Some(pr)))
        })
        .collect();
    let mine: Vec<Json_> = subs
        .iter()
        .filter(|r| {
            r.get("author").as_str() == Some(p.username.as_str())
                && matches!(r.get("status").as_str(), Some("draft" | "rejected"))
        })
        .map(|r| {
            submission_json(
                r,
                by_id
                    .get(r.get("project_id").as_str().unwrap_or_default())
                    .copied(),
            )
        })
        .collect();
    Ok(Json(
        json!({ "to_fill": to_fill, "to_review": to_review, "returned_or_draft": mine }),
    ))
}

fn task_json(t: &Feature, project: Option<&Feature>) -> Json_ {
    let g = |k: &str| t.get(k).as_str();
    json!({
        "id": t.id, "form_code": g("form_code"), "project_id": g("project_id"),
        "project_name": project.and_then(|p| p.get("name").as_str()),
        "district_code": g("district_code"), "period": g("period"), "deadline": g("deadline"),
        "status": g("status"), "submission_id": g("submission_id"), "reminded_at": g("reminded_at"),
    })
}

/// The reporting calendar and who has not reported: per form and period, the deadline and the
/// tasks by state (`form`, `period` filter; district users see their district).
#[utoipa::path(get, path = "/api/reporting/status", operation_id = "reporting_status",
    params(("form" = Option<String>, Query, description = "Form code"), ("period" = Option<String>, Query)),
    responses(
        (status = 200, description = "Periods with their tasks", body = Object),
        (status = 403, description = "Not city staff or a district user", body = crate::error::ErrorBody),
    ))]
pub async fn status(
    State(s): State<AppState>,
    who: Who,
    RawQuery(raw): RawQuery,
) -> Result<Json<Json_>, ApiError> {
    let p = allow(require_login(&who.caller))?.clone();
    if !matches!(p.role, Role::CityAdmin | Role::CityLeader | Role::District) {
        return Err(ApiError::from(Denied::Forbidden));
    }
    let mut equals = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "form" => equals.push(("form_code".to_owned(), Value::Text(v.into_owned()))),
            "period" => equals.push(("period".to_owned(), Value::Text(v.into_owned()))),
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}; use form, period"
                )));
            }
        }
    }
    if p.role == Role::District {
        equals.push((
            "district_code".to_owned(),
            Value::Text(p.district.clone().unwrap_or_default()),
        ));
    }
    let rows = s
        .store
        .query(
            LayerId::ReportTasks,
            Query {
                equals,
                ..Query::default()
            },
        )
        .await?;
    let projects = s.snapshots.get(&*s.store, LayerId::Projects).await?;
    let by_id: HashMap<&str, &Feature> = projects
        .features
        .iter()
        .map(|f| (f.id.as_str(), f))
        .collect();
    let mut periods: std::collections::BTreeMap<(String, String), Vec<&Feature>> =
        Default::default();
    for t in &rows {
        let key = (
            t.get("form_code").as_str().unwrap_or_default().to_owned(),
            t.get("period").as_str().unwrap_or_default().to_owned(),
        );
        periods.entry(key).or_default().push(t);
    }
    let out: Vec<Json_> = periods
        .iter()
        .rev()
        .map(|((form, period), ts)| {
            let count = |st: &str| ts.iter().filter(|t| t.get("status").as_str() == Some(st)).count();
            json!({
                "form_code": form, "period": period,
                "deadline": ts.first().and_then(|t| t.get("deadline").as_str()),
                "tasks": ts.len(), "submitted": count("submitted"), "open": count("open"),
                "overdue": count("overdue"),
                "missing": ts.iter().filter(|t| t.get("status").as_str() != Some("submitted"))
                    .map(|t| task_json(t, by_id.get(t.get("project_id").as_str().unwrap_or_default()).copied()))
                    .collect::<Vec<_>>(),
            })
        })
        .collect();
    Ok(Json(json!(out)))
}

/// The bulk-reporting template of a form for a period: one row per project the caller reports
/// on, one column per field (`label [name]`).
#[utoipa::path(get, path = "/api/forms/{id}/template", operation_id = "reporting_template", params(("id" = String, Path), ("period" = String, Query)),
    responses(
        (status = 200, description = "An .xlsx workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, description = "Not a reporter", body = crate::error::ErrorBody),
    ))]
pub async fn template(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let p = allow(require_login(&who.caller))?.clone();
    let form = form(&s, &id).await?;
    let period = form.period(&period_param(raw)?)?;
    let projects = s.snapshots.get(&*s.store, LayerId::Projects).await?;
    let mine: Vec<&Feature> = projects
        .features
        .iter()
        .filter(|pr| may_report(&p, pr))
        .collect();
    if mine.is_empty() {
        return Err(ApiError::from(Denied::Forbidden));
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
            let mut r = vec![
                pr.id.clone(),
                pr.get("name").as_str().unwrap_or_default().to_owned(),
                pr.get("district_code")
                    .as_str()
                    .unwrap_or_default()
                    .to_owned(),
            ];
            r.extend(form.fields.iter().map(|_| String::new()));
            r
        })
        .collect();
    let bytes = gengxin_io::sheet::write(&period.to_string(), &header, &rows)?;
    let name = format!("{}-{period}.xlsx", form.code);
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{name}\""),
            ),
        ],
        bytes,
    )
        .into_response())
}

fn period_param(raw: Option<String>) -> Result<String, ApiError> {
    form_urlencoded::parse(raw.unwrap_or_default().as_bytes())
        .find(|(k, _)| k == "period")
        .map(|(_, v)| v.into_owned())
        .ok_or_else(|| ApiError::bad_request("period is required, e.g. period=2026-11"))
}

/// Uploads a filled template: every row is checked (project in scope, values valid) and
/// reported; the valid rows become submitted submissions, all in one transaction. Uploading the
/// same file again creates nothing new.
#[utoipa::path(post, path = "/api/forms/{id}/upload", operation_id = "reporting_upload", params(("id" = String, Path), ("period" = String, Query)),
    request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    responses(
        (status = 200, description = "The per-row report", body = Object),
        (status = 400, description = "Not this form's template", body = crate::error::ErrorBody),
        (status = 422, description = "Not a readable workbook", body = crate::error::ErrorBody),
    ))]
pub async fn upload(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    RawQuery(raw): RawQuery,
    crate::extract::ApiBody(body): crate::extract::ApiBody,
) -> Result<Json<Json_>, ApiError> {
    let p = allow(require_login(&who.caller))?.clone();
    let form = form(&s, &id).await?;
    let period = form.period(&period_param(raw)?)?.to_string();
    let rows = gengxin_io::sheet::read("upload.xlsx", &body)?;
    let Some((head, data)) = rows.split_first() else {
        return Err(ApiError::bad_request("the workbook is empty"));
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
    let project_col = col("project_id")
        .ok_or_else(|| ApiError::bad_request("no 项目ID [project_id] column: use the template"))?;
    let file_hash = secret::digest(&String::from_utf8_lossy(&body));
    let projects = s.snapshots.get(&*s.store, LayerId::Projects).await?;
    let by_id: HashMap<&str, &Feature> = projects
        .features
        .iter()
        .map(|f| (f.id.as_str(), f))
        .collect();
    let now = Utc::now();
    let mut report = Vec::new();
    let mut edit = Edit::default();
    let mut new_rows = Vec::new();
    let mut records = Vec::new();
    for (i, r) in data.iter().enumerate() {
        let line = i + 2;
        let pid = r.get(project_col).cloned().unwrap_or_default();
        let Some(pr) = by_id.get(pid.as_str()).filter(|pr| may_report(&p, pr)) else {
            report.push(json!({"row": line, "project_id": pid, "ok": false,
                "errors": [{"field": "project_id", "message": "不是你可填报的项目 (not a project you report on)"}]}));
            continue;
        };
        let mut values = serde_json::Map::new();
        for f in &form.fields {
            if let Some(c) = col(&f.name)
                && let Some(v) = r.get(c).filter(|v| !v.trim().is_empty())
            {
                values.insert(f.name.clone(), Json_::from(v.trim()));
            }
        }
        match gengxin_report::validate(&form.fields, &values, true) {
            Err(errors) => {
                report.push(json!({"row": line, "project_id": pid, "ok": false, "errors": errors}))
            }
            Ok(values) => {
                let sid = submission_id(&p, Some(&format!("{file_hash}:{line}")));
                if s.store.get(LayerId::Submissions, &sid).await?.is_some() {
                    report.push(json!({"row": line, "project_id": pid, "ok": true, "submission_id": sid, "duplicate": true}));
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
                        .set("values", Json_::Object(values).to_string())
                        .set("author", p.username.as_str())
                        .set("submitted_at", gengxin_model::timestamp(&now)),
                );
                task_done(&s, &mut edit, &form, &period, &pid, &sid).await?;
                records.push(record(&who, "submit", &sid, format!("bulk row {line}")));
                report.push(
                    json!({"row": line, "project_id": pid, "ok": true, "submission_id": sid}),
                );
            }
        }
    }
    let accepted = new_rows.len();
    if accepted > 0 {
        edit.insert.push((LayerId::Submissions, new_rows));
        // Tasks of one project twice in one file: keep the last update only once.
        for (_, ts) in &mut edit.update {
            let mut seen = std::collections::HashSet::new();
            ts.retain(|t| seen.insert(t.id.clone()));
        }
        audit::apply(&s, edit, records).await.map_err(conflict)?;
    }
    let rejected = report.iter().filter(|r| r["ok"] == false).count();
    Ok(Json(
        json!({ "rows": report.len(), "accepted": accepted, "rejected": rejected, "report": report }),
    ))
}
