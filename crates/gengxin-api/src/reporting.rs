//! The "+1" update mechanism on the wire (the use cases are `gengxin_app::reporting`): report
//! forms, submissions and their review, my tasks, who has not reported, and bulk reporting
//! through a spreadsheet.

use axum::Json;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gengxin_app::reporting::{self as app, Form, Listed};
use gengxin_report::Chain;
use serde::{Deserialize, Serialize};
use serde_json::Value as Json_;
use utoipa::{IntoParams, ToSchema};

pub(crate) use gengxin_app::reporting::may_report;

use crate::extract::{ApiBody, ApiPath, ApiQuery};
use crate::who::Who;
use crate::wire::text;
use crate::{ApiError, AppState};

/// One field of a form (the schema of `gengxin_report::FormField`, which is sent as it is).
#[derive(ToSchema)]
#[allow(dead_code)] // describes FormField's serialisation; never built
pub struct FormFieldBody {
    name: String,
    label: String,
    /// number, integer, text, date, choice, bool or attachment.
    kind: String,
    unit: Option<String>,
    required: bool,
    min: Option<f64>,
    max: Option<f64>,
    /// The choices of a choice field.
    choices: Option<Vec<String>>,
    /// The longest text accepted.
    max_len: Option<usize>,
    /// The project field an approved value is written to.
    target: Option<String>,
    /// Plausibility: a running total, which may not fall below the last approved value
    /// without a note.
    cumulative: Option<bool>,
    /// Plausibility: the largest change from the last approved value without a note.
    max_step: Option<f64>,
    /// Plausibility of a date: not before this other date field's.
    not_before: Option<String>,
    /// Plausibility of a date: not after the day it is reported.
    not_future: Option<bool>,
}

/// A plausibility finding on one field (the schema of `gengxin_report::Finding`, sent as it is).
#[derive(ToSchema)]
#[allow(dead_code)] // describes Finding's serialisation; never built
pub struct FindingBody {
    field: String,
    /// falls (a cumulative value below the last approved one), jump (a change above max_step),
    /// order (a date before its not_before field's), future (a date after today).
    rule: String,
    /// error (blocks) or warning (needs a note, flagged to the reviewers).
    severity: String,
    /// What is wrong, in Chinese.
    message: String,
    /// The value compared with: the last approved one, the other date, or today.
    #[schema(required = true)]
    before: Option<Scalar>,
    /// The value reported.
    #[schema(required = true)]
    after: Option<Scalar>,
    /// jump: the largest change allowed without a note.
    limit: Option<f64>,
    /// order: the other date field.
    other: Option<String>,
    /// The reporter's note explaining a warning.
    note: Option<String>,
}

/// A report form version.
#[derive(Serialize, ToSchema)]
pub struct FormBody {
    /// `code@version`.
    id: String,
    code: String,
    version: i64,
    name: String,
    #[schema(required = true)]
    renewal_kind: Option<String>,
    #[schema(value_type = Vec<FormFieldBody>)]
    fields: Vec<gengxin_report::FormField>,
    /// district_city, city or district.
    review_chain: &'static str,
    /// monthly or quarterly.
    cycle: &'static str,
    /// Days after the period's end the report is due.
    deadline_day: u32,
    /// Days before the deadline the reminder goes out.
    remind_days: u32,
    /// False once a newer version exists.
    active: bool,
}

impl From<Form> for FormBody {
    fn from(f: Form) -> Self {
        FormBody {
            id: f.id,
            code: f.code,
            version: f.version,
            name: f.name,
            renewal_kind: f.renewal_kind,
            fields: f.fields,
            review_chain: match f.chain {
                Chain::DistrictCity => "district_city",
                Chain::City => "city",
                Chain::District => "district",
            },
            cycle: if f.quarterly { "quarterly" } else { "monthly" },
            deadline_day: f.deadline_day,
            remind_days: f.remind_days,
            active: f.active,
        }
    }
}

/// A field's value: a boolean, an integer, a number or a text.
#[derive(Serialize, Deserialize, ToSchema)]
#[serde(untagged)]
pub enum Scalar {
    Bool(bool),
    Int(i64),
    Real(f64),
    Text(String),
}

/// One review step of a submission.
#[derive(Serialize, Deserialize, ToSchema)]
pub struct ReviewBody {
    /// The reviewer's user name.
    by: String,
    /// district or city.
    level: String,
    /// approve or reject.
    decision: String,
    #[schema(required = true)]
    comment: Option<String>,
    at: String,
}

/// A submission: a form filled for a project and period.
#[derive(Serialize, ToSchema)]
pub struct SubmissionBody {
    id: String,
    form_id: String,
    project_id: String,
    /// Absent from the answer to a retried request (the same Idempotency-Key).
    #[schema(required = true)]
    project_name: Option<String>,
    #[schema(required = true)]
    district_code: Option<String>,
    period: String,
    /// draft, submitted, district_approved, approved or rejected (returned to its author).
    status: String,
    /// The values filled, by field name.
    #[schema(value_type = HashMap<String, Scalar>)]
    values: Json_,
    author: String,
    #[schema(required = true)]
    submitted_at: Option<String>,
    /// The review steps so far, oldest first.
    reviews: Vec<ReviewBody>,
    /// The record-history change its approval made.
    #[schema(required = true)]
    change_id: Option<String>,
    /// The plausibility findings when it was saved (warnings carry the reporter's note).
    #[schema(value_type = Vec<FindingBody>)]
    checks: Vec<gengxin_report::Finding>,
    /// The version to send back when editing or reviewing it.
    version: i64,
    created_at: String,
    updated_at: String,
}

impl From<Listed> for SubmissionBody {
    fn from(l: Listed) -> Self {
        let f = &l.row;
        SubmissionBody {
            id: f.id.clone(),
            form_id: text(f, "form_id").unwrap_or_default(),
            project_id: text(f, "project_id").unwrap_or_default(),
            project_name: l.project_name,
            district_code: text(f, "district_code"),
            period: text(f, "period").unwrap_or_default(),
            status: text(f, "status").unwrap_or_default(),
            values: app::parse_json(f.get("values")),
            author: text(f, "author").unwrap_or_default(),
            submitted_at: text(f, "submitted_at"),
            reviews: serde_json::from_value(app::parse_json(f.get("reviews"))).unwrap_or_default(),
            change_id: text(f, "change_id"),
            checks: serde_json::from_value(app::parse_json(f.get("checks"))).unwrap_or_default(),
            version: f.version,
            created_at: gengxin_model::timestamp(&f.created_at),
            updated_at: gengxin_model::timestamp(&f.updated_at),
        }
    }
}

/// A reporting task: one project's report of a form for a period.
#[derive(Serialize, ToSchema)]
pub struct TaskBody {
    id: String,
    form_code: String,
    project_id: String,
    #[schema(required = true)]
    project_name: Option<String>,
    #[schema(required = true)]
    district_code: Option<String>,
    period: String,
    /// The date it is due.
    deadline: String,
    /// open, overdue or submitted.
    status: String,
    #[schema(required = true)]
    submission_id: Option<String>,
    #[schema(required = true)]
    reminded_at: Option<String>,
}

impl From<Listed> for TaskBody {
    fn from(l: Listed) -> Self {
        let t = &l.row;
        TaskBody {
            id: t.id.clone(),
            form_code: text(t, "form_code").unwrap_or_default(),
            project_id: text(t, "project_id").unwrap_or_default(),
            project_name: l.project_name,
            district_code: text(t, "district_code"),
            period: text(t, "period").unwrap_or_default(),
            deadline: text(t, "deadline").unwrap_or_default(),
            status: text(t, "status").unwrap_or_default(),
            submission_id: text(t, "submission_id"),
            reminded_at: text(t, "reminded_at"),
        }
    }
}

fn all<T: From<Listed>>(v: Vec<Listed>) -> Vec<T> {
    v.into_iter().map(T::from).collect()
}

/// Active report forms (the latest version of each).
#[utoipa::path(get, path = "/api/forms", operation_id = "reporting_forms", responses(
    (status = 200, description = "Forms", body = Vec<FormBody>),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn forms(State(s): State<AppState>, who: Who) -> Result<Json<Vec<FormBody>>, ApiError> {
    let forms = app::forms(&s.app, &who.actor()).await?;
    Ok(Json(forms.into_iter().map(FormBody::from).collect()))
}

/// One form version.
#[utoipa::path(get, path = "/api/forms/{id}", operation_id = "reporting_one_form", params(("id" = String, Path)), responses(
    (status = 200, description = "The form", body = FormBody),
    (status = 404, description = "No such form", body = crate::error::ErrorBody),
))]
pub async fn one_form(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<FormBody>, ApiError> {
    Ok(Json(app::form(&s.app, &who.actor(), &id).await?.into()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewForm {
    /// Stable code; a new definition of an existing code is its next version.
    code: String,
    name: String,
    #[serde(default)]
    renewal_kind: Option<String>,
    #[schema(value_type = Vec<Object>)]
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
    (status = 201, description = "The new form version", body = FormBody),
    (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
    (status = 422, description = "A bad definition", body = crate::error::ErrorBody),
))]
pub async fn create_form(
    State(s): State<AppState>,
    who: Who,
    crate::extract::ApiJson(b): crate::extract::ApiJson<NewForm>,
) -> Result<(StatusCode, Json<FormBody>), ApiError> {
    let def = app::FormDefinition {
        code: b.code,
        name: b.name,
        renewal_kind: b.renewal_kind,
        fields: b.fields,
        review_chain: b.review_chain,
        cycle: b.cycle,
        deadline_day: b.deadline_day,
        remind_days: b.remind_days,
    };
    let form = app::create_form(&s.app, &who.actor(), def).await?;
    Ok((StatusCode::CREATED, Json(form.into())))
}

#[derive(Deserialize, ToSchema)]
pub struct NewSubmission {
    form_id: String,
    project_id: String,
    period: String,
    #[schema(value_type = Object)]
    values: serde_json::Map<String, Json_>,
    /// The reporter's notes explaining plausibility warnings, by field name.
    #[serde(default)]
    #[schema(value_type = HashMap<String, String>)]
    notes: serde_json::Map<String, Json_>,
    /// Submit for review now (else a draft).
    #[serde(default)]
    submit: bool,
}

/// Fills a form for a project and period: a draft, or submitted for review (`submit`). Send an
/// `Idempotency-Key` header to make a retry safe: the same key answers the first submission.
#[utoipa::path(post, path = "/api/submissions", operation_id = "reporting_create_submission", request_body = NewSubmission, responses(
    (status = 201, description = "Created", body = SubmissionBody),
    (status = 200, description = "The same Idempotency-Key was seen: the first submission", body = SubmissionBody),
    (status = 403, description = "Not a reporter of this project", body = crate::error::ErrorBody),
    (status = 422, description = "Invalid values, per field", body = crate::error::ErrorBody),
))]
pub async fn create_submission(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    crate::extract::ApiJson(b): crate::extract::ApiJson<NewSubmission>,
) -> Result<(StatusCode, Json<SubmissionBody>), ApiError> {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned);
    let new = app::NewSubmission {
        form_id: b.form_id,
        project_id: b.project_id,
        period: b.period,
        values: b.values,
        notes: b.notes,
        submit: b.submit,
        key,
    };
    let (sub, created) = app::create_submission(&s.app, &who.actor(), new).await?;
    let status = if created {
        StatusCode::CREATED
    } else {
        StatusCode::OK
    };
    Ok((status, Json(sub.into())))
}

#[derive(Deserialize, ToSchema)]
pub struct SubmissionEdit {
    /// The version read; a stale one answers 409.
    version: i64,
    #[schema(value_type = Object)]
    values: serde_json::Map<String, Json_>,
    /// The reporter's notes explaining plausibility warnings, by field name.
    #[serde(default)]
    #[schema(value_type = HashMap<String, String>)]
    notes: serde_json::Map<String, Json_>,
    #[serde(default)]
    submit: bool,
}

/// Changes a draft or a returned submission (its author only), and optionally submits it.
#[utoipa::path(put, path = "/api/submissions/{id}", operation_id = "reporting_edit_submission", params(("id" = String, Path)),
    request_body = SubmissionEdit, responses(
    (status = 200, description = "Saved", body = SubmissionBody),
    (status = 404, description = "No such submission of yours", body = crate::error::ErrorBody),
    (status = 409, description = "Changed meanwhile, or not editable in its state", body = crate::error::ErrorBody),
    (status = 422, description = "Invalid values", body = crate::error::ErrorBody),
))]
pub async fn edit_submission(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    crate::extract::ApiJson(b): crate::extract::ApiJson<SubmissionEdit>,
) -> Result<Json<SubmissionBody>, ApiError> {
    let sub = app::edit_submission(
        &s.app,
        &who.actor(),
        &id,
        b.version,
        &b.values,
        &b.notes,
        b.submit,
    )
    .await?;
    Ok(Json(sub.into()))
}

/// Which submissions to list.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct SubmissionQuery {
    /// draft, submitted, district_approved, approved or rejected.
    status: Option<String>,
    project_id: Option<String>,
    period: Option<String>,
    form_id: Option<String>,
}

/// Submissions the caller may see, newest first: filter by `status`, `project_id`, `period`,
/// `form_id`.
#[utoipa::path(get, path = "/api/submissions", operation_id = "reporting_submissions",
    params(SubmissionQuery),
    responses(
        (status = 200, description = "Submissions", body = Vec<SubmissionBody>),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
    ))]
pub async fn submissions(
    State(s): State<AppState>,
    who: Who,
    ApiQuery(q): ApiQuery<SubmissionQuery>,
) -> Result<Json<Vec<SubmissionBody>>, ApiError> {
    let filter = app::SubmissionFilter {
        status: q.status,
        project_id: q.project_id,
        period: q.period,
        form_id: q.form_id,
    };
    Ok(Json(all(
        app::submissions(&s.app, &who.actor(), &filter).await?
    )))
}

/// One field an approved submission changes in its project.
#[derive(Serialize, ToSchema)]
pub struct DiffBody {
    field: String,
    label: String,
    /// The project's value now; once approved, the value its approval replaced.
    #[schema(required = true)]
    before: Option<Scalar>,
    /// The reported value.
    #[schema(required = true)]
    after: Option<Scalar>,
}

/// A submission with what a reviewer checks.
#[derive(Serialize, ToSchema)]
pub struct SubmissionDetailBody {
    #[serde(flatten)]
    submission: SubmissionBody,
    form: FormBody,
    /// Each project field it changes: its value before (the project's now; once approved, the
    /// one the approval replaced) and the reported one.
    diff: Vec<DiffBody>,
    /// The project's version now.
    project_version: i64,
    /// May the caller approve or return it now?
    can_review: bool,
}

/// One submission, with the diff a reviewer checks: each project field it would change, its
/// current value and the reported one.
#[utoipa::path(get, path = "/api/submissions/{id}", operation_id = "reporting_submission", params(("id" = String, Path)), responses(
    (status = 200, description = "The submission and its diff", body = SubmissionDetailBody),
    (status = 404, description = "No such submission (or not visible)", body = crate::error::ErrorBody),
))]
pub async fn submission(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SubmissionDetailBody>, ApiError> {
    let d = app::submission(&s.app, &who.actor(), &id).await?;
    Ok(Json(SubmissionDetailBody {
        submission: d.submission.into(),
        form: d.form.into(),
        diff: d
            .diff
            .into_iter()
            .map(|c| DiffBody {
                field: c.field,
                label: c.label,
                before: serde_json::from_value(c.before).ok(),
                after: serde_json::from_value(c.after).ok(),
            })
            .collect(),
        project_version: d.project_version,
        can_review: d.can_review,
    }))
}

#[derive(Deserialize, ToSchema)]
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
    (status = 200, description = "Reviewed", body = SubmissionBody),
    (status = 403, description = "Not a reviewer of this step", body = crate::error::ErrorBody),
    (status = 409, description = "Someone acted first", body = crate::error::ErrorBody),
))]
pub async fn review(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    crate::extract::ApiJson(b): crate::extract::ApiJson<Review>,
) -> Result<Json<SubmissionBody>, ApiError> {
    let sub = app::review(
        &s.app,
        &who.actor(),
        &id,
        b.version,
        &b.decision,
        &b.comment,
    )
    .await?;
    Ok(Json(sub.into()))
}

/// My tasks.
#[derive(Serialize, ToSchema)]
pub struct TasksBody {
    /// Reports to fill (open or overdue, in my scope).
    to_fill: Vec<TaskBody>,
    /// Submissions awaiting my review.
    to_review: Vec<SubmissionBody>,
    /// My drafts and my submissions returned to me.
    returned_or_draft: Vec<SubmissionBody>,
}

/// My tasks: reports to fill (open or overdue, in my scope) and submissions awaiting my review.
#[utoipa::path(get, path = "/api/tasks", operation_id = "reporting_tasks", responses(
    (status = 200, description = "To fill and to review", body = TasksBody),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn tasks(State(s): State<AppState>, who: Who) -> Result<Json<TasksBody>, ApiError> {
    let t = app::tasks(&s.app, &who.actor()).await?;
    Ok(Json(TasksBody {
        to_fill: all(t.to_fill),
        to_review: all(t.to_review),
        returned_or_draft: all(t.returned_or_draft),
    }))
}

/// Which periods to show.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StatusQuery {
    /// A form code.
    form: Option<String>,
    /// A period, e.g. 2026-11 or 2026-Q4.
    period: Option<String>,
}

/// One form's period: its deadline and its tasks by state.
#[derive(Serialize, ToSchema)]
pub struct PeriodStatusBody {
    form_code: String,
    period: String,
    deadline: String,
    /// Tasks in all.
    tasks: usize,
    submitted: usize,
    open: usize,
    overdue: usize,
    /// The tasks not yet submitted: who has not reported.
    missing: Vec<TaskBody>,
}

/// The reporting calendar and who has not reported: per form and period, the deadline and the
/// tasks by state (`form`, `period` filter; district users see their district).
#[utoipa::path(get, path = "/api/reporting/status", operation_id = "reporting_status",
    params(StatusQuery),
    responses(
        (status = 200, description = "Periods with their tasks", body = Vec<PeriodStatusBody>),
        (status = 403, description = "Not city staff or a district user", body = crate::error::ErrorBody),
    ))]
pub async fn status(
    State(s): State<AppState>,
    who: Who,
    ApiQuery(q): ApiQuery<StatusQuery>,
) -> Result<Json<Vec<PeriodStatusBody>>, ApiError> {
    let periods = app::status(&s.app, &who.actor(), q.form.as_deref(), q.period.as_deref()).await?;
    Ok(Json(
        periods
            .into_iter()
            .map(|p| PeriodStatusBody {
                form_code: p.form_code,
                period: p.period,
                deadline: p.deadline.unwrap_or_default(),
                tasks: p.tasks,
                submitted: p.submitted,
                open: p.open,
                overdue: p.overdue,
                missing: all(p.missing),
            })
            .collect(),
    ))
}

/// The period a template or an upload is for.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct PeriodQuery {
    /// The period, e.g. 2026-11 (a monthly form) or 2026-Q4 (a quarterly one).
    period: Option<String>,
}

impl PeriodQuery {
    fn required(self) -> Result<String, ApiError> {
        self.period
            .ok_or_else(|| ApiError::bad_request("period is required, e.g. period=2026-11"))
    }
}

/// The bulk-reporting template of a form for a period: one row per project the caller reports
/// on, one column per field (`label [name]`).
#[utoipa::path(get, path = "/api/forms/{id}/template", operation_id = "reporting_template", params(("id" = String, Path), PeriodQuery),
    responses(
        (status = 200, description = "An .xlsx workbook", content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
        (status = 403, description = "Not a reporter", body = crate::error::ErrorBody),
    ))]
pub async fn template(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
) -> Result<Response, ApiError> {
    let t = app::template(&s.app, &who.actor(), &id, &q.required()?).await?;
    Ok((
        [
            (
                header::CONTENT_TYPE,
                "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet".to_owned(),
            ),
            (
                header::CONTENT_DISPOSITION,
                format!("attachment; filename=\"{}\"", t.file_name),
            ),
        ],
        t.bytes,
    )
        .into_response())
}

/// One field's problem.
#[derive(Serialize, ToSchema)]
pub struct FieldErrorBody {
    field: String,
    message: String,
}

/// One row of an uploaded workbook.
#[derive(Serialize, ToSchema)]
pub struct UploadRowBody {
    /// The spreadsheet's row number (the header is row 1).
    row: usize,
    project_id: String,
    ok: bool,
    /// Why the row was refused (absent when it was accepted).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    errors: Vec<FieldErrorBody>,
    /// The submission the row made.
    #[serde(skip_serializing_if = "Option::is_none")]
    submission_id: Option<String>,
    /// The same row was uploaded before: nothing new was created.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    duplicate: bool,
}

/// What an upload did.
#[derive(Serialize, ToSchema)]
pub struct UploadBody {
    /// Data rows read.
    rows: usize,
    accepted: usize,
    rejected: usize,
    report: Vec<UploadRowBody>,
}

/// Uploads a filled template: every row is checked (project in scope, values valid) and
/// reported; the valid rows become submitted submissions, all in one transaction. Uploading the
/// same file again creates nothing new.
#[utoipa::path(post, path = "/api/forms/{id}/upload", operation_id = "reporting_upload", params(("id" = String, Path), PeriodQuery),
    request_body(content = Vec<u8>, content_type = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    responses(
        (status = 200, description = "The per-row report", body = UploadBody),
        (status = 400, description = "Not this form's template", body = crate::error::ErrorBody),
        (status = 422, description = "Not a readable workbook", body = crate::error::ErrorBody),
    ))]
pub async fn upload(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<PeriodQuery>,
    ApiBody(body): ApiBody,
) -> Result<Json<UploadBody>, ApiError> {
    let r = app::upload(&s.app, &who.actor(), &id, &q.required()?, &body).await?;
    let report: Vec<UploadRowBody> = r
        .rows
        .into_iter()
        .map(|row| UploadRowBody {
            ok: row.errors.is_empty(),
            row: row.row,
            project_id: row.project_id,
            errors: row
                .errors
                .into_iter()
                .map(|e| FieldErrorBody {
                    field: e.field,
                    message: e.message,
                })
                .collect(),
            submission_id: row.submission_id,
            duplicate: row.duplicate,
        })
        .collect();
    Ok(Json(UploadBody {
        rows: report.len(),
        accepted: r.accepted,
        rejected: report.iter().filter(|r| !r.ok).count(),
        report,
    }))
}

/// Values to check as they are typed.
#[derive(Deserialize, ToSchema)]
pub struct CheckRequest {
    project_id: String,
    /// The values filled so far, by field name (none: just the last approved values).
    #[serde(default)]
    #[schema(value_type = HashMap<String, Scalar>)]
    values: serde_json::Map<String, Json_>,
    /// The reporter's notes explaining warnings, by field name.
    #[serde(default)]
    #[schema(value_type = HashMap<String, String>)]
    notes: serde_json::Map<String, Json_>,
}

/// The last approved values of a project for a form.
#[derive(Serialize, ToSchema)]
pub struct BaselineBody {
    /// By field name: the project's value of each field that writes one, else the last approved
    /// submission's (texts and attachments are not carried over).
    #[schema(value_type = HashMap<String, Scalar>)]
    values: serde_json::Map<String, Json_>,
    /// The last approved submission of this form for the project.
    #[schema(required = true)]
    submission_id: Option<String>,
    /// Its period.
    #[schema(required = true)]
    period: Option<String>,
}

/// What a check found.
#[derive(Serialize, ToSchema)]
pub struct CheckBody {
    /// What a new report starts from and is checked against.
    baseline: BaselineBody,
    /// Invalid values, per field.
    errors: Vec<FieldErrorBody>,
    /// Plausibility findings against the baseline.
    #[schema(value_type = Vec<FindingBody>)]
    findings: Vec<gengxin_report::Finding>,
}

/// Checks a report's values as they are typed, storing nothing: the last approved values of the
/// project (to prefill the form, `values` empty), each invalid field and the plausibility
/// findings (a cumulative value that falls, a jump above the field's `max_step`, dates out of
/// order or in the future). Only the project's reporters check.
#[utoipa::path(post, path = "/api/forms/{id}/check", operation_id = "reporting_check", params(("id" = String, Path)),
    request_body = CheckRequest, responses(
    (status = 200, description = "The baseline and what the values break", body = CheckBody),
    (status = 403, description = "Not a reporter of this project", body = crate::error::ErrorBody),
    (status = 404, description = "No such form or project", body = crate::error::ErrorBody),
))]
pub async fn check(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    crate::extract::ApiJson(b): crate::extract::ApiJson<CheckRequest>,
) -> Result<Json<CheckBody>, ApiError> {
    let c = app::check(
        &s.app,
        &who.actor(),
        &id,
        &b.project_id,
        &b.values,
        &b.notes,
    )
    .await?;
    Ok(Json(CheckBody {
        baseline: BaselineBody {
            values: c.baseline.values,
            submission_id: c.baseline.submission_id,
            period: c.baseline.period,
        },
        errors: c
            .errors
            .into_iter()
            .map(|e| FieldErrorBody {
                field: e.field,
                message: e.message,
            })
            .collect(),
        findings: c.findings,
    }))
}
