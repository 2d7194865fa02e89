-- API tokens. Only a hash of each token's secret is stored, never the
-- secret. Times are Unix microseconds, UTC; NULL means "not yet".

-- A NULL tenant is a platform-wide token; a tenant's tokens go with it.
CREATE TABLE api_tokens (
    id         TEXT    NOT NULL PRIMARY KEY,
    hash       BLOB    NOT NULL CHECK (length(hash) = 32),
    role       TEXT    NOT NULL,
    tenant_id  TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    name       TEXT    NOT NULL,
    created_at INTEGER NOT NULL,
    expires_at INTEGER NOT NULL CHECK (expires_at > created_at),
    last_used  INTEGER,
    revoked_at INTEGER
) STRICT;

CREATE INDEX api_tokens_tenant ON api_tokens (tenant_id, created_at, id);
CREATE INDEX api_tokens_role ON api_tokens (role, expires_at);
