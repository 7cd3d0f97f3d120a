//! Accounts: users, organisations and API tokens, each write audited in its transaction. The
//! same use cases serve the administrator's API and `gengxin user add` / `user token`.

use gengxin_auth::{account, secret};
use gengxin_model::{Feature, Layer, LayerId};
use gengxin_store::Edit;

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
/// blocking thread: argon2id is slow on purpose). Returns the user row and, for a city
/// administrator, the TOTP secret to show once.
pub async fn add_user(
    app: &App,
    actor: &Actor,
    new: account::NewUser,
    organisation: Option<NewOrganisation>,
) -> Result<(Feature, Option<String>), AppError> {
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
    let (user, totp) = tokio::task::spawn_blocking(move || account::new_user(new, now))
        .await
        .map_err(AppError::internal)?
        .map_err(|e| AppError::Unprocessable(e.to_string()))?;
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
