//! Accessibility on the walking network: for origins and targets placed on edges
//! ([`Location`]), the network distance to the nearest k targets, the count and weight sum of
//! targets within radii, and the part of the network reachable from a point (isochrones).
//!
//! Distances are exact shortest paths (Dijkstra on `f64` lengths) and include the offsets along
//! the origin's and the target's edges and both access legs. Two algorithms, each the fast one
//! for its question:
//! - nearest k: one multi-source search per target set, in which every node keeps the first k
//!   distinct targets that reach it; an origin then takes the best of its edge's two ends (and
//!   of targets on its own edge). Cost: about k searches of the graph, whatever the origins.
//! - within radii: one search per target, bounded by the largest radius, which credits every
//!   origin on the edges it reaches; targets run in parallel. Cost: targets × ball size.

use std::cmp::Reverse;
use std::collections::BinaryHeap;

use geo::{Buffer, LineString, MultiLineString, MultiPolygon};
use rayon::prelude::*;

use crate::network::{Location, Network};

/// Heap key for a non-negative distance: the bit patterns of non-negative `f64` sort as the
/// numbers do.
fn k(d: f64) -> u64 {
    debug_assert!(d >= 0.0);
    d.to_bits()
}

fn unk(b: u64) -> f64 {
    f64::from_bits(b)
}

/// Places indexed by edge: for each edge, the indices of the locations on it.
struct ByEdge {
    first: Vec<u32>,
    items: Vec<u32>,
}

impl ByEdge {
    fn new(net: &Network, locations: &[Option<Location>]) -> ByEdge {
        let m = net.edge_count();
        let mut first = vec![0u32; m + 1];
        for l in locations.iter().flatten() {
            first[l.edge as usize + 1] += 1;
        }
        for i in 0..m {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut items = vec![0u32; first[m] as usize];
        for (i, l) in locations.iter().enumerate() {
            if let Some(l) = l {
                items[fill[l.edge as usize] as usize] = i as u32;
                fill[l.edge as usize] += 1;
            }
        }
        ByEdge { first, items }
    }

    fn on(&self, e: u32) -> &[u32] {
        &self.items[self.first[e as usize] as usize..self.first[e as usize + 1] as usize]
    }
}

/// The k nearest targets of each origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Nearest {
    pub k: usize,
    /// `origins × k` distances, nearest first; `NaN` where fewer than k are within reach.
    pub distance: Vec<f64>,
    /// The target index behind each distance; `u32::MAX` where none.
    pub target: Vec<u32>,
}

impl Nearest {
    /// The distances of one origin.
    pub fn of(&self, origin: usize) -> &[f64] {
        &self.distance[origin * self.k..(origin + 1) * self.k]
    }
}

/// The network distance from every origin to its `k` nearest distinct targets, up to
/// `max_distance` metres. Unplaced origins or targets (`None`) reach nothing.
pub fn nearest(
    net: &Network,
    targets: &[Option<Location>],
    origins: &[Option<Location>],
    k: usize,
    max_distance: f64,
) -> Nearest {
    assert!(k >= 1, "k must be at least 1");
    let n = net.node_count();
    // Labels: up to k (distance, target) per node, settled in increasing distance.
    let mut dist = vec![f64::INFINITY; n * k];
    let mut from = vec![u32::MAX; n * k];
    let mut settled = vec![0u8; n];
    let mut best = vec![f64::INFINITY; n]; // tentative, used when k = 1
    let mut heap: BinaryHeap<Reverse<(u64, u32, u32)>> = BinaryHeap::new();
    let push = |heap: &mut BinaryHeap<_>, best: &mut Vec<f64>, d: f64, v: u32, t: u32| {
        if d <= max_distance && (k > 1 || d < best[v as usize]) {
            if k == 1 {
                best[v as usize] = d;
            }
            heap.push(Reverse((self::k(d), v, t)));
        }
    };
    for (t, l) in targets.iter().enumerate() {
        if let Some(l) = l {
            let e = net.edge(l.edge);
            push(&mut heap, &mut best, l.offset + l.access, e.u, t as u32);
            push(
                &mut heap,
                &mut best,
                e.length - l.offset + l.access,
                e.v,
                t as u32,
            );
        }
    }
    while let Some(Reverse((d, v, t))) = heap.pop() {
        let vi = v as usize;
        let s = settled[vi] as usize;
        if s == k || from[vi * k..vi * k + s].contains(&t) {
            continue;
        }
        let d = unk(d);
        dist[vi * k + s] = d;
        from[vi * k + s] = t;
        settled[vi] += 1;
        for a in net.arcs(v) {
            if (settled[a.to as usize] as usize) < k {
                push(&mut heap, &mut best, d + a.length, a.to, t);
            }
        }
    }

    let on_edge = ByEdge::new(net, targets);
    let mut out = Nearest {
        k,
        distance: vec![f64::NAN; origins.len() * k],
        target: vec![u32::MAX; origins.len() * k],
    };
    out.distance
        .par_chunks_mut(k)
        .zip(out.target.par_chunks_mut(k))
        .zip(origins.par_iter())
        .for_each_init(Vec::new, |cand, ((dout, tout), o)| {
            let Some(o) = o else { return };
            cand.clear();
            let e = net.edge(o.edge);
            for (v, along) in [(e.u, o.offset), (e.v, e.length - o.offset)] {
                let vi = v as usize;
                for i in 0..settled[vi] as usize {
                    cand.push((dist[vi * k + i] + along + o.access, from[vi * k + i]));
                }
            }
            for &t in on_edge.on(o.edge) {
                let l = targets[t as usize].expect("indexed targets are placed");
                cand.push(((l.offset - o.offset).abs() + l.access + o.access, t));
            }
            cand.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let mut filled = 0;
            for &(dd, tt) in cand.iter() {
                if filled == k || dd > max_distance {
                    break;
                }
                if !tout[..filled].contains(&tt) {
                    dout[filled] = dd;
                    tout[filled] = tt;
                    filled += 1;
                }
            }
        });
    out
}

/// Counts and weight sums of targets within each radius, per origin.
#[derive(Debug, Clone, PartialEq)]
pub struct Within {
    pub radii: Vec<f64>,
    /// `radii × origins`, radius-major.
    pub count: Vec<u32>,
    pub sum: Vec<f64>,
}

impl Within {
    pub fn count(&self, radius: usize, origin: usize) -> u32 {
        self.count[radius * self.origins() + origin]
    }
    pub fn sum(&self, radius: usize, origin: usize) -> f64 {
        self.sum[radius * self.origins() + origin]
    }
    fn origins(&self) -> usize {
        self.count.len() / self.radii.len().max(1)
    }
}

/// A bounded single-source search, reused across sources.
struct Search {
    dist: Vec<f64>,
    touched: Vec<u32>,
    heap: BinaryHeap<Reverse<(u64, u32)>>,
}

impl Search {
    fn new(n: usize) -> Search {
        Search {
            dist: vec![f64::INFINITY; n],
            touched: Vec::new(),
            heap: BinaryHeap::new(),
        }
    }

    /// Exact distances to every node within `limit` of `from`; others stay infinite. Returns
    /// the nodes reached, in settling order.
    fn run(&mut self, net: &Network, from: Location, limit: f64) -> &[u32] {
        for v in self.touched.drain(..) {
            self.dist[v as usize] = f64::INFINITY;
        }
        let e = net.edge(from.edge);
        let mut reached = Vec::new();
        for (v, d) in [
            (e.u, from.offset + from.access),
            (e.v, e.length - from.offset + from.access),
        ] {
            if d <= limit {
                self.heap.push(Reverse((k(d), v)));
            }
        }
        while let Some(Reverse((d, v))) = self.heap.pop() {
            let d = unk(d);
            if self.dist[v as usize] <= d {
                continue;
            }
            self.dist[v as usize] = d;
            reached.push(v);
            for a in net.arcs(v) {
                let nd = d + a.length;
                if nd <= limit && nd < self.dist[a.to as usize] {
                    self.heap.push(Reverse((k(nd), a.to)));
                }
            }
        }
        self.touched = reached;
        &self.touched
    }
}

/// For every origin, how many targets lie within each radius along the network, and the sum of
/// their weights (`weights[i]` for target i).
pub fn within(
    net: &Network,
    targets: &[Option<Location>],
    weights: &[f64],
    origins: &[Option<Location>],
    radii: &[f64],
) -> Within {
    assert_eq!(targets.len(), weights.len(), "one weight per target");
    let no = origins.len();
    let nr = radii.len();
    let limit = radii.iter().copied().fold(0.0, f64::max);
    let on_edge = ByEdge::new(net, origins);
    struct Acc {
        search: Search,
        stamp: Vec<u32>,
        count: Vec<u32>,
        sum: Vec<f64>,
    }
    let fresh = || Acc {
        search: Search::new(net.node_count()),
        stamp: vec![u32::MAX; net.edge_count()],
        count: vec![0; nr * no],
        sum: vec![0.0; nr * no],
    };
    let credit = |acc: &mut Acc, o: u32, d: f64, w: f64| {
        for (ri, &r) in radii.iter().enumerate() {
            if d <= r {
                acc.count[ri * no + o as usize] += 1;
                acc.sum[ri * no + o as usize] += w;
            }
        }
    };
    let chunk = targets.len().div_ceil(rayon::current_num_threads()).max(1);
    let total = targets
        .par_chunks(chunk)
        .enumerate()
        .map(|(c, part)| {
            let mut acc = fresh();
            for (i, l) in part.iter().enumerate() {
                let t = c * chunk + i;
                let Some(l) = *l else { continue };
                let w = weights[t];
                acc.search.run(net, l, limit);
                let mut edges: Vec<u32> = vec![l.edge];
                acc.stamp[l.edge as usize] = t as u32;
                for &v in &acc.search.touched {
                    for a in net.arcs(v) {
                        if acc.stamp[a.edge as usize] != t as u32 {
                            acc.stamp[a.edge as usize] = t as u32;
                            edges.push(a.edge);
                        }
                    }
                }
                for e in edges {
                    let ed = net.edge(e);
                    let (du, dv) = (
                        acc.search.dist[ed.u as usize],
                        acc.search.dist[ed.v as usize],
                    );
                    for &o in on_edge.on(e) {
                        let ol = origins[o as usize].expect("indexed origins are placed");
                        let mut d = (du + ol.offset).min(dv + ed.length - ol.offset);
                        if e == l.edge {
                            d = d.min((ol.offset - l.offset).abs() + l.access);
                        }
                        credit(&mut acc, o, d + ol.access, w);
                    }
                }
            }
            (acc.count, acc.sum)
        })
        .reduce(
            || (vec![0; nr * no], vec![0.0; nr * no]),
            |mut a, b| {
                a.0.iter_mut().zip(&b.0).for_each(|(x, y)| *x += y);
                a.1.iter_mut().zip(&b.1).for_each(|(x, y)| *x += y);
                a
            },
        );
    Within {
        radii: radii.to_vec(),
        count: total.0,
        sum: total.1,
    }
}

/// The parts of the network within `max_distance` of a location: whole edges and the reached
/// ends of the others.
pub fn reach(net: &Network, from: Location, max_distance: f64) -> MultiLineString {
    let mut search = Search::new(net.node_count());
    search.run(net, from, max_distance);
    let mut seen = std::collections::HashSet::new();
    let mut edges = vec![from.edge];
    for &v in &search.touched {
        edges.extend(net.arcs(v).iter().map(|a| a.edge));
    }
    let mut parts: Vec<LineString> = Vec::new();
    for e in edges {
        if !seen.insert(e) {
            continue;
        }
        let ed = net.edge(e);
        let len = ed.length;
        // Reached intervals along the edge, from u.
        let mut iv: Vec<(f64, f64)> = Vec::new();
        let left_u = max_distance - search.dist[ed.u as usize];
        if left_u >= 0.0 {
            iv.push((0.0, left_u.min(len)));
        }
        let left_v = max_distance - search.dist[ed.v as usize];
        if left_v >= 0.0 {
            iv.push(((len - left_v).max(0.0), len));
        }
        if e == from.edge {
            let left = max_distance - from.access;
            if left >= 0.0 {
                iv.push(((from.offset - left).max(0.0), (from.offset + left).min(len)));
            }
        }
        iv.sort_by(|a, b| a.0.total_cmp(&b.0));
        let mut merged: Vec<(f64, f64)> = Vec::new();
        for (a, b) in iv {
            match merged.last_mut() {
                Some(m) if a <= m.1 => m.1 = m.1.max(b),
                _ => merged.push((a, b)),
            }
        }
        for (a, b) in merged {
            if b > a {
                parts.push(net.edge_part(e, a, b));
            }
        }
    }
    MultiLineString(parts)
}

/// The area within `max_distance` of a location along the network: the reached network
/// buffered by `buffer_m` metres on each side (the walk from the street to a door).
pub fn isochrone(net: &Network, from: Location, max_distance: f64, buffer_m: f64) -> MultiPolygon {
    reach(net, from, max_distance).buffer(buffer_m)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::BuildOptions;
    use geo::{Area, Coord, Euclidean, Length, line_string};

    /// A 5 × 5 grid of 100 m blocks as one network.
    fn grid() -> Network {
        let mut lines = Vec::new();
        for i in 0..5 {
            let f = i as f64 * 100.0;
            lines.push(line_string![(x: 0.0, y: f), (x: 400.0, y: f)]);
            lines.push(line_string![(x: f, y: 0.0), (x: f, y: 400.0)]);
        }
        let opts = BuildOptions {
            split_crossings: true,
            ..Default::default()
        };
        Network::from_lines(&lines, opts).0
    }

    fn at(net: &Network, x: f64, y: f64) -> Option<Location> {
        net.snapper().snap(Coord { x, y }, 100.0)
    }

    #[test]
    fn nearest_counts_offsets_and_access_legs() {
        let net = grid();
        // A target 30 m off the street at (150, 200); origins at (0,0) and (160, 190).
        let t = vec![at(&net, 150.0, 230.0)];
        let o = vec![at(&net, 0.0, 0.0), at(&net, 160.0, 195.0)];
        let n = nearest(&net, &t, &o, 1, 2000.0);
        // (0,0) → (100,0)... Manhattan to (150,200): 350 m, plus the 30 m access leg.
        assert!((n.of(0)[0] - 380.0).abs() < 1e-9, "{:?}", n.of(0));
        // Same edge: 10 m along it, 5 m and 30 m access.
        assert!((n.of(1)[0] - 45.0).abs() < 1e-9, "{:?}", n.of(1));
        // Beyond the limit there is nothing.
        let n = nearest(&net, &t, &o, 1, 100.0);
        assert!(n.of(0)[0].is_nan());
    }

    #[test]
    fn k_nearest_are_distinct_and_sorted() {
        let net = grid();
        let t = vec![
            at(&net, 100.0, 100.0),
            at(&net, 300.0, 100.0),
            at(&net, 100.0, 300.0),
        ];
        let o = vec![at(&net, 100.0, 0.0)];
        let n = nearest(&net, &t, &o, 3, 2000.0);
        assert_eq!(n.of(0), &[100.0, 300.0, 300.0]);
        assert_eq!(n.target[0], 0);
        let n = nearest(&net, &t, &o, 5, 2000.0);
        assert_eq!(n.of(0)[3..].iter().filter(|d| d.is_nan()).count(), 2);
    }

    #[test]
    fn within_counts_each_target_once_per_origin() {
        let net = grid();
        let t = vec![
            at(&net, 100.0, 100.0),
            at(&net, 100.0, 100.0),
            at(&net, 400.0, 400.0),
            at(&net, 150.0, 0.0),
        ];
        let w = vec![1.0, 2.0, 4.0, 8.0];
        let o = vec![at(&net, 100.0, 0.0), at(&net, 120.0, 0.0), None];
        let r = within(&net, &t, &w, &o, &[50.0, 100.0, 700.0]);
        // From (100,0): the target 50 m along the street, two at 100 m, one at 700 m.
        assert_eq!((r.count(0, 0), r.count(1, 0), r.count(2, 0)), (1, 3, 4));
        assert_eq!((r.sum(0, 0), r.sum(1, 0), r.sum(2, 0)), (8.0, 11.0, 15.0));
        // From (120,0): 30 m to the one on its edge, 120 m to the corner pair.
        assert_eq!((r.count(0, 1), r.count(1, 1)), (1, 1));
        assert_eq!(r.count(2, 2), 0);
    }

    #[test]
    fn isochrone_covers_the_reached_streets() {
        let net = grid();
        let from = at(&net, 200.0, 200.0).unwrap();
        let lines = reach(&net, from, 100.0);
        let walked: f64 = lines.0.iter().map(|l| Euclidean.length(l)).sum();
        // A cross of four 100 m arms.
        assert!((walked - 400.0).abs() < 1e-6, "{walked}");
        let area = isochrone(&net, from, 100.0, 10.0).unsigned_area();
        assert!(
            area > 4.0 * 100.0 * 20.0 * 0.95 && area < 4.0 * 100.0 * 20.0 * 1.2,
            "{area}"
        );
    }
}
