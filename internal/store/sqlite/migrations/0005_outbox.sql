-- Webhook outbox: one row per event and subscription, written when the
-- event happens and deleted once delivered or given up on, so an event
-- survives a restart until its webhook has it. A row is leased to one
-- deliverer at a time: claim holds the deliverer's token and claimed_until
-- (NULL when free) when the lease lapses, so a crashed deliverer's rows come
-- back. Times are Unix microseconds, UTC.

CREATE TABLE webhook_outbox (
    seq             INTEGER NOT NULL PRIMARY KEY AUTOINCREMENT,
    webhook_id      TEXT    NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        TEXT    NOT NULL,
    event_type      TEXT    NOT NULL,
    body            BLOB    NOT NULL,
    attempts        INTEGER NOT NULL CHECK (attempts >= 0),
    created_at      INTEGER NOT NULL,
    next_attempt_at INTEGER NOT NULL,
    claimed_until   INTEGER,
    claim           TEXT    NOT NULL DEFAULT '',
    UNIQUE (webhook_id, event_id)
) STRICT;

CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, seq);
CREATE INDEX webhook_outbox_claim ON webhook_outbox (claim);
CREATE INDEX webhook_outbox_created ON webhook_outbox (created_at);
