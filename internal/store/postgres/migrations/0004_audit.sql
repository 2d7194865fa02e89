-- Hash-chained audit log: one chain per tenant plus one for the platform.
-- Rows are never updated; audit_heads keeps each chain's last (seq, hash)
-- with a MAC, as a checkpoint that truncating the chain must also forge.
-- Appends lock the chain's head row (SELECT ... FOR UPDATE), so instances
-- sharing the database append one at a time per chain. No foreign key to
-- tenants: the audit trail outlives the tenant it is about.

CREATE TABLE audit_heads (
    chain text   NOT NULL PRIMARY KEY,
    seq   bigint NOT NULL CHECK (seq >= 0),
    hash  bytea  NOT NULL,
    mac   bytea  NOT NULL
);

CREATE TABLE audit_rows (
    chain text        NOT NULL,
    seq   bigint      NOT NULL CHECK (seq >= 1),
    at    timestamptz NOT NULL,
    event bytea       NOT NULL,
    prev  bytea       NOT NULL,
    hash  bytea       NOT NULL,
    PRIMARY KEY (chain, seq)
);
