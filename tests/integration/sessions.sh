#!/usr/bin/env bash
# Tests that need more than one session or a real signal, against a running
# cluster: cache invalidation across backends, pg_cancel_backend and
# pg_terminate_backend on a spinning script.
#   tests/integration/sessions.sh PORT DB
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
TENANT=it
source "$(dirname "$0")/lib.sh"

"${PSQL[@]}" -c "DROP EXTENSION IF EXISTS jsruntime CASCADE" -c "CREATE EXTENSION jsruntime" -c "SELECT jsrt.create_tenant('it')" >/dev/null
sql "SELECT jsrt.create_script('ver', 'export default () => 1')" >/dev/null
sql "SELECT jsrt.create_script('forever', 'export default () => { for (;;) { try { for (;;) {} } catch (e) {} } }')" >/dev/null

# 1. A backend that cached version 1 runs version 2 once another backend's update commits.
work=$(mktemp -d); mkfifo "$work/a"
"${PSQL[@]}" < "$work/a" > "$work/a.out" 2>&1 & apid=$!
exec 3>"$work/a"
echo "SELECT jsrt.set_tenant('it'); SELECT jsrt.execute('ver');" >&3
for _ in $(seq 1 50); do grep -q '^1$' "$work/a.out" && break; sleep 0.1; done
sql "BEGIN; SELECT jsrt.update_script('ver', 'export default () => 2'); SELECT pg_sleep(1); COMMIT;" >/dev/null &
# wait until the update is done but not committed
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%pg_sleep(1)%' AND pid <> pg_backend_pid())" 10
echo "SELECT jsrt.execute('ver') AS during_uncommitted_update;" >&3
for _ in $(seq 1 50); do [ "$(grep -c '^1$' "$work/a.out")" -ge 2 ] && break; sleep 0.1; done
wait $!
echo "SELECT jsrt.execute('ver') AS after_commit;" >&3
exec 3>&-; wait $apid
check "old version while the update is uncommitted, new one after it commits" \
  "$([ "$(grep -v "^$" "$work/a.out" | tr "\n" " ")" = "1 1 2 " ] && echo 0 || echo 1)"

# 2. pg_cancel_backend stops a script that catches everything; the run is recorded as cancelled.
sql "SELECT jsrt.execute('forever')" > "$work/cancel.out" 2>&1 & cpid=$!
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%execute(''forever'')%' AND state = 'active' AND pid <> pg_backend_pid())" 10
"${PSQL[@]}" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%execute(''forever'')%' AND pid <> pg_backend_pid()" >/dev/null
wait $cpid
grep -q 'canceling statement due to user request' "$work/cancel.out"; check "pg_cancel_backend ends the script with 57014" $?
wait_for "SELECT jsrt.flush_history() AND EXISTS (SELECT 1 FROM jsrt.script_executions WHERE status = 'cancelled')" 10
check "the cancelled run is recorded" $?

# 3. pg_terminate_backend kills the backend; the server and other sessions go on.
sql "SELECT jsrt.execute('forever')" > "$work/kill.out" 2>&1 & kpid=$!
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%execute(''forever'')%' AND state = 'active' AND pid <> pg_backend_pid())" 10
"${PSQL[@]}" -c "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE query LIKE '%execute(''forever'')%' AND pid <> pg_backend_pid()" >/dev/null
wait $kpid
grep -q 'terminating connection' "$work/kill.out"; check "pg_terminate_backend ends the backend running the script" $?
[ "$(sql "SELECT jsrt.execute('ver')")" = 2 ]; check "the server still runs scripts after the kill" $?
wait_for "SELECT jsrt.flush_history() AND (SELECT count(*) FROM jsrt.script_executions WHERE status = 'cancelled') = 2" 10
check "the terminated run is recorded" $?

# 4. pg_dump keeps users' scripts, versions and history; a restore gives them back as they were.
sql "SELECT jsrt.update_script('ver', 'export default () => 3')" >/dev/null
summary="SELECT string_agg(s.name || ':' || s.version || ':' || (SELECT count(*) FROM jsrt.script_versions v WHERE v.script_id = s.id)
                              || ':' || (SELECT count(*) FROM jsrt.script_executions e WHERE e.script_id = s.id), ',' ORDER BY s.name)
           FROM jsrt.scripts s"
before=$("${PSQL[@]}" -c "$summary")
pg_dump -h /tmp -p "$PORT" -U postgres -Fc -f "$work/dump" "$DB"
"${PSQL[@]}" -c "SET client_min_messages = warning" -c "DROP DATABASE IF EXISTS jsrt_restored" -c "CREATE DATABASE jsrt_restored" >/dev/null
pg_restore -h /tmp -p "$PORT" -U postgres -d jsrt_restored "$work/dump" > "$work/restore.out" 2>&1
rc=$?
after=$(psql -X -q -At -h /tmp -p "$PORT" -U postgres jsrt_restored -c "$summary")
[ $rc -eq 0 ] && [ -n "$before" ] && [ "$before" = "$after" ]; check "pg_dump and pg_restore keep scripts, versions and history ($before)" $?
[ "$(psql -X -q -At -h /tmp -p "$PORT" -U postgres jsrt_restored -c "SELECT jsrt.set_tenant('it')" -c "SELECT jsrt.execute('ver')" | grep -v '^$')" = 3 ]
check "a restored script runs its current version" $?
[ $rc -eq 0 ] || head -20 "$work/restore.out"
"${PSQL[@]}" -c "DROP DATABASE jsrt_restored" >/dev/null

# 5. A cancel or a statement timeout inside a script's SQL ends the run at once, though the script catches everything.
sql "SELECT jsrt.create_script('sqlsleep', 'export default (ctx) => { for (;;) { try { ctx.db.query(\"select pg_sleep(10)\"); } catch (e) {} } }', 'oneoff', '{\"status\": \"active\", \"resource_limits\": {\"max_api_calls_per_minute\": 1000}}')" >/dev/null
start=$(date +%s%N)
sql "SELECT jsrt.execute('sqlsleep')" > "$work/sqlcancel.out" 2>&1 & spid=$!
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%execute(''sqlsleep'')%' AND wait_event = 'PgSleep')" 10
"${PSQL[@]}" -c "SELECT pg_cancel_backend(pid) FROM pg_stat_activity WHERE query LIKE '%execute(''sqlsleep'')%' AND pid <> pg_backend_pid()" >/dev/null
wait $spid
elapsed=$(( ($(date +%s%N) - start) / 1000000 ))
grep -q 'canceling statement due to user request' "$work/sqlcancel.out" && [ "$elapsed" -lt 9000 ]
check "pg_cancel_backend during a script's SQL ends the run, uncaught (${elapsed} ms)" $?
"${PSQL[@]}" -c "SELECT jsrt.set_tenant('it')" -c "SET statement_timeout = '300ms'" -c "SELECT jsrt.execute('sqlsleep')" > "$work/sqltimeout.out" 2>&1
grep -q 'canceling statement due to statement timeout' "$work/sqltimeout.out"
check "statement_timeout during a script's SQL ends the run, uncaught" $?
wait_for "SELECT jsrt.flush_history() AND EXISTS (SELECT 1 FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'sqlsleep' AND e.status = 'timeout')" 10
check "the statement timeout is recorded as a timeout" $?

# 6. max_api_calls_per_minute counts across backends: four sessions making two calls each
#    cannot all pass a limit of three a minute, even across a minute boundary.
sql "SELECT jsrt.create_script('twocalls', 'export default (ctx) => { ctx.db.query(\"select 1\"); ctx.db.query(\"select 2\"); return 1; }', 'oneoff', '{\"status\": \"active\", \"resource_limits\": {\"max_api_calls_per_minute\": 3}}')" >/dev/null
refused=0
for _ in 1 2 3 4; do
  out=$(sql "SELECT jsrt.execute('twocalls')")
  grep -q 'reached its limit of 3 API calls this minute' <<<"$out" && refused=$((refused + 1))
done
[ "$refused" -ge 1 ]; check "the per-minute API limit holds across sessions ($refused of 4 runs refused)" $?

# 7. A statement calling a typed function holds one place of its script's
#    max_concurrent_runs for the statement: a second session's call is refused
#    while it goes on, and taken after it; two calls in one statement share it.
sql "SELECT jsrt.create_script('slow_fn', 'export default (ctx, n) => { ctx.db.query(\"select pg_sleep(0.3)\"); return n; }', 'embedded', '{\"status\": \"active\", \"resource_limits\": {\"max_concurrent_runs\": 1}}')" >/dev/null
sql "SELECT jsrt.create_function('slow_fn', 'public.slow_fn(n int) returns int')" >/dev/null
sql "SELECT sum(public.slow_fn(g)) FROM generate_series(1, 6) g" > "$work/held.out" 2>&1 & hpid=$!
wait_for "SELECT EXISTS (SELECT 1 FROM pg_stat_activity WHERE query LIKE '%sum(public.slow_fn%' AND state = 'active' AND pid <> pg_backend_pid())" 10
sleep 0.4
busy=$(sql "SELECT public.slow_fn(7)")
wait $hpid
[ "$(cat "$work/held.out")" = 21 ] && grep -q 'max_concurrent_runs\|concurrent' <<<"$busy"
check "a second session's call is refused while a statement holds the script's only place ($busy)" $?
[ "$(sql "SELECT public.slow_fn(1) + public.slow_fn(2)")" = 3 ]
check "two calls of one statement share its place" $?
[ "$(sql "SELECT public.slow_fn(8)")" = 8 ]
check "the place is free once the statement ends" $?

rm -rf "$work"
finish
