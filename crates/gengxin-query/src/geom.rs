//! Geometry literals: checks shared by the front ends, and the precomputed `S_DWITHIN` test.

use gengxin_engine::crs::GaussKruger;
use geo::{BoundingRect, Centroid, CoordsIter, Distance, Euclidean, Intersects, Rect};
use geo_types::{Coord, Geometry};

use crate::Limits;
use crate::plan::{Node, Problem, Side, Spatial, SpatialOp};

/// Checks one coordinate: finite and within lon/lat range.
pub(crate) fn check_coord(x: f64, y: f64) -> Result<Coord<f64>, Problem> {
    if !x.is_finite() || !y.is_finite() {
        return Err(Problem::semantic("a coordinate is not a finite number"));
    }
    if !(-180.0..=180.0).contains(&x) || !(-90.0..=90.0).contains(&y) {
        return Err(Problem::semantic(format!(
            "coordinate ({x} {y}) is outside the lon/lat range (longitude -180..180, latitude -90..90); \
             geometries in filters are lon/lat (EPSG:4490, CRS84 or EPSG:4326), longitude first"
        )));
    }
    Ok(Coord { x, y })
}

/// Checks a polygon ring: at least 4 points, the last equal to the first.
pub(crate) fn check_ring(ring: &[Coord<f64>]) -> Result<(), Problem> {
    if ring.len() < 4 {
        return Err(Problem::semantic(format!(
            "a polygon ring has {} point(s); a ring needs at least 4, the last equal to the first",
            ring.len()
        )));
    }
    let (first, last) = (ring[0], ring[ring.len() - 1]);
    if first != last {
        return Err(Problem::semantic(format!(
            "a polygon ring is not closed: it starts at ({} {}) and ends at ({} {}); repeat the first point at the end",
            first.x, first.y, last.x, last.y
        )));
    }
    Ok(())
}

/// Checks a line: at least 2 points.
pub(crate) fn check_line(line: &[Coord<f64>]) -> Result<(), Problem> {
    if line.len() < 2 {
        return Err(Problem::semantic(format!(
            "a line has {} point(s); a line needs at least 2",
            line.len()
        )));
    }
    Ok(())
}

/// A `BBOX(minx, miny, maxx, maxy)` (or with elevations: 6 numbers, elevations ignored).
pub(crate) fn bbox(nums: &[f64]) -> Result<Geometry<f64>, Problem> {
    let (minx, miny, maxx, maxy) = match *nums {
        [a, b, c, d] => (a, b, c, d),
        [a, b, _, d, e, _] => (a, b, d, e),
        _ => {
            return Err(Problem::semantic(format!(
                "a bbox has 4 numbers (minx, miny, maxx, maxy) or 6 (with elevations); found {}",
                nums.len()
            )));
        }
    };
    let min = check_coord(minx, miny)?;
    let max = check_coord(maxx, maxy)?;
    if min.x > max.x || min.y > max.y {
        return Err(Problem::semantic(format!(
            "a bbox is minx, miny, maxx, maxy with min <= max; found ({minx}, {miny}, {maxx}, {maxy}) \
             (boxes across the antimeridian are not supported)"
        )));
    }
    Ok(Geometry::Rect(Rect::new(min, max)))
}

/// Metres per unit of an `S_DWITHIN` distance unit.
pub(crate) fn unit_factor(unit: &str) -> Result<f64, Problem> {
    match unit.to_ascii_lowercase().as_str() {
        "m" | "meter" | "meters" | "metre" | "metres" => Ok(1.0),
        "km" | "kilometer" | "kilometers" | "kilometre" | "kilometres" => Ok(1000.0),
        _ => Err(Problem::semantic(format!(
            "unknown distance unit {unit:?}; use meters (metres, the default) or kilometers"
        ))),
    }
}

/// Checks an `S_DWITHIN` distance (already in metres).
pub(crate) fn check_distance(d: f64, limits: &Limits) -> Result<f64, Problem> {
    if !d.is_finite() || d < 0.0 {
        return Err(Problem::semantic(format!(
            "the S_DWITHIN distance must be a finite number of metres, 0 or more; found {d}"
        )));
    }
    if d > limits.max_distance_m {
        return Err(Problem::expensive(format!(
            "the S_DWITHIN distance is {d} m; the limit is {} m (max_distance_m)",
            limits.max_distance_m
        )));
    }
    Ok(d)
}

/// The spatial predicate "feature `op` literal", with everything precomputed.
pub(crate) fn spatial(
    op: SpatialOp,
    literal: Geometry<f64>,
    distance_m: f64,
) -> Result<Spatial, Problem> {
    let bbox = literal
        .bounding_rect()
        .ok_or_else(|| Problem::semantic("empty geometries are not supported"))?;
    let dwithin = if op == SpatialOp::DWithin {
        Some(DWithin::new(&literal, bbox, distance_m)?)
    } else {
        None
    };
    Ok(Spatial {
        op,
        literal,
        bbox,
        dwithin,
    })
}

/// One argument of a spatial predicate as the front ends read it.
pub(crate) enum SpatialArg {
    /// The geometry property (`geom`).
    Geom,
    /// A geometry literal.
    Lit(Geometry<f64>),
}

/// `op(a, b)`: one argument must be the geometry property, the other a literal. Errors blame
/// [`Side::Left`] (`a`) or [`Side::Right`] (`b`).
pub(crate) fn spatial_node(
    op: SpatialOp,
    a: SpatialArg,
    b: SpatialArg,
    distance_m: f64,
) -> Result<Node, (Problem, Side)> {
    let (op, literal, side) = match (a, b) {
        (SpatialArg::Geom, SpatialArg::Lit(g)) => (op, g, Side::Right(0)),
        (SpatialArg::Lit(g), SpatialArg::Geom) => (op.swapped(), g, Side::Left),
        (SpatialArg::Geom, SpatialArg::Geom) => {
            return Err((
                Problem::semantic(
                    "a spatial predicate compares the geometry `geom` with a geometry literal; found `geom` twice",
                ),
                Side::Right(0),
            ));
        }
        (SpatialArg::Lit(_), SpatialArg::Lit(_)) => {
            return Err((
                Problem::semantic(
                    "a spatial predicate needs the geometry property `geom` as one argument; found two literals",
                ),
                Side::Left,
            ));
        }
    };
    spatial(op, literal, distance_m)
        .map(|s| Node::Spatial(Box::new(s)))
        .map_err(|p| (p, side))
}

/// Features farther than this many degrees of longitude from the zone's central meridian are not
/// projected (transverse Mercator degrades and finally fails towards 90°).
const PROJECTABLE_DEG: f64 = 60.0;
/// A literal must lie this close to its zone's central meridian.
const LITERAL_DEG: f64 = 30.0;

/// `S_DWITHIN`: the literal projected into a Gauss–Krüger zone, the distance, and the literal's
/// envelope grown by the distance (lon/lat).
pub(crate) struct DWithin {
    cm: u16,
    gk: GaussKruger,
    projected: Geometry<f64>,
    pub distance_m: f64,
    pub envelope: Rect<f64>,
    /// For a literal of city size: its plane approximation around its centre, to settle most
    /// features without projecting them (see [`DWithin::matches`]).
    local: Option<Local>,
}

/// An equirectangular plane around a point: metres per degree of longitude and latitude there.
#[derive(Clone)]
struct Local {
    origin: Coord,
    kx: f64,
    ky: f64,
    literal: Geometry<f64>,
}

/// The plane approximation is used within this many degrees of its origin, where it differs from
/// Gauss–Krüger distances by well under 1 % (the cosine of latitude changes by < 0.5 % over
/// 0.5°, the ellipsoid's degree lengths are taken at the origin, and the zone's scale factor
/// stays within 1.0001 near the city); distances within [`LOCAL_MARGIN`] of the threshold are
/// measured exactly.
const LOCAL_DEG: f64 = 0.5;
const LOCAL_MARGIN: f64 = 0.02;

impl Local {
    fn new(literal: &Geometry<f64>, bbox: Rect<f64>) -> Option<Local> {
        let origin = bbox.center();
        if bbox.width() > LOCAL_DEG || bbox.height() > LOCAL_DEG || origin.y.abs() > 70.0 {
            return None;
        }
        // CGCS2000 / GRS80: radii of curvature at the origin's latitude.
        let (a, e2) = (6_378_137.0_f64, 0.006_694_380_022_900_787_f64);
        let phi = origin.y.to_radians();
        let w = (1.0 - e2 * phi.sin().powi(2)).sqrt();
        let n = a / w;
        let m = a * (1.0 - e2) / w.powi(3);
        let mut l = Local {
            origin,
            kx: n * phi.cos() * std::f64::consts::PI / 180.0,
            ky: m * std::f64::consts::PI / 180.0,
            literal: literal.clone(),
        };
        l.literal = l.plane(literal);
        Some(l)
    }

    fn plane(&self, g: &Geometry<f64>) -> Geometry<f64> {
        use geo::MapCoords;
        g.map_coords(|c| Coord {
            x: (c.x - self.origin.x) * self.kx,
            y: (c.y - self.origin.y) * self.ky,
        })
    }

    fn near(&self, r: &Rect<f64>) -> bool {
        (r.min().x - self.origin.x).abs() < LOCAL_DEG
            && (r.max().x - self.origin.x).abs() < LOCAL_DEG
            && (r.min().y - self.origin.y).abs() < LOCAL_DEG
            && (r.max().y - self.origin.y).abs() < LOCAL_DEG
    }
}

impl Clone for DWithin {
    fn clone(&self) -> Self {
        DWithin {
            cm: self.cm,
            gk: GaussKruger::with_central_meridian(self.cm).expect("checked when first built"),
            projected: self.projected.clone(),
            distance_m: self.distance_m,
            envelope: self.envelope,
            local: self.local.clone(),
        }
    }
}

impl std::fmt::Debug for DWithin {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DWithin")
            .field("central_meridian", &self.cm)
            .field("distance_m", &self.distance_m)
            .field("envelope", &self.envelope)
            .finish()
    }
}

/// The central meridian of the CGCS2000 3° zone for a longitude, clamped to the zones of China.
pub(crate) fn central_meridian(lon: f64) -> u16 {
    ((lon / 3.0).round() * 3.0).clamp(75.0, 135.0) as u16
}

impl DWithin {
    fn new(literal: &Geometry<f64>, bbox: Rect<f64>, d: f64) -> Result<DWithin, Problem> {
        let centre = literal
            .centroid()
            .map(|p| p.0)
            .unwrap_or_else(|| bbox.center());
        let cm = central_meridian(centre.x);
        let far = literal
            .coords_iter()
            .any(|c| (c.x - f64::from(cm)).abs() > LITERAL_DEG);
        if far {
            return Err(Problem::semantic(format!(
                "S_DWITHIN measures metres in a CGCS2000 Gauss–Krüger zone (central meridians 75°E–135°E); \
                 its geometry must lie within {LITERAL_DEG}° of longitude of the zone's central meridian {cm}°E"
            )));
        }
        let gk =
            GaussKruger::with_central_meridian(cm).map_err(|e| Problem::semantic(e.to_string()))?;
        let projected = gk.project_geometry(literal);
        Ok(DWithin {
            cm,
            gk,
            projected,
            distance_m: d,
            envelope: grow(bbox, d),
            local: Local::new(literal, bbox),
        })
    }

    /// Whether feature geometry `g` (envelope `fb`) lies within the distance.
    pub fn matches(&self, g: &Geometry<f64>, fb: &Rect<f64>) -> bool {
        let e = &self.envelope;
        if fb.max().x < e.min().x
            || e.max().x < fb.min().x
            || fb.max().y < e.min().y
            || e.max().y < fb.min().y
        {
            return false;
        }
        let cm = f64::from(self.cm);
        let projectable = (fb.min().x - cm).abs() <= PROJECTABLE_DEG
            && (fb.max().x - cm).abs() <= PROJECTABLE_DEG
            && fb.min().y >= -85.0
            && fb.max().y <= 85.0;
        if !projectable {
            // A continental-scale feature (not city data): approximate by the grown envelope.
            return g.intersects(&self.envelope);
        }
        if let Some(l) = self.local.as_ref().filter(|l| l.near(fb)) {
            let approx = Euclidean.distance(&l.plane(g), &l.literal);
            if approx <= self.distance_m * (1.0 - LOCAL_MARGIN) {
                return true;
            }
            if approx >= self.distance_m * (1.0 + LOCAL_MARGIN) {
                return false;
            }
        }
        let pg = self.gk.project_geometry(g);
        Euclidean.distance(&pg, &self.projected) <= self.distance_m
    }
}

/// Grows a lon/lat envelope by `d` metres, generously: degrees of latitude are at least 110,574 m
/// and degrees of longitude at least 111,320 m × cos(latitude) on the ellipsoid, and Gauss–Krüger
/// distances are never shorter than true ones; 5 % more for good measure.
fn grow(r: Rect<f64>, d: f64) -> Rect<f64> {
    let dlat = d / 110_574.0 * 1.05 + 1e-9;
    let max_lat = (r.min().y.abs().max(r.max().y.abs()) + dlat).min(89.0);
    let dlon = d / (111_320.0 * max_lat.to_radians().cos()) * 1.05 + 1e-9;
    Rect::new(
        Coord {
            x: (r.min().x - dlon).max(-180.0),
            y: (r.min().y - dlat).max(-90.0),
        },
        Coord {
            x: (r.max().x + dlon).min(180.0),
            y: (r.max().y + dlat).min(90.0),
        },
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo_types::Point;

    /// The plane shortcut decides exactly as the projection does.
    #[test]
    fn the_plane_shortcut_agrees_with_gauss_kruger() {
        let gk = GaussKruger::wuhan();
        let mut seed = 12345u64;
        let mut next = move || {
            seed = seed
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            (seed >> 11) as f64 / (1u64 << 53) as f64
        };
        let mut shortcut = 0;
        for _ in 0..2000 {
            let centre = Coord {
                x: 114.0 + next() * 0.6,
                y: 30.3 + next() * 0.5,
            };
            let literal = Geometry::Point(Point(centre));
            let d = 50.0 + next() * 3000.0;
            let dw = DWithin::new(&literal, Rect::new(centre, centre), d).unwrap();
            let h = 0.0005;
            let (x, y) = (
                centre.x + (next() - 0.5) * 0.08,
                centre.y + (next() - 0.5) * 0.08,
            );
            let square: Geometry<f64> =
                geo::Rect::new(Coord { x, y }, Coord { x: x + h, y: y + h })
                    .to_polygon()
                    .into();
            let fb = square.bounding_rect().unwrap();
            let exact_m = Euclidean.distance(
                &gk.project_geometry(&square),
                &gk.project_geometry(&literal),
            );
            let exact = exact_m <= d;
            assert_eq!(dw.matches(&square, &fb), exact, "{centre:?} {d} {x} {y}");
            let l = dw.local.as_ref().unwrap();
            let approx = Euclidean.distance(&l.plane(&square), &l.literal);
            assert!(
                (approx - exact_m).abs() <= exact_m * 0.005 + 0.01,
                "{approx} vs {exact_m}"
            );
            if (approx - d).abs() > d * LOCAL_MARGIN {
                shortcut += 1;
            }
        }
        assert!(
            shortcut > 1800,
            "the shortcut decided only {shortcut} of 2000"
        );
    }

    #[test]
    fn zones_round_and_clamp() {
        assert_eq!(central_meridian(114.3), 114);
        assert_eq!(central_meridian(115.6), 117);
        assert_eq!(central_meridian(10.0), 75);
        assert_eq!(central_meridian(170.0), 135);
    }

    #[test]
    fn grown_envelope_holds_the_distance() {
        let p = Point::new(114.3, 30.55);
        let r = grow(Rect::new(p.0, p.0), 1000.0);
        let gk = GaussKruger::wuhan();
        let c = gk.project(p.0);
        // The edges of the grown box are farther than 1000 m from the point, but not much.
        for edge in [
            Coord {
                x: r.min().x,
                y: 30.55,
            },
            Coord {
                x: r.max().x,
                y: 30.55,
            },
            Coord {
                x: 114.3,
                y: r.min().y,
            },
            Coord {
                x: 114.3,
                y: r.max().y,
            },
        ] {
            let e = gk.project(edge);
            let d = ((e.x - c.x).powi(2) + (e.y - c.y).powi(2)).sqrt();
            assert!((1000.0..1100.0).contains(&d), "{d}");
        }
    }

    #[test]
    fn rings_and_boxes_are_checked() {
        let c = |x, y| Coord { x, y };
        assert!(check_ring(&[c(0., 0.), c(1., 0.), c(1., 1.)]).is_err());
        let e = check_ring(&[c(0., 0.), c(1., 0.), c(1., 1.), c(0., 1.)]).unwrap_err();
        assert!(e.message.contains("not closed"), "{e:?}");
        assert!(check_ring(&[c(0., 0.), c(1., 0.), c(1., 1.), c(0., 0.)]).is_ok());
        assert!(bbox(&[114.0, 30.0, 115.0, 31.0]).is_ok());
        assert!(bbox(&[115.0, 30.0, 114.0, 31.0]).is_err());
        assert!(bbox(&[114.0, 30.0, 0.0, 115.0, 31.0, 0.0]).is_ok());
        assert!(check_coord(30.5, 114.3).is_err());
        assert!(unit_factor("Kilometers").unwrap() == 1000.0);
        assert!(unit_factor("feet").is_err());
    }
}
