-- The trust rules of DESIGN.md section 6, attacked through every entry point.
-- The attacker is mallory, a login role; tenant tr_b is the victim.
RESET jsrt.tenant;
SET client_min_messages = warning;
CREATE EXTENSION IF NOT EXISTS dblink;
RESET client_min_messages;
DO $$
BEGIN
    IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'mallory') THEN
        EXECUTE 'DROP OWNED BY mallory CASCADE';
        DROP ROLE mallory;
    END IF;
END $$;
DROP ROLE IF EXISTS tr_admin;
CREATE ROLE mallory LOGIN;
GRANT CREATE ON SCHEMA public TO mallory;
SELECT jsrt.create_tenant('tr_a') IS NOT NULL AS a, jsrt.create_tenant('tr_b') IS NOT NULL AS b;
SELECT jsrt.grant_tenant('tr_a', 'mallory');
-- Anything that runs one of mallory's functions as another role counts here;
-- sequences are not transactional, so a count survives the victim's rollback.
CREATE SEQUENCE public.escalations;
GRANT USAGE ON SEQUENCE public.escalations TO PUBLIC;
CREATE VIEW public.escalated AS
    SELECT (SELECT CASE WHEN is_called THEN last_value ELSE 0 END FROM public.escalations) AS foreign_runs,
           (SELECT rolsuper FROM pg_roles WHERE rolname = 'mallory') AS mallory_is_superuser;

-- ---------------------------------------------------------------- rule 1: pinned search_path

-- Every SECURITY DEFINER function pins its search_path, pg_temp last.
SELECT p.oid::regprocedure AS security_definer_function, p.proconfig
  FROM pg_proc p WHERE p.pronamespace = 'jsrt'::regnamespace AND p.prosecdef ORDER BY p.oid::regprocedure::text COLLATE "C";
SELECT count(*) AS definers_without_pinned_path
  FROM pg_proc p WHERE p.pronamespace = 'jsrt'::regnamespace AND p.prosecdef
   AND NOT coalesce(p.proconfig @> ARRAY['search_path=pg_catalog, jsrt, pg_temp'], false);
-- Who may call what (a new function shows up here, and must be attacked below).
SELECT p.oid::regprocedure AS function,
       has_function_privilege('jsrt_viewer', p.oid, 'EXECUTE') AS viewer,
       has_function_privilege('jsrt_developer', p.oid, 'EXECUTE') AS developer,
       has_function_privilege('jsrt_admin', p.oid, 'EXECUTE') AS admin,
       has_function_privilege('jsrt_superadmin', p.oid, 'EXECUTE') AS superadmin,
       has_function_privilege('jsrt_script', p.oid, 'EXECUTE') AS script
  FROM pg_proc p WHERE p.pronamespace = 'jsrt'::regnamespace
   AND has_function_privilege('jsrt_viewer', p.oid, 'EXECUTE') OR has_function_privilege('jsrt_superadmin', p.oid, 'EXECUTE')
       AND p.pronamespace = 'jsrt'::regnamespace
 ORDER BY 1::text;

-- The attacker's function, made in each of mallory's sessions below: it
-- counts (and escalates) whenever it runs as anyone but mallory.
\set evil 'CREATE FUNCTION pg_temp.evil(x pg_catalog.text) RETURNS boolean LANGUAGE plpgsql AS $$ BEGIN IF current_user <> ''mallory'' THEN PERFORM pg_catalog.nextval(''public.escalations''); IF current_user = ''postgres'' THEN EXECUTE ''ALTER ROLE mallory SUPERUSER''; END IF; END IF; RETURN true; END $$;'
-- The reported attack: a viewer's temporary domain named text, run by set_tenant as the owner.
GRANT jsrt_viewer TO mallory;
\c - mallory
:evil
CREATE DOMAIN pg_temp.text AS pg_catalog.text CHECK (pg_temp.evil(VALUE));
SELECT jsrt.set_tenant('tr_a');
\c - postgres
SELECT * FROM public.escalated;

-- Every function a jsrt role may call, called by a superadmin (every role's
-- functions) whose session holds temporary domains named after the types,
-- and views named after the catalogs and tables, that internal SQL uses.
-- The helpers are called first, so that PL/pgSQL has compiled them in this
-- session before SECURITY DEFINER functions call them.
GRANT jsrt_superadmin TO mallory;
CREATE TABLE public.m_items (id serial, tenant_id uuid, name text);
ALTER TABLE public.m_items OWNER TO mallory;
SELECT jsrt.set_tenant('tr_a');
SELECT jsrt.create_script('m_queued', 'export default () => 1', 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
SELECT jsrt.create_script('m_event', 'export default () => 1', 'event', '{"status": "active", "event_types": ["m.ev"]}') IS NOT NULL AS ok;
RESET jsrt.tenant;
CREATE TABLE public.calls (n serial, function text, q text);
INSERT INTO public.calls(function, q) VALUES
 ('jsrt.set_tenant(text,boolean)', $$SELECT jsrt.set_tenant('tr_a')$$),
 ('jsrt.current_tenant()', 'SELECT jsrt.current_tenant()'),
 ('jsrt.tenant_id()', 'SELECT jsrt.tenant_id()'),
 ('jsrt.list_scripts(text,text,text,text,text,integer,integer)', 'SELECT count(*) FROM jsrt.list_scripts()'),
 ('jsrt.flush_history(integer)', 'SELECT jsrt.flush_history(5000)'),
 ('jsrt.running()', 'SELECT count(*) FROM jsrt.running()'),
 ('jsrt.create_script(text,text,text,jsonb)', $$SELECT jsrt.create_script('m1', 'export default (ctx) => ctx.db.query("SELECT $1::text AS t, $2::uuid AS u, now()::timestamptz AS at, ''{}''::jsonb AS j", ["x", ctx.tenant.id])', 'oneoff', '{"status": "active"}')$$),
 ('jsrt.update_script(text,text,jsonb,text)', $$SELECT jsrt.update_script('m1', NULL, '{"description": "d", "tags": ["a"]}')$$),
 ('jsrt.create_function(text,text,jsonb)', $$SELECT jsrt.create_function('m1', 'public.m_fn() returns jsonb'); SELECT public.m_fn(); DROP FUNCTION public.m_fn()$$),
 ('jsrt.create_trigger(text,regclass,text,text,jsonb)', $$SELECT jsrt.create_trigger('m1', 'public.m_items', 'insert', 'after'); DROP FUNCTION public.m_items_m1_jsrt() CASCADE$$),
 ('jsrt._function_comment(jsrt.scripts)', $$SELECT jsrt._function_comment(s) FROM jsrt.scripts s WHERE s.name = 'm1'$$),
 ('jsrt._function_body(jsrt.scripts,jsonb)', $$SELECT jsrt._function_body(s, '{"jsonText": true}') FROM jsrt.scripts s WHERE s.name = 'm1'$$),
 ('jsrt.set_status(text,text)', $$SELECT jsrt.set_status('m1', 'paused')$$),
 ('jsrt.rollback_script(text,integer)', $$SELECT jsrt.rollback_script('m1', 1)$$),
 ('jsrt.execute(text,jsonb)', $$SELECT jsrt.set_status('m1', 'active'); SELECT jsrt.execute('m1')$$),
 ('jsrt._execute(text,text)', $$SELECT jsrt._execute('m1', '{}')$$),
 ('jsrt._execute_object(text,"any")', $$SELECT jsrt.execute('m1', jsonb_build_object('n', 1, 't', 'x', 'u', 'y'::text)); SELECT jsrt._execute_object('m1', 'n', 2)$$),
 ('jsrt._resolve_script(text)', $$SELECT (jsrt._resolve_script('m1')).name$$),
 ('jsrt._check_options(jsonb)', $$SELECT jsrt._check_options('{"tags": []}')$$),
 ('jsrt._text_array(jsonb)', $$SELECT jsrt._text_array('["a"]')$$),
 ('jsrt._status_transition_allowed(text,text)', $$SELECT jsrt._status_transition_allowed('draft', 'active')$$),
 ('jsrt._check_limits(jsonb)', $$SELECT jsrt._check_limits('{}')$$),
 ('jsrt._check_source(text,text)', $$SELECT jsrt._check_source('x', 'export default () => 1')$$),
 ('jsrt._check_cron(text,text)', $$SELECT jsrt._check_cron('*/5 * * * *', 'Europe/Berlin')$$),
 ('jsrt._check_retry(jsonb)', $$SELECT jsrt._check_retry('{"attempts": 2}')$$),
 ('jsrt.emit(text,jsonb)', $$SELECT jsrt.emit('m.ev', '{"a": 1}')$$),
 ('jsrt._subscribers(uuid,text,boolean)', $$SELECT count(*) FROM jsrt._subscribers(jsrt.tenant_id(), 'm.ev', true)$$),
 ('jsrt.execute_async(text,jsonb)', $$SELECT jsrt.execute_async('m_queued')$$),
 ('jsrt.wait(uuid,integer)', $$SELECT jsrt.wait(jsrt.execute_async('m_queued'), 10)$$),
 ('jsrt.cancel(uuid)', $$SELECT jsrt.cancel(jsrt.execute_async('m_queued'))$$),
 ('jsrt.retry_dead_letter(uuid)', $$SELECT jsrt.retry_dead_letter(gen_random_uuid())$$),
 ('jsrt.redrive_dead_letters(text,text,timestamp with time zone)', $$SELECT jsrt.redrive_dead_letters('m_event', NULL, NULL)$$),
 ('jsrt.run_pending(integer)', 'SELECT jsrt.run_pending(20)'),
 ('jsrt.run_due()', 'SELECT jsrt.run_due()'),
 ('jsrt.cleanup_history(integer)', 'SELECT jsrt.cleanup_history(10)'),
 ('jsrt.http_dispatch(text,text,jsonb,text,boolean)', $$SELECT (jsrt.http_dispatch('GET', '/t/tr_b/catalog', '{}', ''))->>'status'$$),
 ('jsrt.set_secret(text,text)', $$SELECT jsrt.set_secret('m_key', 'value-of-m')$$),
 ('jsrt.delete_secret(text)', $$SELECT jsrt.delete_secret('m_key')$$),
 ('jsrt.create_api_key(text,text)', $$SELECT jsrt.create_api_key('m_k', 'jsrt_developer') IS NOT NULL$$),
 ('jsrt.revoke_api_key(text)', $$SELECT jsrt.revoke_api_key('m_k')$$),
 ('jsrt.delete_script(text)', $$SELECT jsrt.delete_script('m1')$$),
 ('jsrt.expose_table(regclass,name)', $$SELECT jsrt.expose_table('public.m_items')$$),
 ('jsrt._owned_sequences(regclass)', $$SELECT count(*) FROM jsrt._owned_sequences('public.m_items')$$),
 ('jsrt.unexpose_table(regclass)', $$SELECT jsrt.unexpose_table('public.m_items')$$),
 ('jsrt.create_tenant(text)', $$SELECT jsrt.create_tenant('tr_m') IS NOT NULL$$),
 ('jsrt.grant_tenant(text,regrole)', $$SELECT jsrt.grant_tenant('tr_m', 'mallory')$$),
 ('jsrt.revoke_tenant(text,regrole)', $$SELECT jsrt.revoke_tenant('tr_m', 'mallory')$$),
 ('jsrt.set_tenant_max_concurrent_runs(text,integer)', $$SELECT jsrt.set_tenant_max_concurrent_runs('tr_m', NULL)$$),
 ('jsrt._check_http_path(text,text)', $$SELECT jsrt._check_http_path('x', '/orders')$$),
 ('jsrt._http_routes_clash(text,text[],text,text[])', $$SELECT jsrt._http_routes_clash('/a/:x', '{GET}', '/a/:y', '{}')$$),
 ('jsrt._methods_text(text[])', $$SELECT jsrt._methods_text('{GET}')$$),
 ('jsrt.http_dispatch(draft)', $$SELECT jsrt.set_tenant('tr_a'); SELECT (jsrt.http_dispatch('GET', '/nothing', '{}', '', true))->>'status'$$),
 ('jsrt._check_input_schema(jsonb)', $$SELECT jsrt._check_input_schema('{"type": "object"}')$$),
 ('jsrt._timezone_known(text)', $$SELECT jsrt._timezone_known('Europe/Paris')$$),
 ('jsrt.dry_run(text,text,jsonb,boolean)', $$SELECT jsrt.set_tenant('tr_a'); SELECT (jsrt.dry_run('m_queued'))->>'ok'$$),
 ('jsrt.set_tenant_state(text,text)', $$SELECT jsrt.set_tenant_state('tr_m', 'active')$$);
-- Every function a jsrt role may call is in the list above.
SELECT p.oid::regprocedure AS not_attacked
  FROM pg_proc p WHERE p.pronamespace = 'jsrt'::regnamespace
   AND (has_function_privilege('jsrt_viewer', p.oid, 'EXECUTE') OR has_function_privilege('jsrt_superadmin', p.oid, 'EXECUTE'))
   AND p.oid::regprocedure::text NOT IN (SELECT function FROM public.calls);
GRANT SELECT ON public.calls TO mallory;
CREATE FUNCTION public.attempt(q text) RETURNS pg_catalog.text LANGUAGE plpgsql AS $$
BEGIN
    EXECUTE q;
    RETURN 'ran';
EXCEPTION WHEN OTHERS THEN
    RETURN 'error ' || sqlstate;
END $$;
-- tenant tr_b's public endpoint, reading its exposed table
CREATE TABLE public.catalog (tenant_id uuid, name text);
SELECT jsrt.expose_table('public.catalog');
INSERT INTO public.catalog SELECT id, 'b-item' FROM jsrt.tenants WHERE name = 'tr_b';
SELECT jsrt.set_tenant('tr_b');
SELECT jsrt.create_script('catalog', $js$
export default (ctx) => ctx.db.query('SELECT name FROM catalog ORDER BY name').map(r => r.name)
$js$, 'http', '{"status": "active", "http_path": "/catalog", "http_auth": "public", "http_methods": ["GET"]}') IS NOT NULL AS ok;
RESET jsrt.tenant;
\c - mallory
:evil
DO $$
DECLARE
    t pg_catalog.text;
BEGIN
    FOREACH t IN ARRAY ARRAY['text', 'uuid', 'jsonb', 'json', 'regclass', 'regrole', 'regnamespace', 'oid',
                             'int2', 'int4', 'int8', 'bool', 'numeric', 'float8', 'name', 'bytea', 'varchar',
                             'timestamptz', 'timestamp', 'interval', 'date'] LOOP
        EXECUTE format('CREATE DOMAIN pg_temp.%I AS pg_catalog.%I CHECK (pg_temp.evil(VALUE::pg_catalog.text))', t, t);
    END LOOP;
    FOREACH t IN ARRAY ARRAY['pg_class', 'pg_roles', 'pg_namespace', 'pg_proc', 'pg_type', 'pg_depend',
                             'pg_timezone_names', 'pg_database', 'pg_settings', 'pg_policy', 'pg_extension',
                             'pg_auth_members', 'pg_trigger', 'pg_index'] LOOP
        EXECUTE format('CREATE VIEW pg_temp.%I AS SELECT * FROM pg_catalog.%I WHERE pg_temp.evil(''x'')', t, t);
    END LOOP;
    CREATE VIEW pg_temp.pg_attribute AS SELECT attrelid, attname, atttypid, attnum, attisdropped
      FROM pg_catalog.pg_attribute WHERE pg_temp.evil('x');
    FOREACH t IN ARRAY ARRAY['scripts', 'tenants', 'tenant_members', 'script_executions', 'script_versions',
                             'api_keys', 'secrets', 'events', 'exposed_tables', 'cache', 'script_event_subscriptions',
                             'script_scheduled_jobs', 'script_event_dead_letters', 'script_http_endpoints'] LOOP
        EXECUTE format('CREATE VIEW pg_temp.%I AS SELECT * FROM jsrt.%I WHERE pg_temp.evil(''x'')', t, t);
    END LOOP;
END $$;
CREATE VIEW pg_temp.catalog AS SELECT NULL::uuid AS tenant_id, 'fake' AS name WHERE pg_temp.evil('x');
SELECT n, function, public.attempt(q) AS outcome FROM public.calls ORDER BY n;
\c - postgres
-- none of mallory's functions ran as anyone else
SELECT * FROM public.escalated;
SELECT count(*) AS m_versions_by_mallory FROM jsrt.script_versions v JOIN jsrt.scripts s ON s.id = v.script_id
 WHERE s.name = 'm_queued' AND v.created_by = 'mallory';

-- ---------------------------------------------------------------- rule 2: script SQL is the script's own

SELECT jsrt.set_tenant('tr_b');
SELECT jsrt.create_script('settings', $js$
export default (ctx) => ctx.db.one(`SELECT current_setting('search_path') AS path, current_setting('DateStyle') AS datestyle,
  current_setting('TimeZone') AS tz, '2024-02-29'::date::text AS d, current_setting('IntervalStyle') AS ivs,
  current_setting('app.mood', true) AS mood`)
$js$, 'http', '{"status": "active", "http_path": "/settings", "http_auth": "public"}') IS NOT NULL AS ok;
SELECT jsrt.create_script('temp_names', $js$
export default (ctx) => {
  const out = {};
  for (const [k, q] of Object.entries(ctx.input)) {
    try { out[k] = ctx.db.query(q); } catch (e) { out[k] = `${e.code}: ${e.message}`; }
  }
  return out;
}$js$, 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
RESET jsrt.tenant;
GRANT jsrt_admin TO mallory;
REVOKE jsrt_superadmin FROM mallory;
\c - mallory
CREATE FUNCTION pg_temp.steal() RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN
    IF current_user <> 'mallory' THEN PERFORM pg_catalog.nextval('public.escalations'); END IF;
    RETURN true;
END $$;
-- a view shadowing tenant tr_b's exposed table, and a name found nowhere else
CREATE TEMP VIEW catalog AS SELECT NULL::uuid AS tenant_id, 'fake' AS name WHERE pg_temp.steal();
CREATE TEMP TABLE only_here (x int);
PREPARE mine AS SELECT 42;
SET DateStyle = 'SQL, DMY';
SET TimeZone = 'Asia/Tokyo';
SET IntervalStyle = 'iso_8601';
SET search_path = pg_temp, public;
SET app.mood = 'sneaky';
SELECT (jsrt.http_dispatch('GET', '/t/tr_b/catalog', '{}', ''))->'body' AS catalog_as_b_sees_it;
SELECT jsonb_pretty((jsrt.http_dispatch('GET', '/t/tr_b/settings', '{}', ''))->'body') AS settings_b_sees;
\c - postgres
SELECT * FROM public.escalated;
-- A script of tr_b that names temporary objects outright is refused, in the
-- caller's session, whoever the caller is.
CREATE FUNCTION pg_temp.sneak() RETURNS int LANGUAGE sql AS 'SELECT 1';
CREATE TEMP TABLE only_here (x int);
CREATE TEMP VIEW temp_view AS SELECT 1 AS one;
PREPARE mine AS SELECT 42;
SELECT jsrt.set_tenant('tr_b');
SELECT jsonb_pretty(jsrt.execute('temp_names', $$
{"unqualified": "SELECT * FROM only_here",
 "qualified": "SELECT * FROM pg_temp.only_here",
 "view": "SELECT * FROM temp_view",
 "function": "SELECT pg_temp.sneak()",
 "prepared": "EXECUTE mine",
 "set path": "SELECT set_config('search_path', 'pg_temp', false) AS p",
 "path after": "SELECT current_setting('search_path') AS p"}
$$));
DISCARD TEMP;
DEALLOCATE mine;
-- A statement's setting changes end with it, also when its plan is cached
-- (the second time), when a function of the caller's sets it, and after a
-- plain SELECT (whose undo is skipped) runs in between.
CREATE FUNCTION public.set_mood() RETURNS text LANGUAGE plpgsql AS $$
BEGIN RETURN set_config('app.mood', 'set by a function', false); END $$;
SELECT jsrt.create_script('settings_twice', $js$
export default (ctx) => {
  const path = () => ctx.db.one("SELECT current_setting('search_path') AS p").p;
  const out = [];
  for (let i = 0; i < 2; i++) {
    ctx.db.query("SELECT set_config('search_path', 'pg_temp', false)");
    out.push(path());
    ctx.db.query("SELECT public.set_mood()");
    out.push(ctx.db.one("SELECT current_setting('app.mood', true) AS m").m);
  }
  return out;
}$js$, 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
SELECT jsrt.execute('settings_twice', '{}') AS settings_after_each_statement;
RESET jsrt.tenant;

-- ---------------------------------------------------------------- rule 3: refused when called

CREATE TABLE public.notes (tenant_id uuid, body text);
SELECT jsrt.expose_table('public.notes');
CREATE FUNCTION public.notify_note() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_notify('notes', NEW.body); RETURN NEW; END $$;
CREATE TRIGGER notes_notify AFTER INSERT ON public.notes FOR EACH ROW EXECUTE FUNCTION public.notify_note();
CREATE FUNCTION public.lock_it() RETURNS bigint LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_advisory_lock(4242); RETURN 1; END $$;
CREATE VIEW public.lock_view AS SELECT pg_advisory_lock(4343) IS NULL AS locked;
GRANT SELECT ON public.lock_view TO jsrt_script;
SELECT jsrt.set_tenant('tr_b');
SELECT key, value FROM jsonb_each_text(jsrt.execute('temp_names', $$
{"query_to_xml notify": "SELECT query_to_xml('select pg_notify(''c'', ''x'')', true, false, '')",
 "query_to_xml advisory": "SELECT query_to_xml('select pg_advisory_lock(41)', true, false, '')",
 "query_to_xml large object": "SELECT query_to_xml('select lo_from_bytea(0, ''x'')', true, false, '')",
 "query_to_xml dblink": "SELECT query_to_xml('select dblink_connect(''x'')', true, false, '')",
 "nested twice": "SELECT query_to_xml('select query_to_xml(''select pg_advisory_lock(40)'', true, false, '''')', true, false, '')",
 "ts_stat": "SELECT * FROM ts_stat('select to_tsvector(pg_advisory_lock(42)::text)')",
 "ts_rewrite": "SELECT ts_rewrite('a'::tsquery, 'select ''a''::tsquery, ''b''::tsquery from pg_advisory_lock(43)')",
 "view": "SELECT * FROM public.lock_view",
 "user function": "SELECT public.lock_it()",
 "trigger": "INSERT INTO notes(tenant_id, body) VALUES (jsrt.tenant_id(), 'hi')",
 "terminate": "SELECT pg_terminate_backend(pg_backend_pid())",
 "read file": "SELECT query_to_xml('select pg_read_file(''postgresql.conf'')', true, false, '')"}
$$)) ORDER BY key;
RESET jsrt.tenant;
SELECT count(*) AS advisory_locks FROM pg_locks WHERE locktype = 'advisory';
SELECT count(*) AS large_objects FROM pg_largeobject_metadata;
SELECT count(*) AS notes FROM public.notes;
-- outside scripts the same functions work as ever
SELECT pg_advisory_lock(1) IS NOT NULL AS outside_lock, pg_advisory_unlock(1) AS unlocked;

-- ---------------------------------------------------------------- rule 6: exposure is the DBA's

CREATE ROLE tr_admin;
GRANT jsrt_admin TO tr_admin;
SELECT jsrt.grant_tenant('tr_a', 'tr_admin');
CREATE TABLE public.admins_own (tenant_id uuid, x int);
ALTER TABLE public.admins_own OWNER TO tr_admin;
SET ROLE tr_admin;
SELECT jsrt.set_tenant('tr_a');
SELECT err($$SELECT jsrt.expose_table('public.admins_own')$$) AS expose;
SELECT err($$SELECT jsrt.unexpose_table('public.notes')$$) AS unexpose;
SELECT err($$INSERT INTO jsrt.exposed_tables(tbl, tenant_column) VALUES ('public.admins_own', 'tenant_id')$$) AS insert_row;
SELECT err($$DELETE FROM jsrt.exposed_tables$$) AS delete_rows;
SELECT count(*) > 0 AS admin_sees_the_list FROM jsrt.exposed_tables;
-- the rest of the low findings
SELECT err($$SELECT jsrt._invalidate_script_cache('pg_class'::regclass)$$) AS invalidate_any;
SELECT err($$SELECT jsrt._scripts_changed()$$) AS trigger_function;
-- another tenant's subscribers stay hidden
SELECT count(*) AS other_tenants_subscribers
  FROM jsrt._subscribers((SELECT id FROM jsrt.tenants WHERE name = 'tr_b'), 'm.ev', false);
-- authors and versions cannot be claimed by a direct write
SELECT err(format($$INSERT INTO jsrt.scripts(tenant_id, name, source, type, version, created_by, created_at)
                    VALUES (%L, 'forged', 'export default () => 1', 'oneoff', 99, 'postgres', '2000-01-01')$$, jsrt.tenant_id()));
SELECT name, version, created_by, created_at > now() - interval '1 hour' AS fresh
  FROM jsrt.scripts WHERE name = 'forged';
SELECT err($$UPDATE jsrt.scripts SET created_by = 'postgres', source = 'export default () => 2' WHERE name = 'forged'$$);
SELECT s.version, s.created_by, s.updated_by, v.version_number, v.created_by AS version_by
  FROM jsrt.scripts s JOIN jsrt.script_versions v ON v.script_id = s.id WHERE s.name = 'forged' ORDER BY v.version_number;
RESET ROLE;
RESET jsrt.tenant;

-- ---------------------------------------------------------------- only committed code, or the caller's own

SELECT jsrt.set_tenant('tr_b');
SELECT jsrt.create_script('flip', 'export default () => "v1"', 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
SELECT jsrt.execute('flip') AS committed;
BEGIN;
SELECT jsrt.update_script('flip', 'export default () => "A, rolled back"') AS version;
SELECT jsrt.execute('flip') AS own_uncommitted;
ROLLBACK;
SELECT jsrt.update_script('flip', 'export default () => "B"') AS same_version_number;
SELECT jsrt.execute('flip') AS after_rollback;
BEGIN;
SAVEPOINT s;
SELECT jsrt.update_script('flip', 'export default () => "C, rolled back to the savepoint"') AS version;
SELECT jsrt.execute('flip') AS own_uncommitted;
ROLLBACK TO SAVEPOINT s;
SELECT jsrt.execute('flip') AS after_savepoint;
SELECT jsrt.update_script('flip', 'export default () => "D"') AS version;
SELECT jsrt.execute('flip') AS own_uncommitted;
COMMIT;
SELECT jsrt.execute('flip') AS committed;
-- the same through an endpoint (the HTTP path shares the caches)
SELECT jsrt.create_script('flip_http', 'export default () => "v1"', 'http',
       '{"status": "active", "http_path": "/flip", "http_auth": "public"}') IS NOT NULL AS ok;
SELECT (jsrt.http_dispatch('GET', '/t/tr_b/flip', '{}', ''))->>'body' AS served;
BEGIN;
SELECT jsrt.update_script('flip_http', 'export default () => "A, rolled back"') AS version;
SELECT (jsrt.http_dispatch('GET', '/t/tr_b/flip', '{}', ''))->>'body' AS own_uncommitted;
ROLLBACK;
SELECT jsrt.update_script('flip_http', 'export default () => "B"') AS same_version_number;
SELECT (jsrt.http_dispatch('GET', '/t/tr_b/flip', '{}', ''))->>'body' AS after_rollback;

-- ---------------------------------------------------------------- a run that fails leaves no writes

CREATE TABLE public.ledger (tenant_id uuid, note text);
SELECT jsrt.expose_table('public.ledger');
SELECT jsrt.create_script('ledger_fail', $js$
export default (ctx) => { ctx.db.insert('ledger', {note: ctx.execution.trigger + ' fail'}); throw new Error('after the write'); }
$js$, 'http', '{"status": "active", "http_path": "/ledger/fail", "http_auth": "public"}') IS NOT NULL AS ok;
SELECT jsrt.create_script('ledger_spin', $js$
export default (ctx) => { ctx.db.insert('ledger', {note: ctx.execution.trigger + ' spin'}); for (;;) {} }
$js$, 'http', '{"status": "active", "http_path": "/ledger/spin", "http_auth": "public",
                "resource_limits": {"max_execution_time_ms": 200}}') IS NOT NULL AS ok;
SELECT jsrt.create_script('ledger_ok', $js$
export default (ctx) => { ctx.db.insert('ledger', {note: ctx.execution.trigger + ' ok'}); return 'ok'; }
$js$, 'http', '{"status": "active", "http_path": "/ledger/ok", "http_auth": "public"}') IS NOT NULL AS ok;
SELECT jsrt.create_script('ledger_event', $js$
export default (ctx) => { ctx.db.insert('ledger', {note: 'event fail'}); throw new Error('after the write'); }
$js$, 'event', '{"status": "active", "event_types": ["ledger.fail"]}') IS NOT NULL AS ok;
-- http_dispatch (in this session) and a queued run and an event run (the executors)
SELECT (jsrt.http_dispatch('POST', '/t/tr_b/ledger/fail', '{}', ''))->'status' AS failed,
       (jsrt.http_dispatch('POST', '/t/tr_b/ledger/spin', '{}', ''))->'status' AS timed_out,
       (jsrt.http_dispatch('POST', '/t/tr_b/ledger/ok', '{}', ''))->'status' AS completed;
SELECT jsrt.execute_async('ledger_fail') AS queued_id \gset
SELECT jsrt.wait(:'queued_id', 20000)->>'status' AS queued;
SELECT jsrt.emit('ledger.fail', '{}') IS NOT NULL AS emitted;
SELECT jsrt.wait(e.id, 20000)->>'status' AS event_run
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id WHERE s.name = 'ledger_event' AND e.attempt = 1;
-- a synchronous run's writes are its caller's: they go with the caller's savepoint
DO $$
BEGIN
    PERFORM jsrt.execute('ledger_fail');
EXCEPTION WHEN OTHERS THEN
    RAISE NOTICE 'caught: %', sqlerrm;
END $$;
SELECT note FROM public.ledger ORDER BY note;
SELECT jsrt.flush_history(10000);
SELECT s.name, e.trigger_type, e.status FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE s.name LIKE 'ledger%' AND e.attempt = 1 ORDER BY 1, 2, 3;
RESET jsrt.tenant;
SELECT jsrt.set_status('ledger_event', 'paused') FROM (SELECT jsrt.set_tenant('tr_b')) t;
RESET jsrt.tenant;

-- ---------------------------------------------------------------- bounds

-- The failure of a script created in a transaction that rolls back is not
-- waited for: flush_history comes back at once (it used to wait 60 s).
SELECT jsrt.set_tenant('tr_b');
BEGIN;
SELECT jsrt.create_script('ghost', 'export default () => { throw new Error("boo") }', 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('ghost')$$);
ROLLBACK;
SELECT jsrt.flush_history(5000) AS flushed;
RESET jsrt.tenant;
-- Resident JS memory per backend has a budget: past it, the least recently
-- used runtimes go, then the scripts of the one that ran (module state shows it).
SET jsrt.max_resident_bytes = 8388608;
SELECT jsrt.set_tenant('tr_a');
SELECT jsrt.create_script('counter', 'let n = 0; export default () => ++n', 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
SELECT jsrt.execute('counter') AS first, jsrt.execute('counter') AS kept;
SELECT jsrt.set_tenant('tr_b');
SELECT jsrt.create_script('hoard', 'const kept = []; export default () => { kept.push("x".repeat(3e6) + Math.random()); return kept.length }',
                          'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
SELECT jsrt.execute('hoard') AS first, jsrt.execute('hoard') AS kept, jsrt.execute('hoard') AS over_budget;
SELECT jsrt.execute('hoard') AS unloaded;
SELECT jsrt.set_tenant('tr_a');
SELECT jsrt.execute('counter') AS runtime_dropped;
RESET jsrt.max_resident_bytes;
RESET jsrt.tenant;

-- ---------------------------------------------------------------- secrets in other forms

-- Whoever can run code can read the secrets that code can use (README); what
-- a run leaves behind is redacted in the forms code makes of a secret.
SELECT jsrt.set_tenant('tr_b');
SELECT jsrt.set_secret('api_token', 'sk_live_AbC123xyz');
SELECT jsrt.create_script('leak', $js$
export default (ctx) => {
  const s = ctx.secrets.get('api_token');
  const hex = Array.from(new TextEncoder().encode(s), b => b.toString(16).padStart(2, '0')).join('');
  const forms = {plain: s, lower: s.toLowerCase(), upper: s.toUpperCase(), base64: btoa(s),
                 base64url: btoa(s).replace(/\+/g, '-').replace(/\//g, '_').replace(/=+$/, ''),
                 hex, hexUpper: hex.toUpperCase(), percent: encodeURIComponent(s + '/?'),
                 basicAuth: 'Basic ' + btoa('user:' + s), other: 'nothing secret'};
  ctx.log.info(JSON.stringify(forms));
  return forms;
}$js$, 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
SELECT key, value FROM jsonb_each_text(jsrt.execute('leak')) ORDER BY key;
SELECT count(*) AS history_rows_holding_it FROM jsrt.script_executions
 WHERE (output::text || logs::text) ~* 'sk_live_AbC123xyz|c2tfbGl2ZV9BYkMxMjN4eXo|736b5f6c6976655f' ;
RESET jsrt.tenant;

-- ---------------------------------------------------------------- found by a review after the fixes

-- A role that may create in public plants an overload that tenant tr_b's
-- script would resolve; utility statements hide in functions and rules.
CREATE ROLE planter;
GRANT CREATE ON SCHEMA public TO planter;
CREATE TABLE public.loot (data text);
GRANT INSERT ON public.loot TO jsrt_script;
SET ROLE planter;
CREATE FUNCTION public.jsonb_build_object(k text, v text) RETURNS jsonb LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.loot SELECT string_agg(name, ',') FROM public.catalog; RETURN pg_catalog.jsonb_build_object(k, v); END $$;
RESET ROLE;
CREATE FUNCTION public.notify_in_function() RETURNS int LANGUAGE plpgsql AS $$ BEGIN NOTIFY somewhere, 'x'; RETURN 1; END $$;
CREATE FUNCTION public.notify_in_sql_function() RETURNS int LANGUAGE sql AS $$ NOTIFY somewhere, 'y'; SELECT 1 $$;
CREATE FUNCTION public.lock_in_function() RETURNS int LANGUAGE plpgsql AS $$ BEGIN LOCK TABLE public.catalog IN ACCESS EXCLUSIVE MODE; RETURN 1; END $$;
CREATE FUNCTION public.set_in_function() RETURNS text LANGUAGE plpgsql AS $$ BEGIN SET LOCAL work_mem = '8MB'; RETURN current_setting('work_mem'); END $$;
CREATE VIEW public.ruled AS SELECT 1 AS x;
GRANT INSERT ON public.ruled TO jsrt_script;
CREATE RULE ruled_insert AS ON INSERT TO public.ruled DO INSTEAD INSERT INTO public.loot VALUES ('by rule');
SELECT jsrt.set_tenant('tr_b');
SELECT key, value FROM jsonb_each_text(jsrt.execute('temp_names', $$
{"planted overload": "SELECT jsonb_build_object('name', name) AS j FROM catalog",
 "NOTIFY in a function": "SELECT public.notify_in_function()",
 "NOTIFY in a SQL function": "SELECT public.notify_in_sql_function()",
 "LOCK in a function": "SELECT public.lock_in_function()",
 "SET in a function": "SELECT public.set_in_function()",
 "insert through a rule": "INSERT INTO public.ruled VALUES (1)"}
$$)) ORDER BY key;
-- the same cached statement, after the rule has changed to a NOTIFY
CREATE OR REPLACE RULE ruled_insert AS ON INSERT TO public.ruled DO INSTEAD NOTIFY somewhere, 'by rule';
SELECT jsrt.execute('temp_names', $${"rule changed": "INSERT INTO public.ruled VALUES (1)"}$$) AS rule_changed;
SELECT data FROM public.loot ORDER BY data;
-- the caller's abbreviations do not change what the script's SQL reads
SET timezone_abbreviations = 'India';
SELECT jsrt.execute('temp_names', $${"abbrev": "SELECT '2020-01-01 10:00 IST'::timestamptz::text AS t"}$$) AS ist_read_by_script;
RESET timezone_abbreviations;
RESET jsrt.tenant;

-- Found by review: a planted SQL function simple enough for the planner to inline would never be
-- called, so never checked where calls are. In script SQL it is not inlined, and is refused as it
-- is called, in a SELECT of expressions alone as elsewhere. (Inlined, its setval carried what
-- tr_b's script passed it out of the run, past the rollback.)
SET ROLE planter;
CREATE SEQUENCE public.leak;
GRANT USAGE, UPDATE ON SEQUENCE public.leak TO jsrt_script;
CREATE FUNCTION public.jsonb_build_object(k text, v int) RETURNS jsonb LANGUAGE sql AS
  $$ SELECT pg_catalog.jsonb_build_object(k, pg_catalog.setval('public.leak', v + 1000)) $$;
RESET ROLE;
SELECT jsrt.set_tenant('tr_b');
SELECT key, value FROM jsonb_each_text(jsrt.execute('temp_names', $$
{"inlinable planted overload": "SELECT jsonb_build_object('n', 7) AS j",
 "inlinable planted overload, FROM": "SELECT jsonb_build_object('n', length(name)) AS j FROM catalog"}
$$)) ORDER BY key;
SELECT last_value, is_called FROM public.leak;
-- outside script SQL it runs as before
SELECT public.jsonb_build_object('n', 1) AS outside_scripts;
RESET jsrt.tenant;
-- Found by review: a PL/pgSQL function's plan cached outside script SQL, by a session with the
-- scripts' search_path, kept the planted overload inlined and ran it in a script's SQL unchecked.
-- A planted SQL function is inlined nowhere, so the plan calls it, and script SQL refuses the call.
CREATE FUNCTION public.wrapped(n int) RETURNS jsonb LANGUAGE plpgsql AS $$ BEGIN RETURN jsonb_build_object('n', n); END $$;
SET search_path = pg_catalog, public, pg_temp;
SELECT public.wrapped(1) AS cached_outside_scripts;
SELECT jsrt.set_tenant('tr_b');
SELECT jsrt.execute('temp_names', $${"planted overload in a cached plan": "SELECT public.wrapped(7) AS j"}$$) AS cached_plan;
RESET jsrt.tenant;
RESET search_path;
SELECT last_value, is_called FROM public.leak;
DROP FUNCTION public.wrapped(int);
-- The same for a planted PL/pgSQL function in a simple expression, whose state PL/pgSQL keeps
-- for the transaction: every call of a planted function is seen as it starts.
SET ROLE planter;
CREATE FUNCTION public.stash(n int) RETURNS int LANGUAGE plpgsql AS $$
BEGIN PERFORM pg_catalog.setval('public.leak', n + 2000); RETURN n; END $$;
RESET ROLE;
CREATE FUNCTION public.calls_stash(n int) RETURNS int LANGUAGE plpgsql AS $$ BEGIN RETURN public.stash(n); END $$;
BEGIN;
SET LOCAL search_path = pg_catalog, public, pg_temp;
SELECT public.calls_stash(1) AS called_outside_scripts;
SELECT jsrt.set_tenant('tr_b');
SELECT jsrt.execute('temp_names', $${"planted function in a kept simple expression": "SELECT public.calls_stash(7) AS n"}$$) AS kept_expression;
RESET jsrt.tenant;
COMMIT;
SELECT last_value FROM public.leak;
DROP FUNCTION public.calls_stash(int);
DROP FUNCTION public.stash(int);
DROP FUNCTION public.jsonb_build_object(text, int);
DROP SEQUENCE public.leak;

-- Found by review: a trigger function planted by such a role, which a table's owner attached,
-- ran unchecked in script SQL: Postgres checks no right to call a trigger's function as it fires.
-- It is refused as it starts, as any planted function is; outside script SQL it runs as before.
SET ROLE planter;
CREATE FUNCTION public.copy_names() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN INSERT INTO public.loot SELECT 'trigger saw ' || string_agg(name, ',') FROM public.catalog; RETURN NEW; END $$;
RESET ROLE;
CREATE TABLE public.inbox (tenant_id uuid, body text);
SELECT jsrt.expose_table('public.inbox');
CREATE TRIGGER inbox_copy BEFORE INSERT ON public.inbox FOR EACH ROW EXECUTE FUNCTION public.copy_names();
SELECT jsrt.set_tenant('tr_b');
SELECT jsrt.execute('temp_names', $${"planted trigger function": "INSERT INTO inbox (tenant_id, body) VALUES (jsrt.tenant_id(), 'hi')"}$$) AS planted_trigger;
RESET jsrt.tenant;
SELECT (SELECT count(*) FROM public.inbox) AS inbox_rows, (SELECT count(*) FROM public.loot WHERE data LIKE 'trigger saw%') AS copied;
INSERT INTO public.inbox VALUES (NULL, 'by its owner');
SELECT count(*) AS copied_outside_scripts FROM public.loot WHERE data LIKE 'trigger saw%';
DROP TABLE public.inbox;
DROP FUNCTION public.copy_names();

-- The script role is looked up once, and again after any role changes: made a
-- BYPASSRLS role (which would see every tenant's rows), its scripts run no SQL
-- at all from the next statement on, in this session as in others.
SELECT jsrt.set_tenant('tr_b');
SELECT jsrt.create_script('role_check', 'export default (ctx) => ctx.db.one("SELECT count(*)::int AS n FROM catalog").n') IS NOT NULL AS ok;
SELECT jsrt.execute('role_check') AS before;
ALTER ROLE jsrt_script BYPASSRLS;
SELECT err($$SELECT jsrt.execute('role_check')$$) AS bypassrls;
ALTER ROLE jsrt_script NOBYPASSRLS;
SELECT jsrt.execute('role_check') AS after;
RESET jsrt.tenant;
