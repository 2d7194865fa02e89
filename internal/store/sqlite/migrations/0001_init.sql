-- Tenants, key attachments and tenant key versions with their wrappings.
-- Times are Unix microseconds, UTC.

CREATE TABLE tenants (
    id          TEXT    NOT NULL PRIMARY KEY,
    name        TEXT    NOT NULL,
    external_id TEXT    NOT NULL UNIQUE,
    state       TEXT    NOT NULL CHECK (state IN ('pending', 'active', 'key_unavailable',
                        'suspended', 'deletion_pending', 'destroyed', 'shredded')),
    revision    INTEGER NOT NULL CHECK (revision > 0),
    created_at  INTEGER NOT NULL,
    updated_at  INTEGER NOT NULL,
    settings    TEXT    NOT NULL
) STRICT;

CREATE INDEX tenants_state ON tenants (state, id);

-- Attachments are configuration, not key material: they go with the tenant.
CREATE TABLE attachments (
    tenant_id      TEXT    NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    region         TEXT    NOT NULL,
    key_arn        TEXT    NOT NULL,
    role_arn       TEXT    NOT NULL,
    access_pattern TEXT    NOT NULL CHECK (access_pattern IN ('direct', 'assume_role')),
    created_at     INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, region)
) STRICT;

-- A key version may still be needed by data: deleting its tenant is refused.
CREATE TABLE key_versions (
    tenant_id  TEXT    NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    version    INTEGER NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    created_at INTEGER NOT NULL,
    writer     TEXT    NOT NULL,
    PRIMARY KEY (tenant_id, version)
) STRICT;

CREATE INDEX key_versions_writer ON key_versions (writer);

-- One row per wrapping, in the order the keyring gave them.
CREATE TABLE wrappings (
    tenant_id        TEXT    NOT NULL,
    version          INTEGER NOT NULL,
    position         INTEGER NOT NULL CHECK (position >= 0),
    provider         TEXT    NOT NULL,
    key_id           TEXT    NOT NULL,
    region           TEXT    NOT NULL,
    failover_regions TEXT    NOT NULL,
    role_arn         TEXT    NOT NULL,
    external_id      TEXT    NOT NULL,
    algorithm        TEXT    NOT NULL,
    ciphertext       BLOB    NOT NULL,
    binding_tag      BLOB    NOT NULL,
    request_id       TEXT    NOT NULL,
    writer           TEXT    NOT NULL,
    created_at       INTEGER NOT NULL,
    PRIMARY KEY (tenant_id, version, position),
    FOREIGN KEY (tenant_id, version) REFERENCES key_versions (tenant_id, version) ON DELETE RESTRICT
) STRICT;

CREATE INDEX wrappings_writer ON wrappings (writer);
