#!/usr/bin/env bash
# Accessibility queries: our engine (`access`, crate gengxin-bench) against pandana 0.8 and
# cityseer 5.8.0 on the same street graph, every answer checked against an exact scipy
# Dijkstra. For every node and each of 6 POI categories: distance to the nearest POI (up to
# 2 km), and the count and weight sum of POIs within 300, 500 and 1000 m of network distance.
# Each tool runs in its own process; the harness reports load time, compute time (graph
# build + all queries), peak RSS and agreement. Not a test: run by hand on an idle machine.
#
#   bash bench/access.sh [andorra|liechtenstein|helsinki|scale|all]     (default: all)
#
# Real networks come from ../shared/data/osm/*.osm.pbf (`access prep`); `scale` generates
# graphs of 125k to 1M nodes (`access gen`, generated, not real) and runs our engine only,
# to show how time grows with size.
#
# Environment:
#   GENGXIN_BENCH_VENV   Python venv to use/create (default bench/.venv)
#   ACCESS_BIN           use this binary instead of building target/release/access
#   RESULTS_DIR          keep the harness's JSON reports here (default: a temporary directory)
#   SCALE_SIZES          node counts for `scale` (default "125000 250000 500000 1000000")
#   SCALE_PANDANA_MAX    also run pandana in `scale` up to this many nodes (default 0: never)
#   HARNESS_ARGS         extra arguments for bench/access/harness.py (e.g. "--timeout 1800")
set -euo pipefail
cd "$(dirname "$0")/.."

what=${1:-all}
case "$what" in
andorra | liechtenstein | helsinki | scale | all) ;;
*)
    echo "usage: bash bench/access.sh [andorra|liechtenstein|helsinki|scale|all]" >&2
    exit 2
    ;;
esac

venv=${GENGXIN_BENCH_VENV:-bench/.venv}
py=$venv/bin/python
if [ ! -x "$py" ]; then
    python3 -m venv "$venv"
fi
if ! "$py" - <<'EOF' 2>/dev/null; then
import importlib.metadata as md
import pandana, cityseer, scipy, networkx, geopandas, shapely  # noqa: F401
assert md.version("pandana") == "0.8", md.version("pandana")
assert md.version("cityseer") == "5.8.0", md.version("cityseer")
EOF
    "$py" -m pip install --quiet "pandana==0.8" "cityseer==5.8.0" scipy networkx geopandas shapely
fi

if [ -n "${ACCESS_BIN:-}" ]; then
    bin=$ACCESS_BIN
else
    cargo build --release --locked -p gengxin-bench --bin access
    bin=target/release/access
fi
[ -x "$bin" ] || { echo "no binary at $bin" >&2; exit 1; }

data=../shared/data/osm
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
results=${RESULTS_DIR:-$work/results}
mkdir -p "$results"
extra=()
read -r -a extra <<<"${HARNESS_ARGS:-}"

real_network() {
    local name=$1 file=$2
    echo
    echo "== $name ($file) =="
    [ -f "$data/$file" ] || { echo "missing $data/$file" >&2; return 1; }
    "$bin" prep --pbf "$data/$file" --out "$work/$name"
    "$py" bench/access/harness.py "$work/$name" --ours "$bin" --reference \
        --json "$results/$name.json" "${extra[@]}"
    rm -rf "${work:?}/$name"
}

scale() {
    local sizes=${SCALE_SIZES:-125000 250000 500000 1000000}
    local pandana_max=${SCALE_PANDANA_MAX:-0}
    local n tools
    echo
    echo "== scale: generated graphs (not real), our engine only =="
    for n in $sizes; do
        echo
        echo "-- $n nodes --"
        "$bin" gen --nodes "$n" --out "$work/gen-$n"
        tools=ours
        if [ "$n" -le "$pandana_max" ]; then tools=ours,pandana; fi
        "$py" bench/access/harness.py "$work/gen-$n" --ours "$bin" --tools "$tools" \
            --json "$results/scale-$n.json" "${extra[@]}"
        rm -rf "${work:?}/gen-$n"
    done
    # shellcheck disable=SC2086 # one argument per size
    "$py" - "$results" $sizes <<'EOF'
import json, sys
results, sizes = sys.argv[1], sys.argv[2:]
rows = []
for s in sizes:
    try:
        with open(f"{results}/scale-{s}.json", encoding="utf-8") as f:
            d = json.load(f)
    except OSError:
        continue
    ours = d["tools"].get("ours", {})
    if ours.get("compute_s") is None:
        continue
    pandana = d["tools"].get("pandana", {}).get("compute_s")
    rows.append((d["graph"]["nodes"], d["graph"]["edges"], d["graph"]["pois"], ours["compute_s"],
                 ours["process_wall_s"], ours["max_rss_kib"] / 1024, pandana))
print()
print("scale (our engine; compute = graph build + all queries):")
print(f"{'nodes':>10} {'edges':>10} {'POIs':>8} {'compute s':>10} {'us/node':>8} {'vs first':>8}"
      f" {'process s':>10} {'RSS MiB':>8} {'pandana s':>10}")
base = None
for nodes, edges, pois, comp, wall, rss, pd_s in rows:
    per = comp / nodes * 1e6
    base = base or per
    pd_txt = f"{pd_s:.2f}" if pd_s is not None else "-"
    print(f"{nodes:>10,} {edges:>10,} {pois:>8,} {comp:>10.3f} {per:>8.2f} {per / base:>7.2f}x"
          f" {wall:>10.2f} {rss:>8.0f} {pd_txt:>10}")
print("(us/node constant across sizes = linear growth)")
EOF
}

case "$what" in
andorra) real_network andorra andorra-2021-10.osm.pbf ;;
liechtenstein) real_network liechtenstein liechtenstein-2021-10.osm.pbf ;;
helsinki) real_network helsinki helsinki.osm.pbf ;;
scale) scale ;;
all)
    real_network andorra andorra-2021-10.osm.pbf
    real_network liechtenstein liechtenstein-2021-10.osm.pbf
    real_network helsinki helsinki.osm.pbf
    scale
    ;;
esac
if [ -z "${RESULTS_DIR:-}" ]; then
    echo
    echo "(set RESULTS_DIR to keep the JSON reports)"
fi
