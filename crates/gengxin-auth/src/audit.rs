//! The audit log's hash chain: each record's hash covers its content and the previous record's
//! hash, so an altered, deleted or reordered record breaks every hash after it.

use sha2::{Digest, Sha256};

/// The hash before the first record.
pub const GENESIS: &str = "0000000000000000000000000000000000000000000000000000000000000000";

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

/// The hash of a record following `prev`.
pub fn chain(prev: &str, e: &Entry) -> String {
    let mut h = Sha256::new();
    h.update(prev.as_bytes());
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
        // Length-prefixed, so no two different records serialise alike.
        h.update((part.len() as u64).to_le_bytes());
        h.update(part.as_bytes());
    }
    crate::secret::hex(&h.finalize())
}

/// Checks a run of records in `seq` order, each with its stored previous hash and hash. Returns
/// the `seq` of the first record that does not fit (content changed, a record missing or moved).
/// `start` is the hash before the first record given (the genesis, or a trusted earlier hash).
pub fn verify<'a>(
    start: &str,
    records: impl IntoIterator<Item = (&'a Entry, &'a str, &'a str)>,
) -> Result<(), i64> {
    let mut prev = start.to_owned();
    let mut expected_seq = None;
    for (e, stored_prev, stored_hash) in records {
        if expected_seq.is_some_and(|s| s != e.seq)
            || stored_prev != prev
            || chain(&prev, e) != stored_hash
        {
            return Err(e.seq);
        }
        prev = stored_hash.to_owned();
        expected_seq = Some(e.seq + 1);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn log(n: i64) -> Vec<(Entry, String, String)> {
        let mut prev = GENESIS.to_owned();
        (1..=n)
            .map(|seq| {
                let e = Entry {
                    seq,
                    action: "login".into(),
                    actor: format!("user{seq}"),
                    ..Entry::default()
                };
                let h = chain(&prev, &e);
                let out = (e, prev.clone(), h.clone());
                prev = h;
                out
            })
            .collect()
    }

    fn check(l: &[(Entry, String, String)]) -> Result<(), i64> {
        verify(
            GENESIS,
            l.iter().map(|(e, p, h)| (e, p.as_str(), h.as_str())),
        )
    }

    #[test]
    fn an_altered_deleted_or_reordered_record_is_found() {
        let l = log(5);
        assert_eq!(check(&l), Ok(()));
        let mut altered = l.clone();
        altered[2].0.actor = "mallory".into();
        assert_eq!(check(&altered), Err(3));
        let mut deleted = l.clone();
        deleted.remove(1);
        assert_eq!(check(&deleted), Err(3));
        let mut swapped = l.clone();
        swapped.swap(3, 4);
        assert_eq!(check(&swapped), Err(5));
    }
}
