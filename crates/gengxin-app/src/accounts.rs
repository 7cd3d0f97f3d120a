//! Accounts: users, organisations and API tokens, each write audited in its transaction. The
//! same use cases serve the administrator's API and `gengxin user add` / `user token`. Signing
//! in and sessions are `crate::sessions`.

use gengxin_auth::policy::{
    Denied, may_assign, require_account_admin, require_login, require_security_admin,
    require_system_admin,
};
use gengxin_auth::{Role, account, password, secret};
use gengxin_model::{Feature, Layer, LayerId, Value};
use gengxin_store::{Edit, Query};

use crate::audit::Record;
use crate::{Actor, App, AppError};

/// Inserts (or, with `insert` false, updates with its version check) one row of an account
/// table with its `account` audit record, in one transaction.
pub async fn save_row(
    app: &App,
    actor: &Actor,
    layer: LayerId,
    row: Feature,
    insert: bool,
    detail: String,
) -> Result<(), AppError> {
    let rec = Record::by(actor, "account", "ok")
        .on(Layer::by_id(layer).name, &row.id)
        .detail(detail);
    let rows = vec![(layer, vec![row])];
    let edit = if insert {
        Edit {
            insert: rows,
            ..Edit::default()
        }
    } else {
        Edit {
            update: rows,
            ..Edit::default()
        }
    };
    Ok(app.apply(edit, vec![rec]).await?)
}

/// An organisation to create with a user when it does not exist yet (the command line's
/// bootstrap; the API requires an existing one).
#[derive(Debug, Clone)]
pub struct NewOrganisation {
    pub name: String,
}

/// Makes an account: role and scope checked, the password policy applied and hashed (on a
/// blocking thread: argon2id is slow on purpose). Returns the user row and its TOTP secret, to
/// show once. Through the API only the system administrator makes accounts, and never one of an
/// administrator role ([`may_assign`]); the command line makes any.
pub async fn add_user(
    app: &App,
    actor: &Actor,
    new: account::NewUser,
    organisation: Option<NewOrganisation>,
) -> Result<(Feature, String), AppError> {
    if actor.operator.is_none() {
        let p = require_system_admin(&actor.caller)?;
        if let Some(target) = Role::from_code(&new.role)
            && !may_assign(p.role, target)
        {
            return Err(AppError::Forbidden(format!(
                "the {} role is given only at the command line (gengxin user add --role {})",
                target.code(),
                target.code()
            )));
        }
    }
    let now = app.now();
    let org_id = new.organisation_id.clone();
    let org_row = match (
        app.store.get(LayerId::Organisations, &org_id).await?,
        organisation,
    ) {
        (Some(_), _) => None,
        (None, None) => {
            return Err(AppError::Unprocessable(format!(
                "no organisation {org_id:?}"
            )));
        }
        (None, Some(o)) => {
            let kind = match new.role.as_str() {
                "district" => "district_government",
                "entity" => "implementing_entity",
                "community_worker" => "community",
                _ => "city_department",
            };
            Some(
                Feature::new(org_id.as_str(), "manual", now)
                    .set("name", o.name)
                    .set("kind", kind)
                    .set("district_code", new.district_code.clone())
                    .set("community_code", new.community_code.clone()),
            )
        }
    };
    let (mut user, totp) = tokio::task::spawn_blocking(move || account::new_user(new, now))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    app.set_totp_secret(&mut user, &totp).await?;
    let detail = format!(
        "account created, role {}",
        user.get("role").as_str().unwrap_or_default()
    );
    let mut records = Vec::new();
    let mut insert = Vec::new();
    if let Some(org) = org_row {
        records.push(
            Record::by(actor, "account", "ok")
                .on("organisations", &org.id)
                .detail("organisation created"),
        );
        insert.push((LayerId::Organisations, vec![org]));
    }
    records.push(
        Record::by(actor, "account", "ok")
            .on("users", &user.id)
            .detail(detail),
    );
    insert.push((LayerId::Users, vec![user.clone()]));
    app.apply(
        Edit {
            insert,
            ..Edit::default()
        },
        records,
    )
    .await?;
    Ok((user, totp))
}

/// A new API token of a user, valid for `days` (1–365): its id (the SHA-256 kept) and the token
/// itself, to show once.
pub async fn create_token(
    app: &App,
    actor: &Actor,
    user_id: &str,
    name: &str,
    days: i64,
) -> Result<(String, String), AppError> {
    let name = name.trim();
    if !(1..=365).contains(&days) || name.is_empty() {
        return Err(AppError::BadRequest(
            "a token needs a name and 1–365 days of validity".into(),
        ));
    }
    if app.store.get(LayerId::Users, user_id).await?.is_none() {
        return Err(AppError::NotFound(format!("no user {user_id:?}")));
    }
    let token = secret::new_token("gxt_");
    let now = app.now();
    let id = secret::digest(&token);
    let row = Feature::new(id.clone(), "manual", now)
        .set("user_id", user_id)
        .set("name", name)
        .set(
            "expires_at",
            gengxin_model::timestamp(&(now + chrono::TimeDelta::days(days))),
        );
    save_row(
        app,
        actor,
        LayerId::ApiTokens,
        row,
        true,
        format!("token {name:?} created"),
    )
    .await?;
    Ok((id, token))
}

/// Changes the caller's own password: the current one is required (a wrong one counts towards
/// the lockout like a failed sign-in), the new one must meet the policy and differ from the
/// last [`password::HISTORY`]. The user's other sessions end (`keep_session`, the session token
/// of the request, stays) and all its API tokens are revoked, in the same audited transaction.
pub async fn change_password(
    app: &App,
    actor: &Actor,
    current: &str,
    new: &str,
    keep_session: Option<&str>,
) -> Result<(), AppError> {
    let p = require_login(&actor.caller)?;
    let user = app
        .store
        .get(LayerId::Users, &p.user_id)
        .await?
        .ok_or(Denied::Unauthenticated)?;
    let now = app.now();
    let record = |outcome: &'static str, detail: String| {
        Record::by(actor, "account", outcome)
            .on("users", &user.id)
            .detail(detail)
    };
    if crate::sessions::locked(&user, now) {
        app.append(vec![record(
            "failed",
            "password change refused: account locked".into(),
        )])
        .await?;
        return Err(AppError::WrongPassword);
    }
    let stored = user
        .get("password_hash")
        .as_str()
        .unwrap_or_default()
        .to_owned();
    let history = password::parse_history(user.get("password_history").as_str());
    let (current, check_hash) = (current.to_owned(), stored.clone());
    let right = tokio::task::spawn_blocking(move || password::verify(&current, &check_hash))
        .await
        .map_err(AppError::internal)?;
    if !right {
        let (counted, detail) =
            crate::sessions::count_failure(&user, now, "password change: wrong current password");
        app.apply(
            Edit {
                update: vec![(LayerId::Users, vec![counted])],
                ..Edit::default()
            },
            vec![record("failed", detail)],
        )
        .await?;
        return Err(AppError::WrongPassword);
    }
    password::check(new, &p.username).map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let (new, old, earlier) = (new.to_owned(), stored.clone(), history.clone());
    let hashed = tokio::task::spawn_blocking(move || {
        (!password::reused(&new, &old, &earlier)).then(|| password::hash(&new))
    })
    .await
    .map_err(AppError::internal)?
    .ok_or_else(|| AppError::Unprocessable(password::PolicyError::Reused.to_string()))?;
    let mut updated = user.clone();
    updated.updated_at = now.max(user.updated_at);
    updated
        .properties
        .insert("password_hash".into(), hashed.into());
    updated.properties.insert(
        "password_changed_at".into(),
        gengxin_model::timestamp(&now).into(),
    );
    updated.properties.insert(
        "password_history".into(),
        password::history_json(&password::next_history(&stored, &history)).into(),
    );
    updated
        .properties
        .insert("failed_logins".into(), 0_i64.into());
    let mine = |layer| {
        app.store.query(
            layer,
            Query {
                equals: vec![("user_id".into(), Value::Text(p.user_id.clone()))],
                ..Query::default()
            },
        )
    };
    let keep = keep_session.map(secret::digest);
    let ended: Vec<(String, i64)> = mine(LayerId::Sessions)
        .await?
        .into_iter()
        .filter(|s| Some(&s.id) != keep.as_ref())
        .map(|s| (s.id, s.version))
        .collect();
    let revoked: Vec<Feature> = mine(LayerId::ApiTokens)
        .await?
        .into_iter()
        .filter(|t| t.get("revoked_at") == &Value::Null)
        .map(|mut t| {
            t.updated_at = now.max(t.updated_at);
            t.properties
                .insert("revoked_at".into(), gengxin_model::timestamp(&now).into());
            t
        })
        .collect();
    let detail = format!(
        "password changed; {} other session(s) ended, {} API token(s) revoked",
        ended.len(),
        revoked.len()
    );
    let mut update = vec![(LayerId::Users, vec![updated])];
    if !revoked.is_empty() {
        update.push((LayerId::ApiTokens, revoked));
    }
    let delete = if ended.is_empty() {
        Vec::new()
    } else {
        vec![(LayerId::Sessions, ended)]
    };
    app.apply(
        Edit {
            update,
            delete,
            ..Edit::default()
        },
        vec![record("ok", detail)],
    )
    .await?;
    Ok(())
}

/// The caller's API tokens (their rows: never the tokens themselves).
pub async fn tokens(app: &App, actor: &Actor) -> Result<Vec<Feature>, AppError> {
    let p = require_login(&actor.caller)?;
    Ok(app
        .store
        .query(
            LayerId::ApiTokens,
            Query {
                equals: vec![("user_id".into(), Value::Text(p.user_id.clone()))],
                ..Query::default()
            },
        )
        .await?)
}

/// Revokes one of the caller's API tokens.
pub async fn revoke_token(app: &App, actor: &Actor, id: &str) -> Result<(), AppError> {
    let p = require_login(&actor.caller)?;
    let row = app
        .store
        .get(LayerId::ApiTokens, id)
        .await?
        .filter(|r| r.get("user_id").as_str() == Some(p.user_id.as_str()))
        .ok_or_else(|| AppError::NotFound("no such token of yours".into()))?;
    let now = app.now();
    let mut revoked = row.clone();
    revoked.updated_at = now.max(row.updated_at);
    revoked
        .properties
        .insert("revoked_at".into(), gengxin_model::timestamp(&now).into());
    save_row(
        app,
        actor,
        LayerId::ApiTokens,
        revoked,
        false,
        "token revoked".into(),
    )
    .await
}

/// Every account (the system and the security administrator).
pub async fn users(app: &App, actor: &Actor) -> Result<Vec<Feature>, AppError> {
    require_account_admin(&actor.caller)?;
    Ok(app.store.query(LayerId::Users, Query::default()).await?)
}

/// A change to an account; `None` leaves a field as it is, an empty text clears it.
#[derive(Debug, Clone, Default)]
pub struct UserChange {
    /// The version read; a stale one is a conflict.
    pub version: i64,
    pub disabled: Option<bool>,
    /// Lifts a lockout.
    pub unlock: bool,
    pub role: Option<String>,
    pub district_code: Option<String>,
    pub community_code: Option<String>,
    pub project_ids: Option<Vec<String>>,
}

/// Changes an account (三权分立): its role, scope or lock by the security administrator, its
/// disabled flag by the system administrator; the role must keep a scope it needs, no one
/// changes their own account, and an administrator's account keeps its role and is not
/// disabled through the API. Returns the stored row.
pub async fn change_user(
    app: &App,
    actor: &Actor,
    username: &str,
    b: UserChange,
) -> Result<Feature, AppError> {
    let security = b.role.is_some()
        || b.district_code.is_some()
        || b.community_code.is_some()
        || b.project_ids.is_some()
        || b.unlock;
    let p = require_account_admin(&actor.caller)?;
    if security {
        require_security_admin(&actor.caller).map_err(|_| {
            AppError::Forbidden(
                "roles, scopes and lockouts are the security administrator's".into(),
            )
        })?;
    }
    if b.disabled.is_some() {
        require_system_admin(&actor.caller).map_err(|_| {
            AppError::Forbidden("disabling an account is the system administrator's".into())
        })?;
    }
    let missing = || AppError::NotFound(format!("no user {username:?}"));
    let user = app
        .store
        .get(LayerId::Users, username)
        .await?
        .ok_or_else(missing)?;
    if user.id == p.user_id {
        return Err(AppError::Forbidden(
            "no administrator changes their own account".into(),
        ));
    }
    let was = user.get("role").as_str().and_then(Role::from_code);
    if was.is_some_and(Role::administrator) && (b.role.is_some() || b.disabled.is_some()) {
        return Err(AppError::Forbidden(
            "an administrator's role and account are changed only at the command line".into(),
        ));
    }
    if let Some(target) = b.role.as_deref().and_then(Role::from_code)
        && !may_assign(p.role, target)
    {
        return Err(AppError::Forbidden(format!(
            "the {} role is given only at the command line (gengxin user add --role {})",
            target.code(),
            target.code()
        )));
    }
    let mut u = user.clone();
    u.version = b.version;
    u.updated_at = app.now().max(user.updated_at);
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
        .ok_or_else(|| AppError::Unprocessable("unknown role".into()))?;
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
    .map_err(|e| AppError::Unprocessable(e.to_string()))?;
    let detail = format!(
        "role {}, disabled {:?}, unlock {}",
        role.code(),
        b.disabled,
        b.unlock
    );
    save_row(app, actor, LayerId::Users, u, false, detail).await?;
    app.store
        .get(LayerId::Users, username)
        .await?
        .ok_or_else(missing)
}

/// Every organisation (system administrator only).
pub async fn organisations(app: &App, actor: &Actor) -> Result<Vec<Feature>, AppError> {
    require_system_admin(&actor.caller)?;
    Ok(app
        .store
        .query(LayerId::Organisations, Query::default())
        .await?)
}

/// An organisation to add.
#[derive(Debug, Clone)]
pub struct Organisation {
    pub id: String,
    pub name: String,
    pub kind: String,
    pub district_code: Option<String>,
    pub community_code: Option<String>,
}

/// Adds an organisation (system administrator only).
pub async fn create_organisation(
    app: &App,
    actor: &Actor,
    o: Organisation,
) -> Result<(), AppError> {
    require_system_admin(&actor.caller)?;
    let f = Feature::new(o.id, "manual", app.now())
        .set("name", o.name)
        .set("kind", o.kind)
        .set("district_code", o.district_code)
        .set("community_code", o.community_code);
    save_row(app, actor, LayerId::Organisations, f, true, String::new()).await
}

/// Gives an account a new TOTP secret (security administrator only; not its own): the old
/// authenticator stops working. Returns the secret, to show once.
pub async fn reset_totp(
    app: &App,
    actor: &Actor,
    username: &str,
) -> Result<(Feature, String), AppError> {
    let p = require_security_admin(&actor.caller)?;
    let user = app
        .store
        .get(LayerId::Users, username)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user {username:?}")))?;
    if user.id == p.user_id {
        return Err(AppError::Forbidden(
            "no administrator resets their own second factor".into(),
        ));
    }
    let secret_b32 = gengxin_auth::totp::new_secret();
    let mut u = user.clone();
    u.updated_at = app.now().max(user.updated_at);
    app.set_totp_secret(&mut u, &secret_b32).await?;
    save_row(
        app,
        actor,
        LayerId::Users,
        u,
        false,
        "TOTP secret reset".into(),
    )
    .await?;
    let stored = app
        .store
        .get(LayerId::Users, username)
        .await?
        .ok_or_else(|| AppError::NotFound(format!("no user {username:?}")))?;
    Ok((stored, secret_b32))
}
