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
-- Refused at save, saying what is wrong and where: an empty list item, never
-- firing, Quartz's L, W, # and ?, @reboot; a backwards range.
SELECT err(format($$SELECT jsrt.create_script('s', 'export default () => 1', 'scheduled', '{"cron_expression": "%s"}')$$, x))
  FROM unnest(ARRAY['1,,2 * * * *', '0 0 30 2 *', '0 0 31 4 *', '0 0 L * *', '0 0 15W * *', '0 0 * * 5#3',
                    '0 0 ? * 1', '@reboot', '@often', '0 0 * * fri-mon']) x;
-- Accepted: the macros, names, N/STEP, Sunday as 7.
SELECT x, jsrt._cron_next(x, 'UTC', '2026-01-01 00:30Z') AT TIME ZONE 'UTC' AS next_utc
  FROM unnest(ARRAY['@hourly', '@daily', '@midnight', '@weekly', '@monthly', '@yearly', '@annually',
                    '5/20 * * * *', '0 12 * jan,feb sun', '0 12 * * 7']) x;
SELECT jsrt.create_script('macro', 'export default () => 1', 'scheduled', '{"cron_expression": "@daily"}') IS NOT NULL AS macro_saved;

-- Next due times, in the script's zone, across daylight-saving changes.
SELECT jsrt._cron_next('0 9 * * *', 'Europe/Berlin', '2026-07-10 12:00Z') AS berlin_summer,
       jsrt._cron_next('30 2 * * *', 'America/New_York', '2026-03-07 12:00Z') AS skipped_hour_runs_at_3,
       jsrt._cron_next('30 1 * * *', 'America/New_York', '2026-10-31 12:00Z') AS repeated_hour_first,
       jsrt._cron_next('*/10 * * * * *', 'UTC', '2026-01-01 00:00:05Z') AS seconds;
-- A start inside New York's repeated hour (06:10Z is 01:10 EST, the second
-- pass): 01:15 to 01:45 ran in the first pass, next is 02:00 EST.
SELECT jsrt._cron_next('*/15 * * * *', 'America/New_York', '2026-11-01 06:10+00') AT TIME ZONE 'UTC' AS second_pass_of_repeated_hour_utc,
       jsrt._cron_next('*/15 * * * *', 'America/New_York', '2026-11-01 05:50+00') AT TIME ZONE 'UTC' AS end_of_first_pass_utc;
-- Both day fields restricted: either (the 1st and 15th, and Fridays; 2026-01-15 is a Thursday).
-- One of them starting with *: both (odd days that are Fridays).
SELECT jsrt._cron_next('30 4 1,15 * 5', 'UTC', '2026-01-10 05:00Z') AT TIME ZONE 'UTC' AS dom_or_dow,
       jsrt._cron_next('30 4 * * 5', 'UTC', '2026-01-10 05:00Z') AT TIME ZONE 'UTC' AS dow_only,
       jsrt._cron_next('30 4 */2 * 5', 'UTC', '2026-01-10 05:00Z') AT TIME ZONE 'UTC' AS star_step_and_dow;

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
-- The scheduler worker must not run them meanwhile (a minute may start while
-- this file runs): their next run is a day away until a step below sets it.
BEGIN;
SELECT jsrt.create_script('minutely-' || p, 'export default (ctx) => 1', 'scheduled',
                          format('{"status": "active", "cron_expression": "* * * * *", "catch_up": "%s", "catch_up_window_s": 600}', p)::jsonb) IS NOT NULL AS ok
  FROM unnest(ARRAY['one', 'none', 'all']) p;
UPDATE jsrt.script_scheduled_jobs SET next_run_at = now() + interval '1 day' WHERE tenant_id = jsrt.current_tenant();
COMMIT;
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
BEGIN;
SELECT jsrt.update_script('minutely-one', options => '{"overlap": "skip"}');
SELECT jsrt.update_script('minutely-all', options => '{"overlap": "queue"}');
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

-- Retry policy (option retry), off by default: checked at save.
SELECT jsrt.create_tenant('cron_retry') IS NOT NULL AS ok;
SELECT jsrt.set_tenant('cron_retry');
SELECT err(format($$SELECT jsrt.create_script('r', 'export default () => 1', 'scheduled', '{"cron_expression": "0 0 1 1 *", "retry": %s}')$$, x))
  FROM unnest(ARRAY['3', '{"attempts": 0}', '{"attempts": 2.5}', '{"backoff_ms": 10}', '{"attempts": 2, "backoff": 10}',
                    '{"attempts": 2, "backoff_ms": -1}', '{"attempts": "2"}']) x;
SELECT jsrt.create_script('flaky', 'export default () => { throw new Error("down") }', 'scheduled',
       '{"status": "active", "cron_expression": "0 0 1 1 *", "retry": {"attempts": 2, "backoff_ms": 0}}') IS NOT NULL AS ok;
SELECT jsrt.create_script('steady', 'export default () => 1', 'scheduled',
       '{"status": "active", "cron_expression": "0 0 1 1 *"}') IS NOT NULL AS ok;
SELECT name, retry FROM jsrt.scripts WHERE tenant_id = jsrt.current_tenant() ORDER BY name;
SELECT jsrt.update_script('steady', options => '{"retry": {"attempts": 1}}');
SELECT jsrt.update_script('steady', options => '{"retry": null}');
SELECT name, retry FROM jsrt.scripts WHERE tenant_id = jsrt.current_tenant() ORDER BY name;

-- script_scheduled_jobs follows the runs: is_running when a run starts,
-- last_run_status when it ends, not at the next due time.
CREATE TEMP VIEW jobs AS
SELECT s.name, j.is_running, j.last_run_status, j.last_run_at IS NOT NULL AS has_last_run_at
  FROM jsrt.script_scheduled_jobs j JOIN jsrt.scripts s ON s.id = j.script_id
 WHERE j.tenant_id = jsrt.current_tenant() ORDER BY 1;
BEGIN;
UPDATE jsrt.script_scheduled_jobs SET next_run_at = now() - interval '1 second' WHERE tenant_id = jsrt.current_tenant();
SELECT jsrt.run_due() AS queued;
SELECT * FROM jobs;
UPDATE jsrt.script_executions e SET status = 'running' FROM jsrt.scripts s
 WHERE s.id = e.script_id AND s.name = 'steady' AND e.tenant_id = jsrt.current_tenant();
SELECT * FROM jobs;
UPDATE jsrt.script_executions e SET status = 'completed', completed_at = now() FROM jsrt.scripts s
 WHERE s.id = e.script_id AND s.name = 'steady' AND e.tenant_id = jsrt.current_tenant();
SELECT * FROM jobs;
ROLLBACK;

-- A failing cron run with retry {"attempts": 2}: tried once more, then not
-- again; a script without a policy is not retried. jsrt.run_pending runs
-- them in this session (the executors cannot see this transaction).
BEGIN;
UPDATE jsrt.script_scheduled_jobs SET next_run_at = now() - interval '1 second' WHERE tenant_id = jsrt.current_tenant();
UPDATE jsrt.scripts SET source = 'export default () => { throw new Error("also down") }' WHERE name = 'steady' AND tenant_id = jsrt.current_tenant();
SELECT jsrt.run_due() AS queued;
SELECT jsrt.run_pending() >= 2 AS ran;
-- The retry waits backoff_ms from the failure (clock time, which is past this
-- transaction's now()): let it be due, as if the wait were over.
SELECT s.name, e.attempt, e.status, e.run_after >= f.completed_at AS after_the_failure
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
  JOIN jsrt.script_executions f ON f.id = e.parent_execution_id
 WHERE e.tenant_id = jsrt.current_tenant();
UPDATE jsrt.script_executions SET run_after = now() WHERE tenant_id = jsrt.current_tenant() AND status = 'pending';
SELECT jsrt.run_pending() >= 1 AS ran_retries, jsrt.run_pending() >= 0 AS ran_more;
SELECT s.name, e.attempt, e.status, e.error, e.parent_execution_id IS NOT NULL AS is_retry
  FROM jsrt.script_executions e JOIN jsrt.scripts s ON s.id = e.script_id
 WHERE e.tenant_id = jsrt.current_tenant() ORDER BY 1, 2;
SELECT * FROM jobs;
ROLLBACK;
