//! The audit log on the wire: its list, CSV export and chain check (city administrator only).
//! Writing it is `gengxin_app::audit`: every use case appends its records in its transaction.

use axum::Json;
use axum::extract::{FromRequestParts, State};
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
use gengxin_io::export::Labels;

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
    /// The export only: true for field names and raw codes (machines); default false: column
    /// titles and the names of actions, outcomes and layers.
    codes: Option<bool>,
    /// The export only: zh (default) or en; without it, the Accept-Language header.
    lang: Option<String>,
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
    /// The names of `action` and `outcome` (e.g. 登录 / 失败).
    action_name: LocalName,
    outcome_name: LocalName,
    /// The title of `target_layer`, when it is a layer of the catalogue.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    target_layer_name: Option<LocalName>,
    /// The name of the target: a feature of a public layer by its name (other layers' contents
    /// are not the audit administrator's to read), a job by its kind.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    target_name: Option<LocalName>,
}

/// A name in Chinese and English.
#[derive(Serialize, ToSchema, Clone)]
pub struct LocalName {
    zh: String,
    en: String,
}

impl LocalName {
    /// The code's name in a code list, or the code itself.
    fn of(list: &'static [gengxin_model::vocab::Code], code: &str) -> LocalName {
        match gengxin_model::vocab::find(list, code) {
            Some(c) => LocalName {
                zh: c.zh.into(),
                en: c.en.into(),
            },
            None => LocalName {
                zh: code.into(),
                en: code.into(),
            },
        }
    }
}

/// The name of a record's target: a feature of a public model layer by its name, a job by its
/// kind and what it is for.
async fn target_name(s: &AppState, r: &AuditRecord) -> Option<LocalName> {
    let l = gengxin_model::Layer::by_name(r.target_layer.as_deref()?)?;
    let id = r.target_id.as_deref()?;
    if l.id == LayerId::Jobs {
        let (kind, rest) = id.strip_prefix("job:")?.split_once(':').unwrap_or((id, ""));
        let k = gengxin_model::vocab::find(gengxin_model::vocab::JOB_KINDS, kind)?;
        let rest = rest.replace(':', " ");
        let with = |name: &str| {
            if rest.is_empty() {
                name.to_owned()
            } else {
                format!("{name} · {rest}")
            }
        };
        return Some(LocalName {
            zh: with(k.zh),
            en: with(k.en),
        });
    }
    if l.access != gengxin_model::Access::Public {
        return None;
    }
    let f = s.store.get(l.id, id).await.ok()??;
    let name = ["name", "title", "code"].iter().find_map(|k| {
        f.get(k)
            .as_str()
            .filter(|v| !v.is_empty())
            .map(str::to_owned)
    })?;
    Some(LocalName {
        zh: name.clone(),
        en: name,
    })
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
            action_name: LocalName::of(gengxin_model::vocab::AUDIT_ACTIONS, &req("action")),
            outcome_name: LocalName::of(gengxin_model::vocab::AUDIT_OUTCOMES, &req("outcome")),
            target_layer_name: text("target_layer")
                .and_then(|n| gengxin_model::Layer::by_name(&n))
                .map(|l| LocalName {
                    zh: l.zh.into(),
                    en: l.en.into(),
                }),
            target_name: None,
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
    /// Every action a record may name, with its names (for a filter by action).
    actions: Vec<crate::wire::CodeInfo>,
}

/// The audit log, oldest first, filtered by `actor`, `action` and time (`from` inclusive, `to`
/// exclusive, RFC 3339); paged by `after` (a record id) and `limit` (city administrator only).
#[utoipa::path(get, path = "/api/audit", operation_id = "audit_list",
    params(AuditQuery),
    responses(
        (status = 200, description = "Records", body = AuditPage),
        (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
        (status = 403, description = "Not the audit administrator", body = crate::error::ErrorBody),
    ))]
pub async fn list(
    State(s): State<AppState>,
    who: Who,
    ApiQuery(q): ApiQuery<AuditQuery>,
) -> Result<Json<AuditPage>, ApiError> {
    allow(gengxin_auth::policy::require_audit_admin(&who.caller))?;
    let (f, limit) = filters(q)?;
    let rows = gengxin_app::audit::select(&*s.store, &f, Some(limit)).await?;
    let total = s.store.count(LayerId::AuditLog).await?;
    let mut records: Vec<AuditRecord> = rows.iter().map(AuditRecord::new).collect();
    let mut names = std::collections::HashMap::new();
    for r in &mut records {
        let key = (r.target_layer.clone(), r.target_id.clone());
        if key.0.is_none() || key.1.is_none() {
            continue;
        }
        if !names.contains_key(&key) {
            names.insert(key.clone(), target_name(&s, r).await);
        }
        r.target_name = names[&key].clone();
    }
    Ok(Json(AuditPage {
        total,
        records,
        actions: gengxin_model::vocab::AUDIT_ACTIONS
            .iter()
            .map(crate::wire::CodeInfo::of)
            .collect(),
    }))
}

/// The audit log as CSV (same filters as `/api/audit`, no limit). The export is itself audited.
#[utoipa::path(get, path = "/api/audit/export", operation_id = "audit_export",
    params(AuditQuery),
    responses(
        (status = 200, description = "CSV (UTF-8 with BOM)", content_type = "text/csv"),
        (status = 403, description = "Not the audit administrator", body = crate::error::ErrorBody),
    ))]
pub async fn export(
    State(s): State<AppState>,
    who: Who,
    headers: axum::http::HeaderMap,
    ApiQuery(mut q): ApiQuery<AuditQuery>,
) -> Result<Response, ApiError> {
    allow(gengxin_auth::policy::require_audit_admin(&who.caller))?;
    let codes = q.codes.take().map(|c| c.to_string());
    let labels = crate::wire::export_labels(codes.as_deref(), q.lang.take().as_deref(), &headers)?;
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
    let layer = gengxin_model::Layer::by_id(LayerId::AuditLog);
    let heading: Vec<String> = cols
        .iter()
        .map(|c| labels.heading(Some(layer), c))
        .collect();
    w.write_record(&heading).map_err(ApiError::internal)?;
    for r in &rows {
        let cells: Vec<String> = cols
            .iter()
            .map(|c| match labels.value(Some(layer), c, r.get(c)) {
                Value::Int(i) => i.to_string(),
                // The layer an action was on, by its title.
                Value::Text(t) if *c == "target_layer" && labels != Labels::Codes => {
                    match gengxin_model::Layer::by_name(&t) {
                        Some(l) if labels == Labels::En => l.en.to_owned(),
                        Some(l) => l.zh.to_owned(),
                        None => gengxin_io::export::escape_formula(&t),
                    }
                }
                Value::Text(t) => gengxin_io::export::escape_formula(&t),
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
    /// Whether every record fits the chain, the last one is its head, and every head anchored
    /// outside the store names a record the store holds.
    ok: bool,
    /// How many records were checked.
    records: usize,
    /// How many heads anchored outside the store were compared.
    anchors: usize,
    /// The `seq` of the first record a finding names; only when not ok.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    broken_at: Option<i64>,
    /// What does not fit: the first break of the chain, then what the head and the anchored
    /// heads say. Empty when ok.
    findings: Vec<ChainFinding>,
}

/// One thing that does not fit the audit chain.
#[derive(Serialize, ToSchema)]
pub struct ChainFinding {
    /// `link` (a record missing, added or moved), `altered` (content does not match the hash, or
    /// another key), `unkeyed` (forged with plain SHA-256 after keyed records), `head` (the chain
    /// head is not the last record), `truncated` (anchored records deleted at the end),
    /// `rolled_back` (the store is older than an anchored head), `rewritten` (another record where
    /// an anchored head names one), `bad_anchor` (a line of the heads file not signed with this
    /// key), `unanchored` (keyed records, no anchored head).
    kind: &'static str,
    /// The record it is about (`seq`; for `truncated` and `rolled_back` the first one missing).
    seq: i64,
    /// That record's id.
    id: String,
    detail: String,
}

/// Checks the whole chain with the key outside the store, and compares it with the heads
/// anchored outside the store: `{"ok": true, "records": n, …}` or what does not fit.
#[utoipa::path(get, path = "/api/audit/verify", operation_id = "audit_verify", responses(
    (status = 200, description = "The chain's state", body = ChainState),
    (status = 403, description = "Not the audit administrator", body = crate::error::ErrorBody),
))]
pub async fn check(State(s): State<AppState>, who: Who) -> Result<Json<ChainState>, ApiError> {
    allow(gengxin_auth::policy::require_audit_admin(&who.caller))?;
    let v = gengxin_app::audit::check(&s.app).await?;
    Ok(Json(ChainState {
        ok: v.findings.is_empty(),
        records: v.records,
        anchors: v.anchors,
        broken_at: v.findings.iter().map(|f| f.seq).min(),
        findings: v
            .findings
            .iter()
            .map(|f| ChainFinding {
                kind: f.kind.code(),
                seq: f.seq,
                id: f.id(),
                detail: f.detail.clone(),
            })
            .collect(),
    }))
}

/// The routes whose refusals are audited, and where their layer and row id are: the layer
/// endpoints, OGC items, exports and attachments.
const REFUSALS_AUDITED: &[(&str, Option<&str>, Option<&str>)] = &[
    ("/api/layers/{layer}/features", Some("layer"), None),
    (
        "/api/layers/{layer}/features/{id}",
        Some("layer"),
        Some("id"),
    ),
    ("/api/layers/{layer}/export", Some("layer"), None),
    (
        "/ogc/collections/{collection}/items",
        Some("collection"),
        None,
    ),
    (
        "/ogc/collections/{collection}/items/{id}",
        Some("collection"),
        Some("id"),
    ),
    ("/api/attachments/{id}", None, Some("id")),
];

/// Middleware (after routing): a 403 or 404 answered to a signed-in caller on a personal or
/// project layer (or an attachment, which belongs to projects) leaves an audit record — who,
/// which route, layer and id, outcome `denied` or `not_found`. Public and community layers and
/// the public (who is answered 401 on guarded layers) are left out, so that floods of 404s
/// cannot flood the log.
pub async fn refusals(
    State(s): State<AppState>,
    req: axum::extract::Request,
    next: axum::middleware::Next,
) -> Response {
    let (mut parts, body) = req.into_parts();
    let route = parts
        .extensions
        .get::<axum::extract::MatchedPath>()
        .map(|m| m.as_str().to_owned());
    let Some(&(route, layer_param, id_param)) = route
        .as_deref()
        .and_then(|r| REFUSALS_AUDITED.iter().find(|(p, _, _)| *p == r))
    else {
        return next
            .run(axum::extract::Request::from_parts(parts, body))
            .await;
    };
    let params = axum::extract::RawPathParams::from_request_parts(&mut parts, &s)
        .await
        .ok();
    let param = |name: Option<&str>| -> String {
        name.and_then(|n| params.as_ref()?.iter().find(|(k, _)| *k == n))
            .map(|(_, v)| v.to_owned())
            .unwrap_or_default()
    };
    let (layer, id) = (param(layer_param), param(id_param));
    let who = parts.extensions.get::<Who>().cloned().unwrap_or_default();
    let method = parts.method.clone();
    let response = next
        .run(axum::extract::Request::from_parts(parts, body))
        .await;
    let outcome = match response.status() {
        axum::http::StatusCode::FORBIDDEN => "denied",
        axum::http::StatusCode::NOT_FOUND => "not_found",
        _ => return response,
    };
    let guarded = who.caller.is_some()
        && (layer_param.is_none()
            || gengxin_model::Layer::by_name(&layer).is_some_and(|l| {
                matches!(
                    l.access,
                    gengxin_model::Access::Personal | gengxin_model::Access::Projects
                )
            }));
    if guarded {
        let rec = record(&who, "access", outcome)
            .on(
                if layer_param.is_none() {
                    "attachments"
                } else {
                    &layer
                },
                &id,
            )
            .detail(format!("{method} {route}"));
        if let Err(e) = append(&s, vec![rec]).await {
            tracing::error!("cannot audit a refused request: {e:?}");
        }
    }
    response
}
