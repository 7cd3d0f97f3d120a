//! Spatial predicates, S_DWITHIN in metres, and envelopes for index pre-selection.

mod common;

use common::*;
use gengxin_engine::crs::GaussKruger;
use gengxin_model::Feature;
use geo::{BoundingRect, Distance, Euclidean, Rect};
use geo_types::Coord;
use serde_json::json;

fn prop(name: &str) -> serde_json::Value {
    json!({ "property": name })
}

fn op(o: &str, args: serde_json::Value) -> serde_json::Value {
    json!({ "op": o, "args": args })
}

fn point(x: f64, y: f64) -> serde_json::Value {
    json!({"type": "Point", "coordinates": [x, y]})
}

fn bbox() -> serde_json::Value {
    json!({"bbox": [114.29, 30.54, 114.32, 30.57]})
}

/// Overlaps the north-east quarter of b1 and sticks out of it.
const PARTIAL: &str =
    "POLYGON((114.3 30.55, 114.301 30.55, 114.301 30.551, 114.3 30.551, 114.3 30.55))";

fn partial() -> serde_json::Value {
    json!({"type": "Polygon", "coordinates": [[[114.3, 30.55], [114.301, 30.55], [114.301, 30.551], [114.3, 30.551], [114.3, 30.55]]]})
}

#[test]
fn s_intersects_point_polygon_and_bbox() {
    let (l, fs) = (buildings_layer(), buildings());
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, POINT(114.3 30.55))",
        op("s_intersects", json!([prop("geom"), point(114.3, 30.55)])),
        &["b1"],
    );
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, POINT(114.4 30.55))",
        op("s_intersects", json!([prop("geom"), point(114.4, 30.55)])),
        &[],
    );
    check(
        l,
        &fs,
        &format!("s_intersects(geom, {PARTIAL})"),
        op("s_intersects", json!([prop("geom"), partial()])),
        &["b1"],
    );
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, BBOX(114.29, 30.54, 114.32, 30.57))",
        op("s_intersects", json!([prop("geom"), bbox()])),
        &["b1", "b2"],
    );
    check(
        l,
        &fs,
        "S_INTERSECTS(geometry, ENVELOPE(114.29, 30.54, 114.32, 30.57))",
        op("s_intersects", json!([prop("geometry"), bbox()])),
        &["b1", "b2"],
    );
    // The literal may come first.
    check(
        l,
        &fs,
        "S_INTERSECTS(POINT(114.31 30.56), geom)",
        op("s_intersects", json!([point(114.31, 30.56), prop("geom")])),
        &["b2"],
    );
    // A point on b1's boundary intersects it.
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, POINT(114.2995 30.55))",
        op(
            "s_intersects",
            json!([prop("geom"), point(114.2995, 30.55)]),
        ),
        &["b1"],
    );
}

#[test]
fn s_intersects_other_geometry_types() {
    let (l, fs) = (buildings_layer(), buildings());
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, LINESTRING(114.309 30.56, 114.311 30.56))",
        op(
            "s_intersects",
            json!([prop("geom"), {"type": "LineString", "coordinates": [[114.309, 30.56], [114.311, 30.56]]}]),
        ),
        &["b2"],
    );
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, MULTIPOINT((114.3 30.55), (114.5 30.7)))",
        op(
            "s_intersects",
            json!([prop("geom"), {"type": "MultiPoint", "coordinates": [[114.3, 30.55], [114.5, 30.7]]}]),
        ),
        &["b1", "b3"],
    );
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, MULTIPOINT(114.3 30.55, 114.5 30.7))",
        op(
            "s_intersects",
            json!([prop("geom"), {"type": "MultiPoint", "coordinates": [[114.3, 30.55], [114.5, 30.7]]}]),
        ),
        &["b1", "b3"],
    );
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, MULTILINESTRING((114.309 30.56, 114.311 30.56), (114.499 30.7, 114.501 30.7)))",
        op(
            "s_intersects",
            json!([prop("geom"), {"type": "MultiLineString", "coordinates": [[[114.309, 30.56], [114.311, 30.56]], [[114.499, 30.7], [114.501, 30.7]]]}]),
        ),
        &["b2", "b3"],
    );
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, MULTIPOLYGON(((114.29 30.54, 114.305 30.54, 114.305 30.555, 114.29 30.54)), ((114.49 30.69, 114.51 30.69, 114.51 30.71, 114.49 30.69))))",
        op(
            "s_intersects",
            json!([prop("geom"), {"type": "MultiPolygon", "coordinates": [
                [[[114.29, 30.54], [114.305, 30.54], [114.305, 30.555], [114.29, 30.54]]],
                [[[114.49, 30.69], [114.51, 30.69], [114.51, 30.71], [114.49, 30.69]]]
            ]}]),
        ),
        &["b1", "b3"],
    );
    // A polygon with a hole around b1: only b2 intersects it.
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, POLYGON((114.29 30.54, 114.32 30.54, 114.32 30.57, 114.29 30.57, 114.29 30.54), \
         (114.299 30.549, 114.301 30.549, 114.301 30.551, 114.299 30.551, 114.299 30.549)))",
        op(
            "s_intersects",
            json!([prop("geom"), {"type": "Polygon", "coordinates": [
                [[114.29, 30.54], [114.32, 30.54], [114.32, 30.57], [114.29, 30.57], [114.29, 30.54]],
                [[114.299, 30.549], [114.301, 30.549], [114.301, 30.551], [114.299, 30.551], [114.299, 30.549]]
            ]}]),
        ),
        &["b2"],
    );
    // WKT with a Z coordinate: the elevation is ignored.
    check(
        l,
        &fs,
        "S_INTERSECTS(geom, POINT Z (114.3 30.55 12))",
        op(
            "s_intersects",
            json!([prop("geom"), {"type": "Point", "coordinates": [114.3, 30.55, 12]}]),
        ),
        &["b1"],
    );
}

#[test]
fn s_within_and_s_contains() {
    let (l, fs) = (buildings_layer(), buildings());
    check(
        l,
        &fs,
        "S_WITHIN(geom, BBOX(114.29, 30.54, 114.32, 30.57))",
        op("s_within", json!([prop("geom"), bbox()])),
        &["b1", "b2"],
    );
    check(
        l,
        &fs,
        &format!("S_WITHIN(geom, {PARTIAL})"),
        op("s_within", json!([prop("geom"), partial()])),
        &[],
    );
    check(
        l,
        &fs,
        "S_CONTAINS(geom, POINT(114.3 30.55))",
        op("s_contains", json!([prop("geom"), point(114.3, 30.55)])),
        &["b1"],
    );
    // A polygon does not contain a point of its boundary.
    check(
        l,
        &fs,
        "S_CONTAINS(geom, POINT(114.2995 30.55))",
        op("s_contains", json!([prop("geom"), point(114.2995, 30.55)])),
        &[],
    );
    check(
        l,
        &fs,
        &format!("S_CONTAINS(geom, {PARTIAL})"),
        op("s_contains", json!([prop("geom"), partial()])),
        &[],
    );
    check(
        l,
        &fs,
        "S_CONTAINS(geom, POLYGON((114.2998 30.5498, 114.3002 30.5498, 114.3002 30.5502, 114.2998 30.5498)))",
        op(
            "s_contains",
            json!([prop("geom"), {"type": "Polygon", "coordinates": [[[114.2998, 30.5498], [114.3002, 30.5498], [114.3002, 30.5502], [114.2998, 30.5498]]]}]),
        ),
        &["b1"],
    );
    // Literal first: S_WITHIN(literal, geom) means the feature contains the literal, and back.
    check(
        l,
        &fs,
        "S_WITHIN(POINT(114.3 30.55), geom)",
        op("s_within", json!([point(114.3, 30.55), prop("geom")])),
        &["b1"],
    );
    check(
        l,
        &fs,
        "S_CONTAINS(BBOX(114.29, 30.54, 114.32, 30.57), geom)",
        op("s_contains", json!([bbox(), prop("geom")])),
        &["b1", "b2"],
    );
    // Point features within a box.
    let (r, rs) = (reports_layer(), reports());
    check(
        r,
        &rs,
        "S_WITHIN(geom, BBOX(114.29, 30.54, 114.32, 30.57)) AND anonymous IS NULL",
        op(
            "and",
            json!([
                op("s_within", json!([prop("geom"), bbox()])),
                op("isNull", json!([prop("anonymous")]))
            ]),
        ),
        &["r3"],
    );
}

#[test]
fn s_disjoint_never_matches_features_without_geometry() {
    let (l, fs) = (buildings_layer(), buildings());
    check(
        l,
        &fs,
        "S_DISJOINT(geom, BBOX(114.29, 30.54, 114.32, 30.57))",
        op("s_disjoint", json!([prop("geom"), bbox()])),
        &["b3"],
    );
    check(
        l,
        &fs,
        &format!("S_DISJOINT({PARTIAL}, geom)"),
        op("s_disjoint", json!([partial(), prop("geom")])),
        &["b2", "b3"],
    );
    // NOT S_INTERSECTS does include the feature without geometry.
    check(
        l,
        &fs,
        "NOT S_INTERSECTS(geom, BBOX(114.29, 30.54, 114.32, 30.57))",
        op(
            "not",
            json!([op("s_intersects", json!([prop("geom"), bbox()]))]),
        ),
        &["b3", "b4"],
    );
}

/// A building whose west edge is `metres` east of (114.3, 30.55), measured in EPSG:4547.
fn building_east_of_point(metres: f64) -> Feature {
    let gk = GaussKruger::wuhan();
    let p = gk.project(Coord { x: 114.3, y: 30.55 });
    let west = gk.unproject(Coord {
        x: p.x + metres,
        y: p.y,
    });
    Feature::new("near", "generated", at("2024-01-01T00:00:00Z"))
        .with_geometry(rect(west.x, 30.5495, west.x + 0.0005, 30.5505))
        .set("floors", 5_i64)
}

#[test]
fn s_dwithin_measures_metres_in_gauss_kruger() {
    let l = buildings_layer();
    let b = building_east_of_point(450.0);
    // The distance really is about 450 m in the projected CRS.
    let gk = GaussKruger::wuhan();
    let g = gk.project_geometry(b.geometry.as_ref().unwrap());
    let p: geo_types::Geometry<f64> =
        geo_types::Point(gk.project(Coord { x: 114.3, y: 30.55 })).into();
    let d = Euclidean.distance(&g, &p);
    assert!((445.0..455.0).contains(&d), "{d}");
    let fs = vec![b, buildings().remove(2)];
    check(
        l,
        &fs,
        "S_DWITHIN(geom, POINT(114.3 30.55), 500)",
        op("s_dwithin", json!([prop("geom"), point(114.3, 30.55), 500])),
        &["near"],
    );
    check(
        l,
        &fs,
        "S_DWITHIN(geom, POINT(114.3 30.55), 400)",
        op("s_dwithin", json!([prop("geom"), point(114.3, 30.55), 400])),
        &[],
    );
    check(
        l,
        &fs,
        "S_DWITHIN(geom, POINT(114.3 30.55), 455, meters)",
        op(
            "s_dwithin",
            json!([prop("geom"), point(114.3, 30.55), 455, "meters"]),
        ),
        &["near"],
    );
    check(
        l,
        &fs,
        "S_DWITHIN(geom, POINT(114.3 30.55), 445, metres)",
        op(
            "s_dwithin",
            json!([prop("geom"), point(114.3, 30.55), 445, "metres"]),
        ),
        &[],
    );
    check(
        l,
        &fs,
        "S_DWITHIN(POINT(114.3 30.55), geom, 0.5, kilometers)",
        op(
            "s_dwithin",
            json!([point(114.3, 30.55), prop("geom"), 0.5, "kilometers"]),
        ),
        &["near"],
    );
    check(
        l,
        &fs,
        "S_DWITHIN(geom, POINT(114.3 30.55), 0.4, 'km')",
        op(
            "s_dwithin",
            json!([prop("geom"), point(114.3, 30.55), 0.4, "km"]),
        ),
        &[],
    );
    // b3, about 25 km away, is within 30 km.
    check(
        l,
        &fs,
        "S_DWITHIN(geom, POINT(114.3 30.55), 30000)",
        op(
            "s_dwithin",
            json!([prop("geom"), point(114.3, 30.55), 30000]),
        ),
        &["near", "b3"],
    );
    // A polygon literal that contains the feature is at distance 0.
    check(
        l,
        &fs,
        "S_DWITHIN(geom, BBOX(114.29, 30.54, 114.32, 30.57), 0)",
        op("s_dwithin", json!([prop("geom"), bbox(), 0])),
        &["near"],
    );
}

#[test]
fn s_dwithin_envelope_contains_what_can_match() {
    let l = buildings_layer();
    let b = building_east_of_point(450.0);
    let f = text("S_DWITHIN(geom, POINT(114.3 30.55), 500) AND floors > 1", l);
    let e = f.envelope().expect("an envelope");
    let bb = b.geometry.as_ref().unwrap().bounding_rect().unwrap();
    assert!(
        e.min().x <= bb.min().x && bb.min().x <= e.max().x,
        "{e:?} {bb:?}"
    );
    assert!(e.min().x < 114.3 && e.max().x > 114.3 && e.min().y < 30.55 && e.max().y > 30.55);
    // Generous but not wild: 500 m is about 0.0052° of longitude and 0.0045° of latitude here.
    let dx = e.max().x - 114.3;
    let dy = e.max().y - 30.55;
    assert!((0.0052..0.0060).contains(&dx), "{dx}");
    assert!((0.0045..0.0050).contains(&dy), "{dy}");
    // Everything that matches lies in (touches) the envelope: the envelope is an index filter.
    let far = building_east_of_point(520.0);
    assert!(!f.matches(&far));
}

#[test]
fn envelopes_for_index_preselection() {
    let l = buildings_layer();
    let r = |x0, y0, x1, y1| Rect::new(Coord { x: x0, y: y0 }, Coord { x: x1, y: y1 });
    let b = r(114.29, 30.54, 114.32, 30.57);
    assert_eq!(
        text(
            "S_INTERSECTS(geom, BBOX(114.29, 30.54, 114.32, 30.57)) AND floors > 3",
            l
        )
        .envelope(),
        Some(b)
    );
    assert_eq!(
        json(
            &op(
                "and",
                json!([
                    op(">", json!([prop("floors"), 3])),
                    op("s_within", json!([prop("geom"), bbox()]))
                ])
            ),
            l
        )
        .envelope(),
        Some(b)
    );
    // AND: the smallest term's envelope.
    assert_eq!(
        text(
            "S_INTERSECTS(geom, BBOX(114.29, 30.54, 114.32, 30.57)) AND S_CONTAINS(geom, POINT(114.3 30.55))",
            l
        )
        .envelope(),
        Some(r(114.3, 30.55, 114.3, 30.55))
    );
    // OR: the union when every branch has one.
    assert_eq!(
        text(
            "S_INTERSECTS(geom, BBOX(114.29, 30.54, 114.32, 30.57)) OR S_INTERSECTS(geom, POINT(114.5 30.7))",
            l
        )
        .envelope(),
        Some(r(114.29, 30.54, 114.5, 30.7))
    );
    assert_eq!(
        text(
            "S_INTERSECTS(geom, BBOX(114.29, 30.54, 114.32, 30.57)) OR floors > 3",
            l
        )
        .envelope(),
        None
    );
    assert_eq!(text("floors > 3", l).envelope(), None);
    assert_eq!(
        text("NOT S_INTERSECTS(geom, POINT(114.3 30.55))", l).envelope(),
        None
    );
    assert_eq!(
        text("S_DISJOINT(geom, POINT(114.3 30.55))", l).envelope(),
        None
    );
    // Nested: (A OR B) AND floors > 3.
    assert_eq!(
        text(
            "(S_WITHIN(geom, BBOX(114.29, 30.54, 114.32, 30.57)) OR S_WITHIN(geom, BBOX(114.0, 30.0, 114.1, 30.1))) AND floors > 3",
            l
        )
        .envelope(),
        Some(r(114.0, 30.0, 114.32, 30.57))
    );
    // Every feature matching a filter with an envelope intersects the envelope.
    let fs = buildings();
    for q in [
        "S_INTERSECTS(geom, BBOX(114.29, 30.54, 114.32, 30.57))",
        "S_DWITHIN(geom, POINT(114.3 30.55), 30000)",
        "S_CONTAINS(geom, POINT(114.3 30.55)) OR S_WITHIN(geom, BBOX(114.4, 30.6, 114.6, 30.8))",
    ] {
        let f = text(q, l);
        let e = f.envelope().unwrap();
        let matched: Vec<_> = fs.iter().filter(|x| f.matches(x)).collect();
        assert!(!matched.is_empty(), "{q}");
        for m in matched {
            let bb = m.geometry.as_ref().unwrap().bounding_rect().unwrap();
            assert!(
                bb.min().x <= e.max().x
                    && e.min().x <= bb.max().x
                    && bb.min().y <= e.max().y
                    && e.min().y <= bb.max().y,
                "{q}: {} outside {e:?}",
                m.id
            );
        }
    }
}

#[test]
fn spatial_predicates_survive_odd_feature_geometries() {
    let l = buildings_layer();
    let f = text(
        "S_DWITHIN(geom, POINT(114.3 30.55), 1000) OR S_CONTAINS(geom, POINT(114.3 30.55))",
        l,
    );
    // A continental-scale polygon, non-finite coordinates, a self-intersecting bow tie.
    let huge = Feature::new("huge", "generated", at("2024-01-01T00:00:00Z"))
        .with_geometry(rect(-170.0, -80.0, 170.0, 80.0));
    let nan = Feature::new("nan", "generated", at("2024-01-01T00:00:00Z"))
        .with_geometry(geo_types::Point::new(f64::NAN, 30.55));
    let bow = Feature::new("bow", "generated", at("2024-01-01T00:00:00Z")).with_geometry(
        geo_types::Polygon::new(
            vec![
                (114.29, 30.54),
                (114.31, 30.56),
                (114.31, 30.54),
                (114.29, 30.56),
                (114.29, 30.54),
            ]
            .into(),
            vec![],
        ),
    );
    assert!(f.matches(&huge));
    assert!(!f.matches(&nan));
    assert!(f.matches(&bow));
}
