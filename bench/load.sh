#!/usr/bin/env bash
# Bounded work under load: `gengxin serve` on a copy of the demo GeoPackage, loopback, Python
# asyncio clients (standard library only: bench/load/load.py). Not a test: run by hand.
#
#   cargo build --release -p gengxin        # or GENGXIN_BIN=path/to/gengxin
#   bash bench/load.sh [a|b|all]            # CLIENTS=200 SECONDS_HEAVY=20 to change the load
#
# (a) One evaluation, then on a fresh server 200 concurrent `POST /api/life-circle/evaluate`:
#     the job ids answered, the evaluation job rows in the store, and the server's peak RSS
#     (VmHWM) after each, against the idle server's.
# (b) 200 concurrent clients looping a heavy CQL2 filter (25 ORed terms on buildings) for
#     20 s while one prober GETs /api/health every 50 ms: health p50/p99, the share of 429s
#     and their latency.
set -euo pipefail
# The figures in bench/README.md were measured with one heavy request at a time.
export GENGXIN_LIMIT_HEAVY=${GENGXIN_LIMIT_HEAVY:-1}
cd "$(dirname "$0")/.."
bin=${GENGXIN_BIN:-${CARGO_TARGET_DIR:-target}/release/gengxin}
what=${1:-all}
clients=${CLIENTS:-200}
seconds=${SECONDS_HEAVY:-20}
port=${PORT:-18082}
url=http://127.0.0.1:$port
[ -x "$bin" ] || { echo "build first: cargo build --release -p gengxin (or set GENGXIN_BIN)" >&2; exit 1; }

work=$(mktemp -d)
pid=
stop() { [ -n "$pid" ] && kill "$pid" 2>/dev/null && wait "$pid" 2>/dev/null; pid=; }
trap 'stop; rm -rf "$work"' EXIT

demo=$("$bin" demo --build-only --data-dir "${DEMO_DATA_DIR:-demo-data}")
serve() { # a fresh server on a fresh copy of the demo store
    stop
    rm -rf "$work/store" && mkdir "$work/store"
    cp -a "$demo"* "$work/store/"  # with its key file
    store=$work/store/$(basename "$demo")
    token=$("$bin" user token --store "$store" --username admin --name bench)
    RUST_LOG=warn "$bin" serve --store "$store" --listen "127.0.0.1:$port" >>"$work/gengxin.log" 2>&1 &
    pid=$!
    for _ in $(seq 1 600); do curl -sf -o /dev/null "$url/api/health" && break; sleep 0.2; done
}
jobs_in_store() {
    python3 -c 'import sqlite3,sys; c=sqlite3.connect(sys.argv[1]); print(c.execute("select count(*) from gengxin_jobs where kind=?", ("evaluate_life_circle",)).fetchone()[0])' "$store"
}
echo "machine: $(nproc) cores, $(awk '/MemTotal/ {printf "%.1f GB", $2/1048576}' /proc/meminfo); binary: $bin"

if [ "$what" != b ]; then
serve
idle=$(awk '/VmHWM/ {print $2/1024}' /proc/$pid/status)
echo "idle server VmHWM: $idle MB"
echo "(a1) one evaluation:"
python3 bench/load/load.py evaluate "$url" "$token" "$pid" 1
echo "    evaluation job rows in the store: $(jobs_in_store)"

serve
echo "(a2) $clients concurrent evaluate requests on a fresh server (idle VmHWM $(awk '/VmHWM/ {print $2/1024}' /proc/$pid/status) MB):"
python3 bench/load/load.py evaluate "$url" "$token" "$pid" "$clients"
echo "    evaluation job rows in the store: $(jobs_in_store)"
fi

[ "$what" = a ] && exit 0
serve
# Warm the buildings snapshot, as a server does in its first seconds.
curl -s -o /dev/null "$url/ogc/collections/buildings/items?limit=1&filter=floors%3D1"
echo "(b) $clients heavy CQL2 clients for $seconds s, health probed every 50 ms:"
python3 bench/load/load.py heavy "$url" "$pid" "$clients" "$seconds"
stop
