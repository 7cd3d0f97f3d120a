//! The walking network: an undirected graph built from road lines in projected metres, with
//! every edge's geometry and length kept, and the snapping of points onto its edges.
//!
//! Nodes are where lines meet: a vertex shared by two or more lines (OpenStreetMap ways share
//! their junction nodes), a line's end, and — when asked — the crossing of two lines that share
//! no vertex (road layers drawn without topology) and the foot of a dangling end that stops
//! short of another road. Chains through nodes of degree two are merged into one edge whose
//! geometry and length are the chain's, so simplification changes no distance.
//!
//! Points (homes, facilities) are snapped to the nearest point of the nearest edge, not to a
//! node: a [`Location`] is an edge, the offset along it from its first node, and the straight
//! access leg from the point to the edge. Distances between locations count both.

use std::collections::HashMap;

use geo::line_intersection::{LineIntersection, line_intersection};
use geo::{Coord, Line, LineString};
use rstar::primitives::{GeomWithData, Line as RLine};
use rstar::{AABB, RTree, RTreeObject};

/// An undirected edge between two nodes, its length the length of its geometry.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Edge {
    pub u: u32,
    pub v: u32,
    pub length: f64,
}

/// One end of an edge as seen from a node: the node across it, the edge and its length.
#[derive(Debug, Clone, Copy)]
pub struct Arc {
    pub to: u32,
    pub edge: u32,
    pub length: f64,
}

/// A point placed on the network: on `edge`, `offset` metres from the edge's `u` along its
/// geometry, `access` metres (straight) from where the point really is.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Location {
    pub edge: u32,
    pub offset: f64,
    pub access: f64,
}

/// How to build a network from lines.
#[derive(Debug, Clone, Copy)]
pub struct BuildOptions {
    /// Also make nodes where two lines cross without a shared vertex (layers drawn without
    /// topology). Leave off for OpenStreetMap, whose bridges cross roads without meeting them.
    pub split_crossings: bool,
    /// Join a dangling line end to the nearest other line within this many metres (0: never).
    pub snap_tolerance_m: f64,
    /// Merge chains through nodes of degree two.
    pub simplify: bool,
}

impl Default for BuildOptions {
    fn default() -> Self {
        BuildOptions {
            split_crossings: false,
            snap_tolerance_m: 0.0,
            simplify: true,
        }
    }
}

/// What building a network did with its lines.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct BuildReport {
    pub lines: usize,
    /// Lines with fewer than two distinct vertices, left out.
    pub degenerate_lines: usize,
    pub crossings_split: usize,
    pub dangles_joined: usize,
    pub nodes: usize,
    pub edges: usize,
    /// Connected components and the share of nodes in the largest.
    pub components: usize,
    pub largest_component_share: f64,
}

/// An undirected walking network in projected metres.
#[derive(Debug, Clone)]
pub struct Network {
    xy: Vec<Coord>,
    first: Vec<u32>,
    arcs: Vec<Arc>,
    edges: Vec<Edge>,
    shape_first: Vec<u32>,
    shape: Vec<Coord>,
}

impl Network {
    /// A network of straight edges between given nodes (`(u, v)` index `nodes`); lengths are
    /// the straight distances. Edges whose ends are one node are left out.
    pub fn from_segments(nodes: Vec<Coord>, segments: &[(u32, u32)]) -> Network {
        let mut edges = Vec::with_capacity(segments.len());
        let mut shape = Vec::with_capacity(segments.len() * 2);
        let mut shape_first = Vec::with_capacity(segments.len() + 1);
        shape_first.push(0);
        for &(u, v) in segments {
            if u == v {
                continue;
            }
            let (a, b) = (nodes[u as usize], nodes[v as usize]);
            edges.push(Edge {
                u,
                v,
                length: dist(a, b),
            });
            shape.extend([a, b]);
            shape_first.push(shape.len() as u32);
        }
        Network::assemble(nodes, edges, shape_first, shape)
    }

    /// Builds a network from road lines in projected metres.
    pub fn from_lines(lines: &[LineString], opts: BuildOptions) -> (Network, BuildReport) {
        let mut report = BuildReport {
            lines: lines.len(),
            ..Default::default()
        };
        let mut polylines: Vec<Vec<Coord>> = Vec::with_capacity(lines.len());
        for l in lines {
            let mut p: Vec<Coord> = Vec::with_capacity(l.0.len());
            for &c in &l.0 {
                if c.x.is_finite() && c.y.is_finite() && p.last() != Some(&c) {
                    p.push(c);
                }
            }
            if p.len() < 2 {
                report.degenerate_lines += 1;
            } else {
                polylines.push(p);
            }
        }
        if opts.split_crossings {
            report.crossings_split = split_crossings(&mut polylines);
        }
        if opts.snap_tolerance_m > 0.0 {
            report.dangles_joined = join_dangles(&mut polylines, opts.snap_tolerance_m);
        }
        let net = Network::from_polylines(&polylines, opts.simplify);
        report.nodes = net.node_count();
        report.edges = net.edge_count();
        let (components, largest) = net.components();
        report.components = components;
        report.largest_component_share = if net.node_count() == 0 {
            0.0
        } else {
            largest as f64 / net.node_count() as f64
        };
        (net, report)
    }

    /// Nodes where polylines share a vertex or end; edges are the pieces between them.
    fn from_polylines(polylines: &[Vec<Coord>], simplify: bool) -> Network {
        // How often each vertex occurs, and whether it ends a line.
        let mut seen: HashMap<(u64, u64), (u32, bool)> = HashMap::new();
        for p in polylines {
            let last = p.len() - 1;
            for (i, c) in p.iter().enumerate() {
                let e = seen.entry(key(*c)).or_insert((0, false));
                e.0 += 1;
                e.1 |= i == 0 || i == last;
            }
        }
        let mut ids: HashMap<(u64, u64), u32> = HashMap::new();
        let mut xy: Vec<Coord> = Vec::new();
        let mut node_of = |c: Coord, xy: &mut Vec<Coord>| -> Option<u32> {
            let (count, end) = seen[&key(c)];
            (count > 1 || end).then(|| {
                *ids.entry(key(c)).or_insert_with(|| {
                    xy.push(c);
                    xy.len() as u32 - 1
                })
            })
        };
        let mut edges = Vec::new();
        let mut shape_first = vec![0u32];
        let mut shape: Vec<Coord> = Vec::new();
        for p in polylines {
            let mut from = node_of(p[0], &mut xy).expect("a line's end is a node");
            let mut piece = vec![p[0]];
            let mut length = 0.0;
            for w in p.windows(2) {
                length += dist(w[0], w[1]);
                piece.push(w[1]);
                if let Some(to) = node_of(w[1], &mut xy) {
                    if length > 0.0 {
                        edges.push(Edge {
                            u: from,
                            v: to,
                            length,
                        });
                        shape.extend_from_slice(&piece);
                        shape_first.push(shape.len() as u32);
                    }
                    from = to;
                    piece = vec![w[1]];
                    length = 0.0;
                }
            }
        }
        let net = Network::assemble(xy, edges, shape_first, shape);
        if simplify { net.simplified() } else { net }
    }

    fn assemble(
        xy: Vec<Coord>,
        edges: Vec<Edge>,
        shape_first: Vec<u32>,
        shape: Vec<Coord>,
    ) -> Network {
        let n = xy.len();
        let mut first = vec![0u32; n + 1];
        for e in &edges {
            first[e.u as usize + 1] += 1;
            first[e.v as usize + 1] += 1;
        }
        for i in 0..n {
            first[i + 1] += first[i];
        }
        let mut fill = first.clone();
        let mut arcs = vec![
            Arc {
                to: 0,
                edge: 0,
                length: 0.0
            };
            first[n] as usize
        ];
        for (i, e) in edges.iter().enumerate() {
            for (a, b) in [(e.u, e.v), (e.v, e.u)] {
                arcs[fill[a as usize] as usize] = Arc {
                    to: b,
                    edge: i as u32,
                    length: e.length,
                };
                fill[a as usize] += 1;
            }
        }
        Network {
            xy,
            first,
            arcs,
            edges,
            shape_first,
            shape,
        }
    }

    /// Merges every chain through nodes of degree two into one edge (rings with no other node
    /// keep one of theirs). Geometry and length are the chain's.
    fn simplified(&self) -> Network {
        let n = self.node_count();
        let keep: Vec<bool> = (0..n as u32).map(|v| self.degree(v) != 2).collect();
        let mut used = vec![false; self.edge_count()];
        let mut map = vec![u32::MAX; n];
        let mut xy = Vec::new();
        let mut edges = Vec::new();
        let mut shape_first = vec![0u32];
        let mut shape: Vec<Coord> = Vec::new();
        let mut id = |v: u32, xy: &mut Vec<Coord>| {
            if map[v as usize] == u32::MAX {
                map[v as usize] = xy.len() as u32;
                xy.push(self.xy[v as usize]);
            }
            map[v as usize]
        };
        // Chains from kept nodes first, then rings of degree-two nodes only.
        let starts = (0..n as u32)
            .filter(|&v| keep[v as usize])
            .chain((0..n as u32).filter(|&v| !keep[v as usize]));
        for start in starts {
            for a in self.arcs(start) {
                if used[a.edge as usize] {
                    continue;
                }
                let mut coords: Vec<Coord> = Vec::new();
                let mut length = 0.0;
                let (mut at, mut arc) = (start, *a);
                loop {
                    used[arc.edge as usize] = true;
                    let g = self.edge_shape(arc.edge);
                    let forward = self.edges[arc.edge as usize].u == at;
                    let skip = usize::from(!coords.is_empty());
                    if forward {
                        coords.extend(g.iter().skip(skip));
                    } else {
                        coords.extend(g.iter().rev().skip(skip));
                    }
                    length += arc.length;
                    at = arc.to;
                    if keep[at as usize] || at == start {
                        break;
                    }
                    match self.arcs(at).iter().find(|b| !used[b.edge as usize]) {
                        Some(b) => arc = *b,
                        None => break,
                    }
                }
                let u = id(start, &mut xy);
                let v = id(at, &mut xy);
                edges.push(Edge { u, v, length });
                shape.extend_from_slice(&coords);
                shape_first.push(shape.len() as u32);
            }
        }
        Network::assemble(xy, edges, shape_first, shape)
    }

    pub fn node_count(&self) -> usize {
        self.xy.len()
    }

    pub fn edge_count(&self) -> usize {
        self.edges.len()
    }

    pub fn node(&self, v: u32) -> Coord {
        self.xy[v as usize]
    }

    pub fn edge(&self, e: u32) -> Edge {
        self.edges[e as usize]
    }

    pub fn edges(&self) -> &[Edge] {
        &self.edges
    }

    /// The edges leaving a node.
    pub fn arcs(&self, v: u32) -> &[Arc] {
        &self.arcs[self.first[v as usize] as usize..self.first[v as usize + 1] as usize]
    }

    pub fn degree(&self, v: u32) -> usize {
        (self.first[v as usize + 1] - self.first[v as usize]) as usize
    }

    /// An edge's geometry, from `u` to `v`.
    pub fn edge_shape(&self, e: u32) -> &[Coord] {
        &self.shape
            [self.shape_first[e as usize] as usize..self.shape_first[e as usize + 1] as usize]
    }

    /// A node as a location: on its first edge, at that edge's end. `None` for a node with no
    /// edge.
    pub fn node_location(&self, v: u32) -> Option<Location> {
        let a = self.arcs(v).first()?;
        let e = self.edges[a.edge as usize];
        Some(Location {
            edge: a.edge,
            offset: if e.u == v { 0.0 } else { e.length },
            access: 0.0,
        })
    }

    /// The point at `offset` metres along an edge from its `u`.
    pub fn point_at(&self, e: u32, offset: f64) -> Coord {
        let g = self.edge_shape(e);
        let mut left = offset.max(0.0);
        for w in g.windows(2) {
            let l = dist(w[0], w[1]);
            if left <= l {
                let t = if l > 0.0 { left / l } else { 0.0 };
                return lerp(w[0], w[1], t);
            }
            left -= l;
        }
        *g.last().expect("an edge has two vertices")
    }

    /// The part of an edge between two offsets from its `u` (`from <= to`).
    pub fn edge_part(&self, e: u32, from: f64, to: f64) -> LineString {
        let g = self.edge_shape(e);
        let mut out = vec![self.point_at(e, from)];
        let mut at = 0.0;
        for w in g.windows(2) {
            at += dist(w[0], w[1]);
            if at > from && at < to {
                out.push(w[1]);
            }
        }
        out.push(self.point_at(e, to));
        out.dedup();
        LineString::new(out)
    }

    /// How many connected components, and the node count of the largest.
    pub fn components(&self) -> (usize, usize) {
        let n = self.node_count();
        let mut comp = vec![u32::MAX; n];
        let (mut count, mut largest) = (0, 0);
        let mut stack = Vec::new();
        for s in 0..n {
            if comp[s] != u32::MAX {
                continue;
            }
            comp[s] = count as u32;
            stack.push(s as u32);
            let mut size = 0;
            while let Some(v) = stack.pop() {
                size += 1;
                for a in self.arcs(v) {
                    if comp[a.to as usize] == u32::MAX {
                        comp[a.to as usize] = count as u32;
                        stack.push(a.to);
                    }
                }
            }
            largest = largest.max(size);
            count += 1;
        }
        (count, largest)
    }

    /// An index for snapping points onto this network's edges.
    pub fn snapper(&self) -> Snapper {
        let mut items = Vec::with_capacity(self.shape.len());
        for e in 0..self.edge_count() as u32 {
            let mut before = 0.0;
            for w in self.edge_shape(e).windows(2) {
                items.push(GeomWithData::new(
                    RLine::new([w[0].x, w[0].y], [w[1].x, w[1].y]),
                    (e, before),
                ));
                before += dist(w[0], w[1]);
            }
        }
        Snapper {
            tree: RTree::bulk_load(items),
        }
    }
}

/// Edge segments with their edge and the length of the edge before them.
type EdgeSegments = RTree<GeomWithData<RLine<[f64; 2]>, (u32, f64)>>;

/// Snaps points to the nearest point of the nearest edge.
pub struct Snapper {
    tree: EdgeSegments,
}

impl Snapper {
    /// The nearest place on the network to `p`, if within `max_access` metres.
    pub fn snap(&self, p: Coord, max_access: f64) -> Option<Location> {
        let q = [p.x, p.y];
        let hit = self.tree.nearest_neighbor(&q)?;
        let (a, b) = (hit.geom().from, hit.geom().to);
        let (a, b) = (Coord { x: a[0], y: a[1] }, Coord { x: b[0], y: b[1] });
        let t = project(a, b, p);
        let foot = lerp(a, b, t);
        let access = dist(p, foot);
        (access <= max_access).then(|| Location {
            edge: hit.data.0,
            offset: hit.data.1 + t * dist(a, b),
            access,
        })
    }
}

fn key(c: Coord) -> (u64, u64) {
    // +0.0 and -0.0 are one place.
    ((c.x + 0.0).to_bits(), (c.y + 0.0).to_bits())
}

pub(crate) fn dist(a: Coord, b: Coord) -> f64 {
    (a.x - b.x).hypot(a.y - b.y)
}

fn lerp(a: Coord, b: Coord, t: f64) -> Coord {
    Coord {
        x: a.x + (b.x - a.x) * t,
        y: a.y + (b.y - a.y) * t,
    }
}

/// The parameter (0..=1) of the point of segment `a`–`b` nearest to `p`.
fn project(a: Coord, b: Coord, p: Coord) -> f64 {
    let (dx, dy) = (b.x - a.x, b.y - a.y);
    let l2 = dx * dx + dy * dy;
    if l2 == 0.0 {
        return 0.0;
    }
    (((p.x - a.x) * dx + (p.y - a.y) * dy) / l2).clamp(0.0, 1.0)
}

type SegmentTree = RTree<GeomWithData<RLine<[f64; 2]>, (u32, u32)>>;

fn segment_tree(polylines: &[Vec<Coord>]) -> SegmentTree {
    let mut items = Vec::new();
    for (i, p) in polylines.iter().enumerate() {
        for (j, w) in p.windows(2).enumerate() {
            items.push(GeomWithData::new(
                RLine::new([w[0].x, w[0].y], [w[1].x, w[1].y]),
                (i as u32, j as u32),
            ));
        }
    }
    RTree::bulk_load(items)
}

/// Points to insert into segments: `(line, segment) -> [(parameter, point)]`.
type Insertions = HashMap<(u32, u32), Vec<(f64, Coord)>>;

fn insert_points(polylines: &mut [Vec<Coord>], insertions: Insertions) {
    let mut by_line: HashMap<u32, Vec<(u32, f64, Coord)>> = HashMap::new();
    for ((i, j), pts) in insertions {
        by_line
            .entry(i)
            .or_default()
            .extend(pts.into_iter().map(|(t, c)| (j, t, c)));
    }
    for (i, mut pts) in by_line {
        pts.sort_by(|a, b| (a.0, a.1).partial_cmp(&(b.0, b.1)).expect("finite"));
        let old = std::mem::take(&mut polylines[i as usize]);
        let mut out = Vec::with_capacity(old.len() + pts.len());
        let mut k = 0;
        for (j, c) in old.iter().enumerate() {
            out.push(*c);
            while k < pts.len() && pts[k].0 as usize == j {
                if out.last() != Some(&pts[k].2) && old.get(j + 1) != Some(&pts[k].2) {
                    out.push(pts[k].2);
                }
                k += 1;
            }
        }
        polylines[i as usize] = out;
    }
}

/// Adds a vertex to both lines wherever two segments cross or touch without a shared vertex.
fn split_crossings(polylines: &mut [Vec<Coord>]) -> usize {
    let tree = segment_tree(polylines);
    let mut insertions: Insertions = HashMap::new();
    let mut count = 0;
    for s in tree.iter() {
        let (i, j) = s.data;
        let env = s.geom().envelope();
        for o in tree.locate_in_envelope_intersecting(&env) {
            let (k, l) = o.data;
            if (k, l) <= (i, j) || (i == k && l.abs_diff(j) <= 1) {
                continue;
            }
            let p = Line::new(s.geom().from, s.geom().to);
            let q = Line::new(o.geom().from, o.geom().to);
            let Some(LineIntersection::SinglePoint {
                intersection: x, ..
            }) = line_intersection(p, q)
            else {
                continue;
            };
            let mut added = false;
            for (line, seg, (a, b)) in [(i, j, (p.start, p.end)), (k, l, (q.start, q.end))] {
                if x != a && x != b {
                    insertions
                        .entry((line, seg))
                        .or_default()
                        .push((project(a, b, x), x));
                    added = true;
                }
            }
            count += usize::from(added);
        }
    }
    insert_points(polylines, insertions);
    count
}

/// Joins each line end that meets no other line to the nearest point of another line within
/// `tolerance` metres, by a short connecting line.
fn join_dangles(polylines: &mut Vec<Vec<Coord>>, tolerance: f64) -> usize {
    let mut count: HashMap<(u64, u64), u32> = HashMap::new();
    for p in polylines.iter() {
        for c in p {
            *count.entry(key(*c)).or_default() += 1;
        }
    }
    let tree = segment_tree(polylines);
    let mut insertions: Insertions = HashMap::new();
    let mut connectors = Vec::new();
    let mut joined = 0;
    for (i, p) in polylines.iter().enumerate() {
        for end in [p[0], p[p.len() - 1]] {
            if count[&key(end)] > 1 {
                continue;
            }
            let env = AABB::from_corners(
                [end.x - tolerance, end.y - tolerance],
                [end.x + tolerance, end.y + tolerance],
            );
            let best = tree
                .locate_in_envelope_intersecting(&env)
                .filter(|s| s.data.0 != i as u32)
                .map(|s| {
                    let (a, b) = (s.geom().from, s.geom().to);
                    let (a, b) = (Coord { x: a[0], y: a[1] }, Coord { x: b[0], y: b[1] });
                    let t = project(a, b, end);
                    (dist(end, lerp(a, b, t)), s.data, t, a, b)
                })
                .filter(|c| c.0 <= tolerance)
                .min_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
            let Some((d, seg, t, a, b)) = best else {
                continue;
            };
            let foot = lerp(a, b, t);
            if foot != a && foot != b {
                insertions.entry(seg).or_default().push((t, foot));
            }
            if d > 0.0 {
                connectors.push(vec![end, foot]);
            }
            *count.entry(key(end)).or_default() += 1;
            joined += 1;
        }
    }
    insert_points(polylines, insertions);
    polylines.extend(connectors);
    joined
}

#[cfg(test)]
mod tests {
    use super::*;
    use geo::line_string;

    #[test]
    fn shared_vertices_make_nodes_and_chains_merge() {
        // A plus sign made of two lines sharing the centre vertex, one with an extra bend.
        let a = line_string![(x: -10.0, y: 0.0), (x: -5.0, y: 1.0), (x: 0.0, y: 0.0), (x: 10.0, y: 0.0)];
        let b = line_string![(x: 0.0, y: -10.0), (x: 0.0, y: 0.0), (x: 0.0, y: 10.0)];
        let (net, report) = Network::from_lines(&[a, b], BuildOptions::default());
        assert_eq!(report.nodes, 5);
        assert_eq!(report.edges, 4);
        assert_eq!(report.components, 1);
        let total: f64 = net.edges().iter().map(|e| e.length).sum();
        let expect = 2.0 * 26f64.sqrt() + 10.0 + 20.0;
        assert!((total - expect).abs() < 1e-9, "{total} {expect}");
        // The bent edge keeps its three vertices.
        assert!((0..4).any(|e| net.edge_shape(e).len() == 3));
    }

    #[test]
    fn crossings_without_vertices_split_only_when_asked() {
        let a = line_string![(x: -10.0, y: 0.0), (x: 10.0, y: 0.0)];
        let b = line_string![(x: 0.0, y: -10.0), (x: 0.0, y: 10.0)];
        let (_, plain) = Network::from_lines(&[a.clone(), b.clone()], BuildOptions::default());
        assert_eq!((plain.nodes, plain.components), (4, 2));
        let opts = BuildOptions {
            split_crossings: true,
            ..Default::default()
        };
        let (_, split) = Network::from_lines(&[a, b], opts);
        assert_eq!((split.nodes, split.edges, split.components), (5, 4, 1));
        assert_eq!(split.crossings_split, 1);
    }

    #[test]
    fn dangling_ends_join_the_nearest_line_within_tolerance() {
        let a = line_string![(x: -10.0, y: 0.0), (x: 10.0, y: 0.0)];
        let b = line_string![(x: 3.0, y: 2.0), (x: 3.0, y: 20.0)];
        let c = line_string![(x: -3.0, y: 9.0), (x: -3.0, y: 20.0)];
        let opts = BuildOptions {
            snap_tolerance_m: 5.0,
            ..Default::default()
        };
        let (net, report) = Network::from_lines(&[a, b, c], opts);
        // b joins a (2 m away); c is 9 m away and stays apart.
        assert_eq!(report.components, 2);
        let total: f64 = net.edges().iter().map(|e| e.length).sum();
        assert!((total - (20.0 + 18.0 + 2.0 + 11.0)).abs() < 1e-9, "{total}");
    }

    #[test]
    fn points_snap_to_edges_with_offset_and_access() {
        let a = line_string![(x: 0.0, y: 0.0), (x: 10.0, y: 0.0), (x: 10.0, y: 10.0)];
        let (net, _) = Network::from_lines(&[a], BuildOptions::default());
        let s = net.snapper();
        let at = s.snap(Coord { x: 13.0, y: 4.0 }, 100.0).unwrap();
        let e = net.edge(at.edge);
        let from_start = if net.node(e.u) == (Coord { x: 0.0, y: 0.0 }) {
            at.offset
        } else {
            e.length - at.offset
        };
        assert!((from_start - 14.0).abs() < 1e-9);
        assert!((at.access - 3.0).abs() < 1e-9);
        assert!(s.snap(Coord { x: 50.0, y: 50.0 }, 10.0).is_none());
        let part = net.edge_part(at.edge, 5.0, 15.0);
        assert_eq!(part.0.len(), 3);
    }
}
