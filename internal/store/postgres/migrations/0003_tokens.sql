-- API tokens. Only a hash of each token's secret is stored, never the
-- secret. NULL times mean "not yet".

-- A NULL tenant is a platform-wide token; a tenant's tokens go with it.
CREATE TABLE api_tokens (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    hash       bytea       NOT NULL CHECK (length(hash) = 32),
    role       text        NOT NULL,
    tenant_id  text COLLATE "C" REFERENCES tenants (id) ON DELETE CASCADE,
    name       text        NOT NULL,
    created_at timestamptz NOT NULL,
    expires_at timestamptz NOT NULL CHECK (expires_at > created_at),
    last_used  timestamptz,
    revoked_at timestamptz
);

CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created_at, id);
CREATE INDEX api_tokens_role ON api_tokens (role, expires_at);
