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
