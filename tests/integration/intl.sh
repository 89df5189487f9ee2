#!/usr/bin/env bash
# Intl against Node (full ICU): every case in intl/cases.js runs in a
# jsruntime script and in Node, and the outputs are compared. A case listed
# in intl/known_differences.txt may differ (each says why); any other
# difference fails, as does a listed case that now agrees (take it off).
#   tests/integration/intl.sh PORT DB
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
TENANT=intl
source "$(dirname "$0")/lib.sh"
here=$(cd "$(dirname "$0")" && pwd)
work=$(mktemp -d); chmod 755 "$work"
prelude='const d = new Date(Date.UTC(2026, 2, 5, 14, 7, 9, 45)); const w = new Date(Date.UTC(2024, 11, 31, 23, 30));
const run = () => cases.map((f) => { try { return String(f()); } catch (e) { return "throws " + e.name; } });'
{ echo "$prelude"; cat "$here/intl/cases.js"; echo 'export default () => run();'; } > "$work/intl.js"
{ echo "$prelude"; cat "$here/intl/cases.js"; echo 'console.log(JSON.stringify(run()));'; } > "$work/node.mjs"
if ! command -v node >/dev/null; then check "node is installed for the comparison" 1; finish; exit; fi
TZ=UTC LANG=en_US.UTF-8 LC_ALL=en_US.UTF-8 node "$work/node.mjs" > "$work/node.json"
"${PSQL[@]}" -c "SELECT jsrt.create_tenant('$TENANT')" >/dev/null 2>&1
sql "SELECT jsrt.create_script('intl_cases', pg_read_file('$work/intl.js'))" >/dev/null
sql "SELECT jsrt.execute('intl_cases')" | tail -1 > "$work/jsrt.json"
python3 - "$here/intl/cases.js" "$work/node.json" "$work/jsrt.json" "$here/intl/known_differences.txt" > "$work/report.txt" <<'PY'
import json, sys
src = [l.strip() for l in open(sys.argv[1]) if l.strip().startswith('() =>')]
node, jsrt = json.load(open(sys.argv[2])), json.load(open(sys.argv[3]))
known = {}
for line in open(sys.argv[4]):
    if line.startswith('() =>'):
        case, _, why = line.rstrip('\n').partition('  # ')
        known[case.strip().rstrip(',')] = why
agree = differ = 0
for case, n, j in zip(src, node, jsrt):
    case = case.rstrip(',')
    if n == j:
        agree += 1
        if case in known:
            print(f"FAIL listed as a known difference but agrees now: {case}")
    else:
        differ += 1
        tag = "known" if case in known else "FAIL"
        print(f"{tag} {case}\n       node: {n!r}\n       jsrt: {j!r}" + (f"\n       why:  {known[case]}" if case in known else ""))
print(f"SUMMARY {agree} of {len(src)} cases agree with Node, {differ} differ")
PY
cat "$work/report.txt"
check "jsrt answers every case ($(wc -l < "$work/jsrt.json") line)" "$(python3 -c "import json,sys; sys.exit(0 if len(json.load(open('$work/jsrt.json'))) == len(json.load(open('$work/node.json'))) else 1)" && echo 0 || echo 1)"
check "Intl agrees with Node except where known_differences.txt says why" "$(grep -q '^FAIL' "$work/report.txt" && echo 1 || echo 0)"

# Intl is loaded on first use: a script that does not touch it finds the lazy accessors in place.
cat > "$work/untouched.js" <<'JS'
export default () => [typeof Object.getOwnPropertyDescriptor(globalThis, 'Intl').get, typeof Object.getOwnPropertyDescriptor(Number.prototype, 'toLocaleString').get, (5).toLocaleString('de', {minimumFractionDigits: 1}), typeof Object.getOwnPropertyDescriptor(globalThis, 'Intl').value];
JS
sql "SELECT jsrt.create_script('intl_untouched', pg_read_file('$work/untouched.js'))" >/dev/null
out=$(sql "SELECT jsrt.execute('intl_untouched')" | tail -1)
check "Intl stays unloaded until touched, then loads from toLocaleString" "$([ "$out" = '["function", "function", "5,0", "object"]' ] && echo 0 || { echo "  $out"; echo 1; })"
finish
