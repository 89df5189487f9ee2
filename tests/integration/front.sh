#!/usr/bin/env bash
# The HTTP front worker and its runners (tests/integration/front.py): no
# head-of-line blocking, the fair bounded queue, a runner dying mid-request,
# 1,000 keep-alive connections, metrics that retention does not reset, and the
# front restarted alone.
#   tests/integration/front.sh PORT DB      (the front listens on PORT + 1000)
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
HTTP_PORT=$((PORT + 1000))
TENANT=front_a
source "$(dirname "$0")/lib.sh"
py() { python3 "$(dirname "$0")/front.py" "$HTTP_PORT" "$@" | tee "$work/py.out"
  passed=$((passed + $(grep -c '^ok ' "$work/py.out"))); failed=$((failed + $(grep -c '^FAIL' "$work/py.out"))); }
conf() { "${PSQL[@]}" -c "ALTER SYSTEM $1" -c "SELECT pg_reload_conf()" >/dev/null; sleep 1.5; }
work=$(mktemp -d)

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('front_a')" -c "SELECT jsrt.create_tenant('front_b')" >/dev/null
sql "SELECT jsrt.create_script('slow', 'export default () => { const end = Date.now() + 3000; while (Date.now() < end) {} return \"done\"; }', 'http',
      '{\"status\": \"active\", \"http_path\": \"/slow\", \"http_auth\": \"public\", \"history\": \"errors\", \"resource_limits\": {\"max_concurrent_runs\": 100}}')" >/dev/null
# a builtin that cannot be interrupted: 1 s past its deadline the watchdog ends the runner with FATAL
sql "SELECT jsrt.create_script('fatal', 'export default () => { const n = 50e6, a = new Float64Array(n), s = new Float64Array(4096); for (let i = 0; i < 4096; i++) s[i] = (i * 2654435761) % 1000003; for (let i = 0; i < n; i += 4096) a.set(s.subarray(0, Math.min(4096, n - i)), i); a.sort(); return 1 }', 'http',
      '{\"status\": \"active\", \"http_path\": \"/fatal\", \"http_auth\": \"public\", \"resource_limits\": {\"max_execution_time_ms\": 1000, \"max_memory_bytes\": 536870912}}')" >/dev/null
T=front_b sql "SELECT jsrt.create_script('fast', 'export default () => \"fast\"', 'http',
      '{\"status\": \"active\", \"http_path\": \"/fast\", \"http_auth\": \"public\", \"history\": \"errors\"}')" >/dev/null

py hol
conf "SET jsrt.http_queue_max_per_tenant = 2"
py bound
conf "RESET jsrt.http_queue_max_per_tenant"
front_pid=$("${PSQL[@]}" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'jsrt http front'")
conf "SET jsrt.max_memory_bytes = 1073741824"
py fatal
conf "RESET jsrt.max_memory_bytes"
[ "$("${PSQL[@]}" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'jsrt http front'")" = "$front_pid" ]
check "the runner's death restarted nothing else: the same front worker" $?
py conns
conf "SET jsrt.http_idle_timeout_ms = 1000"
py slow
conf "RESET jsrt.http_idle_timeout_ms"
# The 1,000 closed connections leave nothing behind in the front.
gone=1
for _ in $(seq 1 50); do
  [ "$(curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^jsrt_http_connections / { print $2 }')" = 1 ] && { gone=0; break; }
  sleep 0.2
done
check "closed connections are dropped by the front (jsrt_http_connections back to 1)" $gone

# Extra runners leave after 10 s idle; the standing two stay and serve.
wait_for "SELECT count(*) = 2 FROM pg_stat_activity WHERE backend_type = 'jsrt http runner'" 30 \
  && [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/t/front_b/fast")" = 200 ]
check "idle extra runners leave; the standing ones serve" $?

# Counters live in shared memory: deleting the whole history does not lower them.
runs() { curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | awk '/^jsrt_runs_total\{trigger="http",status="completed"\}/ { print $2 }'; }
before=$(runs)
"${PSQL[@]}" -c "SET jsrt.execution_retention = '0'" -c "SELECT jsrt.cleanup_history(1000000)" >/dev/null
after=$(runs)
[ -n "$before" ] && [ "$before" -gt 0 ] && [ "$after" -ge "$before" ]
check "run counters survive retention ($before, then $after)" $?

# Per-script series, when asked for.
conf "SET jsrt.metrics_per_script = on"
curl -s -o /dev/null "http://127.0.0.1:$HTTP_PORT/t/front_b/fast"
curl -s "http://127.0.0.1:$HTTP_PORT/metrics" | grep -q '^jsrt_script_runs_total{tenant="front_b",script="fast",status="completed"} [1-9]'
check "jsrt.metrics_per_script adds runs by tenant and script" $?
conf "RESET jsrt.metrics_per_script"

# The front alone stopped (pg_terminate_backend): it is restarted, and the runners greet it again.
"${PSQL[@]}" -c "SELECT pg_terminate_backend($front_pid)" >/dev/null
ok=1
for _ in $(seq 1 50); do
  [ "$(curl -s -o /dev/null -w '%{http_code}' "http://127.0.0.1:$HTTP_PORT/t/front_b/fast")" = 200 ] && { ok=0; break; }
  sleep 0.2
done
check "the front worker stopped alone is restarted and serves again" $ok

finish
