#!/usr/bin/env bash
# A crash fails only what was running: RUNS short queued runs, and an
# executor killed with kill -9 KILLS times, EVERY seconds apart (each kill
# makes the postmaster restart every backend). Every run reaches a final
# state, none is lost, and only runs that had started fail: at most one per
# executor per crash, each saying its executor died.
#   tests/integration/crash.sh PORT DB [RUNS KILLS EVERY]
# The suite runs it short (300 runs, 3 kills); `make crash` runs the campaign
# (2,000 runs, a kill every 5 s).
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}; RUNS=${3:-300}; KILLS=${4:-3}; EVERY=${5:-1.5}
TENANT=crash
source "$(dirname "$0")/lib.sh"

"${PSQL[@]}" -c "DELETE FROM jsrt.tenants WHERE name = 'crash'" -c "SELECT jsrt.create_tenant('crash')" >/dev/null
executors=$("${PSQL[@]}" -c "SHOW jsrt.executor_workers")
# each run busy for 40 ms, so that a kill lands in the middle of runs
sql "SELECT jsrt.create_script('short', 'export default (ctx) => { const t = Date.now(); while (Date.now() - t < 40) {} return ctx.input.n; }', 'oneoff', '{\"status\": \"active\", \"history\": \"all\"}')" >/dev/null
sql "SELECT count(jsrt.execute_async('short', jsonb_build_object('n', g))) FROM generate_series(1, $RUNS) g" >/dev/null
runs="FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name = 'crash'"
kills=0
for _ in $(seq 1 "$KILLS"); do
  sleep "$EVERY"
  pid=$("${PSQL[@]}" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'jsrt executor' ORDER BY random() LIMIT 1" 2>/dev/null)
  [ -n "$pid" ] && kill -9 "$pid" && kills=$((kills + 1))
  # the postmaster restarts every backend; wait until it takes connections again
  for _ in $(seq 1 100); do "${PSQL[@]}" -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done
done
wait_for "SELECT count(*) FILTER (WHERE e.status IN ('pending', 'running')) = 0 $runs" $((RUNS / 10 + 60))
check "after $kills kills -9, every one of $RUNS runs reached a final state" $?
summary=$("${PSQL[@]}" -c "SELECT count(*) || ' rows, ' || count(DISTINCT (e.input->>'n')) || ' inputs, '
                                  || count(*) FILTER (WHERE e.status = 'completed') || ' completed, '
                                  || count(*) FILTER (WHERE e.status = 'failed') || ' failed' $runs")
total=$("${PSQL[@]}" -c "SELECT count(DISTINCT (e.input->>'n')) = $RUNS AND count(*) = $RUNS $runs")
[ "$total" = t ]; check "none lost, none doubled ($summary)" $?
nfailed=$("${PSQL[@]}" -c "SELECT count(*) $runs AND e.status = 'failed'")
[ "$nfailed" -le $((kills * executors)) ] && [ "$kills" -gt 0 ]
check "only started runs fail: $nfailed failed, at most $executors executors x $kills crashes" $?
other=$("${PSQL[@]}" -c "SELECT count(*) $runs AND (e.status NOT IN ('completed', 'failed')
                            OR (e.status = 'failed' AND e.error NOT LIKE 'the executor running it stopped (executor % died) after the run had started%'))")
[ "$other" = 0 ]; check "each failed run's error says its executor died after it started" $?
"${PSQL[@]}" -c "DELETE FROM jsrt.tenants WHERE name = 'crash'" >/dev/null
finish
