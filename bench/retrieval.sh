#!/usr/bin/env bash
# Retrieval under load: `gengxin serve` on the demo GeoPackage, 50 concurrent clients (wrk)
# sending a mix of the retrieval module's requests — fuzzy search, the point (hover) query,
# bbox pages, CQL2 filters (comparisons, LIKE, IN, BETWEEN, S_DWITHIN in metres, CQL2-JSON) and
# one-click summaries — in the proportions below. Prints throughput and p50/p99 latency for the
# mix and for each kind alone. Not a test: run by hand on an idle machine.
#
#   cargo build --release -p gengxin
#   apt-get install wrk
#   bash bench/retrieval.sh          # DURATION=30 CONNECTIONS=50 to change the load
#
# The first request of each layer reads it into memory (snapshots) and the first search builds
# the index; the script warms both before measuring, as a server does in its first seconds.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/gengxin
duration=${DURATION:-20}
connections=${CONNECTIONS:-50}
[ -x "$bin" ] || { echo "build first: cargo build --release -p gengxin" >&2; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

store=$("$bin" demo --build-only --data-dir demo-data)
RUST_LOG=warn "$bin" serve --store "$store" --listen 127.0.0.1:18081 >"$work/gengxin.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do curl -sf -o /dev/null http://127.0.0.1:18081/api/health && break; sleep 0.2; done

# The request mix, seeded, over central Wuhan (114.22–114.38 E, 30.52–30.64 N).
python3 - "$work" <<'EOF'
import json, random, sys, urllib.parse as up
work = sys.argv[1]
r = random.Random(42)
def pt():
    return round(r.uniform(114.22, 114.38), 5), round(r.uniform(30.52, 30.64), 5)
q = up.quote
kinds = {
    "search": [f"/api/search?q={q(s)}&limit=10" for s in
               ["洪山", "hongshan", "hsq", "武昌区", "汉口", "420111", "城中村", "社区", "wuchang",
                "jianghan", "花园", "gx2022", "小学", "卫生", "jhq", "青山", "东湖", "hkhy", "关山", "街道"]],
    "hover": [],
    "bbox": [],
    "cql2": [],
    "summary": [f"/api/summary/admin_units/{c}" for c in ["420102", "420103", "420104", "420106", "420107", "420111"]],
}
for _ in range(200):
    x, y = pt()
    kinds["hover"].append(f"/api/at?lon={x}&lat={y}&layers=admin_units,renewal_objects,parcels,buildings")
    d = 0.004
    kinds["bbox"].append(f"/ogc/collections/buildings/items?bbox={x},{y},{x + d:.5f},{y + d:.5f}&limit=100")
filters = [
    ("parcels", "land_use IN ('1001','1002') AND area_m2 > 20000"),
    ("parcels", "area_m2 BETWEEN 5000 AND 8000 AND district_code = '420111'"),
    ("buildings", "floors >= 7 AND year_built < 2000 AND S_DWITHIN(geom, POINT({x} {y}), 500, meters)"),
    ("renewal_objects", "kind = 'urban_village' AND name LIKE '%村%'"),
    ("projects", "stage = 'construction' AND progress_pct < 60 AND planned_end_date < DATE('2026-01-01')"),
    ("facilities", "category IN ('primary_school','kindergarten') AND S_INTERSECTS(geom, BBOX({x}, {y}, {x2}, {y2}))"),
    ("parcels", "NOT (land_use = '0701') AND S_DWITHIN(geom, POINT({x} {y}), 800)"),
]
for i in range(200):
    c, f = filters[i % len(filters)]
    x, y = pt()
    f = f.format(x=x, y=y, x2=round(x + 0.02, 5), y2=round(y + 0.02, 5))
    kinds["cql2"].append(f"/ogc/collections/{c}/items?limit=50&filter={q(f)}")
x, y = pt()
j = {"op": "and", "args": [{"op": ">=", "args": [{"property": "floors"}, 10]},
      {"op": "s_dwithin", "args": [{"property": "geom"}, {"type": "Point", "coordinates": [x, y]}, 1000]}]}
kinds["cql2"].append("/ogc/collections/buildings/items?limit=50&filter-lang=cql2-json&filter=" + q(json.dumps(j)))
weights = {"search": 30, "hover": 30, "bbox": 15, "cql2": 20, "summary": 5}
mix = []
for k, n in weights.items():
    for i in range(n * 10):
        mix.append(kinds[k][i % len(kinds[k])])
r.shuffle(mix)
for k, urls in list(kinds.items()) + [("mix", mix)]:
    with open(f"{work}/{k}.txt", "w") as fh:
        fh.write("\n".join(urls) + "\n")
EOF

cat >"$work/paths.lua" <<'EOF'
local paths, i = {}, 0
for line in io.lines(os.getenv("LIST")) do paths[#paths + 1] = line end
function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init() i = seed % #paths end
function request()
  i = i % #paths + 1
  return wrk.format("GET", paths[i], {["Accept-Encoding"] = "gzip"})
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.2f %.2f %.2f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
EOF

# Warm: every URL once (reads the snapshots, builds the search index), and check each is 200.
bad=0
while read -r u; do
  code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:18081$u")
  [ "$code" = 200 ] || { bad=$((bad + 1)); echo "  $code $u" >&2; }
done < <(cat "$work"/search.txt "$work"/hover.txt "$work"/bbox.txt "$work"/cql2.txt "$work"/summary.txt)
echo "warm-up: every request once; $bad not 200"
echo "demo GeoPackage $store; wrk, 2 threads, $connections connections, ${duration} s per run, $(nproc) cores"
echo "mix: 30% search, 30% hover, 15% bbox, 20% CQL2, 5% summary"
for k in mix search hover bbox cql2 summary; do
  LIST="$work/$k.txt" wrk -t2 -c"$connections" -d"${duration}s" --timeout 30s -s "$work/paths.lua" http://127.0.0.1:18081 2>&1 |
    awk -v l="$k" '/^RESULT/ { printf "%-8s %8s req/s   p50 %8.2f ms   p99 %8.2f ms   mean %8.2f ms   non-2xx %s   errors %s\n", l, $2, $3, $4, $5, $6, $7 }'
done
