#!/usr/bin/env bash
# Replicas and failover, on two clusters of its own: a primary with
# jsruntime preloaded and a streaming standby of it made with pg_basebackup.
#  - On the standby no jsrt worker runs; scripts do not run there: a read-only
#    script and a writing one are both refused with 25006 saying it is a
#    standby; what scripts wrote, and their history, can be read there.
#  - Failover: RUNS queued runs (each writing a row through ctx.db) drain on
#    the primary, which is stopped hard (pg_ctl -m immediate) midway; the
#    standby is promoted: its workers start within 10 s, every run reaches a
#    final state (the runs the dead primary had started fail, saying their
#    executor died; the rest run), and it serves SQL and HTTP.
#   tests/integration/replica.sh [RUNS]        (default 1000)
set -uo pipefail
cd "$(dirname "$0")/../.."
BIN=/usr/lib/postgresql/15/bin
PRIMARY=/tmp/jsrt-replica-primary; STANDBY=/tmp/jsrt-replica-standby
PORT=28850; SPORT=28851; DB=jsrt_replica; RUNS=${1:-1000}
TENANT=replica
source tests/integration/lib.sh
as_pg() { runuser -u postgres -- "$@"; }
P=("${PSQL[@]}")
S=(psql -X -q -At -h /tmp -p "$SPORT" -U postgres "$DB")
stop_all() { scripts/cluster.sh stop "$STANDBY"; scripts/cluster.sh stop "$PRIMARY"; }
stop_all; rm -rf "$PRIMARY" "$STANDBY"
trap stop_all EXIT

scripts/cluster.sh start "$PRIMARY" "$PORT" "$DB"
"${P[@]}" >/dev/null <<'SQL'
CREATE EXTENSION jsruntime;
SELECT jsrt.create_tenant('replica');
CREATE TABLE public.replica_log (tenant_id uuid NOT NULL, n int NOT NULL, run_id uuid NOT NULL, attempt int NOT NULL);
SELECT jsrt.expose_table('public.replica_log');
SELECT jsrt.set_tenant('replica');
SELECT jsrt.create_script('reader', 'export default (ctx) => ctx.db.one("SELECT count(*)::int AS n FROM replica_log").n', 'oneoff', '{"status": "active"}');
SELECT jsrt.create_script('writer', 'export default (ctx) => ctx.db.insert("replica_log", {n: 0, run_id: ctx.execution.id, attempt: ctx.execution.attempt})', 'oneoff', '{"status": "active"}');
-- 20 ms of work and a row per run: 1,000 runs take about 10 s on two executors
SELECT jsrt.create_script('work', 'export default (ctx) => { const t = Date.now(); while (Date.now() - t < 20) {} ctx.db.insert("replica_log", {n: ctx.input.n, run_id: ctx.execution.id, attempt: ctx.execution.attempt}); return ctx.input.n; }', 'oneoff', '{"status": "active", "history": "all", "resource_limits": {"max_api_calls_per_minute": 1000000}}');
SELECT jsrt.create_script('count_rows', 'export default (ctx) => ctx.db.one("SELECT count(*)::int AS n FROM replica_log").n', 'embedded', '{"status": "active"}');
SELECT jsrt.create_function('count_rows', 'public.replica_rows() returns int');
SELECT jsrt.create_script('hello', 'export default (ctx) => "hi"', 'http', '{"status": "active", "http_path": "/hello", "http_methods": ["GET"], "http_auth": "public"}');
SELECT jsrt.execute('writer');
SQL
executors=$("${P[@]}" -c "SHOW jsrt.executor_workers")

# The standby: a base backup of the primary, streaming from it (-R), on its own ports.
as_pg "$BIN/pg_basebackup" -h /tmp -p "$PORT" -U postgres -D "$STANDBY" -R -X stream -c fast
printf "port = %s\njsrt.http_listen = '127.0.0.1:%s'\n" "$SPORT" $((SPORT + 1000)) >> "$STANDBY/postgresql.conf"
as_pg env -u RUST_BACKTRACE "$BIN/pg_ctl" -D "$STANDBY" -l "$STANDBY/server.log" -w start >/dev/null
[ "$("${S[@]}" -c "SELECT pg_is_in_recovery()")" = t ]; check "the standby streams from the primary (in recovery)" $?

# 1. No jsrt worker on the standby (they start when recovery ends), while the primary has them all.
sleep 2
on_standby=$("${S[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'jsrt%'")
on_primary=$("${P[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type = 'jsrt executor'")
[ "$on_standby" = 0 ] && [ "$on_primary" = "$executors" ]
check "no jsrt worker runs on the standby ($on_standby there; $on_primary executors on the primary)" $?

# 2. Scripts do not run on a standby: a clear 25006, read-only script or not.
standby_sql() { "${S[@]}" -c '\set VERBOSITY verbose' -c "SELECT jsrt.set_tenant('replica')" -c "$1" 2>&1; }
out=$(standby_sql "SELECT jsrt.execute('reader')")
echo "$out" | grep -q 'ERROR:  25006: scripts do not run on a standby: this server is in recovery (read-only)'
check "jsrt.execute of a read-only script on the standby: 25006, it is a standby" $?
out=$(standby_sql "SELECT jsrt.execute('writer')")
echo "$out" | grep -q 'ERROR:  25006: scripts do not run on a standby'
check "a script that writes, on the standby: 25006, it is a standby" $?
for call in "SELECT public.replica_rows()" "SELECT jsrt.dry_run('reader')" "SELECT jsrt.http_dispatch('GET', '/hello')"; do
  out=$(standby_sql "$call")
  echo "$out" | grep -q 'ERROR:  25006: scripts do not run on a standby'
  check "on the standby, $call: 25006, it is a standby" $?
done
out=$(standby_sql "SELECT jsrt.execute_async('work', '{\"n\": 0}')")
echo "$out" | grep -q 'ERROR:  25006: cannot execute INSERT in a read-only transaction'
check "jsrt.execute_async on the standby: 25006 (a read-only transaction)" $?
out=$(standby_sql "SELECT jsrt.run_pending(10)")
echo "$out" | grep -q 'ERROR:  25006: scripts do not run on a standby'
check "jsrt.run_pending on the standby: 25006, it is a standby" $?
# What it does give: the scripts, their history and what they wrote, read there.
seen=$(standby_sql "SELECT (SELECT count(*) FROM jsrt.list_scripts()) || ' ' || (SELECT count(*) FROM jsrt.script_executions WHERE status = 'completed') || ' ' || (SELECT count(*) FROM public.replica_log)" | tail -1)
[ "$seen" = "5 1 1" ]; check "scripts, history and their rows read on the standby ($seen)" $?

# 3. Failover in the middle of RUNS queued runs.
"${P[@]}" -c "SELECT jsrt.set_tenant('replica')" \
  -c "SELECT count(jsrt.execute_async('work', jsonb_build_object('n', g))) FROM generate_series(1, $RUNS) g" >/dev/null
runs="FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'work'"
# the queue reaches the standby, then the primary dies with a part of it run
PSQL=("${S[@]}"); wait_for "SELECT count(*) = $RUNS $runs" 30
check "the $RUNS queued runs reached the standby" $?
PSQL=("${P[@]}"); wait_for "SELECT count(*) >= $RUNS / 5 $runs AND e.status = 'completed'" 60
as_pg "$BIN/pg_ctl" -D "$PRIMARY" -m immediate -w stop >/dev/null
left=$("${S[@]}" -c "SELECT count(*) $runs AND e.status IN ('pending', 'running')")
[ "$left" -gt 0 ]; check "the primary stopped hard (-m immediate) mid-drain: $left of $RUNS runs not finished on the standby" $?
start=$(date +%s.%N)
as_pg "$BIN/pg_ctl" -D "$STANDBY" -w promote >/dev/null
PSQL=("${S[@]}")
wait_for "SELECT count(*) = $executors FROM pg_stat_activity WHERE backend_type = 'jsrt executor'" 30
up=$?
took=$(echo "$(date +%s.%N) - $start" | bc)
[ $up -eq 0 ] && [ "$(echo "$took <= 10" | bc)" = 1 ]
check "promoted: its $executors executors run $(printf '%.1f' "$took") s after pg_ctl promote (bound 10 s)" $?
wait_for "SELECT count(*) FILTER (WHERE e.status IN ('pending', 'running')) = 0 $runs" $((RUNS / 20 + 60))
check "every one of the $RUNS runs reached a final state on the new primary" $?
summary=$("${S[@]}" -c "SELECT count(*) FILTER (WHERE e.status = 'completed') || ' completed, '
                                || count(*) FILTER (WHERE e.status = 'failed') || ' failed' $runs")
whole=$("${S[@]}" -c "SELECT count(*) = $RUNS AND count(DISTINCT e.input->>'n') = $RUNS
                             AND count(*) = count(*) FILTER (WHERE e.status IN ('completed', 'failed')) $runs")
[ "$whole" = t ]; check "none lost, none doubled ($summary)" $?
nfailed=$("${S[@]}" -c "SELECT count(*) $runs AND e.status = 'failed'")
bad=$("${S[@]}" -c "SELECT count(*) $runs AND e.status = 'failed'
                      AND e.error NOT LIKE 'the executor running it stopped (executor % died) after the run had started%'")
[ "$nfailed" -le "$executors" ] && [ "$bad" = 0 ]
check "only the runs the dead primary had started failed ($nfailed, at most $executors), each saying its executor died" $?
# each completed run's row is there once; a failed run's writes rolled back with it
rows=$("${S[@]}" -c "SELECT (SELECT count(*) $runs AND e.status = 'completed') = (SELECT count(*) FROM public.replica_log WHERE n > 0)
                        AND (SELECT count(*) FROM public.replica_log l JOIN jsrt.script_executions e ON e.id = l.run_id
                              WHERE l.n > 0 AND e.status = 'completed') = (SELECT count(*) FROM public.replica_log WHERE n > 0)")
[ "$rows" = t ]; check "one row per completed run, none of a failed one" $?

# 4. The new primary serves: synchronous and queued runs, and the HTTP front door.
out=$(sql "SELECT jsrt.execute('reader')" | tail -1)
[ "$out" -gt 0 ] 2>/dev/null; check "jsrt.execute on the promoted standby ($out rows read)" $?
id=$(sql "SELECT jsrt.execute_async('work', '{\"n\": -1}')" | tail -1)
wait_for "SELECT status = 'completed' FROM jsrt.script_executions WHERE id = '$id'" 30
check "a run queued after the promotion completes" $?
code=$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$((SPORT + 1000))/healthz")
[ "$code" = 200 ]; check "its HTTP front door answers /healthz ($code)" $?
finish
