//! Passwords: the `dengbao` policy of `SECURITY.md` (8–64 characters, at least three of four
//! character classes, not on the block-list, not the user name) and argon2id hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The longest password accepted; longer ones are refused, never truncated.
pub const MAX_LEN: usize = 64;
/// The shortest password accepted.
pub const MIN_LEN: usize = 8;

/// Common and breached passwords, Chinese ones included, compared case-insensitively; a password
/// that is one of these with digits or punctuation around it is refused as well.
const BLOCKED: &[&str] = &[
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "qwerty",
    "qwertyuiop",
    "1qaz2wsx",
    "abc123",
    "admin",
    "administrator",
    "welcome",
    "iloveyou",
    "woaini",
    "woaini1314",
    "5201314",
    "a123456",
    "aa123456",
    "zhang",
    "wang",
    "wuhan",
    "gengxin",
    "城市更新",
    "武汉",
    "武汉市",
    "江岸区",
    "江汉区",
    "硚口区",
    "汉阳区",
    "武昌区",
    "青山区",
    "洪山区",
    "东西湖区",
    "汉南区",
    "蔡甸区",
    "江夏区",
    "黄陂区",
    "新洲区",
    "密码",
    "管理员",
];

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password must have at least {MIN_LEN} characters")]
    TooShort,
    #[error("the password must have at most {MAX_LEN} characters (it is never truncated)")]
    TooLong,
    #[error(
        "the password must mix at least three of: lower-case letters, upper-case letters, digits, other characters"
    )]
    TooSimple,
    #[error("the password is too common or contains the user name or a place name")]
    Blocked,
}

/// Checks a new password against the `dengbao` policy.
pub fn check(password: &str, username: &str) -> Result<(), PolicyError> {
    let n = password.chars().count();
    if n < MIN_LEN {
        return Err(PolicyError::TooShort);
    }
    if n > MAX_LEN {
        return Err(PolicyError::TooLong);
    }
    let classes = [
        password.chars().any(|c| c.is_lowercase()),
        password.chars().any(|c| c.is_uppercase()),
        password.chars().any(|c| c.is_ascii_digit()),
        password.chars().any(|c| !c.is_alphanumeric()),
    ];
    if classes.iter().filter(|c| **c).count() < 3 {
        return Err(PolicyError::TooSimple);
    }
    let lower = password.to_lowercase();
    // The letters and CJK characters of the password, without digits and punctuation.
    let core: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    let user = username.to_lowercase();
    let blocked = BLOCKED
        .iter()
        .any(|b| lower == *b || core == *b || (b.chars().count() >= 4 && lower.contains(b)))
        || (user.chars().count() >= 3 && lower.contains(&user));
    if blocked {
        return Err(PolicyError::Blocked);
    }
    Ok(())
}

fn hasher() -> Argon2<'static> {
    // OWASP's argon2id baseline: 19 MiB, 2 passes, 1 lane.
    Argon2::new(
        Algorithm::Argon2id,
        Version::V0x13,
        Params::new(19 * 1024, 2, 1, None).expect("valid argon2 parameters"),
    )
}

/// An argon2id hash in PHC string form, with a fresh random salt.
pub fn hash(password: &str) -> String {
    let salt = SaltString::generate(&mut argon2::password_hash::rand_core::OsRng);
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashes any password of at most 64 characters")
        .to_string()
}

/// An argon2id hash with a given salt (16 bytes): for reproducible demo stores only.
pub fn hash_with_salt(password: &str, salt: &[u8; 16]) -> String {
    let salt = SaltString::encode_b64(salt).expect("16 bytes encode");
    hasher()
        .hash_password(password.as_bytes(), &salt)
        .expect("argon2id hashes any password of at most 64 characters")
        .to_string()
}

/// Whether a password matches a stored hash (a malformed hash matches nothing).
pub fn verify(password: &str, stored: &str) -> bool {
    PasswordHash::new(stored)
        .map(|h| hasher().verify_password(password.as_bytes(), &h).is_ok())
        .unwrap_or(false)
}

/// A hash that matches no password, verified against when the user does not exist, so an
/// unknown user costs as much time as a wrong password.
pub fn dummy_hash() -> &'static str {
    static DUMMY: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    DUMMY.get_or_init(|| hash("no user has this password: Zx9!"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_policy_refuses_short_simple_common_and_overlong_passwords() {
        assert_eq!(check("Ab1!", "u"), Err(PolicyError::TooShort));
        assert_eq!(check("abcdefgh1", "u"), Err(PolicyError::TooSimple));
        assert_eq!(check("Password1", "u"), Err(PolicyError::Blocked));
        assert_eq!(check("城市更新Ab12", "u"), Err(PolicyError::Blocked));
        assert_eq!(check("Wuhan@2026", "u"), Err(PolicyError::Blocked));
        assert_eq!(
            check("Zhangwei#2026", "zhangwei"),
            Err(PolicyError::Blocked)
        );
        let long = format!("Aa1!{}", "x".repeat(61));
        assert_eq!(check(&long, "u"), Err(PolicyError::TooLong));
        assert!(check(&long[..64], "u").is_ok());
        assert!(check("Lantern-Harbor-77", "zhangwei").is_ok());
    }

    #[test]
    fn hashes_are_argon2id_salted_and_verify_only_the_password() {
        let a = hash("Lantern-Harbor-77");
        let b = hash("Lantern-Harbor-77");
        assert!(a.starts_with("$argon2id$v=19$m=19456,t=2,p=1$"), "{a}");
        assert_ne!(a, b);
        assert!(verify("Lantern-Harbor-77", &a));
        assert!(!verify("Lantern-Harbor-78", &a));
        assert!(!verify("Lantern-Harbor-77", "not a hash"));
        assert!(!verify("", dummy_hash()));
    }
}
