//! Saved queries per user: a named CQL2 filter (and optional bbox) over one collection, kept in
//! the `saved_queries` layer, listed and deleted by its owner and run — as a page of GeoJSON or
//! an export in any format — through `/ogc`.
//!
//! The owner is the signed-in user; the public cannot save queries.

use axum::Json;
use axum::extract::State;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use gengxin_model::{Feature, LayerId, Value};
use gengxin_query::Lang;
use gengxin_store::Query;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use crate::extract::{ApiPath, ApiQuery};
use crate::who::{Who, allow};
use crate::wire::text;
use crate::{ApiError, AppState};

/// The user a request acts for.
/// The signed-in owner of saved queries; the public has none.
fn caller(who: &Who) -> Result<String, ApiError> {
    allow(gengxin_auth::policy::require_login(&who.caller)).map(|p| p.username.clone())
}

/// A saved query of the caller.
#[derive(Serialize, ToSchema)]
pub struct SavedQuery {
    id: String,
    name: String,
    /// The collection it runs on (a layer name).
    collection: String,
    /// The CQL2 filter, if any.
    #[schema(required)]
    filter: Option<String>,
    /// `cql2-text` or `cql2-json`.
    filter_lang: String,
    /// min_lon,min_lat,max_lon,max_lat, if any.
    #[schema(required)]
    bbox: Option<String>,
    #[schema(required)]
    note: Option<String>,
    /// RFC 3339.
    created_at: String,
    /// The `/ogc` items URL that runs it.
    run: String,
}

fn out(f: &Feature) -> SavedQuery {
    SavedQuery {
        id: f.id.clone(),
        // Required fields of the layer: stored rows have them.
        name: text(f, "name").unwrap_or_default(),
        collection: text(f, "collection").unwrap_or_default(),
        filter: text(f, "filter"),
        filter_lang: text(f, "filter_lang").unwrap_or_default(),
        bbox: text(f, "bbox"),
        note: text(f, "note"),
        created_at: gengxin_model::timestamp(&f.created_at),
        run: run_link(f, None),
    }
}

/// The `/ogc` items URL that runs a saved query, optionally as a download.
fn run_link(f: &Feature, format: Option<&str>) -> String {
    let mut qs = form_urlencoded::Serializer::new(String::new());
    if let Some(filter) = text(f, "filter") {
        qs.append_pair("filter", &filter);
        qs.append_pair("filter-lang", &text(f, "filter_lang").unwrap_or_default());
    }
    if let Some(b) = text(f, "bbox") {
        qs.append_pair("bbox", &b);
    }
    if let Some(fmt) = format {
        qs.append_pair("f", fmt);
    }
    format!(
        "/ogc/collections/{}/items?{}",
        text(f, "collection").unwrap_or_default(),
        qs.finish()
    )
}

async fn owned(s: &AppState, who: &Who, id: &str) -> Result<Feature, ApiError> {
    let owner = caller(who)?;
    s.store
        .get(LayerId::SavedQueries, id)
        .await?
        .filter(|f| f.get("owner").as_str() == Some(owner.as_str()))
        .ok_or_else(|| ApiError::not_found(format!("you have no saved query {id}")))
}

/// The caller's saved queries, newest first.
#[utoipa::path(get, path = "/api/saved-queries", operation_id = "list_saved_queries", responses((status = 200, body = Vec<SavedQuery>)))]
pub async fn list(State(s): State<AppState>, who: Who) -> Result<Json<Vec<SavedQuery>>, ApiError> {
    let mut mine = s
        .store
        .query(
            LayerId::SavedQueries,
            Query {
                equals: vec![("owner".into(), Value::Text(caller(&who)?))],
                ..Query::default()
            },
        )
        .await?;
    mine.sort_by(|a, b| b.created_at.cmp(&a.created_at).then(a.id.cmp(&b.id)));
    Ok(Json(mine.iter().map(out).collect()))
}

/// A query to save.
#[derive(Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NewQuery {
    /// 1 to 100 characters.
    name: String,
    /// A collection of `/ogc` (a layer name).
    collection: String,
    /// A CQL2 filter, checked as `/ogc` would run it.
    #[serde(default)]
    filter: Option<String>,
    /// `cql2-text` (default) or `cql2-json`.
    #[serde(default)]
    filter_lang: Option<String>,
    /// min_lon,min_lat,max_lon,max_lat.
    #[serde(default)]
    bbox: Option<String>,
    #[serde(default)]
    note: Option<String>,
}

/// Saves a query for the caller. The filter is checked as `/ogc` would run it: a malformed
/// one is refused with the same `400` and pointer, and nothing is saved.
#[utoipa::path(post, path = "/api/saved-queries", operation_id = "create_saved_query",
    request_body(content = NewQuery, description = "{\"name\": \"…\", \"collection\": \"parcels\", \"filter\": \"area_m2 > 20000\", \"filter_lang\": \"cql2-text\", \"bbox\": \"…\"}"),
    responses((status = 201, description = "Saved; `Location` names it", body = SavedQuery), (status = 400, body = crate::error::ErrorBody)))]
pub async fn create(
    State(s): State<AppState>,
    who: Who,
    crate::extract::ApiJson(q): crate::extract::ApiJson<NewQuery>,
) -> Result<Response, ApiError> {
    let name = q.name.trim();
    if name.is_empty() || name.chars().count() > 100 {
        return Err(ApiError::bad_request("name must be 1 to 100 characters"));
    }
    let layer = crate::ogc::collection(&q.collection)?;
    let lang = q.filter_lang.as_deref().unwrap_or("cql2-text");
    let parse_lang = match lang {
        "cql2-text" => Lang::Text,
        "cql2-json" => Lang::Json,
        other => {
            return Err(ApiError::bad_request(format!(
                "filter_lang {other:?}: cql2-text or cql2-json"
            )));
        }
    };
    if let Some(f) = &q.filter {
        gengxin_query::parse(f, parse_lang, layer)?;
    }
    if let Some(b) = &q.bbox {
        crate::wire::parse_bbox(b)?;
    }
    let now = chrono::Utc::now();
    let id = format!(
        "sq-{}-{:04x}",
        now.format("%Y%m%d%H%M%S%3f"),
        rand_suffix(&q.collection, now)
    );
    let f = Feature::new(&id, "user", now)
        .set("owner", caller(&who)?)
        .set("name", name)
        .set("collection", layer.name)
        .set("filter", q.filter)
        .set("filter_lang", lang)
        .set("bbox", q.bbox)
        .set("note", q.note);
    s.store
        .insert(vec![(LayerId::SavedQueries, vec![f.clone()])])
        .await?;
    let mut r = (StatusCode::CREATED, Json(out(&f))).into_response();
    if let Ok(v) = format!("/api/saved-queries/{id}").parse() {
        r.headers_mut().insert(header::LOCATION, v);
    }
    Ok(r)
}

/// A short suffix that keeps ids made in the same millisecond apart.
fn rand_suffix(seed: &str, t: chrono::DateTime<chrono::Utc>) -> u16 {
    use std::hash::{BuildHasher, Hasher};
    let mut h = std::collections::hash_map::RandomState::new().build_hasher();
    h.write(seed.as_bytes());
    h.write_i64(t.timestamp_nanos_opt().unwrap_or_default());
    h.finish() as u16
}

/// One of the caller's saved queries.
#[utoipa::path(get, path = "/api/saved-queries/{id}", operation_id = "get_saved_query", params(("id" = String, Path)),
    responses((status = 200, body = SavedQuery), (status = 404, body = crate::error::ErrorBody)))]
pub async fn get(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<Json<SavedQuery>, ApiError> {
    Ok(Json(out(&owned(&s, &who, &id).await?)))
}

/// Deletes one of the caller's saved queries.
#[utoipa::path(delete, path = "/api/saved-queries/{id}", operation_id = "delete_saved_query", params(("id" = String, Path)),
    responses((status = 204), (status = 404, body = crate::error::ErrorBody)))]
pub async fn delete(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
) -> Result<StatusCode, ApiError> {
    let f = owned(&s, &who, &id).await?;
    s.store
        .delete(vec![(LayerId::SavedQueries, vec![(f.id, f.version)])])
        .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// How to run a saved query.
#[derive(Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct RunQuery {
    /// csv, xlsx, shp, gpkg or geojson: a download of every match instead of a page.
    f: Option<String>,
}

/// Runs a saved query: redirects (303) to its `/ogc` items URL; `f` (csv, xlsx, shp, gpkg,
/// geojson) makes it a download of every match.
#[utoipa::path(get, path = "/api/saved-queries/{id}/run", operation_id = "run_saved_query",
    params(("id" = String, Path), RunQuery),
    responses((status = 303, description = "To the query's /ogc items"), (status = 404, body = crate::error::ErrorBody)))]
pub async fn run(
    State(s): State<AppState>,
    who: Who,
    ApiPath(id): ApiPath<String>,
    ApiQuery(q): ApiQuery<RunQuery>,
) -> Result<Response, ApiError> {
    let f = owned(&s, &who, &id).await?;
    Ok(axum::response::Redirect::to(&run_link(&f, q.f.as_deref())).into_response())
}
