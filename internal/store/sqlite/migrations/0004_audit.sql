-- Hash-chained audit log: one chain per tenant plus one for the platform.
-- Rows are never updated; audit_heads keeps each chain's last (seq, hash)
-- with a MAC, as a checkpoint that truncating the chain must also forge.
-- Times are Unix microseconds, UTC. No foreign key to tenants: the audit
-- trail outlives the tenant it is about.

CREATE TABLE audit_heads (
    chain TEXT    NOT NULL PRIMARY KEY,
    seq   INTEGER NOT NULL CHECK (seq >= 0),
    hash  BLOB    NOT NULL,
    mac   BLOB    NOT NULL
) STRICT;

CREATE TABLE audit_rows (
    chain TEXT    NOT NULL,
    seq   INTEGER NOT NULL CHECK (seq >= 1),
    at    INTEGER NOT NULL,
    event BLOB    NOT NULL,
    prev  BLOB    NOT NULL,
    hash  BLOB    NOT NULL,
    PRIMARY KEY (chain, seq)
) STRICT;
