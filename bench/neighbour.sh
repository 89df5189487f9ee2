#!/usr/bin/env bash
# The noisy neighbour, with 2 executors: tenant A queues 1,000 one-second
# runs, tenant B queues one short run every second for SECONDS seconds
# (B_SECONDS, default 30). B's queue wait (commit of its execute_async to the start of
# its run) is reported without a cap, then with A capped at 1 run at once
# (jsrt.set_tenant_max_concurrent_runs). Not a test: nothing here fails on time.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-bench-neighbour; PORT=28822; DB=jsrt_neighbour; SECONDS_B=${B_SECONDS:-30}
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
PSQL=(psql -X -q -At -h /tmp -p "$PORT" -U postgres "$DB")
"${PSQL[@]}" >/dev/null <<'SQL'
CREATE EXTENSION jsruntime;
SELECT jsrt.create_tenant('a'), jsrt.create_tenant('b');
SELECT jsrt.set_tenant('a');
SELECT jsrt.create_script('slow', 'export default (ctx) => { ctx.db.query("select pg_sleep(1)"); return 1; }', 'oneoff',
       '{"status": "active", "resource_limits": {"max_concurrent_runs": 1000}}');
SELECT jsrt.set_tenant('b');
SELECT jsrt.create_script('quick', 'export default (ctx) => 1', 'oneoff', '{"status": "active", "history": "all"}');
SQL
round() { # cap (NULL: none), label
  "${PSQL[@]}" -c "SELECT jsrt.set_tenant_max_concurrent_runs('a', $1)" >/dev/null
  "${PSQL[@]}" -c "SELECT jsrt.set_tenant('a')" -c "SELECT count(jsrt.execute_async('slow')) FROM generate_series(1, 1000)" >/dev/null
  sleep 2
  for _ in $(seq 1 "$SECONDS_B"); do
    "${PSQL[@]}" -c "SELECT jsrt.set_tenant('b')" \
      -c "SELECT jsrt.execute_async('quick', jsonb_build_object('queued_at', clock_timestamp(), 'round', '$2'))" >/dev/null
    sleep 1
  done
  sleep 2
  "${PSQL[@]}" -c "SELECT jsrt.set_tenant('a')" \
    -c "SELECT count(jsrt.cancel(e.id)) FROM jsrt.script_executions e WHERE e.status IN ('pending', 'running')" >/dev/null
  "${PSQL[@]}" -c "SELECT count(*) || ' runs of B: queue wait p50 ' || round(percentile_cont(0.5) WITHIN GROUP (ORDER BY w)::numeric, 1)
                          || ' ms, p99 ' || round(percentile_cont(0.99) WITHIN GROUP (ORDER BY w)::numeric, 1)
                          || ' ms, max ' || round(max(w)::numeric, 1) || ' ms'
                     FROM (SELECT extract(epoch FROM e.started_at - (e.input->>'queued_at')::timestamptz) * 1000
                             FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id
                            WHERE t.name = 'b' AND e.status = 'completed' AND e.input->>'round' = '$2') x(w)"
  sleep 1.5 # A's runs cancelled mid-sleep end when pg_sleep returns
  "${PSQL[@]}" -c "DELETE FROM jsrt.script_executions e USING jsrt.tenants t WHERE t.id = e.tenant_id AND t.name = 'a'" >/dev/null
}
echo "noisy neighbour: 2 executors, A queues 1,000 runs of 1 s, B one short run a second for ${SECONDS_B} s"
echo "A without a cap:      $(round NULL none)"
echo "A capped at 1 run:    $(round 1 capped)"
