-- jsruntime: roles, grants and row-level security (DESIGN.md section 6).
-- Included last (finalize), once every function exists.

-- Roles are cluster-wide: another database may have made them already.
DO $$
DECLARE
    r text;
BEGIN
    FOREACH r IN ARRAY ARRAY['jsrt_viewer', 'jsrt_developer', 'jsrt_admin', 'jsrt_superadmin'] LOOP
        IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = r) THEN
            EXECUTE format('CREATE ROLE %I NOLOGIN', r);
        END IF;
    END LOOP;
    -- The role script SQL runs as: nothing but what it is granted here and by expose_table.
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'jsrt_script') THEN
        CREATE ROLE jsrt_script NOLOGIN NOINHERIT NOSUPERUSER NOCREATEDB NOCREATEROLE NOREPLICATION NOBYPASSRLS;
    END IF;
END $$;

-- Each role has what the one before it has (seed role matrix).
GRANT jsrt_viewer TO jsrt_developer;
GRANT jsrt_developer TO jsrt_admin;
GRANT jsrt_admin TO jsrt_superadmin;

-- ---------------------------------------------------------------- row-level security

-- Every tenant-scoped table shows the current tenant's rows only
-- (jsrt.tenant_id(): the running script's tenant, else the session's),
-- and all rows to jsrt_superadmin. Superusers bypass row-level security.
-- jsrt.tenant_id() is STABLE, so an index on tenant_id serves these quals.
DO $$
DECLARE
    t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['scripts', 'script_executions', 'script_versions', 'script_event_subscriptions',
                             'script_scheduled_jobs', 'script_http_endpoints', 'script_event_dead_letters',
                             'events', 'event_counts', 'tenant_members', 'secrets', 'api_keys'] LOOP
        EXECUTE format('ALTER TABLE jsrt.%I ENABLE ROW LEVEL SECURITY', t);
        EXECUTE format('ALTER TABLE jsrt.%I FORCE ROW LEVEL SECURITY', t);
        EXECUTE format('CREATE POLICY tenant_isolation ON jsrt.%I
                        USING (tenant_id = jsrt.tenant_id()) WITH CHECK (tenant_id = jsrt.tenant_id())', t);
        EXECUTE format('CREATE POLICY superadmin_all ON jsrt.%I TO jsrt_superadmin USING (true) WITH CHECK (true)', t);
    END LOOP;
END $$;

ALTER TABLE jsrt.tenants ENABLE ROW LEVEL SECURITY;
ALTER TABLE jsrt.tenants FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jsrt.tenants USING (id = jsrt.tenant_id());
CREATE POLICY superadmin_all ON jsrt.tenants TO jsrt_superadmin USING (true) WITH CHECK (true);

-- ---------------------------------------------------------------- grants

-- Nothing in schema jsrt is anyone's by default.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA jsrt FROM PUBLIC;

-- jsrt_viewer (scripts.read): scripts, versions and history of its tenant.
GRANT USAGE ON SCHEMA jsrt TO jsrt_viewer;
GRANT SELECT ON jsrt.tenants, jsrt.scripts, jsrt.script_versions, jsrt.script_executions,
                jsrt.script_event_subscriptions, jsrt.script_scheduled_jobs, jsrt.script_http_endpoints,
                jsrt.script_event_dead_letters, jsrt.events, jsrt.event_counts, jsrt.tenant_members
   TO jsrt_viewer;
GRANT EXECUTE ON FUNCTION jsrt.set_tenant(text, boolean), jsrt.tenant_id(), jsrt.current_tenant(),
                          -- it authenticates its callers itself (API keys, public endpoints)
                          jsrt.http_dispatch(text, text, jsonb, text, boolean),
                          jsrt.list_scripts(text, text, text, text, text, integer, integer),
                          jsrt.flush_history(integer), jsrt.wait(uuid, integer), jsrt.running()
   TO jsrt_viewer;

-- ... and which secrets exist, never their values.
GRANT SELECT (tenant_id, name, created_at, updated_at, updated_by) ON jsrt.secrets TO jsrt_viewer;
-- ... and the tenant's API keys, without their hashes.
GRANT SELECT (id, tenant_id, name, role, created_at, created_by, revoked_at) ON jsrt.api_keys TO jsrt_viewer;

-- jsrt_developer (scripts.create, .update, .execute): no delete.
GRANT INSERT, UPDATE ON jsrt.scripts TO jsrt_developer;
GRANT EXECUTE ON FUNCTION jsrt.create_script(text, text, text, jsonb), jsrt.update_script(text, text, jsonb, text),
                          jsrt.set_status(text, text), jsrt.rollback_script(text, integer),
                          jsrt.execute(text, jsonb), jsrt._execute(text, text), jsrt._execute_object(text, "any"),
                          jsrt.dry_run(text, text, jsonb, boolean),
                          -- helpers the functions above and the scripts triggers call as the caller
                          jsrt._resolve_script(text), jsrt._check_options(jsonb), jsrt._text_array(jsonb),
                          jsrt._status_transition_allowed(text, text), jsrt._check_limits(jsonb),
                          jsrt._check_source(text, text), jsrt._check_input_schema(jsonb),
                          jsrt._timezone_known(text),
                          jsrt._check_cron(text, text), jsrt._check_retry(jsonb),
                          jsrt._check_http_path(text, text), jsrt._http_routes_clash(text, text[], text, text[]),
                          jsrt._methods_text(text[]),
                          jsrt.create_function(text, text, jsonb),
                          jsrt.create_trigger(text, regclass, text, text, jsonb),
                          jsrt._function_comment(jsrt.scripts), jsrt._function_body(jsrt.scripts, jsonb)
   TO jsrt_developer;
-- Functions and triggers backed by scripts (LANGUAGE jsrt): developers may create them,
-- in the schemas where they may create.
REVOKE USAGE ON LANGUAGE jsrt FROM PUBLIC;
GRANT USAGE ON LANGUAGE jsrt TO jsrt_developer;

-- ... and queued runs and events: emitting, queueing, cancelling, re-driving dead letters.
-- Not column "system": only the extension writes its own jsrt.* events.
GRANT INSERT (tenant_id, event_type, payload, depth) ON jsrt.events TO jsrt_developer;
GRANT EXECUTE ON FUNCTION jsrt.emit(text, jsonb), jsrt.execute_async(text, jsonb), jsrt.cancel(uuid),
                          jsrt.retry_dead_letter(uuid), jsrt.redrive_dead_letters(text, text, timestamptz),
                          jsrt._subscribers(uuid, text, boolean)
   TO jsrt_developer;

-- jsrt_admin (everything within its tenant): deletes, secrets and API keys.
-- Which tables scripts reach is the DBA's decision, shared by every tenant:
-- admins see the list, only superadmins (owning the table) change it.
GRANT DELETE ON jsrt.scripts TO jsrt_admin;
GRANT SELECT ON jsrt.exposed_tables TO jsrt_admin;
GRANT EXECUTE ON FUNCTION jsrt.delete_script(text),
                          jsrt.set_secret(text, text), jsrt.delete_secret(text),
                          jsrt.create_api_key(text, text), jsrt.revoke_api_key(text)
   TO jsrt_admin;

-- jsrt_superadmin (everything, across tenants): tenants and who may use them.
GRANT INSERT, UPDATE, DELETE ON jsrt.tenants, jsrt.tenant_members TO jsrt_superadmin;
GRANT INSERT, DELETE ON jsrt.exposed_tables TO jsrt_superadmin;
GRANT EXECUTE ON FUNCTION jsrt.expose_table(regclass, name), jsrt.unexpose_table(regclass),
                          jsrt._owned_sequences(regclass)
   TO jsrt_superadmin;
GRANT EXECUTE ON FUNCTION jsrt.create_tenant(text), jsrt.grant_tenant(text, regrole),
                          jsrt.revoke_tenant(text, regrole), jsrt.set_tenant_max_concurrent_runs(text, integer),
                          -- (not jsrt.export_tenant nor jsrt.import_tenant: superusers only, sql/cells.sql)
                          jsrt.set_tenant_state(text, text),
                          jsrt.run_pending(integer), jsrt.run_due(),
                          jsrt.cleanup_history(integer)
   TO jsrt_superadmin;

-- jsrt_script: its tenant's scripts and history, read-only, and what expose_table grants.
GRANT USAGE ON SCHEMA jsrt TO jsrt_script;
GRANT SELECT ON jsrt.scripts, jsrt.script_versions, jsrt.script_executions TO jsrt_script;
GRANT EXECUTE ON FUNCTION jsrt.tenant_id() TO jsrt_script;
