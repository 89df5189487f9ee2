-- jsruntime: the script-management SQL API (DESIGN.md section 5).
-- Included last (finalize), so the Rust functions it calls exist.
-- Validation lives in triggers, so direct writes to jsrt.scripts are checked too.

-- ---------------------------------------------------------------- tenants

CREATE FUNCTION jsrt.create_tenant(name text) RETURNS uuid
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

-- jsrt.set_tenant(name_or_id, local) and jsrt.tenant_id() are Rust (src/api/tenants.rs).

-- The session's tenant, or an error when none is set.
CREATE FUNCTION jsrt.current_tenant() RETURNS uuid
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

-- Lets members of a role use a tenant. Superadmins only (see sql/security.sql).
CREATE FUNCTION jsrt.grant_tenant(tenant text, member regrole) RETURNS void
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

CREATE FUNCTION jsrt.revoke_tenant(tenant text, member regrole) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    DELETE FROM jsrt.tenant_members m USING jsrt.tenants t
     WHERE m.tenant_id = t.id AND (t.name = tenant OR t.id::text = lower(tenant))
       AND m.member = revoke_tenant.member;
END $$;

-- Caps the runs of a tenant going on at once, across every trigger
-- (synchronous, queued, event, cron, HTTP); NULL goes back to the setting
-- jsrt.max_concurrent_runs_per_tenant, 0 is no cap. Superadmins only.
CREATE FUNCTION jsrt.set_tenant_max_concurrent_runs(tenant text, max_runs integer) RETURNS void
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

-- ---------------------------------------------------------------- validation

-- Status transitions: see README "Script lifecycle".
CREATE FUNCTION jsrt._status_transition_allowed(from_status text, to_status text) RETURNS boolean
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT from_status = to_status OR (from_status, to_status) IN (
        ('draft', 'active'), ('draft', 'archived'),
        ('active', 'paused'), ('active', 'disabled'), ('active', 'archived'),
        ('paused', 'active'), ('paused', 'disabled'), ('paused', 'archived'),
        ('disabled', 'active'), ('disabled', 'archived'),
        ('archived', 'draft'))
$$;

-- An endpoint's methods for messages: (GET, PUT), or (every method).
CREATE FUNCTION jsrt._methods_text(methods text[]) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT '(' || CASE WHEN coalesce(array_length(methods, 1), 0) = 0 THEN 'every method'
                       ELSE array_to_string(methods, ', ') END || ')'
$$;

CREATE FUNCTION jsrt._scripts_validate() RETURNS trigger
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

-- Every change of source writes the next version, in the same transaction.
-- SECURITY DEFINER: writers of scripts may not write versions themselves.
CREATE FUNCTION jsrt._scripts_version() RETURNS trigger
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

-- A restore writes each script's current version twice: once through the
-- scripts trigger above, once from the dump. The same row again is no change.
CREATE FUNCTION jsrt._versions_dedupe() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    IF EXISTS (SELECT 1 FROM jsrt.script_versions v
                WHERE v.script_id = NEW.script_id AND v.version_number = NEW.version_number
                  AND v.source = NEW.source) THEN
        RETURN NULL;
    END IF;
    RETURN NEW;
END $$;

CREATE FUNCTION jsrt._versions_immutable() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    RAISE EXCEPTION 'script versions are immutable' USING ERRCODE = '55000';
END $$;

-- jsrt._scripts_changed() (Rust) makes other backends drop cached code for scripts at commit.

CREATE TRIGGER scripts_validate BEFORE INSERT OR UPDATE ON jsrt.scripts
    FOR EACH ROW EXECUTE FUNCTION jsrt._scripts_validate();
CREATE TRIGGER scripts_version AFTER INSERT OR UPDATE ON jsrt.scripts
    FOR EACH ROW EXECUTE FUNCTION jsrt._scripts_version();
CREATE TRIGGER scripts_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON jsrt.scripts
    FOR EACH STATEMENT EXECUTE FUNCTION jsrt._scripts_changed();
-- Cached scripts carry their tenant's cap on runs going on, and its state.
CREATE TRIGGER tenants_changed AFTER UPDATE OF max_concurrent_runs, state ON jsrt.tenants
    FOR EACH STATEMENT EXECUTE FUNCTION jsrt._scripts_changed();
CREATE TRIGGER script_versions_dedupe BEFORE INSERT ON jsrt.script_versions
    FOR EACH ROW EXECUTE FUNCTION jsrt._versions_dedupe();
CREATE TRIGGER script_versions_immutable BEFORE UPDATE ON jsrt.script_versions
    FOR EACH ROW EXECUTE FUNCTION jsrt._versions_immutable();

-- ---------------------------------------------------------------- scripts

-- Finds a script of the session's tenant by name or id, or raises.
CREATE FUNCTION jsrt._resolve_script(script text) RETURNS jsrt.scripts
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

-- A scheduled script's retry policy: NULL (none), or {"attempts": 1-10 (runs in all,
-- the first included), "backoff_ms": 0-86400000 (the wait before the first retry,
-- doubling for each next one, as for events)}.
CREATE FUNCTION jsrt._check_retry(retry jsonb) RETURNS void
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

CREATE FUNCTION jsrt._check_options(options jsonb) RETURNS void
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

CREATE FUNCTION jsrt._text_array(value jsonb) RETURNS text[]
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT CASE WHEN value IS NULL OR jsonb_typeof(value) = 'null' THEN NULL
                ELSE ARRAY(SELECT jsonb_array_elements_text(value)) END
$$;

CREATE FUNCTION jsrt.create_script(name text, source text, type text DEFAULT 'oneoff', options jsonb DEFAULT '{}')
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

CREATE FUNCTION jsrt.update_script(script text, source text DEFAULT NULL, options jsonb DEFAULT '{}',
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

CREATE FUNCTION jsrt.set_status(script text, status text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    cur jsrt.scripts := jsrt._resolve_script(script);
BEGIN
    UPDATE jsrt.scripts s SET status = set_status.status WHERE s.id = cur.id;
END $$;

CREATE FUNCTION jsrt.delete_script(script text) RETURNS void
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    cur jsrt.scripts := jsrt._resolve_script(script);
BEGIN
    DELETE FROM jsrt.scripts s WHERE s.id = cur.id;
END $$;

CREATE FUNCTION jsrt.rollback_script(script text, version integer) RETURNS integer
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

-- Scripts of the session's tenant, newest first, filtered and paginated.
CREATE FUNCTION jsrt.list_scripts(script_type text DEFAULT NULL, script_status text DEFAULT NULL, tag text DEFAULT NULL,
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

-- ---------------------------------------------------------------- execution

-- jsrt.execute(script, jsonb_build_object(k1, v1, ...)) is planned as
-- jsrt._execute_object(script, k1, v1, ...), which makes the input object
-- without the jsonb (src/engine/object_call.rs).
CREATE FUNCTION jsrt._execute_object(script text, VARIADIC "any") RETURNS jsonb
    AS 'MODULE_PATHNAME', 'jsrt_execute_object' LANGUAGE C;
CREATE FUNCTION jsrt._execute_support(internal) RETURNS internal
    AS 'MODULE_PATHNAME', 'jsrt_execute_support' LANGUAGE C STRICT;

CREATE FUNCTION jsrt.execute(script text, input jsonb DEFAULT '{}') RETURNS jsonb
LANGUAGE sql SUPPORT jsrt._execute_support AS $$
    SELECT jsrt._execute(script, input::text)::jsonb
$$;

-- ---------------------------------------------------------------- tables scripts may reach

-- The sequences of a table's serial columns: inserts from scripts need them.
CREATE FUNCTION jsrt._owned_sequences(tbl regclass) RETURNS SETOF regclass
LANGUAGE sql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT d.objid::regclass FROM pg_depend d JOIN pg_class s ON s.oid = d.objid
     WHERE d.refobjid = tbl AND d.classid = 'pg_class'::regclass AND s.relkind = 'S'
$$;

-- Makes a table reachable through ctx.db: grants the script role and adds
-- policies that limit it to the run's tenant. The caller must own the table.
CREATE FUNCTION jsrt.expose_table(tbl regclass, tenant_column name DEFAULT 'tenant_id') RETURNS void
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

CREATE FUNCTION jsrt.unexpose_table(tbl regclass) RETURNS void
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

-- ---------------------------------------------------------------- scripts as SQL functions

-- LANGUAGE jsrt: a function whose body is a script's id. Calls convert the
-- Datums straight to JS values and the result straight back (src/engine/typed.rs).
-- Trusted: its functions run as their caller, their script's SQL as jsrt_script,
-- and only in the session's tenant, the script's own; SECURITY DEFINER is refused.
CREATE FUNCTION jsrt.call_handler() RETURNS language_handler
    AS 'MODULE_PATHNAME', 'jsrt_call_handler' LANGUAGE C;
CREATE FUNCTION jsrt.validator(oid) RETURNS void
    AS 'MODULE_PATHNAME', 'jsrt_validator' LANGUAGE C STRICT;
CREATE TRUSTED LANGUAGE jsrt HANDLER jsrt.call_handler VALIDATOR jsrt.validator;
COMMENT ON LANGUAGE jsrt IS 'jsruntime scripts as SQL functions and triggers';

-- The script's comment line on a function or trigger function it backs.
CREATE FUNCTION jsrt._function_comment(s jsrt.scripts) RETURNS text
LANGUAGE sql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT format('jsrt script "%s" (%s) of tenant %s', s.name, s.id, s.tenant_id)
$$;

-- The body of a LANGUAGE jsrt function: its script's id, and its options when there are any.
CREATE FUNCTION jsrt._function_body(s jsrt.scripts, options jsonb) RETURNS text
LANGUAGE sql IMMUTABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT s.id::text || CASE WHEN coalesce(options, '{}') = '{}' THEN '' ELSE ' ' || options::text END
$$;

-- Creates a SQL function backed by a script of the session's tenant, for example
-- jsrt.create_function('pricing', 'public.price(qty int, unit_price numeric, tier text) returns numeric').
-- It runs as the caller: the caller needs CREATE on the schema, which must be named.
-- options: {"exactTimestamps": true} (timestamps arrive as Postgres's text, microseconds
-- and all), {"jsonText": true} (json and jsonb arrive, and are returned, as JSON text).
CREATE FUNCTION jsrt.create_function(script text, signature text, options jsonb DEFAULT '{}') RETURNS regprocedure
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

-- A row trigger on tbl backed by a script of the session's tenant: events like
-- 'INSERT OR UPDATE' (or 'insert, update, delete'), timing 'BEFORE' or 'AFTER'.
-- Its trigger function is tbl's schema.<table>_<script>_jsrt(); both are the caller's.
CREATE FUNCTION jsrt.create_trigger(script text, tbl regclass, events text, timing text DEFAULT 'BEFORE',
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

-- A script backing a function or trigger cannot be deleted or renamed until they are dropped.
CREATE FUNCTION jsrt._scripts_in_use() RETURNS trigger
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

CREATE TRIGGER scripts_in_use BEFORE DELETE OR UPDATE OF name ON jsrt.scripts
    FOR EACH ROW EXECUTE FUNCTION jsrt._scripts_in_use();
