-- jsruntime 0.1.0 -> 0.2.0, run by ALTER EXTENSION jsruntime UPDATE (after the
-- 0.2.0 library is installed and the server restarted: README "Upgrading").
-- Every change of sql/*.sql and of the #[pg_extern] functions since the 0.1.0
-- release (commit f2b8b80); tests/integration/upgrade.sh checks that the result
-- equals a fresh 0.2.0 install, object for object.
\echo Use "ALTER EXTENSION jsruntime UPDATE TO '0.2.0'" to load this file. \quit

-- ---------------------------------------------------------------- tables
-- New columns go last, where a fresh 0.2.0 install has them too.

ALTER TABLE jsrt.tenants ADD COLUMN max_concurrent_runs integer CHECK (max_concurrent_runs >= 0);
ALTER TABLE jsrt.tenants ADD COLUMN state text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended', 'moved'));

-- Who made the last change to a 0.1.0 row is not known: NULL.
ALTER TABLE jsrt.scripts ADD COLUMN input_schema jsonb, ADD COLUMN retry jsonb, ADD COLUMN updated_by text;
ALTER TABLE jsrt.scripts ALTER COLUMN updated_by SET DEFAULT current_user;
-- Endpoints may share a path with other methods: routes are checked by scripts_validate.
ALTER TABLE jsrt.scripts DROP CONSTRAINT scripts_http_path_tenant_unique;

ALTER TABLE jsrt.script_executions DROP CONSTRAINT script_executions_trigger_type_check,
    ADD CONSTRAINT script_executions_trigger_type_check
        CHECK (trigger_type IN ('cron', 'http', 'event', 'manual', 'api', 'function', 'trigger'));
COMMENT ON COLUMN jsrt.script_executions.trigger_type IS 'What triggered execution: cron, http, event, manual, api, function (a LANGUAGE jsrt function), trigger (a LANGUAGE jsrt trigger)';
DROP INDEX jsrt.idx_executions_tenant_id, jsrt.idx_executions_trigger_type, jsrt.idx_executions_tenant_script,
    jsrt.idx_executions_tenant_started_at, jsrt.idx_executions_retention;
CREATE INDEX idx_executions_tenant_script ON jsrt.script_executions(tenant_id, script_id, started_at DESC, id DESC);
CREATE INDEX idx_executions_tenant_started_at ON jsrt.script_executions(tenant_id, started_at DESC, id DESC);
CREATE INDEX idx_executions_retention ON jsrt.script_executions(started_at) WHERE status IN ('completed', 'failed', 'timeout', 'cancelled');

ALTER TABLE jsrt.events ADD COLUMN system boolean NOT NULL DEFAULT false;
ALTER TABLE jsrt.events ALTER COLUMN tenant_id SET DEFAULT jsrt.tenant_id();
CREATE INDEX idx_events_created ON jsrt.events(created_at);

ALTER TABLE jsrt.api_keys DROP CONSTRAINT api_keys_role_check,
    ADD CONSTRAINT api_keys_role_check CHECK (role IN ('jsrt_viewer', 'jsrt_developer', 'jsrt_admin', 'jsrt_superadmin'));

CREATE TABLE jsrt.event_counts (
    tenant_id   uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    event_type  varchar(255) NOT NULL,
    events      integer NOT NULL,
    runs        integer NOT NULL,
    held        integer NOT NULL,
    subscribers integer NOT NULL,
    counted_at  timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_event_counts_tenant ON jsrt.event_counts(tenant_id, event_type);
CREATE INDEX idx_event_counts_counted ON jsrt.event_counts(counted_at);
SELECT pg_catalog.pg_extension_config_dump('jsrt.event_counts', '');

-- 0.2.0's is_running says a cron run has started and not finished (0.1.0's also
-- counted queued runs, and kept the value until the next scheduler pass).
UPDATE jsrt.script_scheduled_jobs j
   SET is_running = EXISTS (SELECT 1 FROM jsrt.script_executions e
                             WHERE e.tenant_id = j.tenant_id AND e.script_id = j.script_id
                               AND e.trigger_type = 'cron' AND e.status = 'running')
 WHERE j.is_running IS DISTINCT FROM EXISTS (SELECT 1 FROM jsrt.script_executions e
                             WHERE e.tenant_id = j.tenant_id AND e.script_id = j.script_id
                               AND e.trigger_type = 'cron' AND e.status = 'running');

-- ---------------------------------------------------------------- removed and retyped
-- Triggers whose function or kind changed are made again below.

DROP TRIGGER api_keys_changed ON jsrt.api_keys;
DROP TRIGGER events_check ON jsrt.events;
DROP TRIGGER events_fan_out ON jsrt.events;
-- api_keys_changed calls _scripts_changed; the cache is dropped by _scripts_changed itself
DROP FUNCTION jsrt._api_keys_changed();
DROP FUNCTION jsrt._invalidate_script_cache(oid);
-- a new argument, draft
DROP FUNCTION jsrt.http_dispatch(text, text, jsonb, text);

-- ---------------------------------------------------------------- functions
-- Every function added or changed since 0.1.0, as sql/*.sql and the
-- #[pg_extern] functions define it in 0.2.0.

CREATE OR REPLACE FUNCTION jsrt._check_http_path(
	"name" TEXT,
	"path" TEXT
) RETURNS void
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'check_http_path_wrapper';

CREATE OR REPLACE FUNCTION jsrt._check_input(
	"script" TEXT,
	"schema" jsonb,
	"input" jsonb
) RETURNS void
STRICT
LANGUAGE c
AS 'MODULE_PATHNAME', 'check_input_wrapper';

CREATE OR REPLACE FUNCTION jsrt._check_input_schema(
	"schema" jsonb
) RETURNS void
STRICT
LANGUAGE c
AS 'MODULE_PATHNAME', 'check_input_schema_wrapper';

CREATE OR REPLACE FUNCTION jsrt._execute(
	"script" TEXT,
	"input" TEXT
) RETURNS TEXT

LANGUAGE c
AS 'MODULE_PATHNAME', 'execute_wrapper';

CREATE OR REPLACE FUNCTION jsrt._http_routes_clash(
	"path" TEXT,
	"methods" TEXT[],
	"other_path" TEXT,
	"other_methods" TEXT[]
) RETURNS bool
IMMUTABLE PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'http_routes_clash_wrapper';

CREATE OR REPLACE FUNCTION jsrt._request_cancel(
	"execution_id" uuid
) RETURNS bool
STRICT
LANGUAGE c
AS 'MODULE_PATHNAME', 'request_cancel_wrapper';

CREATE OR REPLACE FUNCTION jsrt._timezone_known(
	"name" TEXT
) RETURNS bool
IMMUTABLE STRICT PARALLEL SAFE
LANGUAGE c
AS 'MODULE_PATHNAME', 'timezone_known_wrapper';

CREATE OR REPLACE FUNCTION jsrt.dry_run(
	"script" TEXT,
	"source" TEXT DEFAULT NULL,
	"input" jsonb DEFAULT '{}',
	"allow_http" bool DEFAULT false
) RETURNS jsonb
LANGUAGE c
AS 'MODULE_PATHNAME', 'dry_run_wrapper';

CREATE OR REPLACE FUNCTION jsrt.http_dispatch(
	"method" TEXT,
	"path" TEXT,
	"headers" jsonb DEFAULT '{}',
	"body" TEXT DEFAULT NULL,
	"draft" bool DEFAULT false
) RETURNS jsonb
LANGUAGE c
AS 'MODULE_PATHNAME', 'http_dispatch_wrapper';

CREATE OR REPLACE FUNCTION jsrt.running() RETURNS TABLE (
	"execution_id" uuid,
	"script" TEXT,
	"trigger" TEXT,
	"started_at" timestamp with time zone,
	"progress_done" double precision,
	"progress_total" double precision,
	"message" TEXT,
	"logs" TEXT[]
)
STRICT
LANGUAGE c
AS 'MODULE_PATHNAME', 'running_wrapper';

CREATE OR REPLACE FUNCTION jsrt._scripts_changed()
	RETURNS TRIGGER
	LANGUAGE c
	AS 'MODULE_PATHNAME', '_scripts_changed_wrapper';

CREATE OR REPLACE FUNCTION jsrt.create_tenant(name text) RETURNS uuid
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    new_id uuid;
BEGIN
    IF name IS NULL OR length(btrim(name)) = 0 THEN
        RAISE EXCEPTION 'tenant name must not be empty' USING ERRCODE = '22023';
    END IF;
    INSERT INTO jsrt.tenants(name) VALUES (create_tenant.name) RETURNING id INTO new_id;
    RETURN new_id;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'tenant "%" already exists', create_tenant.name USING ERRCODE = '23505';
END $$;

CREATE OR REPLACE FUNCTION jsrt.current_tenant() RETURNS uuid
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    t uuid := jsrt.tenant_id();
BEGIN
    IF t IS NULL THEN
        RAISE EXCEPTION 'no tenant is set for this session'
            USING ERRCODE = '55000', HINT = 'Call jsrt.set_tenant(name) first.';
    END IF;
    RETURN t;
END $$;

CREATE OR REPLACE FUNCTION jsrt.grant_tenant(tenant text, member regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    found_id uuid;
BEGIN
    SELECT t.id INTO found_id FROM jsrt.tenants t WHERE t.name = tenant OR t.id::text = lower(tenant);
    IF found_id IS NULL THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant USING ERRCODE = '42704';
    END IF;
    INSERT INTO jsrt.tenant_members(tenant_id, member) VALUES (found_id, grant_tenant.member)
    ON CONFLICT DO NOTHING;
END $$;

CREATE OR REPLACE FUNCTION jsrt.revoke_tenant(tenant text, member regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    DELETE FROM jsrt.tenant_members m USING jsrt.tenants t
     WHERE m.tenant_id = t.id AND (t.name = tenant OR t.id::text = lower(tenant))
       AND m.member = revoke_tenant.member;
END $$;

CREATE OR REPLACE FUNCTION jsrt.set_tenant_max_concurrent_runs(tenant text, max_runs integer) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    IF max_runs < 0 THEN
        RAISE EXCEPTION 'max_runs must be 0 (no cap) or more, or NULL (the setting), got %', max_runs
            USING ERRCODE = '22023', DETAIL = 'argument "max_runs"';
    END IF;
    UPDATE jsrt.tenants t SET max_concurrent_runs = max_runs WHERE t.name = tenant OR t.id::text = lower(tenant);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', tenant USING ERRCODE = '42704';
    END IF;
END $$;

CREATE OR REPLACE FUNCTION jsrt._status_transition_allowed(from_status text, to_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT from_status = to_status OR (from_status, to_status) IN (
        ('draft', 'active'), ('draft', 'archived'),
        ('active', 'paused'), ('active', 'disabled'), ('active', 'archived'),
        ('paused', 'active'), ('paused', 'disabled'), ('paused', 'archived'),
        ('disabled', 'active'), ('disabled', 'archived'),
        ('archived', 'draft'))
$$;

CREATE OR REPLACE FUNCTION jsrt._methods_text(methods text[]) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT '(' || CASE WHEN coalesce(array_length(methods, 1), 0) = 0 THEN 'every method'
                       ELSE array_to_string(methods, ', ') END || ')'
$$;

CREATE OR REPLACE FUNCTION jsrt._scripts_validate() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    ev text;
    restoring boolean;
    other record;
BEGIN
    IF NEW.name IS NULL OR NEW.name !~ '^[A-Za-z][A-Za-z0-9_.-]{0,254}$' THEN
        RAISE EXCEPTION 'invalid script name "%"', NEW.name USING ERRCODE = '22023',
            DETAIL = 'field "name": 1 to 255 characters, letters, digits, "_", "-" and ".", starting with a letter';
    END IF;
    IF NEW.source IS NULL OR octet_length(NEW.source) > 102400 THEN
        RAISE EXCEPTION 'script source is % bytes; the limit is 102400 bytes (100 KB)',
            coalesce(octet_length(NEW.source), 0) USING ERRCODE = '54000', DETAIL = 'field "source"';
    END IF;
    IF NEW.type IS NULL OR NEW.type NOT IN ('scheduled', 'http', 'event', 'oneoff', 'embedded') THEN
        RAISE EXCEPTION 'invalid script type "%"', NEW.type USING ERRCODE = '22023',
            DETAIL = 'field "type": one of scheduled, http, event, oneoff, embedded';
    END IF;
    IF NEW.status IS NULL OR NEW.status NOT IN ('draft', 'active', 'paused', 'disabled', 'archived') THEN
        RAISE EXCEPTION 'invalid script status "%"', NEW.status USING ERRCODE = '22023',
            DETAIL = 'field "status": one of draft, active, paused, disabled, archived';
    END IF;
    IF TG_OP = 'UPDATE' AND NOT jsrt._status_transition_allowed(OLD.status, NEW.status) THEN
        RAISE EXCEPTION 'script "%" cannot go from status % to %', NEW.name, OLD.status, NEW.status
            USING ERRCODE = '55000', HINT = 'See the lifecycle in the README.';
    END IF;
    -- Checked only when new or changed, in the time-zone database the scheduler
    -- uses (chrono-tz, in memory); pg_timezone_names read every zone file (30 ms a save).
    IF NEW.timezone IS NULL OR (NEW.timezone <> 'UTC'
           AND (TG_OP = 'INSERT' OR NEW.timezone IS DISTINCT FROM OLD.timezone)
           AND NOT jsrt._timezone_known(NEW.timezone)) THEN
        RAISE EXCEPTION 'unknown time zone "%"', NEW.timezone USING ERRCODE = '22023', DETAIL = 'field "timezone"';
    END IF;
    IF NEW.type = 'scheduled' THEN
        IF NEW.cron_expression IS NULL THEN
            RAISE EXCEPTION 'scheduled script "%" needs a cron expression', NEW.name
                USING ERRCODE = '22023', DETAIL = 'field "cron_expression"';
        END IF;
        PERFORM jsrt._check_cron(NEW.cron_expression, NEW.timezone);
    END IF;
    IF NEW.overlap IS NULL OR NEW.overlap NOT IN ('skip', 'queue') THEN
        RAISE EXCEPTION 'invalid overlap "%"', NEW.overlap USING ERRCODE = '22023',
            DETAIL = 'field "overlap": skip (a run due while the last one goes is skipped, and recorded) or queue';
    END IF;
    PERFORM jsrt._check_retry(NEW.retry);
    IF NEW.catch_up IS NULL OR NEW.catch_up NOT IN ('none', 'one', 'all') THEN
        RAISE EXCEPTION 'invalid catch_up "%"', NEW.catch_up USING ERRCODE = '22023',
            DETAIL = 'field "catch_up": none, one, or all (within catch_up_window_s)';
    END IF;
    IF NEW.catch_up_window_s IS NULL OR NEW.catch_up_window_s NOT BETWEEN 1 AND 31536000 THEN
        RAISE EXCEPTION 'invalid catch_up_window_s %', coalesce(NEW.catch_up_window_s::text, 'null') USING ERRCODE = '22023',
            DETAIL = 'field "catch_up_window_s": 1 to 31536000 seconds (a year)';
    END IF;
    IF NEW.history IS NULL OR NEW.history NOT IN ('all', 'sampled', 'errors') THEN
        RAISE EXCEPTION 'invalid history "%"', NEW.history USING ERRCODE = '22023',
            DETAIL = 'field "history": all (a row per run), sampled (one successful run in jsrt.history_sample_every) or errors (failed runs only)';
    END IF;
    IF NEW.type = 'http' THEN
        IF NEW.http_path IS NULL OR NEW.http_path !~ '^(/[A-Za-z0-9._~:@!$&''()*+,;=-]+)+/?$|^/$' OR NEW.http_path ~ '/\.\.?(/|$)' THEN
            RAISE EXCEPTION 'http script "%" needs an http_path like /orders/create, got %',
                NEW.name, coalesce(quote_literal(NEW.http_path), 'none')
                USING ERRCODE = '22023', DETAIL = 'field "http_path"';
        END IF;
        PERFORM jsrt._check_http_path(NEW.name, NEW.http_path);
        -- Every endpoint but an archived one holds its route (a draft too:
        -- it may be tried with http_dispatch(draft => true), and activating
        -- it must not fail). Checked when the route or the status changes.
        IF NEW.status <> 'archived' AND (TG_OP = 'INSERT' OR OLD.type IS DISTINCT FROM NEW.type
               OR OLD.http_path IS DISTINCT FROM NEW.http_path OR OLD.http_methods IS DISTINCT FROM NEW.http_methods
               OR OLD.status = 'archived') THEN
            -- Two writers of one tenant's routes take turns, so each sees the other's.
            PERFORM pg_catalog.pg_advisory_xact_lock(pg_catalog.hashtext('jsrt.http_routes'),
                                                     pg_catalog.hashtext(NEW.tenant_id::text));
            SELECT s.name, s.http_path, s.http_methods INTO other FROM jsrt.scripts s
             WHERE s.tenant_id = NEW.tenant_id AND s.id <> NEW.id AND s.type = 'http' AND s.status <> 'archived'
               AND jsrt._http_routes_clash(NEW.http_path, NEW.http_methods, s.http_path, s.http_methods)
             ORDER BY s.name LIMIT 1;
            IF FOUND THEN
                RAISE EXCEPTION 'http script "%": route % % clashes with script "%" (route % %)',
                    NEW.name, NEW.http_path, jsrt._methods_text(NEW.http_methods),
                    other.name, other.http_path, jsrt._methods_text(other.http_methods)
                    USING ERRCODE = '42710', DETAIL = 'field "http_path": both would serve the same requests',
                          HINT = 'Use another http_path or other http_methods, or archive the other script.';
            END IF;
        END IF;
    END IF;
    IF NEW.http_auth IS NULL OR NEW.http_auth NOT IN ('api_key', 'public') THEN
        RAISE EXCEPTION 'invalid http_auth "%"', NEW.http_auth USING ERRCODE = '22023',
            DETAIL = 'field "http_auth": api_key (callers send an API key of the tenant) or public';
    END IF;
    IF NEW.http_methods IS NOT NULL AND NOT NEW.http_methods <@ ARRAY['GET', 'POST', 'PUT', 'DELETE', 'PATCH'] THEN
        RAISE EXCEPTION 'invalid http_methods %', NEW.http_methods USING ERRCODE = '22023',
            DETAIL = 'field "http_methods": GET, POST, PUT, DELETE, PATCH';
    END IF;
    IF NEW.type = 'event' AND coalesce(array_length(NEW.event_types, 1), 0) = 0 THEN
        RAISE EXCEPTION 'event script "%" needs at least one event type', NEW.name
            USING ERRCODE = '22023', DETAIL = 'field "event_types"';
    END IF;
    FOREACH ev IN ARRAY coalesce(NEW.event_types, '{}') LOOP
        IF ev !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$' THEN
            RAISE EXCEPTION 'invalid event type "%"', ev USING ERRCODE = '22023',
                DETAIL = 'field "event_types": letters, digits, ".", "_", ":" and "-", like payment.processed';
        END IF;
    END LOOP;
    IF NEW.metadata IS NOT NULL AND jsonb_typeof(NEW.metadata) <> 'object' THEN
        RAISE EXCEPTION 'metadata must be a JSON object' USING ERRCODE = '22023', DETAIL = 'field "metadata"';
    END IF;
    NEW.resource_limits := jsrt._check_limits(NEW.resource_limits);
    IF NEW.input_schema IS NOT NULL AND (TG_OP = 'INSERT' OR NEW.input_schema IS DISTINCT FROM OLD.input_schema) THEN
        PERFORM jsrt._check_input_schema(NEW.input_schema);
    END IF;
    IF TG_OP = 'INSERT' OR NEW.source IS DISTINCT FROM OLD.source THEN
        PERFORM jsrt._check_source(NEW.name, NEW.source);
    END IF;
    -- Who made a script and each change is the acting role, not what a writer claims.
    -- Only a superuser (a restore from pg_dump) brings its own version and authors.
    restoring := TG_OP = 'INSERT'
                 AND EXISTS (SELECT 1 FROM pg_catalog.pg_roles r WHERE r.rolname = current_user AND r.rolsuper);
    NEW.updated_by := CASE WHEN restoring THEN coalesce(NEW.updated_by, current_user) ELSE current_user END;
    IF TG_OP = 'UPDATE' THEN
        IF NEW.id <> OLD.id OR NEW.tenant_id <> OLD.tenant_id THEN
            RAISE EXCEPTION 'a script''s id and tenant never change' USING ERRCODE = '55000';
        END IF;
        NEW.created_by := OLD.created_by;
        NEW.created_at := OLD.created_at;
        -- rollback_script asks for a new version even when the source is unchanged
        IF NEW.source IS DISTINCT FROM OLD.source OR current_setting('jsrt.new_version', true) = 'on' THEN
            NEW.version := OLD.version + 1;
        ELSE
            NEW.version := OLD.version;
        END IF;
        NEW.updated_at := now();
    ELSIF NOT restoring THEN
        NEW.version := 1;
        NEW.created_by := current_user;
        NEW.created_at := now();
        NEW.updated_at := now();
    ELSE
        -- A restore (pg_dump) brings the version the script had.
        NEW.version := coalesce(NEW.version, 1);
        IF NEW.version < 1 THEN
            RAISE EXCEPTION 'script version must be 1 or more' USING ERRCODE = '22023', DETAIL = 'field "version"';
        END IF;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION jsrt._scripts_version() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    IF TG_OP = 'INSERT' OR NEW.version <> OLD.version THEN
        INSERT INTO jsrt.script_versions(script_id, tenant_id, version_number, source, change_description, created_by)
        VALUES (NEW.id, NEW.tenant_id, NEW.version, NEW.source,
                coalesce(nullif(current_setting('jsrt.change_description', true), ''),
                         CASE WHEN TG_OP = 'INSERT' THEN 'created' END),
                NEW.updated_by)
        ON CONFLICT (script_id, version_number) DO NOTHING;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jsrt._versions_dedupe() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM jsrt.script_versions v
                WHERE v.script_id = NEW.script_id AND v.version_number = NEW.version_number
                  AND v.source = NEW.source) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE OR REPLACE FUNCTION jsrt._versions_immutable() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'script versions are immutable' USING ERRCODE = '55000';
END $$;

CREATE OR REPLACE FUNCTION jsrt._resolve_script(script text) RETURNS jsrt.scripts
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    tenant uuid := jsrt.current_tenant();
    found jsrt.scripts;
BEGIN
    SELECT * INTO found FROM jsrt.scripts s
     WHERE s.tenant_id = tenant AND (s.name = script OR s.id::text = lower(script));
    IF found.id IS NULL THEN
        RAISE EXCEPTION 'script "%" does not exist', script USING ERRCODE = '42704';
    END IF;
    RETURN found;
END $$;

CREATE OR REPLACE FUNCTION jsrt._check_retry(retry jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    k text;
    shape constant text := 'field "retry": {"attempts": 1 to 10, runs in all, the first included, "backoff_ms": 0 to 86400000, the wait before the first retry, doubling after}';
BEGIN
    IF retry IS NULL OR jsonb_typeof(retry) = 'null' THEN
        RETURN;
    END IF;
    IF jsonb_typeof(retry) <> 'object' THEN
        RAISE EXCEPTION 'retry must be a JSON object, got %', retry USING ERRCODE = '22023', DETAIL = shape;
    END IF;
    FOR k IN SELECT jsonb_object_keys(retry) LOOP
        IF k NOT IN ('attempts', 'backoff_ms') THEN
            RAISE EXCEPTION 'unknown retry setting "%"', k USING ERRCODE = '22023', DETAIL = shape;
        END IF;
    END LOOP;
    IF NOT retry ? 'attempts' OR jsonb_typeof(retry->'attempts') <> 'number'
       OR (retry->>'attempts')::numeric NOT BETWEEN 1 AND 10 OR (retry->>'attempts')::numeric % 1 <> 0 THEN
        RAISE EXCEPTION 'retry.attempts must be a whole number from 1 to 10, got %', coalesce((retry->'attempts')::text, 'nothing')
            USING ERRCODE = '22023', DETAIL = shape;
    END IF;
    IF retry ? 'backoff_ms' AND (jsonb_typeof(retry->'backoff_ms') <> 'number'
       OR (retry->>'backoff_ms')::numeric NOT BETWEEN 0 AND 86400000 OR (retry->>'backoff_ms')::numeric % 1 <> 0) THEN
        RAISE EXCEPTION 'retry.backoff_ms must be a whole number from 0 to 86400000, got %', retry->'backoff_ms'
            USING ERRCODE = '22023', DETAIL = shape;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION jsrt._check_options(options jsonb) RETURNS void
LANGUAGE plpgsql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    k text;
BEGIN
    IF options IS NULL OR jsonb_typeof(options) <> 'object' THEN
        RAISE EXCEPTION 'options must be a JSON object' USING ERRCODE = '22023';
    END IF;
    FOR k IN SELECT jsonb_object_keys(options) LOOP
        IF k NOT IN ('description', 'status', 'cron_expression', 'timezone', 'http_path', 'http_methods',
                     'event_types', 'resource_limits', 'metadata', 'tags', 'history', 'organization_id',
                     'overlap', 'catch_up', 'catch_up_window_s', 'http_auth', 'retry', 'input_schema') THEN
            RAISE EXCEPTION 'unknown option "%"', k USING ERRCODE = '22023',
                HINT = 'Options: description, status, cron_expression, timezone, http_path, http_methods, event_types, resource_limits, metadata, tags, history, organization_id, overlap, catch_up, catch_up_window_s, http_auth, retry, input_schema.';
        END IF;
    END LOOP;
    FOR k IN SELECT key FROM jsonb_each(options)
              WHERE key IN ('http_methods', 'event_types', 'tags') AND jsonb_typeof(value) NOT IN ('array', 'null') LOOP
        RAISE EXCEPTION 'option "%" must be an array of strings', k USING ERRCODE = '22023';
    END LOOP;
END $$;

CREATE OR REPLACE FUNCTION jsrt._text_array(value jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT CASE WHEN value IS NULL OR jsonb_typeof(value) = 'null' THEN NULL
                ELSE ARRAY(SELECT jsonb_array_elements_text(value)) END
$$;

CREATE OR REPLACE FUNCTION jsrt.create_script(name text, source text, type text DEFAULT 'oneoff', options jsonb DEFAULT '{}')
RETURNS uuid
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    tenant uuid := jsrt.current_tenant();
    new_id uuid;
    e_state text; e_message text; e_detail text; e_hint text;
BEGIN
    PERFORM jsrt._check_options(options);
    PERFORM set_config('jsrt.change_description', 'created', true);
    INSERT INTO jsrt.scripts(tenant_id, name, source, type, description, status, cron_expression, timezone,
                             http_path, http_methods, event_types, resource_limits, metadata, tags, history,
                             organization_id, overlap, catch_up, catch_up_window_s, http_auth, retry, input_schema)
    VALUES (tenant, create_script.name, create_script.source, create_script.type,
            options->>'description',
            coalesce(options->>'status', 'draft'),
            options->>'cron_expression',
            coalesce(options->>'timezone', 'UTC'),
            options->>'http_path',
            coalesce(jsrt._text_array(options->'http_methods'), CASE WHEN create_script.type = 'http' THEN '{GET,POST}'::text[] ELSE '{}'::text[] END),
            coalesce(jsrt._text_array(options->'event_types'), '{}'),
            coalesce(options->'resource_limits', '{}'),
            coalesce(options->'metadata', '{}'),
            coalesce(jsrt._text_array(options->'tags'), '{}'),
            coalesce(options->>'history', 'all'),
            (options->>'organization_id')::uuid,
            coalesce(options->>'overlap', 'skip'),
            coalesce(options->>'catch_up', 'one'),
            coalesce((options->>'catch_up_window_s')::integer, 3600),
            coalesce(options->>'http_auth', 'api_key'),
            nullif(options->'retry', 'null'),
            nullif(options->'input_schema', 'null'))
    RETURNING id INTO new_id;
    PERFORM set_config('jsrt.change_description', '', true);
    RETURN new_id;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'a script named "%" already exists in this tenant', create_script.name
        USING ERRCODE = '23505';
WHEN OTHERS THEN
    -- Raised again from here, with its code, message, detail and hint: the caller's
    -- context is this call, not the 20 lines of the statement above.
    GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_message = MESSAGE_TEXT,
                            e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
    IF e_detail = '' AND e_hint = '' THEN
        RAISE EXCEPTION USING ERRCODE = e_state, MESSAGE = e_message;
    ELSIF e_hint = '' THEN
        RAISE EXCEPTION USING ERRCODE = e_state, MESSAGE = e_message, DETAIL = e_detail;
    ELSIF e_detail = '' THEN
        RAISE EXCEPTION USING ERRCODE = e_state, MESSAGE = e_message, HINT = e_hint;
    ELSE
        RAISE EXCEPTION USING ERRCODE = e_state, MESSAGE = e_message, DETAIL = e_detail, HINT = e_hint;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION jsrt.update_script(script text, source text DEFAULT NULL, options jsonb DEFAULT '{}',
                                   change_description text DEFAULT NULL)
RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    cur jsrt.scripts := jsrt._resolve_script(script);
    new_version integer;
    e_state text; e_message text; e_detail text; e_hint text;
BEGIN
    PERFORM jsrt._check_options(options);
    PERFORM set_config('jsrt.change_description', coalesce(change_description, ''), true);
    UPDATE jsrt.scripts s SET
        source          = coalesce(update_script.source, s.source),
        description     = CASE WHEN options ? 'description' THEN options->>'description' ELSE s.description END,
        status          = coalesce(options->>'status', s.status),
        cron_expression = CASE WHEN options ? 'cron_expression' THEN options->>'cron_expression' ELSE s.cron_expression END,
        timezone        = coalesce(options->>'timezone', s.timezone),
        http_path       = CASE WHEN options ? 'http_path' THEN options->>'http_path' ELSE s.http_path END,
        http_methods    = CASE WHEN options ? 'http_methods' THEN jsrt._text_array(options->'http_methods') ELSE s.http_methods END,
        event_types     = CASE WHEN options ? 'event_types' THEN jsrt._text_array(options->'event_types') ELSE s.event_types END,
        resource_limits = CASE WHEN options ? 'resource_limits' THEN s.resource_limits || (options->'resource_limits') ELSE s.resource_limits END,
        metadata        = CASE WHEN options ? 'metadata' THEN options->'metadata' ELSE s.metadata END,
        tags            = CASE WHEN options ? 'tags' THEN jsrt._text_array(options->'tags') ELSE s.tags END,
        history         = coalesce(options->>'history', s.history),
        overlap         = coalesce(options->>'overlap', s.overlap),
        catch_up        = coalesce(options->>'catch_up', s.catch_up),
        catch_up_window_s = coalesce((options->>'catch_up_window_s')::integer, s.catch_up_window_s),
        http_auth       = coalesce(options->>'http_auth', s.http_auth),
        retry           = CASE WHEN options ? 'retry' THEN nullif(options->'retry', 'null') ELSE s.retry END,
        input_schema    = CASE WHEN options ? 'input_schema' THEN nullif(options->'input_schema', 'null') ELSE s.input_schema END
    WHERE s.id = cur.id
    RETURNING s.version INTO new_version;
    PERFORM set_config('jsrt.change_description', '', true);
    RETURN new_version;
EXCEPTION WHEN unique_violation THEN
    RAISE EXCEPTION 'another script of this tenant already uses that name' USING ERRCODE = '23505';
WHEN OTHERS THEN
    -- Raised again from here, with its code, message, detail and hint: the caller's
    -- context is this call, not the 20 lines of the statement above.
    GET STACKED DIAGNOSTICS e_state = RETURNED_SQLSTATE, e_message = MESSAGE_TEXT,
                            e_detail = PG_EXCEPTION_DETAIL, e_hint = PG_EXCEPTION_HINT;
    IF e_detail = '' AND e_hint = '' THEN
        RAISE EXCEPTION USING ERRCODE = e_state, MESSAGE = e_message;
    ELSIF e_hint = '' THEN
        RAISE EXCEPTION USING ERRCODE = e_state, MESSAGE = e_message, DETAIL = e_detail;
    ELSIF e_detail = '' THEN
        RAISE EXCEPTION USING ERRCODE = e_state, MESSAGE = e_message, HINT = e_hint;
    ELSE
        RAISE EXCEPTION USING ERRCODE = e_state, MESSAGE = e_message, DETAIL = e_detail, HINT = e_hint;
    END IF;
END $$;

CREATE OR REPLACE FUNCTION jsrt.set_status(script text, status text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    cur jsrt.scripts := jsrt._resolve_script(script);
BEGIN
    UPDATE jsrt.scripts s SET status = set_status.status WHERE s.id = cur.id;
END $$;

CREATE OR REPLACE FUNCTION jsrt.delete_script(script text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    cur jsrt.scripts := jsrt._resolve_script(script);
BEGIN
    DELETE FROM jsrt.scripts s WHERE s.id = cur.id;
END $$;

CREATE OR REPLACE FUNCTION jsrt.rollback_script(script text, version integer) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    cur jsrt.scripts := jsrt._resolve_script(script);
    old_source text;
    new_version integer;
BEGIN
    SELECT v.source INTO old_source FROM jsrt.script_versions v
     WHERE v.script_id = cur.id AND v.version_number = rollback_script.version;
    IF old_source IS NULL THEN
        RAISE EXCEPTION 'script "%" has no version %', cur.name, rollback_script.version
            USING ERRCODE = '22023', DETAIL = format('field "version": 1 to %s', cur.version);
    END IF;
    PERFORM set_config('jsrt.change_description', format('rollback to version %s', rollback_script.version), true);
    PERFORM set_config('jsrt.new_version', 'on', true);
    UPDATE jsrt.scripts s SET source = old_source WHERE s.id = cur.id RETURNING s.version INTO new_version;
    PERFORM set_config('jsrt.new_version', '', true);
    PERFORM set_config('jsrt.change_description', '', true);
    RETURN new_version;
END $$;

CREATE OR REPLACE FUNCTION jsrt.list_scripts(script_type text DEFAULT NULL, script_status text DEFAULT NULL, tag text DEFAULT NULL,
                                  metadata_key text DEFAULT NULL, search text DEFAULT NULL,
                                  page_size integer DEFAULT 50, page integer DEFAULT 1)
RETURNS TABLE (id uuid, name text, type text, status text, version integer, description text,
               tags text[], metadata jsonb, created_at timestamptz, updated_at timestamptz)
LANGUAGE plpgsql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    IF page_size IS NULL OR page_size NOT BETWEEN 1 AND 1000 THEN
        RAISE EXCEPTION 'page_size must be between 1 and 1000, got %', page_size USING ERRCODE = '22023';
    END IF;
    IF page IS NULL OR page < 1 THEN
        RAISE EXCEPTION 'page must be 1 or more, got %', page USING ERRCODE = '22023';
    END IF;
    RETURN QUERY
    SELECT s.id, s.name::text, s.type::text, s.status::text, s.version, s.description, s.tags, s.metadata,
           s.created_at, s.updated_at
      FROM jsrt.scripts s
     WHERE s.tenant_id = jsrt.current_tenant()
       AND (script_type IS NULL OR s.type = script_type)
       AND (script_status IS NULL OR s.status = script_status)
       AND (tag IS NULL OR s.tags @> ARRAY[tag])
       AND (metadata_key IS NULL OR s.metadata ? metadata_key)
       AND (search IS NULL OR to_tsvector('english', coalesce(s.name, '') || ' ' || coalesce(s.description, ''))
                              @@ websearch_to_tsquery('english', search))
     ORDER BY s.created_at DESC, s.id DESC
     LIMIT page_size OFFSET (page - 1) * page_size;
END $$;

CREATE OR REPLACE FUNCTION jsrt._owned_sequences(tbl regclass) RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT d.objid::regclass FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
     WHERE d.refobjid = tbl AND d.classid = 'pg_class'::regclass AND s.relkind = 'S'
$$;

CREATE OR REPLACE FUNCTION jsrt.expose_table(tbl regclass, tenant_column name DEFAULT 'tenant_id') RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    rel pg_class;
    col_type text;
    seq regclass;
BEGIN
    SELECT * INTO rel FROM pg_class c WHERE c.oid = tbl;
    IF rel.relkind NOT IN ('r', 'p') THEN
        RAISE EXCEPTION '% is not a table', tbl USING ERRCODE = '42809', DETAIL = 'argument "tbl"';
    END IF;
    IF rel.relnamespace = 'jsrt'::regnamespace THEN
        RAISE EXCEPTION 'jsrt''s own tables cannot be exposed' USING ERRCODE = '42501', DETAIL = 'argument "tbl"';
    END IF;
    IF EXISTS (SELECT 1 FROM jsrt.exposed_tables e WHERE e.tbl = expose_table.tbl) THEN
        RAISE EXCEPTION 'table % is already exposed', tbl USING ERRCODE = '42710',
            HINT = 'Call jsrt.unexpose_table first to change its tenant column.';
    END IF;
    SELECT format_type(a.atttypid, NULL) INTO col_type FROM pg_attribute a
     WHERE a.attrelid = tbl AND a.attname = tenant_column AND a.attnum > 0 AND NOT a.attisdropped;
    IF col_type IS NULL THEN
        RAISE EXCEPTION 'table % has no column "%"', tbl, tenant_column
            USING ERRCODE = '42703', DETAIL = 'argument "tenant_column"';
    END IF;
    IF col_type NOT IN ('uuid', 'text', 'character varying') THEN
        RAISE EXCEPTION 'tenant column "%" of % is %; it must be uuid or text', tenant_column, tbl, col_type
            USING ERRCODE = '42804', DETAIL = 'argument "tenant_column"';
    END IF;
    -- Restrictive: whatever the table's own policies allow, scripts get their tenant's rows only.
    EXECUTE format('CREATE POLICY jsrt_script_tenant ON %s AS RESTRICTIVE TO jsrt_script
                    USING (%2$I = jsrt.tenant_id()::%3$s) WITH CHECK (%2$I = jsrt.tenant_id()::%3$s)',
                   tbl, tenant_column, col_type);
    EXECUTE format('CREATE POLICY jsrt_script_access ON %s TO jsrt_script USING (true) WITH CHECK (true)', tbl);
    IF NOT rel.relrowsecurity THEN
        -- Turning row-level security on must change nothing for other roles.
        EXECUTE format('CREATE POLICY jsrt_others ON %s USING (current_user <> ''jsrt_script'')
                        WITH CHECK (current_user <> ''jsrt_script'')', tbl);
        EXECUTE format('ALTER TABLE %s ENABLE ROW LEVEL SECURITY', tbl);
    END IF;
    EXECUTE format('GRANT SELECT, INSERT, UPDATE, DELETE ON %s TO jsrt_script', tbl);
    FOR seq IN SELECT jsrt._owned_sequences(tbl) LOOP
        EXECUTE format('GRANT USAGE ON SEQUENCE %s TO jsrt_script', seq);
    END LOOP;
    INSERT INTO jsrt.exposed_tables(tbl, tenant_column, enabled_rls) VALUES (tbl, tenant_column, NOT rel.relrowsecurity);
END $$;

CREATE OR REPLACE FUNCTION jsrt.unexpose_table(tbl regclass) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    entry jsrt.exposed_tables;
    seq regclass;
BEGIN
    SELECT * INTO entry FROM jsrt.exposed_tables e WHERE e.tbl = unexpose_table.tbl;
    IF entry.tbl IS NULL THEN
        RAISE EXCEPTION 'table % is not exposed', tbl USING ERRCODE = '42704', DETAIL = 'argument "tbl"';
    END IF;
    EXECUTE format('DROP POLICY IF EXISTS jsrt_script_tenant ON %s', tbl);
    EXECUTE format('DROP POLICY IF EXISTS jsrt_script_access ON %s', tbl);
    IF entry.enabled_rls THEN
        EXECUTE format('DROP POLICY IF EXISTS jsrt_others ON %s', tbl);
        EXECUTE format('ALTER TABLE %s DISABLE ROW LEVEL SECURITY', tbl);
    END IF;
    EXECUTE format('REVOKE ALL ON %s FROM jsrt_script', tbl);
    FOR seq IN SELECT jsrt._owned_sequences(tbl) LOOP
        EXECUTE format('REVOKE ALL ON SEQUENCE %s FROM jsrt_script', seq);
    END LOOP;
    DELETE FROM jsrt.exposed_tables e WHERE e.tbl = unexpose_table.tbl;
END $$;

CREATE OR REPLACE FUNCTION jsrt.call_handler() RETURNS language_handler
    AS 'MODULE_PATHNAME', 'jsrt_call_handler' LANGUAGE C;

CREATE OR REPLACE FUNCTION jsrt.validator(oid) RETURNS void
    AS 'MODULE_PATHNAME', 'jsrt_validator' LANGUAGE C STRICT;

-- jsrt.execute(script, jsonb_build_object(k1, v1, ...)) is planned as
-- jsrt._execute_object(script, k1, v1, ...), which makes the input object
-- without the jsonb (src/engine/object_call.rs).
CREATE FUNCTION jsrt._execute_object(script text, VARIADIC "any") RETURNS jsonb
    AS 'MODULE_PATHNAME', 'jsrt_execute_object' LANGUAGE C;
CREATE FUNCTION jsrt._execute_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'jsrt_execute_support' LANGUAGE C STRICT;
CREATE OR REPLACE FUNCTION jsrt.execute(script text, input jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql SUPPORT jsrt._execute_support AS $$
    SELECT jsrt._execute(script, input::text)::jsonb
$$;

CREATE OR REPLACE FUNCTION jsrt._function_comment(s jsrt.scripts) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT format('jsrt script "%s" (%s) of tenant %s', s.name, s.id, s.tenant_id)
$$;

CREATE OR REPLACE FUNCTION jsrt._function_body(s jsrt.scripts, options jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT s.id::text || CASE WHEN coalesce(options, '{}') = '{}' THEN '' ELSE ' ' || options::text END
$$;

CREATE OR REPLACE FUNCTION jsrt.create_function(script text, signature text, options jsonb DEFAULT '{}') RETURNS regprocedure
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    s jsrt.scripts := jsrt._resolve_script(script);
    m text[];
    name_parts text[];
    fn oid;
BEGIN
    m := regexp_match(signature, '^\s*(.+?)\s*\((.*)\)\s+returns\s+(.+?)\s*;?\s*$', 'is');
    IF m IS NULL THEN
        RAISE EXCEPTION 'signature "%" is not "schema.name(arguments) returns type"', signature
            USING ERRCODE = '22023', DETAIL = 'argument "signature"';
    END IF;
    name_parts := parse_ident(m[1]);
    IF cardinality(name_parts) <> 2 THEN
        RAISE EXCEPTION 'function name "%" must name its schema, as in public.price', m[1]
            USING ERRCODE = '22023', DETAIL = 'argument "signature"';
    END IF;
    IF m[3] ~* '^\s*(setof|table)\M' THEN
        RAISE EXCEPTION 'a jsrt function returns one value, not "%"', m[3]
            USING ERRCODE = '0A000', HINT = 'Return an array or jsonb.';
    END IF;
    EXECUTE format('CREATE FUNCTION %I.%I(%s) RETURNS %s LANGUAGE jsrt AS %L',
                   name_parts[1], name_parts[2], m[2], m[3], jsrt._function_body(s, options));
    SELECT max(p.oid) INTO fn FROM pg_catalog.pg_proc p
     WHERE p.proname = name_parts[2] AND p.pronamespace = to_regnamespace(quote_ident(name_parts[1]))
       AND p.prosrc = jsrt._function_body(s, options);
    EXECUTE format('COMMENT ON FUNCTION %s IS %L', fn::regprocedure, jsrt._function_comment(s));
    RETURN fn::regprocedure;
END $$;

CREATE OR REPLACE FUNCTION jsrt.create_trigger(script text, tbl regclass, events text, timing text DEFAULT 'BEFORE',
                                    options jsonb DEFAULT '{}')
RETURNS regprocedure
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    s jsrt.scripts := jsrt._resolve_script(script);
    ev text[];
    e text;
    nsp text;
    rel text;
    fname text;
    fn oid;
BEGIN
    IF upper(btrim(timing)) NOT IN ('BEFORE', 'AFTER') THEN
        RAISE EXCEPTION 'timing must be BEFORE or AFTER, got "%"', timing
            USING ERRCODE = '22023', DETAIL = 'argument "timing"';
    END IF;
    ev := regexp_split_to_array(upper(btrim(events)), '\s*(,|\mOR\M)\s*');
    IF cardinality(ev) = 0 THEN
        RAISE EXCEPTION 'events must name INSERT, UPDATE or DELETE' USING ERRCODE = '22023';
    END IF;
    FOREACH e IN ARRAY ev LOOP
        IF e NOT IN ('INSERT', 'UPDATE', 'DELETE') THEN
            RAISE EXCEPTION 'event "%" is not INSERT, UPDATE or DELETE', e
                USING ERRCODE = '22023', DETAIL = 'argument "events"';
        END IF;
    END LOOP;
    SELECT n.nspname, c.relname INTO nsp, rel
      FROM pg_catalog.pg_class c JOIN pg_catalog.pg_namespace n ON n.oid = c.relnamespace WHERE c.oid = tbl;
    fname := left(rel || '_' || s.name || '_jsrt', 63);
    EXECUTE format('CREATE FUNCTION %I.%I() RETURNS trigger LANGUAGE jsrt AS %L', nsp, fname, jsrt._function_body(s, options));
    fn := format('%I.%I()', nsp, fname)::regprocedure;
    EXECUTE format('COMMENT ON FUNCTION %s IS %L', fn::regprocedure, jsrt._function_comment(s));
    EXECUTE format('CREATE TRIGGER %I %s %s ON %s FOR EACH ROW EXECUTE FUNCTION %s',
                   fname, upper(btrim(timing)), array_to_string(ev, ' OR '), tbl, fn::regprocedure);
    RETURN fn::regprocedure;
END $$;

CREATE OR REPLACE FUNCTION jsrt._scripts_in_use() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    users text;
BEGIN
    IF TG_OP = 'UPDATE' AND NEW.name IS NOT DISTINCT FROM OLD.name THEN
        RETURN NEW;
    END IF;
    SELECT string_agg(p.oid::regprocedure::text, ', ' ORDER BY p.oid) INTO users
      FROM pg_catalog.pg_proc p JOIN pg_catalog.pg_language l ON l.oid = p.prolang
     WHERE l.lanname = 'jsrt' AND lower(substring(p.prosrc from '^\s*(\S+)')) = OLD.id::text;
    IF users IS NOT NULL THEN
        RAISE EXCEPTION 'script "%" backs SQL functions: %', OLD.name, users
            USING ERRCODE = '55006',
                  HINT = format('Drop them first (DROP FUNCTION ... CASCADE drops their triggers); %s follows the script by its id.',
                                CASE WHEN TG_OP = 'DELETE' THEN 'each' ELSE 'a rename would leave their comments stale: each' END);
    END IF;
    RETURN CASE WHEN TG_OP = 'DELETE' THEN OLD ELSE NEW END;
END $$;

CREATE OR REPLACE FUNCTION jsrt._sync_subscriptions() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    DELETE FROM jsrt.script_event_subscriptions s
     WHERE s.script_id = NEW.id
       AND (NEW.type <> 'event' OR NOT s.event_type = ANY (coalesce(NEW.event_types, '{}')));
    IF NEW.type = 'event' THEN
        INSERT INTO jsrt.script_event_subscriptions(script_id, tenant_id, event_type, is_active)
        SELECT NEW.id, NEW.tenant_id, t, NEW.status = 'active' FROM unnest(NEW.event_types) t
        ON CONFLICT (script_id, event_type) DO UPDATE SET is_active = EXCLUDED.is_active;
    END IF;
    -- A paused subscriber holds its events: its queued event runs wait
    -- (run_after 'infinity') until it is active again, then run in order;
    -- disabling or archiving it cancels what it held.
    IF TG_OP = 'UPDATE' AND OLD.status IS DISTINCT FROM NEW.status THEN
        IF NEW.status = 'paused' THEN
            UPDATE jsrt.script_executions e SET run_after = 'infinity'
             WHERE e.script_id = NEW.id AND e.status = 'pending' AND e.trigger_type = 'event';
        ELSIF OLD.status = 'paused' THEN
            PERFORM jsrt._release_held(NEW.id, NEW.status = 'active');
        END IF;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jsrt._events_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    max_depth integer := coalesce(nullif(current_setting('jsrt.max_event_depth', true), ''), '8')::integer;
    bad record;
BEGIN
    -- Types once each (a bulk INSERT has few), then the first row that has it.
    SELECT n.id, n.event_type, n.event_type LIKE 'jsrt.%' AS reserved INTO bad
      FROM new_events n
     WHERE (n.event_type, n.system) IN (
               -- (OFFSET 0 keeps the regex above the DISTINCT; the column caps the length at 255)
               SELECT t.event_type, t.system FROM (SELECT DISTINCT x.event_type, x.system FROM new_events x OFFSET 0) t
                WHERE t.event_type !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]*$'
                   -- only the extension writes jsrt.* events: roles may not insert column "system"
                   OR (t.event_type LIKE 'jsrt.%' AND NOT t.system)
                LIMIT 1)
     ORDER BY n.id LIMIT 1;
    IF FOUND AND NOT bad.reserved THEN
        RAISE EXCEPTION 'invalid event type "%"', bad.event_type USING ERRCODE = '22023',
            DETAIL = format('column "event_type" of event %s: letters, digits, ".", "_", ":" and "-", like payment.processed', bad.id);
    ELSIF FOUND THEN
        RAISE EXCEPTION 'event type "%" is reserved for the system', bad.event_type USING ERRCODE = '42501',
            DETAIL = format('column "event_type" of event %s: types starting "jsrt." are the extension''s own (failure alerts)', bad.id),
            HINT = 'Subscribe a script to jsrt.run.failed or jsrt.dead_letter.created; emit types of your own.';
    END IF;
    SELECT n.id, n.event_type, n.payload, n.depth INTO bad
      FROM new_events n WHERE jsonb_typeof(n.payload) <> 'object' OR n.depth > max_depth
     ORDER BY n.id LIMIT 1;
    IF NOT FOUND THEN
        RETURN NULL;
    ELSIF jsonb_typeof(bad.payload) <> 'object' THEN
        RAISE EXCEPTION 'an event payload must be a JSON object, got %', jsonb_typeof(bad.payload)
            USING ERRCODE = '22023', DETAIL = format('column "payload" of event %s (%s)', bad.id, bad.event_type);
    END IF;
    RAISE EXCEPTION 'event "%" is % events deep, over jsrt.max_event_depth (%): a loop of scripts publishing events?',
        bad.event_type, bad.depth, max_depth USING ERRCODE = '54000',
        DETAIL = format('column "depth" of event %s', bad.id);
END $$;

CREATE OR REPLACE FUNCTION jsrt._subscribers(tenant uuid, event_type text, active_only boolean) RETURNS SETOF uuid
LANGUAGE sql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT s.script_id FROM jsrt.script_event_subscriptions s
     WHERE s.tenant_id = tenant AND s.event_type = _subscribers.event_type AND (s.is_active OR NOT active_only)
$$;

CREATE OR REPLACE FUNCTION jsrt._events_fan_out() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    parent uuid := nullif(current_setting('jsrt.parent_execution', true), '')::uuid;
    queued integer;
BEGIN
    WITH subs AS MATERIALIZED (
        SELECT s.tenant_id, s.event_type, sc.id AS script_id, sc.version, sc.status
          FROM jsrt.script_event_subscriptions s JOIN jsrt.scripts sc ON sc.id = s.script_id
         WHERE sc.status IN ('active', 'paused')
           AND (s.tenant_id, s.event_type) IN (SELECT DISTINCT n.tenant_id, n.event_type FROM new_events n)),
    runs AS (
        INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, trigger_data, input, run_after,
                                           parent_execution_id, version_number)
        SELECT s.script_id, n.tenant_id, 'pending', 'event',
               jsonb_build_object('event_id', n.id, 'event_type', n.event_type, 'depth', n.depth,
                                  'emitted_at', n.created_at),
               n.payload, CASE WHEN s.status = 'active' THEN now() ELSE 'infinity' END, parent, s.version
          FROM new_events n JOIN subs s ON s.tenant_id = n.tenant_id AND s.event_type = n.event_type
        RETURNING (run_after < 'infinity') AS due),
    counted AS (
        INSERT INTO jsrt.event_counts(tenant_id, event_type, events, runs, held, subscribers)
        SELECT n.tenant_id, n.event_type, count(*),
               count(*) * (SELECT count(*) FROM subs s WHERE s.tenant_id = n.tenant_id AND s.event_type = n.event_type
                                                        AND s.status = 'active'),
               count(*) * (SELECT count(*) FROM subs s WHERE s.tenant_id = n.tenant_id AND s.event_type = n.event_type
                                                        AND s.status = 'paused'),
               (SELECT count(*) FROM subs s WHERE s.tenant_id = n.tenant_id AND s.event_type = n.event_type)
          FROM new_events n GROUP BY n.tenant_id, n.event_type)
    SELECT count(*) FILTER (WHERE due) INTO queued FROM runs;
    IF queued > 0 THEN
        PERFORM jsrt._wake_executors();
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jsrt.emit(event_type text, payload jsonb) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, jsrt, pg_temp AS $$
    INSERT INTO jsrt.events(tenant_id, event_type, payload) VALUES (jsrt.current_tenant(), event_type, payload)
    RETURNING id
$$;

CREATE OR REPLACE FUNCTION jsrt._release_held(script uuid, release boolean) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    n integer;
BEGIN
    IF release THEN
        UPDATE jsrt.script_executions e SET run_after = now() + make_interval(secs => h.k / 1000000.0)
          FROM (SELECT x.id, row_number() OVER (ORDER BY (x.trigger_data->>'event_id')::bigint, x.attempt, x.started_at) AS k
                  FROM jsrt.script_executions x
                 WHERE x.script_id = _release_held.script AND x.status = 'pending' AND x.run_after = 'infinity') h
         WHERE e.id = h.id;
        GET DIAGNOSTICS n = ROW_COUNT;
        IF n > 0 THEN
            PERFORM jsrt._wake_executors();
        END IF;
    ELSE
        UPDATE jsrt.script_executions e SET status = 'cancelled', completed_at = now(),
               error = 'its script was ' || (SELECT s.status FROM jsrt.scripts s WHERE s.id = _release_held.script)
                       || ' while it was held'
         WHERE e.script_id = _release_held.script AND e.status = 'pending' AND e.run_after = 'infinity';
        GET DIAGNOSTICS n = ROW_COUNT;
    END IF;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION jsrt.execute_async(script text, input jsonb DEFAULT '{}') RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    s jsrt.scripts := jsrt._resolve_script(script);
    new_id uuid;
BEGIN
    IF s.status NOT IN ('active', 'draft') THEN
        RAISE EXCEPTION 'script "%" is % and cannot run', s.name, s.status USING ERRCODE = '55000';
    END IF;
    IF input IS NULL THEN
        RAISE EXCEPTION 'input must not be null' USING ERRCODE = '22023', DETAIL = 'argument "input"';
    END IF;
    -- refused now, not when an executor takes it (it is checked again then)
    IF s.input_schema IS NOT NULL THEN
        PERFORM jsrt._check_input(s.name, s.input_schema, input);
    END IF;
    INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, input, run_after, version_number)
    VALUES (s.id, s.tenant_id, 'pending', 'manual', input, now(), s.version)
    RETURNING id INTO new_id;
    PERFORM jsrt._wake_executors();
    RETURN new_id;
END $$;

CREATE OR REPLACE FUNCTION jsrt.cancel(execution_id uuid) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    st text;
BEGIN
    -- Waits for an executor claiming it at this moment; then it is 'running' and not matched.
    UPDATE jsrt.script_executions x
       SET status = 'cancelled', completed_at = now(), error = 'the run was cancelled (jsrt.cancel) before it started'
     WHERE x.id = execution_id AND x.tenant_id = jsrt.current_tenant() AND x.status = 'pending';
    IF FOUND THEN
        RETURN true;
    END IF;
    SELECT x.status INTO st FROM jsrt.script_executions x
     WHERE x.id = execution_id AND x.tenant_id = jsrt.current_tenant();
    IF st IS DISTINCT FROM 'running' THEN
        RETURN false;
    END IF;
    -- Its executor marked it on the board before its claim committed.
    RETURN jsrt._request_cancel(execution_id);
END $$;

CREATE OR REPLACE FUNCTION jsrt.wait(execution_id uuid, timeout_ms integer DEFAULT 30000) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    until timestamptz := clock_timestamp() + make_interval(secs => greatest(timeout_ms, 0) / 1000.0);
    e jsrt.script_executions;
BEGIN
    LOOP
        SELECT * INTO e FROM jsrt.script_executions x WHERE x.id = execution_id;
        IF e.id IS NULL THEN
            RAISE EXCEPTION 'execution % does not exist', execution_id USING ERRCODE = '42704';
        END IF;
        EXIT WHEN e.status NOT IN ('pending', 'running') OR clock_timestamp() >= until;
        PERFORM pg_sleep(0.005);
    END LOOP;
    RETURN jsonb_build_object('id', e.id, 'status', e.status, 'output', e.output, 'error', e.error, 'attempt', e.attempt);
END $$;

CREATE OR REPLACE FUNCTION jsrt.retry_dead_letter(id uuid) RETURNS uuid
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    d jsrt.script_event_dead_letters;
    s jsrt.scripts;
    new_id uuid;
BEGIN
    SELECT * INTO d FROM jsrt.script_event_dead_letters x
     WHERE x.id = retry_dead_letter.id AND x.tenant_id = jsrt.current_tenant() FOR UPDATE;
    IF d.id IS NULL THEN
        RAISE EXCEPTION 'dead letter % does not exist', retry_dead_letter.id USING ERRCODE = '42704',
            HINT = 'Deleting a script deletes its dead letters.';
    END IF;
    SELECT * INTO s FROM jsrt.scripts x WHERE x.id = d.script_id;
    IF s.status <> 'active' THEN
        RAISE EXCEPTION 'script "%" is %: activate it before retrying its dead letters', s.name, s.status
            USING ERRCODE = '55000';
    END IF;
    INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, trigger_data, input, run_after, version_number)
    VALUES (s.id, s.tenant_id, 'pending', 'event',
            jsonb_build_object('event_type', d.event_type, 'dead_letter_id', d.id) || coalesce(d.event_data->'event', '{}'),
            coalesce(d.event_data->'payload', d.event_data), now(), s.version)
    RETURNING script_executions.id INTO new_id;
    UPDATE jsrt.script_event_dead_letters x SET retry_count = x.retry_count + 1, last_retry_at = now()
     WHERE x.id = d.id;
    PERFORM jsrt._wake_executors();
    RETURN new_id;
END $$;

CREATE OR REPLACE FUNCTION jsrt.redrive_dead_letters(script text DEFAULT NULL, event_type text DEFAULT NULL,
                                          since timestamptz DEFAULT NULL) RETURNS integer
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    d record;
    n integer := 0;
BEGIN
    FOR d IN SELECT x.id FROM jsrt.script_event_dead_letters x JOIN jsrt.scripts s ON s.id = x.script_id
              WHERE x.tenant_id = jsrt.current_tenant()
                AND (redrive_dead_letters.script IS NULL OR s.name = redrive_dead_letters.script OR s.id::text = redrive_dead_letters.script)
                AND (redrive_dead_letters.event_type IS NULL OR x.event_type = redrive_dead_letters.event_type)
                AND (since IS NULL OR x.created_at >= since)
                AND s.status = 'active'
              ORDER BY x.created_at LOOP
        BEGIN
            PERFORM jsrt.retry_dead_letter(d.id);
            n := n + 1;
        EXCEPTION WHEN undefined_object THEN
            -- a retry of it succeeded meanwhile, which deleted it: nothing to redrive
            NULL;
        END;
    END LOOP;
    RETURN n;
END $$;

CREATE OR REPLACE FUNCTION jsrt._alert_run_failed() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    max_retries integer := coalesce(nullif(current_setting('jsrt.event_max_retries', true), ''), '3')::integer;
BEGIN
    IF coalesce(NEW.trigger_data->>'event_type', '') LIKE 'jsrt.%'
       OR (NEW.trigger_type = 'event' AND NEW.attempt <= max_retries) THEN
        RETURN NULL;
    END IF;
    INSERT INTO jsrt.events(tenant_id, event_type, payload, system)
    SELECT NEW.tenant_id, 'jsrt.run.failed',
           jsonb_build_object('script', jsonb_build_object('id', s.id, 'name', s.name),
                              'execution_id', NEW.id, 'status', NEW.status, 'error', NEW.error,
                              'attempt', NEW.attempt, 'trigger_type', NEW.trigger_type,
                              'event_type', NEW.trigger_data->>'event_type'), true
      FROM jsrt.scripts s WHERE s.id = NEW.script_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jsrt._alert_dead_letter() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    INSERT INTO jsrt.events(tenant_id, event_type, payload, system)
    SELECT NEW.tenant_id, 'jsrt.dead_letter.created',
           jsonb_build_object('script', jsonb_build_object('id', s.id, 'name', s.name),
                              'dead_letter_id', NEW.id, 'execution_id', NEW.execution_id,
                              'error', NEW.error, 'attempt', NEW.retry_count + 1, 'event_type', NEW.event_type), true
      FROM jsrt.scripts s WHERE s.id = NEW.script_id;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jsrt._sync_job() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    IF NEW.type = 'scheduled' AND NEW.status = 'active' THEN
        INSERT INTO jsrt.script_scheduled_jobs AS j (script_id, tenant_id, cron_expression, timezone, next_run_at)
        VALUES (NEW.id, NEW.tenant_id, NEW.cron_expression, NEW.timezone,
                jsrt._cron_next(NEW.cron_expression, NEW.timezone, clock_timestamp()))
        ON CONFLICT (script_id) DO UPDATE
           SET cron_expression = EXCLUDED.cron_expression, timezone = EXCLUDED.timezone,
               next_run_at = CASE WHEN (j.cron_expression, j.timezone) IS DISTINCT FROM (EXCLUDED.cron_expression, EXCLUDED.timezone)
                                  THEN EXCLUDED.next_run_at ELSE j.next_run_at END,
               updated_at = now();
    ELSE
        DELETE FROM jsrt.script_scheduled_jobs j WHERE j.script_id = NEW.id;
    END IF;
    PERFORM jsrt._wake_scheduler();
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jsrt.run_due() RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    grace constant interval := interval '5 seconds';
    j record;
    t timestamptz;
    next_at timestamptz;
    due timestamptz[];
    busy boolean;
    queued integer := 0;
BEGIN
    FOR j IN SELECT jb.id, jb.script_id, jb.tenant_id, jb.cron_expression, jb.timezone, jb.next_run_at,
                    s.overlap, s.catch_up, s.catch_up_window_s, s.version
               FROM jsrt.script_scheduled_jobs jb JOIN jsrt.scripts s ON s.id = jb.script_id
              -- a suspended or moved tenant's schedules wait (jsrt.set_tenant_state)
              WHERE jb.next_run_at <= clock_timestamp()
                AND EXISTS (SELECT 1 FROM jsrt.tenants tn WHERE tn.id = jb.tenant_id AND tn.state = 'active')
              ORDER BY jb.next_run_at
                FOR UPDATE OF jb SKIP LOCKED LOOP
        -- The due times, oldest first; a long downtime is skipped over beyond the window.
        t := j.next_run_at;
        IF t < clock_timestamp() - make_interval(secs => j.catch_up_window_s) THEN
            t := jsrt._cron_next(j.cron_expression, j.timezone, clock_timestamp() - make_interval(secs => j.catch_up_window_s));
        END IF;
        due := '{}';
        WHILE t <= clock_timestamp() LOOP
            due := due || t;
            t := jsrt._cron_next(j.cron_expression, j.timezone, t);
        END LOOP;
        next_at := t;
        due := CASE j.catch_up
                   WHEN 'all' THEN due
                   WHEN 'one' THEN due[cardinality(due):]
                   ELSE ARRAY(SELECT d FROM unnest(due) d WHERE d >= clock_timestamp() - grace)
               END;
        busy := EXISTS (SELECT 1 FROM jsrt.script_executions e
                         WHERE e.tenant_id = j.tenant_id AND e.script_id = j.script_id
                           AND e.status IN ('pending', 'running') AND e.trigger_type = 'cron');
        FOREACH t IN ARRAY due LOOP
            IF busy AND j.overlap = 'skip' THEN
                INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, trigger_data,
                                                   error, version_number, completed_at)
                VALUES (j.script_id, j.tenant_id, 'cancelled', 'cron',
                        jsonb_build_object('scheduled_for', t, 'skipped', true),
                        'skipped: the previous run was still going (overlap skip)', j.version, now());
            ELSE
                INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, trigger_data,
                                                   run_after, version_number)
                VALUES (j.script_id, j.tenant_id, 'pending', 'cron',
                        jsonb_build_object('scheduled_for', t, 'queued_at', clock_timestamp()), t, j.version);
                queued := queued + 1;
            END IF;
        END LOOP;
        -- is_running, last_run_at and last_run_status follow the runs (_job_run_status).
        UPDATE jsrt.script_scheduled_jobs jb SET next_run_at = next_at, updated_at = now()
         WHERE jb.id = j.id;
    END LOOP;
    IF queued > 0 THEN
        PERFORM jsrt._wake_executors();
    END IF;
    RETURN queued;
END $$;

CREATE OR REPLACE FUNCTION jsrt._job_run_status() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    IF NEW.status = 'running' THEN
        UPDATE jsrt.script_scheduled_jobs j SET is_running = true, last_run_at = NEW.started_at, updated_at = now()
         WHERE j.script_id = NEW.script_id;
    ELSIF NEW.status IN ('completed', 'failed', 'timeout', 'cancelled') THEN
        UPDATE jsrt.script_scheduled_jobs j
           SET last_run_status = NEW.status, updated_at = now(),
               is_running = EXISTS (SELECT 1 FROM jsrt.script_executions e
                                     WHERE e.tenant_id = NEW.tenant_id AND e.script_id = NEW.script_id
                                       AND e.trigger_type = 'cron' AND e.status = 'running' AND e.id <> NEW.id)
         WHERE j.script_id = NEW.script_id;
    END IF;
    RETURN NULL;
END $$;

CREATE OR REPLACE FUNCTION jsrt.cleanup_history(batch_size integer DEFAULT 1000) RETURNS integer
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    keep_runs interval := coalesce(nullif(current_setting('jsrt.execution_retention', true), ''), '90 days')::interval;
    keep_dead interval := coalesce(nullif(current_setting('jsrt.dead_letter_retention', true), ''), '30 days')::interval;
    keep_events interval := coalesce(nullif(current_setting('jsrt.event_retention', true), ''), '30 days')::interval;
    n integer;
    m integer;
    k integer;
    e integer;
    m2 integer;
BEGIN
    IF batch_size IS NULL OR batch_size < 1 THEN
        RAISE EXCEPTION 'batch_size must be 1 or more, got %', batch_size USING ERRCODE = '22023';
    END IF;
    -- finished runs, skipped and cancelled ones included
    DELETE FROM jsrt.script_executions e
     WHERE e.id = ANY (ARRAY(SELECT x.id FROM jsrt.script_executions x
                              WHERE x.status IN ('completed', 'failed', 'timeout', 'cancelled') AND x.started_at < now() - keep_runs
                              ORDER BY x.started_at LIMIT batch_size));
    GET DIAGNOSTICS n = ROW_COUNT;
    -- dead letters out of retries
    DELETE FROM jsrt.script_event_dead_letters d
     WHERE d.id = ANY (ARRAY(SELECT x.id FROM jsrt.script_event_dead_letters x
                              WHERE x.created_at < now() - keep_dead
                                AND x.retry_count >= coalesce(nullif(current_setting('jsrt.event_max_retries', true), ''), '3')::integer
                              LIMIT batch_size));
    GET DIAGNOSTICS m = ROW_COUNT;
    -- the outbox: an event's runs were queued when it was written
    DELETE FROM jsrt.events v
     WHERE v.id = ANY (ARRAY(SELECT x.id FROM jsrt.events x WHERE x.created_at < now() - keep_events
                              ORDER BY x.created_at LIMIT batch_size));
    GET DIAGNOSTICS e = ROW_COUNT;
    -- the outbox's counts (jsrt.event_counts) last as long as its events
    DELETE FROM jsrt.event_counts c
     WHERE c.ctid = ANY (ARRAY(SELECT x.ctid FROM jsrt.event_counts x WHERE x.counted_at < now() - keep_events
                                LIMIT batch_size));
    GET DIAGNOSTICS m2 = ROW_COUNT;
    e := e + m2;
    -- expired ctx.cache entries (reads skip them already)
    DELETE FROM jsrt.cache c
     WHERE (c.tenant_id, c.key) IN (SELECT x.tenant_id, x.key FROM jsrt.cache x
                                     WHERE x.expires_at < clock_timestamp() LIMIT batch_size);
    GET DIAGNOSTICS k = ROW_COUNT;
    RETURN n + m + e + k;
END $$;

-- Runs left `running` by executors that are gone (killed, or the server
-- restarted), recorded as failed; never a live executor's run (its pid is a
-- jsrt backend in pg_stat_activity). Each executor calls it as it starts
-- (src/workers/executor.rs), then sends event runs down the retry path.
-- Concurrent callers fail each run once: the second waits for the first's
-- row lock, then finds the row no longer running. Internal: no grant.
CREATE FUNCTION jsrt._recover_runs() RETURNS SETOF uuid
LANGUAGE sql SET search_path = pg_catalog, jsrt, pg_temp AS $$
    UPDATE jsrt.script_executions e
       SET status = 'failed', completed_at = now(),
           error = 'the executor running it stopped (' || coalesce(e.worker, 'unknown')
                   || ' died) after the run had started; it did not finish'
     WHERE e.status = 'running'
       AND NOT EXISTS (SELECT 1 FROM pg_stat_activity a
                        WHERE a.pid::text = split_part(e.worker, ' ', 2) AND a.backend_type LIKE 'jsrt%'
                         AND a.backend_start <= e.started_at)
    RETURNING e.id
$$;

-- Tenant states and moves between clusters (sql/cells.sql, as a fresh install has it).
-- jsruntime 0.2.0: tenant cells (docs/scale-out.md). A tenant's state, and
-- moving a tenant to another cluster by export and import:
--   on A:  jsrt.set_tenant_state(t, 'suspended'); wait for its runs going on;
--          COPY (SELECT tbl, data FROM jsrt.export_tenant(t) ORDER BY ord) TO STDOUT
--   on B:  COPY a staging table (tbl text, data jsonb) FROM STDIN;
--          jsrt.import_tenant('staging')   (the tenant arrives suspended)
--   then   jsrt.set_tenant_state(t, 'moved') on A, jsrt.set_tenant_state(t, 'active') on B.
-- Export and import are the DBA's (superusers: no grant), set_tenant_state
-- the superadmins' too (DESIGN.md section 6).

-- Sets a tenant's state; returns the state it had. 'suspended' and 'moved'
-- hold its queued runs and schedules (the executors' claim and jsrt.run_due
-- skip it) and refuse its runs (jsrt.execute, HTTP, typed functions);
-- 'moved' also refuses jsrt.set_tenant. 'active' again releases them all.
-- Superadmins (security.sql); as the owner, to wake the workers.
CREATE FUNCTION jsrt.set_tenant_state(tenant text, state text) RETURNS text
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    was text;
BEGIN
    IF set_tenant_state.state IS NULL OR set_tenant_state.state NOT IN ('active', 'suspended', 'moved') THEN
        RAISE EXCEPTION 'a tenant state is active, suspended or moved, got %',
            coalesce(quote_literal(set_tenant_state.state), 'NULL')
            USING ERRCODE = '22023', DETAIL = 'argument "state"';
    END IF;
    SELECT t.state INTO was FROM jsrt.tenants t
     WHERE t.name = set_tenant_state.tenant OR t.id::text = lower(set_tenant_state.tenant) FOR UPDATE;
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', set_tenant_state.tenant USING ERRCODE = '42704';
    END IF;
    UPDATE jsrt.tenants t SET state = set_tenant_state.state
     WHERE t.name = set_tenant_state.tenant OR t.id::text = lower(set_tenant_state.tenant);
    IF set_tenant_state.state = 'active' THEN
        -- its held runs and schedules are due now: no need to wait for the next pass
        PERFORM jsrt._wake_executors();
        PERFORM jsrt._wake_scheduler();
    END IF;
    RETURN was;
END $$;

-- The tables a tenant's export holds, in the order an import writes them
-- (each after the tables it references). jsrt.cache is left out: a cache.
CREATE FUNCTION jsrt._tenant_tables() RETURNS TABLE (ord integer, tbl text)
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT o::integer, 'jsrt.' || t FROM unnest(ARRAY[
        'tenants', 'tenant_members', 'scripts', 'script_versions', 'script_event_subscriptions',
        'script_scheduled_jobs', 'script_http_endpoints', 'events', 'event_counts', 'script_executions',
        'script_event_dead_letters', 'secrets', 'api_keys']) WITH ORDINALITY AS x(t, o)
$$;

-- Every row of one tenant, one row each: its jsrt rows (scripts, versions,
-- history with its queued runs, dead letters, events, secrets with their
-- values, API keys' hashes, members by role name) and its rows of every
-- exposed table (ord 100 and on). One snapshot: COPY it in one statement.
-- The tenant must be suspended (or moved) with no run going on, so that
-- nothing it does on this cluster is lost after the copy.
CREATE FUNCTION jsrt.export_tenant(tenant text) RETURNS TABLE (ord integer, tbl text, data jsonb)
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    t jsrt.tenants;
    going integer;
    x record;
    n integer := 100;
BEGIN
    SELECT * INTO t FROM jsrt.tenants tn WHERE tn.name = export_tenant.tenant OR tn.id::text = lower(export_tenant.tenant);
    IF NOT FOUND THEN
        RAISE EXCEPTION 'tenant "%" does not exist', export_tenant.tenant USING ERRCODE = '42704';
    END IF;
    IF t.state = 'active' THEN
        RAISE EXCEPTION 'tenant "%" is active: its runs would go on after the export', t.name
            USING ERRCODE = '55000',
                  HINT = format('SELECT jsrt.set_tenant_state(%L, ''suspended''), then wait until its runs going on end.', t.name);
    END IF;
    SELECT count(*) INTO going FROM jsrt.script_executions e WHERE e.tenant_id = t.id AND e.status = 'running';
    IF going > 0 THEN
        RAISE EXCEPTION 'tenant "%" has % runs going on', t.name, going USING ERRCODE = '55000',
            HINT = 'Wait until they end (jsrt.running(), or status ''running'' in jsrt.script_executions), or cancel them.';
    END IF;
    FOR x IN SELECT tt.ord, tt.tbl FROM jsrt._tenant_tables() tt ORDER BY tt.ord LOOP
        IF x.tbl = 'jsrt.tenants' THEN
            RETURN QUERY SELECT x.ord, x.tbl, to_jsonb(t);
        ELSIF x.tbl = 'jsrt.tenant_members' THEN
            -- regrole as its name: OIDs mean nothing on another cluster
            RETURN QUERY SELECT x.ord, x.tbl, to_jsonb(m) || jsonb_build_object('member', m.member::text)
                           FROM jsrt.tenant_members m WHERE m.tenant_id = t.id;
        ELSE
            RETURN QUERY EXECUTE format('SELECT $1, $2, to_jsonb(r) FROM %s r WHERE r.tenant_id = $3', x.tbl)
                USING x.ord, x.tbl, t.id;
        END IF;
    END LOOP;
    FOR x IN SELECT format('%I.%I', ns.nspname, c.relname) AS name, e.tbl AS rel, e.tenant_column,
                    format_type(a.atttypid, NULL) AS col_type
               FROM jsrt.exposed_tables e JOIN pg_catalog.pg_class c ON c.oid = e.tbl
               JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
               JOIN pg_catalog.pg_attribute a ON a.attrelid = e.tbl AND a.attname = e.tenant_column
              ORDER BY 1 LOOP
        n := n + 1;
        -- (the tenant column is uuid or text: expose_table; compared in its type, so its index serves)
        RETURN QUERY EXECUTE format('SELECT $1, $2, to_jsonb(r) FROM %s r WHERE r.%I = $3::text::%s',
                                   x.rel, x.tenant_column, x.col_type)
            USING n, x.name, t.id;
    END LOOP;
END $$;

-- What an import changes in a row of the export: event ids are this
-- cluster's own (an identity), so events get new ones, and the runs and
-- dead letters that name an event follow ("remap": old id -> new id).
CREATE FUNCTION jsrt._import_remap(tbl text, data jsonb, remap jsonb) RETURNS jsonb
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT CASE
        WHEN tbl = 'jsrt.events' THEN data || jsonb_build_object('id', remap -> (data ->> 'id'))
        WHEN tbl = 'jsrt.script_executions' AND remap ? (data #>> '{trigger_data,event_id}')
            THEN jsonb_set(data, '{trigger_data,event_id}', remap -> (data #>> '{trigger_data,event_id}'))
        WHEN tbl = 'jsrt.script_event_dead_letters' AND remap ? (data #>> '{event_data,event,event_id}')
            THEN jsonb_set(data, '{event_data,event,event_id}', remap -> (data #>> '{event_data,event,event_id}'))
        ELSE data END
$$;

-- Writes the rows of one table of an import; returns how many.
CREATE FUNCTION jsrt._import_rows(source regclass, tbl text, target regclass, remap jsonb) RETURNS bigint
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    cols text;
    vals text;
    n bigint;
BEGIN
    -- every column but generated ones, which Postgres computes
    SELECT string_agg(quote_ident(a.attname), ', ' ORDER BY a.attnum),
           string_agg('r.' || quote_ident(a.attname), ', ' ORDER BY a.attnum) INTO cols, vals
      FROM pg_catalog.pg_attribute a
     WHERE a.attrelid = target AND a.attnum > 0 AND NOT a.attisdropped AND a.attgenerated = '';
    EXECUTE format('INSERT INTO %s (%s) OVERRIDING SYSTEM VALUE SELECT %s
                      FROM %s s, jsonb_populate_record(NULL::%s, jsrt._import_remap(s.tbl, s.data, $2)) r
                     WHERE s.tbl = $1',
                   target, cols, vals, source, target)
        USING tbl, remap;
    GET DIAGNOSTICS n = ROW_COUNT;
    RETURN n;
END $$;

-- Writes a tenant exported by jsrt.export_tenant from a staging table with
-- columns (tbl text, data jsonb), in one transaction; returns the rows
-- written by table. The tenant arrives suspended: make it active here once
-- it is marked moved on the cluster it came from. Rows are written as
-- logical replication writes them (session_replication_role = replica):
-- no trigger fires, so no version, job, fan-out or alert is made again.
-- Refused: a tenant (id or name) that exists here, a role of its members
-- or an exposed table of its rows missing here, rows of another tenant.
CREATE FUNCTION jsrt.import_tenant(source regclass) RETURNS jsonb
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp SET session_replication_role = replica AS $$
DECLARE
    t jsrt.tenants;
    rows integer;
    bad text;
    x record;
    remap jsonb;
    counts jsonb := '{}';
BEGIN
    IF (SELECT count(*) FROM pg_catalog.pg_attribute a
         WHERE a.attrelid = source AND NOT a.attisdropped
           AND ((a.attname = 'tbl' AND a.atttypid = 'text'::regtype) OR (a.attname = 'data' AND a.atttypid = 'jsonb'::regtype))) <> 2 THEN
        RAISE EXCEPTION 'the import''s table % needs columns tbl text and data jsonb', source
            USING ERRCODE = '22023', DETAIL = 'argument "source"',
                  HINT = 'COPY the output of jsrt.export_tenant (columns tbl, data) into it.';
    END IF;
    EXECUTE format('SELECT count(*), min(s.data::text) FROM %s s WHERE s.tbl = ''jsrt.tenants''', source) INTO rows, bad;
    IF rows <> 1 THEN
        RAISE EXCEPTION 'the import in % has % tenant rows, not one', source, rows USING ERRCODE = '22023',
            HINT = 'It must hold the output of one jsrt.export_tenant call.';
    END IF;
    t := jsonb_populate_record(NULL::jsrt.tenants, bad::jsonb);
    IF EXISTS (SELECT 1 FROM jsrt.tenants tn WHERE tn.id = t.id OR tn.name = t.name) THEN
        RAISE EXCEPTION 'tenant "%" (%) already exists on this cluster', t.name, t.id USING ERRCODE = '23505',
            HINT = 'A tenant is imported once; delete the copy here first if an earlier import is to be replaced.';
    END IF;
    -- Every row must be this tenant's.
    EXECUTE format('SELECT s.tbl FROM %s s WHERE s.tbl LIKE ''jsrt.%%'' AND s.tbl <> ''jsrt.tenants''
                      AND (s.data ->> ''tenant_id'') IS DISTINCT FROM $1::text LIMIT 1', source) INTO bad USING t.id;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'the import has a row of % that is not tenant "%"''s', bad, t.name USING ERRCODE = '22023';
    END IF;
    EXECUTE format('SELECT s.tbl FROM %s s WHERE s.tbl LIKE ''jsrt.%%''
                      AND s.tbl NOT IN (SELECT tt.tbl FROM jsrt._tenant_tables() tt) LIMIT 1', source) INTO bad;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'the import has rows of %, which an export does not hold', bad USING ERRCODE = '22023';
    END IF;
    EXECUTE format('SELECT s.data ->> ''member'' FROM %s s WHERE s.tbl = ''jsrt.tenant_members''
                      AND pg_catalog.to_regrole(s.data ->> ''member'') IS NULL LIMIT 1', source) INTO bad;
    IF bad IS NOT NULL THEN
        RAISE EXCEPTION 'role "%", a member of tenant "%", does not exist on this cluster', bad, t.name
            USING ERRCODE = '42704', HINT = 'Create the role here first (roles are per cluster).';
    END IF;

    INSERT INTO jsrt.tenants SELECT (jsonb_populate_record(NULL::jsrt.tenants, to_jsonb(t) || '{"state": "suspended"}')).*;
    counts := jsonb_build_object('jsrt.tenants', 1);
    -- new event ids, in the order of the old ones
    EXECUTE format('SELECT coalesce(jsonb_object_agg(q.id, nextval(pg_catalog.pg_get_serial_sequence(''jsrt.events'', ''id''))), ''{}'')
                      FROM (SELECT s.data ->> ''id'' AS id FROM %s s WHERE s.tbl = ''jsrt.events''
                             ORDER BY (s.data ->> ''id'')::bigint) q', source) INTO remap;
    FOR x IN SELECT tt.tbl FROM jsrt._tenant_tables() tt WHERE tt.tbl <> 'jsrt.tenants' ORDER BY tt.ord LOOP
        counts := counts || jsonb_build_object(x.tbl, jsrt._import_rows(source, x.tbl, x.tbl::regclass, remap));
    END LOOP;

    -- Business rows: into the table of that name, exposed here with the same tenant column.
    FOR x IN EXECUTE format('SELECT DISTINCT s.tbl FROM %s s WHERE s.tbl NOT LIKE ''jsrt.%%'' ORDER BY 1', source) LOOP
        SELECT e.tenant_column INTO bad FROM jsrt.exposed_tables e JOIN pg_catalog.pg_class c ON c.oid = e.tbl
          JOIN pg_catalog.pg_namespace ns ON ns.oid = c.relnamespace
         WHERE format('%I.%I', ns.nspname, c.relname) = x.tbl;
        IF NOT FOUND THEN
            RAISE EXCEPTION 'the import has rows of %, which is not an exposed table on this cluster', x.tbl
                USING ERRCODE = '42P01', HINT = 'Create the table here and call jsrt.expose_table first.';
        END IF;
        EXECUTE format('SELECT count(*) FROM %s s WHERE s.tbl = $1 AND (s.data ->> %L) IS DISTINCT FROM $2::text', source, bad)
            INTO rows USING x.tbl, t.id;
        IF rows > 0 THEN
            RAISE EXCEPTION '% rows of % in the import are not tenant "%"''s (column %)', rows, x.tbl, t.name, bad
                USING ERRCODE = '22023', HINT = 'Expose the table with the same tenant column as on the cluster it came from.';
        END IF;
        counts := counts || jsonb_build_object(x.tbl, jsrt._import_rows(source, x.tbl, x.tbl::regclass, '{}'));
    END LOOP;
    RETURN counts;
END $$;

-- ---------------------------------------------------------------- LANGUAGE jsrt

CREATE TRUSTED LANGUAGE jsrt HANDLER jsrt.call_handler VALIDATOR jsrt.validator;
COMMENT ON LANGUAGE jsrt IS 'jsruntime scripts as SQL functions and triggers';

-- ---------------------------------------------------------------- triggers

CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON jsrt.api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION jsrt._scripts_changed();
CREATE TRIGGER tenants_changed AFTER UPDATE OF max_concurrent_runs, state ON jsrt.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION jsrt._scripts_changed();
CREATE TRIGGER scripts_in_use BEFORE DELETE OR UPDATE OF name ON jsrt.scripts
    FOR EACH ROW EXECUTE FUNCTION jsrt._scripts_in_use();
-- (row triggers become statement triggers over the statement's events)
CREATE TRIGGER events_check AFTER INSERT ON jsrt.events REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION jsrt._events_check();
CREATE TRIGGER events_fan_out AFTER INSERT ON jsrt.events REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION jsrt._events_fan_out();
CREATE TRIGGER executions_failed_alert AFTER INSERT ON jsrt.script_executions FOR EACH ROW
    WHEN (NEW.status IN ('failed', 'timeout') AND NEW.worker IS NOT NULL AND NEW.trigger_type IN ('manual', 'cron', 'event'))
    EXECUTE FUNCTION jsrt._alert_run_failed();
CREATE TRIGGER executions_failed_alert_update AFTER UPDATE OF status ON jsrt.script_executions FOR EACH ROW
    WHEN (NEW.status IN ('failed', 'timeout') AND OLD.status IS DISTINCT FROM NEW.status
          AND NEW.worker IS NOT NULL AND NEW.trigger_type IN ('manual', 'cron', 'event'))
    EXECUTE FUNCTION jsrt._alert_run_failed();
CREATE TRIGGER dead_letters_alert AFTER INSERT ON jsrt.script_event_dead_letters FOR EACH ROW
    WHEN (NEW.event_type NOT LIKE 'jsrt.%')
    EXECUTE FUNCTION jsrt._alert_dead_letter();
CREATE TRIGGER executions_job_status AFTER UPDATE OF status ON jsrt.script_executions
    FOR EACH ROW WHEN (NEW.trigger_type = 'cron' AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION jsrt._job_run_status();

-- ---------------------------------------------------------------- row-level security and grants

ALTER TABLE jsrt.event_counts ENABLE ROW LEVEL SECURITY;
ALTER TABLE jsrt.event_counts FORCE ROW LEVEL SECURITY;
CREATE POLICY tenant_isolation ON jsrt.event_counts
    USING (tenant_id = jsrt.tenant_id()) WITH CHECK (tenant_id = jsrt.tenant_id());
CREATE POLICY superadmin_all ON jsrt.event_counts TO jsrt_superadmin USING (true) WITH CHECK (true);

-- Nothing in schema jsrt is anyone's by default: the new functions neither.
REVOKE ALL ON ALL FUNCTIONS IN SCHEMA jsrt FROM PUBLIC;

GRANT SELECT ON jsrt.event_counts TO jsrt_viewer;
GRANT EXECUTE ON FUNCTION jsrt.http_dispatch(text, text, jsonb, text, boolean), jsrt.running() TO jsrt_viewer;

GRANT EXECUTE ON FUNCTION jsrt.dry_run(text, text, jsonb, boolean), jsrt._execute_object(text, "any"),
                          jsrt._check_input_schema(jsonb), jsrt._timezone_known(text), jsrt._check_retry(jsonb),
                          jsrt._check_http_path(text, text), jsrt._http_routes_clash(text, text[], text, text[]),
                          jsrt._methods_text(text[]),
                          jsrt.create_function(text, text, jsonb),
                          jsrt.create_trigger(text, regclass, text, text, jsonb),
                          jsrt._function_comment(jsrt.scripts), jsrt._function_body(jsrt.scripts, jsonb)
   TO jsrt_developer;
REVOKE USAGE ON LANGUAGE jsrt FROM PUBLIC;
GRANT USAGE ON LANGUAGE jsrt TO jsrt_developer;

-- Not column "system": only the extension writes its own jsrt.* events.
REVOKE INSERT ON jsrt.events FROM jsrt_developer;
GRANT INSERT (tenant_id, event_type, payload, depth) ON jsrt.events TO jsrt_developer;

-- Which tables scripts reach is the DBA's decision: superadmins change it, admins see it.
REVOKE INSERT, DELETE ON jsrt.exposed_tables FROM jsrt_admin;
REVOKE EXECUTE ON FUNCTION jsrt.expose_table(regclass, name), jsrt.unexpose_table(regclass),
                           jsrt._owned_sequences(regclass)
    FROM jsrt_admin;
GRANT INSERT, DELETE ON jsrt.exposed_tables TO jsrt_superadmin;
GRANT EXECUTE ON FUNCTION jsrt.expose_table(regclass, name), jsrt.unexpose_table(regclass),
                          jsrt._owned_sequences(regclass)
   TO jsrt_superadmin;
GRANT EXECUTE ON FUNCTION jsrt.set_tenant_max_concurrent_runs(text, integer) TO jsrt_superadmin;
GRANT EXECUTE ON FUNCTION jsrt.set_tenant_state(text, text) TO jsrt_superadmin;
