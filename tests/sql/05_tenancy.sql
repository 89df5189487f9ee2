-- Tenancy and roles: who may use which tenant, forced row-level security
-- on every jsrt table, and the role matrix (each role against each function).
RESET jsrt.tenant;
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['r_viewer', 'r_dev', 'r_admin', 'r_super', 'r_none'] LOOP
        IF EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('DROP OWNED BY %I', r);
            EXECUTE format('DROP ROLE %I', r);
        END IF;
        EXECUTE format('CREATE ROLE %I', r);
    END LOOP;
END $$;
GRANT jsrt_viewer TO r_viewer;
GRANT jsrt_developer TO r_dev;
GRANT jsrt_admin TO r_admin;
GRANT jsrt_superadmin TO r_super;
GRANT USAGE, CREATE ON SCHEMA public TO r_admin;
SELECT jsrt.grant_tenant('shop_a', r) FROM unnest(ARRAY['r_viewer', 'r_dev', 'r_admin']::regrole[]) r;

-- Runs q as role r, after setting tenant t when given; the first column of
-- its result, or the error.
CREATE FUNCTION public.as_role(r text, t text, q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE
    res text;
BEGIN
    EXECUTE format('SET ROLE %I', r);
    IF t IS NOT NULL THEN
        PERFORM jsrt.set_tenant(t);
    END IF;
    EXECUTE q INTO res;
    RESET ROLE;
    RESET jsrt.tenant;
    RETURN coalesce(nullif(res, ''), 'ok');
EXCEPTION WHEN OTHERS THEN
    RESET ROLE;
    RESET jsrt.tenant;
    RETURN sqlstate || ': ' || sqlerrm;
END $$;

-- The role matrix. %1$s is the role, so each role works on a script of its own.
CREATE TABLE matrix_calls (n int, call text, q text);
INSERT INTO matrix_calls VALUES
 (1, 'list_scripts', $$SELECT count(*) >= 0 FROM jsrt.list_scripts()$$),
 (2, 'read history', $$SELECT count(*) >= 0 FROM jsrt.script_executions$$),
 (3, 'create_script', $$SELECT jsrt.create_script('m_%1$s', 'export default () => 1') IS NOT NULL$$),
 (4, 'update_script', $$SELECT jsrt.update_script('m_%1$s', 'export default () => 2')$$),
 (5, 'set_status', $$SELECT jsrt.set_status('m_%1$s', 'active')$$),
 (6, 'rollback_script', $$SELECT jsrt.rollback_script('m_%1$s', 1)$$),
 (7, 'execute', $$SELECT jsrt.execute('m_%1$s')$$),
 (7, 'execute, input from jsonb_build_object', $$SELECT jsrt.execute('m_%1$s', jsonb_build_object('n', 1))$$),
 (8, 'delete_script', $$SELECT jsrt.delete_script('m_%1$s')$$),
 (9, 'expose_table', $$SELECT jsrt.expose_table('items_%1$s')$$),
 (10, 'create_tenant', $$SELECT jsrt.create_tenant('t_%1$s') IS NOT NULL$$),
 (11, 'grant_tenant', $$SELECT jsrt.grant_tenant('shop_b', 'r_none')$$),
 (12, 'set_tenant shop_b', $$SELECT jsrt.set_tenant('shop_b')$$),
 (13, 'SET jsrt.tenant', $$SELECT set_config('jsrt.tenant', (SELECT id::text FROM jsrt.tenants WHERE name = 'shop_b'), false)$$),
 (14, 'delete rows directly', $$WITH d AS (DELETE FROM jsrt.scripts WHERE name = 'no such script' RETURNING 1) SELECT count(*) FROM d$$);
-- each role's own table, for expose_table
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['r_viewer', 'r_dev', 'r_admin', 'r_super', 'r_none'] LOOP
        EXECUTE format('CREATE TABLE public.%I (id int, tenant_id uuid)', 'items_' || r);
        EXECUTE format('ALTER TABLE public.%I OWNER TO %I', 'items_' || r, r);
    END LOOP;
END $$;
\pset format unaligned
\pset fieldsep ' | '
SELECT call,
       'viewer: ' || as_role('r_viewer', 'shop_a', format(q, 'r_viewer')) AS viewer,
       'developer: ' || as_role('r_dev', 'shop_a', format(q, 'r_dev')) AS developer,
       'admin: ' || as_role('r_admin', 'shop_a', format(q, 'r_admin')) AS admin,
       'superadmin: ' || as_role('r_super', 'shop_a', format(q, 'r_super')) AS superadmin,
       'no jsrt role: ' || as_role('r_none', NULL, format(q, 'r_none')) AS none
  FROM matrix_calls ORDER BY n, call;
\pset format aligned

-- Row-level security: no tenant, no rows; a tenant, its rows only; superadmin, all.
SELECT as_role('r_dev', NULL, 'SELECT count(*) FROM jsrt.scripts') AS dev_without_tenant,
       as_role('r_dev', 'shop_a', $$SELECT count(*) = count(*) FILTER (WHERE tenant_id = jsrt.current_tenant()) FROM jsrt.scripts$$) AS dev_sees_own_only,
       as_role('r_dev', 'shop_a', $$SELECT count(*) FROM jsrt.script_versions v JOIN jsrt.scripts s ON s.id = v.script_id WHERE s.tenant_id <> jsrt.current_tenant()$$) AS dev_other_versions,
       as_role('r_super', NULL, 'SELECT count(DISTINCT tenant_id) > 1 FROM jsrt.scripts') AS super_sees_all;
-- writing another tenant's rows is refused by the policy's check
SELECT as_role('r_dev', 'shop_a', format($$INSERT INTO jsrt.scripts(tenant_id, name, source, type) VALUES (%L, 'sneak', 'export default () => 1', 'oneoff')$$,
                                          (SELECT id FROM jsrt.tenants WHERE name = 'shop_b'))) AS dev_insert_other;
-- another tenant's rows are not there to change
SELECT as_role('r_dev', 'shop_a', $$WITH u AS (UPDATE jsrt.scripts SET description = 'x' WHERE name = 'seed_b' RETURNING 1) SELECT count(*) FROM u$$) AS dev_update_other,
       (SELECT description IS NULL FROM jsrt.scripts WHERE name = 'seed_b') AS unchanged;
-- a revoked grant ends the role's use of the tenant
SELECT jsrt.revoke_tenant('shop_a', 'r_viewer');
SELECT as_role('r_viewer', 'shop_a', 'SELECT 1') AS viewer_after_revoke;
-- set_tenant for the transaction only, for connection poolers
BEGIN;
SELECT jsrt.set_tenant('shop_b', local => true);
SELECT name FROM jsrt.tenants WHERE id = jsrt.current_tenant();
COMMIT;
SELECT jsrt.tenant_id() IS NULL AS unset_after_commit;
SELECT err($$SELECT jsrt.set_tenant('no such tenant')$$);

-- expose_table: checks, and other roles see the table as before.
SELECT jsrt.set_tenant('shop_a');
CREATE TABLE public.gadgets (id int, owner text, label text);
INSERT INTO gadgets VALUES (1, 'x', 'plain');
GRANT SELECT ON gadgets TO r_dev;
SELECT err($$SELECT jsrt.expose_table('gadgets')$$);
SELECT err($$SELECT jsrt.expose_table('gadgets', 'id')$$);
SELECT err($$SELECT jsrt.expose_table('jsrt.scripts')$$);
SELECT err($$SELECT jsrt.expose_table('items')$$);
SELECT err($$SELECT jsrt.unexpose_table('gadgets')$$);
SELECT jsrt.expose_table('gadgets', 'owner');
SELECT relrowsecurity FROM pg_class WHERE oid = 'gadgets'::regclass;
SELECT as_role('r_dev', NULL, 'SELECT count(*) FROM gadgets') AS app_role_still_sees;
SELECT jsrt.unexpose_table('gadgets');
SELECT relrowsecurity, (SELECT count(*) FROM pg_policy WHERE polrelid = 'gadgets'::regclass) AS policies,
       has_table_privilege('jsrt_script', 'gadgets', 'SELECT') AS script_role_can_read
  FROM pg_class WHERE oid = 'gadgets'::regclass;
