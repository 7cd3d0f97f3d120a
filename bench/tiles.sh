#!/usr/bin/env bash
# Vector tile serving: `gengxin serve` against Martin (the Rust tile server of MapLibre), both on
# the same PostGIS table (the demo's 216,326 buildings, renewal.buildings), the same tiles asked
# by the same load tool (wrk) in one run. Prints requests/s and latency percentiles per server,
# with tile caches off (every request cuts a tile) and on (each server's default cache).
# Not a test: run by hand on an idle machine.
#
#   cargo build --release -p gengxin
#   cargo install martin --version 1.14.0 --locked --no-default-features --features postgres
#   apt-get install wrk
#   bash bench/tiles.sh            # DURATION=30 CONNECTIONS=32 to change the load
#
# Needs a PostgreSQL server with PostGIS (GENGXIN_TEST_PG, a superuser URL; default the local
# one with trust auth). It makes the database gengxin_bench_tiles (kept for reruns; drop it by
# hand). The two servers do not do the same work to the letter: Gengxin cuts tiles in Rust from
# the rows PostGIS returns (clip, simplify to a quarter pixel, one query per tile), Martin has
# PostGIS do it (ST_AsMVTGeom + ST_AsMVT, no simplification). Both send the same attributes.
set -euo pipefail
cd "$(dirname "$0")/.."
bin=target/release/gengxin
martin=${MARTIN:-$(command -v martin || echo /work/tools/martin/bin/martin)}
pg=${GENGXIN_TEST_PG:-postgres://postgres@127.0.0.1:5432/postgres}
duration=${DURATION:-30}
connections=${CONNECTIONS:-32}
[ -x "$bin" ] || { echo "build first: cargo build --release -p gengxin" >&2; exit 1; }
[ -x "$martin" ] || { echo "needs martin (cargo install martin --version 1.14.0 --locked --no-default-features --features postgres), or MARTIN=path" >&2; exit 1; }
command -v wrk >/dev/null || { echo "needs wrk (apt-get install wrk)" >&2; exit 1; }

db="${pg%/*}/gengxin_bench_tiles"
work=$(mktemp -d)
pids=()
cleanup() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done; rm -rf "$work"; }
trap cleanup EXIT

if [ -z "$(psql "$pg" -XAtqc "SELECT 1 FROM pg_database WHERE datname = 'gengxin_bench_tiles'")" ] ||
   [ "$(psql "$db" -XAtqc "SELECT count(*) FROM renewal.buildings" 2>/dev/null || echo 0)" = 0 ]; then
  echo "loading the demo into $db ..."
  store=$("$bin" demo --build-only --data-dir demo-data)
  psql "$pg" -XAtqc "DROP DATABASE IF EXISTS gengxin_bench_tiles" >/dev/null 2>&1
  psql "$pg" -XAtqc "CREATE DATABASE gengxin_bench_tiles" >/dev/null
  "$bin" copy --from "$store" --to "$db" >/dev/null
fi
psql "$db" -XAtqc "ANALYZE" >/dev/null
buildings=$(psql "$db" -XAtqc "SELECT count(*) FROM renewal.buildings")

# Every tile of central Wuhan (114.22–114.38 E, 30.52–30.64 N) at zooms 14, 15 and 16.
python3 - >"$work/tiles.txt" <<'EOF'
import math
def tile(lon, lat, z):
    n = 2 ** z
    y = (1 - math.asinh(math.tan(math.radians(lat))) / math.pi) / 2 * n
    return int((lon + 180) / 360 * n), int(y)
for z in (14, 15, 16):
    x0, y0 = tile(114.22, 30.64, z)
    x1, y1 = tile(114.38, 30.52, z)
    for x in range(x0, x1 + 1):
        for y in range(y0, y1 + 1):
            print(f"{z}/{x}/{y}")
EOF
ntiles=$(wc -l <"$work/tiles.txt")

# wrk walks the list in order from a random start per connection.
cat >"$work/tiles.lua" <<EOF
local paths, i = {}, 0
for line in io.lines("$work/tiles.txt") do paths[#paths + 1] = line end
prefix = os.getenv("PREFIX")
suffix = os.getenv("SUFFIX")
function setup(thread) thread:set("seed", math.random(1, 1000000)) end
function init() i = seed % #paths end
function request()
  i = i % #paths + 1
  return wrk.format("GET", prefix .. paths[i] .. suffix, {["Accept-Encoding"] = "gzip"})
end
function done(summary, latency, requests)
  io.write(string.format("RESULT %.0f %.2f %.2f %.2f %d %d\n", summary.requests / (summary.duration / 1e6),
    latency:percentile(50) / 1000, latency:percentile(99) / 1000, latency.mean / 1000,
    summary.errors.status, summary.errors.connect + summary.errors.read + summary.errors.timeout))
end
EOF

wait_for() { for _ in $(seq 1 600); do curl -sf -o /dev/null "$1" && return 0; sleep 0.2; done; echo "no answer from $1" >&2; exit 1; }

start_servers() { # cache size in MB for both
  local mb=$1
  GENGXIN_TILE_CACHE_MB=$mb RUST_LOG=warn "$bin" serve --store "$db" --listen 127.0.0.1:18080 >"$work/gengxin.log" 2>&1 &
  pids+=($!)
  cat >"$work/martin.yaml" <<EOF
listen_addresses: '127.0.0.1:13000'
cache_size_mb: $mb
postgres:
  connection_string: '$db'
  auto_publish: false
  tables:
    buildings:
      schema: renewal
      table: buildings
      srid: 4490
      geometry_column: geom
      geometry_type: MULTIPOLYGON
      minzoom: 14
      maxzoom: 16
      properties:
        id: text
        name: text
        floors: int8
        height_m: float8
        use: text
        structure: text
        year_built: int8
EOF
  RUST_LOG=warn "$martin" --config "$work/martin.yaml" >"$work/martin.log" 2>&1 &
  pids+=($!)
  wait_for http://127.0.0.1:18080/api/health
  wait_for http://127.0.0.1:13000/catalog
}
stop_servers() { for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; pids=(); }

load() { # label base prefix suffix
  PREFIX=$3 SUFFIX=$4 wrk -t2 -c"$connections" -d"${duration}s" --timeout 30s -s "$work/tiles.lua" "$2" 2>&1 |
    awk -v l="$1" -v out="$work/ratio.txt" '/^RESULT/ { printf "%-26s %9s req/s   p50 %8.2f ms   p99 %8.2f ms   mean %8.2f ms   non-2xx %s   errors %s\n", l, $2, $3, $4, $5, $6, $7; print l, $2, $4 >> out }'
}

# The same tiles, checked once: both servers answer 200 (or 204 for Martin's empty tiles).
check() {
  local bad=0 sa=0 sb=0
  while read -r t; do
    read -r a na < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' "http://127.0.0.1:18080/tiles/buildings/$t.mvt")
    read -r b nb < <(curl -s -o /dev/null -w '%{http_code} %{size_download}\n' "http://127.0.0.1:13000/buildings/$t")
    [ "$a" = 200 ] && { [ "$b" = 200 ] || [ "$b" = 204 ]; } || bad=$((bad + 1))
    sa=$((sa + na)); sb=$((sb + nb))
  done < <(shuf -n 50 --random-source=<(yes) "$work/tiles.txt")
  echo "50 sample tiles: $bad with an unexpected status; uncompressed bytes: gengxin $sa, martin $sb"
}

echo "PostGIS table renewal.buildings: $buildings rows; $ntiles tiles (z14–16 over central Wuhan); wrk, 2 threads, $connections connections, ${duration} s per run"
echo "$(nproc) cores; $("$martin" --version 2>/dev/null | head -1); $(psql "$db" -XAtqc "SELECT 'PostGIS ' || postgis_lib_version()")"
echo
for mb in 0 512; do
  start_servers "$mb"
  [ "$mb" = 0 ] && check
  if [ "$mb" = 0 ]; then echo "tile caches off:"; else echo "tile caches on ($mb MB each; includes the first, uncached pass):"; fi
  rm -f "$work/ratio.txt"
  load "  gengxin" http://127.0.0.1:18080 "/tiles/buildings/" ".mvt"
  load "  martin" http://127.0.0.1:13000 "/buildings/" ""
  awk '{ r[NR] = $2; p[NR] = $3 } END { printf "  ratio gengxin/martin: throughput %.2f×, p99 %.2f×\n", r[1] / r[2], p[1] / p[2] }' "$work/ratio.txt"
  stop_servers
done
