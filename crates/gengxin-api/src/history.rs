//! Versioned changes: every write through the API (direct edits, merged submissions) leaves a
//! `record_history` row with who, when, the row before and after (as GeoJSON). An object's
//! history and its state "as of" a date are read from them.

use axum::Json;
use axum::extract::{RawQuery, State};
use chrono::{DateTime, Utc};
use gengxin_model::{Feature, Layer, LayerId, Value};
use gengxin_store::Query;
use serde_json::json;

use crate::auth::Who;
use crate::extract::ApiPath;
use crate::features::{feature_json, layer};
use crate::guard::Visible;
use crate::{ApiError, AppState};

/// A history row for a change of `layer/id` from `before` to `after` (`None`: created / deleted).
pub fn entry(
    layer: &Layer,
    id: &str,
    before: Option<&Feature>,
    after: Option<&Feature>,
    actor: &str,
    submission: Option<&str>,
) -> Feature {
    let now = Utc::now();
    let version = match (before, after) {
        (None, Some(a)) => a.version,
        (Some(b), _) => b.version + 1,
        (None, None) => 1,
    };
    // Time first, so a record's rows list in order (a re-created id starts again at version 1).
    let key = format!(
        "{}:{}:{}:{version:08}",
        layer.name,
        id,
        now.format("%Y%m%dT%H%M%S%.3fZ")
    );
    let mut after_json = after.map_or(serde_json::Value::Null, feature_json);
    if let Some(a) = after_json.get_mut("properties") {
        a["version"] = json!(version);
    }
    Feature::new(key, "gengxin", now)
        .set("layer", layer.name)
        .set("record_id", id)
        .set("record_version", version)
        .set("at", gengxin_model::timestamp(&now))
        .set("actor", actor)
        .set("submission_id", submission.map(str::to_owned))
        .set("before", before.map(|b| feature_json(b).to_string()))
        .set("after", after_json.to_string())
}

fn parse(v: &Value) -> serde_json::Value {
    v.as_str()
        .and_then(|t| serde_json::from_str(t).ok())
        .unwrap_or(serde_json::Value::Null)
}

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
    let rows = s
        .store
        .query(
            LayerId::RecordHistory,
            Query {
                equals: vec![
                    ("layer".into(), Value::Text(layer.name.into())),
                    ("record_id".into(), Value::Text(id.clone())),
                ],
                ..Query::default()
            },
        )
        .await?;
    // Visible if the current row is, or, once deleted, if its last state was.
    let current = s.store.get(layer.id, &id).await?;
    let seen = match &current {
        Some(f) => visible.sees(f),
        None => rows.last().is_some_and(|r| {
            let before = parse(r.get("before"));
            scope_row(&before).is_some_and(|f| visible.sees(&f))
        }),
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
                "version": r.get("record_version").as_i64(),
                "at": r.get("at").as_str(),
                "actor": r.get("actor").as_str(),
                "submission_id": r.get("submission_id").as_str(),
                "before": parse(r.get("before")),
                "after": parse(r.get("after")),
            })
        })
        .collect();
    let mut body = json!({ "layer": layer.name, "id": id, "changes": changes });
    if let Some(t) = as_of {
        let stamp = gengxin_model::timestamp(&t);
        let state = rows
            .iter()
            .rfind(|r| r.get("at").as_str().is_some_and(|a| a <= stamp.as_str()))
            .map_or(serde_json::Value::Null, |r| parse(r.get("after")));
        body["as_of"] = json!(stamp);
        body["state"] = state;
    }
    Ok(Json(body))
}

/// The fields of a GeoJSON feature, enough to decide its scope.
fn scope_row(gj: &serde_json::Value) -> Option<Feature> {
    let props = gj.get("properties")?.as_object()?;
    let mut f = Feature::new(gj.get("id")?.as_str()?, "x", Utc::now());
    for (k, v) in props {
        if let Some(t) = v.as_str() {
            f.properties.insert(k.clone(), Value::Text(t.to_owned()));
        }
    }
    Some(f)
}
