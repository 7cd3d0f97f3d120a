//! The audit log: append-only (the store refuses updates and deletes of `audit_log`), each record
//! hash-chained to the one before (`gengxin_auth::audit`). A record is written in the same
//! transaction as the change it records; the chain head (`sequences/audit_log`) is updated with
//! a version check in that transaction, so two servers never fork the chain: the loser retries.

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::header;
use axum::response::{IntoResponse, Response};
use chrono::Utc;
use gengxin_auth::audit::{Entry, GENESIS, chain, verify};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_store::{Edit, Query, StoreError};
use serde_json::json;

use crate::auth::{Who, allow};
use crate::{ApiError, AppState};

/// The chain head's id in `sequences`.
const HEAD: &str = "audit_log";
/// How often a write is retried when another writer moved the chain head first.
const RETRIES: usize = 20;

/// One record to append.
#[derive(Debug, Clone, Default)]
pub struct Record {
    pub actor: String,
    pub role: String,
    pub action: &'static str,
    pub outcome: &'static str,
    pub target_layer: String,
    pub target_id: String,
    pub ip: String,
    pub detail: String,
}

/// A record of an action by the caller.
pub fn record(who: &Who, action: &'static str, outcome: &'static str) -> Record {
    Record {
        actor: who.actor(),
        role: who.role().to_owned(),
        action,
        outcome,
        ip: who.ip.map(|i| i.to_string()).unwrap_or_default(),
        ..Record::default()
    }
}

/// Appends records on their own.
pub async fn append(s: &AppState, records: Vec<Record>) -> Result<(), ApiError> {
    apply(s, Edit::default(), records).await.map_err(Into::into)
}

/// Applies an edit together with its audit records, in one transaction.
pub async fn apply(s: &AppState, edit: Edit, records: Vec<Record>) -> Result<(), StoreError> {
    apply_to(&*s.store, &s.audit_lock, edit, records).await
}

/// [`apply`] on a store, for work outside requests (the job runner).
pub async fn apply_to(
    store: &dyn gengxin_store::Store,
    lock: &tokio::sync::Mutex<()>,
    edit: Edit,
    records: Vec<Record>,
) -> Result<(), StoreError> {
    let _one_writer_here = lock.lock().await;
    let mut attempt = 0;
    loop {
        let head = store.get(LayerId::Sequences, HEAD).await?;
        let (mut seq, mut prev) = head.as_ref().map_or((0, GENESIS.to_owned()), |h| {
            (
                h.get("value").as_i64().unwrap_or(0),
                h.get("hash").as_str().unwrap_or(GENESIS).to_owned(),
            )
        });
        let now = Utc::now();
        let at = gengxin_model::timestamp(&now);
        let rows: Vec<Feature> = records
            .iter()
            .map(|r| {
                seq += 1;
                let e = Entry {
                    seq,
                    at: at.clone(),
                    actor: r.actor.clone(),
                    role: r.role.clone(),
                    action: r.action.to_owned(),
                    outcome: r.outcome.to_owned(),
                    target_layer: r.target_layer.clone(),
                    target_id: r.target_id.clone(),
                    ip: r.ip.clone(),
                    detail: r.detail.clone(),
                };
                let hash = chain(&prev, &e);
                let f = entry_feature(&e, &prev, &hash, now);
                prev = hash;
                f
            })
            .collect();
        let mut e = edit.clone();
        if !rows.is_empty() {
            e.insert.push((LayerId::AuditLog, rows));
            let mut h = head
                .clone()
                .unwrap_or_else(|| Feature::new(HEAD, "gengxin", now));
            h.updated_at = now.max(h.updated_at);
            h.properties.insert("value".into(), seq.into());
            h.properties.insert("hash".into(), prev.clone().into());
            if head.is_some() {
                e.update.push((LayerId::Sequences, vec![h]));
            } else {
                e.insert.push((LayerId::Sequences, vec![h]));
            }
        }
        match store.apply(e).await {
            Err(StoreError::Conflict { layer, .. } | StoreError::Duplicate { layer, .. })
                if (layer == "sequences" || layer == "audit_log") && attempt < RETRIES =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 * attempt as u64)).await;
            }
            other => return other,
        }
    }
}

fn entry_feature(e: &Entry, prev: &str, hash: &str, now: chrono::DateTime<Utc>) -> Feature {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Feature::new(format!("{:012}", e.seq), "gengxin", now)
        .set("seq", e.seq)
        .set("at", e.at.as_str())
        .set("actor", opt(&e.actor))
        .set("role", opt(&e.role))
        .set("action", e.action.as_str())
        .set("outcome", e.outcome.as_str())
        .set("target_layer", opt(&e.target_layer))
        .set("target_id", opt(&e.target_id))
        .set("ip", opt(&e.ip))
        .set("detail", opt(&e.detail))
        .set("prev_hash", prev)
        .set("hash", hash)
}

fn entry_of(f: &Feature) -> Entry {
    let t = |k: &str| f.get(k).as_str().unwrap_or_default().to_owned();
    Entry {
        seq: f.get("seq").as_i64().unwrap_or(0),
        at: t("at"),
        actor: t("actor"),
        role: t("role"),
        action: t("action"),
        outcome: t("outcome"),
        target_layer: t("target_layer"),
        target_id: t("target_id"),
        ip: t("ip"),
        detail: t("detail"),
    }
}

struct Filters {
    actor: Option<String>,
    action: Option<String>,
    from: Option<String>,
    to: Option<String>,
    limit: usize,
    after: Option<String>,
}

fn filters(raw: Option<String>) -> Result<Filters, ApiError> {
    let mut f = Filters {
        actor: None,
        action: None,
        from: None,
        to: None,
        limit: 200,
        after: None,
    };
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        let v = v.into_owned();
        match k.as_ref() {
            "actor" => f.actor = Some(v),
            "action" => f.action = Some(v),
            "from" => f.from = Some(v),
            "to" => f.to = Some(v),
            "after" => f.after = Some(v),
            "limit" => {
                f.limit = v
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
    Ok(f)
}

async fn select(s: &AppState, f: &Filters, limit: Option<usize>) -> Result<Vec<Feature>, ApiError> {
    let mut equals = Vec::new();
    if let Some(a) = &f.actor {
        equals.push(("actor".to_owned(), Value::Text(a.clone())));
    }
    if let Some(a) = &f.action {
        equals.push(("action".to_owned(), Value::Text(a.clone())));
    }
    let rows = s
        .store
        .query(
            LayerId::AuditLog,
            Query {
                equals,
                after_id: f.after.clone(),
                ..Query::default()
            },
        )
        .await?;
    // Timestamps are RFC 3339 UTC with milliseconds, so text order is time order.
    Ok(rows
        .into_iter()
        .filter(|r| {
            let at = r.get("at").as_str().unwrap_or_default();
            f.from.as_deref().is_none_or(|from| at >= from)
                && f.to.as_deref().is_none_or(|to| at < to)
        })
        .take(limit.unwrap_or(usize::MAX))
        .collect())
}

fn row_json(r: &Feature) -> serde_json::Value {
    let mut o = serde_json::Map::new();
    o.insert("id".into(), json!(r.id));
    for (k, v) in &r.properties {
        o.insert(k.clone(), crate::features::value_json(v));
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
    let f = filters(raw)?;
    let rows = select(&s, &f, Some(f.limit)).await?;
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
    let f = filters(raw)?;
    let rows = select(&s, &f, None).await?;
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
    let rows = s.store.query(LayerId::AuditLog, Query::default()).await?;
    let entries: Vec<(Entry, String, String)> = rows
        .iter()
        .map(|r| {
            (
                entry_of(r),
                r.get("prev_hash").as_str().unwrap_or_default().to_owned(),
                r.get("hash").as_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let head = s.store.get(LayerId::Sequences, HEAD).await?;
    let head_hash = head
        .as_ref()
        .and_then(|h| h.get("hash").as_str())
        .unwrap_or(GENESIS);
    let result = verify(
        GENESIS,
        entries.iter().map(|(e, p, h)| (e, p.as_str(), h.as_str())),
    )
    .and_then(|()| {
        // The last record must be the head, so a truncated tail is found too.
        let last = entries.last().map_or(GENESIS, |(_, _, h)| h.as_str());
        if last == head_hash {
            Ok(())
        } else {
            Err(entries.last().map_or(0, |(e, _, _)| e.seq))
        }
    });
    Ok(Json(match result {
        Ok(()) => json!({ "ok": true, "records": entries.len() }),
        Err(seq) => json!({ "ok": false, "records": entries.len(), "broken_at": seq }),
    }))
}
