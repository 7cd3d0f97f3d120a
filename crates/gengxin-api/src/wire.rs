//! The wire form of the domain: features as GeoJSON, values as JSON, layers by name, and the
//! parameters every layer endpoint parses (bounding boxes, field values, versions as ETags).

use axum::Json;
use axum::http::{HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use gengxin_model::{Feature, FieldType, Layer, Value, timestamp};
use gengxin_store::Bbox;
use serde_json::{Map, json};

use crate::ApiError;

pub fn value_json(v: &Value) -> serde_json::Value {
    match v {
        Value::Null => serde_json::Value::Null,
        Value::Bool(b) => json!(b),
        Value::Int(i) => json!(i),
        Value::Real(r) => json!(r),
        Value::Text(t) => json!(t),
    }
}

/// A feature as a GeoJSON Feature; bookkeeping (provenance, timestamps, version) joins the
/// properties.
pub fn feature_json(f: &Feature) -> serde_json::Value {
    feature_json_with(f, true)
}

/// [`feature_json`], with `geometry: null` unless asked for (answers that only name features
/// skip converting large boundaries).
pub fn feature_json_with(f: &Feature, geometry: bool) -> serde_json::Value {
    let mut props: Map<String, serde_json::Value> = f
        .properties
        .iter()
        .map(|(k, v)| (k.clone(), value_json(v)))
        .collect();
    props.insert("provenance".into(), json!(f.provenance));
    props.insert("created_at".into(), json!(timestamp(&f.created_at)));
    props.insert("updated_at".into(), json!(timestamp(&f.updated_at)));
    props.insert("version".into(), json!(f.version));
    let geometry = f
        .geometry
        .as_ref()
        .filter(|_| geometry)
        .map(|g| geojson::Geometry::new(geojson::Value::from(g)));
    json!({ "type": "Feature", "id": f.id, "geometry": geometry, "properties": props })
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
    (status, [(header::ETAG, etag(f))], Json(feature_json(f))).into_response()
}
