//! An object's history on the wire: its changes and its state "as of" a date, read through
//! `gengxin_app::history` (which writes them with every direct edit and merged submission).

use axum::Json;
use axum::extract::State;
use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiPath, ApiQuery};
use crate::who::Who;
use crate::wire::layer;
use crate::{ApiError, AppState};
use gengxin_app::visibility::Visible;

/// One change of an object.
#[derive(Serialize, ToSchema)]
pub struct RecordChange {
    /// The object's version after the change.
    #[schema(required)]
    version: Option<i64>,
    /// When, RFC 3339 UTC.
    #[schema(required)]
    at: Option<String>,
    /// Who (a user name, or the command line).
    #[schema(required)]
    actor: Option<String>,
    /// The reporting submission whose approval made it, if any.
    #[schema(required)]
    submission_id: Option<String>,
    /// The state before: `{id, geometry, properties}`; null when created.
    #[schema(value_type = Option<Object>, required)]
    before: serde_json::Value,
    /// The state after; null when deleted.
    #[schema(value_type = Option<Object>, required)]
    after: serde_json::Value,
}

/// An object's history.
#[derive(Serialize, ToSchema)]
pub struct History {
    layer: &'static str,
    id: String,
    /// Oldest first.
    changes: Vec<RecordChange>,
    /// The time asked for (RFC 3339 UTC); only with `as_of`.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    as_of: Option<String>,
    /// The state then, as `after` of a change; only with `as_of`, and null when the object did
    /// not exist yet or was deleted.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Object>)]
    state: Option<serde_json::Value>,
}

/// The time to show an object's state at.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct HistoryQuery {
    /// A date (YYYY-MM-DD, the end of that day UTC) or an RFC 3339 timestamp.
    as_of: Option<String>,
}

/// The changes of one object, oldest first; with `as_of` (RFC 3339 or a date, end of day UTC)
/// also its state then (`null` when it did not exist yet or was deleted).
#[utoipa::path(get, path = "/api/history/{layer}/{id}",
    params(("layer" = String, Path), ("id" = String, Path), HistoryQuery),
    responses(
        (status = 200, description = "Changes, and the state as of the date", body = History),
        (status = 404, description = "No such layer, or the object is not visible", body = crate::error::ErrorBody),
    ))]
pub async fn history(
    State(s): State<AppState>,
    who: Who,
    ApiPath((layer_name, id)): ApiPath<(String, String)>,
    ApiQuery(q): ApiQuery<HistoryQuery>,
) -> Result<Json<History>, ApiError> {
    let layer = layer(&layer_name)?;
    let visible = Visible::of(&s.app, &who.caller, layer).await?;
    if visible.generalised() {
        // Past states hold the stored positions the caller sees only generalised.
        return Err(ApiError::from(gengxin_auth::Denied::Unauthenticated));
    }
    let as_of: Option<DateTime<Utc>> = q
        .as_of
        .map(|v| {
            DateTime::parse_from_rfc3339(&v)
                .map(|t| t.with_timezone(&Utc))
                .or_else(|_| {
                    chrono::NaiveDate::parse_from_str(&v, "%Y-%m-%d")
                        .map(|d| d.and_hms_opt(23, 59, 59).expect("valid").and_utc())
                })
                .map_err(|_| {
                    ApiError::bad_request(format!(
                        "as_of {v:?} must be a date YYYY-MM-DD or an RFC 3339 timestamp"
                    ))
                })
        })
        .transpose()?;
    let rows = gengxin_app::history::changes(&*s.store, layer, &id).await?;
    // Visible if the current row is, or, once deleted, if its last state was.
    let current = s.store.get(layer.id, &id).await?;
    let seen = match &current {
        Some(f) => visible.sees(f),
        None => rows
            .last()
            .is_some_and(|r| r.scope_before().is_some_and(|f| visible.sees(&f))),
    };
    if !seen {
        return Err(ApiError::not_found(format!(
            "{}/{id} does not exist",
            layer.name
        )));
    }
    let (as_of, state) = match as_of {
        Some(t) => {
            let stamp = gengxin_model::timestamp(&t);
            let state = gengxin_app::history::state_at(&rows, &stamp);
            (Some(stamp), Some(state))
        }
        None => (None, None),
    };
    let changes = rows
        .into_iter()
        .map(|r| RecordChange {
            version: r.version,
            at: r.at,
            actor: r.actor,
            submission_id: r.submission_id,
            before: r.before,
            after: r.after,
        })
        .collect();
    Ok(Json(History {
        layer: layer.name,
        id,
        changes,
        as_of,
        state,
    }))
}
