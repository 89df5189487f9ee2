#!/usr/bin/env bash
# Runs watched while they go on: ctx.progress and log lines in jsrt.running()
# from another session, for queued, synchronous and HTTP runs, filtered by
# tenant; the last progress in the history; an HTTP run's request as its input.
#   tests/integration/live.sh PORT DB      (the front listens on PORT + 1000)
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
HTTP_PORT=$((PORT + 1000))
TENANT=live_a
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d)

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('live_a')" -c "SELECT jsrt.create_tenant('live_b')" >/dev/null
job='export default (ctx) => { for (let i = 1; i <= 30; i++) { ctx.progress(i, 30, `step ${i}`); ctx.log.info(`did ${i}`); const end = Date.now() + 100; while (Date.now() < end) {} } return "ok"; }'
sql "SELECT jsrt.create_script('longjob', \$js\$$job\$js\$, 'oneoff', '{\"status\": \"active\"}')" >/dev/null
sql "SELECT jsrt.create_script('longhttp', \$js\$$job\$js\$, 'http', '{\"status\": \"active\", \"http_path\": \"/long\", \"http_auth\": \"public\"}')" >/dev/null
sql "SELECT jsrt.create_script('hookfail', 'export default (ctx) => { throw new Error(\"bad hook \" + ctx.request.text().length) }', 'http', '{\"status\": \"active\", \"http_path\": \"/hook\", \"http_methods\": [\"POST\"], \"http_auth\": \"public\"}')" >/dev/null
live() { # condition on jsrt.running() of tenant ${T:-live_a}
  "${PSQL[@]}" -c "SELECT jsrt.set_tenant('${T:-live_a}')" -c "SELECT $1 FROM jsrt.running() r" 2>&1 | tail -1; }
watch_for() { # condition, seconds
  for _ in $(seq 1 $(( $2 * 10 ))); do [ "$(live "$1")" = t ] && return 0; sleep 0.1; done; return 1; }

# 1. A queued run, watched from another session while it goes on.
id=$(sql "SELECT jsrt.execute_async('longjob')" | tail -1)
watch_for "bool_or(r.execution_id = '$id' AND r.script = 'longjob' AND r.progress_done BETWEEN 1 AND 29
                   AND r.progress_total = 30 AND r.message LIKE 'step %' AND r.logs[array_length(r.logs, 1)] LIKE '[info] did %')" 20
check "a queued run's progress, message and last log lines are seen from another session" $?
[ "$(T=live_b live "count(*) = 0")" = t ]
check "another tenant does not see it" $?
wait_for "SELECT status = 'completed' FROM jsrt.script_executions WHERE id = '$id'" 20
[ "$(sql "SELECT metrics->'progress' = '{\"done\": 30, \"total\": 30, \"message\": \"step 30\"}' FROM jsrt.script_executions WHERE id = '$id'" | tail -1)" = t ] \
  && [ "$(live "count(*) FILTER (WHERE r.execution_id = '$id') = 0")" = t ]
check "the history row keeps the last progress, and the finished run is gone from jsrt.running()" $?

# 2. A synchronous run in another session.
sql "SELECT jsrt.execute('longjob')" > "$work/sync.out" 2>&1 & spid=$!
watch_for "bool_or(r.script = 'longjob' AND r.trigger = 'manual' AND r.progress_done >= 1)" 20
check "a synchronous run is seen while it goes on" $?
wait $spid

# 3. An HTTP run.
curl -s -o /dev/null --max-time 30 "http://127.0.0.1:$HTTP_PORT/t/live_a/long" & cpid=$!
watch_for "bool_or(r.script = 'longhttp' AND r.trigger = 'http' AND r.progress_done >= 1)" 20
check "an HTTP run is seen while it goes on" $?
wait $cpid

# 4. ctx.progress refuses what is not a count.
sql "SELECT jsrt.create_script('badprogress', 'export default (ctx) => ctx.progress(-1)', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
out=$(sql "SELECT jsrt.execute('badprogress')" 2>&1)
grep -q 'ctx.progress: done must be a finite number of 0 or more, not -1' <<<"$out"
check "ctx.progress(-1) is a clear error" $?

# 5. A failed HTTP run keeps its request, without credentials, as its input.
curl -s -o /dev/null -X POST -H 'Cookie: session=very-secret-token' -H 'X-Signature: s1' \
  -H 'Content-Type: application/json' --data-binary '{"b": 1.50, "a": [1e3]}' "http://127.0.0.1:$HTTP_PORT/t/live_a/hook?src=test"
"${PSQL[@]}" -c "SELECT jsrt.flush_history(5000)" >/dev/null
got=$(sql "SELECT e.input->>'method', e.input->>'path', e.input->'query'->>'src', e.input->>'body', e.input->'headers' ? 'x-signature', e.input->'headers' ? 'cookie', e.input::text LIKE '%very-secret%'
             FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'hookfail'" | tail -1)
[ "$got" = 'POST|/t/live_a/hook|test|{"b": 1.50, "a": [1e3]}|t|f|f' ]
check "a failed webhook's history keeps its request and body as sent, without credentials ($got)" $?

finish
