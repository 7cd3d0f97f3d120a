//! The audit log's hash chain: each record's hash covers its content and the previous record's
//! hash, so an altered, deleted or reordered record breaks every hash after it.
//!
//! Two schemes, told apart by the stored hash itself: records written before the store had a key
//! carry a plain SHA-256 (64 hex digits, [`chain`]); every record since carries
//! `hmac:` + HMAC-SHA256 under the audit key ([`chain_keyed`]), over the same bytes. Anyone with
//! write access to the store can recompute a plain hash, but not a keyed one. Once a keyed record
//! appears, every later record must be keyed; plain records are only an old store's prefix.

use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

/// The prefix of a keyed hash.
pub const KEYED: &str = "hmac:";

/// One audit record's content (what the hash covers).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Entry {
    pub seq: i64,
    /// RFC 3339, milliseconds, UTC.
    pub at: String,
    pub actor: String,
    pub role: String,
    pub action: String,
    pub outcome: String,
    pub target_layer: String,
    pub target_id: String,
    pub ip: String,
    pub detail: String,
}

/// Feeds the previous hash, then every field length-prefixed (so no two different records
/// serialise alike).
fn feed(prev: &str, e: &Entry, mut update: impl FnMut(&[u8])) {
    update(prev.as_bytes());
    for part in [
        e.seq.to_string().as_str(),
        &e.at,
        &e.actor,
        &e.role,
        &e.action,
        &e.outcome,
        &e.target_layer,
        &e.target_id,
        &e.ip,
        &e.detail,
    ] {
        update(&(part.len() as u64).to_le_bytes());
        update(part.as_bytes());
    }
}

/// The plain SHA-256 of a record following `prev` (the scheme of records written before the
/// store had a key).
pub fn chain(prev: &str, e: &Entry) -> String {
    let mut h = Sha256::new();
    feed(prev, e, |b| h.update(b));
    crate::secret::hex(&h.finalize())
}

/// The keyed hash of a record following `prev`: `hmac:` + HMAC-SHA256 under `key`.
pub fn chain_keyed(key: &[u8; 32], prev: &str, e: &Entry) -> String {
    let mut m = mac(key);
    feed(prev, e, |b| m.update(b));
    format!("{KEYED}{}", crate::secret::hex(&m.finalize().into_bytes()))
}

/// The MAC of a chain head written outside the store (sequence number, record id, hash, time).
pub fn head_mac(key: &[u8; 32], seq: i64, id: &str, hash: &str, at: &str) -> String {
    let mut m = mac(key);
    for part in [seq.to_string().as_str(), id, hash, at] {
        m.update(&(part.len() as u64).to_le_bytes());
        m.update(part.as_bytes());
    }
    crate::secret::hex(&m.finalize().into_bytes())
}

fn mac(key: &[u8; 32]) -> Hmac<Sha256> {
    Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length")
}

/// How a record does not fit the chain.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Break {
    /// A record missing, added or moved: its `seq` or stored previous hash is not the one the
    /// chain leads to.
    Link,
    /// The hash does not match the content: the record was changed (for a keyed record: or
    /// hashed with another key).
    Altered,
    /// A record after keyed ones carries a plain hash: rewritten by someone without the key.
    /// `true` when its plain SHA-256 matches (re-hashed without the key).
    Unkeyed { rehashed: bool },
}

/// Checks a run of records in `seq` order, each with its stored previous hash and hash. Returns
/// the `seq` of the first record that does not fit and how. `start` is the hash before the first
/// record given (the genesis, or a trusted earlier hash).
pub fn verify<'a>(
    key: &[u8; 32],
    start: &str,
    records: impl IntoIterator<Item = (&'a Entry, &'a str, &'a str)>,
) -> Result<(), (i64, Break)> {
    let mut prev = start.to_owned();
    let mut expected_seq = None;
    let mut keyed = prev.starts_with(KEYED);
    for (e, stored_prev, stored_hash) in records {
        if expected_seq.is_some_and(|s| s != e.seq) || stored_prev != prev {
            return Err((e.seq, Break::Link));
        }
        if stored_hash.starts_with(KEYED) {
            keyed = true;
            if !crate::secret::same(&chain_keyed(key, &prev, e), stored_hash) {
                return Err((e.seq, Break::Altered));
            }
        } else if keyed {
            let rehashed = chain(&prev, e) == stored_hash;
            return Err((e.seq, Break::Unkeyed { rehashed }));
        } else if chain(&prev, e) != stored_hash {
            return Err((e.seq, Break::Altered));
        }
        prev = stored_hash.to_owned();
        expected_seq = Some(e.seq + 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    const KEY: [u8; 32] = [7; 32];

    /// `n` records, the first `plain` of them hashed the old way.
    fn log(n: i64, plain: i64) -> Vec<(Entry, String, String)> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = Entry {
                    seq,
                    action: "login".into(),
                    actor: format!("user{seq}"),
                    ..Entry::default()
                };
                let h = if seq <= plain {
                    chain(&prev, &e)
                } else {
                    chain_keyed(&KEY, &prev, &e)
                };
                let out = (e, prev.clone(), h.clone());
                prev = h;
                out
            })
            .collect()
    }

    fn check(l: &[(Entry, String, String)]) -> Result<(), (i64, Break)> {
        verify(
            &KEY,
            GENESIS,
            l.iter().map(|(e, p, h)| (e, p.as_str(), h.as_str())),
        )
    }

    #[test]
    fn an_altered_deleted_or_reordered_record_is_found() {
        let l = log(5, 0);
        assert_eq!(check(&l), Ok(()));
        let mut altered = l.clone();
        altered[2].0.actor = "mallory".into();
        assert_eq!(check(&altered), Err((3, Break::Altered)));
        let mut deleted = l.clone();
        deleted.remove(1);
        assert_eq!(check(&deleted), Err((3, Break::Link)));
        let mut swapped = l.clone();
        swapped.swap(3, 4);
        assert_eq!(check(&swapped), Err((5, Break::Link)));
    }

    #[test]
    fn an_old_plain_prefix_verifies_and_nothing_plain_may_follow_a_keyed_record() {
        let l = log(6, 3);
        assert!(!l[2].2.starts_with(KEYED) && l[3].2.starts_with(KEYED));
        assert_eq!(check(&l), Ok(()));
        // Altered in the plain prefix.
        let mut altered = l.clone();
        altered[1].0.detail = "x".into();
        assert_eq!(check(&altered), Err((2, Break::Altered)));
        // Record 5 forged and re-chained from there with plain SHA-256.
        let mut forged = l.clone();
        forged[4].0.actor = "mallory".into();
        for i in 4..6 {
            let prev = forged[i - 1].2.clone();
            forged[i].1 = prev.clone();
            forged[i].2 = chain(&prev, &forged[i].0);
        }
        assert_eq!(check(&forged), Err((5, Break::Unkeyed { rehashed: true })));
        // The same with a guessed key.
        let mut guessed = l.clone();
        guessed[4].0.actor = "mallory".into();
        for i in 4..6 {
            let prev = guessed[i - 1].2.clone();
            guessed[i].1 = prev.clone();
            guessed[i].2 = chain_keyed(&[8; 32], &prev, &guessed[i].0);
        }
        assert_eq!(check(&guessed), Err((5, Break::Altered)));
    }

    #[test]
    fn head_macs_cover_every_field() {
        let m = head_mac(
            &KEY,
            3,
            "000000000003",
            "hmac:ab",
            "2026-01-01T00:00:00.000Z",
        );
        assert_eq!(m.len(), 64);
        assert_ne!(
            m,
            head_mac(
                &KEY,
                4,
                "000000000003",
                "hmac:ab",
                "2026-01-01T00:00:00.000Z"
            )
        );
        assert_ne!(
            m,
            head_mac(
                &[1; 32],
                3,
                "000000000003",
                "hmac:ab",
                "2026-01-01T00:00:00.000Z"
            )
        );
    }
}
