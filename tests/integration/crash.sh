#!/usr/bin/env bash
# The crash campaign: RUNS queued event runs over TENANTS tenants, and an
# executor killed with kill -9 every EVERY seconds for DURATION seconds
# (each kill makes the postmaster restart every backend). Each run busies
# itself WORK_MS ms, then records (n, run id, attempt) through ctx.db in an
# exposed table, in the run's own transaction. At the end:
#  - every run is in a final state, and the cluster serves (SQL, executors);
#  - no run is lost: every one of the RUNS events has a completed run and its
#    row, and none became a dead letter;
#  - duplicates (rows beyond one per event) are no more than the crashes:
#    runs are at least once; a run killed midway is failed, saying its
#    executor died (at most one per executor per crash), and retried;
#  - runs were still in flight when the last kill landed.
#   tests/integration/crash.sh PORT DB [RUNS TENANTS DURATION EVERY WORK_MS]
# The suite runs it short (400 runs, 5 tenants, 3 kills 1.5 s apart); `make
# crash` runs the campaign (10,000 runs, 50 tenants, a kill every 5 s for 2 min).
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}; RUNS=${3:-400}; TENANTS=${4:-5}; DURATION=${5:-4.5}; EVERY=${6:-1.5}
WORK_MS=${7:-40}
TENANT=crash_1
source "$(dirname "$0")/lib.sh"

cleanup() {
  "${PSQL[@]}" -c "SET client_min_messages = warning" -c "DELETE FROM jsrt.tenants WHERE name LIKE 'crash\_%'" \
    -c "SELECT jsrt.unexpose_table(c.oid::regclass) FROM pg_class c WHERE c.oid = to_regclass('public.crash_log')" \
    -c "DROP TABLE IF EXISTS public.crash_log" >/dev/null
}
cleanup
executors=$("${PSQL[@]}" -c "SHOW jsrt.executor_workers")
work="export default (ctx) => {
  const t = Date.now(); while (Date.now() - t < $WORK_MS) {}
  ctx.db.insert('crash_log', {n: ctx.input.n, run_id: ctx.execution.id, attempt: ctx.execution.attempt});
  return ctx.input.n;
}"
{
  echo "CREATE TABLE public.crash_log (tenant_id uuid NOT NULL, n int NOT NULL, run_id uuid NOT NULL, attempt int NOT NULL);"
  echo "SELECT jsrt.expose_table('public.crash_log');"
  for t in $(seq 1 "$TENANTS"); do
    echo "SELECT jsrt.create_tenant('crash_$t');"
    echo "SELECT jsrt.set_tenant('crash_$t');"
    echo "SELECT jsrt.create_script('crash_work', \$js\$$work\$js\$, 'event', '{\"status\": \"active\", \"event_types\": [\"crash.work\"], \"history\": \"all\", \"resource_limits\": {\"max_api_calls_per_minute\": 100000000}}');"
  done
} | "${PSQL[@]}" >/dev/null
runs="FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name LIKE 'crash\_%'"
started=$(date +%s.%N)
# RUNS events, spread round the tenants: one run each
"${PSQL[@]}" -c "INSERT INTO jsrt.events (tenant_id, event_type, payload)
                   SELECT t.id, 'crash.work', jsonb_build_object('n', g)
                     FROM generate_series(1, $RUNS) g
                     JOIN jsrt.tenants t ON t.name = 'crash_' || (1 + g % $TENANTS)" >/dev/null

# A kill every EVERY s from the start, for DURATION s, whatever the restarts take.
planned=$(echo "$DURATION / $EVERY" | bc)
kills=0; left_at_last=0
for i in $(seq 1 "$planned"); do
  nap=$(echo "$started + $i * $EVERY - $(date +%s.%N)" | bc)
  [ "$(echo "$nap > 0" | bc)" = 1 ] && sleep "$nap"
  # an executor (after a restart, once they are back), and how many runs are not yet final
  for _ in $(seq 1 100); do
    victim=$("${PSQL[@]}" -c "SELECT a.pid || ' ' || (SELECT count(*) $runs AND e.status IN ('pending', 'running'))
                                FROM pg_stat_activity a WHERE a.backend_type = 'jsrt executor' ORDER BY random() LIMIT 1" 2>/dev/null)
    [ -n "$victim" ] && break; sleep 0.1
  done
  [ -n "$victim" ] && kill -9 "${victim% *}" && kills=$((kills + 1)) && left_at_last=${victim#* }
done
echo "     $kills kills -9 in $(printf '%.0f' "$(echo "$(date +%s.%N) - $started" | bc)") s; $left_at_last runs not yet final at the last one"
[ "$kills" = "$planned" ] && [ "$left_at_last" -gt 0 ]
check "$kills executors killed $EVERY s apart, every one with runs still in flight" $?
for _ in $(seq 1 100); do "${PSQL[@]}" -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.1; done

wait_for "SELECT count(*) FILTER (WHERE e.status IN ('pending', 'running')) = 0 $runs" \
  $(( RUNS * WORK_MS / executors / 1000 + 120 ))
check "every run reached a final state" $?
took=$(printf '%.0f' "$(echo "$(date +%s.%N) - $started" | bc)")
figures=$("${PSQL[@]}" -c "SELECT count(*) || ' executions: ' || count(*) FILTER (WHERE e.status = 'completed') || ' completed, '
                                  || count(*) FILTER (WHERE e.status = 'failed') || ' failed, '
                                  || count(*) FILTER (WHERE e.attempt > 1) || ' retries' $runs")
lost=$("${PSQL[@]}" -c "SELECT $RUNS - count(DISTINCT n) FROM public.crash_log")
duplicates=$("${PSQL[@]}" -c "SELECT count(*) - count(DISTINCT n) FROM public.crash_log")
dead=$("${PSQL[@]}" -c "SELECT count(*) FROM jsrt.script_event_dead_letters d JOIN jsrt.tenants t ON t.id = d.tenant_id WHERE t.name LIKE 'crash\_%'")
echo "     $RUNS runs over $TENANTS tenants in $took s; $figures; $kills crashes, $duplicates duplicates, $lost lost"
complete=$("${PSQL[@]}" -c "SELECT count(DISTINCT (e.input->>'n')) = $RUNS $runs AND e.status = 'completed'")
[ "$lost" = 0 ] && [ "$dead" = 0 ] && [ "$complete" = t ]
check "no run lost: each of the $RUNS has completed and its row ($lost lost, $dead dead letters)" $?
[ "$duplicates" -le "$kills" ]; check "duplicates no more than the crashes ($duplicates, $kills crashes)" $?
nfailed=$("${PSQL[@]}" -c "SELECT count(*) $runs AND e.status = 'failed'")
other=$("${PSQL[@]}" -c "SELECT count(*) $runs AND (e.status NOT IN ('completed', 'failed')
                            OR (e.status = 'failed' AND e.error NOT LIKE 'the executor running it stopped (executor % died) after the run had started%'))")
[ "$nfailed" -le $((kills * executors)) ] && [ "$other" = 0 ]
check "only started runs failed ($nfailed, at most $executors executors x $kills crashes), each saying its executor died" $?
# the cluster serves: its executors are back and a synchronous run works
wait_for "SELECT count(*) = $executors FROM pg_stat_activity WHERE backend_type = 'jsrt executor'" 30
alive=$?
out=$(T=crash_1 sql "SELECT jsrt.execute('crash_work', '{\"n\": 0}')" | tail -1)
[ $alive -eq 0 ] && [ "$out" = 0 ]; check "the cluster serves: $executors executors, a synchronous run" $?
cleanup
finish
