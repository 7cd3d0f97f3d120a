//! Secrets sealed at rest: ChaCha20-Poly1305 under a key kept outside the store, with a random
//! nonce and the owning row's id as associated data (a sealed value copied to another row does
//! not open). Stored as `enc1:` + hex(nonce ‖ ciphertext ‖ tag); the prefix tells sealed values
//! from the plain ones of older stores, which [`open`] passes through so that they can be sealed
//! on the next write.

use chacha20poly1305::aead::{Aead, KeyInit, Payload};
use chacha20poly1305::{ChaCha20Poly1305, Key, Nonce};
use rand::RngCore;

/// The prefix (and format version) of a sealed value.
pub const PREFIX: &str = "enc1:";

/// Whether a stored value is sealed (else it is the plain text of an older store).
pub fn is_sealed(stored: &str) -> bool {
    stored.starts_with(PREFIX)
}

/// Seals `plain` for the row `aad`.
pub fn seal(key: &[u8; 32], aad: &str, plain: &str) -> String {
    let mut nonce = [0u8; 12];
    rand::rngs::OsRng.fill_bytes(&mut nonce);
    let sealed = ChaCha20Poly1305::new(Key::from_slice(key))
        .encrypt(
            Nonce::from_slice(&nonce),
            Payload {
                msg: plain.as_bytes(),
                aad: aad.as_bytes(),
            },
        )
        .expect("encryption of a short text cannot fail");
    let mut out = String::from(PREFIX);
    out.push_str(&crate::secret::hex(&nonce));
    out.push_str(&crate::secret::hex(&sealed));
    out
}

/// The plain text of a stored value: a sealed one opened (`None` when it does not open: another
/// key, another row, or altered), a plain one as it is.
pub fn open(key: &[u8; 32], aad: &str, stored: &str) -> Option<String> {
    let Some(hex) = stored.strip_prefix(PREFIX) else {
        return Some(stored.to_owned());
    };
    let bytes = unhex(hex)?;
    if bytes.len() < 12 + 16 {
        return None;
    }
    let (nonce, sealed) = bytes.split_at(12);
    let plain = ChaCha20Poly1305::new(Key::from_slice(key))
        .decrypt(
            Nonce::from_slice(nonce),
            Payload {
                msg: sealed,
                aad: aad.as_bytes(),
            },
        )
        .ok()?;
    String::from_utf8(plain).ok()
}

fn unhex(s: &str) -> Option<Vec<u8>> {
    if !s.len().is_multiple_of(2) {
        return None;
    }
    (0..s.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(s.get(i..i + 2)?, 16).ok())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_values_open_only_with_their_key_and_row() {
        let key = [3; 32];
        let s = seal(&key, "admin", "GEZDGNBVGY3TQOJQ");
        assert!(is_sealed(&s) && !s.contains("GEZDGNBVGY3TQOJQ"));
        assert_ne!(s, seal(&key, "admin", "GEZDGNBVGY3TQOJQ"), "fresh nonces");
        assert_eq!(open(&key, "admin", &s).as_deref(), Some("GEZDGNBVGY3TQOJQ"));
        assert_eq!(open(&[4; 32], "admin", &s), None);
        assert_eq!(open(&key, "leader", &s), None);
        let mut altered = s.clone();
        altered.replace_range(s.len() - 1.., if s.ends_with('0') { "1" } else { "0" });
        assert_eq!(open(&key, "admin", &altered), None);
        // The plain value of an older store passes through.
        assert_eq!(open(&key, "admin", "ABC").as_deref(), Some("ABC"));
        assert!(!is_sealed("ABC"));
    }
}
