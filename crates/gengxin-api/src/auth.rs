//! Accounts on the wire: who is calling (session cookie or API token), login with lockout and
//! a TOTP second factor, logout, CSRF, API tokens, and the administrator's user management.
//!
//! [`resolve`] runs before every handler: it turns the `gengxin_session` cookie or an
//! `Authorization: Bearer gxt_…` token into a [`Who`] (the public when neither is there or valid),
//! and refuses a state-changing request made with the cookie unless it carries the session's
//! `X-CSRF-Token`. Handlers ask `gengxin_auth::policy` through [`allow`].

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use chrono::{DateTime, Utc};
use gengxin_auth::policy::Denied;
use gengxin_auth::{Caller, Principal, Role, account, password, secret, totp};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_store::{Edit, Query, StoreError};
use serde::Deserialize;
use serde_json::json;

use crate::audit::{self, Record};
use crate::error::Code;
use crate::extract::ApiPath;
use crate::who::{Who, allow};
use crate::{ApiError, AppState};

/// The session cookie's name.
pub const COOKIE: &str = "gengxin_session";
/// The header a cookie-authenticated state-changing request must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
/// Idle time after which a session ends.
pub const IDLE: chrono::TimeDelta = chrono::TimeDelta::minutes(30);
/// A session's absolute lifetime.
pub const ABSOLUTE: chrono::TimeDelta = chrono::TimeDelta::hours(12);
/// Consecutive failures that lock an account …
pub const MAX_FAILURES: i64 = 5;
/// … for this long.
pub const LOCKOUT: chrono::TimeDelta = chrono::TimeDelta::minutes(15);
/// A password older than this must be changed (等保 profile).
pub const PASSWORD_MAX_AGE: chrono::TimeDelta = chrono::TimeDelta::days(90);
/// Login attempts allowed per source address per minute.
const ATTEMPTS_PER_MINUTE: u32 = 30;

/// Per-address login throttling and the settings that vary by deployment.
pub struct Auth {
    /// Add `Secure` to the cookie: `GENGXIN_SECURE_COOKIES=1` (behind TLS), else only when the
    /// request says it came over HTTPS (`X-Forwarded-Proto: https`).
    secure_cookies: bool,
    attempts: Mutex<HashMap<IpAddr, (Instant, u32)>>,
}

impl Default for Auth {
    fn default() -> Self {
        Auth {
            secure_cookies: std::env::var("GENGXIN_SECURE_COOKIES").is_ok_and(|v| v == "1"),
            attempts: Mutex::default(),
        }
    }
}

impl Auth {
    /// Counts a login attempt from an address; `false` once it made too many this minute.
    fn attempt(&self, ip: Option<IpAddr>) -> bool {
        let Some(ip) = ip else { return true };
        let mut m = self.attempts.lock().expect("not poisoned");
        let now = Instant::now();
        m.retain(|_, (start, _)| now.duration_since(*start) < Duration::from_secs(60));
        let e = m.entry(ip).or_insert((now, 0));
        e.1 += 1;
        e.1 <= ATTEMPTS_PER_MINUTE
    }
}

fn cookie_value(headers: &HeaderMap, name: &str) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|kv| kv.trim().split_once('='))
        .find(|(k, _)| *k == name)
        .map(|(_, v)| v.to_owned())
}

fn ts(f: &Feature, k: &str) -> Option<DateTime<Utc>> {
    f.get(k)
        .as_str()
        .and_then(|t| DateTime::parse_from_rfc3339(t).ok())
        .map(|t| t.with_timezone(&Utc))
}

fn stamp(t: DateTime<Utc>) -> String {
    gengxin_model::timestamp(&t)
}

/// Resolves the caller of every request (see the module documentation).
pub async fn resolve(State(s): State<AppState>, mut req: Request, next: Next) -> Response {
    let ip = req
        .extensions()
        .get::<ConnectInfo<SocketAddr>>()
        .map(|c| c.0.ip());
    let who = match identify(&s, req.headers(), req.method()).await {
        Ok(caller) => Who { caller, ip },
        Err(e) => return e.into_response(),
    };
    req.extensions_mut().insert(who);
    next.run(req).await
}

async fn identify(s: &AppState, headers: &HeaderMap, method: &Method) -> Result<Caller, ApiError> {
    let now = Utc::now();
    if let Some(token) = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
    {
        let bad = || ApiError::new(Code::Unauthenticated, "the API token is not valid");
        let row = s
            .store
            .get(LayerId::ApiTokens, &secret::digest(token.trim()))
            .await?
            .ok_or_else(bad)?;
        if row.get("revoked_at") != &Value::Null || ts(&row, "expires_at").is_some_and(|t| t <= now)
        {
            return Err(bad());
        }
        let user_id = row.get("user_id").as_str().unwrap_or_default();
        let user = s
            .store
            .get(LayerId::Users, user_id)
            .await?
            .ok_or_else(bad)?;
        return account::principal(&user).map(Some).ok_or_else(bad);
    }
    let Some(token) = cookie_value(headers, COOKIE) else {
        return Ok(None);
    };
    let Some(session) = s
        .store
        .get(LayerId::Sessions, &secret::digest(&token))
        .await?
    else {
        return Ok(None);
    };
    let live = ts(&session, "last_seen_at").is_some_and(|t| t + IDLE > now)
        && ts(&session, "expires_at").is_some_and(|t| t > now);
    if !live {
        return Ok(None);
    }
    let user_id = session.get("user_id").as_str().unwrap_or_default();
    let Some(user) = s.store.get(LayerId::Users, user_id).await? else {
        return Ok(None);
    };
    let Some(p) = account::principal(&user) else {
        return Ok(None);
    };
    if !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS) {
        let sent = headers
            .get(CSRF_HEADER)
            .and_then(|v| v.to_str().ok())
            .unwrap_or_default();
        let expected = session.get("csrf").as_str().unwrap_or_default();
        if !secret::same(sent, expected) {
            return Err(ApiError::new(
                Code::Csrf,
                "missing or wrong X-CSRF-Token (read it from /api/auth/me)",
            ));
        }
    }
    // Sliding idle expiry, written at most once a minute per session.
    if ts(&session, "last_seen_at").is_some_and(|t| now - t > chrono::TimeDelta::minutes(1)) {
        let mut touched = session.clone();
        touched
            .properties
            .insert("last_seen_at".into(), stamp(now).into());
        touched.updated_at = now.max(session.updated_at);
        // Another request may have touched it first; either write is as good.
        let _ = s
            .store
            .update(vec![(LayerId::Sessions, vec![touched])])
            .await;
    }
    Ok(Some(p))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct Login {
    username: String,
    password: String,
    /// The 6-digit code of the authenticator app (required for city administrators).
    #[serde(default)]
    totp: Option<String>,
}

const BAD_LOGIN: &str = "wrong user name or password, or the account is locked";

/// Signs in. The same answer for an unknown user, a wrong password and a locked account; five
/// failures in a row lock the account for 15 minutes. A city administrator also sends the
/// current TOTP code (`totp_required` until it does). Sets the `gengxin_session` cookie
/// (HttpOnly, SameSite=Strict) and returns the CSRF token to send with every change.
#[utoipa::path(post, path = "/api/auth/login", request_body = Login, responses(
    (status = 200, description = "Signed in; the session cookie is set", body = Object),
    (status = 401, description = "Wrong credentials, locked, or a TOTP code is needed", body = crate::error::ErrorBody),
    (status = 429, description = "Too many attempts from this address", body = crate::error::ErrorBody),
))]
pub async fn login(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    crate::extract::ApiBody(body): crate::extract::ApiBody,
) -> Result<Response, ApiError> {
    let login: Login = serde_json::from_slice(&body).map_err(|e| {
        ApiError::bad_request(format!(
            "the body must be JSON {{\"username\", \"password\", \"totp\"?}}: {e}"
        ))
    })?;
    if !s.auth.attempt(who.ip) {
        return Err(ApiError::too_many(
            "too many sign-in attempts from this address; wait a minute",
        ));
    }
    let now = Utc::now();
    let record = |outcome: &'static str, detail: &str| Record {
        actor: login.username.chars().take(64).collect(),
        role: String::new(),
        action: "login",
        outcome,
        target_layer: "users".into(),
        target_id: String::new(),
        ip: who.ip.map(|i| i.to_string()).unwrap_or_default(),
        detail: detail.to_owned(),
    };
    let user = if account::valid_username(&login.username) {
        s.store.get(LayerId::Users, &login.username).await?
    } else {
        None
    };
    let Some(user) = user else {
        let pw = login.password.clone();
        tokio::task::spawn_blocking(move || password::verify(&pw, password::dummy_hash()))
            .await
            .map_err(ApiError::internal)?;
        audit::append(&s, vec![record("failed", "unknown user")]).await?;
        return Err(ApiError::new(Code::Unauthenticated, BAD_LOGIN));
    };
    let stored = user
        .get("password_hash")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let pw = login.password.clone();
    let right = tokio::task::spawn_blocking(move || password::verify(&pw, &stored))
        .await
        .map_err(ApiError::internal)?;
    let locked = ts(&user, "locked_until").is_some_and(|t| t > now);
    let Some(principal) = account::principal(&user) else {
        audit::append(&s, vec![record("failed", "account disabled")]).await?;
        return Err(ApiError::new(Code::Unauthenticated, BAD_LOGIN));
    };
    if locked {
        audit::append(&s, vec![record("failed", "account locked")]).await?;
        return Err(ApiError::new(Code::Unauthenticated, BAD_LOGIN));
    }
    let mut second_step = None;
    let mut failure = (!right).then_some("wrong password");
    let secret_b32 = user.get("totp_secret").as_str().map(str::to_owned);
    if right && (principal.role == Role::CityAdmin || secret_b32.is_some()) {
        let Some(secret_b32) = secret_b32 else {
            audit::append(&s, vec![record("failed", "no second factor enrolled")]).await?;
            return Err(ApiError::new(
                Code::TotpNotEnrolled,
                "this account needs a second factor and has none; ask a city administrator",
            ));
        };
        let Some(code) = login.totp.as_deref() else {
            return Err(ApiError::new(
                Code::TotpRequired,
                "enter the 6-digit code of your authenticator app",
            ));
        };
        let last = match user.get("totp_last_step") {
            Value::Int(i) => Some(*i),
            _ => None,
        };
        match totp::verify(&secret_b32, code, now.timestamp() as u64, last) {
            Some(step) => second_step = Some(step),
            None => failure = Some("wrong or reused one-time code"),
        }
    }
    let mut updated = user.clone();
    updated.updated_at = now.max(user.updated_at);
    if let Some(why) = failure {
        let failures = user.get("failed_logins").as_i64().unwrap_or(0) + 1;
        if failures >= MAX_FAILURES {
            updated
                .properties
                .insert("failed_logins".into(), 0_i64.into());
            updated
                .properties
                .insert("locked_until".into(), stamp(now + LOCKOUT).into());
        } else {
            updated
                .properties
                .insert("failed_logins".into(), failures.into());
        }
        let detail = if failures >= MAX_FAILURES {
            format!("{why}; account locked for 15 minutes")
        } else {
            why.to_owned()
        };
        audit::apply(
            &s,
            Edit {
                update: vec![(LayerId::Users, vec![updated])],
                ..Edit::default()
            },
            vec![record("failed", &detail)],
        )
        .await?;
        return Err(ApiError::new(Code::Unauthenticated, BAD_LOGIN));
    }
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
        .set("ip", who.ip.map(|i| i.to_string()));
    let mut ok = record("ok", "");
    ok.role = principal.role.code().to_owned();
    audit::apply(
        &s,
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
        StoreError::Conflict { .. } => ApiError::conflict("signed in concurrently; try again"),
        e => e.into(),
    })?;
    let secure = s.auth.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes() == b"https");
    let cookie = format!(
        "{COOKIE}={token}; Path=/; HttpOnly; SameSite=Strict; Max-Age={}{}",
        ABSOLUTE.num_seconds(),
        if secure { "; Secure" } else { "" }
    );
    let expired = ts(&user, "password_changed_at").is_none_or(|t| t + PASSWORD_MAX_AGE < now);
    let mut body = me_json(&principal, &user, &csrf);
    body["password_expired"] = json!(expired);
    Ok((
        [(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie).map_err(ApiError::internal)?,
        )],
        Json(body),
    )
        .into_response())
}

fn me_json(p: &Principal, user: &Feature, csrf: &str) -> serde_json::Value {
    json!({
        "username": p.username,
        "display_name": user.get("display_name").as_str(),
        "role": p.role.code(),
        "organisation_id": p.organisation_id,
        "district_code": p.district,
        "community_code": p.community,
        "project_ids": p.projects,
        "csrf": csrf,
    })
}

/// Ends the session on the server and clears the cookie.
#[utoipa::path(post, path = "/api/auth/logout", responses(
    (status = 204, description = "Signed out"),
))]
pub async fn logout(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    if let Some(token) = cookie_value(&headers, COOKIE) {
        let id = secret::digest(&token);
        if let Some(row) = s.store.get(LayerId::Sessions, &id).await? {
            let mut rec = audit::record(&who, "logout", "ok");
            rec.target_layer = "sessions".into();
            audit::apply(
                &s,
                Edit {
                    delete: vec![(LayerId::Sessions, vec![(id, row.version)])],
                    ..Edit::default()
                },
                vec![rec],
            )
            .await
            .or_else(|e| match e {
                StoreError::Conflict { .. } | StoreError::NotFound { .. } => Ok(()),
                e => Err(e),
            })?;
        }
    }
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            HeaderValue::from_static(
                "gengxin_session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0",
            ),
        )],
    )
        .into_response())
}

/// The signed-in user, its scope and the session's CSRF token; 401 for the public.
#[utoipa::path(get, path = "/api/auth/me", responses(
    (status = 200, description = "The signed-in user", body = Object),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn me(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = allow(gengxin_auth::policy::require_login(&who.caller))?;
    let user = s
        .store
        .get(LayerId::Users, &p.user_id)
        .await?
        .ok_or_else(|| ApiError::from(Denied::Unauthenticated))?;
    let csrf = match cookie_value(&headers, COOKIE) {
        Some(token) => s
            .store
            .get(LayerId::Sessions, &secret::digest(&token))
            .await?
            .and_then(|r| r.get("csrf").as_str().map(str::to_owned))
            .unwrap_or_default(),
        None => String::new(),
    };
    Ok(Json(me_json(p, &user, &csrf)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct PasswordChange {
    current: String,
    new: String,
}

/// Changes the caller's own password (policy checked; the current one is required).
#[utoipa::path(post, path = "/api/auth/password", request_body = PasswordChange, responses(
    (status = 204, description = "Changed"),
    (status = 401, description = "Not signed in or the current password is wrong", body = crate::error::ErrorBody),
    (status = 422, description = "The new password breaks the policy", body = crate::error::ErrorBody),
))]
pub async fn change_password(
    State(s): State<AppState>,
    who: Who,
    Json(body): Json<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let p = allow(gengxin_auth::policy::require_login(&who.caller))?;
    let user = s
        .store
        .get(LayerId::Users, &p.user_id)
        .await?
        .ok_or_else(|| ApiError::from(Denied::Unauthenticated))?;
    let stored = user
        .get("password_hash")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let current = body.current.clone();
    let right = tokio::task::spawn_blocking(move || password::verify(&current, &stored))
        .await
        .map_err(ApiError::internal)?;
    if !right {
        return Err(ApiError::new(
            Code::Unauthenticated,
            "the current password is wrong",
        ));
    }
    password::check(&body.new, &p.username).map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let new = body.new.clone();
    let hashed = tokio::task::spawn_blocking(move || password::hash(&new))
        .await
        .map_err(ApiError::internal)?;
    let now = Utc::now();
    let mut updated = user.clone();
    updated.updated_at = now.max(user.updated_at);
    updated
        .properties
        .insert("password_hash".into(), hashed.into());
    updated
        .properties
        .insert("password_changed_at".into(), stamp(now).into());
    save_account_row(
        &s,
        &who,
        LayerId::Users,
        updated,
        false,
        "password changed".into(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewToken {
    /// What the token is for.
    name: String,
    /// Days until it expires (1–365, default 90).
    #[serde(default)]
    days: Option<i64>,
}

/// Makes an API token for the caller (for machine clients: `Authorization: Bearer …`). The token
/// is shown once; the store keeps only its SHA-256.
#[utoipa::path(post, path = "/api/auth/tokens", request_body = NewToken, responses(
    (status = 201, description = "The token, shown once", body = Object),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn create_token(
    State(s): State<AppState>,
    who: Who,
    Json(body): Json<NewToken>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    let p = allow(gengxin_auth::policy::require_login(&who.caller))?;
    let (id, token) = gengxin_app::accounts::create_token(
        &s.app,
        &who.actor(),
        &p.user_id,
        &body.name,
        body.days.unwrap_or(90),
    )
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(json!({ "id": id, "token": token, "name": body.name.trim() })),
    ))
}

/// The caller's API tokens (never the tokens themselves).
#[utoipa::path(get, path = "/api/auth/tokens", responses(
    (status = 200, description = "Tokens", body = Object),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn tokens(
    State(s): State<AppState>,
    who: Who,
) -> Result<Json<serde_json::Value>, ApiError> {
    let p = allow(gengxin_auth::policy::require_login(&who.caller))?;
    let rows = s
        .store
        .query(
            LayerId::ApiTokens,
            Query {
                equals: vec![("user_id".into(), Value::Text(p.user_id.clone()))],
                ..Query::default()
            },
        )
        .await?;
    Ok(Json(json!(
        rows.iter()
            .map(|r| json!({
                "id": r.id,
                "name": r.get("name").as_str(),
                "created_at": stamp(r.created_at),
                "expires_at": r.get("expires_at").as_str(),
                "revoked_at": r.get("revoked_at").as_str(),
            }))
            .collect::<Vec<_>>()
    )))
}

/// Revokes one of the caller's API tokens.
#[utoipa::path(delete, path = "/api/auth/tokens/{id}", params(("id" = String, Path)), responses(
    (status = 204, description = "Revoked"),
    (status = 404, description = "No such token of yours", body = crate::error::ErrorBody),
))]
pub async fn revoke_token(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let p = allow(gengxin_auth::policy::require_login(&who.caller))?;
    let row = s
        .store
        .get(LayerId::ApiTokens, &id)
        .await?
        .filter(|r| r.get("user_id").as_str() == Some(p.user_id.as_str()))
        .ok_or_else(|| ApiError::not_found("no such token of yours"))?;
    let now = Utc::now();
    let mut revoked = row.clone();
    revoked.updated_at = now.max(row.updated_at);
    revoked
        .properties
        .insert("revoked_at".into(), stamp(now).into());
    save_account_row(
        &s,
        &who,
        LayerId::ApiTokens,
        revoked,
        false,
        "token revoked".into(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// [`gengxin_app::accounts::save_row`] by the caller.
async fn save_account_row(
    s: &AppState,
    who: &Who,
    layer: LayerId,
    row: Feature,
    insert: bool,
    detail: String,
) -> Result<(), ApiError> {
    Ok(gengxin_app::accounts::save_row(&s.app, &who.actor(), layer, row, insert, detail).await?)
}

/// A user row as the administrator sees it: no hash, no secret.
fn user_json(u: &Feature) -> serde_json::Value {
    json!({
        "username": u.id,
        "display_name": u.get("display_name").as_str(),
        "role": u.get("role").as_str(),
        "organisation_id": u.get("organisation_id").as_str(),
        "district_code": u.get("district_code").as_str(),
        "community_code": u.get("community_code").as_str(),
        "project_ids": u.get("project_ids").as_str().map(account::parse_projects),
        "locked_until": u.get("locked_until").as_str(),
        "disabled": u.get("disabled") == &Value::Bool(true),
        "totp": u.get("totp_secret") != &Value::Null,
        "version": u.version,
    })
}

/// Every account (city administrator only).
#[utoipa::path(get, path = "/api/admin/users", responses(
    (status = 200, description = "Accounts", body = Object),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
    (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
))]
pub async fn users(
    State(s): State<AppState>,
    who: Who,
) -> Result<Json<serde_json::Value>, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let rows = s.store.query(LayerId::Users, Query::default()).await?;
    Ok(Json(json!(rows.iter().map(user_json).collect::<Vec<_>>())))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewUserBody {
    username: String,
    #[serde(default)]
    display_name: Option<String>,
    role: String,
    organisation_id: String,
    #[serde(default)]
    district_code: Option<String>,
    #[serde(default)]
    community_code: Option<String>,
    #[serde(default)]
    project_ids: Vec<String>,
    password: String,
}

/// Makes an account (city administrator only). A city administrator's account gets a TOTP
/// secret, returned once as an `otpauth://` URI.
#[utoipa::path(post, path = "/api/admin/users", request_body = NewUserBody, responses(
    (status = 201, description = "Created", body = Object),
    (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
    (status = 409, description = "The user name is taken", body = crate::error::ErrorBody),
    (status = 422, description = "Bad role, scope or password", body = crate::error::ErrorBody),
))]
pub async fn create_user(
    State(s): State<AppState>,
    who: Who,
    Json(b): Json<NewUserBody>,
) -> Result<(StatusCode, Json<serde_json::Value>), ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let new = account::NewUser {
        username: b.username,
        display_name: b.display_name,
        role: b.role,
        organisation_id: b.organisation_id,
        district_code: b.district_code,
        community_code: b.community_code,
        project_ids: b.project_ids,
        password: b.password,
    };
    let (user, secret_b32) =
        gengxin_app::accounts::add_user(&s.app, &who.actor(), new, None).await?;
    let mut body = user_json(&user);
    if let Some(sec) = secret_b32 {
        body["totp_uri"] = json!(totp::uri(&sec, "Gengxin", &user.id));
    }
    Ok((StatusCode::CREATED, Json(body)))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct UserChange {
    /// The version read (as in `GET /api/admin/users`); a stale one answers 409.
    version: i64,
    #[serde(default)]
    disabled: Option<bool>,
    /// Lifts a lockout.
    #[serde(default)]
    unlock: bool,
    #[serde(default)]
    role: Option<String>,
    #[serde(default)]
    district_code: Option<String>,
    #[serde(default)]
    community_code: Option<String>,
    #[serde(default)]
    project_ids: Option<Vec<String>>,
}

/// Changes an account's role, scope, lock or disabled flag (city administrator only).
#[utoipa::path(put, path = "/api/admin/users/{username}", params(("username" = String, Path)),
    request_body = UserChange, responses(
    (status = 200, description = "Changed", body = Object),
    (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
    (status = 404, description = "No such user", body = crate::error::ErrorBody),
    (status = 409, description = "Changed by someone else first", body = crate::error::ErrorBody),
    (status = 422, description = "The role lacks its scope", body = crate::error::ErrorBody),
))]
pub async fn change_user(
    State(s): State<AppState>,
    who: Who,
    ApiPath(username): ApiPath<String>,
    Json(b): Json<UserChange>,
) -> Result<Json<serde_json::Value>, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let user = s
        .store
        .get(LayerId::Users, &username)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {username:?}")))?;
    let mut u = user.clone();
    u.version = b.version;
    u.updated_at = Utc::now().max(user.updated_at);
    let mut set = |k: &str, v: Option<String>| match v {
        Some(v) if !v.is_empty() => {
            u.properties.insert(k.into(), v.into());
        }
        Some(_) => {
            u.properties.remove(k);
        }
        None => {}
    };
    set("role", b.role.clone());
    set("district_code", b.district_code.clone());
    set("community_code", b.community_code.clone());
    if let Some(ids) = &b.project_ids {
        set(
            "project_ids",
            Some(if ids.is_empty() {
                String::new()
            } else {
                account::projects_json(ids)
            }),
        );
    }
    if let Some(d) = b.disabled {
        u.properties.insert("disabled".into(), d.into());
    }
    if b.unlock {
        u.properties.remove("locked_until");
        u.properties.insert("failed_logins".into(), 0_i64.into());
    }
    let role = u
        .get("role")
        .as_str()
        .and_then(Role::from_code)
        .ok_or_else(|| ApiError::unprocessable("unknown role"))?;
    let projects: Vec<String> = u
        .get("project_ids")
        .as_str()
        .map(|p| account::parse_projects(p).into_iter().collect())
        .unwrap_or_default();
    account::check_scope(
        role,
        u.get("district_code").as_str(),
        u.get("community_code").as_str(),
        &projects,
    )
    .map_err(|e| ApiError::unprocessable(e.to_string()))?;
    let detail = format!(
        "role {}, disabled {:?}, unlock {}",
        role.code(),
        b.disabled,
        b.unlock
    );
    save_account_row(&s, &who, LayerId::Users, u, false, detail).await?;
    let stored = s
        .store
        .get(LayerId::Users, &username)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no user {username:?}")))?;
    Ok(Json(user_json(&stored)))
}

/// Every organisation (city administrator only).
#[utoipa::path(get, path = "/api/admin/organisations", responses(
    (status = 200, description = "Organisations", body = Object),
    (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
))]
pub async fn organisations(
    State(s): State<AppState>,
    who: Who,
) -> Result<Json<serde_json::Value>, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let rows = s
        .store
        .query(LayerId::Organisations, Query::default())
        .await?;
    Ok(Json(json!(
        rows.iter()
            .map(|o| json!({
                "id": o.id,
                "name": o.get("name").as_str(),
                "kind": o.get("kind").as_str(),
                "district_code": o.get("district_code").as_str(),
                "community_code": o.get("community_code").as_str(),
            }))
            .collect::<Vec<_>>()
    )))
}

#[derive(Deserialize, utoipa::ToSchema)]
pub struct NewOrganisation {
    id: String,
    name: String,
    kind: String,
    #[serde(default)]
    district_code: Option<String>,
    #[serde(default)]
    community_code: Option<String>,
}

/// Adds an organisation (city administrator only).
#[utoipa::path(post, path = "/api/admin/organisations", request_body = NewOrganisation, responses(
    (status = 201, description = "Created", body = Object),
    (status = 403, description = "Not a city administrator", body = crate::error::ErrorBody),
    (status = 409, description = "The id is taken", body = crate::error::ErrorBody),
    (status = 422, description = "Unknown kind", body = crate::error::ErrorBody),
))]
pub async fn create_organisation(
    State(s): State<AppState>,
    who: Who,
    Json(b): Json<NewOrganisation>,
) -> Result<StatusCode, ApiError> {
    allow(gengxin_auth::policy::require_admin(&who.caller))?;
    let mut f = Feature::new(b.id.clone(), "manual", Utc::now())
        .set("name", b.name)
        .set("kind", b.kind);
    if let Some(d) = b.district_code {
        f = f.set("district_code", d);
    }
    if let Some(c) = b.community_code {
        f = f.set("community_code", c);
    }
    save_account_row(&s, &who, LayerId::Organisations, f, true, String::new()).await?;
    Ok(StatusCode::CREATED)
}
