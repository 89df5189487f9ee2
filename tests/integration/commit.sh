#!/usr/bin/env bash
# ctx.commit() in queued one-off runs: a 10,000-row migration cancelled
# midway keeps its committed batches and says how far it got; a failure after
# a commit keeps the commit; after a commit the
# run's SQL is still its tenant's, as the script role; every other kind of run
# refuses ctx.commit().
#   tests/integration/commit.sh PORT DB      (the front listens on PORT + 1000)
set -uo pipefail
PORT=${1:?port}; DB=${2:?database}
HTTP_PORT=$((PORT + 1000))
TENANT=commit_a
source "$(dirname "$0")/lib.sh"

"${PSQL[@]}" -c "SELECT jsrt.create_tenant('commit_a')" -c "SELECT jsrt.create_tenant('commit_b')" >/dev/null
"${PSQL[@]}" >/dev/null <<'SQL'
CREATE TABLE public.commit_rows (tenant_id uuid NOT NULL, id int NOT NULL, migrated bool NOT NULL DEFAULT false, PRIMARY KEY (tenant_id, id));
CREATE TABLE public.commit_notes (tenant_id uuid NOT NULL, note text NOT NULL);
SELECT jsrt.expose_table('public.commit_rows');
SELECT jsrt.expose_table('public.commit_notes');
INSERT INTO public.commit_rows (tenant_id, id)
  SELECT t.id, g FROM jsrt.tenants t, generate_series(1, 10000) g WHERE t.name IN ('commit_a', 'commit_b');
SQL
status() { "${PSQL[@]}" -c "SELECT status FROM jsrt.script_executions WHERE id = '$1'"; }
migrated() { "${PSQL[@]}" -c "SELECT count(*) FILTER (WHERE migrated) FROM public.commit_rows r JOIN jsrt.tenants t ON t.id = r.tenant_id WHERE t.name = '${1:-commit_a}'"; }

# 1. A 10,000-row migration in batches of 500, each committed, cancelled midway.
migration='export default (ctx) => {
  for (let from = 1; from <= 10000; from += 500) {
    ctx.db.exec("UPDATE commit_rows SET migrated = true WHERE id BETWEEN $1 AND $2", [from, from + 499]);
    ctx.commit();
    ctx.progress(from + 499, 10000, "migrated to " + (from + 499));
    const end = Date.now() + 150; while (Date.now() < end) {}
  }
  return "done";
}'
sql "SELECT jsrt.create_script('migrate', \$js\$$migration\$js\$, 'oneoff', '{\"status\": \"active\", \"resource_limits\": {\"max_execution_time_ms\": 60000}}')" >/dev/null
id=$(sql "SELECT jsrt.execute_async('migrate')" | tail -1)
wait_for "SELECT count(*) FILTER (WHERE migrated) >= 3000 FROM public.commit_rows" 30
seen=$?
# (seen from another session while the run goes on: the batches are committed)
check "a running migration's committed batches are seen from another session" $seen
[ "$(sql "SELECT jsrt.cancel('$id')" | tail -1)" = t ]
check "jsrt.cancel stops it midway" $?
wait_for "SELECT status = 'cancelled' FROM jsrt.script_executions WHERE id = '$id'" 20
n=$(migrated)
read -r commits done error < <("${PSQL[@]}" -F ' ' -c "SELECT metrics->>'commits', metrics->'progress'->>'done', replace(error, ' ', '_') FROM jsrt.script_executions WHERE id = '$id'")
[ "$n" -ge 3000 ] && [ "$n" -lt 10000 ] && [ $((n % 500)) = 0 ] && [ "$commits" = $((n / 500)) ] && [ "${done%.0}" = "$n" ] \
  && [[ "$error" == *cancelled* ]]
check "the cancelled migration keeps its $n committed rows, the record says $commits commits, progress $done, error $error" $?
[ "$(migrated commit_b)" = 0 ]
check "the other tenant's rows are untouched" $?

# 2. A failure after a commit keeps the commit and rolls back the rest.
sql "SELECT jsrt.create_script('on_halfway', 'export default (ctx) => { ctx.db.insert(\"commit_notes\", {note: \"event\"}) }', 'event', '{\"status\": \"active\", \"event_types\": [\"commit.halfway\"]}')" >/dev/null
sql "SELECT jsrt.create_script('halfway', 'export default (ctx) => { ctx.db.insert(\"commit_notes\", {note: \"kept\"}); ctx.events.publish(\"commit.halfway\", {}); ctx.commit(); ctx.db.insert(\"commit_notes\", {note: \"lost\"}); throw new Error(\"after the commit\") }', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
id=$(sql "SELECT jsrt.execute_async('halfway')" | tail -1)
wait_for "SELECT status = 'failed' FROM jsrt.script_executions WHERE id = '$id'" 20
wait_for "SELECT count(*) = 1 FROM public.commit_notes WHERE note = 'event'" 20
[ "$("${PSQL[@]}" -c "SELECT string_agg(note, ',' ORDER BY note) FROM public.commit_notes")" = event,kept ] \
  && [ "$("${PSQL[@]}" -c "SELECT metrics->>'commits' = '1' AND error LIKE '%after the commit%' FROM jsrt.script_executions WHERE id = '$id'")" = t ]
check "a failure after a commit keeps what was committed (a row, an event that then ran) and rolls back what came after" $?

# 3. After a commit the run's SQL is the same: script role, its search_path, its tenant only.
sql "SELECT jsrt.create_script('same_after', 'export default (ctx) => { const q = () => ctx.db.one(\"SELECT current_user AS u, current_setting(\$\$search_path\$\$) AS p, (SELECT count(*) FROM commit_rows)::int AS n\"); const before = q(); ctx.commit(); const after = q(); return {before, after} }', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
id=$(sql "SELECT jsrt.execute_async('same_after')" | tail -1)
wait_for "SELECT status = 'completed' FROM jsrt.script_executions WHERE id = '$id'" 20
[ "$("${PSQL[@]}" -c "SELECT output->'before' = output->'after' AND output->'after'->>'u' = 'jsrt_script' AND (output->'after'->>'n')::int = 10000 FROM jsrt.script_executions WHERE id = '$id'")" = t ]
check "after ctx.commit() the run's SQL still runs as jsrt_script, with its search_path, seeing its tenant's rows only" $?

# 4. Every run that does not own its transaction refuses ctx.commit(), with a clear error.
sql "SELECT jsrt.create_script('commits', 'export default (ctx) => { ctx.db.insert(\"commit_notes\", {note: \"refused\"}); ctx.commit(); return 1 }', 'oneoff', '{\"status\": \"active\"}')" >/dev/null
out=$(sql "SELECT jsrt.execute('commits')" 2>&1)
grep -q 'ctx.commit() is allowed only in queued one-off runs (jsrt.execute_async)' <<<"$out"
check "a synchronous run refuses ctx.commit()" $?
sql "SELECT jsrt.create_script('commit_fn', 'export default (ctx) => { ctx.commit(); return 1 }', 'embedded', '{\"status\": \"active\"}')" >/dev/null
out=$(sql "SELECT jsrt.execute('commit_fn')" 2>&1)
grep -q 'ctx.commit() is allowed only in queued one-off runs' <<<"$out"
check "an embedded call refuses ctx.commit()" $?
sql "SELECT jsrt.create_script('commit_http', 'export default (ctx) => { ctx.commit(); return 1 }', 'http', '{\"status\": \"active\", \"http_path\": \"/commit\", \"http_auth\": \"public\"}')" >/dev/null
code=$(curl -s -o /dev/null -w '%{http_code}' --max-time 30 "http://127.0.0.1:$HTTP_PORT/t/commit_a/commit")
[ "$code" = 500 ] && [ "$("${PSQL[@]}" -c "SELECT bool_and(e.error LIKE '%ctx.commit() is allowed only in queued one-off runs%') FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'commit_http'")" = t ]
check "an HTTP run refuses ctx.commit() ($code)" $?
sql "SELECT jsrt.create_script('commit_event', 'export default (ctx) => { ctx.commit(); return 1 }', 'event', '{\"status\": \"active\", \"event_types\": [\"commit.test\"]}')" >/dev/null
sql "SELECT jsrt.emit('commit.test', '{}')" >/dev/null
wait_for "SELECT bool_or(e.status = 'failed' AND e.error LIKE '%ctx.commit() is allowed only in queued one-off runs%') FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'commit_event'" 20
check "an event run refuses ctx.commit()" $?
[ "$("${PSQL[@]}" -c "SELECT count(*) FROM public.commit_notes WHERE note = 'refused'")" = 0 ]
check "a refused ctx.commit() commits nothing" $?

finish
