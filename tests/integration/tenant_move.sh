#!/usr/bin/env bash
# Moving one tenant between two clusters on this machine (docs/scale-out.md,
# "Tenant cells"): cluster A holds tenants acme and stays; acme is suspended
# on A, exported (jsrt.export_tenant) and imported on B (jsrt.import_tenant)
# through a pipe, then marked moved on A and made active on B. Its scripts,
# versions, history, secrets, API keys and business rows arrive; its schedules
# and queued runs go on on B and stop on A; stays is untouched on A.
#   tests/integration/tenant_move.sh       (clusters on ports 28840 and 28841, HTTP + 1000)
set -uo pipefail
cd "$(dirname "$0")/../.."
PORT_A=28840; PORT_B=28841; DB=jsrt_move
DIR_A=/tmp/jsrt-move-a; DIR_B=/tmp/jsrt-move-b
PORT=$PORT_A; TENANT=acme
source tests/integration/lib.sh
A=(psql -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$PORT_A" -U postgres "$DB")
B=(psql -X -q -At -v ON_ERROR_STOP=1 -h /tmp -p "$PORT_B" -U postgres "$DB")
on() { # on A|B [tenant] SQL: one statement, after setting the tenant when given
  local -n cl=$1
  if [ $# -eq 3 ]; then "${cl[@]}" -c "SELECT jsrt.set_tenant('$2')" -c "$3" 2>&1 | sed '1{/^$/d}'
  else "${cl[@]}" -c "$2" 2>&1; fi
}
wait_on() { # A|B, condition SQL returning t, timeout seconds
  local -n cl=$1
  for _ in $(seq 1 $(( $3 * 10 ))); do
    [ "$("${cl[@]}" -c "$2" 2>/dev/null)" = t ] && return 0; sleep 0.1
  done; return 1
}
for d in "$DIR_A" "$DIR_B"; do scripts/cluster.sh stop "$d"; rm -rf "$d"; done
trap 'scripts/cluster.sh stop "$DIR_A"; scripts/cluster.sh stop "$DIR_B"' EXIT
scripts/cluster.sh start "$DIR_A" "$PORT_A" "$DB"
scripts/cluster.sh start "$DIR_B" "$PORT_B" "$DB"

# Both clusters: the extension, the role the tenant is granted to (roles are per
# cluster), and the business table, exposed, whose default names the cluster.
for c in A B; do
  on $c "CREATE EXTENSION jsruntime" >/dev/null
  on $c "DO \$\$ BEGIN IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'acme_dev') THEN CREATE ROLE acme_dev; END IF; END \$\$" >/dev/null
  on $c "GRANT jsrt_viewer TO acme_dev" >/dev/null
  on $c "CREATE TABLE public.orders (tenant_id uuid NOT NULL, id uuid PRIMARY KEY DEFAULT gen_random_uuid(),
           kind text NOT NULL, n int, cluster text NOT NULL DEFAULT '$c', at timestamptz NOT NULL DEFAULT clock_timestamp())" >/dev/null
  on $c "SELECT jsrt.expose_table('public.orders')" >/dev/null
done

# Cluster A: two tenants with the same scripts. tick runs every second; work
# (version 2) is run now and queued later; secret reads a secret; hello is a
# public endpoint.
for t in acme stays; do
  on A "SELECT jsrt.create_tenant('$t')" >/dev/null
  on A $t "SELECT jsrt.create_script('tick', 'export default (ctx) => { ctx.db.exec(\"INSERT INTO orders (tenant_id, kind) VALUES (\$1, \$2)\", [ctx.tenant.id, \"cron\"]) }', 'scheduled', '{\"status\": \"active\", \"cron_expression\": \"* * * * * *\"}')" >/dev/null
  on A $t "SELECT jsrt.create_script('work', 'export default (ctx) => 1', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
  on A $t "SELECT jsrt.update_script('work', 'export default (ctx) => { ctx.db.exec(\"INSERT INTO orders (tenant_id, kind, n) VALUES (\$1, \$2, \$3)\", [ctx.tenant.id, \"work\", ctx.input.n]); return ctx.input.n }')" >/dev/null
  on A $t "SELECT jsrt.create_script('secret', 'export default (ctx) => ctx.secrets.get(\"token\") === \"tok-\" + ctx.tenant.name', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
  on A $t "SELECT jsrt.create_script('hello', 'export default (ctx) => ({tenant: ctx.tenant.name})', 'http', '{\"status\": \"active\", \"http_path\": \"/hello\", \"http_auth\": \"public\"}')" >/dev/null
  on A $t "SELECT jsrt.set_secret('token', 'tok-$t')" >/dev/null
  on A $t "SELECT jsrt.create_api_key('deploy', 'jsrt_developer')" >/dev/null
  on A $t "SELECT jsrt.execute('work', '{\"n\": 1}')" >/dev/null
done
on A "SELECT jsrt.grant_tenant('acme', 'acme_dev')" >/dev/null
wait_on A "SELECT count(DISTINCT tenant_id) = 2 AND count(*) >= 4 FROM public.orders WHERE kind = 'cron'" 20
check "on A, both tenants' schedules run" $?
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 10 "http://127.0.0.1:$((PORT_A + 1000))/t/acme/hello")
[ "$code" = 200 ]
check "on A, acme's endpoint answers ($code)" $?

cron_runs() { on "$1" "SELECT count(*) FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name = '$2' AND e.trigger_type = 'cron'"; }

# 1. Suspend acme on A: its schedules stop, its runs are refused, runs queued now wait.
[ "$(on A "SELECT jsrt.set_tenant_state('acme', 'suspended')")" = active ]
check "jsrt.set_tenant_state suspends acme on A" $?
wait_on A "SELECT count(*) = 0 FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name = 'acme' AND e.status = 'running'" 20
before=$(cron_runs A acme); stays_before=$(cron_runs A stays)
out=$(on A acme "SELECT jsrt.execute('work', '{\"n\": 2}')")
grep -q 'tenant "acme" is suspended' <<<"$out"
check "a suspended tenant's synchronous run is refused with a clear error" $?
for n in 11 12 13 14 15; do on A acme "SELECT jsrt.execute_async('work', '{\"n\": $n}')" >/dev/null; done
sleep 2.5
[ "$(cron_runs A acme)" = "$before" ] && [ "$(cron_runs A stays)" -gt "$stays_before" ]
check "while acme is suspended its schedule queues nothing on A ($before cron runs), stays' goes on" $?
[ "$(on A "SELECT count(*) FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name = 'acme' AND e.status = 'pending' AND e.trigger_type = 'manual'")" = 5 ]
check "runs queued for a suspended tenant wait: 5 pending on A" $?

# 2. Export from A, import on B, through a pipe (no file holds the secrets).
counts() { # acme's rows of each table, on cluster $1
  on "$1" "SELECT string_agg(x, ' ') FROM (SELECT
     (SELECT count(*) FROM jsrt.scripts s WHERE s.tenant_id = t.id) || ' ' ||
     (SELECT count(*) FROM jsrt.script_versions v WHERE v.tenant_id = t.id) || ' ' ||
     (SELECT count(*) FROM jsrt.script_executions e WHERE e.tenant_id = t.id) || ' ' ||
     (SELECT count(*) FROM jsrt.script_executions e WHERE e.tenant_id = t.id AND e.status = 'pending') || ' ' ||
     (SELECT count(*) FROM jsrt.script_scheduled_jobs j WHERE j.tenant_id = t.id) || ' ' ||
     (SELECT count(*) FROM jsrt.secrets x WHERE x.tenant_id = t.id) || ' ' ||
     (SELECT count(*) FROM jsrt.api_keys k WHERE k.tenant_id = t.id) || ' ' ||
     (SELECT count(*) FROM jsrt.tenant_members m WHERE m.tenant_id = t.id) || ' ' ||
     (SELECT count(*) FROM public.orders o WHERE o.tenant_id = t.id) AS x FROM jsrt.tenants t WHERE t.name = 'acme') q"
}
t0=$(date +%s%N)
on A "COPY (SELECT tbl, data FROM jsrt.export_tenant('acme') ORDER BY ord) TO STDOUT" \
  | "${B[@]}" -c "CREATE TEMP TABLE move_in (tbl text, data jsonb)" -c "COPY move_in FROM STDIN" \
              -c "SELECT sum(value::int) FROM jsonb_each(jsrt.import_tenant('move_in'))" >/tmp/jsrt-move-import.out 2>&1
rc=$?; ms=$(( ($(date +%s%N) - t0) / 1000000 ))
check "the export from A imports on B: $(tail -1 /tmp/jsrt-move-import.out) rows in $ms ms" $rc
from_a=$(counts A); on_b=$(counts B)
[ -n "$from_a" ] && [ "$from_a" = "$on_b" ]
check "every row of acme arrives on B (scripts versions runs pending jobs secrets keys members orders: $on_b)" $?
[ "$(on B "SELECT state FROM jsrt.tenants WHERE name = 'acme'")" = suspended ]
check "acme arrives on B suspended" $?
[ "$(on B "SELECT s.version || ':' || s.source FROM jsrt.scripts s JOIN jsrt.tenants t ON t.id = s.tenant_id WHERE t.name = 'acme' AND s.name = 'work'")" \
  = "$(on A "SELECT s.version || ':' || s.source FROM jsrt.scripts s JOIN jsrt.tenants t ON t.id = s.tenant_id WHERE t.name = 'acme' AND s.name = 'work'")" ]
check "a script's version and source are the same on B" $?
sleep 1.5
[ "$(cron_runs B acme)" = "$before" ] \
  && [ "$(on B "SELECT count(*) FROM jsrt.script_executions WHERE status = 'pending' AND trigger_type = 'manual'")" = 5 ]
check "nothing of acme runs on B before it is made active" $?

# 3. The switch: moved on A, active on B.
on A "SELECT jsrt.set_tenant_state('acme', 'moved')" >/dev/null && on B "SELECT jsrt.set_tenant_state('acme', 'active')" >/dev/null
check "acme is marked moved on A and made active on B" $?
wait_on B "SELECT count(*) = 0 FROM jsrt.script_executions WHERE trigger_type = 'manual' AND status IN ('pending', 'running')" 30
[ "$(on B "SELECT count(*) FROM public.orders WHERE kind = 'work' AND cluster = 'B' AND n BETWEEN 11 AND 15")" = 5 ]
check "the 5 runs queued on A complete on B" $?
wait_on B "SELECT count(*) >= 2 FROM public.orders WHERE kind = 'cron' AND cluster = 'B'" 15
check "acme's schedule runs on B" $?
[ "$(on B acme "SELECT jsrt.execute('secret')")" = true ]
check "acme's secret is read on B" $?
code=$(curl -s -o /tmp/jsrt-move-hello --max-time 10 -w '%{http_code}' "http://127.0.0.1:$((PORT_B + 1000))/t/acme/hello")
[ "$code" = 200 ] && grep -q '"acme"' /tmp/jsrt-move-hello
check "acme's endpoint answers on B ($code)" $?
out=$(on B "SET ROLE acme_dev; SELECT jsrt.set_tenant('acme'); SELECT count(*) FROM jsrt.scripts")
[ "$(tail -1 <<<"$out")" = 4 ]
check "acme's member role uses it on B" $?

# 4. On A, acme stays stopped.
[ "$(cron_runs A acme)" = "$before" ] \
  && [ "$(on A "SELECT count(*) FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name = 'acme' AND e.status = 'pending' AND e.trigger_type = 'manual'")" = 5 ] \
  && [ "$(on A "SELECT count(*) FROM public.orders WHERE n BETWEEN 11 AND 15")" = 0 ]
check "on A, acme's schedule queues nothing and its queued runs never ran" $?
out=$(on A "SELECT jsrt.set_tenant('acme')")
grep -q 'tenant "acme" has moved to another cluster' <<<"$out"
check "on A, jsrt.set_tenant('acme') says it has moved" $?
code=$(curl -s -o /tmp/jsrt-move-hello --max-time 10 -w '%{http_code}' "http://127.0.0.1:$((PORT_A + 1000))/t/acme/hello")
[ "$code" = 503 ] && grep -q 'moved' /tmp/jsrt-move-hello
check "on A, acme's endpoint answers 503, moved ($code)" $?

# 5. stays, on A, is untouched.
stays_now=$(cron_runs A stays)
wait_on A "SELECT count(*) > $stays_now FROM jsrt.script_executions e JOIN jsrt.tenants t ON t.id = e.tenant_id WHERE t.name = 'stays' AND e.trigger_type = 'cron'" 10
check "on A, stays' schedule still runs" $?
[ "$(on A stays "SELECT jsrt.execute('work', '{\"n\": 7}')")" = 7 ] && [ "$(on A stays "SELECT jsrt.execute('secret')")" = true ] \
  && [ "$(on A "SELECT count(*) FROM jsrt.scripts s JOIN jsrt.tenants t ON t.id = s.tenant_id WHERE t.name = 'stays'")" = 4 ]
check "on A, stays runs its scripts and reads its secret" $?
code=$(curl -s -o /dev/null --max-time 10 -w '%{http_code}' "http://127.0.0.1:$((PORT_A + 1000))/t/stays/hello")
[ "$code" = 200 ]
check "on A, stays' endpoint answers ($code)" $?
[ "$(on B "SELECT count(*) FROM jsrt.tenants WHERE name = 'stays'")" = 0 ]
check "nothing of stays went to B" $?

# 6. A second import of acme on B is refused; the row counts stay.
on A "COPY (SELECT tbl, data FROM jsrt.export_tenant('acme') ORDER BY ord) TO STDOUT" \
  | "${B[@]}" -c "CREATE TEMP TABLE move_in (tbl text, data jsonb)" -c "COPY move_in FROM STDIN" \
              -c "SELECT jsrt.import_tenant('move_in')" >/tmp/jsrt-move-import.out 2>&1
[ $? -ne 0 ] && grep -q 'tenant "acme" (.*) already exists on this cluster' /tmp/jsrt-move-import.out
check "a second import of acme on B is refused: $(grep -o 'ERROR: .*' /tmp/jsrt-move-import.out | head -1)" $?

finish
