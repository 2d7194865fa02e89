-- Tenants, key attachments and tenant key versions with their wrappings.
-- Ids collate as bytes ("C") so pages come in the same order as in SQLite
-- whatever the database's default collation.

CREATE TABLE tenants (
    id          text COLLATE "C" NOT NULL PRIMARY KEY,
    name        text        NOT NULL,
    external_id text        NOT NULL CONSTRAINT tenants_external_id_key UNIQUE,
    state       text        NOT NULL CHECK (state IN ('pending', 'active', 'key_unavailable',
                            'suspended', 'deletion_pending', 'destroyed', 'shredded')),
    revision    bigint      NOT NULL CHECK (revision > 0),
    created_at  timestamptz NOT NULL,
    updated_at  timestamptz NOT NULL,
    settings    text        NOT NULL
);

CREATE INDEX tenants_state ON tenants (state, id);

-- Attachments are configuration, not key material: they go with the tenant.
CREATE TABLE attachments (
    tenant_id      text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE CASCADE,
    region         text COLLATE "C" NOT NULL,
    key_arn        text        NOT NULL,
    role_arn       text        NOT NULL,
    access_pattern text        NOT NULL CHECK (access_pattern IN ('direct', 'assume_role')),
    created_at     timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, region)
);

-- A key version may still be needed by data: deleting its tenant is refused.
CREATE TABLE key_versions (
    tenant_id  text COLLATE "C" NOT NULL REFERENCES tenants (id) ON DELETE RESTRICT,
    version    bigint      NOT NULL CHECK (version BETWEEN 1 AND 4294967295),
    created_at timestamptz NOT NULL,
    writer     text        NOT NULL,
    PRIMARY KEY (tenant_id, version)
);

CREATE INDEX key_versions_writer ON key_versions (writer);

-- One row per wrapping, in the order the keyring gave them.
CREATE TABLE wrappings (
    tenant_id        text COLLATE "C" NOT NULL,
    version          bigint      NOT NULL,
    position         integer     NOT NULL CHECK (position >= 0),
    provider         text        NOT NULL,
    key_id           text        NOT NULL,
    region           text        NOT NULL,
    failover_regions text        NOT NULL,
    role_arn         text        NOT NULL,
    external_id      text        NOT NULL,
    algorithm        text        NOT NULL,
    ciphertext       bytea       NOT NULL,
    binding_tag      bytea       NOT NULL,
    request_id       text        NOT NULL,
    writer           text        NOT NULL,
    created_at       timestamptz NOT NULL,
    PRIMARY KEY (tenant_id, version, position),
    FOREIGN KEY (tenant_id, version) REFERENCES key_versions (tenant_id, version) ON DELETE RESTRICT
);

CREATE INDEX wrappings_writer ON wrappings (writer);
