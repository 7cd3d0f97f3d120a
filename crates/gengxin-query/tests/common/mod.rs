//! Features of real catalogue layers and helpers shared by the integration tests.
#![allow(dead_code)]

use chrono::{DateTime, Utc};
use gengxin_model::{Feature, GENERATED, Layer, LayerId};
use gengxin_query::{ErrorKind, Filter, Lang, QueryError};
use geo_types::{Geometry, LineString, Polygon};
use serde_json::Value;

pub fn at(s: &str) -> DateTime<Utc> {
    DateTime::parse_from_rfc3339(s).unwrap().with_timezone(&Utc)
}

/// A square of half-width `h` degrees centred on (x, y).
pub fn square(x: f64, y: f64, h: f64) -> Geometry<f64> {
    rect(x - h, y - h, x + h, y + h)
}

pub fn rect(x0: f64, y0: f64, x1: f64, y1: f64) -> Geometry<f64> {
    Polygon::new(
        LineString::from(vec![(x0, y0), (x1, y0), (x1, y1), (x0, y1), (x0, y0)]),
        vec![],
    )
    .into()
}

pub fn buildings_layer() -> &'static Layer {
    Layer::by_id(LayerId::Buildings)
}

pub fn projects_layer() -> &'static Layer {
    Layer::by_id(LayerId::Projects)
}

pub fn reports_layer() -> &'static Layer {
    Layer::by_id(LayerId::ResidentReports)
}

/// Four buildings in Wuhan: b1 and b2 near (114.30, 30.55), b3 farther out, b4 without geometry.
pub fn buildings() -> Vec<Feature> {
    let mut b1 = Feature::new("b1", "OpenStreetMap", at("2024-01-01T00:00:00Z"))
        .with_geometry(square(114.300, 30.550, 0.0005))
        .set("name", "武汉大厦")
        .set("floors", 12_i64)
        .set("height_m", 40.5)
        .set("year_built", 1998_i64)
        .set("structure", "steel")
        .set("use", "office")
        .set("district_code", "420102");
    b1.updated_at = at("2024-06-01T08:00:00Z");
    let b2 = Feature::new("b2", GENERATED, at("2024-02-01T00:00:00Z"))
        .with_geometry(square(114.310, 30.560, 0.0005))
        .set("name", "Block_A%1")
        .set("floors", 3_i64)
        .set("height_m", 9.0)
        .set("year_built", 1985_i64)
        .set("use", "residential")
        .set("district_code", "420103");
    let mut b3 = Feature::new("b3", GENERATED, at("2024-03-01T00:00:00Z"))
        .with_geometry(square(114.500, 30.700, 0.001))
        .set("height_m", 20.0)
        .set("year_built", 2010_i64)
        .set("use", "commercial")
        .set("district_code", "420102");
    b3.version = 3;
    let b4 = Feature::new("b4", GENERATED, at("2024-04-01T00:00:00Z"))
        .set("name", "Block_B")
        .set("floors", 6_i64)
        .set("height_m", 18.0)
        .set("year_built", 2001_i64)
        .set("use", "mixed")
        .set("district_code", "420104");
    vec![b1, b2, b3, b4]
}

/// Three renewal projects (an attribute layer) with dates.
pub fn projects() -> Vec<Feature> {
    let base = |id: &str, updated: &str| {
        let mut f = Feature::new(id, GENERATED, at("2022-01-01T00:00:00Z"))
            .set("code", format!("XM-{id}"))
            .set("name", format!("项目{id}"))
            .set("renewal_object_id", "ro1")
            .set("district_code", "420102");
        f.updated_at = at(updated);
        f
    };
    vec![
        base("p1", "2024-06-01T08:00:00Z")
            .set("stage", "construction")
            .set("progress_pct", 45.5)
            .set("plan_year", 2023_i64)
            .set("start_date", "2023-03-01")
            .set("planned_end_date", "2025-12-31"),
        base("p2", "2024-12-01T00:00:00Z")
            .set("stage", "completed")
            .set("progress_pct", 100.0)
            .set("plan_year", 2024_i64)
            .set("start_date", "2024-01-31")
            .set("planned_end_date", "2024-12-31")
            .set("actual_end_date", "2024-11-30"),
        base("p3", "2023-01-01T00:00:00Z")
            .set("stage", "reserve")
            .set("progress_pct", 0.0)
            .set("plan_year", 2022_i64)
            .set("start_date", "2022-07-15")
            .set("planned_end_date", "2026-06-30"),
    ]
}

/// Resident reports: a timestamp field and a boolean field.
pub fn reports() -> Vec<Feature> {
    let base = |id: &str| {
        Feature::new(id, GENERATED, at("2024-03-01T00:00:00Z"))
            .with_geometry(geo_types::Point::new(114.3, 30.55))
            .set("category", "emergency")
            .set("description", "路灯不亮")
            .set("status", "received")
            .set("community_code", "420102001001")
    };
    vec![
        base("r1")
            .set("reported_at", "2024-03-01T08:00:00.000Z")
            .set("anonymous", true),
        base("r2")
            .set("reported_at", "2024-03-02T00:00:00.000Z")
            .set("anonymous", false),
        base("r3").set("reported_at", "2024-03-03T00:00:00.000Z"),
    ]
}

pub fn text(q: &str, layer: &'static Layer) -> Filter {
    gengxin_query::parse(q, Lang::Text, layer).unwrap_or_else(|e| panic!("{q}: {e:?}"))
}

pub fn json(v: &Value, layer: &'static Layer) -> Filter {
    gengxin_query::parse_json_value(v, layer).unwrap_or_else(|e| panic!("{v}: {e:?}"))
}

pub fn ids(f: &Filter, features: &[Feature]) -> Vec<String> {
    features
        .iter()
        .filter(|x| f.matches(x))
        .map(|x| x.id.clone())
        .collect()
}

/// The text and the JSON form (parsed both from a string and as a value) match exactly `want`.
pub fn check(layer: &'static Layer, features: &[Feature], q: &str, j: Value, want: &[&str]) {
    let t = ids(&text(q, layer), features);
    assert_eq!(t, want, "text: {q}");
    let v = ids(&json(&j, layer), features);
    assert_eq!(v, want, "json: {j}");
    let s = gengxin_query::parse(&j.to_string(), Lang::Json, layer)
        .unwrap_or_else(|e| panic!("{j}: {e:?}"));
    assert_eq!(ids(&s, features), want, "json string: {j}");
}

pub fn text_err(q: &str, layer: &'static Layer) -> QueryError {
    match gengxin_query::parse(q, Lang::Text, layer) {
        Ok(f) => panic!("{q:?} parsed: {f:?}"),
        Err(e) => {
            assert!(e.pointer.is_empty(), "{e:?}");
            e
        }
    }
}

pub fn json_err(v: &Value, layer: &'static Layer) -> QueryError {
    match gengxin_query::parse_json_value(v, layer) {
        Ok(f) => panic!("{v} parsed: {f:?}"),
        Err(e) => {
            assert_eq!(e.position, None, "{e:?}");
            // The same from a string gives the same error.
            let s = gengxin_query::parse(&v.to_string(), Lang::Json, layer).unwrap_err();
            assert_eq!(s, e, "string form of {v}");
            e
        }
    }
}

/// Asserts kind, and that the message contains each of `words`.
pub fn assert_err(e: &QueryError, kind: ErrorKind, words: &[&str]) {
    assert_eq!(e.kind, kind, "{e:?}");
    for w in words {
        assert!(e.message.contains(w), "{w:?} not in {:?}", e.message);
    }
}
