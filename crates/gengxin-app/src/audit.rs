//! The audit log: append-only (the store refuses updates and deletes of `audit_log`), each record
//! chained to the one before by an HMAC under a key outside the store (`gengxin_auth::audit`,
//! [`crate::keys`]). A record is written in the same transaction as the change it records; the
//! chain head (`sequences/audit_log`) is updated with a version check in that transaction, so two
//! servers never fork the chain: the loser retries.
//!
//! After each committed write the new head (seq, record id, hash, time and their MAC) is
//! appended to the heads file outside the store and fsync'd ([`crate::keys`] says where). The
//! store cannot be rolled back, truncated or re-chained behind an anchored head without
//! [`check`] noticing. Several servers of one PostgreSQL database each append their own heads
//! (to one shared file or to one each); an anchored head only claims "this record existed with
//! this hash", so heads from any server, in any order, check alike.

use std::io::Write;

use chrono::{DateTime, Utc};
use gengxin_auth::audit::{Break, Entry, GENESIS, KEYED, chain_keyed, head_mac, verify};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_store::{Edit, Query, Store, StoreError};
use serde::{Deserialize, Serialize};

use crate::keys::Keys;
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
        if records.is_empty() {
            return self.store.apply(edit).await;
        }
        let keys = self.keys().await?;
        let _one_writer_here = self.audit_lock.lock().await;
        let head = apply_unlocked(&*self.store, keys, edit, records, self.clock).await?;
        // Committed: anchor the new head. A failure here loses no record (the next write's head
        // covers this one), so it is logged, not returned.
        if let Err(e) = anchor(keys, &head).await {
            tracing::error!(file = %keys.heads().display(), "cannot anchor the audit chain head: {e}");
        }
        Ok(())
    }

    /// Appends records on their own.
    pub async fn append(&self, records: Vec<Record>) -> Result<(), StoreError> {
        self.apply(Edit::default(), records).await
    }
}

/// Writes the edit and its (non-empty) records; returns the new head.
async fn apply_unlocked(
    store: &dyn Store,
    keys: &Keys,
    edit: Edit,
    records: Vec<Record>,
    clock: Clock,
) -> Result<Head, StoreError> {
    let mut attempt = 0;
    loop {
        let (audit, head) = chain(store, keys, &records, clock).await?;
        let mut e = edit.clone();
        e.insert.extend(audit.insert);
        e.update.extend(audit.update);
        match store.apply(e).await {
            Err(StoreError::Conflict { layer, .. } | StoreError::Duplicate { layer, .. })
                if (layer == "sequences" || layer == "audit_log") && attempt < RETRIES =>
            {
                attempt += 1;
                tokio::time::sleep(std::time::Duration::from_millis(5 * attempt as u64)).await;
            }
            Err(e) => return Err(e),
            Ok(()) => return Ok(head),
        }
    }
}

/// The records chained to the current head: the edit that appends them and moves the head
/// (version-checked), and the new head.
async fn chain(
    store: &dyn Store,
    keys: &Keys,
    records: &[Record],
    clock: Clock,
) -> Result<(Edit, Head), StoreError> {
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
            let hash = chain_keyed(keys.audit(), &prev, &e);
            let f = entry_feature(&e, &prev, &hash, now);
            prev = hash;
            f
        })
        .collect();
    let mut e = Edit::default();
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
    Ok((e, Head::signed(keys, seq, prev, at)))
}

/// One message of an audited streamed edit ([`App::apply_streamed`]).
#[derive(Debug)]
pub enum Step {
    /// More writes for the transaction.
    Edit(Edit),
    /// The end: append these audit records and commit everything.
    Commit(Vec<Record>),
}

impl App {
    /// Applies edits as they arrive and, at [`Step::Commit`], its audit records, all in one
    /// transaction (`Store::apply_streamed`): an `Err`, or the channel closing before the
    /// commit, writes nothing. Other audited writes of this process wait until it ends. Unlike
    /// [`App::apply`] it cannot retry: if another server moved the audit chain head meanwhile
    /// (PostgreSQL), the edit fails with the conflict and nothing is written.
    pub async fn apply_streamed(
        &self,
        mut steps: tokio::sync::mpsc::Receiver<Result<Step, StoreError>>,
    ) -> Result<(), StoreError> {
        // Taken before the store's write transaction begins, as `apply` does: the other order
        // would deadlock with a writer holding the lock and waiting for the transaction.
        let _one_writer_here = self.audit_lock.lock().await;
        let (tx, rx) = tokio::sync::mpsc::channel(1);
        let store = &*self.store;
        let relay = async move {
            loop {
                match steps.recv().await {
                    // Dropping `tx` aborts the transaction.
                    None => return Ok(None),
                    Some(Err(e)) => {
                        let _ = tx.send(Err(e)).await;
                        return Ok(None);
                    }
                    Some(Ok(Step::Edit(e))) => {
                        if tx.send(Ok(gengxin_store::Part::Edit(e))).await.is_err() {
                            return Ok(None); // the store stopped; it says why
                        }
                    }
                    Some(Ok(Step::Commit(records))) => {
                        let mut head = None;
                        if !records.is_empty() {
                            let keys = self.keys().await?;
                            let (audit, h) = chain(store, keys, &records, self.clock).await?;
                            if tx.send(Ok(gengxin_store::Part::Edit(audit))).await.is_err() {
                                return Ok(None);
                            }
                            head = Some((keys, h));
                        }
                        let _ = tx.send(Ok(gengxin_store::Part::Commit)).await;
                        return Ok::<_, StoreError>(head);
                    }
                }
            }
        };
        let (relayed, applied) = tokio::join!(relay, store.apply_streamed(rx));
        let head = relayed?;
        applied?;
        if let Some((keys, head)) = head
            && let Err(e) = anchor(keys, &head).await
        {
            tracing::error!(file = %keys.heads().display(), "cannot anchor the audit chain head: {e}");
        }
        Ok(())
    }
}

/// One chain head anchored outside the store: a line of JSON in the heads file.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct Head {
    seq: i64,
    id: String,
    hash: String,
    /// When it was written (RFC 3339, UTC).
    at: String,
    /// HMAC-SHA256 of the four fields above under the anchor subkey.
    mac: String,
}

impl Head {
    fn signed(keys: &Keys, seq: i64, hash: String, at: String) -> Head {
        let id = record_id(seq);
        let mac = head_mac(keys.anchor(), seq, &id, &hash, &at);
        Head {
            seq,
            id,
            hash,
            at,
            mac,
        }
    }

    fn valid(&self, keys: &Keys) -> bool {
        self.id == record_id(self.seq)
            && gengxin_auth::secret::same(
                &head_mac(keys.anchor(), self.seq, &self.id, &self.hash, &self.at),
                &self.mac,
            )
    }
}

/// Appends a head to the heads file (one `write` of one line, with `O_APPEND`, so the lines of
/// several processes never interleave) and waits until it is on disk.
async fn anchor(keys: &Keys, head: &Head) -> std::io::Result<()> {
    let mut line = serde_json::to_string(head)?;
    line.push('\n');
    let path = keys.heads().to_owned();
    tokio::task::spawn_blocking(move || {
        let mut options = std::fs::OpenOptions::new();
        options.create(true).append(true);
        #[cfg(unix)]
        std::os::unix::fs::OpenOptionsExt::mode(&mut options, 0o600);
        let mut f = options.open(&path)?;
        f.write_all(line.as_bytes())?;
        f.sync_data()
    })
    .await
    .map_err(std::io::Error::other)?
}

/// The anchored heads: every complete line (a last line without its newline is a write cut
/// short, not a head) with its line number; no file, no heads.
async fn anchored(keys: &Keys) -> Result<Vec<(usize, Option<Head>)>, StoreError> {
    let path = keys.heads().to_owned();
    let text = tokio::task::spawn_blocking(move || match std::fs::read(&path) {
        Ok(b) => Ok(b),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::Unavailable(format!(
            "cannot read the audit heads {}: {e}",
            path.display()
        ))),
    })
    .await
    .map_err(|e| StoreError::Internal(e.to_string()))??;
    let Some(end) = text.iter().rposition(|b| *b == b'\n') else {
        return Ok(Vec::new());
    };
    Ok(text[..end]
        .split(|b| *b == b'\n')
        .enumerate()
        .map(|(i, line)| (i + 1, serde_json::from_slice::<Head>(line).ok()))
        .collect())
}

fn record_id(seq: i64) -> String {
    format!("{seq:012}")
}

fn entry_feature(e: &Entry, prev: &str, hash: &str, now: DateTime<Utc>) -> Feature {
    let opt = |s: &str| (!s.is_empty()).then(|| s.to_owned());
    Feature::new(record_id(e.seq), "gengxin", now)
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
    /// How many anchored heads were compared with the store.
    pub anchors: usize,
    /// What does not fit, if anything: the first break of the chain, then what the head and the
    /// anchored heads say.
    pub findings: Vec<Finding>,
}

/// One thing that does not fit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Finding {
    pub kind: FindingKind,
    /// The record it is about.
    pub seq: i64,
    pub detail: String,
}

impl Finding {
    /// The record's id.
    pub fn id(&self) -> String {
        record_id(self.seq)
    }
}

/// The kinds of break [`check`] tells apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FindingKind {
    /// A record missing, added or moved inside the chain.
    Link,
    /// A record's content does not match its hash (changed, or keyed with another key).
    Altered,
    /// A record after keyed ones hashed without the key (plain SHA-256): forged.
    Unkeyed,
    /// The chain head in `sequences` is not the last record.
    Head,
    /// Records an anchored head names are gone while the store's head still counts them:
    /// records deleted at the end.
    Truncated,
    /// The store (records and head) ends before an anchored head: it was rolled back, or
    /// truncated with its head reset.
    RolledBack,
    /// The store holds another record where an anchored head names one: re-chained.
    Rewritten,
    /// A line of the heads file that is not a head signed with this key.
    BadAnchor,
    /// Keyed records but no anchored head: the heads file is missing.
    Unanchored,
}

impl FindingKind {
    /// The public code.
    pub fn code(self) -> &'static str {
        match self {
            FindingKind::Link => "link",
            FindingKind::Altered => "altered",
            FindingKind::Unkeyed => "unkeyed",
            FindingKind::Head => "head",
            FindingKind::Truncated => "truncated",
            FindingKind::RolledBack => "rolled_back",
            FindingKind::Rewritten => "rewritten",
            FindingKind::BadAnchor => "bad_anchor",
            FindingKind::Unanchored => "unanchored",
        }
    }
}

/// Checks the whole chain, record by record with the key, that its last record is the head, and
/// every anchored head against the store: truncation, rollback and re-chaining are found too.
pub async fn check(app: &App) -> Result<Verification, StoreError> {
    let keys = app.keys().await?;
    let store = &*app.store;
    // The heads first: each was written after its records committed, so every head read now
    // names a record the store must already hold.
    let heads = anchored(keys).await?;
    let mut head = store.get(LayerId::Sequences, HEAD).await?;
    let rows = store.query(LayerId::AuditLog, Query::default()).await?;
    let head_seq = |h: &Option<Feature>| h.as_ref().and_then(|h| h.get("value").as_i64());
    let last_seq = rows.last().and_then(|r| r.get("seq").as_i64()).unwrap_or(0);
    if head_seq(&head).unwrap_or(0) < last_seq {
        // A write landed between the two reads.
        head = store.get(LayerId::Sequences, HEAD).await?;
    }
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
    let mut findings = Vec::new();
    if let Err((seq, how)) = verify(
        keys.audit(),
        GENESIS,
        entries.iter().map(|(e, p, h)| (e, p.as_str(), h.as_str())),
    ) {
        let (kind, detail) = match how {
            Break::Link => (
                FindingKind::Link,
                "its seq or previous hash is not where the chain leads: a record before it is missing, added or moved",
            ),
            Break::Altered => (
                FindingKind::Altered,
                "its hash does not match its content: changed, or hashed with another key",
            ),
            Break::Unkeyed { rehashed: true } => (
                FindingKind::Unkeyed,
                "re-hashed with plain SHA-256 after keyed records: forged without the key",
            ),
            Break::Unkeyed { rehashed: false } => (
                FindingKind::Unkeyed,
                "a hash without the key after keyed records: forged",
            ),
        };
        findings.push(found(kind, seq, detail.to_owned()));
    }
    let stored_head = head_seq(&head).unwrap_or(0);
    let head_hash = head
        .as_ref()
        .and_then(|h| h.get("hash").as_str())
        .unwrap_or(GENESIS);
    let last_hash = entries.last().map_or(GENESIS, |(_, _, h)| h.as_str());
    if stored_head != last_seq || head_hash != last_hash {
        findings.push(found(
            FindingKind::Head,
            last_seq,
            format!("the chain head names record {stored_head}, the last record is {last_seq}"),
        ));
    }
    let (valid, bad): (Vec<_>, Vec<_>) = heads
        .iter()
        .partition(|(_, h)| h.as_ref().is_some_and(|h| h.valid(keys)));
    let valid: Vec<&Head> = valid.iter().filter_map(|(_, h)| h.as_ref()).collect();
    if let Some((line, h)) = bad.first() {
        findings.push(found(
            FindingKind::BadAnchor,
            h.as_ref().map_or(0, |h| h.seq),
            format!(
                "line {line} of {} is not a head signed with this key",
                keys.heads().display()
            ),
        ));
    }
    let stored = |seq: i64| {
        entries
            .binary_search_by_key(&seq, |(e, _, _)| e.seq)
            .ok()
            .map(|i| entries[i].2.as_str())
    };
    if let Some(h) = valid
        .iter()
        .filter(|h| stored(h.seq).is_some_and(|hash| hash != h.hash))
        .min_by_key(|h| h.seq)
    {
        findings.push(found(
            FindingKind::Rewritten,
            h.seq,
            format!(
                "record {} is not the one anchored at {}: the chain was rewritten from there or before",
                h.seq, h.at
            ),
        ));
    }
    if let Some(newest) = valid
        .iter()
        .max_by_key(|h| h.seq)
        .filter(|h| h.seq > last_seq)
    {
        let (kind, how) = if stored_head >= newest.seq {
            (FindingKind::Truncated, "records were deleted at the end")
        } else {
            (
                FindingKind::RolledBack,
                "the store and its head are older than the anchor: rolled back, or truncated with the head reset",
            )
        };
        findings.push(found(
            kind,
            last_seq + 1,
            format!(
                "the store ends at record {last_seq} (head {stored_head}), but record {} was anchored at {}: {how}",
                newest.seq, newest.at
            ),
        ));
    }
    if valid.is_empty() && last_hash.starts_with(KEYED) {
        findings.push(found(
            FindingKind::Unanchored,
            last_seq,
            format!(
                "keyed records but no anchored head in {}: the heads file is missing",
                keys.heads().display()
            ),
        ));
    }
    Ok(Verification {
        records: entries.len(),
        anchors: valid.len(),
        findings,
    })
}

fn found(kind: FindingKind, seq: i64, detail: String) -> Finding {
    Finding { kind, seq, detail }
}
