//! Accounts on the wire: who is calling (session cookie or API token), login, logout, CSRF, API
//! tokens, and the administrator's user management. The use cases are `gengxin_app::sessions`
//! (credentials, login with lockout and TOTP) and `gengxin_app::accounts`.
//!
//! [`resolve`] runs before every handler: it turns the `gengxin_session` cookie or an
//! `Authorization: Bearer gxt_…` token into a [`Who`] (the public when neither is there or valid),
//! and refuses a state-changing request made with the cookie unless it carries the session's
//! `X-CSRF-Token`.

use std::collections::HashMap;
use std::net::{IpAddr, SocketAddr};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use axum::Json;
use axum::extract::{ConnectInfo, Request, State};
use axum::http::{HeaderMap, HeaderValue, Method, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use cookie::{Cookie, SameSite};
use gengxin_app::sessions::{self, Credential, Identity, Login as Outcome};
use gengxin_auth::{Principal, account, totp};
use gengxin_model::{Feature, Value};
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::Code;
use crate::extract::{ApiBody, ApiPath};
use crate::who::Who;
use crate::wire::text;
use crate::{ApiError, AppState};

/// The session cookie's name.
pub const COOKIE: &str = "gengxin_session";
/// The header a cookie-authenticated state-changing request must carry.
pub const CSRF_HEADER: &str = "x-csrf-token";
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

/// The session token the request's cookies carry.
fn session_token(headers: &HeaderMap) -> Option<String> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(Cookie::split_parse)
        .filter_map(Result::ok)
        .find(|c| c.name() == COOKIE)
        .map(|c| c.value().to_owned())
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

async fn identify(
    s: &AppState,
    headers: &HeaderMap,
    method: &Method,
) -> Result<gengxin_auth::Caller, ApiError> {
    let bearer = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "));
    let cookie = session_token(headers);
    let changes = !matches!(*method, Method::GET | Method::HEAD | Method::OPTIONS);
    let credential = match (bearer, &cookie) {
        (Some(token), _) => Credential::Token(token),
        (None, Some(token)) => Credential::Session {
            token,
            csrf: changes.then(|| {
                headers
                    .get(CSRF_HEADER)
                    .and_then(|v| v.to_str().ok())
                    .unwrap_or_default()
            }),
        },
        (None, None) => return Ok(None),
    };
    match sessions::identify(&s.app, credential).await? {
        Identity::Caller(c) => Ok(c),
        Identity::BadToken => Err(ApiError::new(
            Code::Unauthenticated,
            "the API token is not valid",
        )),
        Identity::BadCsrf => Err(ApiError::new(
            Code::Csrf,
            "missing or wrong X-CSRF-Token (read it from /api/auth/me)",
        )),
    }
}

#[derive(Deserialize, ToSchema)]
pub struct Login {
    username: String,
    password: String,
    /// The 6-digit code of the authenticator app (every account has one).
    #[serde(default)]
    totp: Option<String>,
}

/// The signed-in user.
#[derive(Serialize, ToSchema)]
pub struct MeBody {
    username: String,
    #[schema(required = true)]
    display_name: Option<String>,
    /// city_admin, city_leader, district, entity, community_worker, security_admin or
    /// audit_admin.
    role: &'static str,
    organisation_id: String,
    /// The district a district user sees.
    #[schema(required = true)]
    district_code: Option<String>,
    /// The community a community worker sees.
    #[schema(required = true)]
    community_code: Option<String>,
    /// The projects an implementing entity sees.
    project_ids: Vec<String>,
    /// Send as `X-CSRF-Token` with every change made with the session cookie.
    csrf: String,
    /// Only in the answer to a login: the password must be changed.
    #[serde(skip_serializing_if = "Option::is_none")]
    password_expired: Option<bool>,
}

impl MeBody {
    fn new(p: &Principal, user: &Feature, csrf: String) -> MeBody {
        MeBody {
            username: p.username.clone(),
            display_name: user.get("display_name").as_str().map(str::to_owned),
            role: p.role.code(),
            organisation_id: p.organisation_id.clone(),
            district_code: p.district.clone(),
            community_code: p.community.clone(),
            project_ids: p.projects.iter().cloned().collect(),
            csrf,
            password_expired: None,
        }
    }
}

const BAD_LOGIN: &str = "wrong user name, password or one-time code, or the account is locked";

/// Signs in with the password and the current TOTP code together. Without a code the answer is
/// `totp_required`, whether or not the password is right; an unknown user, a wrong password, a
/// wrong or reused code and a locked account all get one identical 401 answer. Five failures in
/// a row lock the account for 15 minutes. Sets the `gengxin_session` cookie (HttpOnly,
/// SameSite=Strict) and returns the CSRF token to send with every change.
#[utoipa::path(post, path = "/api/auth/login", request_body = Login, responses(
    (status = 200, description = "Signed in; the session cookie is set", body = MeBody),
    (status = 401, description = "Wrong credentials or locked (`unauthenticated`), or no TOTP code sent (`totp_required`)", body = crate::error::ErrorBody),
    (status = 429, description = "Too many attempts from this address", body = crate::error::ErrorBody),
))]
pub async fn login(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    ApiBody(body): ApiBody,
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
    let outcome = sessions::login(
        &s.app,
        &who.actor(),
        &login.username,
        &login.password,
        login.totp.as_deref(),
    )
    .await?;
    let session = match outcome {
        Outcome::SignedIn(session) => session,
        Outcome::Refused => return Err(ApiError::new(Code::Unauthenticated, BAD_LOGIN)),
        Outcome::TotpRequired => {
            return Err(ApiError::new(
                Code::TotpRequired,
                "enter the 6-digit code of your authenticator app with the password",
            ));
        }
    };
    let secure = s.auth.secure_cookies
        || headers
            .get("x-forwarded-proto")
            .is_some_and(|v| v.as_bytes() == b"https");
    let cookie = Cookie::build((COOKIE, session.token.as_str()))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::seconds(
            sessions::ABSOLUTE.num_seconds(),
        ))
        .secure(secure)
        .build();
    let mut body = MeBody::new(&session.principal, &session.user, session.csrf.clone());
    body.password_expired = Some(session.password_expired);
    Ok((
        [(
            header::SET_COOKIE,
            HeaderValue::from_str(&cookie.to_string()).map_err(ApiError::internal)?,
        )],
        Json(body),
    )
        .into_response())
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
    if let Some(token) = session_token(&headers) {
        sessions::logout(&s.app, &who.actor(), &token).await?;
    }
    let gone = Cookie::build((COOKIE, ""))
        .path("/")
        .http_only(true)
        .same_site(SameSite::Strict)
        .max_age(cookie::time::Duration::ZERO)
        .build();
    Ok((
        StatusCode::NO_CONTENT,
        [(
            header::SET_COOKIE,
            HeaderValue::from_str(&gone.to_string()).map_err(ApiError::internal)?,
        )],
    )
        .into_response())
}

/// The signed-in user, its scope and the session's CSRF token; 401 for the public.
#[utoipa::path(get, path = "/api/auth/me", responses(
    (status = 200, description = "The signed-in user", body = MeBody),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn me(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
) -> Result<Json<MeBody>, ApiError> {
    let token = session_token(&headers);
    let (p, user, csrf) = sessions::me(&s.app, &who.actor(), token.as_deref()).await?;
    Ok(Json(MeBody::new(&p, &user, csrf)))
}

#[derive(Deserialize, ToSchema)]
pub struct PasswordChange {
    current: String,
    new: String,
}

/// Changes the caller's own password: the current one is required (a wrong one counts towards
/// the lockout), the new one must meet the policy and differ from the last five. The user's
/// other sessions end and its API tokens are revoked.
#[utoipa::path(post, path = "/api/auth/password", request_body = PasswordChange, responses(
    (status = 204, description = "Changed"),
    (status = 401, description = "Not signed in, or the current password is wrong, or the account is locked", body = crate::error::ErrorBody),
    (status = 422, description = "The new password breaks the policy or was used recently", body = crate::error::ErrorBody),
))]
pub async fn change_password(
    State(s): State<AppState>,
    who: Who,
    headers: HeaderMap,
    crate::extract::ApiJson(body): crate::extract::ApiJson<PasswordChange>,
) -> Result<StatusCode, ApiError> {
    let token = session_token(&headers);
    gengxin_app::accounts::change_password(
        &s.app,
        &who.actor(),
        &body.current,
        &body.new,
        token.as_deref(),
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

#[derive(Deserialize, ToSchema)]
pub struct NewToken {
    /// What the token is for.
    name: String,
    /// Days until it expires (1–365, default 90).
    #[serde(default)]
    days: Option<i64>,
}

/// A new API token, shown once.
#[derive(Serialize, ToSchema)]
pub struct NewTokenBody {
    /// Its id (the SHA-256 the store keeps), to revoke it.
    id: String,
    /// The token: send as `Authorization: Bearer …`. It is not shown again.
    token: String,
    name: String,
}

/// Makes an API token for the caller (for machine clients: `Authorization: Bearer …`). The token
/// is shown once; the store keeps only its SHA-256.
#[utoipa::path(post, path = "/api/auth/tokens", request_body = NewToken, responses(
    (status = 201, description = "The token, shown once", body = NewTokenBody),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn create_token(
    State(s): State<AppState>,
    who: Who,
    crate::extract::ApiJson(body): crate::extract::ApiJson<NewToken>,
) -> Result<(StatusCode, Json<NewTokenBody>), ApiError> {
    let p = crate::who::allow(gengxin_auth::policy::require_login(&who.caller))?;
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
        Json(NewTokenBody {
            id,
            token,
            name: body.name.trim().to_owned(),
        }),
    ))
}

/// An API token (never the token itself).
#[derive(Serialize, ToSchema)]
pub struct TokenBody {
    id: String,
    #[schema(required = true)]
    name: Option<String>,
    created_at: String,
    #[schema(required = true)]
    expires_at: Option<String>,
    #[schema(required = true)]
    revoked_at: Option<String>,
}

/// The caller's API tokens (never the tokens themselves).
#[utoipa::path(get, path = "/api/auth/tokens", responses(
    (status = 200, description = "Tokens", body = Vec<TokenBody>),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
))]
pub async fn tokens(State(s): State<AppState>, who: Who) -> Result<Json<Vec<TokenBody>>, ApiError> {
    let rows = gengxin_app::accounts::tokens(&s.app, &who.actor()).await?;
    Ok(Json(
        rows.iter()
            .map(|r| TokenBody {
                id: r.id.clone(),
                name: text(r, "name"),
                created_at: gengxin_model::timestamp(&r.created_at),
                expires_at: text(r, "expires_at"),
                revoked_at: text(r, "revoked_at"),
            })
            .collect(),
    ))
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
    gengxin_app::accounts::revoke_token(&s.app, &who.actor(), &id).await?;
    Ok(StatusCode::NO_CONTENT)
}

/// An account as the administrator sees it: no hash, no secret.
#[derive(Serialize, ToSchema)]
pub struct UserBody {
    username: String,
    #[schema(required = true)]
    display_name: Option<String>,
    #[schema(required = true)]
    role: Option<String>,
    #[schema(required = true)]
    organisation_id: Option<String>,
    #[schema(required = true)]
    district_code: Option<String>,
    #[schema(required = true)]
    community_code: Option<String>,
    #[schema(required = true)]
    project_ids: Option<Vec<String>>,
    /// Locked after failed sign-ins until then.
    #[schema(required = true)]
    locked_until: Option<String>,
    disabled: bool,
    /// Has a TOTP second factor.
    totp: bool,
    /// The version to send back with a change.
    version: i64,
    /// Only when the account was just made or its second factor reset: the TOTP secret as an
    /// `otpauth://` URI, shown once.
    #[serde(skip_serializing_if = "Option::is_none")]
    totp_uri: Option<String>,
}

impl From<&Feature> for UserBody {
    fn from(u: &Feature) -> Self {
        UserBody {
            username: u.id.clone(),
            display_name: text(u, "display_name"),
            role: text(u, "role"),
            organisation_id: text(u, "organisation_id"),
            district_code: text(u, "district_code"),
            community_code: text(u, "community_code"),
            project_ids: u
                .get("project_ids")
                .as_str()
                .map(|p| account::parse_projects(p).into_iter().collect()),
            locked_until: text(u, "locked_until"),
            disabled: u.get("disabled") == &Value::Bool(true),
            totp: u.get("totp_secret") != &Value::Null,
            version: u.version,
            totp_uri: None,
        }
    }
}

/// Every account (the system and the security administrator).
#[utoipa::path(get, path = "/api/admin/users", responses(
    (status = 200, description = "Accounts", body = Vec<UserBody>),
    (status = 401, description = "Not signed in", body = crate::error::ErrorBody),
    (status = 403, description = "Neither the system nor the security administrator", body = crate::error::ErrorBody),
))]
pub async fn users(State(s): State<AppState>, who: Who) -> Result<Json<Vec<UserBody>>, ApiError> {
    let rows = gengxin_app::accounts::users(&s.app, &who.actor()).await?;
    Ok(Json(rows.iter().map(UserBody::from).collect()))
}

#[derive(Deserialize, ToSchema)]
pub struct NewUserBody {
    username: String,
    #[serde(default)]
    #[schema(required = true)]
    display_name: Option<String>,
    role: String,
    organisation_id: String,
    #[serde(default)]
    #[schema(required = true)]
    district_code: Option<String>,
    #[serde(default)]
    #[schema(required = true)]
    community_code: Option<String>,
    #[serde(default)]
    project_ids: Vec<String>,
    password: String,
}

/// Makes an account (the system administrator; never of an administrator role: those are made
/// with `gengxin user add`). The account's TOTP secret is returned once as an `otpauth://` URI.
#[utoipa::path(post, path = "/api/admin/users", request_body = NewUserBody, responses(
    (status = 201, description = "Created", body = UserBody),
    (status = 403, description = "Not the system administrator, or an administrator role", body = crate::error::ErrorBody),
    (status = 409, description = "The user name is taken", body = crate::error::ErrorBody),
    (status = 422, description = "Bad role, scope or password", body = crate::error::ErrorBody),
))]
pub async fn create_user(
    State(s): State<AppState>,
    who: Who,
    crate::extract::ApiJson(b): crate::extract::ApiJson<NewUserBody>,
) -> Result<(StatusCode, Json<UserBody>), ApiError> {
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
    let mut body = UserBody::from(&user);
    body.totp_uri = Some(totp::uri(&secret_b32, "Gengxin", &user.id));
    Ok((StatusCode::CREATED, Json(body)))
}

/// Gives an account a new TOTP secret, returned once as an `otpauth://` URI (the security
/// administrator; not its own account). The old authenticator stops working.
#[utoipa::path(post, path = "/api/admin/users/{username}/totp", params(("username" = String, Path)),
    responses(
    (status = 200, description = "Reset; `totp_uri` holds the new secret", body = UserBody),
    (status = 403, description = "Not the security administrator, or its own account", body = crate::error::ErrorBody),
    (status = 404, description = "No such user", body = crate::error::ErrorBody),
))]
pub async fn reset_totp(
    State(s): State<AppState>,
    who: Who,
    ApiPath(username): ApiPath<String>,
) -> Result<Json<UserBody>, ApiError> {
    let (user, secret_b32) =
        gengxin_app::accounts::reset_totp(&s.app, &who.actor(), &username).await?;
    let mut body = UserBody::from(&user);
    body.totp_uri = Some(totp::uri(&secret_b32, "Gengxin", &user.id));
    Ok(Json(body))
}

#[derive(Deserialize, ToSchema)]
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

/// Changes an account: role, scope and lock by the security administrator, the disabled flag by
/// the system administrator (三权分立). No one changes their own account or gives an
/// administrator role; an administrator's role is changed only at the command line.
#[utoipa::path(put, path = "/api/admin/users/{username}", params(("username" = String, Path)),
    request_body = UserChange, responses(
    (status = 200, description = "Changed", body = UserBody),
    (status = 403, description = "Not the administrator of this change", body = crate::error::ErrorBody),
    (status = 404, description = "No such user", body = crate::error::ErrorBody),
    (status = 409, description = "Changed by someone else first", body = crate::error::ErrorBody),
    (status = 422, description = "The role lacks its scope", body = crate::error::ErrorBody),
))]
pub async fn change_user(
    State(s): State<AppState>,
    who: Who,
    ApiPath(username): ApiPath<String>,
    crate::extract::ApiJson(b): crate::extract::ApiJson<UserChange>,
) -> Result<Json<UserBody>, ApiError> {
    let change = gengxin_app::accounts::UserChange {
        version: b.version,
        disabled: b.disabled,
        unlock: b.unlock,
        role: b.role,
        district_code: b.district_code,
        community_code: b.community_code,
        project_ids: b.project_ids,
    };
    let stored =
        gengxin_app::accounts::change_user(&s.app, &who.actor(), &username, change).await?;
    Ok(Json(UserBody::from(&stored)))
}

/// An organisation.
#[derive(Serialize, ToSchema)]
pub struct OrganisationBody {
    id: String,
    name: String,
    /// city_department, district_government, implementing_entity or community.
    kind: String,
    #[schema(required = true)]
    district_code: Option<String>,
    #[schema(required = true)]
    community_code: Option<String>,
}

/// Every organisation (the system administrator).
#[utoipa::path(get, path = "/api/admin/organisations", responses(
    (status = 200, description = "Organisations", body = Vec<OrganisationBody>),
    (status = 403, description = "Not the system administrator", body = crate::error::ErrorBody),
))]
pub async fn organisations(
    State(s): State<AppState>,
    who: Who,
) -> Result<Json<Vec<OrganisationBody>>, ApiError> {
    let rows = gengxin_app::accounts::organisations(&s.app, &who.actor()).await?;
    Ok(Json(
        rows.iter()
            .map(|o| OrganisationBody {
                id: o.id.clone(),
                name: text(o, "name").unwrap_or_default(),
                kind: text(o, "kind").unwrap_or_default(),
                district_code: text(o, "district_code"),
                community_code: text(o, "community_code"),
            })
            .collect(),
    ))
}

#[derive(Deserialize, ToSchema)]
pub struct NewOrganisation {
    id: String,
    name: String,
    kind: String,
    #[serde(default)]
    district_code: Option<String>,
    #[serde(default)]
    community_code: Option<String>,
}

/// Adds an organisation (the system administrator).
#[utoipa::path(post, path = "/api/admin/organisations", request_body = NewOrganisation, responses(
    (status = 201, description = "Created"),
    (status = 403, description = "Not the system administrator", body = crate::error::ErrorBody),
    (status = 409, description = "The id is taken", body = crate::error::ErrorBody),
    (status = 422, description = "Unknown kind", body = crate::error::ErrorBody),
))]
pub async fn create_organisation(
    State(s): State<AppState>,
    who: Who,
    crate::extract::ApiJson(b): crate::extract::ApiJson<NewOrganisation>,
) -> Result<StatusCode, ApiError> {
    let o = gengxin_app::accounts::Organisation {
        id: b.id,
        name: b.name,
        kind: b.kind,
        district_code: b.district_code,
        community_code: b.community_code,
    };
    gengxin_app::accounts::create_organisation(&s.app, &who.actor(), o).await?;
    Ok(StatusCode::CREATED)
}
