//! The wire form of the domain: features as GeoJSON, values as JSON, layers by name, and the
//! parameters every layer endpoint parses (bounding boxes, field values, versions as ETags).

use axum::Json;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gengxin_io::export::Labels;
use gengxin_model::{Feature, FieldType, Layer, Value, timestamp};
use gengxin_store::Bbox;
use serde::Serialize;
use serde_json::{Map, json};
use utoipa::ToSchema;

use crate::ApiError;

/// A code of a vocabulary with its names (stage, land use, audit action …).
#[derive(Serialize, ToSchema)]
pub struct CodeInfo {
    code: &'static str,
    zh: &'static str,
    en: &'static str,
}

impl CodeInfo {
    pub fn of(c: &gengxin_model::vocab::Code) -> CodeInfo {
        CodeInfo {
            code: c.code,
            zh: c.zh,
            en: c.en,
        }
    }
}

/// The GeoJSON type of a feature: always `Feature`.
#[derive(Clone, Copy, Serialize, ToSchema)]
pub enum FeatureType {
    Feature,
}

/// The GeoJSON type of a feature collection: always `FeatureCollection`.
#[derive(Clone, Copy, Serialize, ToSchema)]
pub enum FeatureCollectionType {
    FeatureCollection,
}

/// A feature of a layer as a GeoJSON Feature (RFC 7946).
#[derive(Clone, Serialize, ToSchema)]
pub struct GeoFeature {
    #[serde(rename = "type")]
    pub kind: FeatureType,
    /// The feature's id, unique within its layer.
    pub id: String,
    /// A GeoJSON geometry in EPSG:4490 lon/lat; null for rows of attribute layers and where an
    /// answer leaves geometry out.
    #[schema(value_type = Option<Object>, required)]
    pub geometry: Option<geojson::Geometry>,
    /// The layer's fields that have a value, by name (see `/api/layers`), and the bookkeeping:
    /// `provenance`, `created_at`, `updated_at` (RFC 3339) and `version`.
    #[schema(value_type = Object)]
    pub properties: Map<String, serde_json::Value>,
}

impl GeoFeature {
    /// A feature with its geometry.
    pub fn of(f: &Feature) -> Self {
        GeoFeature::with(f, true)
    }

    /// A feature, with `geometry: null` unless asked for (answers that only name features skip
    /// converting large boundaries).
    pub fn with(f: &Feature, geometry: bool) -> Self {
        let mut properties: Map<String, serde_json::Value> = f
            .properties
            .iter()
            .map(|(k, v)| (k.clone(), value_json(v)))
            .collect();
        properties.insert("provenance".into(), json!(f.provenance));
        properties.insert("created_at".into(), json!(timestamp(&f.created_at)));
        properties.insert("updated_at".into(), json!(timestamp(&f.updated_at)));
        properties.insert("version".into(), json!(f.version));
        GeoFeature {
            kind: FeatureType::Feature,
            id: f.id.clone(),
            geometry: f
                .geometry
                .as_ref()
                .filter(|_| geometry)
                .map(|g| geojson::Geometry::new(geojson::Value::from(g))),
            properties,
        }
    }
}

/// A page of a layer's features as a GeoJSON FeatureCollection, in id order.
#[derive(Serialize, ToSchema)]
pub struct FeatureCollection {
    #[serde(rename = "type")]
    pub kind: FeatureCollectionType,
    /// How many features this page holds.
    #[serde(rename = "numberReturned")]
    pub number_returned: usize,
    pub features: Vec<GeoFeature>,
    /// The next page; present when this page is full.
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(nullable = false)]
    pub next: Option<String>,
}

/// A link of the OGC API (RFC 8288 web link).
#[derive(Serialize, ToSchema)]
pub struct Link {
    /// The relation, e.g. `self`, `next`, `items`.
    pub rel: &'static str,
    /// The media type of the target.
    #[serde(rename = "type")]
    pub media_type: &'static str,
    pub href: String,
}

impl Link {
    pub fn new(rel: &'static str, media_type: &'static str, href: impl Into<String>) -> Self {
        Link {
            rel,
            media_type,
            href: href.into(),
        }
    }
}

pub fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Real(r) => json!(r),
        Value::Text(t) => json!(t),
    }
}

pub fn layer(name: &str) -> Result<&'static Layer, ApiError> {
    Layer::by_name(name)
        .ok_or_else(|| ApiError::not_found(format!("no layer named {name:?}; see /api/layers")))
}

pub fn parse_bbox(s: &str) -> Result<Bbox, ApiError> {
    let parts: Vec<f64> = s
        .split(',')
        .map(|p| p.trim().parse::<f64>())
        .collect::<Result<_, _>>()
        .map_err(|_| {
            ApiError::bad_request(format!(
                "bbox {s:?} must be four numbers: min_lon,min_lat,max_lon,max_lat"
            ))
        })?;
    let [a, b, c, d] = parts[..] else {
        return Err(ApiError::bad_request(format!(
            "bbox {s:?} must be four numbers: min_lon,min_lat,max_lon,max_lat"
        )));
    };
    Bbox::new(a, b, c, d).map_err(|e| ApiError::bad_request(format!("bbox {s:?}: {e}")))
}

pub fn parse_value(layer: &Layer, name: &str, raw: &str) -> Result<Value, ApiError> {
    let field = layer.field(name).ok_or_else(|| {
        ApiError::bad_request(format!(
            "layer {} has no field `{name}` to filter on",
            layer.name
        ))
    })?;
    let bad = |what: &str| ApiError::bad_request(format!("filter {name}={raw:?}: expected {what}"));
    Ok(match field.ty {
        FieldType::Int => Value::Int(raw.parse().map_err(|_| bad("an integer"))?),
        FieldType::Real => Value::Real(
            raw.parse::<f64>()
                .ok()
                .filter(|r| r.is_finite())
                .ok_or_else(|| bad("a number"))?,
        ),
        FieldType::Bool => Value::Bool(raw.parse().map_err(|_| bad("true or false"))?),
        FieldType::Date if !gengxin_model::is_date(raw) => {
            return Err(bad("a date YYYY-MM-DD"));
        }
        FieldType::DateTime if !gengxin_model::is_timestamp(raw) => {
            return Err(bad("an RFC 3339 timestamp"));
        }
        FieldType::Text | FieldType::Date | FieldType::DateTime => Value::Text(raw.to_owned()),
    })
}

/// The `ETag` of a feature: its version, as a strong entity tag.
pub fn etag(f: &Feature) -> HeaderValue {
    HeaderValue::from_str(&format!("\"{}\"", f.version)).expect("digits and quotes")
}

/// A feature answer with its `ETag`.
pub fn with_etag(status: StatusCode, f: &Feature) -> Response {
    (status, [(header::ETAG, etag(f))], Json(GeoFeature::of(f))).into_response()
}

/// A text field of a row, if set.
pub fn text(f: &Feature, k: &str) -> Option<String> {
    f.get(k).as_str().map(str::to_owned)
}

/// How a CSV or xlsx export labels its columns and values: `codes=true` field names and codes
/// (for machines); otherwise titles and code names, in English for `lang=en` or, without `lang`,
/// an Accept-Language whose first language is English; in Chinese otherwise.
pub(crate) fn export_labels(
    codes: Option<&str>,
    lang: Option<&str>,
    headers: &HeaderMap,
) -> Result<Labels, ApiError> {
    match codes {
        None | Some("false" | "0") => {}
        Some("true" | "1") => return Ok(Labels::Codes),
        Some(other) => {
            return Err(ApiError::bad_request(format!(
                "codes {other:?}: true or false"
            )));
        }
    }
    match lang {
        Some("zh") => Ok(Labels::Zh),
        Some("en") => Ok(Labels::En),
        Some(other) => Err(ApiError::bad_request(format!("lang {other:?}: zh or en"))),
        None => {
            let first = headers
                .get(header::ACCEPT_LANGUAGE)
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.split([',', ';']).next())
                .unwrap_or_default()
                .trim()
                .to_ascii_lowercase();
            Ok(if first == "en" || first.starts_with("en-") {
                Labels::En
            } else {
                Labels::Zh
            })
        }
    }
}
