#!/usr/bin/env bash
# Endpoint scripts served by the HTTP workers, over real sockets
# (tests/integration/endpoints.py), then kill -9 of a worker: the port answers again.
#   tests/integration/endpoints.sh PORT DB      (the workers listen on PORT + 1000)
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
HTTP_PORT=$((PORT + 1000))
TENANT=http_it
source "$(dirname "$0")/lib.sh"
work=$(mktemp -d); chmod 755 "$work"

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('http_it')" >/dev/null
script() { # name, options (jsonb), source on stdin
  cat > "$work/$1.js"
  sql "SELECT jsrt.create_script('$1', pg_read_file('$work/$1.js'), 'http', '$2')" >/dev/null
}
script get_order '{"status": "active", "http_path": "/orders/:id", "http_methods": ["GET", "PUT"]}' <<'JS'
export default (ctx) => ({id: ctx.request.params.id, q: ctx.request.query, method: ctx.request.method});
JS
script post_order '{"status": "active", "http_path": "/orders", "http_methods": ["POST"]}' <<'JS'
export default (ctx) => ({status: 201, headers: {Location: '/orders/9'}, body: {got: ctx.request.body}});
JS
script ping '{"status": "active", "http_path": "/ping", "http_methods": ["GET"], "http_auth": "public"}' <<'JS'
export default () => 'pong';
JS
script empty '{"status": "active", "http_path": "/empty", "http_methods": ["GET"]}' <<'JS'
export default () => undefined;
JS
script fails '{"status": "active", "http_path": "/fails", "http_methods": ["GET"]}' <<'JS'
export default () => { throw new Error('internals'); };
JS
script slow '{"status": "active", "http_path": "/slow", "http_methods": ["GET"], "resource_limits": {"max_execution_time_ms": 200}}' <<'JS'
export default () => { for (;;) {} };
JS
script limited '{"status": "active", "http_path": "/limited", "http_methods": ["GET"], "resource_limits": {"max_api_calls_per_minute": 1}}' <<'JS'
export default (ctx) => [1, 2, 3].map(() => ctx.db.one('select 1 as one'));
JS
script busy '{"status": "active", "http_path": "/busy", "http_methods": ["GET"], "resource_limits": {"max_concurrent_runs": 1}}' <<'JS'
export default () => { const end = Date.now() + 1500; while (Date.now() < end) {} return 'done'; };
JS
# a Stripe-style webhook: HMAC-SHA256 over "{t}.{body}", the body exactly as sent
script stripe_hook '{"status": "active", "http_path": "/hooks/stripe", "http_methods": ["POST"]}' <<'JS'
export default (ctx) => {
  const sig = Object.fromEntries((ctx.request.headers['stripe-signature'] ?? '').split(',').map((p) => {
    const i = p.indexOf('=');
    return [p.slice(0, i).trim(), p.slice(i + 1).trim()];
  }));
  if (!sig.t || !sig.v1) return {status: 400, body: {error: 'no signature'}};
  const head = new TextEncoder().encode(sig.t + '.');
  const body = ctx.request.bytes();
  const signed = new Uint8Array(head.length + body.length);
  signed.set(head);
  signed.set(body, head.length);
  const expected = crypto.hmacSha256('whsec_it_secret', signed, 'hex');
  if (!crypto.timingSafeEqual(expected, sig.v1)) return {status: 401, body: {error: 'bad signature'}};
  const event = ctx.request.json();
  return {verified: true, type: event.type, amount: event.data.amount, keys: Object.keys(event), text: ctx.request.text()};
}
JS
script respond '{"status": "active", "http_path": "/respond/:kind", "http_methods": ["GET"]}' <<'JS'
export default (ctx) => {
  switch (ctx.request.params.kind) {
    case 'cookies': return {status: 200, headers: {'Set-Cookie': ['a=1; Path=/', 'b=2; HttpOnly']}, body: 'two cookies'};
    case 'pairs': return {status: 200, headers: [['Set-Cookie', 'c=3'], ['Set-Cookie', 'd=4'], ['X-Kind', 'pairs']], body: {ok: true}};
    case 'bytes': return {status: 200, body: new Uint8Array([0, 1, 2, 253, 254, 255, 13, 10])};
    case 'png': return {status: 200, headers: {'Content-Type': 'image/png'}, body: new Uint8Array([137, 80, 78, 71]).buffer};
    case 'split': return {status: 200, headers: {'X-Evil': 'a\r\nSet-Cookie: admin=1'}, body: 'no'};
    case 'badname': return {status: 200, headers: {'X Evil': '1'}, body: 'no'};
  }
  return {status: 404, body: 'no such kind'};
}
JS
script rated '{"status": "active", "http_path": "/rated", "http_methods": ["GET"], "resource_limits": {"http_rate_limit_per_minute": 3}}' <<'JS'
export default () => 'ran';
JS
KEY=$(sql "SELECT jsrt.create_api_key('it')" | tail -1)
VIEWER=$(sql "SELECT jsrt.create_api_key('it_viewer', 'jsrt_viewer')" | tail -1)
# a small body cap for the 413 check; the workers take it on SIGHUP
"${PSQL[@]}" -c "ALTER SYSTEM SET jsrt.http_max_body_bytes = 1024" -c "SELECT pg_reload_conf()" >/dev/null
sleep 2

python3 "$(dirname "$0")/endpoints.py" "$HTTP_PORT" "$KEY" "$VIEWER" | tee "$work/py.out"
passed=$((passed + $(grep -c '^ok ' "$work/py.out"))); failed=$((failed + $(grep -c '^FAIL' "$work/py.out")))
"${PSQL[@]}" -c "ALTER SYSTEM RESET jsrt.http_max_body_bytes" -c "SELECT pg_reload_conf()" >/dev/null

out=$(sql "SELECT jsrt.flush_history() IS NOT NULL; SELECT count(*) FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'rated'" | tail -1)
check "the rate-limited requests did not run the script: 3 runs recorded for 4 requests" "$([ "$out" = 3 ] && echo 0 || { echo "  $out"; echo 1; })"
out=$(sql "SELECT count(*) FILTER (WHERE e.trigger_data->>'status' = '200') > 200, count(*) FILTER (WHERE e.trigger_data->>'status' = '504')
             FROM jsrt.script_executions e WHERE e.trigger_type = 'http' AND e.tenant_id = jsrt.tenant_id()" | tail -1)
check "requests are recorded with trigger http and their status" "$([ "$out" = "t|1" ] && echo 0 || { echo "  $out"; echo 1; })"

# typed calls in /metrics: each completed call is counted; timed only with jsrt.track_typed_call_timing
sql "SELECT jsrt.create_script('metric_fn', 'export default (ctx, n) => n + 1', 'embedded', '{\"status\": \"active\"}')" >/dev/null
sql "SELECT jsrt.create_function('metric_fn', 'public.metric_fn(n int) returns int')" >/dev/null
metric() { python3 - "$HTTP_PORT" "$1" <<'PY'
import http.client, sys
c = http.client.HTTPConnection('127.0.0.1', int(sys.argv[1]), timeout=5)
c.request('GET', '/metrics')
found = [l.rsplit(' ', 1)[1] for l in c.getresponse().read().decode().splitlines() if l.startswith(sys.argv[2] + ' ')]
print(int(float(found[0])) if found else 0)
PY
}
runs='jsrt_runs_total{trigger="function",status="completed"}'
timed='jsrt_run_duration_seconds_count{trigger="function"}'
r0=$(metric "$runs"); t0=$(metric "$timed")
sql "SELECT sum(metric_fn(g)) FROM generate_series(1, 100) g" >/dev/null
r1=$(metric "$runs"); t1=$(metric "$timed")
check "typed calls are counted in /metrics and, by default, not timed: $((r1 - r0)) runs, $((t1 - t0)) timed" \
  "$([ $((r1 - r0)) = 100 ] && [ $((t1 - t0)) = 0 ] && echo 0 || echo 1)"
"${PSQL[@]}" -c "SET jsrt.track_typed_call_timing = on" -c "SELECT jsrt.set_tenant('$TENANT')" \
  -c "SELECT sum(metric_fn(g)) FROM generate_series(1, 100) g" >/dev/null
r2=$(metric "$runs"); t2=$(metric "$timed")
check "with jsrt.track_typed_call_timing = on they are timed too: $((r2 - r1)) runs, $((t2 - t1)) timed" \
  "$([ $((r2 - r1)) = 100 ] && [ $((t2 - t1)) = 100 ] && echo 0 || echo 1)"

# kill -9 of a worker: Postgres restarts its processes, the postmaster keeps the port, and it answers again
healthy() { python3 -c "
import http.client, sys
try:
    c = http.client.HTTPConnection('127.0.0.1', $HTTP_PORT, timeout=2); c.request('GET', '/healthz')
    sys.exit(0 if c.getresponse().status == 200 else 1)
except Exception:
    sys.exit(1)"; }
victim=$("${PSQL[@]}" -c "SELECT pid FROM pg_stat_activity WHERE backend_type = 'jsrt http runner' LIMIT 1")
kill -9 "$victim"
sleep 1
back=1
for _ in $(seq 1 60); do
  if healthy; then back=0; break; fi
  sleep 0.5
done
check "after kill -9 of an HTTP runner (a crash restart) the port answers again" $back
for _ in $(seq 1 50); do "${PSQL[@]}" -c "SELECT 1" >/dev/null 2>&1 && break; sleep 0.2; done
now=$("${PSQL[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'jsrt http %' AND pid <> $victim")
check "the front and runners were restarted" "$([ "$now" -ge 3 ] && echo 0 || echo 1)"

finish
