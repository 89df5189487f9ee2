#!/usr/bin/env bash
# The asynchronous engine against graphile-worker (npm) on the same cluster,
# one after the other in the same run: backlog drain and sustained
# throughput of a trivial event script with history, and the latency from
# commit to start. Not a test: nothing here fails on time.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-bench-queue; PORT=28820; DB=jsrt_queue; N=20000
command -v node >/dev/null || { DEBIAN_FRONTEND=noninteractive apt-get install -y -qq nodejs npm >/dev/null; }
[ -d bench/graphile/node_modules/graphile-worker ] || (cd bench/graphile && npm install --no-audit --no-fund --silent)
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
GW_PID=
trap '[ -n "$GW_PID" ] && kill $GW_PID 2>/dev/null; scripts/cluster.sh stop "$DIR"' EXIT
PSQL=(psql -X -q -At -h /tmp -p "$PORT" -U postgres "$DB")
work=$(mktemp -d); chmod 777 "$work"
"${PSQL[@]}" >/dev/null <<'SQL'
CREATE EXTENSION jsruntime;
SELECT jsrt.create_tenant('bench');
SELECT jsrt.set_tenant('bench');
SELECT jsrt.create_script('tick', 'export default (ctx) => ({ok: true, n: ctx.input.n})', 'event',
       '{"status": "active", "event_types": ["bench.tick"], "resource_limits": {"max_concurrent_runs": 10000}}');
CREATE TABLE gw_history (job_id bigint, created_at timestamptz, started_at timestamptz,
                         finished_at timestamptz DEFAULT clock_timestamp(), output jsonb);
SQL
tenant=$("${PSQL[@]}" -c "SELECT id FROM jsrt.tenants WHERE name = 'bench'")
"${PSQL[@]}" -c "ALTER DATABASE $DB SET jsrt.tenant = '$tenant'"
now_ms() { date +%s%3N; }
wait_until_zero() { # sql counting what is left
  while [ "$("${PSQL[@]}" -c "$1")" != 0 ]; do sleep 0.02; done
}
rate() { awk -v n="$1" -v ms="$2" 'BEGIN {printf "%.0f", n * 1000 / ms}'; }
ratio() { awk -v a="$1" -v b="$2" 'BEGIN {printf "%.2f", a / b}'; }
js_left="SELECT count(*) FROM jsrt.script_executions WHERE status IN ('pending', 'running')"
gw_left="SELECT count(*) FROM graphile_worker.jobs"
pgb() { # seconds, clients, sql, extra flags
  echo "$3" > "$work/load.sql"
  (cd "$work" && runuser -u postgres -- pgbench -n -h /tmp -p "$PORT" -U postgres -f "$work/load.sql" -T "$1" -c "$2" ${4:-} "$DB" 2>/dev/null \
     | grep -Eo 'number of transactions actually processed: [0-9]+' | grep -Eo '[0-9]+$')
}
latency() { # sql giving one latency in ms per row -> "p50 p99"
  "${PSQL[@]}" -c "SELECT round(percentile_cont(0.5) WITHIN GROUP (ORDER BY l)::numeric, 1) || ' ' ||
                          round(percentile_cont(0.99) WITHIN GROUP (ORDER BY l)::numeric, 1) FROM ($1) x(l)"
}

timed_ms() { # one statement, committed; its time in ms measured in the server (no client start-up)
  "${PSQL[@]}" -c "SELECT extract(epoch FROM clock_timestamp())" -c "$1" -c "SELECT extract(epoch FROM clock_timestamp())" \
    | awk 'NR == 1 {a = $1} END {printf "%.0f", ($1 - a) * 1000}'
}

echo "baseline: the same $N-row INSERT into a plain table with the outbox's columns and no triggers"
"${PSQL[@]}" -c "CREATE TABLE plain_events (id bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY, tenant_id uuid NOT NULL,
                 event_type varchar(255) NOT NULL, payload jsonb NOT NULL, depth integer NOT NULL DEFAULT 0,
                 created_at timestamptz NOT NULL DEFAULT now())"
plain_ms=$(timed_ms "INSERT INTO plain_events(tenant_id, event_type, payload) SELECT '$tenant', 'bench.tick', jsonb_build_object('n', g) FROM generate_series(1, $N) g")
plain_rate=$(rate $N "$plain_ms")
echo "   $plain_ms ms: $plain_rate rows/s"

echo "jsruntime: 2 executors (jsrt.executor_workers), trivial event script, a history row per run"
t1=$(now_ms)
js_emit_ms=$(timed_ms "INSERT INTO jsrt.events(event_type, payload) SELECT 'bench.tick', jsonb_build_object('n', g) FROM generate_series(1, $N) g")
wait_until_zero "$js_left"; t2=$(now_ms)
js_emit=$(rate $N "$js_emit_ms")
js_drain=$(rate $N $((t2 - t1)))
echo "   emit: one INSERT of $N events (validated, fanned out to $N queued runs, committed) took $js_emit_ms ms: $js_emit events/s ($(ratio "$js_emit_ms" "$plain_ms") x the plain INSERT)"
echo "   backlog of $N events committed at once: drained at $js_drain events/s end to end"
"${PSQL[@]}" -c "TRUNCATE jsrt.script_executions, jsrt.events, jsrt.event_counts, jsrt.script_event_dead_letters"
js_unrouted_ms=$(timed_ms "INSERT INTO jsrt.events(event_type, payload) SELECT 'nobody.listens', jsonb_build_object('n', g) FROM generate_series(1, $N) g")
echo "   emit of $N events no script subscribes to (stored and counted): $js_unrouted_ms ms, $(rate $N "$js_unrouted_ms") events/s"
"${PSQL[@]}" -c "TRUNCATE jsrt.script_executions, jsrt.events, jsrt.event_counts, jsrt.script_event_dead_letters"
t0=$(now_ms); n=$(pgb 10 2 "SELECT jsrt.emit('bench.tick', '{\"n\": 1}');"); wait_until_zero "$js_left"; t1=$(now_ms)
js_sustained=$(rate "$n" $((t1 - t0)))
echo "   sustained, 2 clients emitting one event per transaction for 10 s: $n events, $js_sustained events/s end to end"
"${PSQL[@]}" -c "TRUNCATE jsrt.script_executions, jsrt.events, jsrt.event_counts, jsrt.script_event_dead_letters"
pgb 10 1 "SELECT jsrt.emit('bench.tick', '{\"n\": 1}');" "-R 100" >/dev/null; wait_until_zero "$js_left"
read -r js_p50 js_p99 < <(latency "SELECT extract(epoch FROM e.started_at - v.created_at) * 1000 FROM jsrt.script_executions e
                                    JOIN jsrt.events v ON v.id = (e.trigger_data->>'event_id')::bigint")
echo "   commit to start, 100 events/s for 10 s: p50 $js_p50 ms, p99 $js_p99 ms"

echo "graphile-worker $(node -p "require('./bench/graphile/node_modules/graphile-worker/package.json').version"): concurrency 2, the same trivial task writing a history row"
DATABASE_URL="postgres://postgres@localhost:$PORT/$DB" CONCURRENCY=2 node bench/graphile/worker.js > "$work/gw.log" 2>&1 &
GW_PID=$!
until "${PSQL[@]}" -c "SELECT 1 FROM pg_namespace WHERE nspname = 'graphile_worker'" 2>/dev/null | grep -q 1; do sleep 0.2; done
sleep 1
t1=$(now_ms)
gw_add_ms=$(timed_ms "SELECT count(graphile_worker.add_job('tick', json_build_object('n', g))) FROM generate_series(1, $N) g")
wait_until_zero "$gw_left"; t2=$(now_ms)
gw_add=$(rate $N "$gw_add_ms")
gw_drain=$(rate $N $((t2 - t1)))
echo "   add: $N jobs in one statement (add_job per row) took $gw_add_ms ms: $gw_add jobs/s"
echo "   backlog of $N jobs committed at once: drained at $gw_drain jobs/s end to end"
"${PSQL[@]}" -c "TRUNCATE gw_history"
t0=$(now_ms); n=$(pgb 10 2 "SELECT graphile_worker.add_job('tick', '{\"n\": 1}');"); wait_until_zero "$gw_left"; t1=$(now_ms)
gw_sustained=$(rate "$n" $((t1 - t0)))
echo "   sustained, 2 clients adding one job per transaction for 10 s: $n jobs, $gw_sustained jobs/s end to end"
"${PSQL[@]}" -c "TRUNCATE gw_history"
pgb 10 1 "SELECT graphile_worker.add_job('tick', '{\"n\": 1}');" "-R 100" >/dev/null; wait_until_zero "$gw_left"
read -r gw_p50 gw_p99 < <(latency "SELECT extract(epoch FROM started_at - created_at) * 1000 FROM gw_history")
echo "   commit to start, 100 jobs/s for 10 s: p50 $gw_p50 ms, p99 $gw_p99 ms"

echo "ratios jsruntime / graphile-worker: emit $(ratio "$js_emit" "$gw_add"), drain $(ratio "$js_drain" "$gw_drain"), sustained $(ratio "$js_sustained" "$gw_sustained"), p50 latency $(ratio "$js_p50" "$gw_p50"), p99 latency $(ratio "$js_p99" "$gw_p99") (lower latency is better)"
echo "targets (issue 13): emit >= 20000 events/s: $js_emit; sustained >= 3000 events/s: $js_sustained; p99 commit to start <= 5 ms: $js_p99"
rm -rf "$work"
