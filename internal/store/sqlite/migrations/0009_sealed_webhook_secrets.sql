-- A webhook's signing secret is kept sealed under the platform root key
-- (internal/rootseal) when the service has one: sealed_secret holds the
-- sealed value and secret no bytes. Rows written before keep their secret
-- in clear until byok serve seals them at start.

ALTER TABLE webhooks ADD COLUMN sealed_secret BLOB;
