-- A webhook's name is unique per owner, not across the platform: owner is
-- the tenant id of a tenant's subscription and '' for a platform-wide one,
-- and (owner, id) is the key deliveries and outbox entries refer to. A
-- tenant naming a subscription learns nothing of other tenants' names.
-- id and tenant_id keep their values, so secrets sealed with them as
-- associated data (internal/rootseal) still open.

ALTER TABLE webhook_deliveries DROP CONSTRAINT webhook_deliveries_webhook_id_fkey;
ALTER TABLE webhook_outbox DROP CONSTRAINT webhook_outbox_webhook_id_fkey;
ALTER TABLE webhook_outbox DROP CONSTRAINT webhook_outbox_webhook_id_event_id_key;

ALTER TABLE webhooks ADD COLUMN owner text COLLATE "C";
UPDATE webhooks SET owner = coalesce(tenant_id, '');
ALTER TABLE webhooks ALTER COLUMN owner SET NOT NULL;
ALTER TABLE webhooks ADD CHECK (owner = coalesce(tenant_id, ''));
ALTER TABLE webhooks DROP CONSTRAINT webhooks_pkey;
ALTER TABLE webhooks ADD PRIMARY KEY (owner, id);

ALTER TABLE webhook_deliveries ADD COLUMN owner text COLLATE "C";
UPDATE webhook_deliveries d SET owner = w.owner FROM webhooks w WHERE w.id = d.webhook_id;
DELETE FROM webhook_deliveries WHERE owner IS NULL;
ALTER TABLE webhook_deliveries ALTER COLUMN owner SET NOT NULL;
ALTER TABLE webhook_deliveries ADD FOREIGN KEY (owner, webhook_id) REFERENCES webhooks (owner, id) ON DELETE CASCADE;
DROP INDEX webhook_deliveries_webhook;
CREATE INDEX webhook_deliveries_webhook ON webhook_deliveries (owner, webhook_id, at, seq);

ALTER TABLE webhook_outbox ADD COLUMN owner text COLLATE "C";
UPDATE webhook_outbox o SET owner = w.owner FROM webhooks w WHERE w.id = o.webhook_id;
DELETE FROM webhook_outbox WHERE owner IS NULL;
ALTER TABLE webhook_outbox ALTER COLUMN owner SET NOT NULL;
ALTER TABLE webhook_outbox ADD FOREIGN KEY (owner, webhook_id) REFERENCES webhooks (owner, id) ON DELETE CASCADE;
ALTER TABLE webhook_outbox ADD UNIQUE (owner, webhook_id, event_id);
