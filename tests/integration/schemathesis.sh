#!/usr/bin/env bash
# Property-based tests of the management API from its own OpenAPI document
# (schemathesis, pinned in target/test-venv by scripts/setup.sh): a bounded
# number of examples per operation, and no answer may be a 5xx.
#   tests/integration/schemathesis.sh PORT DB     (the front door listens on PORT + 1000)
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
HTTP_PORT=$((PORT + 1000))
TENANT=st_a
source "$(dirname "$0")/lib.sh"
venv="$(cd "$(dirname "$0")/../.." && pwd)/target/test-venv"
"${PSQL[@]}" -c "SELECT jsrt.create_tenant('st_a')" >/dev/null
sql "SELECT jsrt.create_script('st_script', 'export default (ctx) => ctx.input', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
key=$(sql "SELECT jsrt.create_api_key('st_admin', 'jsrt_admin')")
# From a directory of its own: schemathesis keeps a cache where it runs. The
# stream waits up to 25 s per request by design: not a place for many examples.
work=$(mktemp -d)
(cd "$work" && "$venv/bin/schemathesis" run "http://127.0.0.1:$HTTP_PORT/_jsrt/api/v1/openapi.json" \
  --url "http://127.0.0.1:$HTTP_PORT" -H "Authorization: Bearer $key" -H "X-API-Key: $key" \
  --checks not_a_server_error --max-examples "${EXAMPLES:-25}" --generation-deterministic \
  --exclude-path /_jsrt/api/v1/runs/stream --workers 2 > "$work/out" 2>&1)
rc=$?
tail -25 "$work/out"
# Requests with a run's wait may still hold runners: the next test wants them idle.
for _ in $(seq 1 600); do
  curl -s "http://127.0.0.1:$HTTP_PORT/healthz" | grep -q '"runners":{"busy":0,"idle":2,"starting":0}' && break
  sleep 0.1
done
check "schemathesis: no 5xx from any operation of the OpenAPI document ($(grep -Eo '[0-9]+ generated, [0-9]+ passed' "$work/out" | head -1))" $rc
finish
