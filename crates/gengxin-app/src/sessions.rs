//! Sessions: who a credential (a session token or an API token) names, signing in with
//! lockout and a TOTP second factor, signing out. The API carries the tokens in a cookie and a
//! header; what they mean is decided here.

use chrono::{DateTime, TimeDelta, Utc};
use gengxin_auth::policy::Denied;
use gengxin_auth::{Caller, Principal, account, password, secret, totp};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_store::{Edit, StoreError};

use crate::audit::Record;
use crate::{Actor, App, AppError};

/// Idle time after which a session ends.
pub const IDLE: TimeDelta = TimeDelta::minutes(30);
/// A session's absolute lifetime.
pub const ABSOLUTE: TimeDelta = TimeDelta::hours(12);
/// Consecutive failures that lock an account …
pub const MAX_FAILURES: i64 = 5;
/// … for this long.
pub const LOCKOUT: TimeDelta = TimeDelta::minutes(15);
/// A password older than this must be changed (等保 profile).
pub const PASSWORD_MAX_AGE: TimeDelta = TimeDelta::days(90);

/// A stored time field.
pub fn ts(f: &Feature, k: &str) -> Option<DateTime<Utc>> {
    f.get(k)
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn stamp(t: DateTime<Utc>) -> String {
    gengxin_model::timestamp(&t)
}

/// What a request carries to say who sends it.
#[derive(Debug, Clone, Copy)]
pub enum Credential<'a> {
    /// An API token (`gxt_…`).
    Token(&'a str),
    /// A session token, and the CSRF token sent with it when the request changes state
    /// (`None` for a request that only reads).
    Session {
        token: &'a str,
        csrf: Option<&'a str>,
    },
}

/// Who a credential names.
#[derive(Debug, Clone)]
pub enum Identity {
    Caller(Caller),
    /// An API token that is unknown, revoked, expired or of a disabled user.
    BadToken,
    /// A live session whose state-changing request lacks its CSRF token.
    BadCsrf,
}

/// Resolves a credential. A session that ended (idle, expired, its user gone or disabled) is
/// the public; a live one is kept alive (its last use written at most once a minute).
pub async fn identify(app: &App, credential: Credential<'_>) -> Result<Identity, AppError> {
    let now = app.now();
    let (token, csrf) = match credential {
        Credential::Token(token) => {
            let Some(row) = app
                .store
                .get(LayerId::ApiTokens, &secret::digest(token.trim()))
                .await?
            else {
                return Ok(Identity::BadToken);
            };
            if row.get("revoked_at") != &Value::Null
                || ts(&row, "expires_at").is_some_and(|t| t <= now)
            {
                return Ok(Identity::BadToken);
            }
            let user_id = row.get("user_id").as_str().unwrap_or_default();
            let user = app.store.get(LayerId::Users, user_id).await?;
            return Ok(match user.as_ref().and_then(account::principal) {
                Some(p) => Identity::Caller(Some(p)),
                None => Identity::BadToken,
            });
        }
        Credential::Session { token, csrf } => (token, csrf),
    };
    let public = Ok(Identity::Caller(None));
    let Some(session) = app
        .store
        .get(LayerId::Sessions, &secret::digest(token))
        .await?
    else {
        return public;
    };
    let live = ts(&session, "last_seen_at").is_some_and(|t| t + IDLE > now)
        && ts(&session, "expires_at").is_some_and(|t| t > now);
    if !live {
        return public;
    }
    let user_id = session.get("user_id").as_str().unwrap_or_default();
    let Some(user) = app.store.get(LayerId::Users, user_id).await? else {
        return public;
    };
    let Some(p) = account::principal(&user) else {
        return public;
    };
    if let Some(sent) = csrf
        && !secret::same(sent, session.get("csrf").as_str().unwrap_or_default())
    {
        return Ok(Identity::BadCsrf);
    }
    // Sliding idle expiry, written at most once a minute per session.
    if ts(&session, "last_seen_at").is_some_and(|t| now - t > TimeDelta::minutes(1)) {
        let mut touched = session.clone();
        touched
            .properties
            .insert("last_seen_at".into(), stamp(now).into());
        touched.updated_at = now.max(session.updated_at);
        // Another request may have touched it first; either write is as good.
        let _ = app
            .store
            .update(vec![(LayerId::Sessions, vec![touched])])
            .await;
    }
    Ok(Identity::Caller(Some(p)))
}

/// A user row with one more failure counted (sign-in or a wrong current password), locked for
/// [`LOCKOUT`] at the [`MAX_FAILURES`]th, and the audit detail saying so.
pub(crate) fn count_failure(user: &Feature, now: DateTime<Utc>, why: &str) -> (Feature, String) {
    let mut updated = user.clone();
    updated.updated_at = now.max(user.updated_at);
    let failures = user.get("failed_logins").as_i64().unwrap_or(0) + 1;
    let detail = if failures >= MAX_FAILURES {
        updated
            .properties
            .insert("failed_logins".into(), 0_i64.into());
        updated
            .properties
            .insert("locked_until".into(), stamp(now + LOCKOUT).into());
        format!("{why}; account locked for 15 minutes")
    } else {
        updated
            .properties
            .insert("failed_logins".into(), failures.into());
        why.to_owned()
    };
    (updated, detail)
}

/// Whether an account is locked now.
pub(crate) fn locked(user: &Feature, now: DateTime<Utc>) -> bool {
    ts(user, "locked_until").is_some_and(|t| t > now)
}

/// A new session.
#[derive(Debug, Clone)]
pub struct Session {
    /// The session token, for the cookie (the store keeps only its SHA-256).
    pub token: String,
    pub csrf: String,
    pub principal: Principal,
    pub user: Feature,
    /// The password is older than [`PASSWORD_MAX_AGE`] (or was never changed): change it.
    pub password_expired: bool,
}

/// How a sign-in ended.
#[derive(Debug, Clone)]
pub enum Login {
    SignedIn(Box<Session>),
    /// An unknown user, a wrong password or code, a replayed code, a disabled or locked account,
    /// one without a second factor: one answer for all, so that a guesser learns nothing.
    Refused,
    /// No one-time code was sent: the answer to every such attempt, whether or not the
    /// password is right (the password is not even checked).
    TotpRequired,
}

/// Signs in with the password and the current TOTP code together (every account has a second
/// factor; each code is usable once). Five failures in a row lock the account for [`LOCKOUT`].
/// Every attempt is audited; the session, the user's counters and the record are one
/// transaction.
pub async fn login(
    app: &App,
    actor: &Actor,
    username: &str,
    pw: &str,
    code: Option<&str>,
) -> Result<Login, AppError> {
    let now = app.now();
    let record = |outcome: &'static str, detail: &str| Record {
        actor: username.chars().take(64).collect(),
        role: String::new(),
        ..Record::by(actor, "login", outcome)
            .on("users", "")
            .detail(detail)
    };
    let Some(code) = code.map(str::trim).filter(|c| !c.is_empty()) else {
        app.append(vec![record("failed", "no one-time code sent")])
            .await?;
        return Ok(Login::TotpRequired);
    };
    let user = if account::valid_username(username) {
        app.store.get(LayerId::Users, username).await?
    } else {
        None
    };
    let verify = |pw: &str, hash: String| {
        let pw = pw.to_owned();
        tokio::task::spawn_blocking(move || password::verify(&pw, &hash))
    };
    let Some(user) = user else {
        verify(pw, password::dummy_hash().to_owned())
            .await
            .map_err(AppError::internal)?;
        app.append(vec![record("failed", "unknown user")]).await?;
        return Ok(Login::Refused);
    };
    let stored = user
        .get("password_hash")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let right = verify(pw, stored).await.map_err(AppError::internal)?;
    let Some(principal) = account::principal(&user) else {
        app.append(vec![record("failed", "account disabled")])
            .await?;
        return Ok(Login::Refused);
    };
    if locked(&user, now) {
        app.append(vec![record("failed", "account locked")]).await?;
        return Ok(Login::Refused);
    }
    let mut second_step = None;
    let mut failure = (!right).then_some("wrong password");
    if right {
        let last = match user.get("totp_last_step") {
            Value::Int(i) => Some(*i),
            _ => None,
        };
        match app.totp_secret(&user).await? {
            None => failure = Some("no second factor enrolled"),
            Some(secret_b32) => match totp::verify(&secret_b32, code, now.timestamp() as u64, last)
            {
                Some(step) => second_step = Some(step),
                None => failure = Some("wrong or reused one-time code"),
            },
        }
    }
    if let Some(why) = failure {
        let (updated, detail) = count_failure(&user, now, why);
        let counted = app
            .apply(
                Edit {
                    update: vec![(LayerId::Users, vec![updated])],
                    ..Edit::default()
                },
                vec![record("failed", &detail)],
            )
            .await;
        return match counted {
            // Another attempt changed the row first (and counted): the same answer still.
            Ok(()) | Err(StoreError::Conflict { .. }) => Ok(Login::Refused),
            Err(e) => Err(e.into()),
        };
    }
    let mut updated = user.clone();
    updated.updated_at = now.max(user.updated_at);
    updated
        .properties
        .insert("failed_logins".into(), 0_i64.into());
    updated.properties.remove("locked_until");
    if let Some(step) = second_step {
        updated
            .properties
            .insert("totp_last_step".into(), step.into());
    }
    let token = secret::new_token("gxs_");
    let csrf = secret::new_token("gxc_");
    let session = Feature::new(secret::digest(&token), "login", now)
        .set("user_id", user.id.as_str())
        .set("csrf", csrf.as_str())
        .set("last_seen_at", stamp(now))
        .set("expires_at", stamp(now + ABSOLUTE))
        .set("ip", actor.ip.map(|i| i.to_string()));
    let ok = Record {
        role: principal.role.code().to_owned(),
        ..record("ok", "")
    };
    app.apply(
        Edit {
            update: vec![(LayerId::Users, vec![updated])],
            insert: vec![(LayerId::Sessions, vec![session])],
            ..Edit::default()
        },
        vec![ok],
    )
    .await
    .map_err(|e| match e {
        // Two sign-ins of one user at once: the other one counted; try again.
        StoreError::Conflict { .. } => {
            AppError::Conflict("signed in concurrently; try again".into())
        }
        e => e.into(),
    })?;
    let password_expired =
        ts(&user, "password_changed_at").is_none_or(|t| t + PASSWORD_MAX_AGE < now);
    Ok(Login::SignedIn(Box::new(Session {
        token,
        csrf,
        principal,
        user,
        password_expired,
    })))
}

/// Ends a session on the server (audited); an unknown or already ended one is no error.
pub async fn logout(app: &App, actor: &Actor, token: &str) -> Result<(), AppError> {
    let id = secret::digest(token);
    let Some(row) = app.store.get(LayerId::Sessions, &id).await? else {
        return Ok(());
    };
    let rec = Record::by(actor, "logout", "ok").on("sessions", "");
    let edit = Edit {
        delete: vec![(LayerId::Sessions, vec![(id, row.version)])],
        ..Edit::default()
    };
    match app.apply(edit, vec![rec]).await {
        Ok(()) | Err(StoreError::Conflict { .. } | StoreError::NotFound { .. }) => Ok(()),
        Err(e) => Err(e.into()),
    }
}

/// The signed-in user: its principal, its row and the CSRF token of the session `token`
/// names (empty when there is none: an API token's caller).
pub async fn me(
    app: &App,
    actor: &Actor,
    token: Option<&str>,
) -> Result<(Principal, Feature, String), AppError> {
    let p = gengxin_auth::policy::require_login(&actor.caller)?;
    let user = app
        .store
        .get(LayerId::Users, &p.user_id)
        .await?
        .ok_or(Denied::Unauthenticated)?;
    let csrf = match token {
        Some(token) => app
            .store
            .get(LayerId::Sessions, &secret::digest(token))
            .await?
            .and_then(|r| r.get("csrf").as_str().map(str::to_owned))
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok((p.clone(), user, csrf))
}
