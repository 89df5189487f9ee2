#!/usr/bin/env bash
# Without shared_preload_libraries = 'jsruntime' there are no executors:
# queued runs wait, jsrt.run_pending runs them in the calling session, and
# pg_cron (postgresql-15-cron) can call it on a schedule.
# Starts and stops a cluster of its own.
set -uo pipefail
cd "$(dirname "$0")/../.."
DIR=/tmp/jsrt-nopreload; PORT=28819; DB=jsrt_nopreload
TENANT=np
source tests/integration/lib.sh
scripts/cluster.sh stop "$DIR"; rm -rf "$DIR"
PRELOAD=pg_cron scripts/cluster.sh start "$DIR" "$PORT" "$DB"
trap 'scripts/cluster.sh stop "$DIR"' EXIT

"${PSQL[@]}" -c "CREATE EXTENSION jsruntime" -c "CREATE EXTENSION pg_cron" -c "SELECT jsrt.create_tenant('np')" >/dev/null
sql "SELECT jsrt.create_script('hello', 'export default (ctx) => \"hello \" + ctx.input.who', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
[ "$("${PSQL[@]}" -c "SELECT count(*) FROM pg_stat_activity WHERE backend_type LIKE 'jsrt%'")" = 0 ]
check "no jsrt workers run without preload" $?

sql "SELECT jsrt.execute_async('hello', '{\"who\": \"run_pending\"}')" >/dev/null
sleep 1
[ "$("${PSQL[@]}" -c "SELECT status FROM jsrt.script_executions")" = pending ]
check "a queued run waits for someone to run it" $?
[ "$(sql "SELECT jsrt.run_pending(10)")" = 1 ] && [ "$("${PSQL[@]}" -c "SELECT output #>> '{}' FROM jsrt.script_executions WHERE status = 'completed'")" = "hello run_pending" ]
check "jsrt.run_pending runs it in the calling session" $?

# Loaded into a session that has run SQL already, the guard's hooks were not there when that
# SQL looked its functions up. Found by review: a planted function that a PL/pgSQL function's
# kept simple expression had looked up before the load ran in a script's SQL unchecked (its
# setval left 2007 behind). The load makes every kept plan again, so the call is refused.
"${PSQL[@]}" >/dev/null 2>&1 <<'SQL'
CREATE ROLE planter;
GRANT CREATE ON SCHEMA public TO planter;
SET ROLE planter;
CREATE SEQUENCE public.leak;
GRANT USAGE, UPDATE ON SEQUENCE public.leak TO jsrt_script;
CREATE FUNCTION public.stash(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.setval('public.leak', n + 2000); RETURN n; END $$;
RESET ROLE;
CREATE FUNCTION public.calls_stash(n int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN public.stash(n); END $$;
SQL
sql "SELECT jsrt.create_script('query', 'export default (ctx) => ctx.db.query(ctx.input.sql)', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
out=$("${PSQL[@]}" -v VERBOSITY=verbose 2>&1 <<'SQL'
BEGIN;
SET LOCAL search_path = pg_catalog, public, pg_temp;
SELECT public.calls_stash(1);
SELECT jsrt.set_tenant('np');
SELECT jsrt.execute('query', '{"sql": "SELECT public.calls_stash(7) AS n"}');
COMMIT;
SQL
)
[ "$("${PSQL[@]}" -c "SELECT last_value FROM public.leak")" = 2001 ] && grep -q 'scripts cannot call stash()' <<<"$out"
check "a planted function looked up before the library loaded is refused in script SQL" $?

# pg_cron 1.4 schedules by the minute: its job runs jsrt.run_due (a
# scheduling pass) and jsrt.run_pending within about a minute.
sql "SELECT jsrt.execute_async('hello', '{\"who\": \"pg_cron\"}')" >/dev/null
sql "SELECT jsrt.create_script('minutely', 'export default (ctx) => ctx.execution.trigger', 'scheduled', '{\"status\": \"active\", \"cron_expression\": \"* * * * *\"}')" >/dev/null
"${PSQL[@]}" -c "SELECT cron.schedule('jsrt', '* * * * *', 'SELECT jsrt.run_due(); SELECT jsrt.run_pending(100)')" >/dev/null
ok=1
for _ in $(seq 1 90); do
  [ "$("${PSQL[@]}" -c "SELECT count(*) FROM jsrt.script_executions WHERE status = 'completed' AND output #>> '{}' = 'hello pg_cron'")" = 1 ] && { ok=0; break; }
  sleep 1
done
check "pg_cron drives the queue through jsrt.run_pending" $ok
[ "$("${PSQL[@]}" -c "SELECT count(*) > 0 FROM jsrt.script_executions WHERE trigger_type = 'cron' AND status = 'completed'")" = t ]
check "pg_cron drives the schedules through jsrt.run_due" $?

finish
