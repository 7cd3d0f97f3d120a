#!/usr/bin/env bash
# Schemathesis (from PyPI) against the API's own OpenAPI document: property-based requests to
# every operation, as the public and as each demo role (an API token per account), on a copy of
# the demo store (writes land in the copy). Passes when no answer is a server error (5xx) and
# every answer conforms to the documented schema and media type. Not part of
# scripts/test (it takes minutes per caller); run by hand:
#
#   bash bench/schemathesis.sh                 # MAX_EXAMPLES=20 CALLERS="public admin" to narrow
#
# Left out: /api/changes (an endless event stream) and the bulk-report upload (schemathesis
# cannot generate its multipart spreadsheet; the reporting tests send real ones).
set -euo pipefail
cd "$(dirname "$0")/.."
bin=${GENGXIN_BIN:-target/release/gengxin}
[ -x "$bin" ] || cargo build --release --locked -p gengxin
venv=${VENV:-target/venv-schemathesis}
[ -x "$venv/bin/schemathesis" ] || {
  python3 -m venv "$venv"
  "$venv/bin/pip" install -q 'schemathesis>=4,<5'
}
max=${MAX_EXAMPLES:-25}
callers=${CALLERS:-public admin leader wuchang entity worker security auditor}
port=${PORT:-18093}

work=$(mktemp -d)
pid=
cleanup() { [ -n "$pid" ] && kill "$pid" 2>/dev/null; rm -rf "$work"; }
trap cleanup EXIT

demo=$("$bin" demo --build-only --data-dir "${DATA_DIR:-demo-data}")
store="$work/schemathesis.gpkg"
for suffix in "" .key .audit-heads; do
  [ -e "$demo$suffix" ] && cp "$demo$suffix" "$store$suffix"
done
token() {
  "$bin" user token --store "$store" --username "$1" --name schemathesis --days 1 --as schemathesis
}
declare -A tokens
for c in $callers; do
  [ "$c" = public ] || tokens[$c]=$(token "$c")
done

RUST_LOG=warn "$bin" serve --store "$store" --listen "127.0.0.1:$port" >"$work/gengxin.log" 2>&1 &
pid=$!
for _ in $(seq 1 600); do curl -sf -o /dev/null "http://127.0.0.1:$port/api/health" && break; sleep 0.2; done

failed=()
for c in $callers; do
  auth=()
  [ "$c" = public ] || auth=(-H "Authorization: Bearer ${tokens[$c]}")
  echo "== schemathesis as $c"
  if ! "$venv/bin/schemathesis" run "http://127.0.0.1:$port/api/openapi.json" \
      --url "http://127.0.0.1:$port" "${auth[@]}" \
      --checks not_a_server_error,response_schema_conformance,content_type_conformance \
      --max-examples "$max" --workers 2 --seed 1 --no-color \
      --exclude-path /api/changes --exclude-path '/api/forms/{id}/upload' >"$work/$c.txt" 2>&1; then
    failed+=("$c")
  fi
  grep -E "^(Summary|Tested|Failures|Errors|Test cases|API Operations)|passed|failed" "$work/$c.txt" | tail -8 || true
done
if grep -q "panicked" "$work/gengxin.log"; then
  echo "the server panicked:"; grep -m5 panicked "$work/gengxin.log"; failed+=(server)
fi
if [ ${#failed[@]} -gt 0 ]; then
  echo "schemathesis failed for: ${failed[*]}"
  for c in "${failed[@]}"; do
    [ -f "$work/$c.txt" ] && { echo "== $c"; sed -n '/ERRORS\|FAILURES/,/SUMMARY/p' "$work/$c.txt" | head -150; }
  done
  exit 1
fi
echo "schemathesis: no server error and no schema violation as: $callers"
