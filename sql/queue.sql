-- jsruntime 0.1.0: the asynchronous engine's SQL side (DESIGN.md sections 5 and 8):
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
    RETURN NULL;
END $$;

CREATE TRIGGER scripts_subscriptions AFTER INSERT OR UPDATE OF type, status, event_types ON jsrt.scripts
    FOR EACH ROW EXECUTE FUNCTION jsrt._sync_subscriptions();

-- ---------------------------------------------------------------- events

-- Checks an event before it is written: its tenant (the session's when not
-- given), a JSON object payload, a type some script of the tenant subscribes
-- to, and the depth limit that stops loops of events publishing events.
CREATE FUNCTION jsrt._events_check() RETURNS trigger
LANGUAGE plpgsql SET search_path = pg_catalog, jsrt, pg_temp AS $$
DECLARE
    max_depth integer := coalesce(nullif(current_setting('jsrt.max_event_depth', true), '')::integer, 8);
BEGIN
    NEW.tenant_id := coalesce(NEW.tenant_id, jsrt.tenant_id());
    IF NEW.tenant_id IS NULL THEN
        RAISE EXCEPTION 'an event needs a tenant' USING ERRCODE = '23502',
            DETAIL = 'column "tenant_id"', HINT = 'Call jsrt.set_tenant(name) first, or give tenant_id.';
    END IF;
    IF NEW.payload IS NULL OR jsonb_typeof(NEW.payload) <> 'object' THEN
        RAISE EXCEPTION 'an event payload must be a JSON object, got %', coalesce(jsonb_typeof(NEW.payload), 'null')
            USING ERRCODE = '22023', DETAIL = 'column "payload"';
    END IF;
    IF NEW.event_type IS NULL OR NEW.event_type !~ '^[A-Za-z0-9][A-Za-z0-9_.:-]{0,254}$' THEN
        RAISE EXCEPTION 'invalid event type "%"', NEW.event_type USING ERRCODE = '22023', DETAIL = 'column "event_type"';
    END IF;
    IF NOT EXISTS (SELECT 1 FROM jsrt._subscribers(NEW.tenant_id, NEW.event_type, false)) THEN
        RAISE EXCEPTION 'unknown event type "%": no script of this tenant subscribes to it', NEW.event_type
            USING ERRCODE = '22023', DETAIL = 'column "event_type"';
    END IF;
    IF NEW.depth > max_depth THEN
        RAISE EXCEPTION 'event "%" is % events deep, over jsrt.max_event_depth (%): a loop of scripts publishing events?',
            NEW.event_type, NEW.depth, max_depth USING ERRCODE = '54000';
    END IF;
    RETURN NEW;
END $$;

-- The scripts subscribed to an event type of a tenant (active ones only, or all).
-- As the caller: row-level security shows a caller its own tenant's subscriptions only.
CREATE FUNCTION jsrt._subscribers(tenant uuid, event_type text, active_only boolean) RETURNS SETOF uuid
LANGUAGE sql STABLE SET search_path = pg_catalog, jsrt, pg_temp AS $$
    SELECT s.script_id FROM jsrt.script_event_subscriptions s
     WHERE s.tenant_id = tenant AND s.event_type = _subscribers.event_type AND (s.is_active OR NOT active_only)
$$;

-- Fan-out: one queued run per active subscription. Runs in the emitting
-- transaction, so only committed events run; the executors wake at commit.
CREATE FUNCTION jsrt._events_fan_out() RETURNS trigger
LANGUAGE plpgsql SECURITY DEFINER SET search_path = pg_catalog, jsrt, pg_temp AS $$
BEGIN
    INSERT INTO jsrt.script_executions(script_id, tenant_id, status, trigger_type, trigger_data, input, run_after,
                                       parent_execution_id, version_number)
    SELECT sc.id, NEW.tenant_id, 'pending', 'event',
           jsonb_build_object('event_id', NEW.id, 'event_type', NEW.event_type, 'depth', NEW.depth,
                              'emitted_at', NEW.created_at),
           NEW.payload, now(), nullif(current_setting('jsrt.parent_execution', true), '')::uuid, sc.version
      FROM jsrt.scripts sc
     WHERE sc.id IN (SELECT jsrt._subscribers(NEW.tenant_id, NEW.event_type, true));
    IF FOUND THEN
        PERFORM jsrt._wake_executors();
    END IF;
    RETURN NULL;
END $$;

CREATE TRIGGER events_check BEFORE INSERT ON jsrt.events
    FOR EACH ROW EXECUTE FUNCTION jsrt._events_check();
CREATE TRIGGER events_fan_out AFTER INSERT ON jsrt.events
    FOR EACH ROW EXECUTE FUNCTION jsrt._events_fan_out();

CREATE FUNCTION jsrt.emit(event_type text, payload jsonb) RETURNS bigint
LANGUAGE sql SET search_path = pg_catalog, jsrt, pg_temp AS $$
    INSERT INTO jsrt.events(tenant_id, event_type, payload) VALUES (jsrt.current_tenant(), event_type, payload)
    RETURNING id
$$;

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
        PERFORM jsrt.retry_dead_letter(d.id);
        n := n + 1;
    END LOOP;
    RETURN n;
END $$;
