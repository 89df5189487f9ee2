#!/usr/bin/env bash
# The management API (/_jsrt/api/v1/) over real sockets (tests/integration/api.py):
# every resource, every role, cross-tenant attempts, ETag conflicts, the
# atomic deploy, keyset pages over 100,000 runs, and the OpenAPI document
# checked by openapi-spec-validator (target/test-venv, scripts/setup.sh).
#   tests/integration/api.sh PORT DB      (the front door listens on PORT + 1000)
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
HTTP_PORT=$((PORT + 1000))
TENANT=api_a
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d); chmod 755 "$work"
venv="$(cd "$(dirname "$0")/../.." && pwd)/target/test-venv"
python=python3
[ -x "$venv/bin/python" ] && python="$venv/bin/python"

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('api_a')" -c "SELECT jsrt.create_tenant('api_b')" >/dev/null
key() { T=$1 sql "SELECT jsrt.create_api_key('$2', '$3')"; }
cat > "$work/keys.json" <<JSON
{"viewer": "$(key api_a viewer jsrt_viewer)",
 "developer": "$(key api_a developer jsrt_developer)",
 "admin": "$(key api_a admin jsrt_admin)",
 "super": "$(key api_a super jsrt_superadmin)",
 "b_admin": "$(key api_b admin jsrt_admin)"}
JSON
# tenant b's own script and run, which tenant a's keys must never reach
T=api_b sql "SELECT jsrt.create_script('b_secret_job', 'export default () => 1', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
b_run=$(T=api_b sql "SELECT jsrt.execute_async('b_secret_job')")
b_script=$(T=api_b sql "SELECT id FROM jsrt.scripts WHERE name = 'b_secret_job'")

"$python" "$(dirname "$0")/api.py" "$HTTP_PORT" "$work/keys.json" "$b_run" "$b_script" \
  "$PORT" "$DB" | tee "$work/py.out"
passed=$((passed + $(grep -c '^ok ' "$work/py.out"))); failed=$((failed + $(grep -c '^FAIL' "$work/py.out")))
grep -q '^api: ' "$work/py.out"
check "api.py ran to its end" $?
finish
