//! `GET /api/search`: fuzzy search over the names and codes of every object ([`gengxin_search`]).
//!
//! The index is built from the store on the first search and kept current from the store's
//! announcements: before each search, the written features of each announced layer are read
//! again (or the whole layer, when the announcement does not list ids).

use std::collections::HashMap;

use axum::Json;
use axum::extract::{Query as QueryParams, State};
use gengxin_model::{Feature, Layer, LayerId, Value};
use gengxin_search::{Doc, Hit, SearchIndex};
use gengxin_store::{Change, Query, Store};
use serde::{Deserialize, Serialize};
use tokio::sync::RwLock;
use tokio::sync::broadcast::Receiver;
use tokio::sync::broadcast::error::TryRecvError;
use utoipa::{IntoParams, ToSchema};

use crate::{ApiError, AppState};

/// The layers searched, and how a feature becomes a document.
const SEARCHED: &[LayerId] = &[
    LayerId::AdminUnits,
    LayerId::RenewalObjects,
    LayerId::Projects,
    LayerId::Facilities,
    LayerId::Grids,
    LayerId::Parcels,
    LayerId::Roads,
];

fn text(f: &Feature, field: &str) -> Option<String> {
    match f.get(field) {
        Value::Text(t) if !t.is_empty() => Some(t.clone()),
        _ => None,
    }
}

fn doc(layer: LayerId, f: &Feature) -> Option<Doc> {
    let code = match layer {
        LayerId::AdminUnits => Some(f.id.clone()),
        _ => text(f, "code"),
    };
    let name = text(f, "name").or_else(|| code.clone())?;
    let district = match layer {
        LayerId::AdminUnits => (f.id.len() > 6 || text(f, "level").as_deref() == Some("district"))
            .then(|| f.id[..6].to_owned()),
        LayerId::Grids => text(f, "community_code").map(|c| c.chars().take(6).collect()),
        _ => text(f, "district_code"),
    };
    Some(Doc {
        layer: Layer::by_id(layer).name.to_owned(),
        id: f.id.clone(),
        name,
        code,
        district,
    })
}

/// The index and the announcements not yet applied to it.
/// Hits per (query, type, district, limit), forgotten whenever the index changes.
type HitCache = HashMap<(String, Option<String>, Option<String>, usize), Vec<Hit>>;

#[derive(Default)]
pub struct Search {
    /// Searches share the index; building it and applying announcements take it alone.
    state: RwLock<Option<Indexed>>,
    /// Recent answers (suggestions ask the same prefixes again and again).
    hits: std::sync::Mutex<HitCache>,
}

struct Indexed {
    index: SearchIndex,
    changes: std::sync::Mutex<Receiver<Change>>,
}

/// At most this many answers are kept; then all are dropped.
const HIT_CACHE: usize = 10_000;

async fn layer_docs(store: &dyn Store, layer: LayerId) -> Result<Vec<Doc>, ApiError> {
    Ok(store
        .query(layer, Query::default())
        .await?
        .iter()
        .filter_map(|f| doc(layer, f))
        .collect())
}

async fn build(store: &dyn Store) -> Result<SearchIndex, ApiError> {
    let mut docs = Vec::new();
    for &l in SEARCHED {
        docs.extend(layer_docs(store, l).await?);
    }
    SearchIndex::new(docs).map_err(ApiError::internal)
}

/// Applies the announcements received since the last search.
async fn catch_up(
    store: &dyn Store,
    index: &mut SearchIndex,
    changes: &mut Receiver<Change>,
) -> Result<(), ApiError> {
    loop {
        match changes.try_recv() {
            Ok(Change::Features { layer, ids }) if SEARCHED.contains(&layer) => {
                let name = Layer::by_id(layer).name.to_owned();
                if ids.is_empty() {
                    // Too many to list: build again.
                    *index = build(store).await?;
                    continue;
                }
                let mut docs = Vec::new();
                let mut remove = Vec::new();
                for id in &ids {
                    remove.push((name.clone(), id.clone()));
                    if let Some(f) = store.get(layer, id).await? {
                        docs.extend(doc(layer, &f));
                    }
                }
                index.replace(&remove, docs).map_err(ApiError::internal)?;
            }
            Ok(Change::Features { .. }) => {}
            Ok(Change::Unknown) | Err(TryRecvError::Lagged(_)) => *index = build(store).await?,
            Err(TryRecvError::Empty) | Err(TryRecvError::Closed) => return Ok(()),
        }
    }
}

#[derive(Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct SearchParams {
    /// What to look for: part of a Chinese name (one wrong character is tolerated), full pinyin
    /// or pinyin initials (`hongshan`, `hsq`), or the start of a code.
    q: String,
    /// Only hits of this type (a layer name, e.g. `admin_units`, `renewal_objects`).
    #[serde(rename = "type")]
    kind: Option<String>,
    /// Only hits in this district (6-digit code).
    district: Option<String>,
    /// At most this many hits (default 20, at most 100).
    limit: Option<usize>,
}

/// One search hit.
#[derive(Serialize, ToSchema)]
pub struct SearchHit {
    id: String,
    /// The layer of the object (`admin_units`, `renewal_objects`, `projects`, `facilities`,
    /// `grids`, `parcels`, `roads`).
    #[serde(rename = "type")]
    kind: String,
    name: String,
    code: Option<String>,
    district: Option<String>,
}

/// Ranked fuzzy search over names, pinyin and codes of every object.
#[utoipa::path(get, path = "/api/search", params(SearchParams), responses(
    (status = 200, description = "Hits, best first", body = Vec<SearchHit>),
    (status = 400, description = "Bad parameters", body = crate::error::ErrorBody),
))]
pub async fn search(
    State(s): State<AppState>,
    who: crate::who::Who,
    params: Result<QueryParams<SearchParams>, axum::extract::rejection::QueryRejection>,
) -> Result<Json<Vec<SearchHit>>, ApiError> {
    let QueryParams(p) = params.map_err(|e| ApiError::bad_request(e.body_text()))?;
    if p.q.chars().count() > 100 {
        return Err(ApiError::bad_request("q is longer than 100 characters"));
    }
    if let Some(k) = &p.kind
        && !SEARCHED.iter().any(|l| Layer::by_id(*l).name == k)
    {
        return Err(ApiError::bad_request(format!(
            "type {k:?} is not searched; one of admin_units, renewal_objects, projects, \
             facilities, grids, parcels, roads"
        )));
    }
    let limit = p.limit.unwrap_or(20).min(100);
    let key = (p.q.trim().to_lowercase(), p.kind, p.district, limit);
    let hits = loop {
        {
            let g = s.search.state.read().await;
            if let Some(ix) = g.as_ref()
                && ix.changes.lock().expect("changes lock").is_empty()
            {
                if let Some(h) = s.search.hits.lock().expect("hit cache").get(&key) {
                    break h.clone();
                }
                let h = ix
                    .index
                    .search(&key.0, key.1.as_deref(), key.2.as_deref(), limit)
                    .map_err(ApiError::internal)?;
                let mut cache = s.search.hits.lock().expect("hit cache");
                if cache.len() >= HIT_CACHE {
                    cache.clear();
                }
                cache.insert(key.clone(), h.clone());
                break h;
            }
        }
        // Build the index, or apply the announcements received, alone.
        let mut g = s.search.state.write().await;
        match g.as_mut() {
            None => {
                let changes = s.store.changes();
                *g = Some(Indexed {
                    index: build(&*s.store).await?,
                    changes: std::sync::Mutex::new(changes),
                });
            }
            Some(ix) => {
                let changes = ix.changes.get_mut().expect("changes lock");
                catch_up(&*s.store, &mut ix.index, changes).await?;
            }
        }
        s.search.hits.lock().expect("hit cache").clear();
    };
    // Projects only for those who may see them, each in their scope.
    let projects = Layer::by_id(LayerId::Projects);
    let districts = gengxin_app::visibility::project_districts(&s.app).await?;
    let sees_project = |id: &str| {
        gengxin_auth::policy::can_read_row(
            &who.caller,
            projects,
            &gengxin_auth::policy::RowScope {
                district: districts.get(id).cloned(),
                project: Some(id.to_owned()),
                community: None,
            },
        )
    };
    Ok(Json(
        hits.into_iter()
            .filter(|h| h.layer != projects.name || sees_project(&h.id))
            .map(|h| SearchHit {
                id: h.id,
                kind: h.layer,
                name: h.name,
                code: h.code,
                district: h.district,
            })
            .collect(),
    ))
}
