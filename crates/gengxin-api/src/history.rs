//! An object's history on the wire: its changes and its state "as of" a date, read through
//! `gengxin_app::history` (which writes them with every direct edit and merged submission).

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use serde_json::json;

use crate::extract::ApiPath;
use crate::guard::Visible;
use crate::who::Who;
use crate::wire::layer;
use crate::{ApiError, AppState};

/// The changes of one object, oldest first; with `as_of` (RFC 3339 or a date, end of day UTC)
/// also its state then (`null` when it did not exist yet or was deleted).
#[utoipa::path(get, path = "/api/history/{layer}/{id}",
    params(("layer" = String, Path), ("id" = String, Path),
        ("as_of" = Option<String>, Query, description = "A date or timestamp")),
    responses(
        (status = 200, description = "Changes, and the state as of the date", body = Object),
        (status = 404, description = "No such layer, or the object is not visible", body = crate::error::ErrorBody),
    ))]
pub async fn history(
    State(s): State<AppState>,
    who: Who,
    ApiPath((layer_name, id)): ApiPath<(String, String)>,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    let layer = layer(&layer_name)?;
    let visible = Visible::of(&s, &who, layer).await?;
    let mut as_of: Option<DateTime<Utc>> = None;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "as_of" => {
                as_of = Some(
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
                        })?,
                )
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}; use as_of"
                )));
            }
        }
    }
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
    let changes: Vec<serde_json::Value> = rows
        .iter()
        .map(|r| {
            json!({
                "version": r.version,
                "at": r.at,
                "actor": r.actor,
                "submission_id": r.submission_id,
                "before": r.before,
                "after": r.after,
            })
        })
        .collect();
    let mut body = json!({ "layer": layer.name, "id": id, "changes": changes });
    if let Some(t) = as_of {
        let stamp = gengxin_model::timestamp(&t);
        let state = gengxin_app::history::state_at(&rows, &stamp);
        body["as_of"] = json!(stamp);
        body["state"] = state;
    }
    Ok(Json(body))
}
