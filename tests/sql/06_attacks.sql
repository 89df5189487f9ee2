-- Attacks from a script of tenant shop_a. Each must fail with its own error,
-- or find nothing of tenant shop_b; afterwards nothing of the attempts is left.
CREATE EXTENSION IF NOT EXISTS dblink;
CREATE FUNCTION public.peek() RETURNS bigint LANGUAGE sql SECURITY DEFINER AS 'SELECT count(*) FROM jsrt.scripts';
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.create_script('probe', $js$
export default function (ctx) {
  try {
    const rows = ctx.db.query(ctx.input.q);
    return 'rows: ' + JSON.stringify(rows);
  } catch (e) {
    return `${e.code}: ${e.message}`;
  }
}$js$, 'oneoff', '{"status": "active", "resource_limits": {"max_api_calls_per_minute": 100000}}') IS NOT NULL AS ok;
CREATE TABLE attacks (n serial, attack text, q text);
INSERT INTO attacks(attack, q) VALUES
 ('set the tenant setting', $$SELECT set_config('jsrt.tenant', (SELECT id::text FROM jsrt.scripts LIMIT 1), false)$$),
 ('set the role setting', $$SELECT set_config('role', 'postgres', false)$$),
 ('SET ROLE', 'SET ROLE postgres'),
 ('RESET ROLE', 'RESET ROLE'),
 ('SET SESSION AUTHORIZATION', 'SET SESSION AUTHORIZATION postgres'),
 ('session_authorization by set_config', $$SELECT set_config('session_authorization', 'postgres', false)$$),
 ('call jsrt.set_tenant', $$SELECT jsrt.set_tenant('shop_b')$$),
 ('read other tenant''s scripts', $$SELECT count(*) FROM jsrt.scripts WHERE name = 'seed_b'$$),
 ('read other tenant''s executions', $$SELECT count(*) FROM jsrt.script_executions e WHERE e.tenant_id <> jsrt.tenant_id()$$),
 ('read other tenant''s versions', $$SELECT count(*) FROM jsrt.script_versions v WHERE v.tenant_id <> jsrt.tenant_id()$$),
 ('read other tenant''s exposed rows', $$SELECT count(*) FROM items WHERE name = 'b-secret'$$),
 ('read the tenants table', 'SELECT name FROM jsrt.tenants'),
 ('read tenant members', 'SELECT * FROM jsrt.tenant_members'),
 ('change other tenant''s rows', $$WITH u AS (UPDATE items SET qty = 0 WHERE name = 'b-secret' RETURNING 1) SELECT count(*) FROM u$$),
 ('insert into other tenant', $$INSERT INTO items(tenant_id, name) SELECT id, 'planted' FROM (VALUES ('00000000-0000-0000-0000-000000000000'::uuid)) v(id)$$),
 ('move own row to another tenant', $$UPDATE items SET tenant_id = '00000000-0000-0000-0000-000000000000' WHERE name = 'kept'$$),
 ('delete jsrt scripts', $$WITH d AS (DELETE FROM jsrt.scripts RETURNING 1) SELECT count(*) FROM d$$),
 ('SECURITY DEFINER function', 'SELECT public.peek()'),
 ('DO block', 'DO $x$ BEGIN PERFORM 1; END $x$'),
 ('CREATE FUNCTION', $$CREATE FUNCTION public.mine() RETURNS int LANGUAGE sql AS 'SELECT 1'$$),
 ('COPY TO PROGRAM', $$COPY (SELECT 1) TO PROGRAM 'id'$$),
 ('COPY FROM PROGRAM', $$COPY items FROM PROGRAM 'id'$$),
 ('pg_read_file', $$SELECT pg_read_file('/etc/passwd')$$),
 ('pg_ls_dir', $$SELECT pg_ls_dir('.')$$),
 ('lo_import', $$SELECT lo_import('/etc/passwd')$$),
 ('lo_from_bytea', $$SELECT lo_from_bytea(0, 'x')$$),
 ('dblink', $$SELECT * FROM dblink('dbname=postgres', 'SELECT 1') AS t(x int)$$),
 ('disable row-level security', 'ALTER TABLE items DISABLE ROW LEVEL SECURITY'),
 ('drop a policy', 'DROP POLICY jsrt_script_tenant ON items'),
 ('create a policy', 'CREATE POLICY open ON items USING (true)'),
 ('read pg_authid', 'SELECT rolname FROM pg_authid'),
 ('temporary table', 'CREATE TEMP TABLE stash (x int)'),
 ('SELECT INTO a table', 'SELECT 1 AS x INTO TEMP stash2'),
 ('PREPARE', 'PREPARE leftover AS SELECT 1'),
 ('LISTEN', 'LISTEN jsrt_channel'),
 ('NOTIFY', 'NOTIFY jsrt_channel'),
 ('pg_notify', $$SELECT pg_notify('jsrt_channel', 'hi')$$),
 ('session advisory lock', 'SELECT pg_advisory_lock(42)'),
 ('advisory lock exhaustion', 'SELECT count(pg_advisory_xact_lock(g)) FROM generate_series(1, 1000000) g'),
 ('try advisory lock', 'SELECT pg_try_advisory_lock_shared(1)'),
 ('terminate a backend', 'SELECT pg_terminate_backend(pg_backend_pid())'),
 ('two statements', 'SELECT 1; DELETE FROM items'),
 ('hijack search_path', $$SELECT set_config('search_path', 'evil', false), current_setting('search_path')$$),
 ('tenant after all that', 'SELECT jsrt.tenant_id() = t.id AS still_shop_a FROM (SELECT DISTINCT tenant_id AS id FROM jsrt.scripts) t');
SELECT n, attack, jsrt.execute('probe', jsonb_build_object('q', q)) #>> '{}' AS result FROM attacks ORDER BY n;

-- Nothing was planted, changed or left behind.
SELECT count(*) FILTER (WHERE name = 'planted') AS planted,
       (SELECT qty FROM items WHERE name = 'b-secret') AS b_secret_qty,
       count(DISTINCT tenant_id) AS tenants_in_items
  FROM items;
SELECT (SELECT count(*) FROM pg_prepared_statements) AS prepared,
       (SELECT count(*) FROM pg_class WHERE relpersistence = 't') AS temp_tables,
       (SELECT count(*) FROM pg_locks WHERE locktype = 'advisory') AS advisory_locks,
       (SELECT count(*) FROM pg_listening_channels()) AS listening,
       (SELECT count(*) FROM pg_proc WHERE proname = 'mine') AS functions_made,
       (SELECT count(*) FROM pg_largeobject_metadata) AS large_objects,
       current_setting('search_path') AS search_path;

-- A superuser sees every tenant, but a tenant's script it calls sees only that tenant.
SELECT count(DISTINCT tenant_id) > 1 AS superuser_sees_tenants FROM jsrt.scripts;
SELECT jsrt.execute('probe', '{"q": "SELECT count(DISTINCT tenant_id) AS tenants, current_user AS role FROM jsrt.scripts"}') #>> '{}' AS script_sees;
SELECT jsrt.execute('probe', '{"q": "SELECT count(*) AS items FROM items WHERE tenant_id <> jsrt.tenant_id()"}') #>> '{}' AS script_sees_other_items;
