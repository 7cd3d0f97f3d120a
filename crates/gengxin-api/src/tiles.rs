//! Vector tiles of the feature layers: `GET /tiles` (the list), `GET /tiles/{layer}.json`
//! (TileJSON 3.0.0) and `GET /tiles/{layer}/{z}/{x}/{y}.mvt` (Mapbox Vector Tile 2.1).
//!
//! Tiles are cut in Rust from [`Store::query`] answers — the same code over either backend, so a
//! GeoPackage and a PostGIS store with the same content serve byte-identical tiles. The engine
//! ([`gengxin_engine::tile`]) projects, clips and simplifies; this module picks the features and
//! attributes per zoom, encodes the protobuf and caches tiles until a write to their layer is
//! announced. Layers with personal information are not tiled.

use std::collections::BTreeMap;
use std::sync::Arc;

use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use axum::{Json, body::Bytes};
use gengxin_engine::tile::{BUFFER, EXTENT, MAX_ZOOM, TileId, to_tile};
use gengxin_model::{Feature, GENERATED, Layer, LayerId, Value};
use gengxin_store::{Bbox, Query};
use geozero::ToMvt;
use geozero::mvt::{Message, TagsBuilder, Tile, TileValue, tile};
use serde::Serialize;
use serde_json::json;
use utoipa::ToSchema;

use crate::extract::ApiPath;
use crate::{ApiError, AppState};
use gengxin_app::cache::LayerCache;

/// How one layer is tiled.
pub struct TileLayer {
    pub layer: LayerId,
    /// No tiles below this zoom.
    pub minzoom: u8,
    /// Attributes carried (besides `id` and `generated`).
    props: &'static [&'static str],
    /// Thinning by zoom: the field, and for each of its values the zoom it appears from.
    /// Features with other values are left out.
    by_zoom: Option<(&'static str, &'static [(&'static str, u8)])>,
}

/// What the life-circle result layers carry into tiles (the gap map).
const LIFE_CIRCLE_PROPS: &[&str] = &[
    "area_id",
    "name",
    "residents",
    "score_5min",
    "score_10min",
    "score_15min",
    "missing",
];

/// Every tiled layer, in drawing order (bottom first).
pub static TILE_LAYERS: &[TileLayer] = &[
    TileLayer {
        layer: LayerId::Parcels,
        minzoom: 12,
        props: &[
            "code",
            "land_use",
            "planned_use",
            "area_m2",
            "renewal_object_id",
            "district_code",
        ],
        by_zoom: None,
    },
    TileLayer {
        layer: LayerId::LifeCircleCommunities,
        minzoom: 9,
        props: LIFE_CIRCLE_PROPS,
        by_zoom: None,
    },
    TileLayer {
        layer: LayerId::LifeCircleParcels,
        minzoom: 12,
        props: LIFE_CIRCLE_PROPS,
        by_zoom: None,
    },
    TileLayer {
        layer: LayerId::PlanZones,
        minzoom: 10,
        props: &["name", "plan_kind", "land_use", "far"],
        by_zoom: None,
    },
    TileLayer {
        layer: LayerId::Roads,
        minzoom: 8,
        props: &["name", "class", "width_m"],
        by_zoom: Some((
            "class",
            &[
                ("expressway", 8),
                ("arterial", 8),
                ("secondary", 11),
                ("branch", 13),
                ("walkway", 14),
            ],
        )),
    },
    TileLayer {
        layer: LayerId::Buildings,
        minzoom: 14,
        props: &[
            "name",
            "floors",
            "height_m",
            "use",
            "structure",
            "year_built",
        ],
        by_zoom: None,
    },
    TileLayer {
        layer: LayerId::RenewalObjects,
        minzoom: 8,
        props: &["name", "kind", "district_code", "area_m2"],
        by_zoom: None,
    },
    TileLayer {
        layer: LayerId::Grids,
        minzoom: 13,
        props: &["code", "name", "community_code"],
        by_zoom: None,
    },
    TileLayer {
        layer: LayerId::AdminUnits,
        minzoom: 0,
        props: &["code", "name", "level", "kind", "parent_code"],
        by_zoom: Some((
            "level",
            &[
                ("city", 0),
                ("district", 0),
                ("street", 9),
                ("community", 11),
            ],
        )),
    },
    TileLayer {
        layer: LayerId::Facilities,
        minzoom: 12,
        props: &["name", "category", "tier", "capacity"],
        by_zoom: None,
    },
    TileLayer {
        layer: LayerId::ResidentReports,
        minzoom: 13,
        props: &["category", "status"],
        by_zoom: None,
    },
];

fn tile_layer(name: &str) -> Result<&'static TileLayer, ApiError> {
    let layer = crate::wire::layer(name)?;
    TILE_LAYERS
        .iter()
        .find(|t| t.layer == layer.id)
        .ok_or_else(|| {
            ApiError::not_found(format!(
                "layer {name:?} is not served as tiles (attribute layers and layers with personal \
                 information are not); see /tiles"
            ))
        })
}

/// One entry of `GET /tiles`.
#[derive(Serialize, ToSchema)]
pub struct TileLayerInfo {
    layer: &'static str,
    title_zh: &'static str,
    title_en: &'static str,
    /// `renewal` or `community`.
    database: &'static str,
    geometry_type: &'static str,
    minzoom: u8,
    maxzoom: u8,
    /// Link to the layer's TileJSON.
    tilejson: String,
}

/// The layers served as vector tiles, in drawing order (bottom first).
#[utoipa::path(get, path = "/tiles", operation_id = "list_tiles", responses((status = 200, body = Vec<TileLayerInfo>)))]
pub async fn list() -> Json<Vec<TileLayerInfo>> {
    Json(
        TILE_LAYERS
            .iter()
            .map(|t| {
                let l = Layer::by_id(t.layer);
                TileLayerInfo {
                    layer: l.name,
                    title_zh: l.zh,
                    title_en: l.en,
                    database: l.database.name(),
                    geometry_type: l.geometry.map(|g| g.ogc_name()).unwrap_or_default(),
                    minzoom: t.minzoom,
                    maxzoom: MAX_ZOOM,
                    tilejson: format!("/tiles/{}.json", l.name),
                }
            })
            .collect(),
    )
}

/// The origin the client used, for the absolute tile URLs TileJSON wants.
pub(crate) fn origin(headers: &HeaderMap) -> String {
    let host = headers
        .get(header::HOST)
        .and_then(|h| h.to_str().ok())
        .filter(|h| h.bytes().all(|b| b.is_ascii_graphic()))
        .unwrap_or("127.0.0.1");
    let proto = match headers
        .get("x-forwarded-proto")
        .and_then(|h| h.to_str().ok())
    {
        Some("https") => "https",
        _ => "http",
    };
    format!("{proto}://{host}")
}

/// The one vector layer of a tiled layer's tiles.
#[derive(Serialize, ToSchema)]
pub struct VectorLayer {
    /// The layer's name, also the name of the layer inside the tiles.
    id: &'static str,
    description: &'static str,
    minzoom: u8,
    maxzoom: u8,
    /// The attributes the tiles carry, with what they are.
    fields: BTreeMap<&'static str, &'static str>,
}

/// A tiled layer's TileJSON 3.0.0 document.
#[derive(Serialize, ToSchema)]
pub struct TileJson {
    /// Always `3.0.0`.
    tilejson: &'static str,
    name: &'static str,
    description: String,
    attribution: &'static str,
    /// Always `xyz`.
    scheme: &'static str,
    /// The tile URL template, `…/{z}/{x}/{y}.mvt`.
    tiles: [String; 1],
    minzoom: u8,
    maxzoom: u8,
    /// [west, south, east, north]: the city's extent, else the Web Mercator world.
    bounds: [f64; 4],
    /// [lon, lat, zoom].
    #[schema(value_type = Vec<f64>)]
    center: serde_json::Value,
    vector_layers: [VectorLayer; 1],
}

/// A layer's TileJSON 3.0.0 document.
#[utoipa::path(get, path = "/tiles/{layer}.json",
    params(("layer" = String, Path, description = "e.g. admin_units")),
    responses(
        (status = 200, description = "TileJSON 3.0.0", body = TileJson),
        (status = 404, description = "Not a tiled layer", body = crate::error::ErrorBody),
    ))]
pub async fn tilejson(
    State(s): State<AppState>,
    headers: HeaderMap,
    ApiPath(file): ApiPath<String>,
) -> Result<Json<TileJson>, ApiError> {
    let name = file
        .strip_suffix(".json")
        .ok_or_else(|| ApiError::not_found(format!("no {file}; see /tiles")))?;
    let t = tile_layer(name)?;
    let l = Layer::by_id(t.layer);
    // The city's extent, where there is one; else the whole Web Mercator world.
    let cities = s
        .store
        .query(
            LayerId::AdminUnits,
            Query {
                equals: vec![("level".into(), Value::from("city"))],
                ..Query::default()
            },
        )
        .await?;
    let extent = cities
        .iter()
        .filter_map(|f| geo::BoundingRect::bounding_rect(f.geometry.as_ref()?))
        .reduce(|a, b| {
            geo::Rect::new(
                geo::coord! { x: a.min().x.min(b.min().x), y: a.min().y.min(b.min().y) },
                geo::coord! { x: a.max().x.max(b.max().x), y: a.max().y.max(b.max().y) },
            )
        });
    let (bounds, center) = match extent {
        Some(r) => (
            [r.min().x, r.min().y, r.max().x, r.max().y],
            json!([r.center().x, r.center().y, 10]),
        ),
        None => ([-180.0, -85.051_129, 180.0, 85.051_129], json!([0, 0, 0])),
    };
    let mut fields = BTreeMap::new();
    fields.insert("id", "Feature id");
    fields.insert("generated", "Boolean: generated (demo) data");
    for p in t.props {
        let f = l.field(p).expect("tiled fields exist");
        fields.insert(*p, f.zh);
    }
    Ok(Json(TileJson {
        tilejson: "3.0.0",
        name: l.name,
        description: format!("{} / {}", l.zh, l.en),
        attribution: "Gengxin",
        scheme: "xyz",
        tiles: [format!(
            "{}/tiles/{}/{{z}}/{{x}}/{{y}}.mvt",
            origin(&headers),
            l.name
        )],
        minzoom: t.minzoom,
        maxzoom: MAX_ZOOM,
        bounds,
        center,
        vector_layers: [VectorLayer {
            id: l.name,
            description: l.zh,
            minzoom: t.minzoom,
            maxzoom: MAX_ZOOM,
            fields,
        }],
    }))
}

/// One vector tile (`application/vnd.mapbox-vector-tile`; one layer named after the store
/// layer). Tiles with nothing in them are empty, with status 200.
#[utoipa::path(get, path = "/tiles/{layer}/{z}/{x}/{y}.mvt",
    params(
        ("layer" = String, Path, description = "e.g. buildings"),
        ("z" = u8, Path), ("x" = u32, Path),
        ("y" = String, Path, description = "row, followed by `.mvt`"),
    ),
    responses(
        (status = 200, description = "Mapbox Vector Tile", content_type = "application/vnd.mapbox-vector-tile", body = Vec<u8>),
        (status = 400, description = "No such tile", body = crate::error::ErrorBody),
        (status = 404, description = "Not a tiled layer", body = crate::error::ErrorBody),
    ))]
pub async fn tile(
    State(s): State<AppState>,
    ApiPath((name, z, x, y)): ApiPath<(String, String, String, String)>,
) -> Result<Response, ApiError> {
    let t = tile_layer(&name)?;
    let bad = || {
        ApiError::bad_request(format!(
            "no tile {z}/{x}/{y}: want /tiles/{name}/z/x/y.mvt with z ≤ 24 and x, y below 2^z"
        ))
    };
    let yrow = y.strip_suffix(".mvt").ok_or_else(bad)?;
    let id = match (z.parse(), x.parse(), yrow.parse()) {
        (Ok(z), Ok(x), Ok(y)) => TileId::new(z, x, y).ok_or_else(bad)?,
        _ => return Err(bad()),
    };
    let bytes = tile_bytes(&s, t, id).await?;
    Ok((
        [(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/vnd.mapbox-vector-tile"),
        )],
        bytes,
    )
        .into_response())
}

/// The tile's bytes, from the cache or cut now.
async fn tile_bytes(s: &AppState, t: &'static TileLayer, id: TileId) -> Result<Bytes, ApiError> {
    if id.z < t.minzoom {
        return Ok(Bytes::new());
    }
    let cache: &Arc<LayerCache<TileId, Bytes>> = &s.tiles;
    let (hit, generation) = cache.get(t.layer, &id);
    if let Some(b) = hit {
        return Ok(b);
    }
    // Cutting is heavy: a permit of its own class, or 429 at once.
    let _permit = s.limits.permit(crate::limits::Class::Tiles)?;
    let features = features(s, t, id).await?;
    let bytes = tokio::task::spawn_blocking(move || encode(t, id, &features))
        .await
        .map_err(|e| ApiError::internal(format!("tile task failed: {e}")))?;
    cache.put(t.layer, id, generation, bytes.clone(), bytes.len());
    Ok(bytes)
}

/// The features of the tile's buffered box, thinned by zoom.
async fn features(s: &AppState, t: &TileLayer, id: TileId) -> Result<Vec<Feature>, ApiError> {
    let [w, so, e, n] = id.bounds(BUFFER);
    let bbox = Bbox::new(w.max(-180.0), so.max(-90.0), e.min(180.0), n.min(90.0))
        .map_err(ApiError::internal)?;
    let filters: Vec<Vec<(String, Value)>> = match t.by_zoom {
        None => vec![vec![]],
        Some((field, values)) => values
            .iter()
            .filter(|(_, from)| id.z >= *from)
            .map(|(v, _)| vec![(field.to_owned(), Value::from(*v))])
            .collect(),
    };
    let mut out = Vec::new();
    for equals in filters {
        let q = Query {
            bbox: Some(bbox),
            equals,
            ..Query::default()
        };
        out.extend(s.store.query(t.layer, q).await?);
    }
    // Tiles are one cached answer for everyone: in the public's shape (resident reports
    // generalised); staff read exact positions from the features and OGC endpoints.
    let layer = Layer::by_id(t.layer);
    let mut out: Vec<Feature> = out
        .into_iter()
        .map(|f| gengxin_app::visibility::shape(&None, layer, f))
        .collect();
    // One order whatever the filters, so equal content gives equal bytes.
    out.sort_by(|a, b| a.id.cmp(&b.id));
    Ok(out)
}

fn tile_value(v: &Value) -> Option<TileValue> {
    match v {
        Value::Null => None,
        Value::Bool(b) => Some(TileValue::Bool(*b)),
        Value::Int(i) => Some(TileValue::Sint(*i)),
        Value::Real(r) => Some(TileValue::Double(*r)),
        Value::Text(t) => Some(TileValue::Str(t.clone())),
    }
}

/// The protobuf of one tile with one layer; empty when no feature reaches the tile.
fn encode(t: &TileLayer, id: TileId, features: &[Feature]) -> Bytes {
    let name = Layer::by_id(t.layer).name;
    let mut tags = TagsBuilder::new();
    let mut out = Vec::new();
    for f in features {
        let Some(g) = f.geometry.as_ref().and_then(|g| to_tile(g, id)) else {
            continue;
        };
        let Ok(mut feature) = ToMvt::to_mvt_unscaled(&g) else {
            continue;
        };
        let mut tag = |k: &str, v: TileValue| {
            let (k, v) = tags.insert_ref(k, v);
            feature.tags.extend([k, v]);
        };
        tag("id", TileValue::Str(f.id.clone()));
        tag("generated", TileValue::Bool(f.provenance == GENERATED));
        for p in t.props {
            if let Some(v) = tile_value(f.get(p)) {
                tag(p, v);
            }
        }
        out.push(feature);
    }
    if out.is_empty() {
        return Bytes::new();
    }
    let (keys, values) = tags.into_tags();
    let tile = Tile {
        layers: vec![tile::Layer {
            version: 2,
            name: name.to_owned(),
            features: out,
            keys,
            values: values.into_iter().map(Into::into).collect(),
            extent: Some(EXTENT),
        }],
    };
    Bytes::from(tile.encode_to_vec())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_tiled_layer_is_a_non_personal_feature_layer_with_its_fields() {
        for t in TILE_LAYERS {
            let l = Layer::by_id(t.layer);
            assert!(l.geometry.is_some() && !l.personal(), "{}", l.name);
            for p in t.props {
                assert!(l.field(p).is_some(), "{}.{p}", l.name);
            }
            if let Some((field, values)) = t.by_zoom {
                let codes = l.field(field).unwrap().codes.unwrap();
                for (v, z) in values {
                    assert!(codes.iter().any(|c| c.code == *v), "{}.{field}={v}", l.name);
                    assert!(*z >= t.minzoom);
                }
            }
        }
    }
}
