-- Each wrapping's ciphertext may be sealed under its tenant's shred key,
-- which is kept outside the database (internal/shred): shred_layer says
-- which layer seals it, 0 for none (rows written before this release, as
-- the KMS returned them) and 1 for the shred layer v1. byok serve seals the
-- rows with 0 when it starts.

ALTER TABLE wrappings ADD COLUMN shred_layer INTEGER NOT NULL DEFAULT 0;
