-- jsruntime: what HTTP endpoint scripts need besides the scripts
-- table: API keys. A key belongs to a tenant and acts with a jsrt role;
-- only its SHA-256 is stored (jsrt.create_api_key shows the key once).
CREATE TABLE jsrt.api_keys (
    id         text PRIMARY KEY CHECK (id ~ '^[0-9a-f]{12}$'),
    tenant_id  uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (length(name) BETWEEN 1 AND 255),
    -- a jsrt_superadmin key (made by a superadmin) may name any tenant in the management API
    role       text NOT NULL CHECK (role IN ('jsrt_viewer', 'jsrt_developer', 'jsrt_admin', 'jsrt_superadmin')),
    key_hash   text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    created_by text NOT NULL,
    revoked_at timestamptz,
    CONSTRAINT api_keys_name_unique UNIQUE (tenant_id, name)
);
COMMENT ON TABLE jsrt.api_keys IS 'API keys for HTTP endpoint scripts; key_hash is the SHA-256 of the key';
SELECT pg_catalog.pg_extension_config_dump('jsrt.api_keys', '');

-- The HTTP workers cache keys with the scripts: a change to either drops both, at commit.
CREATE TRIGGER api_keys_changed AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON jsrt.api_keys
    FOR EACH STATEMENT EXECUTE FUNCTION jsrt._scripts_changed();
