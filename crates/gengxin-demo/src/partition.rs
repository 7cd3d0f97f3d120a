//! Splitting a polygon into non-overlapping cells around sites (a Voronoi diagram clipped to the
//! polygon), used to generate street, community and grid boundaries inside real district
//! outlines. Works in metric (Gauss–Krüger) coordinates.
//!
//! Cells are built by half-plane clipping (O(n²) per parent), which is exact for any number of
//! sites including 1 and 2 and collinear ones; parents here have at most ~100 children.

use geo::{Area, BooleanOps, BoundingRect, Centroid, Contains, InteriorPoint};
use geo_types::{Coord, LineString, MultiPolygon, Point, Polygon};
use rand::Rng;

/// A uniformly random point inside `poly` (rejection sampling in its bounding box).
pub fn random_point_in(poly: &MultiPolygon<f64>, rng: &mut impl Rng) -> Coord {
    let r = poly.bounding_rect().expect("non-empty polygon");
    for _ in 0..10_000 {
        let c = Coord {
            x: rng.gen_range(r.min().x..=r.max().x),
            y: rng.gen_range(r.min().y..=r.max().y),
        };
        if poly.contains(&Point(c)) {
            return c;
        }
    }
    poly.interior_point().expect("non-empty polygon").0
}

/// `n` sites inside `poly`, denser where `weight` is higher: 12·n uniform candidates, then a
/// weighted draw without replacement (Efraimidis–Spirakis keys).
pub fn weighted_sites(
    poly: &MultiPolygon<f64>,
    n: usize,
    rng: &mut impl Rng,
    weight: impl Fn(Coord) -> f64,
) -> Vec<Coord> {
    let mut cands: Vec<(f64, Coord)> = (0..n * 12)
        .map(|_| {
            let c = random_point_in(poly, rng);
            let u: f64 = rng.gen_range(f64::EPSILON..1.0);
            (u.powf(1.0 / weight(c).max(1e-9)), c)
        })
        .collect();
    cands.sort_by(|a, b| b.0.total_cmp(&a.0));
    cands.into_iter().take(n).map(|(_, c)| c).collect()
}

/// Clips a convex ring to the half-plane of points nearer `a` than `b`.
fn clip_nearer(ring: &[Coord], a: Coord, b: Coord) -> Vec<Coord> {
    let m = Coord {
        x: (a.x + b.x) / 2.0,
        y: (a.y + b.y) / 2.0,
    };
    let d = Coord {
        x: b.x - a.x,
        y: b.y - a.y,
    };
    let side = |p: Coord| (p.x - m.x) * d.x + (p.y - m.y) * d.y;
    let mut out = Vec::with_capacity(ring.len() + 1);
    for i in 0..ring.len() {
        let (p, q) = (ring[i], ring[(i + 1) % ring.len()]);
        let (sp, sq) = (side(p), side(q));
        if sp <= 0.0 {
            out.push(p);
        }
        if (sp < 0.0 && sq > 0.0) || (sp > 0.0 && sq < 0.0) {
            let t = sp / (sp - sq);
            out.push(Coord {
                x: p.x + t * (q.x - p.x),
                y: p.y + t * (q.y - p.y),
            });
        }
    }
    out
}

/// The Voronoi cells of `sites` clipped to `poly`, one per site, in site order. Cells do not
/// overlap and together cover `poly`.
pub fn voronoi_cells(poly: &MultiPolygon<f64>, sites: &[Coord]) -> Vec<MultiPolygon<f64>> {
    let r = poly.bounding_rect().expect("non-empty polygon");
    let pad = (r.width() + r.height()) * 0.1 + 1.0;
    let frame = vec![
        Coord {
            x: r.min().x - pad,
            y: r.min().y - pad,
        },
        Coord {
            x: r.max().x + pad,
            y: r.min().y - pad,
        },
        Coord {
            x: r.max().x + pad,
            y: r.max().y + pad,
        },
        Coord {
            x: r.min().x - pad,
            y: r.max().y + pad,
        },
    ];
    sites
        .iter()
        .enumerate()
        .map(|(i, &s)| {
            let mut ring = frame.clone();
            for (j, &o) in sites.iter().enumerate() {
                if i != j && ring.len() >= 3 && o != s {
                    ring = clip_nearer(&ring, s, o);
                }
            }
            if ring.len() < 3 {
                return MultiPolygon(vec![]);
            }
            let cell = Polygon::new(LineString::from(ring), vec![]);
            let clipped = poly.intersection(&MultiPolygon(vec![cell]));
            // Drop slivers left by floating-point noise along shared edges.
            MultiPolygon(
                clipped
                    .0
                    .into_iter()
                    .filter(|p| p.unsigned_area() > 1.0)
                    .collect(),
            )
        })
        .collect()
}

/// Moves each site to its cell's centroid (or an interior point when the centroid falls outside
/// the parent), `iterations` times: evens out cell sizes while keeping the sites' layout.
pub fn relax(poly: &MultiPolygon<f64>, mut sites: Vec<Coord>, iterations: usize) -> Vec<Coord> {
    for _ in 0..iterations {
        let cells = voronoi_cells(poly, &sites);
        for (s, cell) in sites.iter_mut().zip(&cells) {
            if let Some(c) = cell.centroid().filter(|c| poly.contains(c)) {
                *s = c.0;
            } else if let Some(p) = cell.interior_point() {
                *s = p.0;
            }
        }
    }
    sites
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::Intersects;
    use geo_types::polygon;
    use rand::SeedableRng;

    #[test]
    fn cells_cover_the_parent_without_overlap() {
        let parent = MultiPolygon(vec![
            polygon![(x: 0.0, y: 0.0), (x: 1000.0, y: 0.0), (x: 1000.0, y: 400.0), (x: 400.0, y: 400.0), (x: 400.0, y: 1000.0), (x: 0.0, y: 1000.0)],
        ]);
        let mut rng = rand_chacha::ChaCha8Rng::seed_from_u64(7);
        for n in [1, 2, 3, 17] {
            let sites = relax(&parent, weighted_sites(&parent, n, &mut rng, |_| 1.0), 1);
            let cells = voronoi_cells(&parent, &sites);
            assert_eq!(cells.len(), n);
            let total: f64 = cells.iter().map(|c| c.unsigned_area()).sum();
            assert!(
                (total - parent.unsigned_area()).abs() < 1.0,
                "n={n}: {total}"
            );
            for (i, a) in cells.iter().enumerate() {
                assert!(a.unsigned_area() > 0.0);
                for b in &cells[i + 1..] {
                    let overlap = a.intersection(b).unsigned_area();
                    // Shared edges are computed twice; allow floating-point noise (≪ 1 m²).
                    assert!(overlap < 0.01, "n={n}: overlap {overlap}");
                }
                assert!(a.intersects(&parent));
            }
        }
    }
}
