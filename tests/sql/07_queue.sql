-- The asynchronous engine: subscriptions, events and their fan-out, queued
-- runs, cancel, retries and dead letters. The executors run the queue;
-- jsrt.wait waits for them.
SELECT jsrt.create_tenant('q') IS NOT NULL AS ok;
SELECT jsrt.set_tenant('q');
CREATE TABLE public.seen (id serial, tenant_id uuid, what text);
SELECT jsrt.expose_table('public.seen');
-- Waits until q (a boolean query) holds, up to 20 s.
CREATE FUNCTION public.wait_for(q text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE ok boolean;
BEGIN
    FOR i IN 1..2000 LOOP
        EXECUTE q INTO ok;
        IF ok THEN RETURN true; END IF;
        PERFORM pg_sleep(0.01);
    END LOOP;
    RETURN false;
END $$;

-- Subscriptions follow the scripts' event types and status.
SELECT jsrt.create_script('on-order', $js$
export default function (ctx) {
  ctx.db.insert('seen', {what: `${ctx.event.type} n=${ctx.input.n} attempt=${ctx.execution.attempt}`});
  if (ctx.input.fail) throw new Error('boom ' + ctx.input.n);
  if (ctx.input.chain) ctx.events.publish('order.created', {n: ctx.input.n + 1, chain: true});
  const e = ctx.event;
  // {id, type, payload, depth, emittedAt}; the names of 0.1 still answer, not enumerated
  const same = e.event_id === e.id && e.event_type === e.type && e.emitted_at === e.emittedAt
    && e.payload === ctx.input && !Number.isNaN(Date.parse(e.emittedAt));
  return {n: ctx.input.n, depth: e.depth, trigger: ctx.execution.trigger,
          event_id: typeof e.id, keys: Object.keys(e).join(), aliases: same};
}$js$, 'event', '{"status": "draft", "event_types": ["order.created", "order.paid"]}') IS NOT NULL AS ok;
SELECT event_type, is_active FROM jsrt.script_event_subscriptions ORDER BY event_type;
SELECT jsrt.set_status('on-order', 'active');
SELECT jsrt.update_script('on-order', options => '{"event_types": ["order.created", "order.shipped"]}');
SELECT event_type, is_active FROM jsrt.script_event_subscriptions ORDER BY event_type;

-- Bad events are refused, and nothing is written; a bulk INSERT names its first bad row.
SELECT err($$SELECT jsrt.emit('order.created', '[1, 2]')$$);
SELECT err($$SELECT jsrt.emit('bad type!', '{}')$$);
SELECT err($$SELECT jsrt.emit('order.created', NULL)$$);
SELECT err($$SELECT jsrt.emit('jsrt.run.failed', '{}')$$);
SET jsrt.max_event_depth = 2;
SELECT err($$INSERT INTO jsrt.events(event_type, payload, depth) VALUES ('order.created', '{}', 3)$$);
RESET jsrt.max_event_depth;
CREATE FUNCTION public.err_detail(q text) RETURNS text LANGUAGE plpgsql AS $$
DECLARE d text;
BEGIN
    EXECUTE q;
    RETURN 'no error';
EXCEPTION WHEN OTHERS THEN
    GET STACKED DIAGNOSTICS d = PG_EXCEPTION_DETAIL;
    RETURN sqlstate || ': ' || sqlerrm || ' / ' || regexp_replace(d, 'event [0-9]+', 'event <id>');
END $$;
SELECT err_detail($$INSERT INTO jsrt.events(event_type, payload)
                    SELECT 'order.created', CASE WHEN g = 3 THEN '"three"' ELSE jsonb_build_object('n', g) END
                      FROM generate_series(1, 5) g$$);
SELECT err_detail($$INSERT INTO jsrt.events(event_type, payload) VALUES ('ok.type', '{}'), ('jsrt.dead_letter.created', '{}')$$);
SELECT has_column_privilege('jsrt_developer', 'jsrt.events', 'payload', 'INSERT') AS developer_inserts_payload,
       has_column_privilege('jsrt_developer', 'jsrt.events', 'system', 'INSERT') AS developer_inserts_system;
RESET jsrt.tenant;
SELECT err($$INSERT INTO jsrt.events(event_type, payload) VALUES ('order.created', '{}')$$);
SELECT jsrt.set_tenant('q');
SELECT count(*) AS events, (SELECT count(*) FROM jsrt.script_executions WHERE tenant_id = jsrt.current_tenant()) AS runs
  FROM jsrt.events WHERE tenant_id = jsrt.current_tenant();

-- An event nobody subscribes to is accepted, stored and counted, and runs nothing.
SELECT jsrt.emit('order.typo', '{"n": 1}') > 0 AS accepted;
INSERT INTO jsrt.events(event_type, payload) SELECT 'nobody.listens', jsonb_build_object('n', g) FROM generate_series(1, 3) g;
SELECT event_type, count(*) AS stored FROM jsrt.events WHERE tenant_id = jsrt.current_tenant() GROUP BY 1 ORDER BY 1;
SELECT event_type, sum(events) AS events, sum(runs) AS runs, sum(held) AS held, max(subscribers) AS subscribers
  FROM jsrt.event_counts WHERE tenant_id = jsrt.current_tenant() GROUP BY 1 ORDER BY 1;
SELECT count(*) AS runs FROM jsrt.script_executions WHERE tenant_id = jsrt.current_tenant();
DELETE FROM jsrt.events WHERE tenant_id = jsrt.current_tenant();

-- An event runs its subscribers once its transaction commits; a rolled-back one never runs.
BEGIN;
SELECT jsrt.emit('order.created', '{"n": 0}') > 0 AS emitted;
SELECT pg_sleep(0.3);
ROLLBACK;
SELECT jsrt.emit('order.created', '{"n": 1}') > 0 AS emitted;
SELECT wait_for($$SELECT count(*) = 1 FROM jsrt.script_executions WHERE status = 'completed' AND tenant_id = jsrt.current_tenant()$$);
SELECT status, trigger_type, attempt, output, trigger_data->>'event_type' AS event_type
  FROM jsrt.script_executions WHERE tenant_id = jsrt.current_tenant() ORDER BY started_at;
SELECT what FROM seen ORDER BY id;

-- Queued one-off runs, waited for.
SELECT jsrt.create_script('add', 'export default (ctx) => ctx.input.a + ctx.input.b', 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
SELECT jsrt.execute_async('add', '{"a": 2, "b": 3}') AS id \gset
SELECT jsrt.wait(:'id') - 'id' AS result;
SELECT err($$SELECT jsrt.execute_async('add', NULL)$$);
SELECT jsrt.set_status('add', 'paused');
SELECT err($$SELECT jsrt.execute_async('add')$$);

-- Cancel: a pending run (queued in this transaction), a running one, and errors.
SELECT jsrt.create_script('spin', 'export default () => { for (;;) { try { for (;;) {} } catch (e) {} } }',
                          'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
BEGIN;
SELECT jsrt.execute_async('spin') AS pending_id \gset
SELECT jsrt.cancel(:'pending_id') AS cancelled_pending;
COMMIT;
SELECT jsrt.wait(:'pending_id', 0)->>'status' AS pending_status;
SELECT jsrt.execute_async('spin') AS running_id \gset
SELECT wait_for(format($$SELECT status = 'running' FROM jsrt.script_executions WHERE id = %L$$, :'running_id'));
SELECT jsrt.cancel(:'running_id') AS cancelled_running;
SELECT jsrt.wait(:'running_id', 10000) ->> 'status' AS running_status;
-- (where the cancel lands, a script line or a host call, decides whether it has a line:column)
SELECT regexp_replace(error, ' \(line \d+:\d+\)$', '') AS error FROM jsrt.script_executions WHERE id = :'running_id';
SELECT error FROM jsrt.script_executions WHERE id = :'pending_id';
-- False, with nothing done: a finished run, an unknown id, another tenant's run.
SELECT jsrt.cancel(:'running_id') AS finished, jsrt.cancel('00000000-0000-0000-0000-000000000000') AS unknown;
SELECT jsrt.create_tenant('q_other') IS NOT NULL AS ok;
SELECT jsrt.set_tenant('q_other');
SELECT jsrt.cancel(:'running_id') AS other_tenants_finished;
BEGIN;
SELECT jsrt.set_tenant('q');
SELECT jsrt.execute_async('spin') AS theirs \gset
SELECT jsrt.set_tenant('q_other');
SELECT jsrt.cancel(:'theirs') AS other_tenants_pending;
SELECT jsrt.set_tenant('q');
SELECT jsrt.cancel(:'theirs') AS own_pending;
COMMIT;
-- No cancel is forgotten, however many: 200 runs queued and cancelled in one transaction never run.
BEGIN;
CREATE TEMP TABLE many AS SELECT jsrt.execute_async('spin') AS id FROM generate_series(1, 200);
SELECT count(*) FILTER (WHERE jsrt.cancel(id)) AS cancels_taken FROM many;
COMMIT;
SELECT pg_sleep(0.3);
SELECT status, error, count(*) FROM jsrt.script_executions WHERE id IN (SELECT id FROM many) GROUP BY 1, 2;
-- (gone again: later tests' plans are made for a small table)
DELETE FROM jsrt.script_executions WHERE id IN (SELECT id FROM many) OR id = :'theirs';
DROP TABLE many;

-- The tenant-wide cap: set by a superadmin, checked, back to the setting with NULL.
SELECT err($$SELECT jsrt.set_tenant_max_concurrent_runs('q', -1)$$);
SELECT err($$SELECT jsrt.set_tenant_max_concurrent_runs('nobody', 1)$$);
SELECT jsrt.set_tenant_max_concurrent_runs('q', 2);
SELECT max_concurrent_runs FROM jsrt.tenants WHERE name = 'q';
SELECT jsrt.set_tenant_max_concurrent_runs('q', NULL);
SELECT max_concurrent_runs IS NULL AS back_to_the_setting FROM jsrt.tenants WHERE name = 'q';
SHOW jsrt.max_concurrent_runs_per_tenant;

-- A failing event run is retried (base delay 200 ms here, doubling), then dead-lettered.
ALTER SYSTEM SET jsrt.event_retry_base_ms = 200;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT jsrt.emit('order.created', '{"n": 7, "fail": true}') > 0 AS emitted;
SELECT wait_for($$SELECT count(*) = 1 FROM jsrt.script_event_dead_letters WHERE tenant_id = jsrt.current_tenant()$$);
SELECT e.attempt, e.status, e.error, round(extract(epoch FROM e.run_after - p.started_at) / 0.2) AS delay_in_base_units
  FROM jsrt.script_executions e LEFT JOIN jsrt.script_executions p ON p.id = e.parent_execution_id
 WHERE e.input->>'n' = '7' AND e.tenant_id = jsrt.current_tenant() ORDER BY e.attempt;
SELECT count(*) AS writes_of_failed_runs FROM seen WHERE what LIKE '%n=7%';
SELECT event_type, event_data->'payload' AS payload, error, retry_count FROM jsrt.script_event_dead_letters
 WHERE tenant_id = jsrt.current_tenant();
ALTER SYSTEM RESET jsrt.event_retry_base_ms;
SELECT pg_reload_conf();
-- re-driving: refused while the script is paused, and a dead letter that does not exist
SELECT id AS dead_id FROM jsrt.script_event_dead_letters WHERE tenant_id = jsrt.current_tenant() \gset
SELECT jsrt.set_status('on-order', 'paused');
SELECT err(format($$SELECT jsrt.retry_dead_letter(%L)$$, :'dead_id'));
SELECT err($$SELECT jsrt.retry_dead_letter('00000000-0000-0000-0000-000000000000')$$);
SELECT jsrt.set_status('on-order', 'active');
SELECT jsrt.update_script('on-order', replace(source, 'if (ctx.input.fail)', 'if (false)')) > 1 AS fixed
  FROM jsrt.scripts WHERE name = 'on-order' AND tenant_id = jsrt.current_tenant();
SELECT jsrt.retry_dead_letter(:'dead_id') AS retry_id \gset
SELECT jsrt.wait(:'retry_id') ->> 'status' AS retried;
-- a dead letter whose retry completed is gone
SELECT count(*) AS dead_letters_left FROM jsrt.script_event_dead_letters WHERE tenant_id = jsrt.current_tenant();
SELECT jsrt.redrive_dead_letters(event_type => 'order.created') AS redriven_none;

-- Events published by event runs nest; the depth limit (8) stops a loop.
SELECT jsrt.emit('order.created', '{"n": 100, "chain": true}') > 0 AS emitted;
SELECT wait_for($$SELECT count(*) > 0 FROM jsrt.script_event_dead_letters WHERE event_data->'payload'->>'n' = '108'$$);
SELECT max((output->>'depth')::int) AS deepest_run,
       (SELECT error FROM jsrt.script_event_dead_letters WHERE event_data->'payload'->>'n' = '108') AS refused_with
  FROM jsrt.script_executions WHERE tenant_id = jsrt.current_tenant() AND (input->>'n')::int >= 100;
SELECT count(*) FILTER (WHERE parent_execution_id IS NOT NULL) > 0 AS linked_to_parents
  FROM jsrt.script_executions WHERE tenant_id = jsrt.current_tenant() AND (input->>'n')::int > 100;

-- max_concurrent_runs holds across executors: four runs of a 1-at-a-time script never overlap.
SELECT jsrt.create_script('slow', $js$export default (ctx) => { ctx.db.query('select pg_sleep(0.1)'); return 1; }$js$,
                          'oneoff', '{"status": "active", "resource_limits": {"max_concurrent_runs": 1}}') IS NOT NULL AS ok;
SELECT count(jsrt.execute_async('slow')) FROM generate_series(1, 4);
SELECT wait_for($$SELECT count(*) = 4 FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
                   WHERE s.name = 'slow' AND s.tenant_id = jsrt.current_tenant() AND e.status = 'completed'$$);
SELECT count(*) AS overlapping_pairs
  FROM jsrt.script_executions a JOIN jsrt.script_executions b ON a.script_id = b.script_id AND a.id < b.id
 WHERE a.script_id = (SELECT id FROM jsrt.scripts WHERE name = 'slow' AND tenant_id = jsrt.current_tenant())
   AND a.started_at < b.completed_at AND b.started_at < a.completed_at;

-- A paused subscriber holds its events and runs them, in order, once active
-- again; a draft one takes none; disabling a paused one cancels what it held.
SELECT jsrt.create_script('holder', $js$
export default (ctx) => { ctx.db.insert('seen', {what: `held n=${ctx.input.n}`}); return ctx.input.n; }
$js$, 'event', '{"status": "active", "event_types": ["hold.ev"]}') IS NOT NULL AS ok;
SELECT jsrt.create_script('drafty', 'export default () => 1', 'event',
                          '{"status": "draft", "event_types": ["hold.ev"]}') IS NOT NULL AS ok;
SELECT jsrt.set_status('holder', 'paused');
INSERT INTO jsrt.events(event_type, payload) SELECT 'hold.ev', jsonb_build_object('n', g) FROM generate_series(1, 6) g;
SELECT jsrt.emit('hold.ev', '{"n": 7}') > 0 AS emitted;
SELECT pg_sleep(0.5);
SELECT s.name, e.status, count(*) AS runs, bool_and(e.run_after = 'infinity') AS held
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE s.name IN ('holder', 'drafty') AND s.tenant_id = jsrt.current_tenant() GROUP BY 1, 2;
SELECT sum(events) AS events, sum(runs) AS runs, sum(held) AS held, max(subscribers) AS subscribers
  FROM jsrt.event_counts WHERE tenant_id = jsrt.current_tenant() AND event_type = 'hold.ev';
SELECT jsrt.set_status('holder', 'active');
SELECT wait_for($$SELECT count(*) = 7 FROM seen WHERE what LIKE 'held %'$$);
-- Released in event order: each its own turn in the queue. (Two executors may
-- run consecutive ones at once, so the order they finish in is not the contract.)
SELECT string_agg('held n=' || (e.input->>'n'), ', ' ORDER BY e.run_after) AS released_in_order,
       count(DISTINCT e.run_after) AS turns, bool_and(e.status = 'completed') AS all_ran
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE s.name = 'holder' AND s.tenant_id = jsrt.current_tenant();
-- paused again: runs queued while it was active but not yet taken are held too, then cancelled by disabling
BEGIN;
SELECT jsrt.emit('hold.ev', '{"n": 8}') > 0 AS emitted;
SELECT jsrt.set_status('holder', 'paused');
COMMIT;
SELECT status, run_after = 'infinity' AS held FROM jsrt.script_executions WHERE input->>'n' = '8' AND tenant_id = jsrt.current_tenant();
SELECT jsrt.set_status('holder', 'disabled');
SELECT status, error FROM jsrt.script_executions WHERE input->>'n' = '8' AND tenant_id = jsrt.current_tenant();
SELECT jsrt.emit('hold.ev', '{"n": 9}') > 0 AS emitted;
SELECT count(*) AS runs_for_disabled FROM jsrt.script_executions WHERE input->>'n' = '9' AND tenant_id = jsrt.current_tenant();

-- Failure alerts: a one-off run that fails and an event run that fails for good
-- (a dead letter) become jsrt.run.failed and jsrt.dead_letter.created events,
-- which an alert script receives; a failing alert script raises no alert about itself.
ALTER SYSTEM SET jsrt.event_retry_base_ms = 50;
ALTER SYSTEM SET jsrt.event_max_retries = 1;
SELECT pg_reload_conf();
SELECT pg_sleep(0.3);
SELECT jsrt.create_script('alert', $js$
export default (ctx) => {
  const p = ctx.input;
  ctx.db.insert('seen', {what: `alert ${ctx.event.event_type} script=${p.script.name} attempt=${p.attempt} error=${p.error} has_id=${typeof p.execution_id === 'string'}`});
}$js$, 'event', '{"status": "active", "event_types": ["jsrt.run.failed", "jsrt.dead_letter.created"]}') IS NOT NULL AS ok;
SELECT jsrt.create_script('broken-alert', 'export default () => { throw new Error("the chat is down"); }', 'event',
                          '{"status": "active", "event_types": ["jsrt.run.failed", "jsrt.dead_letter.created"]}') IS NOT NULL AS ok;
SELECT jsrt.create_script('fails', 'export default () => { throw new Error("no luck"); }', 'oneoff',
                          '{"status": "active"}') IS NOT NULL AS ok;
SELECT jsrt.execute_async('fails') AS failing_id \gset
SELECT jsrt.wait(:'failing_id') ->> 'status' AS failing_status;
SELECT jsrt.create_script('fails-on-event', 'export default () => { throw new Error("bad event"); }', 'event',
                          '{"status": "active", "event_types": ["doomed.ev"]}') IS NOT NULL AS ok;
SELECT jsrt.emit('doomed.ev', '{}') > 0 AS emitted;
SELECT wait_for($$SELECT count(*) = 3 FROM seen WHERE what LIKE 'alert %'$$);
-- the failing alert script ran for each alert, was retried and dead-lettered, and raised nothing more
SELECT wait_for($$SELECT count(*) = 6 FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
                   WHERE s.name = 'broken-alert' AND e.status = 'failed'$$);
SELECT pg_sleep(0.5);
SELECT what FROM seen WHERE what LIKE 'alert %' ORDER BY what;
SELECT event_type, count(*) FROM jsrt.events WHERE tenant_id = jsrt.current_tenant() AND event_type LIKE 'jsrt.%'
 GROUP BY 1 ORDER BY 1;
SELECT count(*) AS alerts_about_alert_scripts FROM jsrt.events
 WHERE event_type LIKE 'jsrt.%' AND payload->'script'->>'name' IN ('alert', 'broken-alert');
SELECT count(*) AS dead_letters_of_broken_alert FROM jsrt.script_event_dead_letters d JOIN jsrt.scripts s ON s.id = d.script_id
 WHERE s.name = 'broken-alert';
SELECT (e.payload->>'execution_id')::uuid = :'failing_id' AS names_the_run, e.payload->'script'->>'id' IS NOT NULL AS has_script_id
  FROM jsrt.events e WHERE e.event_type = 'jsrt.run.failed' AND e.payload->'script'->>'name' = 'fails';
-- scripts cannot forge system events either
SELECT jsrt.create_script('forger', $js$export default (ctx) => ctx.events.publish('jsrt.run.failed', {})$js$, 'oneoff',
                          '{"status": "active"}') IS NOT NULL AS ok;
SELECT err($$SELECT jsrt.execute('forger')$$);
ALTER SYSTEM RESET jsrt.event_retry_base_ms;
ALTER SYSTEM RESET jsrt.event_max_retries;
SELECT pg_reload_conf();
