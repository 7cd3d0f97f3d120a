//! Opaque bearer secrets (session cookies, CSRF tokens, API tokens) and the digests they are
//! stored under: a store holds only the SHA-256 of a session or API token, never the token.

use rand::RngCore;
use sha2::{Digest, Sha256};

/// 32 random bytes from the operating system, hex (64 characters), with a prefix naming the kind
/// (`gxs_` session, `gxt_` API token, `gxc_` CSRF).
pub fn new_token(prefix: &str) -> String {
    let mut bytes = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    format!("{prefix}{}", hex(&bytes))
}

/// A new secret key: 32 random bytes from the operating system.
pub fn new_key() -> [u8; 32] {
    let mut key = [0u8; 32];
    rand::rngs::OsRng.fill_bytes(&mut key);
    key
}

/// A subkey of `master` for one purpose (HMAC-SHA256 of the purpose's name: one HKDF-Expand
/// block), so that a key used for one purpose reveals nothing of the others.
pub fn derive(master: &[u8; 32], purpose: &str) -> [u8; 32] {
    use hmac::{Hmac, Mac};
    let mut m = Hmac::<Sha256>::new_from_slice(master).expect("HMAC takes any key length");
    m.update(purpose.as_bytes());
    m.update(&[1]);
    m.finalize().into_bytes().into()
}

/// The id a token is stored under: its SHA-256, hex.
pub fn digest(token: &str) -> String {
    hex(&Sha256::digest(token.as_bytes()))
}

pub(crate) fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

/// Compares two secrets in time independent of where they differ.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len()
        && a.bytes()
            .zip(b.bytes())
            .fold(0u8, |acc, (x, y)| acc | (x ^ y))
            == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_random_and_stored_by_digest() {
        let t = new_token("gxs_");
        assert_eq!(t.len(), 68);
        assert_ne!(t, new_token("gxs_"));
        assert_eq!(digest(&t).len(), 64);
        assert_ne!(digest(&t), t);
        assert!(same(&t, &t.clone()));
        assert!(!same(&t, &new_token("gxs_")));
    }

    #[test]
    fn subkeys_differ_by_purpose_and_master() {
        let k = new_key();
        assert_ne!(k, new_key());
        assert_ne!(derive(&k, "audit"), derive(&k, "totp"));
        assert_ne!(derive(&k, "audit"), derive(&new_key(), "audit"));
        assert_eq!(derive(&k, "audit"), derive(&k, "audit"));
    }
}
