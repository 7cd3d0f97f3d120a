//! Geometry for vector tiles: the Web Mercator tile grid, and a geometry cut to one tile.
//!
//! This is where stored lon/lat (EPSG:4490, treated as WGS 84 for display: the two differ by
//! well under a metre, far below a pixel) becomes Web Mercator tile coordinates. [`to_tile`]
//! projects a geometry into the integer grid of one tile (`EXTENT` units a side, y down), clips it
//! to the tile plus a `BUFFER` so that strokes and labels join across tile edges, simplifies it
//! to a quarter of a display pixel (Ramer–Douglas–Peucker), snaps it to the grid and orients
//! polygon rings as the Mapbox Vector Tile specification wants (exterior rings of positive area
//! in tile coordinates, holes negative). Encoding the tile is the HTTP crate's business.

use std::f64::consts::PI;

use geo::orient::Direction;
use geo::{
    Area, BooleanOps, BoundingRect, Coord, Geometry, LineString, MultiLineString, MultiPoint,
    MultiPolygon, Orient, Point, Polygon, Rect, Simplify,
};

/// Tile coordinate units per tile side.
pub const EXTENT: u32 = 4096;
/// Tile units kept beyond each edge (64 of 4096: 8 display pixels of a 512-pixel tile).
pub const BUFFER: f64 = 64.0;
/// The deepest zoom tiles are cut for; maps over-zoom beyond it.
pub const MAX_ZOOM: u8 = 16;
/// Web Mercator's latitude limit.
const MAX_LAT: f64 = 85.051_128_779_806_59;

/// One tile of the XYZ grid (y from the north).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct TileId {
    pub z: u8,
    pub x: u32,
    pub y: u32,
}

impl TileId {
    /// The tile, if it exists at that zoom (`z` ≤ 24, `x`, `y` < 2^z).
    pub fn new(z: u8, x: u32, y: u32) -> Option<TileId> {
        (z <= 24 && x < (1 << z) && y < (1 << z)).then_some(TileId { z, x, y })
    }

    /// The tile's lon/lat bounds `[west, south, east, north]`, widened by `buffer` tile units
    /// on each side (0 for the tile itself).
    pub fn bounds(&self, buffer: f64) -> [f64; 4] {
        let e = EXTENT as f64;
        let (x, y) = (self.x as f64 * e, self.y as f64 * e);
        let n = (1u64 << self.z) as f64 * e;
        let lon = |px: f64| px / n * 360.0 - 180.0;
        let lat = |py: f64| (PI * (1.0 - 2.0 * py / n)).sinh().atan().to_degrees();
        [
            lon(x - buffer),
            lat((y + e + buffer).min(n)),
            lon(x + e + buffer),
            lat((y - buffer).max(0.0)),
        ]
    }

    /// The tile containing a lon/lat point at zoom `z`.
    pub fn containing(lon: f64, lat: f64, z: u8) -> TileId {
        let n = (1u64 << z) as f64;
        let c = project(lon, lat, z, 0.0, 0.0, 1.0);
        let clamp = |v: f64| (v.floor().max(0.0) as u32).min(n as u32 - 1);
        TileId {
            z,
            x: clamp(c.x),
            y: clamp(c.y),
        }
    }
}

/// A lon/lat point in Web Mercator units of `scale` per tile at zoom `z`, less an origin.
fn project(lon: f64, lat: f64, z: u8, ox: f64, oy: f64, scale: f64) -> Coord {
    let n = (1u64 << z) as f64 * scale;
    let lat = lat.clamp(-MAX_LAT, MAX_LAT).to_radians();
    Coord {
        x: (lon + 180.0) / 360.0 * n - ox,
        y: (1.0 - lat.tan().asinh() / PI) / 2.0 * n - oy,
    }
}

/// A geometry in the integer grid of `tile`, clipped, simplified and oriented (see the module
/// docs); `None` when nothing of it is left in the tile. Points become a (multi)point, lines a
/// multilinestring, polygons a multipolygon.
pub fn to_tile(geometry: &Geometry, tile: TileId) -> Option<Geometry> {
    let e = EXTENT as f64;
    let (ox, oy) = (tile.x as f64 * e, tile.y as f64 * e);
    let mut g = geometry.clone();
    geo::MapCoordsInPlace::map_coords_in_place(&mut g, |c| project(c.x, c.y, tile.z, ox, oy, e));
    let clip = Rect::new(
        Coord {
            x: -BUFFER,
            y: -BUFFER,
        },
        Coord {
            x: e + BUFFER,
            y: e + BUFFER,
        },
    );
    let bbox = g.bounding_rect()?;
    if bbox.min().x > clip.max().x
        || bbox.max().x < clip.min().x
        || bbox.min().y > clip.max().y
        || bbox.max().y < clip.min().y
    {
        return None;
    }
    let inside = bbox.min().x >= clip.min().x
        && bbox.max().x <= clip.max().x
        && bbox.min().y >= clip.min().y
        && bbox.max().y <= clip.max().y;
    // A quarter of a display pixel (4096 units on 512 pixels); finer at the deepest zoom,
    // which maps over-zoom.
    let epsilon = if tile.z >= MAX_ZOOM { 1.0 } else { 2.0 };
    match g {
        Geometry::Point(p) => points(vec![p], &clip),
        Geometry::MultiPoint(mp) => points(mp.0, &clip),
        Geometry::LineString(l) => lines(MultiLineString::new(vec![l]), &clip, inside, epsilon),
        Geometry::MultiLineString(ml) => lines(ml, &clip, inside, epsilon),
        Geometry::Polygon(p) => polygons(MultiPolygon::new(vec![p]), &clip, inside, epsilon),
        Geometry::MultiPolygon(mp) => polygons(mp, &clip, inside, epsilon),
        Geometry::Rect(r) => polygons(
            MultiPolygon::new(vec![r.to_polygon()]),
            &clip,
            inside,
            epsilon,
        ),
        Geometry::Triangle(t) => polygons(
            MultiPolygon::new(vec![t.to_polygon()]),
            &clip,
            inside,
            epsilon,
        ),
        Geometry::Line(l) => lines(MultiLineString::new(vec![l.into()]), &clip, inside, epsilon),
        Geometry::GeometryCollection(gc) => {
            // Tiles hold one geometry type per feature: keep the collection's polygons, else its
            // lines, else its points.
            let mut polys = Vec::new();
            let mut ls = Vec::new();
            let mut ps = Vec::new();
            for g in gc.0 {
                match g {
                    Geometry::Polygon(p) => polys.push(p),
                    Geometry::MultiPolygon(mp) => polys.extend(mp.0),
                    Geometry::LineString(l) => ls.push(l),
                    Geometry::MultiLineString(ml) => ls.extend(ml.0),
                    Geometry::Point(p) => ps.push(p),
                    Geometry::MultiPoint(mp) => ps.extend(mp.0),
                    _ => {}
                }
            }
            if !polys.is_empty() {
                polygons(MultiPolygon::new(polys), &clip, false, epsilon)
            } else if !ls.is_empty() {
                lines(MultiLineString::new(ls), &clip, false, epsilon)
            } else {
                points(ps, &clip)
            }
        }
    }
}

fn snap(c: Coord) -> Coord {
    Coord {
        x: c.x.round(),
        y: c.y.round(),
    }
}

/// The ring's coordinates snapped to the grid, with repeats dropped.
fn snapped(l: &LineString) -> LineString {
    let mut out: Vec<Coord> = Vec::with_capacity(l.0.len());
    for c in l.coords().map(|c| snap(*c)) {
        if out.last() != Some(&c) {
            out.push(c);
        }
    }
    LineString::new(out)
}

fn points(ps: Vec<Point>, clip: &Rect) -> Option<Geometry> {
    let kept: Vec<Point> = ps
        .into_iter()
        .filter(|p| {
            (clip.min().x..=clip.max().x).contains(&p.x())
                && (clip.min().y..=clip.max().y).contains(&p.y())
        })
        .map(|p| Point(snap(p.0)))
        .collect();
    match kept.len() {
        0 => None,
        1 => Some(Geometry::Point(kept[0])),
        _ => Some(Geometry::MultiPoint(MultiPoint::new(kept))),
    }
}

fn lines(ml: MultiLineString, clip: &Rect, inside: bool, epsilon: f64) -> Option<Geometry> {
    let ml = if inside {
        ml
    } else {
        clip.to_polygon().clip(&ml, false)
    };
    let kept: Vec<LineString> = ml
        .simplify(epsilon)
        .0
        .iter()
        .map(snapped)
        .filter(|l| l.0.len() >= 2)
        .collect();
    (!kept.is_empty()).then(|| Geometry::MultiLineString(MultiLineString::new(kept)))
}

fn polygons(mp: MultiPolygon, clip: &Rect, inside: bool, epsilon: f64) -> Option<Geometry> {
    let mp = if inside {
        mp
    } else {
        mp.intersection(&clip.to_polygon())
    };
    // A ring is kept when it still encloses some area after snapping.
    let ring = |l: &LineString| {
        let l = snapped(l);
        (l.0.len() >= 4 && Polygon::new(l.clone(), vec![]).unsigned_area() >= 1.0).then_some(l)
    };
    let kept: Vec<Polygon> = mp
        .simplify(epsilon)
        .0
        .iter()
        .filter_map(|p| {
            let exterior = ring(p.exterior())?;
            Some(Polygon::new(
                exterior,
                p.interiors().iter().filter_map(ring).collect(),
            ))
        })
        .collect();
    // In tile coordinates (y down) geo's default orientation — exterior counter-clockwise by
    // the surveyor's formula, i.e. positive area — is exactly what the MVT spec asks for.
    (!kept.is_empty())
        .then(|| Geometry::MultiPolygon(MultiPolygon::new(kept).orient(Direction::Default)))
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::{Contains, polygon, wkt};

    #[test]
    fn tile_ids_are_checked_and_bounds_match_the_known_grid() {
        assert!(TileId::new(0, 0, 0).is_some());
        assert!(TileId::new(1, 2, 0).is_none());
        assert!(TileId::new(25, 0, 0).is_none());
        // Wuhan (114.3, 30.6) is in z10 tile 837/420 (as every XYZ map service numbers it).
        assert_eq!(
            TileId::containing(114.3, 30.6, 10),
            TileId {
                z: 10,
                x: 837,
                y: 420
            }
        );
        let [w, s, e, n] = TileId::new(1, 1, 0).unwrap().bounds(0.0);
        assert!((w - 0.0).abs() < 1e-12 && (e - 180.0).abs() < 1e-12);
        assert!((s - 0.0).abs() < 1e-9 && (n - MAX_LAT).abs() < 1e-9);
        let [w2, ..] = TileId::new(1, 1, 0).unwrap().bounds(BUFFER);
        assert!(w2 < 0.0);
    }

    #[test]
    fn a_small_polygon_is_projected_snapped_and_oriented() {
        let t = TileId::containing(114.30, 30.60, 14);
        let [w, s, e, n] = t.bounds(0.0);
        let (cx, cy) = ((w + e) / 2.0, (s + n) / 2.0);
        let d = (e - w) / 10.0;
        // Clockwise in lon/lat (a negative area there).
        let p: Geometry = polygon![(x: cx, y: cy), (x: cx, y: cy + d), (x: cx + d, y: cy + d), (x: cx + d, y: cy)].into();
        let Some(Geometry::MultiPolygon(mp)) = to_tile(&p, t) else {
            panic!("polygon expected")
        };
        let ext = mp.0[0].exterior();
        assert!(
            ext.coords()
                .all(|c| c.x.fract() == 0.0 && c.y.fract() == 0.0)
        );
        // Centre of the tile is (2048, 2048); a tenth of the tile is ~410 units.
        assert!(ext.coords().any(|c| (c.x - 2048.0).abs() <= 1.0));
        let r = mp.bounding_rect().unwrap();
        assert_eq!(r.width(), 410.0);
        // Mercator stretches north–south by 1/cos(latitude).
        let stretch = r.height() / r.width();
        assert!(
            (stretch - 1.0 / cy.to_radians().cos()).abs() < 0.01,
            "{stretch}"
        );
        // Exterior ring: positive area by the surveyor's formula in tile coordinates.
        assert!(Polygon::new(ext.clone(), vec![]).signed_area() > 0.0);
    }

    #[test]
    fn a_big_polygon_is_clipped_to_the_buffered_tile() {
        let t = TileId::containing(114.30, 30.60, 12);
        let big: Geometry =
            wkt!(POLYGON((113.0 29.0, 116.0 29.0, 116.0 32.0, 113.0 32.0, 113.0 29.0))).into();
        let Some(Geometry::MultiPolygon(mp)) = to_tile(&big, t) else {
            panic!("polygon expected")
        };
        let r = mp.bounding_rect().unwrap();
        assert_eq!((r.min().x, r.min().y), (-BUFFER, -BUFFER));
        assert_eq!((r.max().x, r.max().y), (4096.0 + BUFFER, 4096.0 + BUFFER));
        // A polygon with a hole around the tile: the tile is inside the hole, nothing is left.
        let holed: Geometry =
            wkt!(POLYGON((113.0 29.0, 116.0 29.0, 116.0 32.0, 113.0 32.0, 113.0 29.0),
            (114.0 30.0, 114.0 31.0, 115.0 31.0, 115.0 30.0, 114.0 30.0)))
            .into();
        assert_eq!(to_tile(&holed, t), None);
        // Far away: nothing.
        let far: Geometry = wkt!(POLYGON((100.0 20.0, 101.0 20.0, 101.0 21.0, 100.0 20.0))).into();
        assert_eq!(to_tile(&far, t), None);
    }

    #[test]
    fn lines_are_clipped_simplified_and_points_outside_dropped() {
        let t = TileId::containing(114.30, 30.60, 13);
        let [w, s, e, n] = t.bounds(0.0);
        let y = (s + n) / 2.0;
        // A straight road across the tile with many collinear vertices, running far beyond it.
        let coords: Vec<(f64, f64)> = (0..=100)
            .map(|i| (w - 1.0 + (e - w + 2.0) * i as f64 / 100.0, y))
            .collect();
        let road: Geometry = LineString::from(coords).into();
        let Some(Geometry::MultiLineString(ml)) = to_tile(&road, t) else {
            panic!("line expected")
        };
        assert_eq!(ml.0.len(), 1);
        assert_eq!(ml.0[0].0.len(), 2, "collinear vertices are simplified away");
        let xs: Vec<f64> = ml.0[0].coords().map(|c| c.x).collect();
        assert!(xs.contains(&-BUFFER) && xs.contains(&(4096.0 + BUFFER)));
        // A tiny polygon (less than a unit) vanishes; a point outside is dropped.
        let tiny: Geometry =
            polygon![(x: w + 1e-7, y: y), (x: w + 2e-7, y: y), (x: w + 2e-7, y: y + 1e-7)].into();
        assert_eq!(to_tile(&tiny, t), None);
        assert_eq!(to_tile(&Point::new(e + 1.0, y).into(), t), None);
        let Some(Geometry::Point(p)) = to_tile(&Point::new((w + e) / 2.0, y).into(), t) else {
            panic!("point expected")
        };
        assert!(
            Rect::new((0.0, 0.0), (4096.0, 4096.0))
                .to_polygon()
                .contains(&p)
        );
    }
}
