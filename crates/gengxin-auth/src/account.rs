//! User rows: making a new account (role and scope checked, password checked and hashed, a TOTP
//! secret for every account) and reading a stored one back as a [`Principal`].

use std::collections::BTreeSet;

use chrono::{DateTime, Utc};
use gengxin_model::{Feature, Value};

use crate::password::{self, PolicyError};
use crate::policy::{Principal, Role};

/// What a new account needs.
#[derive(Debug, Clone, Default)]
pub struct NewUser {
    pub username: String,
    pub display_name: Option<String>,
    pub role: String,
    pub organisation_id: String,
    pub district_code: Option<String>,
    pub community_code: Option<String>,
    pub project_ids: Vec<String>,
    pub password: String,
}

/// Why an account cannot be made.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum AccountError {
    #[error(
        "user name {0:?} must be 3–32 characters: letters, digits, '.', '_' or '-', starting with a letter"
    )]
    BadUsername(String),
    #[error(
        "unknown role {0:?}; one of city_admin, city_leader, district, entity, community_worker, security_admin, audit_admin"
    )]
    UnknownRole(String),
    #[error("a {role} account needs {what}")]
    MissingScope {
        role: &'static str,
        what: &'static str,
    },
    #[error("{0}")]
    Password(#[from] PolicyError),
}

/// Whether a user name is acceptable (it is also the account's id).
pub fn valid_username(name: &str) -> bool {
    let n = name.chars().count();
    (3..=32).contains(&n)
        && name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))
}

/// Checks that a role has the scope it works in: a district, a community, or projects.
pub fn check_scope(
    role: Role,
    district: Option<&str>,
    community: Option<&str>,
    projects: &[String],
) -> Result<(), AccountError> {
    let missing = |what| AccountError::MissingScope {
        role: role.code(),
        what,
    };
    match role {
        Role::District if district.is_none_or(|d| d.len() != 6) => {
            Err(missing("a district code (6 digits)"))
        }
        Role::CommunityWorker if community.is_none_or(|c| c.len() != 12) => {
            Err(missing("a community code (12 digits)"))
        }
        Role::Entity if projects.is_empty() => Err(missing("at least one project")),
        _ => Ok(()),
    }
}

/// A new user row (id = user name) and the TOTP secret it was given (every account has one: to
/// show once, for the authenticator app). The row holds the secret in plain text: the
/// application seals it before it is stored (`App::set_totp_secret`).
pub fn new_user(u: NewUser, now: DateTime<Utc>) -> Result<(Feature, String), AccountError> {
    if !valid_username(&u.username) {
        return Err(AccountError::BadUsername(u.username));
    }
    let role = Role::from_code(&u.role).ok_or_else(|| AccountError::UnknownRole(u.role.clone()))?;
    check_scope(
        role,
        u.district_code.as_deref(),
        u.community_code.as_deref(),
        &u.project_ids,
    )?;
    password::check(&u.password, &u.username)?;
    let totp = crate::totp::new_secret();
    let mut f = Feature::new(u.username.clone(), "manual", now)
        .set("username", u.username.as_str())
        .set("role", role.code())
        .set("organisation_id", u.organisation_id.as_str())
        .set("password_hash", password::hash(&u.password))
        .set("password_changed_at", gengxin_model::timestamp(&now))
        .set("failed_logins", 0_i64);
    let district = u
        .district_code
        .clone()
        .or_else(|| u.community_code.as_ref().map(|c| c[..6].to_owned()));
    for (k, v) in [
        ("display_name", u.display_name.clone()),
        ("district_code", district),
        ("community_code", u.community_code.clone()),
        ("totp_secret", Some(totp.clone())),
    ] {
        if let Some(v) = v {
            f = f.set(k, v);
        }
    }
    if !u.project_ids.is_empty() {
        f = f.set("project_ids", projects_json(&u.project_ids));
    }
    Ok((f, totp))
}

/// A list of project ids as the JSON array `users.project_ids` holds.
pub fn projects_json(ids: &[String]) -> String {
    serde_json::to_string(ids).expect("strings serialise")
}

/// Parses `users.project_ids`; anything but an array of strings is no projects.
pub fn parse_projects(raw: &str) -> BTreeSet<String> {
    serde_json::from_str(raw).unwrap_or_default()
}

/// A stored user as a principal, or `None` when it is disabled or its role is unknown.
pub fn principal(user: &Feature) -> Option<Principal> {
    if user.get("disabled") == &Value::Bool(true) {
        return None;
    }
    let text = |k: &str| user.get(k).as_str().map(str::to_owned);
    Some(Principal {
        user_id: user.id.clone(),
        username: text("username").unwrap_or_else(|| user.id.clone()),
        role: Role::from_code(user.get("role").as_str()?)?,
        organisation_id: text("organisation_id").unwrap_or_default(),
        district: text("district_code"),
        community: text("community_code"),
        projects: text("project_ids")
            .map(|p| parse_projects(&p))
            .unwrap_or_default(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn base(role: &str) -> NewUser {
        NewUser {
            username: "wuchang.li".into(),
            role: role.into(),
            organisation_id: "org-1".into(),
            password: "Lantern-Harbor-77".into(),
            ..NewUser::default()
        }
    }

    #[test]
    fn accounts_need_their_scope_and_a_good_password() {
        assert!(matches!(
            new_user(base("district"), Utc::now()),
            Err(AccountError::MissingScope { .. })
        ));
        assert!(matches!(
            new_user(base("mayor"), Utc::now()),
            Err(AccountError::UnknownRole(_))
        ));
        let mut weak = base("city_leader");
        weak.password = "123456".into();
        assert!(matches!(
            new_user(weak, Utc::now()),
            Err(AccountError::Password(_))
        ));
        let mut bad = base("city_leader");
        bad.username = "1 bad".into();
        assert!(matches!(
            new_user(bad, Utc::now()),
            Err(AccountError::BadUsername(_))
        ));
        let mut cw = base("community_worker");
        cw.community_code = Some("420106001001".into());
        let (f, totp) = new_user(cw, Utc::now()).unwrap();
        assert_eq!(f.get("totp_secret").as_str(), Some(totp.as_str()));
        let p = principal(&f).unwrap();
        assert_eq!(p.district.as_deref(), Some("420106"));
        assert_eq!(p.role, Role::CommunityWorker);
        let (admin, totp) = new_user(base("city_admin"), Utc::now()).unwrap();
        assert!(crate::totp::code_at(&totp, 59).is_some());
        assert!(
            !admin
                .get("password_hash")
                .as_str()
                .unwrap()
                .contains("Lantern")
        );
    }

    #[test]
    fn project_lists_round_trip() {
        let ids = vec!["prj-1".to_owned(), "a\"b\\c".to_owned()];
        assert_eq!(
            parse_projects(&projects_json(&ids)),
            ids.into_iter().collect()
        );
    }
}
