-- A wrapping's tag authenticates the identity of the tenant key inside it
-- (tenant, version, purpose) where the provider's cipher cannot (RSA); the
-- column takes that name. Its bytes are unchanged.

ALTER TABLE wrappings RENAME COLUMN binding_tag TO identity_tag;
