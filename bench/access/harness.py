#!/usr/bin/env python3
"""Accessibility benchmark: our engine against pandana and cityseer, checked against scipy.

    python harness.py DIR --ours PATH [--reference] [--tools ours,pandana,cityseer]
                          [--json OUT.json] [--keep OUTDIR] [--timeout S] [--threads N]

DIR is a graph directory written by `access prep` / `access gen`:

    nodes.csv       x,y                      row i is node i, projected metres
    edges.csv       u,v,length               undirected, straight segments, metres
    categories.txt  6 category names         index = line number
    pois.csv        category,node,x,y,weight POI on node `node` (x,y are that node's)

Every tool answers the same suite, for every node n and category c:

    nearest[c][n]   network distance to the nearest POI of c if <= 2000 m, else NaN
    count[c][r][n]  POIs of c within network distance <= r, r in (300, 500, 1000)
    sum[c][r][n]    sum of the weights of those POIs

Each tool runs in its own child process (`python harness.py --worker TOOL DIR OUTDIR`, or
`$OURS run DIR OUTDIR` for our engine), so its peak memory (ru_maxrss from wait4) and wall
time are its own. Every child writes the same files: nearest.f64 [6][n], count.f64 [6][3][n],
sum.f64 [6][3][n] (little-endian float64, C order) and time.json with load_s (reading the
CSVs) and compute_s (graph construction / preprocessing + all queries, nothing else).

`--reference` adds an exact answer from scipy.sparse.csgraph.dijkstra (float64, every node,
every POI), against which every tool is checked. A count or sum that differs from the exact
one is put in a band when the exact answer at r - t and at r + t brackets it, i.e. a POI lies
within t of the radius and the tool's distance rounding put it on the other side: "fine"
(t = 0.05 m, float32 rounding) or "coarse" (t = 1 m, pandana's millimetre-per-edge
truncation); anything else is "other", an error. NaN-versus-number nearest answers are
classified the same way around 2000 m. Without the reference, tools are compared with ours.

The harness's own conventions for the peers (how their ids map to ours, which of their
defaults would change the answers) are documented in worker_pandana and worker_cityseer.

This file is a benchmark, not a test: it never fails because a tool is slow or disagrees; it
prints what it measured.
"""

from __future__ import annotations

import argparse
import json
import math
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import time

import numpy as np

RADII = (300.0, 500.0, 1000.0)
NEAREST_MAX = 2000.0
N_CAT = 6
# A POI whose exact distance is this close to a radius is a boundary case: a tool that rounds
# distances may put it on either side. Two bands: "fine" covers float32 rounding (cityseer:
# ~1e-4 m at 2 km), "coarse" covers millimetre-per-edge truncation (pandana: up to a few
# decimetres over 2 km of short OSM edges). Differences these bands explain are reported
# apart from the rest ("other"), which are errors.
DEFAULT_BOUNDARY_TOL = 0.05
DEFAULT_COARSE_TOL = 1.0
BANDS = ("fine", "coarse")
# Nearest distances further apart than this (metres) count as disagreeing nodes.
NEAREST_TOL = 0.01
# Relative tolerance for sums: pandana keeps weights as float32 when it sums, cityseer sums
# in float32.
SUM_REL_TOL = 1e-5

ALL_TOOLS = ("ours", "pandana", "cityseer", "reference")
PY_WORKERS = ("pandana", "cityseer", "reference")


# --------------------------------------------------------------------------------------------
# Loading


class Graph:
    """The arrays of a graph directory, as every Python worker sees them."""

    def __init__(self, directory: str):
        import pandas as pd

        # Every float must parse to the nearest double, as a correct Rust parser does, so the
        # POI coordinates compare equal to the node coordinates they were copied from. pandas
        # before 3.1 needs float_precision="round_trip" for that; from 3.1 on it always does
        # it (and the argument is deprecated).
        try:
            major, minor = (int(p) for p in pd.__version__.split(".")[:2])
        except ValueError:
            major, minor = 0, 0
        exact = {} if (major, minor) >= (3, 1) else {"float_precision": "round_trip"}
        nodes = pd.read_csv(
            os.path.join(directory, "nodes.csv"),
            dtype={"x": np.float64, "y": np.float64},
            **exact,
        )
        edges = pd.read_csv(
            os.path.join(directory, "edges.csv"),
            dtype={"u": np.int64, "v": np.int64, "length": np.float64},
            **exact,
        )
        pois = pd.read_csv(
            os.path.join(directory, "pois.csv"),
            dtype={
                "category": np.int64,
                "node": np.int64,
                "x": np.float64,
                "y": np.float64,
                "weight": np.float64,
            },
            **exact,
        )
        with open(os.path.join(directory, "categories.txt"), encoding="utf-8") as f:
            self.categories = [line.strip() for line in f if line.strip()]
        self.x = nodes["x"].to_numpy()
        self.y = nodes["y"].to_numpy()
        self.u = edges["u"].to_numpy()
        self.v = edges["v"].to_numpy()
        self.length = edges["length"].to_numpy()
        self.poi_cat = pois["category"].to_numpy()
        self.poi_node = pois["node"].to_numpy()
        self.poi_x = pois["x"].to_numpy()
        self.poi_y = pois["y"].to_numpy()
        self.poi_w = pois["weight"].to_numpy()
        self.n = len(self.x)

    def check(self) -> dict:
        """Facts about the input every reader of the results should know (not timed)."""
        n = self.n
        if len(self.categories) != N_CAT:
            raise SystemExit(f"categories.txt has {len(self.categories)} names, expected {N_CAT}")
        for name, arr in (("edges.csv u", self.u), ("edges.csv v", self.v), ("pois.csv node", self.poi_node)):
            if len(arr) and (arr.min() < 0 or arr.max() >= n):
                raise SystemExit(f"{name}: node index out of range 0..{n - 1}")
        if len(self.poi_cat) and (self.poi_cat.min() < 0 or self.poi_cat.max() >= N_CAT):
            raise SystemExit("pois.csv: category out of range 0..5")
        if len(self.poi_w) and not (self.poi_w > 0).all():
            raise SystemExit("pois.csv: weights must be positive")
        hyp = np.hypot(self.x[self.u] - self.x[self.v], self.y[self.u] - self.y[self.v])
        lo, hi = np.minimum(self.u, self.v), np.maximum(self.u, self.v)
        pairs = lo * n + hi
        coincident = np.unique(np.stack([self.x, self.y], axis=1), axis=0).shape[0]
        degree = np.bincount(np.concatenate([self.u, self.v]), minlength=n)
        return {
            "nodes": int(n),
            "edges": int(len(self.u)),
            "pois": int(len(self.poi_cat)),
            "pois_per_category": np.bincount(self.poi_cat, minlength=N_CAT).tolist(),
            "poi_nodes": int(len(np.unique(self.poi_node))),
            "self_loops": int((self.u == self.v).sum()),
            "parallel_edges": int(len(pairs) - len(np.unique(pairs))),
            "zero_length_edges": int((self.length == 0).sum()),
            "min_edge_length_m": float(self.length.min()) if len(self.length) else None,
            "max_abs_length_minus_hypot_m": float(np.abs(hyp - self.length).max()) if len(hyp) else 0.0,
            "coincident_node_pairs": int(n - coincident),
            "isolated_nodes": int((degree == 0).sum()),
            # cityseer snaps these POIs onto the nearest street instead (see worker_cityseer).
            "pois_on_isolated_nodes": int((degree[self.poi_node] == 0).sum()),
            "pois_off_their_node": int(
                ((self.poi_x != self.x[self.poi_node]) | (self.poi_y != self.y[self.poi_node])).sum()
            ),
        }


def maxrss_kib() -> int:
    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)


def write_results(outdir: str, nearest, count, total, timing: dict, extra: dict | None = None):
    os.makedirs(outdir, exist_ok=True)
    for name, arr in (("nearest", nearest), ("count", count), ("sum", total)):
        np.ascontiguousarray(arr, dtype="<f8").tofile(os.path.join(outdir, f"{name}.f64"))
    for name, arr in (extra or {}).items():
        np.ascontiguousarray(arr, dtype="<f8").tofile(os.path.join(outdir, f"{name}.f64"))
    with open(os.path.join(outdir, "time.json"), "w", encoding="utf-8") as f:
        json.dump(timing, f, indent=1)


def read_results(outdir: str, n: int, names=("nearest", "count", "sum")) -> dict:
    shapes = {"nearest": (N_CAT, n), "nearest_raw": (N_CAT, n)}  # the rest: (N_CAT, len(RADII), n)
    out = {}
    for name in names:
        path = os.path.join(outdir, f"{name}.f64")
        arr = np.fromfile(path, dtype="<f8")
        shape = shapes.get(name, (N_CAT, len(RADII), n))
        if arr.size != math.prod(shape):
            raise ValueError(f"{path}: {arr.size} values, expected {shape} = {math.prod(shape)}")
        out[name] = arr.reshape(shape)
    return out


# --------------------------------------------------------------------------------------------
# Workers. Each one: load (timed as load_s), then compute (timed as compute_s), then
# diagnostics that are not part of the timed work.


def worker_pandana(g: Graph, precompute_dist: float) -> tuple:
    """pandana 0.8 (C++ contraction hierarchies, OpenMP over all cores).

    Conventions, read from its source (src/graphalg.cpp, accessibility.cpp, POIIndex.h) and
    checked on test graphs:
    - Edge lengths are stored as whole millimetres, truncated (unsigned int of
      length * 1000), and at least 1 mm; a path of k edges comes out up to k mm short.
      Distances are returned as float32. So nearest is biased low, and a POI just beyond a
      radius can be counted.
    - Range and POI searches include a POI at exactly the limit (<=, in millimetres).
    - "No POI within the distance" comes back as -1 inside, replaced by max_distance.
    - Aggregation weights pass through float (float32) before summing in double.
    - Parallel edges: the shortest one is kept.
    """
    import pandas as pd
    import pandana

    n = g.n
    nearest = np.full((N_CAT, n), np.nan)
    count = np.zeros((N_CAT, len(RADII), n))
    total = np.zeros((N_CAT, len(RADII), n))
    phases = {}

    t0 = time.perf_counter()
    # Series with the default RangeIndex: pandana keys nodes by that index, so its node ids
    # are our node indices (it maps ids to internal positions 0..n-1 in the same order).
    net = pandana.Network(
        pd.Series(g.x),
        pd.Series(g.y),
        pd.Series(g.u),
        pd.Series(g.v),
        pd.DataFrame({"length": g.length}),
        twoway=True,
    )
    t1 = time.perf_counter()
    phases["network_ch_s"] = t1 - t0
    # Range queries are cached up to this distance; aggregations up to it reuse the cache.
    # Nearest-POI queries do not use it (they have their own per-category POI index).
    net.precompute(precompute_dist)
    t2 = time.perf_counter()
    phases["precompute_s"] = t2 - t1
    for c in range(N_CAT):
        sel = g.poi_cat == c
        if not sel.any():
            continue
        name = f"c{c}"
        # set_pois maps x,y to the nearest node with a KD-tree (there is no node-id variant);
        # the POIs sit exactly on their nodes, so this finds them unless nodes coincide.
        net.set_pois(
            name,
            maxdist=NEAREST_MAX,
            maxitems=1,
            x_col=pd.Series(g.poi_x[sel]),
            y_col=pd.Series(g.poi_y[sel]),
        )
        # pandana fills "no POI within the distance" with max_distance (default: the distance
        # itself, which cannot be told from a POI at exactly 2000 m); ask for -1 instead.
        near = net.nearest_pois(NEAREST_MAX, name, num_pois=1, max_distance=-1.0)
        d = near[1].to_numpy(dtype=np.float64)
        nearest[c] = np.where(d < 0, np.nan, d)
        # Aggregations: attach the weights to the known node ids directly.
        net.set(pd.Series(g.poi_node[sel]), variable=pd.Series(g.poi_w[sel]), name=name)
        for ri, r in enumerate(RADII):
            count[c, ri] = net.aggregate(r, type="count", decay="flat", name=name).to_numpy()
            total[c, ri] = net.aggregate(r, type="sum", decay="flat", name=name).to_numpy()
    t3 = time.perf_counter()
    phases["pois_and_queries_s"] = t3 - t2
    compute_s = t3 - t0

    # Not timed: where pandana's KD-tree put the POIs, and the ids of its results.
    mapped = net.get_node_ids(pd.Series(g.poi_x), pd.Series(g.poi_y)).to_numpy()
    diag = {
        "pois_mapped_to_another_node": int((mapped != g.poi_node).sum()),
        "result_index_is_node_index": bool((net.node_ids.to_numpy() == np.arange(n)).all()),
        "precompute_m": precompute_dist,
    }
    return nearest, count, total, compute_s, phases, diag


def worker_cityseer(g: Graph) -> tuple:
    """cityseer 5.8.0 (Rust, rayon over all cores), through its rustalgos API.

    Conventions (from its source and checked on test graphs): one bounded Dijkstra per node
    for each call; edge lengths measured from the geometry and kept, like distances, as
    float32; sums accumulated in float32; POIs are assigned to the two ends of their nearest
    street with along-street offsets (0 at its own node); no jitter in this version. A POI on
    a node without edges is snapped onto the nearest street (up to 100 m away) instead of
    staying alone there, which the suite does not do. Its public Python wrappers
    (layers.compute_accessibilities / compute_stats) take GeoDataFrames and call the same
    DataMap.accessibility / DataMap.stats used here.
    """
    from cityseer import rustalgos

    n = g.n
    nearest = np.full((N_CAT, n), np.nan)
    count = np.zeros((N_CAT, len(RADII), n))
    total = np.zeros((N_CAT, len(RADII), n))
    phases = {}
    names = [f"c{c}" for c in range(N_CAT)]
    # Two cityseer conventions differ from the suite's:
    # - Its traversal stops short of its largest threshold: a POI whose own node is at exactly
    #   that distance is lost (it is still found when the other end of the street it was
    #   assigned to is nearer). The suite includes it (<= 2000 m, <= 1000 m for the sums), so
    #   we ask for one metre more and turn nearest distances beyond 2000 m into NaN; the other
    #   radii are compared with <= by cityseer itself.
    # - Thresholds are whole metres turned into whole seconds at speed_m_s, then back into
    #   metres in float32. At its default 1.33333 m/s, 2000 m becomes 1500 s = 1999.995 m. At
    #   1 m/s seconds are metres.
    acc_distances = [int(r) for r in RADII] + [int(NEAREST_MAX) + 1]
    stats_distances = [int(r) for r in RADII] + [int(RADII[-1]) + 1]
    speed = 1.0

    xs = g.x.tolist()
    ys = g.y.tolist()
    us = g.u.tolist()
    vs = g.v.tolist()
    t0 = time.perf_counter()
    # Build cityseer's NetworkStructure directly (no networkx), the way
    # tools.io.network_structure_from_nx does it: street nodes, then every undirected edge
    # as two directed street edges with a straight LineString; cityseer measures each edge's
    # length from its geometry (float32).
    ns = rustalgos.graph.NetworkStructure()
    for i in range(n):
        idx = ns.add_street_node(str(i), xs[i], ys[i], True, 1.0)
        if idx != i:
            raise RuntimeError(f"cityseer gave node {i} the index {idx}")
    for e in range(len(us)):
        a, b = us[e], vs[e]
        ax, ay, bx, by = xs[a], ys[a], xs[b], ys[b]
        ns.add_street_edge(a, b, e, str(a), str(b), f"LINESTRING ({ax!r} {ay!r}, {bx!r} {by!r})")
        ns.add_street_edge(b, a, e, str(b), str(a), f"LINESTRING ({bx!r} {by!r}, {ax!r} {ay!r})")
    ns.validate()
    ns.build_edge_rtree()
    t1 = time.perf_counter()
    phases["network_s"] = t1 - t0
    # POIs as data points at their node's coordinates; cityseer assigns each point to the
    # two ends of its nearest street edge, with the along-street offset (0 at its own node).
    dm = rustalgos.data.DataMap()
    px = g.poi_x.tolist()
    py = g.poi_y.tolist()
    for k in range(len(px)):
        dm.insert(k, f"POINT ({px[k]!r} {py[k]!r})")
    dm.assign_data_to_network(ns, 100.0, 50)
    t2 = time.perf_counter()
    phases["assign_s"] = t2 - t1
    landuses = {k: names[c] for k, c in enumerate(g.poi_cat.tolist())}
    acc = dm.accessibility(
        ns,
        landuses,
        names,
        distances=acc_distances,
        speed_m_s=speed,
        decay_fn="1",
        pbar_disabled=True,
    )
    t3 = time.perf_counter()
    phases["accessibility_s"] = t3 - t2
    # One numerical map per category; entries of other categories are NaN, which
    # cityseer's stats skip.
    cats = g.poi_cat.tolist()
    ws = g.poi_w.tolist()
    maps = [{k: (ws[k] if cats[k] == c else math.nan) for k in range(len(ws))} for c in range(N_CAT)]
    st = dm.stats(
        ns,
        maps,
        distances=stats_distances,
        speed_m_s=speed,
        decay_fn="1",
        measures=["sum"],
        pbar_disabled=True,
    )
    t4 = time.perf_counter()
    phases["stats_s"] = t4 - t3

    # Unpack (results come in the order of node_indices, which we check).
    order = np.asarray(acc.node_indices)
    for c, name in enumerate(names):
        lu = acc.result[name]
        d = np.asarray(lu.distance[acc_distances[-1]], dtype=np.float64)
        nearest[c, order] = np.where(d <= NEAREST_MAX, d, np.nan)
        for ri, r in enumerate(RADII):
            count[c, ri, order] = np.asarray(lu.count[int(r)], dtype=np.float64)
    order_s = np.asarray(st.node_indices)
    for c in range(N_CAT):
        s = st.result[c].sum
        for ri, r in enumerate(RADII):
            total[c, ri, order_s] = np.asarray(s[int(r)], dtype=np.float64)
    t5 = time.perf_counter()
    phases["unpack_s"] = t5 - t4
    compute_s = t5 - t0

    # Not timed: did every POI land on its own node with offset 0?
    key_of = {key: entry.data_key_py for key, entry in dm.entries.items()}
    own = {}
    for node_idx, entries in dm.node_data_map.items():
        for key, offset, _along, _toward in entries:
            if offset <= 1e-6:
                own.setdefault(key_of[key], set()).add(node_idx)
    wrong = sum(1 for k in range(len(px)) if int(g.poi_node[k]) not in own.get(k, ()))
    diag = {
        "pois_not_on_own_node": wrong,
        "node_order_is_node_index": bool((order == np.arange(n)).all() and (order_s == np.arange(n)).all()),
        "accessibility_distances": acc_distances,
        "stats_distances": stats_distances,
        "speed_m_s": speed,
    }
    return nearest, count, total, compute_s, phases, diag


def _csgraph(g: Graph):
    """Symmetric CSR adjacency, shortest of any parallel edges, explicit zeros kept (scipy's
    csgraph treats a stored zero as an edge of length 0)."""
    from scipy.sparse import csr_matrix

    n = g.n
    keep = g.u != g.v
    a = np.concatenate([g.u[keep], g.v[keep]])
    b = np.concatenate([g.v[keep], g.u[keep]])
    w = np.concatenate([g.length[keep], g.length[keep]])
    order = np.lexsort((w, b, a))
    a, b, w = a[order], b[order], w[order]
    first = np.ones(len(a), dtype=bool)
    first[1:] = (a[1:] != a[:-1]) | (b[1:] != b[:-1])
    a, b, w = a[first], b[first], w[first]
    indptr = np.zeros(n + 1, dtype=np.int64)
    np.add.at(indptr, a + 1, 1)
    indptr = np.cumsum(indptr)
    return csr_matrix((w, b, indptr), shape=(n, n))


def worker_reference(g: Graph, tols: dict, chunk_bytes: int) -> tuple:
    """Exact answers: scipy's Dijkstra in float64 from every POI node, over every node.

    Besides the suite, writes what `compare` needs to explain differences: for each band b
    (tolerance t) the counts and sums at r - t and r + t, the count of POIs at exactly r,
    and nearest distances up to 2000 m + the coarse tolerance.
    """
    from scipy.sparse.csgraph import dijkstra

    n = g.n
    nr = len(RADII)
    top = max(tols.values())
    nearest = np.full((N_CAT, n), np.nan)
    nearest_raw = np.full((N_CAT, n), np.nan)
    count = np.zeros((N_CAT, nr, n))
    total = np.zeros((N_CAT, nr, n))
    count_tie = np.zeros((N_CAT, nr, n))
    extra = {"count_tie": count_tie, "nearest_raw": nearest_raw}
    # (count array, sum array, shift of the radius)
    targets = [(count, total, 0.0)]
    for band, t in tols.items():
        for side, shift in (("lo", -t), ("hi", t)):
            c_arr = np.zeros((N_CAT, nr, n))
            s_arr = np.zeros((N_CAT, nr, n))
            extra[f"count_{side}_{band}"] = c_arr
            extra[f"sum_{side}_{band}"] = s_arr
            targets.append((c_arr, s_arr, shift))
    phases = {}

    t0 = time.perf_counter()
    graph = _csgraph(g)
    t1 = time.perf_counter()
    phases["csr_s"] = t1 - t0
    # Nearest: one multi-source Dijkstra per category (the graph is undirected, so distance
    # from the POIs equals distance to them). limit is inclusive in scipy.
    for c in range(N_CAT):
        src = np.unique(g.poi_node[g.poi_cat == c])
        if len(src) == 0:
            continue
        d = dijkstra(graph, directed=True, indices=src, min_only=True, limit=NEAREST_MAX + top)
        d = np.where(np.isinf(d), np.nan, d)
        nearest_raw[c] = d
        nearest[c] = np.where(d <= NEAREST_MAX, d, np.nan)
    t2 = time.perf_counter()
    phases["nearest_s"] = t2 - t1
    # Counts and sums: one Dijkstra per distinct POI node (bounded at the largest radius),
    # `chunk` sources at a time; POIs sharing a node share its row.
    src, inv = np.unique(g.poi_node, return_inverse=True)
    mult = np.zeros((len(src), N_CAT))
    wsum = np.zeros((len(src), N_CAT))
    np.add.at(mult, (inv, g.poi_cat), 1.0)
    np.add.at(wsum, (inv, g.poi_cat), g.poi_w)
    # scipy returns a dense (sources x n) block; keep only the reached cells and accumulate
    # those with bincount.
    chunk = int(max(1, min(256, chunk_bytes // (8 * max(n, 1)))))
    limit = RADII[-1] + top
    for s0 in range(0, len(src), chunk):
        s1 = min(s0 + chunk, len(src))
        d = dijkstra(graph, directed=True, indices=src[s0:s1], limit=limit)
        rows, cols = np.nonzero(d <= limit)
        dist = d[rows, cols]
        del d
        rows += s0
        for ri, r in enumerate(RADII):
            for c_arr, s_arr, shift in targets:
                sel = dist <= r + shift
                rr, cc = rows[sel], cols[sel]
                for c in range(N_CAT):
                    c_arr[c, ri] += np.bincount(cc, weights=mult[rr, c], minlength=n)
                    s_arr[c, ri] += np.bincount(cc, weights=wsum[rr, c], minlength=n)
            sel = dist == r
            rr, cc = rows[sel], cols[sel]
            for c in range(N_CAT):
                count_tie[c, ri] += np.bincount(cc, weights=mult[rr, c], minlength=n)
    t3 = time.perf_counter()
    phases["counts_sums_s"] = t3 - t2
    phases["sources"] = int(len(src))
    phases["chunk"] = chunk
    compute_s = t3 - t0
    diag = {"band_tol_m": tols, "float": "float64 throughout"}
    return nearest, count, total, compute_s, phases, diag, extra


def reference_extra_names() -> list[str]:
    names = ["nearest_raw", "count_tie"]
    for band in BANDS:
        for side in ("lo", "hi"):
            names += [f"count_{side}_{band}", f"sum_{side}_{band}"]
    return names


def run_worker(args) -> int:
    tool = args.worker
    t0 = time.perf_counter()
    g = Graph(args.dir)
    load_s = time.perf_counter() - t0
    rss_loaded = maxrss_kib()
    facts = g.check()
    extra = None
    if tool == "pandana":
        nearest, count, total, compute_s, phases, diag = worker_pandana(g, args.pandana_precompute)
    elif tool == "cityseer":
        nearest, count, total, compute_s, phases, diag = worker_cityseer(g)
    elif tool == "reference":
        nearest, count, total, compute_s, phases, diag, extra = worker_reference(
            g, {"fine": args.boundary_tol, "coarse": args.coarse_tol}, args.reference_chunk_mib << 20
        )
    else:
        raise SystemExit(f"unknown worker {tool}")
    timing = {
        "load_s": load_s,
        "compute_s": compute_s,
        "phases": phases,
        "diag": diag,
        "graph": facts,
        "maxrss_after_load_kib": rss_loaded,
    }
    write_results(args.outdir, nearest, count, total, timing, extra)
    return 0


# --------------------------------------------------------------------------------------------
# Parent: run the children, measure them, compare their answers.


def run_child(cmd: list[str], outdir: str, timeout: float | None, env: dict | None = None) -> dict:
    os.makedirs(outdir, exist_ok=True)
    log_path = os.path.join(outdir, "log.txt")
    with open(log_path, "wb") as log:
        t0 = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL, env=env)
        timed_out = False
        while True:
            pid, status, ru = os.wait4(proc.pid, os.WNOHANG)
            if pid == proc.pid:
                break
            if timeout is not None and time.perf_counter() - t0 > timeout:
                proc.kill()
                timed_out = True
                pid, status, ru = os.wait4(proc.pid, 0)
                break
            time.sleep(0.02)
        wall = time.perf_counter() - t0
        proc.returncode = os.waitstatus_to_exitcode(status)
    return {
        "cmd": cmd,
        "exit": proc.returncode,
        "timed_out": timed_out,
        "wall_s": wall,
        "max_rss_kib": int(ru.ru_maxrss),
        "log": log_path,
    }


def tail(path: str, lines: int = 15) -> str:
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            return "".join(f.readlines()[-lines:])
    except OSError:
        return ""


def _json_default(x):
    if isinstance(x, np.bool_):
        return bool(x)
    if isinstance(x, np.integer):
        return int(x)
    if isinstance(x, np.floating):
        return float(x)
    raise TypeError(f"not JSON serialisable: {type(x)}")


def compare(a: dict, b: dict, ref_extra: dict | None = None, tols: dict | None = None) -> dict:
    """Differences between tool answers `a` and `b` (b is ours or the reference).

    With `ref_extra` (b is the exact reference), each differing count is also classified:
    "fine" if it lies between the exact counts at r - fine tol and r + fine tol (a POI that
    close to r, put on the other side by float rounding), else "coarse" if within the coarse
    band, else "other" (an error). Likewise for sums, and for nearest distances that are NaN
    in one answer only (exact distance within the band around 2000 m).
    """
    out = {}
    na, nb = a["nearest"], b["nearest"]
    nan_a, nan_b = np.isnan(na), np.isnan(nb)
    both = ~nan_a & ~nan_b
    diff = np.where(both, np.abs(na - nb), 0.0)
    nan_mismatch = nan_a != nan_b
    bad_cell = (diff > NEAREST_TOL) | nan_mismatch
    out["nearest"] = {
        "max_abs_diff_m": float(diff.max()) if diff.size else 0.0,
        "mean_abs_diff_m": float(diff[both].mean()) if both.any() else 0.0,
        "signed_mean_diff_m": float((na - nb)[both].mean()) if both.any() else 0.0,
        "cells_diff_gt_tol": int((diff > NEAREST_TOL).sum()),
        "nan_mismatch_cells": int(nan_mismatch.sum()),
        "nodes_differing": int(bad_cell.any(axis=0).sum()),
        "tol_m": NEAREST_TOL,
    }
    ca, cb = a["count"], b["count"]
    sa, sb = a["sum"], b["sum"]
    cdiff = ca != cb
    sdiff = np.abs(sa - sb)
    srel = sdiff / np.maximum(np.abs(sb), 1e-12)
    stol = SUM_REL_TOL * np.maximum(np.abs(sb), 1.0)
    s_off = sdiff > stol
    out["count"] = {
        "cells_differ": int(cdiff.sum()),
        "cells_differ_per_radius": [int(cdiff[:, ri].sum()) for ri in range(len(RADII))],
        "nodes_differing": int(cdiff.any(axis=(0, 1)).sum()),
        "max_abs_diff": float(np.abs(ca - cb).max()) if ca.size else 0.0,
    }
    out["sum"] = {
        "max_abs_diff": float(sdiff.max()) if sdiff.size else 0.0,
        "max_rel_diff": float(np.where(sb != 0, srel, 0).max()) if srel.size else 0.0,
        "cells_rel_diff_gt_tol": int(s_off.sum()),
        "rel_tol": SUM_REL_TOL,
    }
    if ref_extra is not None:
        tols = tols or {"fine": DEFAULT_BOUNDARY_TOL, "coarse": DEFAULT_COARSE_TOL}
        out["bands_m"] = tols
        out["count"]["exact_cells_with_poi_exactly_at_r"] = int((ref_extra["count_tie"] > 0).sum())
        c_left, s_left = cdiff.copy(), s_off.copy()
        raw = ref_extra["nearest_raw"]
        n_left = nan_mismatch.copy()
        for band in BANDS:
            lo, hi = ref_extra[f"count_lo_{band}"], ref_extra[f"count_hi_{band}"]
            slo, shi = ref_extra[f"sum_lo_{band}"], ref_extra[f"sum_hi_{band}"]
            c_in = c_left & (ca >= lo) & (ca <= hi)
            s_in = s_left & (sa >= slo - stol) & (sa <= shi + stol)
            n_in = n_left & (np.abs(raw - NEAREST_MAX) <= tols[band])
            out["count"][f"{band}_band_cells"] = int(c_in.sum())
            out["count"][f"exact_cells_with_poi_in_{band}_band"] = int((lo != hi).sum())
            out["sum"][f"{band}_band_cells"] = int(s_in.sum())
            out["nearest"][f"nan_mismatch_{band}_band_cells"] = int(n_in.sum())
            c_left &= ~c_in
            s_left &= ~s_in
            n_left &= ~n_in
        out["count"]["other_cells"] = int(c_left.sum())
        out["sum"]["other_cells"] = int(s_left.sum())
        out["nearest"]["nan_mismatch_other_cells"] = int(n_left.sum())
    return out


def _split(d: dict, prefix: str = "") -> str:
    parts = [f"{d[f'{prefix}{b}_band_cells']} {b}" for b in BANDS] + [f"{d[f'{prefix}other_cells']} other"]
    return ", ".join(parts)


def summary_lines(cmp: dict) -> list[str]:
    nr, ct, sm = cmp["nearest"], cmp["count"], cmp["sum"]
    classified = "other_cells" in ct
    near = (
        f"nearest: max |d| {nr['max_abs_diff_m']:.3g} m (mean signed {nr['signed_mean_diff_m']:+.2g} m),"
        f" {nr['nodes_differing']} nodes off by > {NEAREST_TOL} m or NaN in one only"
        f"; NaN in one only: {nr['nan_mismatch_cells']} cells"
    )
    if classified:
        near += f" ({_split(nr, 'nan_mismatch_')})"
    per_r = ", ".join(f"{int(r)} m: {k}" for r, k in zip(RADII, ct["cells_differ_per_radius"]))
    counts = f"counts: {ct['cells_differ']} cells differ ({per_r})"
    if classified:
        counts += f"; {_split(ct)}"
    sums = (
        f"sums: max |d| {sm['max_abs_diff']:.3g}, max rel {sm['max_rel_diff']:.2g},"
        f" {sm['cells_rel_diff_gt_tol']} cells off by > {SUM_REL_TOL:g} relative"
    )
    if classified:
        sums += f"; {_split(sm)}"
    lines = [near, counts, sums]
    if classified:
        b = cmp["bands_m"]
        ties = ct["exact_cells_with_poi_exactly_at_r"]
        lines.append(
            f"(bands: fine = exact distance within {b['fine']:g} m of the radius, coarse = within"
            f" {b['coarse']:g} m; exact cells with a POI at exactly r: {ties})"
        )
    return lines


def verdict(cmp: dict) -> str:
    """One word for the table: same / rounding only / errors."""
    nr, ct, sm = cmp["nearest"], cmp["count"], cmp["sum"]
    if nr["nodes_differing"] == 0 and ct["cells_differ"] == 0 and sm["cells_rel_diff_gt_tol"] == 0:
        return "same" if nr["max_abs_diff_m"] == 0 and sm["max_abs_diff"] == 0 else "same (within tolerances)"
    if "other_cells" not in ct:
        return "differs"
    coarse = cmp["bands_m"]["coarse"]
    other = ct["other_cells"] + sm["other_cells"] + nr["nan_mismatch_other_cells"]
    if nr["max_abs_diff_m"] > coarse:
        return f"ERRORS (nearest off by {nr['max_abs_diff_m']:.3g} m)"
    if other:
        return f"ERRORS ({other} cells not explained by rounding)"
    return "rounding only (see below)"


def count_lines(path: str) -> int:
    with open(path, "rb") as f:
        return sum(1 for _ in f) - 1


def main_parent(args) -> int:
    tools = [t.strip() for t in args.tools.split(",") if t.strip()]
    for t in tools:
        if t not in ALL_TOOLS:
            raise SystemExit(f"unknown tool {t!r} (known: {', '.join(ALL_TOOLS)})")
    if args.reference and "reference" not in tools:
        tools.append("reference")
    if "ours" in tools and not args.ours:
        raise SystemExit("--ours PATH is required to run our engine (or leave it out of --tools)")
    n = count_lines(os.path.join(args.dir, "nodes.csv"))
    graph_info = {
        "dir": os.path.abspath(args.dir),
        "nodes": n,
        "edges": count_lines(os.path.join(args.dir, "edges.csv")),
        "pois": count_lines(os.path.join(args.dir, "pois.csv")),
    }
    work = args.keep or tempfile.mkdtemp(prefix="access-bench-")
    os.makedirs(work, exist_ok=True)
    me = os.path.abspath(__file__)
    print(
        f"graph {args.dir}: {n:,} nodes, {graph_info['edges']:,} edges, {graph_info['pois']:,} POIs;"
        f" {os.cpu_count()} cores; outputs in {work}",
        flush=True,
    )

    env = None
    if args.threads:
        # pandana uses OpenMP, cityseer rayon's global pool; scipy's Dijkstra is one thread.
        env = dict(os.environ)
        for var in ("OMP_NUM_THREADS", "RAYON_NUM_THREADS"):
            env[var] = str(args.threads)
        print(f"threads per tool: {args.threads} (OMP_NUM_THREADS, RAYON_NUM_THREADS)", flush=True)
    runs: dict[str, dict] = {}
    results: dict[str, dict] = {}
    ref_extra = None
    for tool in tools:
        outdir = os.path.join(work, tool)
        if os.path.isdir(outdir):
            shutil.rmtree(outdir)
        os.makedirs(outdir)
        if tool == "ours":
            cmd = [args.ours, "run", args.dir, outdir]
        else:
            cmd = [sys.executable, me, "--worker", tool, args.dir, outdir]
            cmd += ["--pandana-precompute", str(args.pandana_precompute)]
            cmd += ["--boundary-tol", str(args.boundary_tol), "--coarse-tol", str(args.coarse_tol)]
        load_before = os.getloadavg()[0]
        print(f"running {tool} (1-min load average before: {load_before:.2f}) ...", flush=True)
        run = run_child(cmd, outdir, args.timeout, env)
        run["loadavg_1min_before"] = load_before
        runs[tool] = run
        if run["exit"] != 0 or run["timed_out"]:
            why = "timed out" if run["timed_out"] else f"exit {run['exit']}"
            print(f"  {tool} failed ({why}); last lines of {run['log']}:\n{tail(run['log'])}", flush=True)
            continue
        try:
            with open(os.path.join(outdir, "time.json"), encoding="utf-8") as f:
                run["time"] = json.load(f)
            results[tool] = read_results(outdir, n)
            if tool == "reference":
                ref_extra = read_results(outdir, n, reference_extra_names())
        except (OSError, ValueError, json.JSONDecodeError) as e:
            print(f"  {tool}: unreadable output: {e}", flush=True)
            run["error"] = str(e)
            results.pop(tool, None)
            continue
        t = run["time"]
        print(
            f"  {tool}: load {t.get('load_s', float('nan')):.3f} s, compute {t['compute_s']:.3f} s,"
            f" process {run['wall_s']:.2f} s, peak RSS {run['max_rss_kib'] / 1024:.0f} MiB",
            flush=True,
        )

    comparisons: dict[str, dict] = {}
    for tool in results:
        if tool not in ("ours", "reference") and "ours" in results:
            comparisons[f"{tool} vs ours"] = compare(results[tool], results["ours"])
        if tool != "reference" and "reference" in results:
            comparisons[f"{tool} vs reference"] = compare(
                results[tool],
                results["reference"],
                ref_extra,
                {"fine": args.boundary_tol, "coarse": args.coarse_tol},
            )

    # The table.
    ours_compute = runs.get("ours", {}).get("time", {}).get("compute_s") if "ours" in results else None
    agree_col = "vs exact" if "reference" in results else "vs ours"
    print()
    print(
        f"{'tool':<10} {'load s':>8} {'compute s':>10} {'process s':>10} {'peak RSS MiB':>13}"
        f" {'time/ours':>10}  {agree_col}"
    )
    for tool in tools:
        run = runs.get(tool, {})
        if tool not in results:
            print(f"{tool:<10} {'failed':>8}")
            continue
        t = run["time"]
        ratio = "-"
        if ours_compute and tool != "ours":
            ratio = f"{t['compute_s'] / ours_compute:.1f}x"
        elif tool == "ours":
            ratio = "1.0x"
        if "reference" in results:
            cmp = comparisons.get(f"{tool} vs reference")
        else:
            cmp = comparisons.get(f"{tool} vs ours")
        agree = verdict(cmp) if cmp else "-"
        print(
            f"{tool:<10} {t.get('load_s', float('nan')):>8.3f} {t['compute_s']:>10.3f} {run['wall_s']:>10.2f}"
            f" {run['max_rss_kib'] / 1024:>13.0f} {ratio:>10}  {agree}"
        )
    if comparisons:
        print()
        print("agreement (nearest, counts, sums):")
        for name, cmp in comparisons.items():
            print(f"  {name}:")
            for line in summary_lines(cmp):
                print(f"    {line}")
    print()
    print("notes:")
    if "ours" in results or "reference" in results:
        print("  compute = graph construction/preprocessing + all queries; load = reading the CSVs;")
        print("  process = the child's whole life (interpreter start, imports, load, compute, writing)")
    for tool in results:
        t = runs[tool]["time"]
        notes = []
        if t.get("phases"):
            phases = [f"{k} {v:.3f}" if isinstance(v, float) else f"{k} {v}" for k, v in t["phases"].items()]
            notes.append("phases " + ", ".join(phases))
        if t.get("diag"):
            notes.append("diag " + ", ".join(f"{k}={v}" for k, v in t["diag"].items()))
        if t.get("maxrss_after_load_kib"):
            notes.append(f"RSS after imports+load {t['maxrss_after_load_kib'] / 1024:.0f} MiB")
        if notes:
            print(f"  {tool}: " + "; ".join(notes))
    facts = next((runs[t]["time"].get("graph") for t in results if runs[t]["time"].get("graph")), None)
    if facts:
        print("  input: " + ", ".join(f"{k}={v}" for k, v in facts.items()))

    if args.json:
        doc = {
            "graph": graph_info,
            "input_facts": facts,
            "cores": os.cpu_count(),
            "threads_per_tool": args.threads,
            "suite": {"radii_m": list(RADII), "nearest_max_m": NEAREST_MAX, "categories": N_CAT},
            "tools": {
                tool: {
                    "exit": run["exit"],
                    "timed_out": run["timed_out"],
                    "process_wall_s": run["wall_s"],
                    "max_rss_kib": run["max_rss_kib"],
                    "loadavg_1min_before": run["loadavg_1min_before"],
                    "load_s": run.get("time", {}).get("load_s"),
                    "compute_s": run.get("time", {}).get("compute_s"),
                    "compute_vs_ours": (
                        run["time"]["compute_s"] / ours_compute if ours_compute and "time" in run else None
                    ),
                    "time_json": run.get("time"),
                    "cmd": run["cmd"],
                }
                for tool, run in runs.items()
            },
            "comparisons": comparisons,
        }
        with open(args.json, "w", encoding="utf-8") as f:
            json.dump(doc, f, indent=1, default=_json_default)
        print(f"\nwrote {args.json}")
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)
    return 0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("dir", help="graph directory (nodes.csv, edges.csv, categories.txt, pois.csv)")
    ap.add_argument("outdir", nargs="?", help=argparse.SUPPRESS)
    ap.add_argument("--ours", help="path of our `access` binary (run as: PATH run DIR OUTDIR)")
    ap.add_argument("--reference", action="store_true", help="also compute the exact scipy answer")
    ap.add_argument("--tools", default="ours,pandana,cityseer", help="comma-separated: ours,pandana,cityseer")
    ap.add_argument("--json", help="write all figures to this JSON file")
    ap.add_argument("--keep", metavar="OUTDIR", help="keep every tool's output files under OUTDIR")
    ap.add_argument("--timeout", type=float, help="kill a tool after this many seconds")
    ap.add_argument(
        "--threads",
        type=int,
        help="set OMP_NUM_THREADS and RAYON_NUM_THREADS for every tool (default: each uses all cores)",
    )
    ap.add_argument(
        "--boundary-tol",
        type=float,
        default=DEFAULT_BOUNDARY_TOL,
        help=f"fine band: metres around a radius for float rounding (default {DEFAULT_BOUNDARY_TOL})",
    )
    ap.add_argument(
        "--coarse-tol",
        type=float,
        default=DEFAULT_COARSE_TOL,
        help=f"coarse band: metres around a radius for coarser rounding (default {DEFAULT_COARSE_TOL})",
    )
    ap.add_argument(
        "--pandana-precompute",
        type=float,
        default=RADII[-1],
        help="distance for pandana's precompute() (default: the largest aggregation radius, 1000;"
        " nearest-POI queries do not use the cache)",
    )
    ap.add_argument(
        "--reference-chunk-mib", type=int, default=256, help="memory per block of reference Dijkstra rows"
    )
    ap.add_argument("--worker", choices=PY_WORKERS, help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.worker:
        if not args.outdir:
            ap.error("--worker needs DIR OUTDIR")
        return run_worker(args)
    return main_parent(args)


if __name__ == "__main__":
    sys.exit(main())
