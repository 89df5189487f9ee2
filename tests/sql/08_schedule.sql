-- Scheduled scripts: checks naming the field, jobs in step with scripts,
-- next due times in time zones, catch-up and overlap policies. Each
-- scheduling pass here runs in the test's own transaction (jsrt.run_due),
-- where the scheduler worker cannot see it.
SELECT jsrt.create_tenant('cron') IS NOT NULL AS ok;
SELECT jsrt.set_tenant('cron');

-- Bad input: each error names its field.
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{"cron_expression": "61 * * * *"}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{"cron_expression": "0 0 * * mon-funday"}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{"cron_expression": "* * *"}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{"cron_expression": "0 * * * *", "timezone": "Mars/Olympus"}')$$);
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{"cron_expression": "0 * * * *", "overlap": "sometimes"}')$$);
SET jsrt.cron_seconds = off;
SELECT err($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{"cron_expression": "*/5 * * * * *"}')$$);
RESET jsrt.cron_seconds;

-- Next due times, in the script's zone, across daylight-saving changes.
SELECT jsrt._cron_next('0 9 * * *', 'Europe/Berlin', '2026-07-10 12:00Z') AS berlin_summer,
       jsrt._cron_next('30 2 * * *', 'America/New_York', '2026-03-07 12:00Z') AS skipped_hour_runs_at_3,
       jsrt._cron_next('30 1 * * *', 'America/New_York', '2026-10-31 12:00Z') AS repeated_hour_first,
       jsrt._cron_next('*/10 * * * * *', 'UTC', '2026-01-01 00:00:05Z') AS seconds;

-- Jobs follow the scripts: activating adds one, changing the cron moves it, pausing removes it.
SELECT jsrt.create_script('nightly', 'export default (ctx) => ctx.execution.trigger', 'scheduled',
                          '{"cron_expression": "0 3 * * *", "timezone": "Asia/Tokyo"}') IS NOT NULL AS ok;
SELECT count(*) AS jobs_while_draft FROM jsrt.script_scheduled_jobs WHERE tenant_id = jsrt.current_tenant();
SELECT jsrt.set_status('nightly', 'active');
SELECT cron_expression, timezone, next_run_at = jsrt._cron_next('0 3 * * *', 'Asia/Tokyo', now()) AS next_is_right
  FROM jsrt.script_scheduled_jobs WHERE tenant_id = jsrt.current_tenant();
SELECT jsrt.update_script('nightly', options => '{"cron_expression": "15 4 * * *"}');
SELECT cron_expression, extract(minute FROM next_run_at AT TIME ZONE 'Asia/Tokyo') AS minute
  FROM jsrt.script_scheduled_jobs WHERE tenant_id = jsrt.current_tenant();
SELECT jsrt.set_status('nightly', 'paused');
SELECT count(*) AS jobs_while_paused FROM jsrt.script_scheduled_jobs WHERE tenant_id = jsrt.current_tenant();

-- Catch-up after two hours down, for an every-minute job: one run (the
-- default), none, or all within the window (10 minutes here).
SELECT jsrt.create_script('minutely-' || p, 'export default (ctx) => 1', 'scheduled',
                          format('{"status": "active", "cron_expression": "* * * * *", "catch_up": "%s", "catch_up_window_s": 600}', p)::jsonb) IS NOT NULL AS ok
  FROM unnest(ARRAY['one', 'none', 'all']) p;
-- Not within run_due's 5-second grace of a minute's start, when 'none' rightly runs that minute.
SELECT pg_sleep(CASE WHEN s < 6 THEN 6 - s WHEN s > 58 THEN 66 - s ELSE 0 END) AS clear_of_minute_start
  FROM (SELECT extract(second FROM clock_timestamp())::float8 AS s) x;
BEGIN;
UPDATE jsrt.script_scheduled_jobs SET next_run_at = date_trunc('minute', now()) - interval '2 hours'
 WHERE tenant_id = jsrt.current_tenant();
SELECT jsrt.run_due() AS queued;
SELECT s.name, count(e.id) AS runs, bool_and(j.next_run_at > now()) AS next_in_future
  FROM jsrt.scripts s JOIN jsrt.script_scheduled_jobs j ON j.script_id = s.id
  LEFT JOIN jsrt.script_executions e ON e.script_id = s.id AND e.trigger_type = 'cron'
 WHERE s.tenant_id = jsrt.current_tenant() GROUP BY s.name ORDER BY s.name;
ROLLBACK;

-- Overlap: while a run is pending, a due run is skipped and recorded (skip), or queued (queue).
SELECT jsrt.update_script('minutely-one', options => '{"overlap": "skip"}');
SELECT jsrt.update_script('minutely-all', options => '{"overlap": "queue"}');
BEGIN;
UPDATE jsrt.script_scheduled_jobs SET next_run_at = now() - interval '1 second' WHERE tenant_id = jsrt.current_tenant();
SELECT jsrt.run_due() AS first_pass;
UPDATE jsrt.script_scheduled_jobs SET next_run_at = now() - interval '1 second' WHERE tenant_id = jsrt.current_tenant();
SELECT jsrt.run_due() AS second_pass;
SELECT s.name, e.status, e.error, e.trigger_data ? 'skipped' AS skipped, count(*)
  FROM jsrt.scripts s JOIN jsrt.script_executions e ON e.script_id = s.id AND e.trigger_type = 'cron'
 WHERE s.tenant_id = jsrt.current_tenant() GROUP BY 1, 2, 3, 4 ORDER BY 1, 2;
SELECT s.name, j.is_running FROM jsrt.script_scheduled_jobs j JOIN jsrt.scripts s ON s.id = j.script_id
 WHERE j.tenant_id = jsrt.current_tenant() ORDER BY 1;
ROLLBACK;

-- Retention: old finished runs (cancelled and skipped ones too), old events
-- and old dead letters out of retries go, in batches; pending and running runs stay.
SELECT jsrt.create_script('old', 'export default () => 1', 'oneoff', '{"status": "active"}') IS NOT NULL AS ok;
INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, started_at)
SELECT s.id, s.tenant_id, st, 'manual', now() - interval '100 days'
  FROM jsrt.scripts s, unnest(ARRAY['completed', 'failed', 'timeout', 'cancelled', 'completed', 'pending', 'running']) st
 WHERE s.name = 'old' AND s.tenant_id = jsrt.current_tenant();
SELECT jsrt.create_script('old_ev', 'export default () => 1', 'event', '{"status": "paused", "event_types": ["old.ev"]}') IS NOT NULL AS ok;
SELECT jsrt.emit('old.ev', '{}') IS NOT NULL AS emitted, jsrt.emit('old.ev', '{}') IS NOT NULL AS emitted_again;
UPDATE jsrt.events SET created_at = now() - interval '31 days' WHERE event_type = 'old.ev'
   AND id = (SELECT min(id) FROM jsrt.events WHERE event_type = 'old.ev');
SELECT err($$SELECT jsrt.cleanup_history(0)$$);
SELECT jsrt.cleanup_history(2) AS first_batch, jsrt.cleanup_history(2) AS second_batch, jsrt.cleanup_history(2) AS third_batch;
SELECT count(*) AS events_left FROM jsrt.events WHERE event_type = 'old.ev';
SELECT e.status, count(*) FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE s.name = 'old' AND s.tenant_id = jsrt.current_tenant() GROUP BY 1 ORDER BY 1;
