-- Tenancy and roles: who may use which tenant, forced row-level security
-- on every jsrt table, and the role matrix (each role against each function).
RESET jsrt.tenant;
DO $$
DECLARE r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['r_viewer', 'r_dev', 'r_admin', 'r_super', 'r_none', 'r_exec_only'] LOOP
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

-- Finding a script reads its row through the indexes (catalog/lookup.rs) only when
-- the caller provably sees it as the query would; otherwise the query answers, with
-- whatever rights and policies there are. forget() drops this backend's cached scripts
-- (every write to jsrt.scripts does), so that each call below looks the script up.
CREATE FUNCTION pg_temp.forget() RETURNS void LANGUAGE sql AS $$ UPDATE jsrt.scripts SET name = name WHERE false $$;
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.create_script('lookup_me', 'export default () => "found"', 'oneoff', '{"status": "active"}') IS NOT NULL AS created;
-- a role that may call jsrt.execute but not read jsrt.scripts: refused, as by the query
GRANT USAGE ON SCHEMA jsrt TO r_exec_only;
GRANT EXECUTE ON FUNCTION jsrt.execute(text, jsonb), jsrt._execute(text, text) TO r_exec_only;
SELECT pg_temp.forget();
SELECT set_config('jsrt.tenant', (SELECT id::text FROM jsrt.tenants WHERE name = 'shop_a'), false) IS NOT NULL AS tenant_set;
SELECT as_role('r_exec_only', NULL, $$SELECT jsrt.execute('lookup_me')$$) AS exec_only_role;
-- ... also once another role found it (what a lookup found is kept per role)
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.execute('lookup_me') AS superuser_found_it;
SELECT as_role('r_exec_only', NULL, $$SELECT jsrt.execute('lookup_me')$$) AS exec_only_role_after;
-- with SELECT but not EXECUTE on jsrt.tenant_id(), which the policy calls: refused, as by the query
GRANT SELECT ON jsrt.scripts, jsrt.tenants TO r_exec_only;
SELECT pg_temp.forget();
SELECT jsrt.set_tenant('shop_a');
SELECT as_role('r_exec_only', NULL, $$SELECT jsrt.execute('lookup_me')$$) AS exec_only_role_with_select;
REVOKE SELECT ON jsrt.scripts, jsrt.tenants FROM r_exec_only;
-- a restrictive policy a DBA adds hides the script from those it applies to
CREATE POLICY hide_lookup_me ON jsrt.scripts AS RESTRICTIVE USING (name <> 'lookup_me');
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.execute('lookup_me')$$) AS dev_restricted;
SELECT pg_temp.forget();
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.execute('lookup_me') AS superuser_bypasses_rls;
DROP POLICY hide_lookup_me ON jsrt.scripts;
-- so does a condition added to the extension's own policy, on scripts or on tenants
ALTER POLICY tenant_isolation ON jsrt.scripts USING (tenant_id = jsrt.tenant_id() AND name <> 'lookup_me');
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.execute('lookup_me')$$) AS dev_policy_changed;
ALTER POLICY tenant_isolation ON jsrt.scripts USING (tenant_id = jsrt.tenant_id());
ALTER POLICY tenant_isolation ON jsrt.tenants USING (id = jsrt.tenant_id() AND name <> 'shop_a');
SELECT regexp_replace(as_role('r_dev', 'shop_a', $$SELECT jsrt.execute('lookup_me')$$), '"[0-9a-f-]{36}"', '<id>') AS dev_tenants_policy_changed;
ALTER POLICY tenant_isolation ON jsrt.tenants USING (id = jsrt.tenant_id());
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.execute('lookup_me')$$) AS dev_policy_restored;
-- row_security off: the query would be filtered, so it fails instead
SELECT pg_temp.forget();
SELECT as_role('r_dev', 'shop_a', $$SELECT set_config('row_security', 'off', true) || jsrt.execute('lookup_me')$$) AS dev_row_security_off;
-- a script made earlier in the same statement is found
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.create_script('made_now', 'export default () => "new"', 'oneoff', '{"status": "active"}') IS NOT NULL
                                          AND jsrt.execute('made_now') = '"new"'$$) AS dev_same_statement;
-- a key that is one script's id and another's name finds the script with that id,
-- in either case, for a superuser (no row-level security) and through the policies
SELECT jsrt.set_tenant('shop_a');
INSERT INTO jsrt.scripts (id, tenant_id, name, source, type, status)
VALUES ('a1b2c3d4-0000-4000-8000-000000000001', jsrt.tenant_id(), 'by_id_target', 'export default () => "by id"', 'oneoff', 'active');
SELECT jsrt.create_script('a1b2c3d4-0000-4000-8000-000000000001', 'export default () => "by name"', 'oneoff', '{"status": "active"}') IS NOT NULL AS named_as_id;
SELECT pg_temp.forget();
SELECT jsrt.execute('a1b2c3d4-0000-4000-8000-000000000001') AS superuser_by_id;
SELECT pg_temp.forget();
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.execute('a1b2c3d4-0000-4000-8000-000000000001')$$) AS dev_by_id,
       as_role('r_dev', 'shop_a', $$SELECT jsrt.execute('A1B2C3D4-0000-4000-8000-000000000001')$$) AS dev_by_id_upper_case;
SELECT pg_temp.forget();
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.execute('A1B2C3D4-0000-4000-8000-000000000001') AS superuser_by_id_upper_case;
-- the query finds the same (a restrictive policy hiding nothing sends the lookup to it)
CREATE POLICY hide_nothing ON jsrt.scripts AS RESTRICTIVE USING (true);
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.execute('a1b2c3d4-0000-4000-8000-000000000001')$$) AS dev_by_id_through_query;
DROP POLICY hide_nothing ON jsrt.scripts;
-- an index that is not what a lookup needs (here partial: a DBA's change) is not used
ALTER TABLE jsrt.scripts DROP CONSTRAINT scripts_name_tenant_unique;
CREATE UNIQUE INDEX scripts_name_tenant_unique ON jsrt.scripts (tenant_id, name) WHERE status = 'draft';
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.execute('lookup_me')$$) AS dev_partial_index;
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.execute('lookup_me') AS superuser_partial_index;
DROP INDEX jsrt.scripts_name_tenant_unique;
ALTER TABLE jsrt.scripts ADD CONSTRAINT scripts_name_tenant_unique UNIQUE (tenant_id, name);
-- the query resolves its operators and types in pg_catalog alone: an exact-match
-- `=` a caller's schema plants (for a SECURITY DEFINER caller, say) is not called
CREATE SCHEMA lookup_trap;
CREATE FUNCTION lookup_trap.eq(varchar, text) RETURNS boolean LANGUAGE plpgsql AS $$
BEGIN RAISE NOTICE 'planted = ran as %', current_user; RETURN $1::text = $2; END $$;
CREATE OPERATOR lookup_trap.= (LEFTARG = varchar, RIGHTARG = text, FUNCTION = lookup_trap.eq);
GRANT USAGE ON SCHEMA lookup_trap TO PUBLIC;
CREATE POLICY hide_nothing ON jsrt.scripts AS RESTRICTIVE USING (true);
SELECT as_role('r_dev', 'shop_a', $$SELECT set_config('search_path', 'lookup_trap, public', true) IS NOT NULL
                                          AND jsrt.execute('lookup_me') = '"found"'$$) AS planted_operator_not_called;
DROP POLICY hide_nothing ON jsrt.scripts;
DROP SCHEMA lookup_trap CASCADE;
-- another tenant's script by its id: not this tenant's, whoever asks
SELECT id AS seed_b_id FROM jsrt.scripts WHERE name = 'seed_b' \gset
SELECT pg_temp.forget();
SELECT replace(err(format('SELECT jsrt.execute(%L)', :'seed_b_id')), :'seed_b_id', '<seed_b id>') AS superuser_other_tenants_id;
SELECT replace(as_role('r_dev', 'shop_a', format('SELECT jsrt.execute(%L)', :'seed_b_id')), :'seed_b_id', '<seed_b id>') AS dev_other_tenants_id;
-- a source stored out of line (TOAST) is read whole
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.create_script('big_source', format('export default () => %L.length', string_agg(md5(g::text), '')), 'oneoff', '{"status": "active"}') IS NOT NULL AS big
  FROM generate_series(1, 3000) g;
SELECT length(source) > 8192 AS larger_than_a_page FROM jsrt.scripts WHERE name = 'big_source';
SELECT pg_temp.forget();
SELECT jsrt.set_tenant('shop_a');
SELECT jsrt.execute('big_source') AS superuser_big;
SELECT pg_temp.forget();
SELECT as_role('r_dev', 'shop_a', $$SELECT jsrt.execute('big_source')$$) AS dev_big;
