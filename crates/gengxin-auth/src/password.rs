//! Passwords: the `dengbao` policy of `SECURITY.md` (8–64 characters, at least three of four
//! character classes, not on the block-list, not the user name) and argon2id hashes.

use argon2::password_hash::{PasswordHash, PasswordHasher, PasswordVerifier, SaltString};
use argon2::{Algorithm, Argon2, Params, Version};

/// The longest password accepted; longer ones are refused, never truncated.
pub const MAX_LEN: usize = 64;
/// The shortest password accepted.
pub const MIN_LEN: usize = 8;

/// Common and breached passwords, Chinese ones included. A password is refused when one of its
/// normalised forms ([`forms`]) is one of these, or contains one of at least four bytes (two
/// CJK characters).
const BLOCKED: &[&str] = &[
    "123456",
    "12345678",
    "123456789",
    "1234567890",
    "password",
    "passw0rd",
    "p@ssw0rd",
    "p@ssword",
    "abc123",
    "abcd1234",
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
    "gengxin",
    "城市更新",
    "密码",
    "管理员",
];

/// Wuhan and its places: the city, its thirteen districts (with and without 区), the old towns
/// and the optics valley, in characters and in pinyin.
const PLACES: &[&str] = &[
    "武汉",
    "武汉市",
    "汉口",
    "武昌",
    "汉阳",
    "光谷",
    "江岸",
    "江岸区",
    "江汉",
    "江汉区",
    "硚口",
    "硚口区",
    "汉阳区",
    "武昌区",
    "青山",
    "青山区",
    "洪山",
    "洪山区",
    "东西湖",
    "东西湖区",
    "汉南",
    "汉南区",
    "蔡甸",
    "蔡甸区",
    "江夏",
    "江夏区",
    "黄陂",
    "黄陂区",
    "新洲",
    "新洲区",
    "wuhan",
    "hankou",
    "wuchang",
    "hanyang",
    "guanggu",
    "jiangan",
    "jianghan",
    "qiaokou",
    "qingshan",
    "hongshan",
    "dongxihu",
    "hannan",
    "caidian",
    "jiangxia",
    "huangpi",
    "xinzhou",
];

/// Keyboard walks (rows, columns and zig-zags of a QWERTY keyboard), compared with the
/// password's lower-case form and with its letters alone.
const WALKS: &[&str] = &[
    "qwerty",
    "qwertyuiop",
    "asdfgh",
    "asdfghjkl",
    "zxcvbn",
    "zxcvbnm",
    "1qaz2wsx",
    "1qaz@wsx",
    "!qaz@wsx",
    "qazwsx",
    "zaq1@wsx",
    "zaq12wsx",
    "zaqwsx",
    "1q2w3e",
    "1q2w3e4r",
    "q1w2e3r4",
    "qweasd",
    "qweasdzxc",
    "123qwe",
    "qwe123",
    "1qazxsw2",
    "qazxsw",
    "!@#$%^",
    "147258369",
    "741852963",
];

/// Why a password is refused.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PolicyError {
    #[error("the password must have at least {MIN_LEN} characters")]
    TooShort,
    #[error("the password must have at most {MAX_LEN} characters (it is never truncated)")]
    TooLong,
    #[error("the password must not contain NUL or other control characters")]
    ControlCharacter,
    #[error(
        "the password must mix at least three of: lower-case letters, upper-case letters, digits, other characters"
    )]
    TooSimple,
    #[error("the password is too common (it is, or contains, {0:?})")]
    Common(String),
    #[error("the password contains a place name ({0:?}): easy to guess here")]
    PlaceName(String),
    #[error("the password is a keyboard walk ({0:?})")]
    KeyboardWalk(String),
    #[error("the password must not contain the user name")]
    ContainsUsername,
    #[error("the password must differ from the last {HISTORY} passwords")]
    Reused,
}

/// How many passwords a new one must differ from, the current one included.
pub const HISTORY: usize = 5;

/// The forms a password is compared in: lower case; lower case with common leet substitutions
/// undone (`1` read as `i` and as `l`), digits and symbols then stripped; lower case with digits
/// and symbols stripped.
pub fn forms(password: &str) -> Vec<String> {
    let lower = password.to_lowercase();
    let leet = |one: char| -> String {
        lower
            .chars()
            .map(|c| match c {
                '0' => 'o',
                '1' | '!' => one,
                '|' => 'l',
                '3' => 'e',
                '4' | '@' => 'a',
                '5' | '$' => 's',
                '7' | '+' => 't',
                '8' => 'b',
                '9' => 'g',
                c => c,
            })
            .filter(|c| c.is_alphabetic())
            .collect()
    };
    let stripped: String = lower.chars().filter(|c| c.is_alphabetic()).collect();
    let mut out = vec![lower.clone(), leet('i'), leet('l'), stripped];
    out.retain(|f| !f.is_empty());
    out.dedup();
    out
}

/// The first entry of a list that a form is, or contains (entries of at least four bytes).
fn found<'a>(forms: &[String], list: &[&'a str]) -> Option<&'a str> {
    list.iter().copied().find(|b| {
        forms
            .iter()
            .any(|f| f == b || (b.len() >= 4 && f.contains(b)))
    })
}

/// Checks a new password against the `dengbao` policy.
pub fn check(password: &str, username: &str) -> Result<(), PolicyError> {
    if password.chars().any(char::is_control) {
        return Err(PolicyError::ControlCharacter);
    }
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
    let forms = forms(password);
    let user = username.to_lowercase();
    if user.chars().count() >= 3 && forms.iter().any(|f| f.contains(&user)) {
        return Err(PolicyError::ContainsUsername);
    }
    if let Some(w) = found(&forms[..1], WALKS).or_else(|| found(&forms, WALKS)) {
        return Err(PolicyError::KeyboardWalk(w.to_owned()));
    }
    if let Some(p) = found(&forms, PLACES) {
        return Err(PolicyError::PlaceName(p.to_owned()));
    }
    if let Some(b) = found(&forms, BLOCKED) {
        return Err(PolicyError::Common(b.to_owned()));
    }
    Ok(())
}

/// Whether a new password is the current one (`current`, its hash) or one of the earlier ones
/// (`history`, their hashes, newest first) within the last [`HISTORY`].
pub fn reused(password: &str, current: &str, history: &[String]) -> bool {
    std::iter::once(current)
        .chain(history.iter().map(String::as_str))
        .take(HISTORY)
        .any(|h| verify(password, h))
}

/// The history to store after a change: the replaced hash first, then the earlier ones, as
/// many as [`reused`] looks at.
pub fn next_history(replaced: &str, history: &[String]) -> Vec<String> {
    std::iter::once(replaced.to_owned())
        .chain(history.iter().cloned())
        .take(HISTORY - 1)
        .collect()
}

/// Parses `users.password_history` (a JSON array of hashes); anything else is none.
pub fn parse_history(raw: Option<&str>) -> Vec<String> {
    raw.and_then(|r| serde_json::from_str(r).ok())
        .unwrap_or_default()
}

/// A history as `users.password_history` stores it.
pub fn history_json(history: &[String]) -> String {
    serde_json::to_string(history).expect("strings serialise")
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
        assert!(matches!(
            check("Password1", "u"),
            Err(PolicyError::Common(_))
        ));
        assert!(matches!(
            check("城市更新Ab12", "u"),
            Err(PolicyError::Common(_))
        ));
        assert_eq!(
            check("Zhangwei#2026", "zhangwei"),
            Err(PolicyError::ContainsUsername)
        );
        let long = format!("Aa1!{}", "x".repeat(61));
        assert_eq!(check(&long, "u"), Err(PolicyError::TooLong));
        assert!(check(&long[..64], "u").is_ok());
        assert!(check("Lantern-Harbor-77", "zhangwei").is_ok());
    }

    #[test]
    fn wuhan_place_names_are_refused_in_characters_pinyin_and_leet() {
        let place = |pw: &str| match check(pw, "u") {
            Err(PolicyError::PlaceName(p)) => p,
            other => panic!("{pw}: {other:?}"),
        };
        // Every district, in characters, with or without 区, with digits and symbols around.
        for d in [
            "江岸",
            "江汉",
            "硚口",
            "汉阳",
            "武昌",
            "青山",
            "洪山",
            "东西湖",
            "汉南",
            "蔡甸",
            "江夏",
            "黄陂",
            "新洲",
        ] {
            place(&format!("{d}Ab2026!"));
            place(&format!("Xy#9z{d}区"));
        }
        assert_eq!(place("我爱武汉Ab12"), "武汉");
        assert_eq!(place("Hankou@1949"), "hankou");
        assert_eq!(place("Guanggu#2026"), "guanggu");
        assert_eq!(place("Wuhan@2026"), "wuhan");
        assert_eq!(place("JiangAn-2026"), "jiangan");
        assert_eq!(place("Hongshan_88"), "hongshan");
        // Leet spellings and symbols in between are seen through.
        assert_eq!(place("Wu#H4n-2026"), "wuhan");
        assert_eq!(place("H@nk0u!!1949"), "hankou");
        assert_eq!(place("Ji4ng-X1a#7"), "jiangxia");
        assert_eq!(place("C41D1AN_Lake"), "caidian");
    }

    #[test]
    fn keyboard_walks_are_refused() {
        let walk = |pw: &str| match check(pw, "u") {
            Err(PolicyError::KeyboardWalk(w)) => w,
            other => panic!("{pw}: {other:?}"),
        };
        assert_eq!(walk("1qaz@WSX"), "1qaz@wsx");
        assert_eq!(walk("Zaq1@wsx"), "zaq1@wsx");
        assert_eq!(walk("1qaz2wsx#E"), "1qaz2wsx");
        assert_eq!(walk("Qwerty!2026"), "qwerty");
        assert_eq!(walk("1Q2W3E4R!x"), "1q2w3e");
        assert_eq!(walk("Asdfgh#123"), "asdfgh");
        assert_eq!(walk("Zxcvbnm,./1"), "zxcvbn");
        assert_eq!(walk("!QAZ2wsx"), "qazwsx");
        assert_eq!(walk("Qwe123!@#"), "qwe123");
    }

    #[test]
    fn good_passwords_pass() {
        for pw in [
            "Lantern-Harbor-77",
            "Crane-Tower-2026",
            "East-Lake-2026",
            "Hubu-Alley-2026",
            "Guiyuan-Temple-26",
            "Han-River-2026",
            "Tiao#Bridge-48",
            "竹叶海公园Ab9",
            "Violet_Kettle_53",
        ] {
            assert_eq!(check(pw, "zhangwei"), Ok(()), "{pw}");
        }
    }

    #[test]
    fn control_characters_and_nul_are_refused() {
        assert_eq!(
            check("Lantern\0Harbor-77", "u"),
            Err(PolicyError::ControlCharacter)
        );
        assert_eq!(
            check("Lantern\nHarbor-77", "u"),
            Err(PolicyError::ControlCharacter)
        );
        assert_eq!(
            check("Lantern\u{7f}Harbor-77", "u"),
            Err(PolicyError::ControlCharacter)
        );
    }

    #[test]
    fn the_history_keeps_the_last_five_passwords() {
        let pws: Vec<String> = (1..=6).map(|i| format!("Lantern-Harbor-{i}x")).collect();
        let mut current = hash(&pws[0]);
        let mut history = Vec::new();
        for pw in &pws[1..] {
            assert!(!reused(pw, &current, &history));
            history = next_history(&current, &history);
            current = hash(pw);
        }
        assert_eq!(history.len(), HISTORY - 1);
        // pws[5] is current, pws[1..5] are the four before it: five in all, refused; pws[0]
        // is the sixth last and may come back.
        for pw in &pws[1..] {
            assert!(reused(pw, &current, &history), "{pw}");
        }
        assert!(!reused(&pws[0], &current, &history));
        assert_eq!(parse_history(Some(&history_json(&history))), history);
        assert!(parse_history(Some("not json")).is_empty());
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
