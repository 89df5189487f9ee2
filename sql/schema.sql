-- jsruntime: tables of the seed schema, in schema jsrt.
-- Hand-written; pgrx includes it first (bootstrap). Never edit a released
-- version of this file: changes go into sql/jsruntime--A--B.sql upgrade scripts.

CREATE TABLE jsrt.tenants (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    name       text NOT NULL UNIQUE CHECK (length(name) BETWEEN 1 AND 255),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- runs of the tenant going on at once, of every trigger; NULL: jsrt.max_concurrent_runs_per_tenant, 0: no cap
    max_concurrent_runs integer CHECK (max_concurrent_runs >= 0),
    -- 0.2.0 (docs/scale-out.md): active runs; suspended holds its queued runs and
    -- schedules (a move under way); moved: it lives on another cluster now
    state      text NOT NULL DEFAULT 'active' CHECK (state IN ('active', 'suspended', 'moved'))
);
COMMENT ON TABLE jsrt.tenants IS 'Tenants: every jsrt row belongs to one';

CREATE TABLE jsrt.scripts (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_id       uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    organization_id uuid,
    name            varchar(255) NOT NULL,
    description     text,
    source          text NOT NULL,
    type            varchar(50) NOT NULL CHECK (type IN ('scheduled', 'http', 'event', 'oneoff', 'embedded')),
    status          varchar(50) NOT NULL DEFAULT 'draft' CHECK (status IN ('draft', 'active', 'paused', 'disabled', 'archived')),
    resource_limits jsonb NOT NULL DEFAULT '{
        "max_execution_time_ms": 30000,
        "max_memory_bytes": 67108864,
        "max_concurrent_runs": 5,
        "max_api_calls_per_minute": 60,
        "max_output_size_bytes": 1048576
    }'::jsonb,
    cron_expression varchar(100),
    timezone        varchar(100) NOT NULL DEFAULT 'UTC',
    http_path       varchar(500),
    http_methods    text[] DEFAULT '{}',
    event_types     text[] DEFAULT '{}',
    metadata        jsonb DEFAULT '{}'::jsonb,
    tags            text[] DEFAULT '{}',
    -- current version number; script_versions holds every version
    version         integer NOT NULL DEFAULT 1,
    -- how successful runs are recorded: every run, a sample, or none (failures always are)
    history         varchar(10) NOT NULL DEFAULT 'all' CHECK (history IN ('all', 'sampled', 'errors')),
    -- scheduled scripts: a run due while the last one still goes is skipped (recorded) or queued
    overlap         varchar(10) NOT NULL DEFAULT 'skip' CHECK (overlap IN ('skip', 'queue')),
    -- scheduled scripts: runs missed while the scheduler was down: none, one, or all within catch_up_window_s
    catch_up        varchar(10) NOT NULL DEFAULT 'one' CHECK (catch_up IN ('none', 'one', 'all')),
    catch_up_window_s integer NOT NULL DEFAULT 3600 CHECK (catch_up_window_s BETWEEN 1 AND 31536000),
    -- http scripts: callers need an API key of the tenant (api_key), or none (public, /t/{tenant}/...)
    http_auth       varchar(10) NOT NULL DEFAULT 'api_key' CHECK (http_auth IN ('api_key', 'public')),
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    created_by      text DEFAULT current_user,
    -- (columns added since 0.1.0 come last, where ALTER TABLE ADD COLUMN puts them)
    -- a JSON Schema (2020-12) every run's input is checked against, whatever the trigger (not HTTP requests)
    input_schema    jsonb,
    -- scheduled scripts: a failed run is tried again, {"attempts": N, "backoff_ms": B}; NULL: no retry
    retry           jsonb,
    -- the role that made the last change (set by the scripts_validate trigger)
    updated_by      text DEFAULT current_user,
    CONSTRAINT scripts_name_tenant_unique UNIQUE (tenant_id, name),
    CONSTRAINT scripts_cron_required CHECK (
        (type = 'scheduled' AND cron_expression IS NOT NULL) OR type != 'scheduled'
    ),
    CONSTRAINT scripts_http_path_required CHECK (
        (type = 'http' AND http_path IS NOT NULL) OR type != 'http'
    ),
    CONSTRAINT scripts_event_types_required CHECK (
        (type = 'event' AND array_length(event_types, 1) > 0) OR type != 'event'
    )
);
CREATE INDEX idx_scripts_tenant_id ON jsrt.scripts(tenant_id);
CREATE INDEX idx_scripts_tenant_status ON jsrt.scripts(tenant_id, status);
CREATE INDEX idx_scripts_tenant_type_status ON jsrt.scripts(tenant_id, type, status);
CREATE INDEX idx_scripts_http_path ON jsrt.scripts(tenant_id, http_path) WHERE http_path IS NOT NULL;
-- Two endpoints may share an http_path with other methods, and an archived
-- one leaves its path free: the scripts_validate trigger refuses routes that
-- clash (jsrt._http_routes_clash), under a lock per tenant, not a unique index.
CREATE INDEX idx_scripts_event_types ON jsrt.scripts USING GIN(event_types) WHERE array_length(event_types, 1) > 0;
CREATE INDEX idx_scripts_cron_expression ON jsrt.scripts(tenant_id, cron_expression) WHERE cron_expression IS NOT NULL;
CREATE INDEX idx_scripts_metadata ON jsrt.scripts USING GIN(metadata);
CREATE INDEX idx_scripts_tags ON jsrt.scripts USING GIN(tags);
CREATE INDEX idx_scripts_created_at ON jsrt.scripts(tenant_id, created_at DESC);
CREATE INDEX idx_scripts_fulltext ON jsrt.scripts USING GIN(
    to_tsvector('english', coalesce(name, '') || ' ' || coalesce(description, ''))
);
COMMENT ON TABLE jsrt.scripts IS 'User-defined JavaScript scripts with trigger configuration';
COMMENT ON COLUMN jsrt.scripts.type IS 'Script trigger type: scheduled (cron), http (endpoint), event (domain event), oneoff (manual), embedded (programmatic)';
COMMENT ON COLUMN jsrt.scripts.status IS 'Script lifecycle status: draft, active, paused, disabled, archived';
COMMENT ON COLUMN jsrt.scripts.resource_limits IS 'Execution resource constraints (timeout, memory, concurrency, rate limits)';
COMMENT ON COLUMN jsrt.scripts.cron_expression IS 'Cron schedule (required for scheduled scripts)';
COMMENT ON COLUMN jsrt.scripts.http_path IS 'HTTP endpoint path (required for http scripts)';
COMMENT ON COLUMN jsrt.scripts.http_methods IS 'Allowed HTTP methods for endpoint (GET, POST, PUT, DELETE, PATCH)';
COMMENT ON COLUMN jsrt.scripts.event_types IS 'Domain event types to trigger on (required for event scripts)';

CREATE TABLE jsrt.script_executions (
    id             uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id      uuid NOT NULL REFERENCES jsrt.scripts(id) ON DELETE CASCADE,
    tenant_id      uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    status         varchar(50) NOT NULL DEFAULT 'pending' CHECK (status IN ('pending', 'running', 'completed', 'failed', 'timeout', 'cancelled')),
    trigger_type   varchar(50) NOT NULL CHECK (trigger_type IN ('cron', 'http', 'event', 'manual', 'api', 'function', 'trigger')),
    trigger_data   jsonb DEFAULT '{}'::jsonb,
    input          jsonb DEFAULT '{}'::jsonb,
    output         jsonb,
    error          text,
    -- {name, message, line, column, stack} of a failed run
    error_detail   jsonb,
    metrics        jsonb DEFAULT '{
        "duration_ms": 0,
        "memory_used_bytes": 0,
        "api_call_count": 0,
        "database_query_count": 0
    }'::jsonb,
    -- console and ctx.log output, capped by jsrt.max_log_bytes
    logs           jsonb NOT NULL DEFAULT '[]'::jsonb,
    version_number integer,
    attempt        integer NOT NULL DEFAULT 1,
    run_after      timestamptz,
    parent_execution_id uuid,
    worker         text,
    started_at     timestamptz NOT NULL DEFAULT now(),
    completed_at   timestamptz
);
-- (Every index costs each run three insertions: at its queueing, claim and record.
-- tenant_id alone is the prefix of the indexes below.)
CREATE INDEX idx_executions_script_id ON jsrt.script_executions(script_id);
-- A script's runs newest first: its last run, and its history by keyset pages.
CREATE INDEX idx_executions_tenant_script ON jsrt.script_executions(tenant_id, script_id, started_at DESC, id DESC);
CREATE INDEX idx_executions_tenant_status ON jsrt.script_executions(tenant_id, status);
-- The run history by keyset pages: (started_at, id) is unique and ordered, so a page is an index range.
CREATE INDEX idx_executions_tenant_started_at ON jsrt.script_executions(tenant_id, started_at DESC, id DESC);
-- Retention deletes finished runs by age.
CREATE INDEX idx_executions_retention ON jsrt.script_executions(started_at) WHERE status IN ('completed', 'failed', 'timeout', 'cancelled');
-- The queue: due pending runs of a tenant, oldest first (the seed's index, with the queue's order).
CREATE INDEX idx_executions_pending ON jsrt.script_executions(tenant_id, run_after, id) WHERE status = 'pending';
CREATE INDEX idx_executions_running ON jsrt.script_executions(tenant_id, status) WHERE status = 'running';
COMMENT ON TABLE jsrt.script_executions IS 'Script execution history with input/output and metrics';
COMMENT ON COLUMN jsrt.script_executions.status IS 'Execution status: pending, running, completed, failed, timeout, cancelled';
COMMENT ON COLUMN jsrt.script_executions.trigger_type IS 'What triggered execution: cron, http, event, manual, api, function (a LANGUAGE jsrt function), trigger (a LANGUAGE jsrt trigger)';
COMMENT ON COLUMN jsrt.script_executions.metrics IS 'Execution metrics (duration, memory, API calls, DB queries)';

CREATE TABLE jsrt.script_versions (
    id                 uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id          uuid NOT NULL REFERENCES jsrt.scripts(id) ON DELETE CASCADE,
    tenant_id          uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    version_number     integer NOT NULL,
    source             text NOT NULL,
    change_description text,
    created_at         timestamptz NOT NULL DEFAULT now(),
    created_by         text DEFAULT current_user,
    CONSTRAINT script_versions_unique UNIQUE (script_id, version_number)
);
CREATE INDEX idx_versions_script_id ON jsrt.script_versions(script_id);
CREATE INDEX idx_versions_tenant_id ON jsrt.script_versions(tenant_id);
CREATE INDEX idx_versions_created_at ON jsrt.script_versions(script_id, created_at DESC);
COMMENT ON TABLE jsrt.script_versions IS 'Immutable audit trail of script source code changes';

CREATE TABLE jsrt.script_event_subscriptions (
    id         uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id  uuid NOT NULL REFERENCES jsrt.scripts(id) ON DELETE CASCADE,
    tenant_id  uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    event_type varchar(255) NOT NULL,
    is_active  boolean NOT NULL DEFAULT true,
    created_at timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT script_event_subscriptions_unique UNIQUE (script_id, event_type)
);
CREATE INDEX idx_event_subs_tenant_event ON jsrt.script_event_subscriptions(tenant_id, event_type) WHERE is_active = true;
CREATE INDEX idx_event_subs_script_id ON jsrt.script_event_subscriptions(script_id);

CREATE TABLE jsrt.script_scheduled_jobs (
    id              uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id       uuid NOT NULL UNIQUE REFERENCES jsrt.scripts(id) ON DELETE CASCADE,
    tenant_id       uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    cron_expression varchar(100) NOT NULL,
    timezone        varchar(100) DEFAULT 'UTC',
    next_run_at     timestamptz NOT NULL,
    last_run_at     timestamptz,
    last_run_status varchar(50),
    is_running      boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_scheduled_jobs_next_run ON jsrt.script_scheduled_jobs(next_run_at) WHERE is_running = false;
CREATE INDEX idx_scheduled_jobs_tenant_id ON jsrt.script_scheduled_jobs(tenant_id);
CREATE INDEX idx_scheduled_jobs_script_id ON jsrt.script_scheduled_jobs(script_id);

CREATE TABLE jsrt.script_http_endpoints (
    id           uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id    uuid NOT NULL UNIQUE REFERENCES jsrt.scripts(id) ON DELETE CASCADE,
    tenant_id    uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    http_path    varchar(500) NOT NULL,
    http_methods text[] NOT NULL,
    is_active    boolean NOT NULL DEFAULT true,
    created_at   timestamptz NOT NULL DEFAULT now(),
    CONSTRAINT script_http_endpoints_path_unique UNIQUE (tenant_id, http_path)
);
CREATE INDEX idx_http_endpoints_path ON jsrt.script_http_endpoints(tenant_id, http_path) WHERE is_active = true;
CREATE INDEX idx_http_endpoints_script_id ON jsrt.script_http_endpoints(script_id);

CREATE TABLE jsrt.script_event_dead_letters (
    id            uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    script_id     uuid NOT NULL REFERENCES jsrt.scripts(id) ON DELETE CASCADE,
    tenant_id     uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    execution_id  uuid REFERENCES jsrt.script_executions(id) ON DELETE CASCADE,
    event_type    varchar(255) NOT NULL,
    event_data    jsonb NOT NULL,
    error         text NOT NULL,
    retry_count   integer NOT NULL DEFAULT 0,
    last_retry_at timestamptz,
    created_at    timestamptz NOT NULL DEFAULT now()
);
CREATE INDEX idx_dead_letters_tenant_id ON jsrt.script_event_dead_letters(tenant_id);
CREATE INDEX idx_dead_letters_script_id ON jsrt.script_event_dead_letters(script_id);
CREATE INDEX idx_dead_letters_created_at ON jsrt.script_event_dead_letters(tenant_id, created_at DESC);
CREATE INDEX idx_dead_letters_retry_count ON jsrt.script_event_dead_letters(retry_count) WHERE retry_count < 3;

-- The transactional outbox. Fan-out to subscriptions arrives with the executors.
CREATE TABLE jsrt.events (
    id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    event_type varchar(255) NOT NULL CHECK (length(event_type) > 0),
    payload    jsonb NOT NULL DEFAULT '{}'::jsonb,
    depth      integer NOT NULL DEFAULT 0 CHECK (depth >= 0),
    created_at timestamptz NOT NULL DEFAULT now(),
    -- written by the extension itself (failure alerts, types jsrt.*); roles may not insert this column
    system     boolean NOT NULL DEFAULT false
);
CREATE INDEX idx_events_tenant_created ON jsrt.events(tenant_id, created_at DESC);
-- Retention deletes old events.
CREATE INDEX idx_events_created ON jsrt.events(created_at);

-- Which roles may use which tenant (jsrt.set_tenant checks it).
CREATE TABLE jsrt.tenant_members (
    tenant_id  uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    member     regrole NOT NULL,
    granted_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant_id, member)
);

-- Tables scripts may reach through ctx.db (jsrt.expose_table).
CREATE TABLE jsrt.exposed_tables (
    tbl           regclass PRIMARY KEY,
    tenant_column name NOT NULL,
    -- whether expose_table turned row-level security on (unexpose turns it off again)
    enabled_rls   boolean NOT NULL,
    exposed_at    timestamptz NOT NULL DEFAULT now()
);

-- pg_dump keeps users' data.
SELECT pg_catalog.pg_extension_config_dump('jsrt.tenants', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.scripts', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.script_executions', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.script_versions', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.script_event_subscriptions', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.script_scheduled_jobs', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.script_http_endpoints', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.script_event_dead_letters', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.events', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.tenant_members', '');
SELECT pg_catalog.pg_extension_config_dump('jsrt.exposed_tables', '');
