-- The health monitor's records: key health history per tenant, webhook
-- subscriptions and every delivery attempt. Times are Unix microseconds, UTC.

CREATE TABLE key_health (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at         INTEGER NOT NULL,
    outcome    TEXT    NOT NULL CHECK (outcome IN ('ok', 'degraded', 'unavailable', 'error')),
    code       TEXT    NOT NULL,
    key_id     TEXT    NOT NULL,
    version    INTEGER NOT NULL CHECK (version BETWEEN 0 AND 4294967295),
    request_id TEXT    NOT NULL,
    detail     TEXT    NOT NULL
) STRICT;

CREATE INDEX key_health_tenant ON key_health (tenant_id, at, seq);
CREATE INDEX key_health_at ON key_health (at);

-- A NULL tenant is a platform-wide subscription.
CREATE TABLE webhooks (
    id         TEXT    NOT NULL PRIMARY KEY,
    tenant_id  TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    url        TEXT    NOT NULL,
    secret     BLOB    NOT NULL,
    created_at INTEGER NOT NULL
) STRICT;

CREATE INDEX webhooks_tenant ON webhooks (tenant_id);

CREATE TABLE webhook_deliveries (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    webhook_id TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id   TEXT    NOT NULL,
    attempt    INTEGER NOT NULL CHECK (attempt >= 1),
    at         INTEGER NOT NULL,
    status     INTEGER NOT NULL,
    error      TEXT    NOT NULL
) STRICT;

CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, at, seq);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
