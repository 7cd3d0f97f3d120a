//! GeoJSON (RFC 7946): a FeatureCollection, a Feature or a bare geometry. Coordinates are WGS 84
//! unless a legacy `crs` member names another system. serde_json refuses nesting deeper than
//! 128 levels, so a hostile file cannot exhaust the stack.

use std::path::Path;

use gengxin_engine::crs::Crs;
use serde_json::Value as Json;

use crate::{Attr, Dataset, Format, IoError, ReadOptions, Record};

pub fn read(path: &Path, opts: &ReadOptions) -> Result<Dataset, IoError> {
    let bytes = std::fs::read(path).map_err(|e| IoError::file(path, e))?;
    let text = super::decode_text(path, &bytes, opts.encoding)?;
    parse(path, &text)
}

pub fn parse(path: &Path, text: &str) -> Result<Dataset, IoError> {
    let json: Json = serde_json::from_str(text)
        .map_err(|e| IoError::file(path, format!("not valid JSON: {e}")))?;
    let crs = match json.get("crs") {
        None | Some(Json::Null) => Crs::Wgs84,
        Some(c) => {
            let name = c
                .pointer("/properties/name")
                .and_then(Json::as_str)
                .unwrap_or_default();
            legacy_crs(name).ok_or_else(|| {
                IoError::file(
                    path,
                    format!(
                        "its `crs` member names {name:?}, which Gengxin does not support; {}",
                        gengxin_engine::crs::CRS_HINT
                    ),
                )
            })?
        }
    };
    let features: Vec<Json> = match json.get("type").and_then(Json::as_str) {
        Some("FeatureCollection") => match json.get("features") {
            Some(Json::Array(a)) => a.clone(),
            _ => {
                return Err(IoError::file(
                    path,
                    "FeatureCollection without a `features` array",
                ));
            }
        },
        Some("Feature") => vec![json.clone()],
        Some(_) => vec![serde_json::json!({"type": "Feature", "geometry": json, "properties": {}})],
        None => {
            return Err(IoError::file(
                path,
                "not GeoJSON: the top-level object has no `type`",
            ));
        }
    };
    let mut fields: Vec<String> = Vec::new();
    let mut records = Vec::with_capacity(features.len());
    for (i, f) in features.into_iter().enumerate() {
        let mut problems = Vec::new();
        let geometry = match f.get("geometry") {
            None | Some(Json::Null) => None,
            Some(g) if unclosed_ring(g) => {
                problems.push("unclosed ring".to_owned());
                Some(geometry(g).map_err(|e| {
                    IoError::file(path, format!("feature {}: bad geometry: {e}", i + 1))
                })?)
            }
            Some(g) => Some(geometry(g).map_err(|e| {
                IoError::file(path, format!("feature {}: bad geometry: {e}", i + 1))
            })?),
        };
        let mut attrs = Vec::new();
        if let Some(id) = f.get("id").filter(|v| !v.is_null()) {
            attrs.push(("id".to_owned(), attr(id)));
        }
        if let Some(Json::Object(props)) = f.get("properties") {
            for (k, v) in props {
                if k == "id" && !attrs.is_empty() {
                    continue;
                }
                attrs.push((k.clone(), attr(v)));
            }
        }
        for (k, _) in &attrs {
            if !fields.contains(k) {
                fields.push(k.clone());
            }
        }
        records.push(Record {
            geometry,
            attrs,
            problems,
        });
    }
    Ok(Dataset {
        format: Format::GeoJson,
        records,
        crs: Some(crs),
        declared_crs: None,
        encoding: Some("UTF-8".into()),
        fields,
    })
}

fn legacy_crs(name: &str) -> Option<Crs> {
    let n = name.to_ascii_uppercase();
    if n.ends_with("CRS84") {
        return Some(Crs::Wgs84);
    }
    let code = n.rsplit(':').next()?;
    code.parse().ok().and_then(Crs::from_epsg)
}

fn geometry(g: &Json) -> Result<geo_types::Geometry<f64>, String> {
    let g = geojson::Geometry::from_json_value(g.clone()).map_err(|e| e.to_string())?;
    geo_types::Geometry::<f64>::try_from(g).map_err(|e| e.to_string())
}

fn attr(v: &Json) -> Attr {
    match v {
        Json::Null => Attr::Null,
        Json::Bool(b) => Attr::Bool(*b),
        Json::Number(n) => match n.as_i64() {
            Some(i) => Attr::Int(i),
            None => Attr::Real(n.as_f64().unwrap_or(f64::NAN)),
        },
        Json::String(s) => Attr::Text(s.clone()),
        other => Attr::Text(other.to_string()),
    }
}

/// Whether a (Multi)Polygon's coordinates have a ring whose last position is not its first.
fn unclosed_ring(g: &Json) -> bool {
    let rings: Vec<&Json> = match (g.get("type").and_then(Json::as_str), g.get("coordinates")) {
        (Some("Polygon"), Some(Json::Array(rings))) => rings.iter().collect(),
        (Some("MultiPolygon"), Some(Json::Array(polys))) => {
            polys.iter().filter_map(Json::as_array).flatten().collect()
        }
        _ => return false,
    };
    rings.iter().any(|r| match r.as_array() {
        Some(pts) if pts.len() > 1 => pts.first() != pts.last(),
        _ => false,
    })
}
