//! Jobs over HTTP: `GET /api/jobs/{id}`, the state of long work started by a request (the
//! life-circle evaluation answers `202 Accepted` with this URL). A city administrator sees every
//! job, another user the jobs they asked for; any other job answers 404, as an unknown one.

use axum::Json;
use axum::extract::State;
use gengxin_app::jobs::JobState;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::ApiPath;
use crate::who::Who;
use crate::{ApiError, AppState};

/// A job: long work that goes on whether or not its client waits.
#[derive(Serialize, ToSchema)]
pub struct JobBody {
    id: String,
    /// `evaluate_life_circle`, `open_period`, `remind` or `mark_overdue`.
    kind: String,
    /// `pending`, `running`, `done` or `failed`.
    state: String,
    /// RFC 3339.
    created: String,
    /// RFC 3339, once a server claimed it.
    #[schema(required)]
    started: Option<String>,
    /// RFC 3339, once done or failed.
    #[schema(required)]
    finished: Option<String>,
    /// What it did, once done (for `evaluate_life_circle` a `LifeCircleRun`).
    #[schema(required, value_type = Option<Object>)]
    result: Option<serde_json::Value>,
    /// Why it failed.
    #[schema(required)]
    error: Option<String>,
}

impl From<JobState> for JobBody {
    fn from(j: JobState) -> Self {
        JobBody {
            id: j.id,
            kind: j.kind,
            state: j.state,
            created: gengxin_model::timestamp(&j.created),
            started: j.started,
            finished: j.finished,
            result: j.result,
            error: j.error,
        }
    }
}

/// Whether the caller may see the job: an administrator every job, a user their own.
pub(crate) fn sees(who: &Who, job: &JobState) -> bool {
    match &who.caller {
        None => false,
        Some(p) if p.role == gengxin_auth::Role::CityAdmin => true,
        Some(p) => job.requested_by.as_deref() == Some(p.username.as_str()),
    }
}

/// A job's state; `result` once done, `error` once failed. Poll until `state` is `done` or
/// `failed`.
#[utoipa::path(get, path = "/api/jobs/{id}",
    params(("id" = String, Path, description = "The job's id, as in the Location of a 202")),
    responses((status = 200, body = JobBody), (status = 401, body = crate::error::ErrorBody),
        (status = 404, body = crate::error::ErrorBody)))]
pub async fn job(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<JobBody>, ApiError> {
    crate::who::allow(gengxin_auth::policy::require_login(&who.caller))?;
    match gengxin_app::jobs::get(&s.app, &id).await? {
        Some(j) if sees(&who, &j) => Ok(Json(j.into())),
        _ => Err(ApiError::not_found(format!("no job {id}"))),
    }
}
