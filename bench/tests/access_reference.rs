//! The accessibility engine against an independent exact reference on real OpenStreetMap
//! walking networks (`../shared/data/osm/`).
//!
//! The product network is built by the engine from the projected walkable ways with degree-2
//! chains merged (curved edges). The reference is built here without the engine: every way
//! vertex a petgraph node (shared OSM nodes join by identical coordinates), every segment a
//! straight edge of its Euclidean length. Sampled points are placed on the reference by a
//! brute-force search for the nearest segment (checked against the engine's snap), inserted as
//! virtual nodes (the segment split at the foot, an access edge from the point to the foot),
//! and exact distances come from petgraph's Dijkstra (run from each target: the graph is
//! undirected). The engine's `nearest` (k = 3, max 2000 m) and `within` (300, 500, 1000 m)
//! must agree for every sampled origin and category, and for origins at product network nodes
//! (whose reference source is the way vertex at the node). Counts are exact except for a pair
//! within 1e-6 m of a radius, which may fall either way (reported; there are none).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Instant;

use gengxin_engine::access;
use gengxin_engine::network::{BuildOptions, Location, Network, Snapper};
use gengxin_io::osm::OsmKind;
use geo_types::{Coord, Geometry, LineString};
use petgraph::graph::{NodeIndex, UnGraph};
use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;

const RADII: [f64; 3] = [300.0, 500.0, 1000.0];
const MAX_NEAREST: f64 = 2000.0;
const K: usize = 3;
const CATEGORIES: usize = 3;
/// Random points near the network, and points a few metres from a target (often on its edge).
const RANDOM_ORIGINS: usize = 130;
const NEAR_TARGET_ORIGINS: usize = 20;
/// Per category: random points, exact way vertices, and exact copies of other targets.
const RANDOM_TARGETS: usize = 36;
const VERTEX_TARGETS: usize = 2;
const DUPLICATE_TARGETS: usize = 2;
const NODE_ORIGINS: usize = 100;
const SNAP_MAX: f64 = 300.0;
const SCATTER_M: f64 = 60.0;
/// Most samples come from within this distance of the median junction (the densest part of a
/// country's network), so that many targets are within the radii; the rest from anywhere.
const LOCAL_M: f64 = 2000.0;
const LOCAL_SHARE: f64 = 0.75;
/// Tolerances: distances, the foot of a snap, and closeness to a radius that makes a count
/// depend on rounding.
const DIST_TOL: f64 = 0.01;
const FOOT_TOL: f64 = 1e-6;
const EDGE_TOL: f64 = 1e-6;

/// The OpenStreetMap extracts beside the checkout (see `../shared/data/SOURCES.md`).
const OSM: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/../../shared/data/osm/");

fn osm(file: &str) -> PathBuf {
    let p = Path::new(OSM).join(file);
    assert!(
        p.exists(),
        "{} is needed by this test: the real data folder ../shared/data must be beside the checkout",
        p.display()
    );
    p
}

/// The walkable ways, projected to transverse Mercator metres as `access prep` does.
fn walkways(pbf: &Path) -> Vec<LineString> {
    let opts = gengxin_io::ReadOptions {
        osm: Some(OsmKind::Walkways),
        ..Default::default()
    };
    let data = gengxin_io::osm::read(pbf, &opts).expect("reading the walkable ways");
    let lines: Vec<LineString> = data
        .records
        .into_iter()
        .filter_map(|r| match r.geometry {
            Some(Geometry::LineString(l)) => Some(l),
            _ => None,
        })
        .collect();
    let (sum, n) = lines
        .iter()
        .flat_map(|l| l.0.iter())
        .fold((0.0, 0usize), |(s, n), c| (s + c.x, n + 1));
    let lon0 = (sum / n.max(1) as f64).round();
    let geographic =
        proj4rs::Proj::from_proj_string("+proj=longlat +ellps=WGS84 +no_defs").expect("proj");
    let tm = proj4rs::Proj::from_proj_string(&format!(
        "+proj=tmerc +lat_0=0 +lon_0={lon0} +k=1 +x_0=500000 +y_0=0 +ellps=WGS84 +units=m +no_defs"
    ))
    .expect("proj");
    lines
        .iter()
        .map(|l| {
            l.0.iter()
                .map(|c| {
                    let mut p = (c.x.to_radians(), c.y.to_radians(), 0.0);
                    proj4rs::transform::transform(&geographic, &tm, &mut p).expect("projectable");
                    Coord { x: p.0, y: p.1 }
                })
                .collect()
        })
        .collect()
}

fn d2(a: Coord, b: Coord) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

/// The straight-edged reference graph of the way vertices and segments.
struct Reference {
    vertex: HashMap<(u64, u64), usize>,
    xy: Vec<Coord>,
    /// Segments as vertex pairs (zero-length ones left out).
    segments: Vec<(usize, usize)>,
}

fn bits(c: Coord) -> (u64, u64) {
    (c.x.to_bits(), c.y.to_bits())
}

impl Reference {
    fn new(lines: &[LineString]) -> Reference {
        let mut r = Reference {
            vertex: HashMap::new(),
            xy: Vec::new(),
            segments: Vec::new(),
        };
        for l in lines {
            let ids: Vec<usize> =
                l.0.iter()
                    .map(|&c| {
                        *r.vertex.entry(bits(c)).or_insert_with(|| {
                            r.xy.push(c);
                            r.xy.len() - 1
                        })
                    })
                    .collect();
            for w in ids.windows(2) {
                if w[0] != w[1] {
                    r.segments.push((w[0], w[1]));
                }
            }
        }
        r
    }

    /// The nearest point of the nearest segment, by brute force: (segment, parameter, foot,
    /// distance). Ties keep the first segment.
    fn foot(&self, p: Coord) -> (usize, f64, Coord, f64) {
        let mut best = (usize::MAX, 0.0, p, f64::INFINITY);
        for (s, &(a, b)) in self.segments.iter().enumerate() {
            let (a, b) = (self.xy[a], self.xy[b]);
            let (dx, dy) = (b.x - a.x, b.y - a.y);
            let t = (((p.x - a.x) * dx + (p.y - a.y) * dy) / (dx * dx + dy * dy)).clamp(0.0, 1.0);
            let f = Coord {
                x: a.x + dx * t,
                y: a.y + dy * t,
            };
            let d = d2(p, f);
            if d < best.3 {
                best = (s, t, f, d);
            }
        }
        best
    }
}

/// The point `offset` metres along an edge's geometry (walked here, not by the engine).
fn along(net: &Network, edge: u32, offset: f64) -> Coord {
    let g = net.edge_shape(edge);
    let mut left = offset;
    for w in g.windows(2) {
        let l = d2(w[0], w[1]);
        if left <= l {
            let t = left / l;
            return Coord {
                x: w[0].x + (w[1].x - w[0].x) * t,
                y: w[0].y + (w[1].y - w[0].y) * t,
            };
        }
        left -= l;
    }
    assert!(left < 1e-6, "offset {offset} beyond edge {edge} by {left}");
    *g.last().expect("an edge has two vertices")
}

/// A sampled point placed on the reference: the segment it lies nearest, where, and how far.
struct Placed {
    location: Location,
    segment: usize,
    t: f64,
    foot: Coord,
    access: f64,
}

struct Stats {
    snaps: usize,
    max_foot_err: f64,
    max_access_err: f64,
}

/// Snaps a point with the engine and places it on the reference independently; checks that
/// both agree on the foot and the access leg.
fn place(
    net: &Network,
    snapper: &Snapper,
    reference: &Reference,
    p: Coord,
    stats: &mut Stats,
) -> Placed {
    let location = snapper
        .snap(p, SNAP_MAX)
        .unwrap_or_else(|| panic!("{p:?} does not snap within {SNAP_MAX} m"));
    let (segment, t, foot, access) = reference.foot(p);
    let ours = along(net, location.edge, location.offset);
    let foot_err = d2(ours, foot);
    let access_err = (location.access - access).abs();
    assert!(
        foot_err <= FOOT_TOL && access_err <= FOOT_TOL,
        "{p:?}: engine snaps to {ours:?} (edge {}, offset {}, access {}), the nearest segment's foot is {foot:?} at {access} m",
        location.edge,
        location.offset,
        location.access
    );
    stats.snaps += 1;
    stats.max_foot_err = stats.max_foot_err.max(foot_err);
    stats.max_access_err = stats.max_access_err.max(access_err);
    Placed {
        location,
        segment,
        t,
        foot,
        access,
    }
}

/// The reference graph with every placed point a virtual node; returns the graph and each
/// point's node.
fn virtual_graph(reference: &Reference, placed: &[&Placed]) -> (UnGraph<(), f64>, Vec<NodeIndex>) {
    let mut g: UnGraph<(), f64> = UnGraph::with_capacity(
        reference.xy.len() + 2 * placed.len(),
        reference.segments.len() + 2 * placed.len(),
    );
    for _ in &reference.xy {
        g.add_node(());
    }
    let mut splits: HashMap<usize, Vec<(f64, usize)>> = HashMap::new();
    for (i, p) in placed.iter().enumerate() {
        splits.entry(p.segment).or_default().push((p.t, i));
    }
    let mut point_node = vec![NodeIndex::end(); placed.len()];
    for (s, &(a, b)) in reference.segments.iter().enumerate() {
        let (na, nb) = (NodeIndex::new(a), NodeIndex::new(b));
        let Some(cuts) = splits.get_mut(&s) else {
            g.add_edge(na, nb, d2(reference.xy[a], reference.xy[b]));
            continue;
        };
        cuts.sort_by(|x, y| x.0.total_cmp(&y.0).then(x.1.cmp(&y.1)));
        let (mut prev, mut prev_xy) = (na, reference.xy[a]);
        for &(_, i) in cuts.iter() {
            let foot = g.add_node(());
            g.add_edge(prev, foot, d2(prev_xy, placed[i].foot));
            let at = g.add_node(());
            g.add_edge(foot, at, placed[i].access);
            point_node[i] = at;
            (prev, prev_xy) = (foot, placed[i].foot);
        }
        g.add_edge(prev, nb, d2(prev_xy, reference.xy[b]));
    }
    (g, point_node)
}

fn check(name: &str, file: &str, seed: u64) {
    let t0 = Instant::now();
    let lines = walkways(&osm(file));
    let (net, report) = Network::from_lines(
        &lines,
        BuildOptions {
            split_crossings: false,
            snap_tolerance_m: 0.0,
            simplify: true,
        },
    );
    let reference = Reference::new(&lines);
    let t_read = t0.elapsed().as_secs_f64();

    // Samples. Points near a random way vertex; some exactly on one; some copies of a target;
    // some origins a few metres from a target, so that origins and targets share edges.
    let median = |f: fn(Coord) -> f64| {
        let mut v: Vec<f64> = (0..net.node_count() as u32)
            .map(|v| f(net.node(v)))
            .collect();
        v.sort_by(f64::total_cmp);
        v[v.len() / 2]
    };
    let centre = Coord {
        x: median(|c| c.x),
        y: median(|c| c.y),
    };
    let local_vertices: Vec<usize> = (0..reference.xy.len())
        .filter(|&i| d2(reference.xy[i], centre) <= LOCAL_M)
        .collect();
    let local_nodes: Vec<u32> = (0..net.node_count() as u32)
        .filter(|&v| d2(net.node(v), centre) <= LOCAL_M)
        .collect();
    assert!(!local_vertices.is_empty() && !local_nodes.is_empty());
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let scatter = |rng: &mut ChaCha8Rng, r: f64| -> Coord {
        let v = if rng.gen_bool(LOCAL_SHARE) {
            reference.xy[local_vertices[rng.gen_range(0..local_vertices.len())]]
        } else {
            reference.xy[rng.gen_range(0..reference.xy.len())]
        };
        Coord {
            x: v.x + rng.gen_range(-r..=r),
            y: v.y + rng.gen_range(-r..=r),
        }
    };
    let mut target_points: Vec<Vec<Coord>> = Vec::new();
    for _ in 0..CATEGORIES {
        let mut pts: Vec<Coord> = (0..RANDOM_TARGETS)
            .map(|_| scatter(&mut rng, SCATTER_M))
            .collect();
        pts.extend((0..VERTEX_TARGETS).map(|_| scatter(&mut rng, 0.0)));
        for _ in 0..DUPLICATE_TARGETS {
            let p = pts[rng.gen_range(0..pts.len())];
            pts.push(p);
        }
        target_points.push(pts);
    }
    let mut origin_points: Vec<Coord> = (0..RANDOM_ORIGINS)
        .map(|_| scatter(&mut rng, SCATTER_M))
        .collect();
    for _ in 0..NEAR_TARGET_ORIGINS {
        let c = rng.gen_range(0..CATEGORIES);
        let t = target_points[c][rng.gen_range(0..target_points[c].len())];
        origin_points.push(Coord {
            x: t.x + rng.gen_range(-5.0..=5.0),
            y: t.y + rng.gen_range(-5.0..=5.0),
        });
    }
    let node_origins: Vec<u32> = (0..NODE_ORIGINS)
        .map(|_| {
            if rng.gen_bool(LOCAL_SHARE) {
                local_nodes[rng.gen_range(0..local_nodes.len())]
            } else {
                rng.gen_range(0..net.node_count() as u32)
            }
        })
        .collect();

    let snapper = net.snapper();
    let mut stats = Stats {
        snaps: 0,
        max_foot_err: 0.0,
        max_access_err: 0.0,
    };
    let targets: Vec<Vec<Placed>> = target_points
        .iter()
        .map(|pts| {
            pts.iter()
                .map(|&p| place(&net, &snapper, &reference, p, &mut stats))
                .collect()
        })
        .collect();
    let origins: Vec<Placed> = origin_points
        .iter()
        .map(|&p| place(&net, &snapper, &reference, p, &mut stats))
        .collect();
    let t_place = t0.elapsed().as_secs_f64() - t_read;

    // Reference distances: the graph is undirected, so one Dijkstra from every target (120)
    // gives its distance to every origin (sampled points and product nodes, 250).
    let all: Vec<&Placed> = origins.iter().chain(targets.iter().flatten()).collect();
    let (g, point_node) = virtual_graph(&reference, &all);
    let origin_node: Vec<NodeIndex> = point_node[..origins.len()]
        .iter()
        .copied()
        .chain(node_origins.iter().map(|&v| {
            let c = net.node(v);
            NodeIndex::new(
                *reference
                    .vertex
                    .get(&bits(c))
                    .unwrap_or_else(|| panic!("product node {v} at {c:?} is no way vertex")),
            )
        }))
        .collect();
    let from_target: Vec<Vec<f64>> = point_node[origins.len()..]
        .par_iter()
        .map(|&t| {
            let d = petgraph::algo::dijkstra(&g, t, None, |e| *e.weight());
            origin_node
                .iter()
                .map(|n| d.get(n).copied().unwrap_or(f64::INFINITY))
                .collect()
        })
        .collect();
    // per_source[o][c][t]: the network distance from origin o to target t of category c.
    let per_source: Vec<Vec<Vec<f64>>> = (0..origin_node.len())
        .map(|o| {
            let mut first = 0;
            targets
                .iter()
                .map(|placed| {
                    let row = (first..first + placed.len())
                        .map(|t| from_target[t][o])
                        .collect();
                    first += placed.len();
                    row
                })
                .collect()
        })
        .collect();
    let t_ref = t0.elapsed().as_secs_f64() - t_read - t_place;

    // The engine, on the same origins: sampled locations, then product nodes.
    let origin_locs: Vec<Option<Location>> = origins
        .iter()
        .map(|p| Some(p.location))
        .chain(node_origins.iter().map(|&v| net.node_location(v)))
        .collect();
    assert!(origin_locs.iter().all(Option::is_some));

    let (mut max_err, mut max_sum_err) = (0.0f64, 0.0f64);
    let (mut pairs_skipped, mut nearest_skipped) = (0usize, 0usize);
    let (mut nearest_checked, mut same_edge, mut in_radius) = (0usize, 0usize, 0usize);
    for (c, placed) in targets.iter().enumerate() {
        let locs: Vec<Option<Location>> = placed.iter().map(|p| Some(p.location)).collect();
        let weights: Vec<f64> = (0..locs.len()).map(|i| (1 + i % 9) as f64).collect();
        let near = access::nearest(&net, &locs, &origin_locs, K, MAX_NEAREST);
        let within = access::within(&net, &locs, &weights, &origin_locs, &RADII);
        for o in 0..origin_locs.len() {
            let what = if o < origins.len() {
                format!("{name}: category {c}, origin {o} at {:?}", origin_points[o])
            } else {
                let v = node_origins[o - origins.len()];
                format!(
                    "{name}: category {c}, product node {v} at {:?}",
                    net.node(v)
                )
            };
            let rd = &per_source[o][c];
            in_radius += rd.iter().filter(|&&d| d <= RADII[2]).count();
            let oe = origin_locs[o].expect("placed").edge;
            same_edge += placed.iter().filter(|t| t.location.edge == oe).count();

            // Nearest k: the k smallest reference distances within the limit.
            let mut sorted: Vec<f64> = rd.iter().copied().filter(|d| d.is_finite()).collect();
            sorted.sort_by(f64::total_cmp);
            if sorted.iter().any(|d| (d - MAX_NEAREST).abs() <= EDGE_TOL) {
                nearest_skipped += 1;
            } else {
                let expect: Vec<f64> = sorted
                    .iter()
                    .copied()
                    .filter(|&d| d <= MAX_NEAREST)
                    .take(K)
                    .collect();
                let got = near.of(o);
                for j in 0..K {
                    match expect.get(j) {
                        Some(&e) => {
                            let err = (got[j] - e).abs();
                            assert!(
                                err <= DIST_TOL,
                                "{what}: nearest {j}: engine {:?}, reference {expect:?}",
                                got
                            );
                            max_err = max_err.max(err);
                            nearest_checked += 1;
                            // The target named is one at that distance.
                            let t = near.target[o * K + j] as usize;
                            let err = (rd[t] - got[j]).abs();
                            assert!(
                                err <= DIST_TOL,
                                "{what}: nearest {j} names target {t} at {}, engine says {}",
                                rd[t],
                                got[j]
                            );
                        }
                        None => assert!(
                            got[j].is_nan(),
                            "{what}: nearest {j}: engine {got:?}, reference {expect:?}"
                        ),
                    }
                }
            }

            // Within radii: exact counts, sums to 1e-6, except targets on a radius.
            for (ri, &r) in RADII.iter().enumerate() {
                let lo = rd.iter().filter(|&&d| d <= r - EDGE_TOL).count();
                let hi = rd.iter().filter(|&&d| d <= r + EDGE_TOL).count();
                let count = within.count(ri, o) as usize;
                if lo == hi {
                    let sum: f64 = rd
                        .iter()
                        .zip(&weights)
                        .filter(|(d, _)| **d <= r)
                        .map(|(_, w)| w)
                        .sum();
                    assert_eq!(count, lo, "{what}: count within {r} m");
                    let err = (within.sum(ri, o) - sum).abs();
                    max_sum_err = max_sum_err.max(err);
                    assert!(
                        err <= 1e-6,
                        "{what}: sum within {r} m: engine {}, reference {sum}",
                        within.sum(ri, o)
                    );
                } else {
                    pairs_skipped += hi - lo;
                    assert!(
                        (lo..=hi).contains(&count),
                        "{what}: count within {r} m: engine {count}, reference {lo}..={hi}"
                    );
                }
            }
        }
    }
    let max_r = RADII[2];
    eprintln!(
        "{name}: {} origins ({} sampled, {} product nodes) x {CATEGORIES} categories of {} \
         targets checked; max abs error {max_err:.1e} m (nearest), {max_sum_err:.1e} (sums), \
         {:.1e} m (snap foot), {:.1e} m (access leg); {nearest_checked} nearest distances, \
         {in_radius} pairs within {max_r} m, {same_edge} on one edge; skipped {pairs_skipped} \
         pairs on a radius, {nearest_skipped} origins on the nearest limit; network {} ways, \
         reference {} vertices / {} segments, product {} nodes / {} edges / {} components; {:.1} s \
         (read+build {t_read:.1}, place {t_place:.1}, reference {t_ref:.1})",
        origin_locs.len(),
        origins.len(),
        node_origins.len(),
        targets[0].len(),
        stats.max_foot_err,
        stats.max_access_err,
        lines.len(),
        reference.xy.len(),
        reference.segments.len(),
        net.node_count(),
        net.edge_count(),
        report.components,
        t0.elapsed().as_secs_f64()
    );
}

#[test]
fn helsinki() {
    check("helsinki", "helsinki.osm.pbf", 1);
}

#[test]
fn andorra() {
    check("andorra", "andorra-2021-10.osm.pbf", 2);
}

#[test]
fn liechtenstein() {
    check("liechtenstein", "liechtenstein-2021-10.osm.pbf", 3);
}
