#!/usr/bin/env bash
# Upgrading 0.1.0 to 0.2.0 as a DBA does. A cluster runs the released 0.1.0:
# its library built from the commit that shipped it (f2b8b80), its install
# script sql/jsruntime--0.1.0.sql, which the test checks is what that commit
# generates. 0.1.0 fills it: tenants, scripts with versions, history, queued
# and dead-lettered runs, secrets, API keys, exposed tables, schedules, events.
# Then the package upgrade: the 0.2.0 library renamed into place, a restart;
# the workers wait and the SQL functions refuse until ALTER EXTENSION
# jsruntime UPDATE. After it: every row is still there, the queued runs
# complete, 0.1.0's API key works, and the catalog is a fresh 0.2.0 install's
# (schema-only pg_dump in binary-upgrade mode, the roles, the configuration tables).
#   tests/integration/upgrade.sh [PORT]   (two clusters of its own: PORT, PORT + 1)
# Needs the 0.2.0 build installed (scripts/install.sh); puts it back at the end.
set -uo pipefail
cd "$(dirname "$0")/../.."
PORT=${1:-28840}; NEW_PORT=$((PORT + 1)); HTTP_PORT=$((PORT + 1000))
DB=jsrt_upgrade
RELEASE=f2b8b800fc356a0051318b16e3ece1c6ea0983d8   # 0.1.0
OLD_DIR=/tmp/jsrt-upgrade-old; NEW_DIR=/tmp/jsrt-upgrade-new; WORK=/tmp/jsrt-upgrade-work
PG_CONFIG=${PG_CONFIG:-/usr/lib/postgresql/15/bin/pg_config}
libdir=$("$PG_CONFIG" --pkglibdir); sharedir=$("$PG_CONFIG" --sharedir)
TENANT=upg_a
source "$(dirname "$0")/lib.sh"
NEW_PSQL=(psql -X -q -At -h /tmp -p "$NEW_PORT" -U postgres "$DB")
as_pg() { runuser -u postgres -- "$@"; }
put() { # put FILE DIR/NAME: a copy renamed into place (a running server keeps the old file)
  cp "$1" "$(dirname "$2")/.upgrade.$$" && mv -f "$(dirname "$2")/.upgrade.$$" "$2"
}

for f in "$libdir/jsruntime.so" "$sharedir/extension/jsruntime--0.1.0.sql" \
         "$sharedir/extension/jsruntime--0.1.0--0.2.0.sql" "$sharedir/extension/jsruntime--0.2.0.sql"; do
  [ -f "$f" ] || { echo "upgrade.sh: $f is missing: run scripts/install.sh first" >&2; exit 2; }
done
scripts/cluster.sh stop "$OLD_DIR"; scripts/cluster.sh stop "$NEW_DIR"
rm -rf "$OLD_DIR" "$NEW_DIR" "$WORK"; mkdir -p "$WORK"; chmod 755 "$WORK"
cp "$libdir/jsruntime.so" "$WORK/jsruntime-0.2.0.so"
cleanup() {
  scripts/cluster.sh stop "$OLD_DIR"; scripts/cluster.sh stop "$NEW_DIR"
  # the 0.2.0 library back where scripts/install.sh put it
  put "$WORK/jsruntime-0.2.0.so" "$libdir/jsruntime.so"
}
trap cleanup EXIT

# ---------------------------------------------------------------- the 0.1.0 library
# Built once from the release commit (git archive; outside the checkout, whose
# workspace would claim it), kept in target/rel-0.1.0. Its target directory is
# a hard-linked copy of this checkout's (no space, the compiled dependencies
# reused) without this crate's own files: both crates are named jsruntime and
# would write the same target/release/deps/libjsruntime.so.
REL=target/rel-0.1.0
if [ "$(cat "$REL/commit" 2>/dev/null)" != "$RELEASE" ] || [ ! -f "$REL/jsruntime.so" ]; then
  if ! git cat-file -e "$RELEASE^{commit}" 2>/dev/null; then
    echo "upgrade.sh: commit $RELEASE (0.1.0) is not in this clone (a shallow clone?): git fetch --unshallow" >&2
    exit 2
  fi
  echo "building the 0.1.0 library from $RELEASE (once)"
  rm -rf "$REL"; mkdir -p "$REL/target" "$WORK/src"
  git archive "$RELEASE" | tar -x -C "$WORK/src"
  if [ -d target/release ]; then
    cp -al target/release "$REL/target/release"
    find "$REL/target/release" -name '*jsruntime*' -prune -exec rm -rf {} +
  fi
  top=$(pwd)
  if ! (cd "$WORK/src" && CARGO_TARGET_DIR="$top/$REL/target" cargo pgrx package --pg-config "$PG_CONFIG" \
          --out-dir "$top/$REL/stage" >"$WORK/build-0.1.0.log" 2>&1); then
    tail -30 "$WORK/build-0.1.0.log"; echo "upgrade.sh: building 0.1.0 failed" >&2; exit 1
  fi
  cp "$REL/stage$libdir/jsruntime.so" "$REL/jsruntime.so"
  cp "$REL/stage$sharedir/extension/jsruntime--0.1.0.sql" "$REL/jsruntime--0.1.0.sql"
  rm -rf "$REL/target" "$REL/stage"
  echo "$RELEASE" > "$REL/commit"
fi
# (pgrx orders some independent blocks differently from one run to the next: compared as a set)
python3 - "$REL/jsruntime--0.1.0.sql" sql/jsruntime--0.1.0.sql <<'PY'
import sys
blocks = [sorted(open(p).read().split("/* <begin connected objects> */")) for p in sys.argv[1:]]
sys.exit(0 if blocks[0] == blocks[1] else 1)
PY
check "sql/jsruntime--0.1.0.sql is what commit $RELEASE generates" $?

# ---------------------------------------------------------------- 0.1.0, filled by 0.1.0
put "$REL/jsruntime.so" "$libdir/jsruntime.so"
scripts/cluster.sh start "$OLD_DIR" "$PORT" "$DB" >/dev/null
cat >> "$OLD_DIR/postgresql.conf" <<CONF
jsrt.executor_workers = 2
jsrt.event_max_retries = 1
jsrt.event_retry_base_ms = 100
CONF
as_pg /usr/lib/postgresql/15/bin/pg_ctl -D "$OLD_DIR" -m fast -w restart -l "$OLD_DIR/server.log" >/dev/null
"${PSQL[@]}" -c "CREATE EXTENSION jsruntime VERSION '0.1.0'"
[ "$("${PSQL[@]}" -c "SELECT extversion FROM pg_extension WHERE extname = 'jsruntime'")" = 0.1.0 ]
check "CREATE EXTENSION jsruntime VERSION '0.1.0' installs the released script" $?

"${PSQL[@]}" -v ON_ERROR_STOP=1 >/dev/null <<'SQL'
SELECT jsrt.create_tenant(t) FROM unnest(ARRAY['upg_a', 'upg_b', 'upg_c']) t;
CREATE TABLE public.orders (tenant_id uuid NOT NULL, id serial PRIMARY KEY, note text NOT NULL);
SELECT jsrt.expose_table('public.orders');
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['upg_a', 'upg_b', 'upg_c'] LOOP
        PERFORM jsrt.set_tenant(t);
        -- a script with three versions
        PERFORM jsrt.create_script('calc', 'export default (ctx) => ({sum: ctx.input.a + ctx.input.b, v: 1})',
                                   'oneoff', '{"status": "active", "tags": ["math"]}');
        PERFORM jsrt.update_script('calc', 'export default (ctx) => ({sum: ctx.input.a + ctx.input.b, v: 2})');
        PERFORM jsrt.update_script('calc', 'export default (ctx) => ({sum: ctx.input.a + ctx.input.b, v: 3})',
                                   '{"description": "adds"}');
        -- writes the exposed table, reads a secret, keeps a cache entry
        PERFORM jsrt.create_script('order', $js$export default (ctx) => {
            const key = ctx.secrets.get('shop_key');
            ctx.cache.set('last', ctx.input.note || 'none', 3600);
            return ctx.db.insert('orders', {note: (ctx.input.note || 'none') + ':' + (key ? key.length : 0)});
        }$js$, 'oneoff', '{"status": "active"}');
        PERFORM jsrt.create_script('on_created', $js$export default (ctx) => {
            ctx.db.insert('orders', {note: 'event ' + ctx.input.n});
        }$js$, 'event', '{"status": "active", "event_types": ["order.created"]}');
        -- fails every time: its event runs end as dead letters
        PERFORM jsrt.create_script('on_created_bad', 'export default () => { throw new Error("bad handler") }',
                                   'event', '{"status": "active", "event_types": ["order.created"]}');
        PERFORM jsrt.create_script('nightly', 'export default () => "ran"', 'scheduled',
                                   '{"status": "active", "cron_expression": "0 3 * * *", "timezone": "Europe/Paris"}');
        PERFORM jsrt.create_script('hook', 'export default (ctx) => ({hello: ctx.request.params.who})', 'http',
                                   '{"status": "active", "http_path": "/hello/:who", "http_methods": ["GET"]}');
        PERFORM jsrt.create_script('broken', 'export default () => { throw new Error("always") }', 'oneoff',
                                   '{"status": "active"}');
        PERFORM jsrt.set_secret('shop_key', 'secret-' || t);
    END LOOP;
END $$;
SQL
for t in upg_a upg_b upg_c; do
  T=$t sql "SELECT jsrt.execute('calc', '{\"a\": 1, \"b\": 2}'); SELECT jsrt.execute('calc', '{\"a\": 5, \"b\": 5}');
            SELECT jsrt.execute('order', '{\"note\": \"sync\"}'); SELECT jsrt.execute_async('order', '{\"note\": \"queued\"}');
            SELECT jsrt.emit('order.created', '{\"n\": 1}'); SELECT jsrt.emit('order.created', '{\"n\": 2}');" >/dev/null
  T=$t sql "SELECT jsrt.execute('broken')" >/dev/null 2>&1
done
KEY=$(T=upg_a sql "SELECT jsrt.create_api_key('ci', 'jsrt_developer')" | tail -1)
T=upg_b sql "SELECT jsrt.create_api_key('old', 'jsrt_viewer')" >/dev/null
"${PSQL[@]}" -c "SELECT jsrt.flush_history(5000)" >/dev/null
# 0.1.0 runs its queue: 2 events x 2 subscribers x 3 tenants, retried once, and the queued runs
wait_for "SELECT (SELECT count(*) FROM jsrt.script_event_dead_letters) = 6
             AND NOT EXISTS (SELECT 1 FROM jsrt.script_executions WHERE status IN ('pending', 'running'))
             AND (SELECT count(*) FROM jsrt.script_executions WHERE status = 'failed') >= 9" 60
check "0.1.0 ran its queue: 6 dead letters, failed and completed runs in the history" $?

# Queued runs left for 0.2.0: the executors off, then runs and events queued.
sed -i 's/^jsrt.executor_workers = 2$/jsrt.executor_workers = 0/' "$OLD_DIR/postgresql.conf"
as_pg /usr/lib/postgresql/15/bin/pg_ctl -D "$OLD_DIR" -m fast -w restart -l "$OLD_DIR/server.log" >/dev/null
for t in upg_a upg_b upg_c; do
  T=$t sql "SELECT jsrt.execute_async('order', jsonb_build_object('note', 'later ' || g)) FROM generate_series(1, 5) g;
            SELECT jsrt.emit('order.created', '{\"n\": 3}');" >/dev/null
done
QUEUED=$("${PSQL[@]}" -c "SELECT string_agg(id::text, ',' ORDER BY id) FROM jsrt.script_executions WHERE status = 'pending'")
n_queued=$(tr ',' '\n' <<<"$QUEUED" | grep -c .)
[ "$n_queued" = 21 ]
check "21 runs queued and pending under 0.1.0 (15 one-off, 6 event)" $?

# ---------------------------------------------------------------- the package upgrade
put "$WORK/jsruntime-0.2.0.so" "$libdir/jsruntime.so"
sed -i 's/^jsrt.executor_workers = 0$/jsrt.executor_workers = 2/' "$OLD_DIR/postgresql.conf"
mark=$(wc -l < "$OLD_DIR/server.log")
as_pg /usr/lib/postgresql/15/bin/pg_ctl -D "$OLD_DIR" -m fast -w restart -l "$OLD_DIR/server.log" >/dev/null
since_restart() { tail -n +"$((mark + 1))" "$OLD_DIR/server.log"; }
# (a fast shutdown ends workers with exit code 1: the log is read from the restart on)
log_has() { since_restart | grep -c -- "$1"; }
crashed() { since_restart | grep -E 'terminated by signal|exited with exit code|PANIC' | grep -vc 'logical replication launcher'; }
waiting="waiting: jsruntime library is 0.2.0 but the installed extension is 0.1.0: run ALTER EXTENSION jsruntime UPDATE"
for _ in $(seq 1 100); do
  [ "$(log_has "jsrt executor: $waiting")" -ge 2 ] && [ "$(log_has "jsrt scheduler: $waiting")" -ge 1 ] \
    && [ "$(log_has "jsrt recorder: $waiting")" -ge 1 ] && break
  sleep 0.1
done
[ "$(log_has "jsrt executor: $waiting")" = 2 ] && [ "$(log_has "jsrt scheduler: $waiting")" = 1 ] \
  && [ "$(log_has "jsrt recorder: $waiting")" = 1 ]
check "with the 0.2.0 library on the 0.1.0 catalog, the executors, scheduler and recorder wait and say why once" $?
sleep 3
[ "$("${PSQL[@]}" -c "SELECT count(*) FROM jsrt.script_executions WHERE status = 'pending'")" = 21 ] \
  && [ "$(log_has "$waiting")" = 4 ] \
  && [ "$(crashed)" = 0 ]
check "3 s later: the 21 runs still pending, nothing said twice, no worker exited or crashed" $?
out=$("${PSQL[@]}" -v VERBOSITY=verbose -c "SELECT jsrt.set_tenant('upg_a')" 2>&1)
[[ "$out" == *"ERROR:  55000: jsruntime library is 0.2.0 but the installed extension is 0.1.0: run ALTER EXTENSION jsruntime UPDATE"* ]]
check "a jsrt function before the update: 55000, the library's and the catalog's versions and what to run" $?
out=$("${PSQL[@]}" -c "UPDATE jsrt.scripts SET description = 'x' WHERE name = 'calc'" 2>&1)
[[ "$out" == *"installed extension is 0.1.0: run ALTER EXTENSION jsruntime UPDATE"* ]]
check "writing jsrt.scripts before the update: its 0.1.0 triggers get the same error" $?
out=$("${PSQL[@]}" -c "SELECT jsrt._invalidate_script_cache('jsrt.scripts'::regclass)" 2>&1)
[[ "$out" == *"installed extension is 0.1.0: run ALTER EXTENSION jsruntime UPDATE"* ]]
check "a 0.1.0 function whose symbol 0.2.0 dropped: the same error, not \"could not find function\"" $?
code=$(curl -s -o "$WORK/early.json" -w '%{http_code}' -H "X-API-Key: $KEY" "http://127.0.0.1:$HTTP_PORT/hello/you")
[ "$code" = 503 ] && grep -q "installed extension is 0.1.0" "$WORK/early.json"
check "an HTTP request before the update: 503 with the same message" $?

# Every table's rows on 0.1.0's columns, as 0.1.0 left them (nothing writes while
# all wait). script_scheduled_jobs.is_running is left out: the update recomputes
# it with 0.2.0's meaning (a cron run started and not finished).
"${PSQL[@]}" > "$WORK/rows.sql" <<'SQL'
SELECT format('SELECT %L, count(*), md5(coalesce(string_agg(r::text, E''\n'' ORDER BY r::text), '''')) FROM (SELECT %s FROM %s) r;',
              c.oid::regclass::text,
              string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum), c.oid::regclass::text)
  FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace
  JOIN pg_attribute a ON a.attrelid = c.oid AND a.attnum > 0 AND NOT a.attisdropped
 WHERE (n.nspname = 'jsrt' OR c.oid = 'public.orders'::regclass) AND c.relkind = 'r'
   AND NOT (c.relname = 'script_scheduled_jobs' AND a.attname = 'is_running')
 GROUP BY c.oid ORDER BY 1;
SQL
"${PSQL[@]}" -F ' ' -f "$WORK/rows.sql" > "$WORK/rows-before.txt"
empty=$(awk '$2 == 0 {print $1}' "$WORK/rows-before.txt" | grep -vxE 'jsrt\.(tenant_members|script_http_endpoints)' | tr '\n' ' ')
[ "$(wc -l < "$WORK/rows-before.txt")" = 15 ] && [ -z "$empty" ]
check "0.1.0 left rows in each table but two it does not use here (${empty:-none empty})" $?

# ---------------------------------------------------------------- ALTER EXTENSION jsruntime UPDATE
# In one transaction with the row check after it: no executor runs anything before the check.
out=$("${PSQL[@]}" -v ON_ERROR_STOP=1 -F ' ' <<SQL 2>&1
BEGIN;
ALTER EXTENSION jsruntime UPDATE;
\o $WORK/rows-after.txt
\i $WORK/rows.sql
\o
COMMIT;
SQL
)
[ -z "$out" ] && [ "$("${PSQL[@]}" -c "SELECT extversion FROM pg_extension WHERE extname = 'jsruntime'")" = 0.2.0 ]
check "ALTER EXTENSION jsruntime UPDATE brings 0.1.0 to 0.2.0 ${out:+($out)}" $?
diff "$WORK/rows-before.txt" "$WORK/rows-after.txt"
check "every row of every table is still there, unchanged ($(awk '{s += $2} END {print s}' "$WORK/rows-before.txt") rows)" $?
ids=$(sed "s/[^,]\+/'&'/g" <<<"$QUEUED")
wait_for "SELECT count(*) FILTER (WHERE status = 'completed') = 18 AND count(*) FILTER (WHERE status = 'failed') = 3
            FROM jsrt.script_executions WHERE id IN ($ids)" 60
check "the runs queued under 0.1.0 run after the update (15 one-off and 3 event runs completed, 3 of the failing handler failed)" $?
[ "$("${PSQL[@]}" -c "SELECT count(*) FROM public.orders WHERE note LIKE 'later %'")" = 15 ] \
  && [ "$("${PSQL[@]}" -c "SELECT count(*) FROM public.orders WHERE note = 'event 3'")" = 3 ]
check "their writes are in the exposed table (15 one-off rows, 3 from events)" $?
# (each worker looks again at its own pace: the scheduler and recorder up to a few seconds later)
for _ in $(seq 1 100); do
  [ "$(log_has "the extension is at 0.2.0 now: starting")" -ge 4 ] && break; sleep 0.1
done
[ "$(log_has "the extension is at 0.2.0 now: starting")" -ge 4 ] \
  && [ "$(crashed)" = 0 ]
check "the workers say they start, and none crashed" $?
[ "$(T=upg_a sql "SELECT jsrt.execute('calc', '{\"a\": 20, \"b\": 22}')->>'sum'" | tail -1)" = 42 ] \
  && [ "$(T=upg_a sql "SELECT version FROM jsrt.scripts WHERE name = 'calc'" | tail -1)" = 3 ]
check "a 0.1.0 script runs under 0.2.0 at its version 3" $?
code=$(curl -s -o "$WORK/hook.json" -w '%{http_code}' -H "X-API-Key: $KEY" "http://127.0.0.1:$HTTP_PORT/hello/you")
[ "$code" = 200 ] && grep -q '"hello":"you"' "$WORK/hook.json"
check "0.1.0's API key calls 0.1.0's endpoint through 0.2.0's front door" $?

# ---------------------------------------------------------------- the catalog against a fresh 0.2.0
scripts/cluster.sh start "$NEW_DIR" "$NEW_PORT" "$DB" >/dev/null
"${NEW_PSQL[@]}" -c "CREATE EXTENSION jsruntime"
# (not the test's own table)
tests/integration/upgrade_dump.py "$PORT" "$DB" --exclude-table='public.orders*' > "$WORK/upgraded.sql"
tests/integration/upgrade_dump.py "$NEW_PORT" "$DB" --exclude-table='public.orders*' > "$WORK/fresh.sql"
if diff -u "$WORK/fresh.sql" "$WORK/upgraded.sql" > "$WORK/catalog.diff"; then d=0; else
  d=1
  echo "the upgraded catalog differs from a fresh 0.2.0 install's ($WORK/catalog.diff):"
  echo "  - lines: a fresh install has them, the upgrade does not (sql/jsruntime--0.1.0--0.2.0.sql lacks them)"
  echo "  + lines: the upgrade made them, a fresh install has not (or made them otherwise)"
  head -200 "$WORK/catalog.diff"
fi
check "pg_dump of the upgraded catalog equals a fresh 0.2.0 install's ($(grep -c . "$WORK/fresh.sql") lines; --- fresh, +++ upgraded)" $d
roles() { # the extension's roles: attributes, memberships, and what the roles hold outside schema jsrt
  pg_dumpall -h /tmp -p "$1" -U postgres --roles-only --no-role-passwords 2>/dev/null \
    | grep -E '\bjsrt_' | sed -E 's/ GRANTED BY [a-z_"]+//' | sort
}
diff <(roles "$NEW_PORT") <(roles "$PORT") > "$WORK/roles.diff"
check "the roles and their memberships are a fresh install's ($(roles "$NEW_PORT" | wc -l) lines)" $?
conf="SELECT string_agg(format('%s %s', x.c::regclass, x.cond), ', ' ORDER BY x.c::regclass::text)
        FROM pg_extension e, unnest(e.extconfig, e.extcondition) x(c, cond) WHERE e.extname = 'jsruntime'"
[ "$("${PSQL[@]}" -c "$conf")" = "$("${NEW_PSQL[@]}" -c "$conf")" ]
check "the configuration tables pg_dump saves are a fresh install's" $?

finish
