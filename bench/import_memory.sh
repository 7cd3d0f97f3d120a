#!/usr/bin/env bash
# Memory of imports: peak resident memory of `gengxin import` (the command line) and of
# `gengxin serve` (an upload over HTTP) importing a generated 200 MB GeoJSON of building
# footprints into a new GeoPackage, and of the server taking two 450 MB uploads at once.
# Not a test: run by hand on an idle machine. Generated files are deleted at the end.
#
#   cargo build --release -p gengxin && bash bench/import_memory.sh
#   GENGXIN=path/to/other/gengxin bash bench/import_memory.sh   # e.g. a build of an older commit
#   CONCURRENT=0 bash bench/import_memory.sh                   # skip the 2 × 450 MB run
#   CLI=0 bash bench/import_memory.sh                          # skip the command-line run
#
# Peak RSS: GNU time's "Maximum resident set size" for the command line, VmHWM of
# /proc/PID/status for the server (which keeps running between the runs: a fresh server for
# each). Needs python3 (the generator), curl and GNU time (/usr/bin/time).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${GENGXIN:-target/release/gengxin}
size=${SIZE_MB:-200}
big=${BIG_MB:-450}
[ -x "$bin" ] || { echo "build first: cargo build --release -p gengxin" >&2; exit 1; }
[ -x /usr/bin/time ] || { echo "needs GNU time (apt-get install time)" >&2; exit 1; }
work=$(mktemp -d "${TMPDIR:-/tmp}/gengxin-import-memory.XXXXXX")
server=
cleanup() { [ -n "$server" ] && kill "$server" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

mib() { awk -v k="$1" 'BEGIN { printf "%.0f MiB", k / 1024 }'; }
bytes() { stat -c %s "$1"; }

echo "generating ${size} MB of building footprints (generated, not real)"
python3 bench/gen_buildings.py "$size" 1 >"$work/b.geojson"
file_kib=$(( $(bytes "$work/b.geojson") / 1024 ))
echo "file: $(mib $file_kib), $(grep -c '"Feature"' "$work/b.geojson") features"

# The command line.
if [ "${CLI:-1}" != 0 ]; then
/usr/bin/time -v "$bin" import --store "$work/cli.gpkg" --layer buildings "$work/b.geojson" \
  >"$work/cli.json" 2>"$work/cli.time"
peak=$(awk -F': ' '/Maximum resident set size/ { print $2 }' "$work/cli.time")
wall=$(awk -F': ' '/Elapsed \(wall clock\)/ { print $2 }' "$work/cli.time")
echo "CLI import: peak RSS $(mib $peak) ($(awk -v p=$peak -v f=$file_kib 'BEGIN { printf "%.2f", p / f }')× the file), wall $wall"
rm -f "$work"/cli.gpkg*
fi

# A server with an administrator's API token.
start_server() { # store
  "$bin" migrate --store "$1" >/dev/null
  echo "Violet-Harbor-7391" | "$bin" user add --store "$1" --username bench --role city_admin \
    --organisation org-bench --organisation-name Bench >/dev/null
  token=$("$bin" user token --store "$1" --username bench --name bench | tail -1)
  port=$(( 20000 + RANDOM % 20000 ))
  "$bin" serve --store "$1" --listen "127.0.0.1:$port" >"$work/serve.log" 2>&1 &
  server=$!
  for _ in $(seq 100); do
    curl -fsS "http://127.0.0.1:$port/api/health" >/dev/null 2>&1 && return 0
    sleep 0.2
  done
  echo "the server did not start: $(cat "$work/serve.log")" >&2
  exit 1
}
status() { awk -v k="$1" '$1 == k":" { print $2 }' "/proc/$server/status"; }
upload() { # file layer → prints the HTTP status
  curl -sS -o "$work/up.$2.json" -w '%{http_code}' -X POST --data-binary "@$1" \
    -H "Authorization: Bearer $token" -H 'Content-Type: application/octet-stream' \
    "http://127.0.0.1:$port/api/imports?layer=$2&file_name=$2.geojson"
}
stop_server() { kill "$server"; wait "$server" 2>/dev/null || true; server=; }

start_server "$work/api.gpkg"
idle=$(status VmHWM)
t0=$(date +%s.%N)
code=$(upload "$work/b.geojson" buildings)
t1=$(date +%s.%N)
peak=$(status VmHWM)
after=$(status VmRSS)
echo "API upload: HTTP $code, server peak RSS $(mib $peak) ($(awk -v p=$peak -v f=$file_kib 'BEGIN { printf "%.2f", p / f }')× the file; idle $(mib $idle)), RSS after $(mib $after), wall $(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.1f s", b - a }')"
[ "$code" = 201 ] || cat "$work/up.buildings.json"
stop_server
rm -f "$work"/api.gpkg* "$work/b.geojson"

if [ "${CONCURRENT:-1}" != 0 ]; then
  echo "generating 2 × ${big} MB"
  python3 bench/gen_buildings.py "$big" 2 >"$work/c1.geojson"
  python3 bench/gen_buildings.py "$big" 3 >"$work/c2.geojson"
  start_server "$work/conc.gpkg"
  idle=$(status VmHWM)
  t0=$(date +%s.%N)
  upload "$work/c1.geojson" c1 >"$work/code.c1" &
  a=$!
  upload "$work/c2.geojson" c2 >"$work/code.c2" &
  b=$!
  wait $a $b
  t1=$(date +%s.%N)
  peak=$(status VmHWM)
  echo "2 concurrent ${big} MB uploads: HTTP $(cat "$work/code.c1") and $(cat "$work/code.c2"), server peak RSS $(mib $peak) (idle $(mib $idle)), wall $(awk -v a=$t0 -v b=$t1 'BEGIN { printf "%.1f s", b - a }')"
  stop_server
fi
