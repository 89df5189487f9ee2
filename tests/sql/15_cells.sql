-- Tenant cells (docs/scale-out.md): a tenant's state (jsrt.set_tenant_state),
-- which the executors' claim, the scheduler and every run honour, and moving
-- a tenant by jsrt.export_tenant and jsrt.import_tenant, here as a round trip
-- on one cluster (tests/integration/tenant_move.sh moves one between two).
RESET jsrt.tenant;
SELECT jsrt.create_tenant('cell_a') IS NOT NULL AS a, jsrt.create_tenant('cell_b') IS NOT NULL AS b;
SELECT state FROM jsrt.tenants WHERE name = 'cell_a';
-- A business table with an identity and a generated column, exposed to scripts.
CREATE TABLE public.cell_orders (
    tenant_id uuid NOT NULL, id int GENERATED ALWAYS AS IDENTITY, total numeric NOT NULL,
    doubled numeric GENERATED ALWAYS AS (total * 2) STORED, PRIMARY KEY (tenant_id, id));
SELECT jsrt.expose_table('public.cell_orders');
DO $$
DECLARE t text;
BEGIN
    FOREACH t IN ARRAY ARRAY['cell_a', 'cell_b'] LOOP
        PERFORM jsrt.set_tenant(t);
        PERFORM jsrt.create_script('add', 'export default (ctx) => 0', 'oneoff', '{"status": "active"}');
        PERFORM jsrt.update_script('add', 'export default (ctx) => { ctx.db.exec("INSERT INTO cell_orders (tenant_id, total) VALUES ($1, $2)", [ctx.tenant.id, ctx.input.total]); return ctx.input.total }');
        PERFORM jsrt.create_script('secret', 'export default (ctx) => ctx.secrets.get("token") === "s3cret-" + ctx.tenant.name', 'oneoff', '{"status": "active"}');
        PERFORM jsrt.create_script('on_paid', 'export default (ctx) => ctx.event.id', 'event', '{"status": "paused", "event_types": ["order.paid"]}');
        PERFORM jsrt.set_secret('token', 's3cret-' || t);
        PERFORM jsrt.create_api_key('ci', 'jsrt_developer');
        PERFORM jsrt.execute('add', '{"total": 10}');
        PERFORM jsrt.execute('add', '{"total": 20}');
        -- held for the paused subscriber: a pending event run that names its event
        PERFORM jsrt.emit('order.paid', '{"n": 1}');
    END LOOP;
END $$;
RESET jsrt.tenant;

-- Bad arguments get clear errors.
SELECT err($$SELECT jsrt.set_tenant_state('cell_a', 'gone')$$);
SELECT err($$SELECT jsrt.set_tenant_state('cell_a', NULL)$$);
SELECT err($$SELECT jsrt.set_tenant_state('no_such_cell', 'suspended')$$);
SELECT err($$SELECT * FROM jsrt.export_tenant('no_such_cell')$$);
-- An active tenant's runs would go on after a copy.
SELECT err($$SELECT * FROM jsrt.export_tenant('cell_a')$$);

-- Superadmins may suspend; export and import are the DBA's (superusers) alone.
DROP ROLE IF EXISTS r_cell;
CREATE ROLE r_cell;
GRANT jsrt_superadmin TO r_cell;
SET ROLE r_cell;
SELECT jsrt.set_tenant_state('cell_a', 'suspended') AS was;
SELECT err($$SELECT * FROM jsrt.export_tenant('cell_a')$$);
SELECT err($$SELECT jsrt.import_tenant('jsrt.tenants')$$);
RESET ROLE;

-- Suspended: its runs are refused, its queued runs wait, the other tenant runs.
SELECT jsrt.set_tenant('cell_a');
SELECT err($$SELECT jsrt.execute('add', '{"total": 1}')$$);
SELECT jsrt.execute_async('add', '{"total": 30}') AS queued_id \gset
SELECT pg_sleep(0.5);
SELECT status FROM jsrt.script_executions WHERE id = :'queued_id';
SELECT jsrt.set_tenant('cell_b');
SELECT jsrt.execute('add', '{"total": 5}') AS b_runs;
RESET jsrt.tenant;

-- The export: one row per row, of each table, the business rows last.
CREATE TEMP TABLE cell_move AS SELECT * FROM jsrt.export_tenant('cell_a');
-- (ord: the import's order; the business tables' depends on what else is exposed)
SELECT tbl, count(*) FROM cell_move GROUP BY ord, tbl ORDER BY ord;
-- No row of another tenant, values of secrets included, members by name.
SELECT count(*) AS foreign_rows FROM cell_move
 WHERE tbl <> 'jsrt.tenants' AND data->>'tenant_id' <> (SELECT id::text FROM jsrt.tenants WHERE name = 'cell_a');
SELECT data->>'value' AS secret FROM cell_move WHERE tbl = 'jsrt.secrets';
CREATE TEMP TABLE cell_counts AS SELECT tbl, count(*) AS n FROM cell_move GROUP BY tbl;

-- An import of a tenant that is here is refused.
SELECT regexp_replace(err($$SELECT jsrt.import_tenant('cell_move')$$), '[0-9a-f-]{36}', '<id>') AS err;

-- Moved: even jsrt.set_tenant is refused here.
SELECT jsrt.set_tenant_state('cell_a', 'moved') AS was;
SELECT err($$SELECT jsrt.set_tenant('cell_a')$$);

-- The round trip: the tenant goes (its business rows by hand), and comes back from the export.
SELECT id AS cell_a_id FROM jsrt.tenants WHERE name = 'cell_a' \gset
SELECT id AS old_event_id FROM jsrt.events WHERE tenant_id = :'cell_a_id' \gset
DELETE FROM public.cell_orders WHERE tenant_id = :'cell_a_id';
DELETE FROM jsrt.tenants WHERE name = 'cell_a';
SELECT key AS tbl, value AS written FROM jsonb_each(jsrt.import_tenant('cell_move')) ORDER BY key;
SELECT state FROM jsrt.tenants WHERE name = 'cell_a';
-- Every row is back, as exported (event ids are this cluster's new ones,
-- and the event run names its new one).
CREATE TEMP TABLE cell_back AS SELECT * FROM jsrt.export_tenant('cell_a');
SELECT c.tbl, c.n AS exported,
       (SELECT count(*) FROM cell_back b WHERE b.tbl = c.tbl) AS back,
       (SELECT count(*) FROM cell_move m WHERE m.tbl = c.tbl AND EXISTS (
            SELECT 1 FROM cell_back b
             WHERE b.tbl = m.tbl AND CASE m.tbl WHEN 'jsrt.events' THEN (b.data - 'id') = (m.data - 'id')
                                                WHEN 'jsrt.script_executions' THEN (b.data - 'trigger_data') = (m.data - 'trigger_data')
                                                ELSE b.data = m.data END)) AS same
  FROM cell_counts c ORDER BY c.tbl;
SELECT e.id > :old_event_id AS renumbered, x.trigger_data->>'event_id' = e.id::text AS run_follows
  FROM jsrt.events e JOIN jsrt.script_executions x ON x.tenant_id = e.tenant_id AND x.trigger_type = 'event'
 WHERE e.tenant_id = :'cell_a_id';
SELECT total, doubled FROM public.cell_orders WHERE tenant_id = :'cell_a_id' ORDER BY id;
-- Versions came over as they were (no new version made by the import).
SELECT s.version, (SELECT count(*) FROM jsrt.script_versions v WHERE v.script_id = s.id) AS versions
  FROM jsrt.scripts s WHERE s.tenant_id = :'cell_a_id' AND s.name = 'add';

-- Active again: the run queued while suspended completes, secrets are read.
SELECT jsrt.set_tenant_state('cell_a', 'active') AS was;
SELECT jsrt.wait(:'queued_id', 20000) ->> 'status' AS queued_run;
SELECT jsrt.set_tenant('cell_a');
SELECT jsrt.execute('secret') AS secret_ok;
RESET jsrt.tenant;
SELECT t.name, count(o.*) AS orders FROM jsrt.tenants t LEFT JOIN public.cell_orders o ON o.tenant_id = t.id
 WHERE t.name LIKE 'cell_%' GROUP BY t.name ORDER BY t.name;

-- Bad imports: wrong columns, no tenant row, a role or an exposed table missing here.
CREATE TEMP TABLE cell_bad (tbl text, body jsonb);
SELECT err($$SELECT jsrt.import_tenant('cell_bad')$$);
CREATE TEMP TABLE cell_bad2 (tbl text, data jsonb);
SELECT err($$SELECT jsrt.import_tenant('cell_bad2')$$);
INSERT INTO cell_bad2 VALUES ('jsrt.tenants', '{"id": "00000000-0000-4000-8000-00000000c311", "name": "cell_c", "created_at": "2026-01-01T00:00:00Z", "state": "active"}'),
    ('jsrt.tenant_members', '{"tenant_id": "00000000-0000-4000-8000-00000000c311", "member": "no_such_role_here", "granted_at": "2026-01-01T00:00:00Z"}');
SELECT err($$SELECT jsrt.import_tenant('cell_bad2')$$);
DELETE FROM cell_bad2 WHERE tbl = 'jsrt.tenant_members';
INSERT INTO cell_bad2 VALUES ('public.not_exposed', '{"tenant_id": "00000000-0000-4000-8000-00000000c311"}');
SELECT err($$SELECT jsrt.import_tenant('cell_bad2')$$);
DELETE FROM cell_bad2 WHERE tbl = 'public.not_exposed';
INSERT INTO cell_bad2 VALUES ('jsrt.secrets', '{"tenant_id": "00000000-0000-4000-8000-0000000000ff", "name": "x", "value": "y", "updated_by": "me"}');
SELECT err($$SELECT jsrt.import_tenant('cell_bad2')$$);
SELECT count(*) AS cell_c FROM jsrt.tenants WHERE name = 'cell_c';

DROP ROLE r_cell;
