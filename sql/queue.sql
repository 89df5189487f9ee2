-- jsruntime: the asynchronous engine's SQL side (DESIGN.md sections 5 and 8):
-- event subscriptions kept in step with scripts, the events outbox and its
-- fan-out into queued runs, and the functions that queue, cancel, wait for
-- and re-drive runs. The executors (src/workers/executor.rs) run the queue.

-- ---------------------------------------------------------------- subscriptions

-- One row per (event script, event type); active while the script is active.
CREATE FUNCTION jsrt._sync_subscriptions() RETURNS trigger
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

CREATE TRIGGER scripts_subscriptions AFTER INSERT OR UPDATE OF type, status, event_types ON jsrt.scripts
    FOR EACH ROW EXECUTE FUNCTION jsrt._sync_subscriptions();

-- ---------------------------------------------------------------- events

-- Every committed event is accepted: one with no subscriber is stored and
-- counted (jsrt.event_counts) and runs nothing. Checks and fan-out run once
-- per statement over its transition table, so a bulk INSERT costs about
-- what the INSERT costs.

-- The session's tenant when the writer gives none (a NULL is refused by NOT NULL).
ALTER TABLE jsrt.events ALTER COLUMN tenant_id SET DEFAULT jsrt.tenant_id();

-- One row per statement and (tenant, event type): how many events it wrote,
-- the runs they queued and held (paused subscribers), and how many scripts
-- subscribed. Appended, never updated, so concurrent emitters never wait
-- for each other; sum it (README "Events").
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

-- Checks the events a statement wrote, as the writer: a JSON object payload,
-- a well-formed type, no type of the system's own (jsrt.*) unless the
-- extension writes it (column "system"), and the depth limit that stops loops of events
-- publishing events. The first offending row is named.
CREATE FUNCTION jsrt._events_check() RETURNS trigger
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

-- The scripts subscribed to an event type of a tenant (active ones only, or all).
-- As the caller: row-level security shows a caller its own tenant's subscriptions only.
CREATE FUNCTION jsrt._subscribers(tenant uuid, event_type text, active_only boolean) RETURNS SETOF uuid
LANGUAGE sql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT s.script_id FROM jsrt.script_event_subscriptions s
     WHERE s.tenant_id = tenant AND s.event_type = _subscribers.event_type AND (s.is_active OR NOT active_only)
$$;

-- Fan-out, once per statement: one run per event and subscribed script
-- that is active (due now) or paused (held: run_after 'infinity', which the
-- executors' claim never reaches, until jsrt._release_held on resume).
-- Draft, disabled and archived scripts take no events. Runs in the emitting
-- transaction, so only committed events run; the executors wake at commit.
CREATE FUNCTION jsrt._events_fan_out() RETURNS trigger
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

CREATE TRIGGER events_check AFTER INSERT ON jsrt.events REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION jsrt._events_check();
CREATE TRIGGER events_fan_out AFTER INSERT ON jsrt.events REFERENCING NEW TABLE AS new_events
    FOR EACH STATEMENT EXECUTE FUNCTION jsrt._events_fan_out();

CREATE FUNCTION jsrt.emit(event_type text, payload jsonb) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, jsrt, pg_temp AS $$
    INSERT INTO jsrt.events(tenant_id, event_type, payload) VALUES (jsrt.current_tenant(), event_type, payload)
    RETURNING id
$$;

-- Held runs of a paused script: released in the order their events were
-- written when it is active again (a microsecond apart, so that the
-- claim's index order is the events' order), cancelled when it is
-- disabled or archived instead. Called by the scripts trigger below.
CREATE FUNCTION jsrt._release_held(script uuid, release boolean) RETURNS integer
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

-- ---------------------------------------------------------------- queued runs

-- Queues a run of a script of the session's tenant; it starts after commit.
CREATE FUNCTION jsrt.execute_async(script text, input jsonb DEFAULT '{}') RETURNS uuid
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

-- Cancels a run of the session's tenant. True when the cancel took or will
-- take effect: a run not yet started is marked cancelled here, under its row
-- lock, so no executor starts it (however many cancels there are); a
-- started run is stopped by the executor running it, which records it as
-- cancelled, rolling back its writes, even if it was about to finish.
-- False, with nothing done, for an unknown id, another tenant's run, a
-- finished run, or a run no live executor has (a dead executor's, before
-- recovery, or a jsrt.run_pending session's: those finish or fail as they are).
CREATE FUNCTION jsrt.cancel(execution_id uuid) RETURNS boolean
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

-- Waits up to timeout_ms for an execution to finish; returns its status,
-- output and error (status pending or running when the time ran out).
-- It sees commits only under READ COMMITTED.
CREATE FUNCTION jsrt.wait(execution_id uuid, timeout_ms integer DEFAULT 30000) RETURNS jsonb
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

-- ---------------------------------------------------------------- dead letters

-- Queues a dead letter's event again for its script, as attempt 1.
CREATE FUNCTION jsrt.retry_dead_letter(id uuid) RETURNS uuid
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

-- Re-queues the tenant's dead letters that match every filter given; returns how many.
CREATE FUNCTION jsrt.redrive_dead_letters(script text DEFAULT NULL, event_type text DEFAULT NULL,
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

-- ---------------------------------------------------------------- failure alerts

-- A queued run (one-off, cron, or event after its last retry) that failed
-- for good, and every new dead letter, becomes a system event in its
-- tenant's outbox: jsrt.run.failed and jsrt.dead_letter.created. Scripts
-- subscribe to them like any event. Runs started by a jsrt.* event raise no
-- alert, so a failing alert script cannot alert about itself without end.
CREATE FUNCTION jsrt._alert_run_failed() RETURNS trigger
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

CREATE TRIGGER executions_failed_alert AFTER INSERT ON jsrt.script_executions FOR EACH ROW
    WHEN (NEW.status IN ('failed', 'timeout') AND NEW.worker IS NOT NULL AND NEW.trigger_type IN ('manual', 'cron', 'event'))
    EXECUTE FUNCTION jsrt._alert_run_failed();
CREATE TRIGGER executions_failed_alert_update AFTER UPDATE OF status ON jsrt.script_executions FOR EACH ROW
    WHEN (NEW.status IN ('failed', 'timeout') AND OLD.status IS DISTINCT FROM NEW.status
          AND NEW.worker IS NOT NULL AND NEW.trigger_type IN ('manual', 'cron', 'event'))
    EXECUTE FUNCTION jsrt._alert_run_failed();

CREATE FUNCTION jsrt._alert_dead_letter() RETURNS trigger
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

CREATE TRIGGER dead_letters_alert AFTER INSERT ON jsrt.script_event_dead_letters FOR EACH ROW
    WHEN (NEW.event_type NOT LIKE 'jsrt.%')
    EXECUTE FUNCTION jsrt._alert_dead_letter();
