-- jsruntime: what scripts read besides their own tables: tenants'
-- secrets (ctx.secrets) and the shared cache (ctx.cache).

-- Secrets are written with jsrt.set_secret and read back only by scripts:
-- roles get SELECT on every column but value (security.sql).
CREATE TABLE jsrt.secrets (
    tenant_id  uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    name       text NOT NULL CHECK (name ~ '^[A-Za-z_][A-Za-z0-9_.-]{0,127}$'),
    value      text NOT NULL CHECK (value <> ''),
    created_at timestamptz NOT NULL DEFAULT now(),
    updated_at timestamptz NOT NULL DEFAULT now(),
    updated_by text NOT NULL,
    PRIMARY KEY (tenant_id, name)
);
COMMENT ON TABLE jsrt.secrets IS 'Per-tenant secrets for scripts (ctx.secrets.get); values are write-only for roles';
SELECT pg_catalog.pg_extension_config_dump('jsrt.secrets', '');

-- ctx.cache: unlogged (a crash empties it, which a cache may), and not dumped.
-- The key index carries bytes and expiry, so the per-tenant sum is an index-only scan.
CREATE UNLOGGED TABLE jsrt.cache (
    tenant_id  uuid NOT NULL REFERENCES jsrt.tenants(id) ON DELETE CASCADE,
    key        text NOT NULL,
    value      jsonb NOT NULL,
    bytes      integer NOT NULL,
    expires_at timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, key) INCLUDE (bytes, expires_at)
);
CREATE INDEX idx_cache_expiry ON jsrt.cache (expires_at);
COMMENT ON TABLE jsrt.cache IS 'ctx.cache entries; only the extension reads and writes them';
