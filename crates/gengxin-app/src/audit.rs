//! The audit log: append-only (the store refuses updates and deletes of `audit_log`), each record
//! hash-chained to the one before (`gengxin_auth::audit`). A record is written in the same
//! transaction as the change it records; the chain head (`sequences/audit_log`) is updated with
//! a version check in that transaction, so two servers never fork the chain: the loser retries.

use chrono::{DateTime, Utc};
use gengxin_auth::audit::{Entry, GENESIS, chain, verify};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_store::{Edit, Query, Store, StoreError};

use crate::{Actor, App, Clock};

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

impl Record {
    /// A record of an action by `actor`.
    pub fn by(actor: &Actor, action: &'static str, outcome: &'static str) -> Record {
        Record {
            actor: actor.name(),
            role: actor.role().to_owned(),
            action,
            outcome,
            ip: actor.ip.map(|i| i.to_string()).unwrap_or_default(),
            ..Record::default()
        }
    }

    /// The record of work done by the system itself (the job runner).
    pub fn system(action: &'static str) -> Record {
        Record {
            actor: "system".into(),
            role: "system".into(),
            action,
            outcome: "ok",
            ..Record::default()
        }
    }

    /// The same record, about `layer/id`.
    pub fn on(mut self, layer: &str, id: &str) -> Record {
        self.target_layer = layer.to_owned();
        self.target_id = id.to_owned();
        self
    }

    pub fn detail(mut self, detail: impl Into<String>) -> Record {
        self.detail = detail.into();
        self
    }
}

impl App {
    /// Applies an edit together with its audit records, in one transaction.
    pub async fn apply(&self, edit: Edit, records: Vec<Record>) -> Result<(), StoreError> {
        let _one_writer_here = self.audit_lock.lock().await;
        apply_unlocked(&*self.store, edit, records, self.clock).await
    }

    /// Appends records on their own.
    pub async fn append(&self, records: Vec<Record>) -> Result<(), StoreError> {
        self.apply(Edit::default(), records).await
    }
}

async fn apply_unlocked(
    store: &dyn Store,
    edit: Edit,
    records: Vec<Record>,
    clock: Clock,
) -> Result<(), StoreError> {
    let mut attempt = 0;
    loop {
        let now = clock.now();
        let head = store.get(LayerId::Sequences, HEAD).await?;
        let (mut seq, mut prev) = head.as_ref().map_or((0, GENESIS.to_owned()), |h| {
            (
                h.get("value").as_i64().unwrap_or(0),
                h.get("hash").as_str().unwrap_or(GENESIS).to_owned(),
            )
        });
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

fn entry_feature(e: &Entry, prev: &str, hash: &str, now: DateTime<Utc>) -> Feature {
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

/// Which records to read.
#[derive(Debug, Clone, Default)]
pub struct Filter {
    pub actor: Option<String>,
    pub action: Option<String>,
    /// RFC 3339, inclusive.
    pub from: Option<String>,
    /// RFC 3339, exclusive.
    pub to: Option<String>,
    /// Records after this id.
    pub after: Option<String>,
}

/// The records matching `f`, oldest first, at most `limit`.
pub async fn select(
    store: &dyn Store,
    f: &Filter,
    limit: Option<usize>,
) -> Result<Vec<Feature>, StoreError> {
    let mut equals = Vec::new();
    if let Some(a) = &f.actor {
        equals.push(("actor".to_owned(), Value::Text(a.clone())));
    }
    if let Some(a) = &f.action {
        equals.push(("action".to_owned(), Value::Text(a.clone())));
    }
    let rows = store
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

/// The state of the chain.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verification {
    pub records: usize,
    /// The first record that does not fit, if any.
    pub broken_at: Option<i64>,
}

/// Checks the whole chain, record by record, and that its last record is the head (so a
/// truncated tail is found too).
pub async fn check(store: &dyn Store) -> Result<Verification, StoreError> {
    let rows = store.query(LayerId::AuditLog, Query::default()).await?;
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
    let head = store.get(LayerId::Sequences, HEAD).await?;
    let head_hash = head
        .as_ref()
        .and_then(|h| h.get("hash").as_str())
        .unwrap_or(GENESIS);
    let result = verify(
        GENESIS,
        entries.iter().map(|(e, p, h)| (e, p.as_str(), h.as_str())),
    )
    .and_then(|()| {
        let last = entries.last().map_or(GENESIS, |(_, _, h)| h.as_str());
        if last == head_hash {
            Ok(())
        } else {
            Err(entries.last().map_or(0, |(e, _, _)| e.seq))
        }
    });
    Ok(Verification {
        records: entries.len(),
        broken_at: result.err(),
    })
}
