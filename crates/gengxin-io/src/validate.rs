//! Geometry validation of imported features, with optional repair.
//!
//! Each feature gets a list of problems: NaN or infinite coordinates, coordinates outside lon/lat
//! after reprojection (usually a wrong `--crs`), too many coordinates, the wrong geometry type for
//! the layer, rings that were not closed in the source, rings or lines with too few points,
//! self-intersections and the other OGC validity rules (via `geo`'s `Validation`). With repair,
//! what can be made valid is (rings closed, degenerate parts dropped, polygons re-noded by a
//! union); what cannot is skipped.

use gengxin_model::GeometryType;
use geo::{BooleanOps, CoordsIter, Validation};
use geo_types::{Geometry, LineString, MultiLineString, MultiPolygon, Polygon};

/// The result of checking one geometry.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Valid(Geometry<f64>),
    /// Made valid; the problems that were fixed.
    Repaired(Geometry<f64>, Vec<String>),
    /// Not stored; why.
    Invalid(Vec<String>),
}

/// Checks (and with `repair`, fixes) a geometry in EPSG:4490 for a layer of geometry type
/// `want`. `read_problems` are problems the reader saw that the geometry no longer shows (an
/// unclosed ring is closed by the time it is a `geo` polygon).
pub fn check(
    g: Geometry<f64>,
    want: GeometryType,
    read_problems: &[String],
    repair: bool,
    max_coords: usize,
) -> Outcome {
    let mut fatal = Vec::new();
    let n = g.coords_count();
    if n > max_coords {
        return Outcome::Invalid(vec![format!(
            "{n} coordinates, more than the limit of {max_coords}"
        )]);
    }
    if g.coords_iter()
        .any(|c| !c.x.is_finite() || !c.y.is_finite())
    {
        return Outcome::Invalid(vec!["NaN or infinite coordinate".into()]);
    }
    if let Some(c) = g
        .coords_iter()
        .find(|c| !(-180.0..=180.0).contains(&c.x) || !(-90.0..=90.0).contains(&c.y))
    {
        return Outcome::Invalid(vec![format!(
            "coordinate ({}, {}) is outside longitude/latitude after reprojection: is --crs right?",
            c.x, c.y
        )]);
    }
    let g = match normalise(want, g) {
        Ok(g) => g,
        Err(e) => return Outcome::Invalid(vec![e]),
    };
    let mut problems: Vec<String> = read_problems.to_vec();
    let g = match g {
        Geometry::MultiPolygon(mp) => {
            let mut parts = Vec::new();
            for p in mp {
                let (ext, ints) = p.into_inner();
                if distinct(&ext) < 3 {
                    problems.push("polygon ring with fewer than 3 distinct points".into());
                    continue;
                }
                let keep: Vec<LineString> = ints
                    .into_iter()
                    .filter(|r| {
                        let ok = distinct(r) >= 3;
                        if !ok {
                            problems.push("hole with fewer than 3 distinct points".into());
                        }
                        ok
                    })
                    .collect();
                parts.push(Polygon::new(ext, keep));
            }
            if parts.is_empty() {
                fatal.push("no polygon with at least 3 distinct points".into());
            }
            let mp = MultiPolygon(parts);
            for e in mp.validation_errors() {
                let e = e.to_string();
                if !problems.contains(&e) {
                    problems.push(e);
                }
            }
            Geometry::MultiPolygon(mp)
        }
        Geometry::MultiLineString(ml) => {
            let before = ml.0.len();
            let lines: Vec<LineString> = ml.0.into_iter().filter(|l| distinct(l) >= 2).collect();
            if lines.len() < before {
                problems.push("line with fewer than 2 distinct points".into());
            }
            if lines.is_empty() {
                fatal.push("no line with at least 2 distinct points".into());
            }
            Geometry::MultiLineString(MultiLineString(lines))
        }
        other => other,
    };
    if !fatal.is_empty() {
        problems.extend(fatal);
        return Outcome::Invalid(problems);
    }
    if problems.is_empty() {
        return Outcome::Valid(g);
    }
    if !repair {
        return Outcome::Invalid(problems);
    }
    let fixed = match g {
        Geometry::MultiPolygon(mp) if !mp.is_valid() => {
            // Re-noding by a union resolves self-intersections and overlapping parts.
            let u = MultiPolygon::new(vec![]).union(&mp);
            if u.0.is_empty() || !u.is_valid() {
                problems.push("could not be repaired".into());
                return Outcome::Invalid(problems);
            }
            Geometry::MultiPolygon(u)
        }
        other => other,
    };
    Outcome::Repaired(fixed, problems)
}

fn distinct(l: &LineString) -> usize {
    let mut n = 0;
    let mut last = None;
    for c in &l.0 {
        if last != Some(*c) {
            n += 1;
        }
        last = Some(*c);
    }
    if l.0.len() > 1 && l.0.first() == l.0.last() {
        n -= 1;
    }
    n
}

fn normalise(want: GeometryType, g: Geometry<f64>) -> Result<Geometry<f64>, String> {
    let got = gengxin_model::geometry_name(&g);
    Ok(match (want, g) {
        (GeometryType::Point, g @ Geometry::Point(_)) => g,
        (GeometryType::Point, Geometry::MultiPoint(mp)) if mp.0.len() == 1 => mp.0[0].into(),
        (GeometryType::MultiPolygon | GeometryType::Any, Geometry::Polygon(p)) => {
            MultiPolygon(vec![p]).into()
        }
        (GeometryType::MultiPolygon | GeometryType::Any, g @ Geometry::MultiPolygon(_)) => g,
        (GeometryType::MultiLineString | GeometryType::Any, Geometry::LineString(l)) => {
            MultiLineString(vec![l]).into()
        }
        (GeometryType::MultiLineString | GeometryType::Any, g @ Geometry::MultiLineString(_)) => g,
        (GeometryType::Any, g @ (Geometry::Point(_) | Geometry::MultiPoint(_))) => g,
        (want, _) => {
            return Err(format!(
                "wrong geometry type: the layer holds {}, the feature is {got}",
                want.ogc_name()
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::{coord, polygon};

    #[test]
    fn a_bowtie_is_reported_and_repaired() {
        let bowtie: Geometry<f64> = polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0), (x: 1.0, y: 0.0), (x: 0.0, y: 1.0), (x: 0.0, y: 0.0)].into();
        let Outcome::Invalid(p) =
            check(bowtie.clone(), GeometryType::MultiPolygon, &[], false, 100)
        else {
            panic!("a bowtie is invalid")
        };
        assert!(p.iter().any(|p| p.contains("self-intersection")), "{p:?}");
        let Outcome::Repaired(g, _) = check(bowtie, GeometryType::MultiPolygon, &[], true, 100)
        else {
            panic!("a bowtie can be repaired")
        };
        assert!(g.is_valid());
        assert!(g.coords_count() > 0);
    }

    #[test]
    fn problems_that_cannot_be_repaired_are_listed() {
        let nan: Geometry<f64> = geo_types::Point::new(f64::NAN, 1.0).into();
        assert!(
            matches!(check(nan, GeometryType::Point, &[], true, 100), Outcome::Invalid(p) if p[0].contains("NaN"))
        );
        let far: Geometry<f64> = geo_types::Point::new(12_000_000.0, 3_000_000.0).into();
        assert!(
            matches!(check(far, GeometryType::Point, &[], true, 100), Outcome::Invalid(p) if p[0].contains("--crs"))
        );
        let line: Geometry<f64> =
            LineString(vec![coord! {x: 1.0, y: 1.0}, coord! {x: 2.0, y: 2.0}]).into();
        assert!(
            matches!(check(line, GeometryType::Point, &[], true, 100), Outcome::Invalid(p) if p[0].contains("wrong geometry type"))
        );
        let flat: Geometry<f64> =
            polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)].into();
        assert!(matches!(
            check(flat, GeometryType::MultiPolygon, &[], true, 100),
            Outcome::Invalid(_)
        ));
        let big: Geometry<f64> = LineString(
            (0..200)
                .map(|i| coord! {x: i as f64 * 1e-3, y: 0.0})
                .collect(),
        )
        .into();
        assert!(
            matches!(check(big, GeometryType::MultiLineString, &[], true, 100), Outcome::Invalid(p) if p[0].contains("limit"))
        );
    }

    #[test]
    fn an_unclosed_ring_seen_by_the_reader_is_repaired_or_refused() {
        let square: Geometry<f64> =
            polygon![(x: 0.0, y: 0.0), (x: 1.0, y: 0.0), (x: 1.0, y: 1.0), (x: 0.0, y: 0.0)].into();
        let seen = vec!["unclosed ring".to_owned()];
        assert!(
            matches!(check(square.clone(), GeometryType::MultiPolygon, &seen, false, 100), Outcome::Invalid(p) if p == seen)
        );
        assert!(
            matches!(check(square, GeometryType::MultiPolygon, &seen, true, 100), Outcome::Repaired(_, p) if p == seen)
        );
    }
}
