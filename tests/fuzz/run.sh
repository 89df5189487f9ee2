#!/usr/bin/env bash
# The fuzz campaign on a running cluster (short in scripts/regress.sh, long
# in `make fuzz`, scripts/fuzz.sh):
#   1. sqlsmith, connected as jsrt_fuzzer (a login role holding jsrt_developer,
#      with a tenant set), LOOPS loops of QUERIES random queries;
#   2. the ctx host API from JS (tests/fuzz/ctx_fuzz.js), JS_SEEDS runs of
#      JS_CALLS calls each, as jsrt_fuzzer;
#   3. the SQL API's arguments (tests/fuzz/sql_api.sql), SQL_SEEDS chunks of
#      SQL_CALLS calls, as jsrt_fuzzer and as a superuser (internals included).
# After each loop or chunk: the server is up, the postmaster has not
# restarted (pg_postmaster_start_time unchanged) and its log holds no crash
# of a backend ("terminated by signal", "was terminated", PANIC).
#   tests/fuzz/run.sh PORT DB DATADIR [LOOPS QUERIES JS_SEEDS JS_CALLS SQL_SEEDS SQL_CALLS]
# SEED (default 1) shifts every seed, so that a failure repeats with it.
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}; DIR=${3:?data directory}
LOOPS=${4:-1}; QUERIES=${5:-300}; JS_SEEDS=${6:-4}; JS_CALLS=${7:-150}; SQL_SEEDS=${8:-2}; SQL_CALLS=${9:-300}
SEED=${SEED:-1}
TENANT=fuzz
HERE=$(cd "$(dirname "$0")" && pwd)
source "$HERE/../integration/lib.sh"
LOG="$DIR/server.log"
FUZZER=(psql -X -q -At -v VERBOSITY=verbose -h /tmp -p "$PORT" -U jsrt_fuzzer "$DB")

# ---------------------------------------------------------------- setup
"${PSQL[@]}" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SET client_min_messages = warning;
DO $$BEGIN
  IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jsrt_fuzzer') THEN
    CREATE ROLE jsrt_fuzzer LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE NOBYPASSRLS;
  END IF;
  IF NOT EXISTS (SELECT 1 FROM jsrt.tenants WHERE name = 'fuzz') THEN
    PERFORM jsrt.create_tenant('fuzz');
  END IF;
END$$;
GRANT jsrt_developer TO jsrt_fuzzer;
SELECT jsrt.grant_tenant('fuzz', 'jsrt_fuzzer');
CREATE TABLE IF NOT EXISTS public.fuzz_rows (tenant_id uuid NOT NULL, id serial PRIMARY KEY, t text, data jsonb);
SELECT jsrt.expose_table('public.fuzz_rows') WHERE NOT EXISTS (
  SELECT 1 FROM pg_policies WHERE schemaname = 'public' AND tablename = 'fuzz_rows');
SQL
# the tenant is set at login (jsrt.tenant may only be set by a superuser: here, for the role)
tid=$("${PSQL[@]}" -c "SELECT id FROM jsrt.tenants WHERE name = 'fuzz'")
"${PSQL[@]}" -c "ALTER ROLE jsrt_fuzzer IN DATABASE $DB SET jsrt.tenant = '$tid'" \
  -c "ALTER ROLE jsrt_fuzzer IN DATABASE $DB SET statement_timeout = '120s'" \
  -c "ALTER ROLE jsrt_fuzzer IN DATABASE $DB SET client_min_messages = warning" >/dev/null
PGOPTIONS='-c client_min_messages=warning' "${PSQL[@]}" -v ON_ERROR_STOP=1 -f "$HERE/sql_api.sql" >/dev/null
[ "$("${FUZZER[@]}" -c "SELECT jsrt.current_tenant() = '$tid'")" = t ]
check "jsrt_fuzzer logs in with tenant fuzz set" $?
sql "SELECT jsrt.set_secret('fuzz_secret', 'hunter2-fuzz')" >/dev/null
src=$(cat "$HERE/ctx_fuzz.js")
"${PSQL[@]}" -v src="$src" >/dev/null <<'SQL'
SELECT jsrt.set_tenant('fuzz');
SELECT jsrt.delete_script('ctx_fuzz') FROM jsrt.scripts WHERE name = 'ctx_fuzz';
SELECT jsrt.create_script('ctx_fuzz', :'src', 'oneoff', jsonb_build_object('status', 'active',
  'resource_limits', jsonb_build_object('max_execution_time_ms', 60000, 'max_memory_bytes', 268435456,
    'max_api_calls', 1000000, 'max_api_calls_per_minute', 1000000, 'max_log_bytes', 1048576)));
SQL

start=$("${PSQL[@]}" -c "SELECT pg_postmaster_start_time()")
log_from=$(stat -c %s "$LOG" 2>/dev/null || echo 0)
# The server answers, has not restarted, and no backend crashed since the start.
healthy() {
  [ "$("${PSQL[@]}" -c "SELECT pg_postmaster_start_time()" 2>/dev/null)" = "$start" ] || return 1
  ! tail -c +"$((log_from + 1))" "$LOG" | grep -E "terminated by signal|was terminated by|PANIC:|server process .* exited with exit code [^0]" >&2
}

# ---------------------------------------------------------------- 1. sqlsmith
total=0
for loop in $(seq 1 "$LOOPS"); do
  out=$(timeout 900 sqlsmith --target="host=/tmp port=$PORT dbname=$DB user=jsrt_fuzzer" \
         --seed=$((SEED * 1000 + loop)) --max-queries="$QUERIES" --exclude-catalog 2>&1)
  rc=$?
  total=$((total + QUERIES))
  healthy
  check "sqlsmith loop $loop: $QUERIES queries (seed $((SEED * 1000 + loop))), sqlsmith exit $rc, server up, no restart, no crash" $?
  [ $rc = 0 ] || echo "$out" | tail -20 | cut -c1-500
done
echo "sqlsmith: $LOOPS loops, $total queries"

# ---------------------------------------------------------------- 2. the ctx host API
for s in $(seq 1 "$JS_SEEDS"); do
  seed=$((SEED * 100000 + s))
  res=$("${FUZZER[@]}" -F ' ' -c "SELECT r->'bad' = '[]', r->>'ok', r->>'threw', r
    FROM (SELECT jsrt.execute('ctx_fuzz', jsonb_build_object('seed', $seed, 'calls', $JS_CALLS))::jsonb r) x" 2>&1)
  read -r clean ok threw _ <<<"$res"
  good=1
  [ "$clean" = t ] && good=0
  # A run its limits stopped (memory 53200, time 54000, stack 54001), with a message saying so, is
  # a clear refusal too: a hostile value can cost what JSON.stringify of it would.
  limit=$(echo "$res" | grep -E "^ERROR:  (53200|54000|54001): script \"ctx_fuzz\" failed: .*(max_memory_bytes|max_execution_time_ms|stack)" | head -1)
  [ -n "$limit" ] && good=0
  healthy || good=1
  check "ctx fuzz seed $seed: $JS_CALLS calls, each returned or threw a clear Error" $good
  if [ -n "$limit" ]; then echo "     (stopped by a limit: ${limit:0:200})"
  elif [ $good = 0 ]; then echo "     ($ok returned, $threw threw)"; else echo "$res" | cut -c1-1500 | head -20; fi
done

# ---------------------------------------------------------------- 3. the SQL API
for s in $(seq 1 "$SQL_SEEDS"); do
  seed="0.$((SEED * 1000 + s))"
  for who in jsrt_fuzzer postgres; do
    internals=$([ $who = postgres ] && echo true || echo false)
    res=$(psql -X -q -At -F ' ' -h /tmp -p "$PORT" -U $who "$DB" -c "SET client_min_messages = error" \
      -c "SELECT jsrt.set_tenant('fuzz')" -c "SET statement_timeout = '300s'" \
      -c "SELECT r->'bad' = '[]', r->>'ok', r->>'states', r FROM fuzz.sql_api($seed, $SQL_CALLS, $internals) r" 2>&1 | tail -1)
    read -r clean ok _ <<<"$res"
    good=1
    [ "$clean" = t ] && good=0
    healthy || good=1
    check "SQL API fuzz as $who, seed $seed: $SQL_CALLS calls, every refusal a SQLSTATE outside XX with a message" $good
    if [ $good = 0 ]; then echo "     ($ok returned)"; else echo "$res" | cut -c1-3000 | head -20; fi
  done
done
healthy
check "after the campaign: the server is up, the postmaster started at $start still, no crash in the log" $?
echo "fuzz: took ${SECONDS} s"
finish
