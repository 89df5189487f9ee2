#!/usr/bin/env bash
# The management API's costs: saving a script (INSERT into jsrt.scripts, and
# a bundle of 1,000 through POST /deploy), listing scripts with 100,000 scripts
# in 1,000 tenants, and run-history pages with 1,000,000 runs. Server time is
# the handler's statement under EXPLAIN ANALYZE as the key's role; end to end
# is the HTTP request from this machine. Not a test.
set -euo pipefail
cd "$(dirname "$0")/.."
DIR=/tmp/jsrt-bench-api; PORT=28823; DB=jsrt_api_bench; HTTP_PORT=$((PORT + 1000))
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
scripts/cluster.sh start "$DIR" "$PORT" "$DB"
trap 'scripts/cluster.sh stop "$DIR"' EXIT
PSQL=(psql -X -q -At -h /tmp -p "$PORT" -U postgres "$DB")
"${PSQL[@]}" -c "CREATE EXTENSION jsruntime" -c "SELECT jsrt.create_tenant('bench')" >/dev/null
key=$("${PSQL[@]}" -c "SELECT jsrt.set_tenant('bench')" -c "SELECT jsrt.create_api_key('bench', 'jsrt_admin')" | tail -1)

echo "== saving a script (mean of 500 INSERTs into jsrt.scripts, one statement each)"
for tz in UTC Europe/Paris; do
  "${PSQL[@]}" -c "SELECT jsrt.set_tenant('bench')" -c "
    DO \$\$
    DECLARE t0 timestamptz; tenant uuid := jsrt.current_tenant();
    BEGIN
      t0 := clock_timestamp();
      FOR i IN 1..500 LOOP
        INSERT INTO jsrt.scripts (tenant_id, name, source, type, timezone)
        VALUES (tenant, 'save_$(echo $tz | tr / _)_' || i, 'export default (ctx) => ctx.input', 'oneoff', '$tz');
      END LOOP;
      RAISE NOTICE 'timezone $tz: % ms per save', round(extract(epoch FROM clock_timestamp() - t0) * 1000 / 500, 3);
    END \$\$" 2>&1 | grep -o 'timezone.*'
done

echo "== a bundle of 1,000 scripts through POST /_jsrt/api/v1/deploy"
python3 - "$HTTP_PORT" "$key" <<'PY'
import http.client, json, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
def deploy(n, tag):
    body = json.dumps({"scripts": [{"name": f"bundle_{i}", "source": f"export default () => {i} // {tag}"} for i in range(n)]})
    c = http.client.HTTPConnection("127.0.0.1", port, timeout=600)
    t = time.time()
    c.request("POST", "/_jsrt/api/v1/deploy", body, {"Authorization": "Bearer " + key, "Content-Type": "application/json"})
    r = c.getresponse(); out = json.loads(r.read())
    return r.status, time.time() - t, out
s, t, out = deploy(1000, "a")
print(f"create 1,000: HTTP {s}, {t:.2f} s")
s, t, out = deploy(1000, "b")
print(f"update 1,000 (new versions): HTTP {s}, {t:.2f} s")
s, t, out = deploy(1000, "b")
print(f"the same bundle again (all unchanged): HTTP {s}, {t:.2f} s")
PY

echo "== seeding 100,000 scripts in 1,000 tenants and 1,000,000 runs (triggers off for the seed)"
"${PSQL[@]}" >/dev/null <<'SQL'
INSERT INTO jsrt.tenants (name) SELECT 'bt_' || g FROM generate_series(1, 999) g;
SET session_replication_role = replica;
INSERT INTO jsrt.scripts (tenant_id, name, source, type, status, tags, description)
SELECT t.id, 'script_' || g, 'export default () => 1', 'oneoff', CASE WHEN g % 3 = 0 THEN 'active' ELSE 'draft' END,
       ARRAY['t' || (g % 7)], 'bench script ' || g
  FROM jsrt.tenants t CROSS JOIN generate_series(1, 100) g WHERE t.name LIKE 'bt_%';
INSERT INTO jsrt.script_executions (script_id, tenant_id, status, trigger_type, started_at, completed_at, version_number, input)
SELECT s.id, s.tenant_id, CASE WHEN g % 10 = 0 THEN 'failed' ELSE 'completed' END, 'manual',
       now() - make_interval(secs => g), now() - make_interval(secs => g) + interval '5 ms', 1, jsonb_build_object('n', g % 100)
  FROM (SELECT id, tenant_id FROM jsrt.scripts WHERE name LIKE 'bundle_1_') s,
       generate_series(1, 100000) g;
RESET session_replication_role;
VACUUM ANALYZE jsrt.scripts;
VACUUM ANALYZE jsrt.script_executions;
SQL
"${PSQL[@]}" -c "SELECT count(*) || ' scripts, ' || (SELECT count(*) FROM jsrt.tenants) || ' tenants, ' || (SELECT count(*) FROM jsrt.script_executions) || ' runs' FROM jsrt.scripts"

explain() { # label, SQL (as jsrt_viewer in tenant bench, or bt_500 for a 100-script tenant): median of 7 in one session
  local args=(-c "SELECT jsrt.set_tenant('${T:-bench}')" -c "SET ROLE jsrt_viewer")
  for _ in 1 2 3 4 5 6 7; do args+=(-c "EXPLAIN (ANALYZE, TIMING OFF, FORMAT JSON) $2"); done
  "${PSQL[@]}" "${args[@]}" | python3 -c '
import json, re, statistics, sys
t = sys.stdin.read()
plans = [json.loads(m) for m in re.findall(r"^\[.*?^\]", t, re.S | re.M)]
ms = [p[0]["Planning Time"] + p[0]["Execution Time"] for p in plans]
print(f"{sys.argv[1]}: {statistics.median(ms):.3f} ms server time (plan + execute, median of {len(ms)})")' "$1"
}
LIST="SELECT coalesce(jsonb_agg(x.j ORDER BY x.name), '[]') FROM (
  SELECT s.name, to_jsonb(s) - 'tenant_id' - 'source' || jsonb_build_object('last_run_status', l.status,
         'next_run_at', (SELECT j.next_run_at FROM jsrt.script_scheduled_jobs j WHERE j.script_id = s.id)) AS j
    FROM jsrt.scripts s LEFT JOIN LATERAL (SELECT e.status, e.started_at FROM jsrt.script_executions e
         WHERE e.tenant_id = s.tenant_id AND e.script_id = s.id ORDER BY e.started_at DESC, e.id DESC LIMIT 1) l ON true
   WHERE s.tenant_id = jsrt.current_tenant() AND (\$1::text IS NULL OR s.name > \$1) ORDER BY s.name LIMIT 51) x"
T=bt_500 explain "list scripts, first page of 50 (a tenant of 100 among 100,000)" "$(echo "$LIST" | sed 's/\$1::text/NULL::text/; s/s.name > \$1/true/')"
explain "list scripts of tenant bench (2,000 scripts, 1,000,000 runs: 10 scripts with 100,000 each), first page" "$(echo "$LIST" | sed 's/\$1::text/NULL::text/; s/s.name > \$1/true/')"
T=bt_500 explain "jsrt.list_scripts(), first page of 50" "SELECT * FROM jsrt.list_scripts(page_size => 50)"
RUNS="SELECT coalesce(jsonb_agg(jsonb_build_object('id', x.id, 'script', (SELECT s.name FROM jsrt.scripts s WHERE s.id = x.script_id),
        'status', x.status, 'started_at', x.started_at, 'metrics', x.metrics) ORDER BY x.started_at DESC, x.id DESC), '[]')
  FROM (SELECT e.* FROM jsrt.script_executions e WHERE e.tenant_id = jsrt.current_tenant() AND WHERE_MORE
         ORDER BY e.started_at DESC, e.id DESC LIMIT 51) x"
explain "run history, first page of 50 of 1,000,000" "${RUNS/WHERE_MORE/true}"
mid=$("${PSQL[@]}" -c "SELECT started_at::text || '|' || id FROM jsrt.script_executions ORDER BY started_at DESC, id DESC OFFSET 500000 LIMIT 1")
mid_at=${mid%%|*}; mid_id=${mid##*|}
cond="(e.started_at, e.id) < ('$mid_at'::timestamptz, '$mid_id'::uuid)"
explain "run history, a page 500,000 rows deep (keyset cursor)" "${RUNS/WHERE_MORE/$cond}"
sid=$("${PSQL[@]}" -c "SELECT id FROM jsrt.scripts WHERE name = 'bundle_10'")
cond="e.script_id = '$sid'"
explain "run history of one script (100,000 runs), first page" "${RUNS/WHERE_MORE/$cond}"
cond="e.status = 'failed'"
explain "run history, status failed, first page" "${RUNS/WHERE_MORE/$cond}"
cond="e.input @> '{\"n\": 7}'"
explain "run history, input containment {\"n\": 7}, first page" "${RUNS/WHERE_MORE/$cond}"

echo "== end to end over HTTP (median of 20)"
python3 - "$HTTP_PORT" "$key" <<'PY'
import http.client, statistics, sys, time
port, key = int(sys.argv[1]), sys.argv[2]
def med(path):
    ts = []
    for _ in range(20):
        c = http.client.HTTPConnection("127.0.0.1", port)
        t = time.time(); c.request("GET", path, headers={"Authorization": "Bearer " + key}); r = c.getresponse(); r.read()
        ts.append(time.time() - t); c.close()
    return statistics.median(ts) * 1000, r.status
for p in ["/_jsrt/api/v1/scripts?limit=50", "/_jsrt/api/v1/runs?limit=50", "/_jsrt/api/v1/runs?limit=50&script=bundle_10",
          "/_jsrt/api/v1/runs?limit=50&status=failed"]:
    ms, s = med(p)
    print(f"GET {p}: HTTP {s}, {ms:.1f} ms")
PY
