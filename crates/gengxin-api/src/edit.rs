//! Writing features: create, replace and delete, with optimistic concurrency on the wire.
//!
//! Every feature answer carries `ETag: "<version>"`. A replace or delete must send that version
//! back in `If-Match`; without it the answer is `428 precondition_required`, with a version that
//! is no longer current `409 conflict` (someone else's edit won, and nothing is written).

use axum::body::Bytes;
use axum::extract::State;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::Response;
use chrono::Utc;
use gengxin_model::{Feature, Value};
use serde_json::Map;

use crate::extract::ApiPath;
use crate::who::{Who, allow};
use crate::wire::{layer, with_etag};
use crate::{ApiError, AppState};
use gengxin_app::visibility::Visible;
use gengxin_auth::policy::{self, Denied, RowScope};
use gengxin_store::Edit;

/// Provenance of features entered through the API without one.
pub const MANUAL: &str = "manual";

/// Properties that are bookkeeping, not fields: checked (`provenance`, which only the server
/// sets: a client may send back what it read, never change it) or ignored, never stored as
/// fields.
const BOOKKEEPING: [&str; 4] = ["provenance", "created_at", "updated_at", "version"];

/// The version named by `If-Match` (`"3"`, `W/"3"` or `3`).
fn if_match(headers: &HeaderMap) -> Result<i64, ApiError> {
    let raw = headers
        .get(header::IF_MATCH)
        .ok_or_else(|| {
            ApiError::precondition_required(
                "send the version you edited in If-Match (the ETag of the feature you read)",
            )
        })?
        .to_str()
        .map_err(|_| ApiError::bad_request("If-Match must be ASCII"))?;
    raw.trim()
        .trim_start_matches("W/")
        .trim_matches('"')
        .parse::<i64>()
        .ok()
        .filter(|v| *v >= 1)
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "If-Match {raw:?} is not a feature version such as \"3\""
            ))
        })
}

/// A JSON value as a property value; nested arrays and objects are refused.
fn value(name: &str, v: serde_json::Value) -> Result<Value, ApiError> {
    Ok(match v {
        serde_json::Value::Null => Value::Null,
        serde_json::Value::Bool(b) => Value::Bool(b),
        serde_json::Value::Number(n) => match n.as_i64() {
            Some(i) => Value::Int(i),
            None => Value::Real(n.as_f64().ok_or_else(|| {
                ApiError::bad_request(format!("property {name}: number out of range"))
            })?),
        },
        serde_json::Value::String(s) => Value::Text(s),
        _ => {
            return Err(ApiError::bad_request(format!(
                "property {name} must be a string, number, boolean or null"
            )));
        }
    })
}

/// A GeoJSON Feature body as the parts of a feature: id (if any), geometry, provenance (if any)
/// and field properties. The layer's rules are checked later, by the store.
struct Parsed {
    id: Option<String>,
    geometry: Option<geo_types::Geometry<f64>>,
    provenance: Option<String>,
    properties: Map<String, serde_json::Value>,
}

fn parse(body: &Bytes) -> Result<Parsed, ApiError> {
    let gj: geojson::Feature = serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the body must be a GeoJSON Feature: {e}")))?;
    let id = match gj.id {
        None => None,
        Some(geojson::feature::Id::String(s)) => Some(s),
        Some(geojson::feature::Id::Number(n)) => Some(n.to_string()),
    };
    let geometry = gj
        .geometry
        .map(|g| {
            geo_types::Geometry::<f64>::try_from(g.value)
                .map_err(|e| ApiError::bad_request(format!("geometry: {e}")))
        })
        .transpose()?;
    let mut properties = gj.properties.unwrap_or_default();
    let provenance = match properties.remove("provenance") {
        None | Some(serde_json::Value::Null) => None,
        Some(serde_json::Value::String(p)) => Some(p),
        Some(_) => return Err(ApiError::bad_request("provenance must be a string")),
    };
    Ok(Parsed {
        id,
        geometry,
        provenance,
        properties,
    })
}

fn build(mut f: Feature, parsed: Parsed) -> Result<Feature, ApiError> {
    f.geometry = parsed.geometry;
    for (k, v) in parsed.properties {
        if BOOKKEEPING.contains(&k.as_str()) {
            continue;
        }
        let v = value(&k, v)?;
        if v != Value::Null {
            f.properties.insert(k, v);
        }
    }
    Ok(f)
}

/// Creates a feature from a GeoJSON Feature with an `id`. Its version is 1.
#[utoipa::path(post, path = "/api/layers/{layer}/features",
    params(("layer" = String, Path)),
    request_body(content = Object, description = "GeoJSON Feature with an id", content_type = "application/json"),
    responses(
        (status = 201, description = "Created; the ETag is its version", body = crate::wire::GeoFeature),
        (status = 400, description = "Not a GeoJSON Feature", body = crate::error::ErrorBody),
        (status = 409, description = "The id exists", body = crate::error::ErrorBody),
        (status = 422, description = "Does not fit the layer", body = crate::error::ErrorBody),
    ))]
pub async fn create(
    State(s): State<AppState>,
    who: Who,
    ApiPath(layer_name): ApiPath<String>,
    crate::extract::ApiBody(body): crate::extract::ApiBody,
) -> Result<Response, ApiError> {
    let layer = layer(&layer_name)?;
    allow(
        policy::can_write_row(&who.caller, layer, &RowScope::default()).or_else(|d| match d {
            // A scoped writer: decided on the row below.
            Denied::Forbidden => Ok(()),
            d => Err(d),
        }),
    )?;
    let parsed = parse(&body)?;
    let id = parsed
        .id
        .clone()
        .ok_or_else(|| ApiError::bad_request("a new feature needs an id"))?;
    if parsed.provenance.as_deref().is_some_and(|p| p != MANUAL) {
        return Err(ApiError::bad_request(format!(
            "provenance is set by the server: leave it out (features entered here are {MANUAL:?})"
        )));
    }
    let f = build(Feature::new(id.clone(), MANUAL, Utc::now()), parsed)?;
    let visible = Visible::of(&s.app, &who.caller, layer).await?;
    allow(policy::can_write_row(
        &who.caller,
        layer,
        &visible.scope(&f),
    ))?;
    write(
        &s,
        &who,
        layer,
        None,
        Some(&f),
        Edit {
            insert: vec![(layer.id, vec![f.clone()])],
            ..Edit::default()
        },
    )
    .await?;
    let stored = s
        .store
        .get(layer.id, &id)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("{}/{id} vanished", layer.name)))?;
    Ok(with_etag(StatusCode::CREATED, &stored))
}

/// Replaces a feature's geometry and properties. `If-Match` must name its current version.
#[utoipa::path(put, path = "/api/layers/{layer}/features/{id}",
    params(("layer" = String, Path), ("id" = String, Path),
        ("If-Match" = String, Header, description = "The version edited, as its ETag, e.g. \"3\"")),
    request_body(content = Object, description = "GeoJSON Feature", content_type = "application/json"),
    responses(
        (status = 200, description = "Replaced; the ETag is the new version", body = crate::wire::GeoFeature),
        (status = 404, description = "No such feature", body = crate::error::ErrorBody),
        (status = 409, description = "Someone else changed it first", body = crate::error::ErrorBody),
        (status = 422, description = "Does not fit the layer", body = crate::error::ErrorBody),
        (status = 428, description = "No If-Match", body = crate::error::ErrorBody),
    ))]
pub async fn replace(
    State(s): State<AppState>,
    who: Who,
    ApiPath((layer_name, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
    crate::extract::ApiBody(body): crate::extract::ApiBody,
) -> Result<Response, ApiError> {
    let layer = layer(&layer_name)?;
    let version = if_match(&headers)?;
    let parsed = parse(&body)?;
    if parsed.id.as_deref().is_some_and(|b| b != id) {
        return Err(ApiError::bad_request(format!(
            "the body's id {:?} is not the path's {id:?}",
            parsed.id.unwrap_or_default()
        )));
    }
    let current = visible_row(&s, &who, layer, &id).await?;
    if parsed
        .provenance
        .as_deref()
        .is_some_and(|p| p != current.provenance)
    {
        return Err(ApiError::bad_request(format!(
            "provenance is set by the server and stays {:?}: leave it out or send it unchanged",
            current.provenance
        )));
    }
    let mut f = Feature::new(id.clone(), current.provenance.clone(), current.created_at);
    f.updated_at = Utc::now().max(current.updated_at);
    f.version = version;
    let f = build(f, parsed)?;
    let visible = Visible::of(&s.app, &who.caller, layer).await?;
    allow(policy::can_write_row(
        &who.caller,
        layer,
        &visible.scope(&current),
    ))?;
    allow(policy::can_write_row(
        &who.caller,
        layer,
        &visible.scope(&f),
    ))?;
    write(
        &s,
        &who,
        layer,
        Some(&current),
        Some(&f),
        Edit {
            update: vec![(layer.id, vec![f.clone()])],
            ..Edit::default()
        },
    )
    .await?;
    let stored =
        s.store.get(layer.id, &id).await?.ok_or_else(|| {
            ApiError::not_found(format!("{}/{id} was deleted meanwhile", layer.name))
        })?;
    Ok(with_etag(StatusCode::OK, &stored))
}

/// Deletes a feature. `If-Match` must name its current version.
#[utoipa::path(delete, path = "/api/layers/{layer}/features/{id}",
    params(("layer" = String, Path), ("id" = String, Path),
        ("If-Match" = String, Header, description = "The version deleted, as its ETag")),
    responses(
        (status = 204, description = "Deleted"),
        (status = 404, description = "No such feature", body = crate::error::ErrorBody),
        (status = 409, description = "Someone else changed it first", body = crate::error::ErrorBody),
        (status = 428, description = "No If-Match", body = crate::error::ErrorBody),
    ))]
pub async fn delete(
    State(s): State<AppState>,
    who: Who,
    ApiPath((layer_name, id)): ApiPath<(String, String)>,
    headers: HeaderMap,
) -> Result<StatusCode, ApiError> {
    let layer = layer(&layer_name)?;
    let version = if_match(&headers)?;
    let current = visible_row(&s, &who, layer, &id).await?;
    let visible = Visible::of(&s.app, &who.caller, layer).await?;
    allow(policy::can_write_row(
        &who.caller,
        layer,
        &visible.scope(&current),
    ))?;
    let mut gone = current.clone();
    gone.version = version;
    write(
        &s,
        &who,
        layer,
        Some(&gone),
        None,
        Edit {
            delete: vec![(layer.id, vec![(id, version)])],
            ..Edit::default()
        },
    )
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// The stored row if the caller may see it; otherwise, as if it did not exist, 404 (a caller
/// without the layer gets the layer's 401/403 first).
async fn visible_row(
    s: &AppState,
    who: &Who,
    layer: &'static gengxin_model::Layer,
    id: &str,
) -> Result<Feature, ApiError> {
    allow(
        policy::can_write_row(&who.caller, layer, &RowScope::default()).or_else(|d| match d {
            Denied::Forbidden => Ok(()),
            d => Err(d),
        }),
    )?;
    let visible = Visible::of(&s.app, &who.caller, layer).await?;
    s.store
        .get(layer.id, id)
        .await?
        .filter(|f| visible.sees(f))
        .ok_or_else(|| ApiError::not_found(format!("{}/{id} does not exist", layer.name)))
}

/// Applies a direct edit of one row with its history entry (who, when, the row before and
/// after) and its audit record, all in one transaction.
async fn write(
    s: &AppState,
    who: &Who,
    layer: &'static gengxin_model::Layer,
    before: Option<&Feature>,
    after: Option<&Feature>,
    mut edit: Edit,
) -> Result<(), ApiError> {
    let id = before.or(after).map(|f| f.id.clone()).unwrap_or_default();
    let entry = gengxin_app::history::entry(
        layer,
        &id,
        before,
        after,
        &who.actor().name(),
        None,
        s.app.now(),
    );
    edit.insert
        .push((gengxin_model::LayerId::RecordHistory, vec![entry]));
    let mut rec = crate::audit::record(who, "write", "ok");
    rec.target_layer = layer.name.into();
    rec.target_id = id;
    rec.detail = match (before, after) {
        (None, _) => "created".into(),
        (Some(_), Some(_)) => "replaced".into(),
        (Some(_), None) => "deleted".into(),
    };
    crate::audit::apply(s, edit, vec![rec]).await?;
    Ok(())
}
