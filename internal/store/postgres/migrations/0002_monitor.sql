-- The health monitor's records: key health history per tenant, webhook
-- subscriptions and every delivery attempt.

CREATE TABLE key_health (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    at         timestamptz NOT NULL,
    outcome    text        NOT NULL CHECK (outcome IN ('ok', 'degraded', 'unavailable', 'error')),
    code       text        NOT NULL,
    key_id     text        NOT NULL,
    version    bigint      NOT NULL CHECK (version BETWEEN 0 AND 4294967295),
    request_id text        NOT NULL,
    detail     text        NOT NULL
);

CREATE INDEX key_health_tenant ON key_health (tenant_id, at, seq);
CREATE INDEX key_health_at ON key_health (at);

-- A NULL tenant is a platform-wide subscription.
CREATE TABLE webhooks (
    id         text COLLATE "C" NOT NULL PRIMARY KEY,
    tenant_id  text COLLATE "C" REFERENCES tenants (id) ON DELETE CASCADE,
    url        text        NOT NULL,
    secret     bytea       NOT NULL,
    created_at timestamptz NOT NULL
);

CREATE INDEX webhooks_tenant ON webhooks (tenant_id);

CREATE TABLE webhook_deliveries (
    seq        bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id text COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id   text        NOT NULL,
    attempt    integer     NOT NULL CHECK (attempt >= 1),
    at         timestamptz NOT NULL,
    status     integer     NOT NULL,
    error      text        NOT NULL
);

CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (webhook_id, at, seq);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
