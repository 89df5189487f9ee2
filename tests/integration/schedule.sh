#!/usr/bin/env bash
# Scheduled runs with the scheduler and the executors of a running cluster:
# jsrt.script_scheduled_jobs shows a run as it starts and as it ends (not at
# the job's next due time, which is a day away here), and a failed cron run
# is tried again by its retry policy, after its backoff.
#   tests/integration/schedule.sh PORT DB
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
TENANT=sched_live
source "$(dirname "$0")/lib.sh"

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('$TENANT') WHERE NOT EXISTS (SELECT FROM jsrt.tenants WHERE name = '$TENANT')" >/dev/null
# Due once, 3 s from now (UTC), then a day later. Attempt 1 takes 2 s and
# fails; attempt 2, 3 s after, completes.
cron=$("${PSQL[@]}" -c "SELECT to_char(clock_timestamp() AT TIME ZONE 'UTC' + interval '3 s', 'SS MI HH24') || ' * * *'")
sql "SELECT jsrt.create_script('ticker', 'export default (ctx) => { if (ctx.execution.attempt === 1) { ctx.db.query(\"select pg_sleep(2)\"); throw new Error(\"first attempt fails\"); } return \"ok\"; }', 'scheduled', '{\"status\": \"active\", \"cron_expression\": \"$cron\", \"retry\": {\"attempts\": 2, \"backoff_ms\": 3000}}')" >/dev/null
job="SELECT j.is_running, coalesce(j.last_run_status, '-') FROM jsrt.script_scheduled_jobs j JOIN jsrt.tenants t ON t.id = j.tenant_id WHERE t.name = '$TENANT'"
runs="FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name = '$TENANT' AND e.trigger_type = 'cron'"

wait_for "SELECT EXISTS (SELECT 1 $runs AND e.status = 'running')" 15
check "is_running turns true when the run starts ($("${PSQL[@]}" -c "$job"))" \
  "$([ "$("${PSQL[@]}" -c "$job")" = "t|-" ] && echo 0 || echo 1)"
wait_for "SELECT EXISTS (SELECT 1 $runs AND e.attempt = 1 AND e.status = 'failed')" 15
check "when it fails: last_run_status failed, is_running false ($("${PSQL[@]}" -c "$job"))" \
  "$([ "$("${PSQL[@]}" -c "$job")" = "f|failed" ] && echo 0 || echo 1)"
wait_for "SELECT EXISTS (SELECT 1 $runs AND e.attempt = 2 AND e.status = 'completed')" 15
check "the retry completes: last_run_status completed ($("${PSQL[@]}" -c "$job"))" \
  "$([ "$("${PSQL[@]}" -c "$job")" = "f|completed" ] && echo 0 || echo 1)"
got=$("${PSQL[@]}" -c "SELECT string_agg(e.attempt || ':' || e.status || ':' || (e.parent_execution_id IS NOT NULL), ',' ORDER BY e.attempt) $runs")
check "two attempts, the second a retry of the first ($got)" "$([ "$got" = "1:failed:false,2:completed:true" ] && echo 0 || echo 1)"
gap=$("${PSQL[@]}" -c "SELECT extract(epoch FROM r.started_at - f.completed_at) >= 2.9 FROM jsrt.script_executions f JOIN jsrt.script_executions r ON r.parent_execution_id = f.id JOIN jsrt.tenants t ON t.id = f.tenant_id WHERE t.name = '$TENANT'")
check "the retry waited its backoff (3 s)" "$([ "$gap" = t ] && echo 0 || echo 1)"
sql "SELECT jsrt.set_status('ticker', 'paused')" >/dev/null
finish
