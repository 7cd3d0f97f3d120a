//! Layers and their features as GeoJSON: the catalogue, features by bounding box and attribute
//! equality with keyset paging, and one feature's detail.

use axum::Json;
use axum::extract::{RawQuery, State};
use gengxin_model::{Feature, Layer, LayerId, catalogue};
use gengxin_store::Query;
use serde::Serialize;
use utoipa::ToSchema;

use crate::extract::ApiPath;
use crate::who::{Who, allow};
use crate::wire::{
    FeatureCollection, FeatureCollectionType, GeoFeature, parse_bbox, parse_value, with_etag,
};
use crate::{ApiError, AppState};
use gengxin_app::visibility::Visible;
use gengxin_io::custom::CustomLayer;

pub const DEFAULT_LIMIT: usize = 1000;
pub const MAX_LIMIT: usize = 10_000;

#[derive(Serialize, ToSchema)]
pub struct FieldInfo {
    name: String,
    /// text, int, real, bool, date or datetime.
    #[serde(rename = "type")]
    ty: &'static str,
    required: bool,
    title_zh: String,
    codes: Option<Vec<crate::wire::CodeInfo>>,
}

#[derive(Serialize, ToSchema)]
pub struct LayerInfo {
    name: String,
    /// `renewal` or `community`; `custom` for layers made by imports.
    database: &'static str,
    title_zh: String,
    title_en: String,
    /// POINT, MULTILINESTRING, MULTIPOLYGON, GEOMETRY (custom layers), or null for attribute
    /// layers.
    geometry_type: Option<&'static str>,
    /// Holds personal information.
    personal: bool,
    count: u64,
    fields: Vec<FieldInfo>,
    /// Link to the layer's features.
    features: String,
}

/// Every layer of both databases, with fields, code lists and feature counts.
#[utoipa::path(get, path = "/api/layers", responses((status = 200, body = Vec<LayerInfo>)))]
pub async fn layers(State(s): State<AppState>, who: Who) -> Result<Json<Vec<LayerInfo>>, ApiError> {
    let mut out = Vec::new();
    for l in catalogue() {
        if gengxin_auth::policy::can_read_layer(&who.caller, l).is_err() {
            continue;
        }
        if matches!(l.id, LayerId::CustomFeatures | LayerId::CustomRows) {
            // Served as the custom layers they hold, below.
            continue;
        }
        out.push(LayerInfo {
            name: l.name.into(),
            database: l.database.name(),
            title_zh: l.zh.into(),
            title_en: l.en.into(),
            geometry_type: l.geometry.map(|g| g.ogc_name()),
            personal: l.personal(),
            count: visible_count(&s, &Visible::of(&s.app, &who.caller, l).await?).await?,
            fields: l
                .fields
                .iter()
                .map(|f| FieldInfo {
                    name: f.name.into(),
                    ty: f.ty.code(),
                    required: f.required,
                    title_zh: f.zh.into(),
                    codes: f
                        .codes
                        .map(|cs| cs.iter().map(crate::wire::CodeInfo::of).collect()),
                })
                .collect(),
            features: format!("/api/layers/{}/features", l.name),
        });
    }
    for c in gengxin_io::custom::list(&*s.store).await? {
        if may_read_custom(&who, &c).is_err() {
            continue;
        }
        let count = gengxin_io::custom::count(&*s.store, &c).await?;
        out.push(LayerInfo {
            title_zh: c.title.clone(),
            title_en: c.title.clone(),
            database: "custom",
            geometry_type: c.spatial.then_some("GEOMETRY"),
            personal: false,
            count,
            fields: c
                .fields
                .iter()
                .map(|(n, t)| FieldInfo {
                    name: n.clone(),
                    ty: t.code(),
                    required: false,
                    title_zh: n.clone(),
                    codes: None,
                })
                .collect(),
            features: format!("/api/layers/{}/features", c.name),
            name: c.name,
        });
    }
    Ok(Json(out))
}

/// Features of a layer as a GeoJSON FeatureCollection, ordered by id. `bbox` keeps features whose
/// envelope intersects the box (EPSG:4490 degrees); any other parameter except `limit` and
/// `after` is an equality filter on a field of the layer. A full page carries a `next` link.
#[utoipa::path(get, path = "/api/layers/{layer}/features",
    params(
        ("layer" = String, Path, description = "Layer name, e.g. parcels"),
        ("bbox" = Option<String>, Query, description = "min_lon,min_lat,max_lon,max_lat in EPSG:4490"),
        ("limit" = Option<usize>, Query, description = "Page size, default 1000, at most 10000"),
        ("after" = Option<String>, Query, description = "Return features whose id sorts after this one"),
    ),
    responses(
        (status = 200, description = "GeoJSON FeatureCollection", body = FeatureCollection),
        (status = 400, description = "Malformed query", body = crate::error::ErrorBody),
        (status = 404, description = "No such layer", body = crate::error::ErrorBody),
    ))]
pub async fn features(
    State(s): State<AppState>,
    who: Who,
    ApiPath(layer_name): ApiPath<String>,
    RawQuery(raw): RawQuery,
) -> Result<Json<FeatureCollection>, ApiError> {
    let Some(layer) = Layer::by_name(&layer_name) else {
        let c = readable_custom(&s, &who, &layer_name).await?;
        return custom_features(s, c, raw).await;
    };
    let visible = Visible::of(&s.app, &who.caller, layer).await?;
    let mut q = Query {
        limit: Some(DEFAULT_LIMIT),
        ..Query::default()
    };
    let mut passthrough: Vec<(String, String)> = Vec::new();
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "bbox" => {
                if layer.geometry.is_none() {
                    return Err(ApiError::bad_request(format!(
                        "layer {} has no geometry; bbox does not apply",
                        layer.name
                    )));
                }
                q.bbox = Some(parse_bbox(&v)?);
            }
            "limit" => {
                let n: usize = v.parse().map_err(|_| {
                    ApiError::bad_request(format!("limit {v:?} must be a positive integer"))
                })?;
                if n == 0 || n > MAX_LIMIT {
                    return Err(ApiError::bad_request(format!(
                        "limit must be between 1 and {MAX_LIMIT}"
                    )));
                }
                q.limit = Some(n);
                continue;
            }
            "after" => {
                q.after_id = Some(v.to_string());
                continue;
            }
            name => q
                .equals
                .push((name.to_owned(), parse_value(layer, name, &v)?)),
        }
        passthrough.push((k.into_owned(), v.into_owned()));
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    let shown = visible.query(&s.app, q).await?;
    let last_id = shown
        .last()
        .map(|f| f.id.clone())
        .filter(|_| shown.len() == limit);
    if layer.personal() && !shown.is_empty() {
        let mut rec = crate::audit::record(&who, "read_personal", "ok");
        rec.target_layer = layer.name.into();
        rec.detail = persons(&shown);
        crate::audit::append(&s, vec![rec]).await?;
    }
    let next = last_id.map(|last| {
        let mut qs = form_urlencoded::Serializer::new(String::new());
        qs.extend_pairs(passthrough.iter());
        qs.append_pair("limit", &limit.to_string());
        qs.append_pair("after", &last);
        format!("/api/layers/{}/features?{}", layer.name, qs.finish())
    });
    Ok(Json(FeatureCollection {
        kind: FeatureCollectionType::FeatureCollection,
        number_returned: shown.len(),
        features: shown.iter().map(GeoFeature::of).collect(),
        next,
    }))
}

/// A custom layer the caller may read: 404 when there is none, 401/403 when its access class
/// (chosen at import) does not let the caller read it.
pub(crate) async fn readable_custom(
    s: &AppState,
    who: &Who,
    name: &str,
) -> Result<CustomLayer, ApiError> {
    let c = gengxin_io::custom::get(&*s.store, name)
        .await?
        .ok_or_else(|| ApiError::not_found(format!("no layer named {name:?}; see /api/layers")))?;
    allow(may_read_custom(who, &c))?;
    Ok(c)
}

/// The policy's answer for a custom layer's access class.
fn may_read_custom(who: &Who, c: &CustomLayer) -> Result<(), gengxin_auth::Denied> {
    gengxin_auth::policy::can_read_custom(&who.caller, &c.access, c.organisation_id.as_deref())
}

/// How many rows of a layer the caller may see: the cached count when it sees them all.
pub(crate) async fn visible_count(s: &AppState, visible: &Visible) -> Result<u64, ApiError> {
    Ok(if visible.all() {
        s.counts.count(&*s.store, visible.layer().id).await?
    } else {
        visible.count(&s.app).await?
    })
}

/// The audit detail of a read of personal rows: how many, and which.
pub(crate) fn persons(rows: &[Feature]) -> String {
    let ids: Vec<&str> = rows.iter().map(|f| f.id.as_str()).collect();
    format!("{} rows: {}", ids.len(), ids.join(","))
}

/// The features of a custom layer: `bbox`, `limit` and `after` as for any layer.
async fn custom_features(
    s: AppState,
    c: CustomLayer,
    raw: Option<String>,
) -> Result<Json<FeatureCollection>, ApiError> {
    let name = c.name.as_str();
    let mut q = Query {
        limit: Some(DEFAULT_LIMIT),
        ..Query::default()
    };
    for (k, v) in form_urlencoded::parse(raw.unwrap_or_default().as_bytes()) {
        match k.as_ref() {
            "bbox" if c.spatial => q.bbox = Some(parse_bbox(&v)?),
            "limit" => {
                q.limit = Some(
                    v.parse()
                        .ok()
                        .filter(|n| (1..=MAX_LIMIT).contains(n))
                        .ok_or_else(|| {
                            ApiError::bad_request(format!(
                                "limit must be between 1 and {MAX_LIMIT}"
                            ))
                        })?,
                )
            }
            "after" => q.after_id = Some(v.into_owned()),
            other => {
                return Err(ApiError::bad_request(format!(
                    "custom layer {name} takes bbox, limit and after, not {other:?}"
                )));
            }
        }
    }
    let limit = q.limit.unwrap_or(DEFAULT_LIMIT);
    let found = gengxin_io::custom::features(&*s.store, &c, q).await?;
    let next = found.last().filter(|_| found.len() == limit).map(|last| {
        format!(
            "/api/layers/{name}/features?limit={limit}&after={}",
            form_urlencoded::byte_serialize(last.id.as_bytes()).collect::<String>()
        )
    });
    Ok(Json(FeatureCollection {
        kind: FeatureCollectionType::FeatureCollection,
        number_returned: found.len(),
        features: found.iter().map(GeoFeature::of).collect(),
        next,
    }))
}

/// One feature of a layer (the object's detail) as a GeoJSON Feature; its `ETag` is its version.
#[utoipa::path(get, path = "/api/layers/{layer}/features/{id}",
    params(("layer" = String, Path), ("id" = String, Path)),
    responses(
        (status = 200, description = "GeoJSON Feature; the ETag is its version", body = GeoFeature),
        (status = 404, description = "No such layer or feature", body = crate::error::ErrorBody),
    ))]
pub async fn feature(
    State(s): State<AppState>,
    who: Who,
    ApiPath((layer_name, id)): ApiPath<(String, String)>,
) -> Result<axum::response::Response, ApiError> {
    let f = match Layer::by_name(&layer_name) {
        Some(layer) => {
            let visible = Visible::of(&s.app, &who.caller, layer).await?;
            // Out of scope reads as absent: no one learns what exists outside their scope.
            let f = s
                .store
                .get(layer.id, &id)
                .await?
                .filter(|f| visible.sees(f))
                .map(|f| visible.shape(f));
            if layer.personal()
                && let Some(f) = &f
            {
                let mut rec = crate::audit::record(&who, "read_personal", "ok");
                rec.target_layer = layer.name.into();
                rec.target_id = f.id.clone();
                crate::audit::append(&s, vec![rec]).await?;
            }
            f
        }
        None => {
            let c = readable_custom(&s, &who, &layer_name).await?;
            gengxin_io::custom::feature(&*s.store, &c, &id).await?
        }
    }
    .ok_or_else(|| ApiError::not_found(format!("{layer_name}/{id} does not exist")))?;
    Ok(with_etag(axum::http::StatusCode::OK, &f))
}
