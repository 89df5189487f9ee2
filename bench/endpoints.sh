#!/usr/bin/env bash
# An endpoint script that reads one row by primary key and returns it as
# JSON, against a Node.js service (node's http module and the pg package)
# doing the same query, under wrk in the same run: throughput, p50, p99.
# Not tests: nothing here fails on time.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-bench-ep; PORT=28823; DB=jsrt_bench; HTTP_PORT=$((PORT + 1000)); NODE_PORT=28833
CONNS=${CONNS:-32}; SECONDS_EACH=${SECONDS_EACH:-10}
command -v wrk >/dev/null || DEBIAN_FRONTEND=noninteractive apt-get install -y -qq wrk >/dev/null
[ -d bench/node-pg/node_modules/pg ] || (cd bench/node-pg && npm install --no-audit --no-fund --silent >/dev/null)
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
node bench/node-pg/server.js "$NODE_PORT" "$PORT" "$DB" 2 &
node_pid=$!
# KEEP=1 leaves the cluster running, for profiling
trap 'kill $node_pid 2>/dev/null; [ -n "${KEEP:-}" ] || scripts/cluster.sh stop "$DIR"' EXIT
PSQL=(psql -X -q -At -h /tmp -p "$PORT" -U postgres "$DB")
"${PSQL[@]}" >/dev/null <<'SQL'
DROP EXTENSION IF EXISTS jsruntime CASCADE;
CREATE EXTENSION jsruntime;
SELECT jsrt.create_tenant('bench');
SELECT jsrt.set_tenant('bench');
CREATE TABLE items (id int PRIMARY KEY, tenant_id uuid NOT NULL, name text NOT NULL, price numeric NOT NULL);
INSERT INTO items SELECT g, jsrt.current_tenant(), 'item ' || g, g * 1.25 FROM generate_series(1, 10000) g;
SELECT jsrt.expose_table('items');
SELECT jsrt.create_script('item', $js$
export default (ctx) => ctx.db.one('SELECT id, name, price FROM items WHERE id = $1', [Number(ctx.request.params.id)]);
$js$, 'http', '{"status": "active", "http_path": "/items/:id", "http_methods": ["GET"], "history": "errors",
               "resource_limits": {"max_api_calls_per_minute": 100000000, "max_concurrent_runs": 10000}}');
SELECT jsrt.create_script('item-recorded', $js$
export default (ctx) => ctx.db.one('SELECT id, name, price FROM items WHERE id = $1', [Number(ctx.request.params.id)]);
$js$, 'http', '{"status": "active", "http_path": "/recorded/:id", "http_methods": ["GET"],
               "resource_limits": {"max_api_calls_per_minute": 100000000, "max_concurrent_runs": 10000}}');
SQL
KEY=$("${PSQL[@]}" -c "SELECT jsrt.set_tenant('bench')" -c "SELECT jsrt.create_api_key('bench')" | tail -1)
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$NODE_PORT") 2>/dev/null && break; sleep 0.1; done

# requests/s, p50 ms, p99 ms of one wrk run
bench() { # url, extra wrk args...
  local url=$1; shift
  wrk -t2 -c"$CONNS" -d2s "$@" "$url" >/dev/null   # warm-up
  wrk -t2 -c"$CONNS" -d"${SECONDS_EACH}s" --latency "$@" "$url" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +50%/ { p50 = ms($2) } /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 }
    /Non-2xx/ { bad = $NF }
    END { printf "%s %s %s %s\n", rps, p50, p99, bad + 0 }'
}
echo "GET one row by primary key as JSON; wrk -t2 -c$CONNS, ${SECONDS_EACH}s each (after a 2 s warm-up)"
read -r jr j50 j99 jbad < <(bench "http://127.0.0.1:$HTTP_PORT/items/42" -H "X-API-Key: $KEY")
read -r rr r50 r99 rbad < <(bench "http://127.0.0.1:$HTTP_PORT/recorded/42" -H "X-API-Key: $KEY")
read -r nr n50 n99 nbad < <(bench "http://127.0.0.1:$NODE_PORT/items/42")
# Head-of-line: 4 requests to a 10-second script in flight (another tenant's),
# meanwhile /healthz and the items endpoint under wrk -c4 for 5 s.
"${PSQL[@]}" >/dev/null <<'SQL'
SELECT jsrt.create_tenant('slowpoke');
SELECT jsrt.set_tenant('slowpoke');
SELECT jsrt.create_script('ten', 'export default () => { const end = Date.now() + 10000; while (Date.now() < end) {} return 1 }',
  'http', '{"status": "active", "http_path": "/ten", "http_auth": "public", "history": "errors"}');
SQL
for _ in 1 2 3 4; do curl -s -o /dev/null --max-time 60 "http://127.0.0.1:$HTTP_PORT/t/slowpoke/ten" & done
sleep 0.5
hol() { wrk -t1 -c4 -d5s --latency "$@" | awk '
    function ms(v) { if (v ~ /us$/) return v / 1000; if (v ~ /ms$/) return v + 0; if (v ~ /s$/) return v * 1000; return v }
    /^ +99%/ { p99 = ms($2) } /^Requests\/sec/ { rps = $2 } END { printf "%s %s\n", rps, p99 }'; }
read -r hr h99 < <(hol "http://127.0.0.1:$HTTP_PORT/healthz")
read -r ir i99 < <(hol "http://127.0.0.1:$HTTP_PORT/items/42" -H "X-API-Key: $KEY")
# (the restart below ends the slow runs)
kill $(jobs -p | grep -v "^$node_pid$") 2>/dev/null || true
# the same with 4 HTTP runners
"${PSQL[@]}" -c "ALTER SYSTEM SET jsrt.http_runners = 4" >/dev/null
runuser -u postgres -- /usr/lib/postgresql/15/bin/pg_ctl -D "$DIR" restart -w -l "$DIR/server.log" >/dev/null
for _ in $(seq 1 50); do (exec 3<>"/dev/tcp/127.0.0.1/$HTTP_PORT") 2>/dev/null && break; sleep 0.1; done
read -r fr f50 f99 fbad < <(bench "http://127.0.0.1:$HTTP_PORT/items/42" -H "X-API-Key: $KEY")
printf "   %-52s %10s req/s  p50 %6s ms  p99 %6s ms  non-2xx %s\n" \
  "jsruntime endpoint (2 runners, history errors)" "$jr" "$j50" "$j99" "$jbad" \
  "jsruntime endpoint, every request recorded" "$rr" "$r50" "$r99" "$rbad" \
  "jsruntime endpoint, 4 runners" "$fr" "$f50" "$f99" "$fbad" \
  "Node.js http + pg (pool of 2)" "$nr" "$n50" "$n99" "$nbad"
printf "   while 4 requests to a 10 s script of another tenant are in flight (wrk -c4, 5 s):\n"
printf "   %-52s %10s req/s  p99 %6s ms\n" "/healthz (answered by the front worker)" "$hr" "$h99" \
  "the items endpoint (the other runner)" "$ir" "$i99"
awk -v a="$jr" -v b="$nr" -v c="$j99" -v d="$n99" -v e="$fr" -v f="$f99" 'BEGIN {
  printf "   throughput / Node: 2 runners %.2f, 4 runners %.2f;  p99 / Node: %.2f, %.2f\n", a / b, e / b, c / d, f / d }'
