//! The audit log on the wire: its list, CSV export and chain check (city administrator only).
//! Writing it is `gengxin_app::audit`: every use case appends its records in its transaction.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gengxin_app::audit::Filter;
pub use gengxin_app::audit::Record;
use gengxin_model::{Feature, LayerId, Value};
use gengxin_store::{Edit, StoreError};
use serde_json::json;

use crate::who::{Who, allow};
use crate::{ApiError, AppState};

/// A record of an action by the caller.
pub fn record(who: &Who, action: &'static str, outcome: &'static str) -> Record {
    Record::by(&who.actor(), action, outcome)
}

/// Appends records on their own.
pub async fn append(s: &AppState, records: Vec<Record>) -> Result<(), ApiError> {
    s.app.append(records).await.map_err(Into::into)
}

/// Applies an edit together with its audit records, in one transaction.
pub async fn apply(s: &AppState, edit: Edit, records: Vec<Record>) -> Result<(), StoreError> {
    s.app.apply(edit, records).await
}

fn filters(raw: Option<String>) -> Result<(Filter, usize), ApiError> {
    let mut f = Filter::default();
    let mut limit = 200;
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "actor" => f.actor = Some(v),
            "action" => f.action = Some(v),
            "from" => f.from = Some(v),
            "to" => f.to = Some(v),
            "after" => f.after = Some(v),
            "limit" => {
                limit = v
                    .parse()
                    .ok()
                    .filter(|n| (1..=10_000).contains(n))
                    .ok_or_else(|| ApiError::bad_request("limit must be 1–10000"))?
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown parameter {other:?}; use actor, action, from, to, after, limit"
                )));
            }
        }
    }
    Ok((f, limit))
}

fn row_json(r: &Feature) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("id".into(), json!(r.id));
    for (k, v) in &r.properties {
        o.insert(k.clone(), crate::wire::value_json(v));
    }
    serde_json::Value::Object(o)
}

/// The audit log, oldest first, filtered by `actor`, `action` and time (`from` inclusive, `to`
/// exclusive, RFC 3339); paged by `after` (a record id) and `limit` (city administrator only).
#[utoipa::path(get, path = "/api/audit", operation_id = "audit_list",
    params(
        ("actor" = Option<String>, Query), ("action" = Option<String>, Query),
        ("from" = Option<String>, Query), ("to" = Option<String>, Query),
        ("after" = Option<String>, Query), ("limit" = Option<usize>, Query),
    ),
    responses(
        (status = 200, description = "Records", body = Object),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
    ))]
pub async fn list(
    State(s): State<AppState>,
    who: Who,
    RawQuery(raw): RawQuery,
) -> Result<Json<serde_json::Value>, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let (f, limit) = filters(raw)?;
    let rows = gengxin_app::audit::select(&*s.store, &f, Some(limit)).await?;
    let total = s.store.count(LayerId::AuditLog).await?;
    Ok(Json(json!({
        "total": total,
        "records": rows.iter().map(row_json).collect::<Vec<_>>(),
    })))
}

/// The audit log as CSV (same filters as `/api/audit`, no limit). The export is itself audited.
#[utoipa::path(get, path = "/api/audit/export", operation_id = "audit_export",
    params(
        ("actor" = Option<String>, Query), ("action" = Option<String>, Query),
        ("from" = Option<String>, Query), ("to" = Option<String>, Query),
    ),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM)", content_type = "text/csv"),
        (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
    ))]
pub async fn export(
    State(s): State<AppState>,
    who: Who,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let (f, _) = filters(raw)?;
    let rows = gengxin_app::audit::select(&*s.store, &f, None).await?;
    let mut w = csv::Writer::from_writer(vec![0xEF, 0xBB, 0xBF]);
    let cols = [
        "seq",
        "at",
        "actor",
        "role",
        "action",
        "outcome",
        "target_layer",
        "target_id",
        "ip",
        "detail",
        "prev_hash",
        "hash",
    ];
    w.write_record(cols).map_err(ApiError::internal)?;
    for r in &rows {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| match r.get(c) {
                Value::Int(i) => i.to_string(),
                Value::Text(t) => gengxin_io::export::escape_formula(t),
                _ => String::new(),
            })
            .collect();
        w.write_record(&cells).map_err(ApiError::internal)?;
    }
    let bytes = w.into_inner().map_err(ApiError::internal)?;
    let mut rec = record(&who, "export", "ok");
    rec.target_layer = "audit_log".into();
    rec.detail = format!("{} records", rows.len());
    append(&s, vec![rec]).await?;
    Ok((
        [
            (header::CONTENT_TYPE, "text/csv; charset=utf-8"),
            (
                header::CONTENT_DISPOSITION,
                "attachment; filename=\"audit_log.csv\"",
            ),
        ],
        bytes,
    )
        .into_response())
}

/// Checks the whole chain: `{"ok": true, "records": n}` or the first record that does not fit.
#[utoipa::path(get, path = "/api/audit/verify", operation_id = "audit_verify", responses(
    (status = 200, description = "The chain's state", body = Object),
    (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
))]
pub async fn check(
    State(s): State<AppState>,
    who: Who,
) -> Result<Json<serde_json::Value>, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let v = gengxin_app::audit::check(&*s.store).await?;
    Ok(Json(match v.broken_at {
        None => json!({ "ok": true, "records": v.records }),
        Some(seq) => json!({ "ok": false, "records": v.records, "broken_at": seq }),
    }))
}
