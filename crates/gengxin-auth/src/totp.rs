//! TOTP second factors (RFC 6238: SHA-1, 6 digits, 30-second steps, as authenticator apps
//! expect), with replay protection: a code is accepted only for a time step later than the last
//! one used.

use totp_rs::{Algorithm, Secret, TOTP};

/// A new random secret, base32 (what authenticator apps take).
pub fn new_secret() -> String {
    use rand::RngCore;
    let mut bytes = vec![0u8; 20];
    rand::rngs::OsRng.fill_bytes(&mut bytes);
    Secret::Raw(bytes).to_encoded().to_string()
}

/// A secret derived from a text (SHA-256, its first 20 bytes, base32): for generated demo
/// accounts only, whose secrets must be the same on every build (and computable by the browser
/// tests). Never for a real account: anyone who knows the text knows the secret.
pub fn derived_secret(material: &str) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(material.as_bytes());
    Secret::Raw(digest[..20].to_vec()).to_encoded().to_string()
}

fn totp(secret_b32: &str) -> Option<TOTP> {
    let bytes = Secret::Encoded(secret_b32.to_owned()).to_bytes().ok()?;
    TOTP::new(Algorithm::SHA1, 6, 1, 30, bytes).ok()
}

/// The code for a time (seconds since the epoch).
pub fn code_at(secret_b32: &str, unix: u64) -> Option<String> {
    totp(secret_b32).map(|t| t.generate(unix))
}

/// The `otpauth://` URI for an authenticator app.
pub fn uri(secret_b32: &str, issuer: &str, account: &str) -> String {
    let enc = |s: &str| -> String {
        s.bytes()
            .map(|b| match b {
                b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'.' | b'_' | b'~' => {
                    (b as char).to_string()
                }
                _ => format!("%{b:02X}"),
            })
            .collect()
    };
    format!(
        "otpauth://totp/{}:{}?secret={secret_b32}&issuer={}&algorithm=SHA1&digits=6&period=30",
        enc(issuer),
        enc(account),
        enc(issuer)
    )
}

/// Checks a code at `unix` (one step of clock drift either way). Returns the time step the code
/// belongs to when it is right and later than `last_step`; the caller stores that step so the
/// same code cannot be used twice.
pub fn verify(secret_b32: &str, code: &str, unix: u64, last_step: Option<i64>) -> Option<i64> {
    let t = totp(secret_b32)?;
    let code = code.trim();
    if code.len() != 6 || !code.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    let now = (unix / 30) as i64;
    (now - 1..=now + 1)
        .filter(|step| last_step.is_none_or(|last| *step > last))
        .find(|step| {
            let at = (*step as u64) * 30;
            constant_eq(t.generate(at).as_bytes(), code.as_bytes())
        })
}

fn constant_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rfc_6238_vector_and_no_replay() {
        // RFC 6238 appendix B, SHA-1 secret "12345678901234567890", T = 59 → 94287082 (8 digits);
        // its last 6 digits are the 6-digit code.
        let secret = Secret::Raw(b"12345678901234567890".to_vec())
            .to_encoded()
            .to_string();
        assert_eq!(code_at(&secret, 59).unwrap(), "287082");
        let step = verify(&secret, "287082", 59, None).unwrap();
        assert_eq!(step, 1);
        assert_eq!(verify(&secret, "287082", 59, Some(step)), None, "replayed");
        assert_eq!(verify(&secret, "287083", 59, None), None);
        assert_eq!(verify(&secret, "28708", 59, None), None);
        // One step of drift is accepted, two are not.
        assert!(verify(&secret, "287082", 89, None).is_some());
        assert!(verify(&secret, "287082", 120, None).is_none());
    }

    #[test]
    fn derived_secrets_are_base32_of_the_first_20_bytes_of_sha256() {
        // SHA-256("abc") = ba7816bf 8f01cfea 414140de 5dae2223 b00361a3 …; its first 20 bytes
        // in base32 (RFC 4648), computed independently.
        assert_eq!(derived_secret("abc"), "XJ4BNP4PAHH6UQKBIDPF3LRCEOYAGYND");
    }

    #[test]
    fn secrets_are_fresh_and_make_an_otpauth_uri() {
        let a = new_secret();
        assert_ne!(a, new_secret());
        assert!(code_at(&a, 1_700_000_000).is_some());
        let u = uri(&a, "Gengxin 更新", "admin");
        assert!(u.starts_with("otpauth://totp/Gengxin%20%E6%9B%B4%E6%96%B0:admin?secret="));
    }
}
