-- Webhook outbox: one row per event and subscription, written when the
-- event happens and deleted once delivered or given up on, so an event
-- survives a restart until its webhook has it. A row is leased to one
-- deliverer at a time: claim holds the deliverer's token and claimed_until
-- (NULL when free) when the lease lapses, so a crashed deliverer's rows come
-- back. Instances claim with one UPDATE conditional on the lease having
-- lapsed; a second instance waits for the first's row lock, sees the new
-- lease and skips the row.

CREATE TABLE webhook_outbox (
    seq             bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
    webhook_id      text COLLATE "C" NOT NULL REFERENCES webhooks (id) ON DELETE CASCADE,
    event_id        text        NOT NULL,
    event_type      text        NOT NULL,
    body            bytea       NOT NULL,
    attempts        integer     NOT NULL CHECK (attempts >= 0),
    created_at      timestamptz NOT NULL,
    next_attempt_at timestamptz NOT NULL,
    claimed_until   timestamptz,
    claim           text        NOT NULL DEFAULT '',
    UNIQUE (webhook_id, event_id)
);

CREATE INDEX webhook_outbox_due ON webhook_outbox (next_attempt_at, seq);
CREATE INDEX webhook_outbox_claim ON webhook_outbox (claim);
CREATE INDEX webhook_outbox_created ON webhook_outbox (created_at);
