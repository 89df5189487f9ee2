-- jsruntime: scheduled scripts (DESIGN.md section 8): jobs kept in
-- step with the scheduled scripts, one scheduling pass (jsrt.run_due) that
-- queues due runs with trigger 'cron', and the history retention. The
-- scheduler worker (src/workers/scheduler.rs) calls both; without preload,
-- pg_cron or any client can.

-- An active scheduled script has a job; changing its cron or time zone
-- recomputes next_run_at; any other status, or another type, removes it.
CREATE FUNCTION jsrt._sync_job() RETURNS trigger
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

CREATE TRIGGER scripts_job AFTER INSERT OR UPDATE OF type, status, cron_expression, timezone ON jsrt.scripts
    FOR EACH ROW EXECUTE FUNCTION jsrt._sync_job();

-- One scheduling pass: for each due job, the runs its catch-up policy keeps
-- (a run later than 5 s counts as missed), queued with trigger 'cron' and
-- trigger_data.scheduled_for, or, under overlap 'skip' while a run queued
-- by an earlier pass is still pending or running, recorded as skipped.
-- Returns the runs queued.
CREATE FUNCTION jsrt.run_due() RETURNS integer
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

-- A cron run's start and end show on its job as they happen: is_running while
-- a cron run of the script has started and not finished, last_run_at when the
-- last one started, last_run_status how the last one to finish ended (a
-- cancel before it started included; a run skipped by overlap 'skip' is
-- inserted finished, never ran, and changes nothing). Only status changes of
-- cron runs fire it.
CREATE FUNCTION jsrt._job_run_status() RETURNS trigger
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

CREATE TRIGGER executions_job_status AFTER UPDATE OF status ON jsrt.script_executions
    FOR EACH ROW WHEN (NEW.trigger_type = 'cron' AND OLD.status IS DISTINCT FROM NEW.status)
    EXECUTE FUNCTION jsrt._job_run_status();

-- Deletes up to batch_size of the oldest expired rows: finished runs older
-- than jsrt.execution_retention, dead letters out of retries older than
-- 30 days, and expired ctx.cache entries. Returns how many; call again until it returns less than the batch.
CREATE FUNCTION jsrt.cleanup_history(batch_size integer DEFAULT 1000) RETURNS integer
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
