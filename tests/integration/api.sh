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

# a table scripts write, for the dry runs
"${PSQL[@]}" -c "CREATE TABLE public.api_orders (tenant_id uuid NOT NULL DEFAULT jsrt.tenant_id(), id serial, amount int)" \
  -c "SELECT jsrt.expose_table('public.api_orders')" >/dev/null
sql "INSERT INTO public.api_orders (tenant_id, amount) SELECT jsrt.tenant_id(), 5" >/dev/null
sql "SELECT jsrt.create_script('dry_sql', 'export default (ctx) => { ctx.db.exec(\"INSERT INTO api_orders (amount) VALUES (1), (2)\"); return ctx.db.exec(\"UPDATE api_orders SET amount = amount + 1 WHERE amount = 5\") }')" >/dev/null
out=$(sql "SELECT jsrt.dry_run('dry_sql')")
echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
w = {(x["table"], x["operation"]): x for x in r["writes"]}
ins, upd = w[("public.api_orders", "insert")], w[("public.api_orders", "update")]
assert r["ok"] and r["output"] == 1 and ins["count"] == 2 and upd["count"] == 1, r
assert sorted(x["amount"] for x in ins["sample"]) == [1, 2, 6], r'
check "jsrt.dry_run reports the rows written: table, operation, count, sample" $?
[ "$(sql "SELECT count(*) || ',' || sum(amount) FROM public.api_orders")" = "1,5" ] && \
  [ "$(sql "SELECT count(*) FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'dry_sql'")" = 0 ]
check "... and keeps none of them, nor a history record" $?
out=$(sql "SELECT jsrt.dry_run('dry_sql', E'export default (ctx) => {\n  return ctx.db.exec(1 +);\n}')")
echo "$out" | python3 -c '
import json, sys
r = json.load(sys.stdin)
assert not r["ok"] and r["error"]["line"] == 2 and r["error"]["column"] and r["writes"] == [], r'
check "a dry run of an edited source that does not compile: the error with line and column" $?
out=$(sql "SELECT jsrt.dry_run('dry_sql', 'export default async (ctx) => { try { await ctx.http.get(\"http://127.0.0.1:9/\") } catch (e) { return e.kind + \": \" + e.message } }')")
echo "$out" | grep -q 'refused: .*dry run'
check "a dry run refuses ctx.http unless asked" $?

"$python" "$(dirname "$0")/api.py" "$HTTP_PORT" "$work/keys.json" "$b_run" "$b_script" \
  "$PORT" "$DB" | tee "$work/py.out"
passed=$((passed + $(grep -c '^ok ' "$work/py.out"))); failed=$((failed + $(grep -c '^FAIL' "$work/py.out")))
grep -q '^api: ' "$work/py.out"
check "api.py ran to its end" $?

# ---------------------------------------------------------------- the jsrt CLI, end to end
root="$(cd "$(dirname "$0")/../.." && pwd)"
(cd "$root" && cargo build -q -p jsrt 2>&1) || true
jsrt() { JSRT_CONFIG="$work/cli/config.json" "$root/target/debug/jsrt" "$@"; }
dev_key=$(python3 -c 'import json, sys; print(json.load(open(sys.argv[1]))["developer"])' "$work/keys.json")
echo "$dev_key" | jsrt login "http://127.0.0.1:$HTTP_PORT" >/dev/null
[ "$(stat -c %a "$work/cli/config.json")" = 600 ] && grep -q "$dev_key" "$work/cli/config.json"
check "jsrt login stores the URL and key in a 0600 file" $?
mkdir -p "$work/proj"
cat > "$work/proj/cli_hello.js" <<'JS'
/* jsrt {"status": "active", "description": "from the CLI"} */
export default (ctx) => { console.log('hello to ' + ctx.input.who); return {hi: ctx.input.who}; }
JS
printf 'export default () => 1\n' > "$work/proj/cli_tick.mjs"
echo '{"type": "scheduled", "cron_expression": "0 3 * * *", "status": "active"}' > "$work/proj/cli_tick.json"
out=$(jsrt push "$work/proj" 2>/dev/null)
echo "$out" | grep -q "2 scripts, 2 changed" && [ "$(sql "SELECT type FROM jsrt.scripts WHERE name = 'cli_tick'")" = scheduled ]
check "jsrt push creates a folder's scripts (settings from NAME.json and front matter)" $?
sed -i 's/hello to/hi there,/' "$work/proj/cli_hello.js"
out=$(jsrt --json push "$work/proj")
echo "$out" | python3 -c '
import json, sys
r = {s["name"]: s for s in json.load(sys.stdin)["scripts"]}
assert r["cli_hello"]["action"] == "updated" and r["cli_hello"]["version"] == 2 and r["cli_tick"]["action"] == "unchanged", r'
[ $? -eq 0 ] && [ "$(sql "SELECT count(*) FROM jsrt.script_versions v JOIN jsrt.scripts s ON s.id = v.script_id WHERE s.name IN ('cli_hello', 'cli_tick')")" = 3 ]
check "one file changed, pushed again: one new version, nothing else" $?
out=$(jsrt run cli_hello --input '{"who": "cli"}' --wait 2>&1)
echo "$out" | grep -q '"hi": "cli"' && echo "$out" | grep -q 'hi there, cli'
check "jsrt run --wait prints the logs and the output" $?
# the binary itself in the background (not the shell function), so that $! is its pid
JSRT_CONFIG="$work/cli/config.json" "$root/target/debug/jsrt" logs cli_hello --follow > "$work/follow.out" 2>&1 &
follow=$!
sleep 1.5
jsrt run cli_hello --input '{"who": "follower"}' >/dev/null
for _ in $(seq 1 100); do grep -q 'hi there, follower' "$work/follow.out" && break; sleep 0.1; done
grep -q 'hi there, follower' "$work/follow.out"
check "jsrt logs --follow shows a new run's logs from the stream" $?
kill "$follow" 2>/dev/null; wait "$follow" 2>/dev/null
jsrt history cli_hello | grep -q completed && jsrt diff cli_hello 1 2 | grep -q '^+export default (ctx) => { console.log(.hi there, '
check "jsrt history and jsrt diff" $?
jsrt rollback cli_hello 1 | grep -q 'version 3' && jsrt pull "$work/pulled" >/dev/null 2>&1 \
  && grep -q 'hello to' "$work/pulled/cli_hello.js" && grep -q '"cron_expression": "0 3 \* \* \*"' "$work/pulled/cli_tick.json"
check "jsrt rollback, then jsrt pull writes NAME.js and NAME.json" $?
err=$(jsrt run no_such_script 2>&1); rc=$?
[ $rc -ne 0 ] && echo "$err" | grep -q 'script "no_such_script" does not exist (HTTP 404'
check "a CLI error exits non-zero with a readable message ($err)" $?
# The killed follower's last stream request goes on in its runner until its
# wait is over (a runner cannot see the client leave); then the extra runners
# leave, and the tests after this one find the standing two.
settled=1
for _ in $(seq 1 600); do
  curl -s "http://127.0.0.1:$HTTP_PORT/healthz" | grep -q '"runners":{"busy":0,"idle":2,"starting":0}' && { settled=0; break; }
  sleep 0.1
done
check "the runners settle back to the standing two, idle" $settled
finish
