#!/usr/bin/env bash
# The asynchronous engine against a running cluster with the library
# preloaded: an executor killed with kill -9 in the middle of a run, a server
# restart with a full queue, fairness between tenants, and max_concurrent_runs
# between executors and synchronous callers.
# Then: no executor hoards runs, a cancel of a running run, and the tenant-wide cap.
#   tests/integration/queue.sh PORT DB DATADIR
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}; DIR=${3:?data directory}
TENANT=qa
source "$(dirname "$0")/lib.sh"
as_pg() { runuser -u postgres -- "$@"; }

"${PSQL[@]}" -c "DROP EXTENSION IF EXISTS jsruntime CASCADE" -c "CREATE EXTENSION jsruntime" \
  -c "SELECT jsrt.create_tenant('qa'), jsrt.create_tenant('qb')" >/dev/null

# 1. kill -9 of an executor in the middle of a run: the run is recorded as
#    failed and its event goes down the retry path; the retry completes, and
#    the two attempts never ran at the same time.
sql "SELECT jsrt.create_script('crashy', 'export default (ctx) => { if (ctx.execution.attempt === 1) ctx.db.query(\"select pg_sleep(30)\"); return ctx.execution.attempt; }', 'event', '{\"status\": \"active\", \"event_types\": [\"crash.me\"]}')" >/dev/null
sql "SELECT jsrt.emit('crash.me', '{}')" >/dev/null
wait_for "SELECT EXISTS (SELECT 1 FROM jsrt.script_executions WHERE status = 'running' AND trigger_type = 'event')" 10
pid=$("${PSQL[@]}" -c "SELECT split_part(worker, ' ', 2) FROM jsrt.script_executions WHERE status = 'running' AND trigger_type = 'event'")
kill -9 "$pid"
# The postmaster restarts every backend after a crash; wait until it accepts connections again.
for _ in $(seq 1 100); do "${PSQL[@]}" -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
wait_for "SELECT count(*) = 1 FROM jsrt.script_executions WHERE trigger_type = 'event' AND status = 'completed'" 30
outcome=$("${PSQL[@]}" -c "SELECT string_agg(attempt || ':' || status, ',' ORDER BY attempt) FROM jsrt.script_executions WHERE trigger_type = 'event'")
overlap=$("${PSQL[@]}" -c "SELECT count(*) FROM jsrt.script_executions a JOIN jsrt.script_executions b ON a.attempt = 1 AND b.attempt = 2
                            WHERE a.trigger_type = 'event' AND b.trigger_type = 'event' AND b.started_at < a.completed_at")
[ "$outcome" = "1:failed,2:completed" ] && [ "$overlap" = 0 ]
check "kill -9 of an executor mid-run: recorded, retried once, never twice at once ($outcome)" $?
"${PSQL[@]}" -c "SELECT error FROM jsrt.script_executions WHERE attempt = 1 AND trigger_type = 'event'" | grep -q 'the executor running it stopped (executor [0-9]* died) after the run had started'
check "the killed run's error says its executor died mid-run" $?

# 2. A server restart with a full queue: everything runs after the start.
sql "SELECT jsrt.create_script('tick', 'export default (ctx) => ctx.input.n', 'oneoff', '{\"status\": \"active\", \"history\": \"all\"}')" >/dev/null
sql "SELECT count(jsrt.execute_async('tick', jsonb_build_object('n', g))) FROM generate_series(1, 500) g" >/dev/null
as_pg /usr/lib/postgresql/15/bin/pg_ctl -D "$DIR" -m fast -w stop >/dev/null
as_pg env -u RUST_BACKTRACE /usr/lib/postgresql/15/bin/pg_ctl -D "$DIR" -l "$DIR/server.log" -w start >/dev/null
wait_for "SELECT count(*) = 500 FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'tick' AND e.status = 'completed'" 60
check "a restart with 500 queued runs: all 500 complete after it" $?

# 3. Fairness: tenant qb's few runs are not stuck behind tenant qa's flood.
sql "SELECT jsrt.create_script('work', 'export default (ctx) => { const t = Date.now(); while (Date.now() - t < 5) {} return 1; }', 'oneoff', '{\"status\": \"active\", \"resource_limits\": {\"max_concurrent_runs\": 100}}')" >/dev/null
T=qb sql "SELECT jsrt.create_script('work', 'export default (ctx) => 1', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
sql "SELECT count(jsrt.execute_async('work')) FROM generate_series(1, 600)" >/dev/null
T=qb sql "SELECT count(jsrt.execute_async('work')) FROM generate_series(1, 10)" >/dev/null
wait_for "SELECT count(*) = 10 FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name = 'qb' AND e.status = 'completed'" 60
left=$("${PSQL[@]}" -c "SELECT count(*) FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name = 'qa' AND e.status IN ('pending', 'running')")
[ "$left" -gt 100 ]; check "a flooding tenant does not starve another: qb done with $left of qa's 600 runs still queued" $?

# 4. max_concurrent_runs holds between an executor and a synchronous caller.
sql "SELECT jsrt.create_script('single', 'export default (ctx) => { ctx.db.query(\"select pg_sleep(\$1)\", [ctx.input.s]); return 1; }', 'oneoff', '{\"status\": \"active\", \"resource_limits\": {\"max_concurrent_runs\": 1}}')" >/dev/null
sql "SELECT jsrt.execute_async('single', '{\"s\": 3}')" >/dev/null
wait_for "SELECT EXISTS (SELECT 1 FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'single' AND e.status = 'running')" 30
out=$(sql "SELECT jsrt.execute('single', '{\"s\": 0}')")
grep -q 'is already running 1 times, its limit (resource_limits.max_concurrent_runs)' <<<"$out"
check "a synchronous call is refused while an executor runs the script's only slot" $?

# 5. The scheduler: an every-second script starts within 1 s of each scheduled time.
sql "SELECT jsrt.create_script('every-second', 'export default (ctx) => 1', 'scheduled', '{\"status\": \"active\", \"cron_expression\": \"* * * * * *\"}')" >/dev/null
sleep 4
sql "SELECT jsrt.set_status('every-second', 'paused')" >/dev/null
late=$("${PSQL[@]}" -c "SELECT count(*) || ' runs, latest ' || round(max(extract(epoch FROM e.started_at - (e.trigger_data->>'scheduled_for')::timestamptz)) * 1000) || ' ms'
                         FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
                        WHERE s.name = 'every-second' AND e.status = 'completed'")
"${PSQL[@]}" -c "SELECT count(*) >= 3 AND max(e.started_at - (e.trigger_data->>'scheduled_for')::timestamptz) < interval '1 second'
                   FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
                  WHERE s.name = 'every-second' AND e.status = 'completed'" | grep -q t
check "scheduled runs start within 1 s of their time ($late)" $?

# 6. No executor hoards work: six 2-second runs queued together spread over
#    the two executors (3 + 3, about 6 s, not 12 s serially), and a row is
#    `running` only while its run goes on: never more than the executors.
sql "SELECT jsrt.create_script('eight', 'export default (ctx) => { ctx.db.query(\"select pg_sleep(2)\"); return 1; }', 'oneoff', '{\"status\": \"active\", \"history\": \"all\"}')" >/dev/null
start=$(date +%s%3N)
sql "SELECT count(jsrt.execute_async('eight')) FROM generate_series(1, 6)" >/dev/null
most=0
eight="FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'eight'"
for _ in $(seq 1 150); do
  n=$("${PSQL[@]}" -c "SELECT count(*) $eight AND e.status = 'running'")
  [ "$n" -gt "$most" ] && most=$n
  [ "$("${PSQL[@]}" -c "SELECT count(*) $eight AND e.status = 'completed'")" = 6 ] && break
  sleep 0.1
done
took=$(( $(date +%s%3N) - start ))
workers=$("${PSQL[@]}" -c "SELECT count(DISTINCT e.worker) $eight")
[ "$took" -lt 9000 ] && [ "$most" -le 2 ] && [ "$workers" = 2 ]
check "six 2 s runs took ${took} ms on $workers executors, at most $most running at once" $?

# 7. A cancelled running run is recorded as cancelled by jsrt.cancel, not as a JS error.
sql "SELECT jsrt.create_script('long', 'export default (ctx) => { for (;;) {} }', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
id=$(sql "SELECT jsrt.execute_async('long')")
wait_for "SELECT status = 'running' FROM jsrt.script_executions WHERE id = '$id'" 10
took=$(sql "SELECT jsrt.cancel('$id')")
wait_for "SELECT status = 'cancelled' FROM jsrt.script_executions WHERE id = '$id'" 10
rec=$("${PSQL[@]}" -c "SELECT status || ' / ' || error FROM jsrt.script_executions WHERE id = '$id'")
again=$(sql "SELECT jsrt.cancel('$id')")
[ "$took" = t ] && [ "$again" = f ] && [[ "$rec" == "cancelled / Cancelled: the run was cancelled (jsrt.cancel)"* ]]
check "a running run's cancel: true, then false; recorded as '$rec'" $?

# 8. The tenant-wide cap: qa capped at 1 keeps one executor free for qb, and
#    refuses a synchronous run of qa while its one place is taken.
"${PSQL[@]}" -c "SELECT jsrt.set_tenant_max_concurrent_runs('qa', 1)" >/dev/null
sql "SELECT jsrt.create_script('second', 'export default (ctx) => { ctx.db.query(\"select pg_sleep(1)\"); return 1; }', 'oneoff', '{\"status\": \"active\", \"history\": \"all\"}')" >/dev/null
T=qb sql "SELECT jsrt.create_script('quick', 'export default (ctx) => 1', 'oneoff', '{\"status\": \"active\", \"history\": \"all\"}')" >/dev/null
sql "SELECT count(jsrt.execute_async('second')) FROM generate_series(1, 4)" >/dev/null
wait_for "SELECT EXISTS (SELECT 1 FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'second' AND e.status = 'running')" 10
qb=$(T=qb sql "SELECT jsrt.execute_async('quick')")
wait_for "SELECT status = 'completed' FROM jsrt.script_executions WHERE id = '$qb'" 5
check "with qa capped at 1 and busy, qb's run starts at once on the other executor" $?
busy=$(sql "SELECT jsrt.execute('second')")
grep -q 'tenant "qa" is already running 1 runs, its limit' <<<"$busy"
check "a synchronous run of qa at its cap is refused: $busy" $?
wait_for "SELECT count(*) = 4 FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'second' AND e.status = 'completed'" 20
overlap=$("${PSQL[@]}" -c "SELECT count(*) FROM jsrt.script_executions a, jsrt.script_executions b, jsrt.scripts s
                            WHERE s.name = 'second' AND a.script_id = s.id AND b.script_id = s.id AND a.id < b.id
                              AND a.started_at < b.completed_at AND b.started_at < a.completed_at")
[ "$overlap" = 0 ]; check "qa's four runs, capped at 1, never overlapped" $?
"${PSQL[@]}" -c "SELECT jsrt.set_tenant_max_concurrent_runs('qa', NULL)" >/dev/null

finish
