-- A webhook's name is unique per owner, not across the platform: owner is
-- the tenant id of a tenant's subscription and '' for a platform-wide one,
-- and (owner, id) is the key deliveries and outbox entries refer to. A
-- tenant naming a subscription learns nothing of other tenants' names.
-- id and tenant_id keep their values, so secrets sealed with them as
-- associated data (internal/rootseal) still open. SQLite cannot change a
-- primary key in place: the three tables are copied, the children dropped
-- before their parent so that no cascade runs.

CREATE TABLE webhooks_new (
    owner         TEXT    NOT NULL,
    id            TEXT    NOT NULL,
    tenant_id     TEXT    REFERENCES tenants (id) ON DELETE CASCADE,
    url           TEXT    NOT NULL,
    secret        BLOB    NOT NULL,
    created_at    INTEGER NOT NULL,
    sealed_secret BLOB,
    PRIMARY KEY (owner, id),
    CHECK (owner = coalesce(tenant_id, ''))
) STRICT;

CREATE TABLE webhook_deliveries_new (
    seq        INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    owner      TEXT    NOT NULL,
    webhook_id TEXT    NOT NULL,
    event_id   TEXT    NOT NULL,
    attempt    INTEGER NOT NULL CHECK (attempt >= 1),
    at         INTEGER NOT NULL,
    status     INTEGER NOT NULL,
    error      TEXT    NOT NULL,
    FOREIGN KEY (owner, webhook_id) REFERENCES webhooks_new (owner, id) ON DELETE CASCADE
) STRICT;

CREATE TABLE webhook_outbox_new (
    seq             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    owner           TEXT    NOT NULL,
    webhook_id      TEXT    NOT NULL,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    claim           TEXT    NOT NULL DEFAULT '',
    FOREIGN KEY (owner, webhook_id) REFERENCES webhooks_new (owner, id) ON DELETE CASCADE,
    UNIQUE (owner, webhook_id, event_id)
) STRICT;

INSERT INTO webhooks_new (owner, id, tenant_id, url, secret, created_at, sealed_secret)
    SELECT coalesce(tenant_id, ''), id, tenant_id, url, secret, created_at, sealed_secret FROM webhooks;
INSERT INTO webhook_deliveries_new (seq, owner, webhook_id, event_id, attempt, at, status, error)
    SELECT d.seq, coalesce(w.tenant_id, ''), d.webhook_id, d.event_id, d.attempt, d.at, d.status, d.error
    FROM webhook_deliveries d JOIN webhooks w ON w.id = d.webhook_id;
INSERT INTO webhook_outbox_new (seq, owner, webhook_id, event_id, event_type, body, attempts, created_at,
        next_attempt_at, claimed_until, claim)
    SELECT o.seq, coalesce(w.tenant_id, ''), o.webhook_id, o.event_id, o.event_type, o.body, o.attempts,
        o.created_at, o.next_attempt_at, o.claimed_until, o.claim
    FROM webhook_outbox o JOIN webhooks w ON w.id = o.webhook_id;

DROP TABLE webhook_outbox;
DROP TABLE webhook_deliveries;
DROP TABLE webhooks;
ALTER TABLE webhooks_new RENAME TO webhooks;
ALTER TABLE webhook_deliveries_new RENAME TO webhook_deliveries;
ALTER TABLE webhook_outbox_new RENAME TO webhook_outbox;

CREATE INDEX webhooks_tenant ON webhooks (tenant_id);
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (owner, webhook_id, at, seq);
CREATE INDEX webhook_deliveries_at ON webhook_deliveries (at);
CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, seq);
CREATE INDEX webhook_outbox_claim ON webhook_outbox (claim);
CREATE INDEX webhook_outbox_created ON webhook_outbox (created_at);
