#!/usr/bin/env bash
# console.log against Node's: each case of tests/console/cases.js is logged
# by a script in the test cluster and formatted by Node's util.format (what
# console.log prints), and the two lines must be the same.
#   tests/integration/console_differential.sh PORT DB
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
TENANT=console
source "$(dirname "$0")/lib.sh"
cases=$(cd "$(dirname "$0")/../console" && pwd)/cases.js
if ! command -v node >/dev/null; then echo "skip console differential: node is not installed"; exit 0; fi
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('$TENANT')" >/dev/null 2>&1
q='$case$'
{
  echo "SELECT jsrt.set_tenant('$TENANT');"
  echo "DO \$d\$ BEGIN PERFORM jsrt.delete_script('console_cases'); EXCEPTION WHEN OTHERS THEN NULL; END \$d\$;"
  echo "SELECT jsrt.create_script('console_cases', ${q}export default () => { for (const c of consoleCases()) console.log(...c()); };"
  cat "$cases"
  echo "${q}, 'oneoff') IS NOT NULL;"
  echo "SELECT jsrt.execute('console_cases');"
  echo "SELECT jsonb_agg(l->'message' ORDER BY n) FROM (SELECT logs FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'console_cases' ORDER BY e.started_at DESC LIMIT 1) x, jsonb_array_elements(x.logs) WITH ORDINALITY AS t(l, n);"
} | "${PSQL[@]}" > "$work/jsrt.out" 2>&1
node -e "$(cat "$cases")
const util = require('util');
process.stdout.write(JSON.stringify(consoleCases().map((c) => util.format(...c()))));" > "$work/node.json"

python3 - "$work/jsrt.out" "$work/node.json" <<'PY'
import json, sys
out = open(sys.argv[1]).read().strip().splitlines()
want = json.load(open(sys.argv[2]))
try:
    got = json.loads(out[-1])
except (ValueError, IndexError):
    print("FAIL the cases did not run:", "\n".join(out[-20:]))
    print("integration: 0 passed, 1 failed")
    sys.exit(1)
passed = failed = 0
for i, w in enumerate(want):
    g = got[i] if i < len(got) else None
    if g == w:
        passed += 1
    else:
        failed += 1
        print(f"FAIL case {i}:\n  node: {w!r}\n  jsrt: {g!r}")
if len(got) != len(want):
    failed += 1
    print(f"FAIL {len(got)} lines logged for {len(want)} cases")
print(f"console.log like Node: {passed} of {len(want)} cases the same")
print(f"integration: {passed} passed, {failed} failed")
sys.exit(1 if failed else 0)
PY
