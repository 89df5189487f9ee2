#!/usr/bin/env bash
# WPT's URL tests (tests/wpt) in a real cluster: the parsing cases of
# urltestdata.json and the setter cases of setters_tests.json, checked as
# WPT checks them (tests/wpt/url_harness.js). Fails on any case listed in
# tests/wpt/url-passing.txt that no longer passes; prints jsrt's counts and,
# when node is installed, Node's on the same harness and data.
#   tests/integration/wpt_url.sh PORT DB        (WPT_RECORD=1 to re-record the list)
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
TENANT=wpt
source "$(dirname "$0")/lib.sh"
wpt=$(cd "$(dirname "$0")/../wpt" && pwd)
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('$TENANT')" >/dev/null 2>&1
# SQL on stdin, the files in dollar quotes (too big for a command line), as
# text the script parses: jsonb cannot hold the \u0000 some cases have.
q='$wpt$'
{
  echo "SELECT jsrt.set_tenant('$TENANT');"
  echo "DO \$d\$ BEGIN PERFORM jsrt.delete_script('wpt_url'); EXCEPTION WHEN OTHERS THEN NULL; END \$d\$;"
  echo "SELECT jsrt.create_script('wpt_url', ${q}export default (ctx) => wptUrl(JSON.parse(ctx.input.data), JSON.parse(ctx.input.setters));"
  cat "$wpt/url_harness.js"
  echo "${q}, 'oneoff');"
  echo "SELECT jsrt.execute('wpt_url', jsonb_build_object('data', ${q}"
  cat "$wpt/urltestdata.json"
  echo "${q}::text, 'setters', ${q}"
  cat "$wpt/setters_tests.json"
  echo "${q}::text));"
} | "${PSQL[@]}" 2>&1 | sed "/^$/d" > "$work/jsrt.out"; tail -n 1 "$work/jsrt.out" > "$work/jsrt.json"

python3 - "$wpt" "$work/jsrt.json" <<'PY'
import json, os, subprocess, sys, shutil
wpt, out = sys.argv[1], sys.argv[2]
try:
    got = set(json.load(open(out)))
except ValueError:
    print("FAIL the harness did not run:", open(out[:-4] + "out").read()[-3000:]); print("integration: 0 passed, 1 failed"); sys.exit(1)
data = json.load(open(f"{wpt}/urltestdata.json"))
setters = json.load(open(f"{wpt}/setters_tests.json"))
n_url = sum(1 for t in data if isinstance(t, dict))
n_set = sum(len(v) for k, v in setters.items() if k != "comment")
count = lambda ids, p: sum(1 for i in ids if i.startswith(p))
print(f"jsrt: urltestdata {count(got, 'u')}/{n_url}, setters {count(got, 's')}/{n_set}")
if shutil.which("node"):
    src = open(f"{wpt}/url_harness.js").read() + f"""
const fs = require('fs');
process.stdout.write(JSON.stringify(wptUrl(JSON.parse(fs.readFileSync('{wpt}/urltestdata.json', 'utf8')),
  JSON.parse(fs.readFileSync('{wpt}/setters_tests.json', 'utf8')))));"""
    node = set(json.loads(subprocess.run(["node", "-e", src], capture_output=True, text=True, check=True).stdout))
    print(f"node {subprocess.run(['node', '--version'], capture_output=True, text=True).stdout.strip()}: "
          f"urltestdata {count(node, 'u')}/{n_url}, setters {count(node, 's')}/{n_set}")
    print(f"  passed by node only: {sorted(node - got)}")
    print(f"  passed by jsrt only: {sorted(got - node)}")
listed = f"{wpt}/url-passing.txt"
if os.environ.get("WPT_RECORD"):
    open(listed, "w").write("".join(f"{i}\n" for i in sorted(got)))
    print(f"recorded {len(got)} passing cases in {listed}")
want = {l.strip() for l in open(listed) if l.strip()}
lost = sorted(want - got)
for i in lost:
    kind, rest = i[0], i[1:]
    case = data[int(rest)] if kind == "u" else setters[rest.split(".")[0]][int(rest.split(".")[1])]
    print(f"FAIL {i} passed before: {json.dumps(case)[:300]}")
ok = not lost
print(f"{'ok  ' if ok else 'FAIL'} wpt url: every case of url-passing.txt passes ({len(want)} listed)")
print(f"integration: {int(ok)} passed, {int(not ok)} failed")
sys.exit(0 if ok else 1)
PY
