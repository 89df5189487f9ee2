#!/usr/bin/env bash
# Trust rules that need real signals, several sessions, the HTTP workers or
# the server's own files, against a running cluster:
#   tests/integration/trust.sh PORT DB DATADIR
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}; DIR=${3:?data directory}
TENANT=trust
HTTP=$((PORT + 1000))
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)
"${PSQL[@]}" -c "SELECT jsrt.create_tenant('trust')" >/dev/null
spin='export default () => { const f = () => { try { f() } finally { f() } }; f() }'
sql "SELECT jsrt.create_script('spin', \$\$$spin\$\$, 'oneoff', '{\"status\": \"active\", \"resource_limits\": {\"max_execution_time_ms\": 3600000}}')" >/dev/null
active() { echo "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%$1%' AND state = 'active' AND pid <> pg_backend_pid())"; }

# 1. pg_cancel_backend and pg_terminate_backend end recursion in finally at once.
sql "SELECT jsrt.execute('spin')" > "$work/cancel.out" 2>&1 & p=$!
wait_for "$(active "execute(''spin'')")" 10
"${PSQL[@]}" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%execute(''spin'')%' AND pid <> pg_backend_pid()" >/dev/null
wait $p
grep -q 'canceling statement due to user request' "$work/cancel.out"; check "pg_cancel_backend ends recursion in finally" $?
sql "SELECT jsrt.execute('spin')" > "$work/kill.out" 2>&1 & p=$!
wait_for "$(active "execute(''spin'')")" 10
"${PSQL[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%execute(''spin'')%' AND pid <> pg_backend_pid()" >/dev/null
wait $p
grep -q 'terminating connection' "$work/kill.out"; check "pg_terminate_backend ends recursion in finally" $?

# 2. jsrt.cancel ends a queued run of it in an executor.
id=$(sql "SELECT jsrt.execute_async('spin')")
wait_for "SELECT status = 'running' FROM jsrt.script_executions WHERE id = '$id'" 20
sql "SELECT jsrt.cancel('$id')" >/dev/null
wait_for "SELECT status = 'cancelled' FROM jsrt.script_executions WHERE id = '$id'" 10
check "jsrt.cancel ends a queued run of recursion in finally" $?

# 3. Two requests to such an endpoint (1 s limit) do not hold up the HTTP workers.
sql "SELECT jsrt.create_script('spin_http', \$\$$spin\$\$, 'http', '{\"status\": \"active\", \"http_path\": \"/spin\", \"http_auth\": \"public\", \"resource_limits\": {\"max_execution_time_ms\": 1000}}')" >/dev/null
for i in 1 2; do curl -s -o /dev/null -w '%{http_code}\n' --max-time 30 "http://127.0.0.1:$HTTP/t/trust/spin" > "$work/spin$i.out" & done
sleep 0.3
health=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$HTTP/healthz")
wait
[ "$(cat "$work/spin1.out" "$work/spin2.out" | tr '\n' ' ')" = "504 504 " ] && [ "$health" = 200 ]
check "two runaway endpoint requests end with 504 and /healthz answers" $?

# 4. The last resort: a builtin that cannot be interrupted (a sort of 50 million
#    numbers) ends its own backend with FATAL 1 s past the deadline; the cluster
#    is not restarted and other sessions go on.
logged=$(stat -c %s "$DIR/server.log")
# a session open across it: a crash restart would end it
mkfifo "$work/w"; "${PSQL[@]}" < "$work/w" > "$work/w.out" 2>&1 & wpid=$!
exec 5>"$work/w"
echo "SELECT 'before';" >&5
sql "SELECT jsrt.create_script('natsort', 'export default () => { const n = 50e6, a = new Float64Array(n), s = new Float64Array(4096); for (let i = 0; i < 4096; i++) s[i] = (i * 2654435761) % 1000003; for (let i = 0; i < n; i += 4096) a.set(s.subarray(0, Math.min(4096, n - i)), i); a.sort(); return 1 }', 'oneoff', '{\"status\": \"active\", \"resource_limits\": {\"max_execution_time_ms\": 1000, \"max_memory_bytes\": 536870912}}')" >/dev/null
"${PSQL[@]}" -c "SET jsrt.max_memory_bytes = 1073741824" -c "SELECT jsrt.set_tenant('trust')" -c "SELECT jsrt.execute('natsort')" > "$work/fatal.out" 2>&1
grep -q 'FATAL:  jsruntime: a script ran 1000 ms past its deadline' "$work/fatal.out"; check "a run stuck in a builtin ends its backend with FATAL" $?
echo "SELECT 'after';" >&5
exec 5>&-; wait $wpid
[ "$(tr '\n' ' ' < "$work/w.out")" = "before after " ] \
  && ! tail -c +"$((logged + 1))" "$DIR/server.log" | grep -q 'terminated by signal\|all server processes terminated\|not properly shut down'
check "no crash restart: the postmaster and the other backends go on" $?
[ "$(sql "SELECT jsrt.execute('spin_http') IS NULL" 2>&1 | grep -c 'past max_execution_time_ms')" = 1 ]
check "the next session runs scripts as before" $?

# 5. Two sessions: a backend that ran an update later rolled back runs the
#    committed code, even when another session commits the same version number.
sql "SELECT jsrt.create_script('twice', 'export default () => \"v1\"', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
mkfifo "$work/a"; "${PSQL[@]}" < "$work/a" > "$work/a.out" 2>&1 & apid=$!
exec 3>"$work/a"
echo "SELECT jsrt.set_tenant('trust'); BEGIN; SELECT jsrt.update_script('twice', 'export default () => \"A\"'); SELECT jsrt.execute('twice'); ROLLBACK;" >&3
for _ in $(seq 1 50); do grep -q '"A"' "$work/a.out" && break; sleep 0.1; done
sql "SELECT jsrt.update_script('twice', 'export default () => \"B\"')" >/dev/null
echo "SELECT jsrt.execute('twice') AS after;" >&3
exec 3>&-; wait $apid
[ "$(grep -c '"B"' "$work/a.out")" = 1 ] && [ "$(sql "SELECT version FROM jsrt.scripts WHERE name = 'twice' AND tenant_id = jsrt.tenant_id()")" = 2 ]
check "a session that ran a rolled-back version 2 runs the committed version 2" $?

# 6. Installing over a running server: the library gets a new inode before a
#    tool overwrites it in place, so the running backends keep theirs.
libdir=$(/usr/lib/postgresql/15/bin/pg_config --pkglibdir)
mkfifo "$work/b"; "${PSQL[@]}" < "$work/b" > "$work/b.out" 2>&1 & bpid=$!
exec 4>"$work/b"
echo "SELECT jsrt.set_tenant('trust'); SELECT jsrt.execute('twice');" >&4
for _ in $(seq 1 50); do grep -q '"B"' "$work/b.out" && break; sleep 0.1; done
before=$(stat -c %i "$libdir/jsruntime.so")
"$(dirname "$0")/../../scripts/install.sh" detach
cp "$libdir/jsruntime.so" "$work/lib.so" && cp "$work/lib.so" "$libdir/jsruntime.so"   # what an in-place install does
echo "SELECT jsrt.execute('twice') AS after_install;" >&4
exec 4>&-; wait $bpid
[ "$(grep -c '"B"' "$work/b.out")" = 2 ] && [ "$(stat -c %i "$libdir/jsruntime.so")" != "$before" ] \
  && ! tail -c +"$((logged + 1))" "$DIR/server.log" | grep -q 'terminated by signal\|all server processes terminated'
check "a backend running during an install goes on running scripts" $?

# 7. Through the HTTP workers too, a failed or timed-out run leaves none of its writes.
"${PSQL[@]}" -c "CREATE TABLE public.trust_ledger (tenant_id uuid, note text)" -c "SELECT jsrt.expose_table('public.trust_ledger')" >/dev/null
sql "SELECT jsrt.create_script('write_fail', 'export default (ctx) => { ctx.db.insert(\"trust_ledger\", {note: \"fail\"}); throw new Error(\"after\") }', 'http', '{\"status\": \"active\", \"http_path\": \"/write/fail\", \"http_auth\": \"public\"}')" >/dev/null
sql "SELECT jsrt.create_script('write_spin', 'export default (ctx) => { ctx.db.insert(\"trust_ledger\", {note: \"spin\"}); for (;;) {} }', 'http', '{\"status\": \"active\", \"http_path\": \"/write/spin\", \"http_auth\": \"public\", \"resource_limits\": {\"max_execution_time_ms\": 300}}')" >/dev/null
sql "SELECT jsrt.create_script('write_ok', 'export default (ctx) => { ctx.db.insert(\"trust_ledger\", {note: \"ok\"}); return 1 }', 'http', '{\"status\": \"active\", \"http_path\": \"/write/ok\", \"http_auth\": \"public\"}')" >/dev/null
codes=$(for p in fail spin ok; do curl -s -o /dev/null -w '%{http_code} ' --max-time 30 -X POST "http://127.0.0.1:$HTTP/t/trust/write/$p"; done)
notes=$("${PSQL[@]}" -c "SELECT string_agg(note, ',') FROM public.trust_ledger")
[ "$codes" = "500 504 200 " ] && [ "$notes" = ok ]
check "over HTTP a failed (500) or timed-out (504) run leaves no writes, a completed one keeps them ($codes: $notes)" $?

rm -rf "$work"
finish
