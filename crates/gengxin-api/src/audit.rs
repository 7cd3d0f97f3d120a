//! The audit log on the wire: its list, CSV export and chain check (city administrator only).
//! Writing it is `gengxin_app::audit`: every use case appends its records in its transaction.

use axum::Json;
use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use gengxin_app::audit::Filter;
pub use gengxin_app::audit::Record;
use gengxin_model::{Feature, LayerId, Value};
use gengxin_store::{Edit, StoreError};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::ApiQuery;
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

/// Which audit records.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AuditQuery {
    /// Records of this actor (a user name).
    actor: Option<String>,
    /// Records of this action, e.g. `login`, `write`.
    action: Option<String>,
    /// From this time on, inclusive (RFC 3339).
    from: Option<String>,
    /// Before this time, exclusive (RFC 3339).
    to: Option<String>,
    /// Records after this record id.
    after: Option<String>,
    /// At most this many records, 1–10000, default 200 (the list only; an export has every
    /// record).
    limit: Option<usize>,
}

fn filters(q: AuditQuery) -> Result<(Filter, usize), ApiError> {
    let limit = q.limit.unwrap_or(200);
    if !(1..=10_000).contains(&limit) {
        return Err(ApiError::bad_request("limit must be 1–10000"));
    }
    let AuditQuery {
        actor,
        action,
        from,
        to,
        after,
        ..
    } = q;
    Ok((
        Filter {
            actor,
            action,
            from,
            to,
            after,
        },
        limit,
    ))
}

/// One record of the audit log.
#[derive(Serialize, ToSchema)]
pub struct AuditRecord {
    id: String,
    /// Its place in the chain, from 1.
    seq: i64,
    /// RFC 3339.
    at: String,
    /// Who: a user name; absent for the public.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    actor: Option<String>,
    /// The actor's role.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    role: Option<String>,
    /// e.g. `login`, `write`, `export`, `read_personal`.
    action: String,
    /// `ok`, or why not.
    outcome: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    target_layer: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    target_id: Option<String>,
    /// The client's address.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    ip: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    detail: Option<String>,
    /// The hash of the record before it.
    prev_hash: String,
    /// This record's hash, over its content and `prev_hash`.
    hash: String,
}

impl AuditRecord {
    fn new(r: &Feature) -> Self {
        let text = |k: &str| r.get(k).as_str().map(str::to_owned);
        // Required fields of the layer: stored rows have them.
        let req = |k: &str| text(k).unwrap_or_default();
        AuditRecord {
            id: r.id.clone(),
            seq: r.get("seq").as_i64().unwrap_or_default(),
            at: req("at"),
            actor: text("actor"),
            role: text("role"),
            action: req("action"),
            outcome: req("outcome"),
            target_layer: text("target_layer"),
            target_id: text("target_id"),
            ip: text("ip"),
            detail: text("detail"),
            prev_hash: req("prev_hash"),
            hash: req("hash"),
        }
    }
}

/// A page of the audit log.
#[derive(Serialize, ToSchema)]
pub struct AuditPage {
    /// How many records the whole log holds.
    total: u64,
    /// Oldest first.
    records: Vec<AuditRecord>,
}

/// The audit log, oldest first, filtered by `actor`, `action` and time (`from` inclusive, `to`
/// exclusive, RFC 3339); paged by `after` (a record id) and `limit` (city administrator only).
#[utoipa::path(get, path = "/api/audit", operation_id = "audit_list",
    params(AuditQuery),
    responses(
        (status = 200, description = "Records", body = AuditPage),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
    ))]
pub async fn list(
    State(s): State<AppState>,
    who: Who,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let (f, limit) = filters(q)?;
    let rows = gengxin_app::audit::select(&*s.store, &f, Some(limit)).await?;
    let total = s.store.count(LayerId::AuditLog).await?;
    Ok(Json(AuditPage {
        total,
        records: rows.iter().map(AuditRecord::new).collect(),
    }))
}

/// The audit log as CSV (same filters as `/api/audit`, no limit). The export is itself audited.
#[utoipa::path(get, path = "/api/audit/export", operation_id = "audit_export",
    params(AuditQuery),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM)", content_type = "text/csv"),
        (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
    ))]
pub async fn export(
    State(s): State<AppState>,
    who: Who,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let (f, _) = filters(q)?;
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

/// The state of the audit chain.
#[derive(Serialize, ToSchema)]
pub struct ChainState {
    /// Whether every record fits the chain and the last one is its head.
    ok: bool,
    /// How many records were checked.
    records: usize,
    /// The `seq` of the first record that does not fit; only when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    broken_at: Option<i64>,
}

/// Checks the whole chain: `{"ok": true, "records": n}` or the first record that does not fit.
#[utoipa::path(get, path = "/api/audit/verify", operation_id = "audit_verify", responses(
    (status = 200, description = "The chain's state", body = ChainState),
    (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
))]
pub async fn check(State(s): State<AppState>, who: Who) -> Result<Json<ChainState>, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let v = gengxin_app::audit::check(&*s.store).await?;
    Ok(Json(ChainState {
        ok: v.broken_at.is_none(),
        records: v.records,
        broken_at: v.broken_at,
    }))
}
