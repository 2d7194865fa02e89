package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

// versionQuery joins versions with their wrappings in one statement, so a
// reader sees a version and its wrappings from the same snapshot.
const versionQuery = `SELECT v.version, v.created_at, w.provider, w.key_id, w.region, w.failover_regions,
	w.role_arn, w.external_id, w.algorithm, w.ciphertext, w.identity_tag, w.request_id, w.shred_layer
	FROM key_versions v JOIN wrappings w ON w.tenant_id = v.tenant_id AND w.version = v.version
	WHERE v.tenant_id = $1 `

const versionOrder = ` ORDER BY v.version, w.position`

// LatestVersion implements keyring.Store.
func (s *Store) LatestVersion(ctx context.Context, tenant string) (*keyring.Version, error) {
	return s.one(ctx, tenant, 0,
		versionQuery+`AND v.version = (SELECT max(version) FROM key_versions WHERE tenant_id = $1)`+versionOrder, tenant)
}

// Version implements keyring.Store.
func (s *Store) Version(ctx context.Context, tenant string, version uint32) (*keyring.Version, error) {
	if err := store.ValidateVersionRef(tenant, version); err != nil {
		return nil, err
	}
	return s.one(ctx, tenant, version, versionQuery+`AND v.version = $2`+versionOrder, tenant, version)
}

func (s *Store) one(ctx context.Context, tenant string, version uint32, query string, args ...any) (*keyring.Version, error) {
	if !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	vs, err := s.versions(ctx, tenant, query, args...)
	if err != nil {
		return nil, err
	}
	if len(vs) == 0 {
		return nil, store.NoKey(tenant, version)
	}
	return vs[0], nil
}

// Versions implements keyring.Store.
func (s *Store) Versions(ctx context.Context, tenant string) ([]*keyring.Version, error) {
	if !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	return s.versions(ctx, tenant, versionQuery+versionOrder, tenant)
}

func (s *Store) versions(ctx context.Context, tenant, query string, args ...any) ([]*keyring.Version, error) {
	rows, err := s.c.Read.Query(ctx, query, args...)
	var vs []*keyring.Version
	var layerErr error
	err = s.each("read key versions", rows, err, func(row Row) (err error) {
		vs, err = s.scanWrapping(ctx, row, tenant, vs)
		if store.Code(err) != "" {
			layerErr = err
		}
		return err
	})
	// The shred layer's refusals (tenant_shredded, shred_key_missing) are
	// the caller's answer as they are, not database errors.
	if layerErr != nil {
		return nil, layerErr
	}
	if err != nil {
		return nil, err
	}
	return vs, nil
}

// scanWrapping reads one joined row, appending a new version to vs when the
// row starts one and the wrapping, opened from the shred layer, to the last
// version.
func (s *Store) scanWrapping(ctx context.Context, row Row, tenant string, vs []*keyring.Version) ([]*keyring.Version, error) {
	var version uint32
	var created time.Time
	var failover string
	var layer int
	var w kms.Wrapped
	err := row.Scan(&version, timeAt(&created), &w.Key.Provider, &w.Key.ID, &w.Key.Region, &failover,
		&w.Key.RoleARN, &w.Key.ExternalID, &w.Algorithm, &w.Ciphertext, &w.IdentityTag, &w.RequestID, &layer)
	if err != nil {
		return nil, err
	}
	if w.Ciphertext, err = s.openLayer(ctx, tenant, version, layer, w.Ciphertext); err != nil {
		return nil, err
	}
	w.Key.FailoverRegions = store.SplitRegions(failover)
	w.IdentityTag = store.NilIfEmpty(w.IdentityTag)
	if len(vs) == 0 || vs[len(vs)-1].Version != version {
		vs = append(vs, &keyring.Version{Tenant: tenant, Version: version, Created: created})
	}
	last := vs[len(vs)-1]
	last.Wrappings = append(last.Wrappings, w)
	return vs, nil
}

// AddVersion implements keyring.Store. The tenant must exist.
func (s *Store) AddVersion(ctx context.Context, v *keyring.Version) error {
	if err := store.ValidateVersion(v); err != nil {
		return err
	}
	created := store.Trunc(v.Created)
	if v.Created.IsZero() {
		created = store.Now()
	}
	return s.tx(ctx, func(tx Tx) error {
		_, err := tx.Exec(ctx, `INSERT INTO key_versions (tenant_id, version, created_at, writer) VALUES ($1, $2, $3, $4)`,
			v.Tenant, v.Version, s.d.Time(created), s.writer)
		switch {
		case s.d.Unique(err, ""):
			return store.VersionExists(v.Tenant, v.Version)
		case s.d.ForeignKey(err):
			return store.NotFound("tenant %s", v.Tenant)
		case err != nil:
			return s.dbErr("add key version", err)
		}
		return s.insertWrappings(ctx, tx, v.Tenant, v.Version, v.Wrappings)
	})
}

func (s *Store) insertWrappings(ctx context.Context, tx Tx, tenant string, version uint32, ws []kms.Wrapped) error {
	now := s.d.Time(store.Now())
	for i, w := range ws {
		ct, layer, err := s.sealLayer(ctx, tenant, version, w.Ciphertext)
		if err != nil {
			return err
		}
		_, err = tx.Exec(ctx, `INSERT INTO wrappings (tenant_id, version, position, provider, key_id, region,
			failover_regions, role_arn, external_id, algorithm, ciphertext, identity_tag, request_id, writer, created_at, shred_layer)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $16)`,
			tenant, version, i, w.Key.Provider, w.Key.ID, w.Key.Region, store.JoinRegions(w.Key.FailoverRegions),
			w.Key.RoleARN, w.Key.ExternalID, w.Algorithm, nonNil(ct), nonNil(w.IdentityTag), w.RequestID, s.writer, now, layer)
		if err != nil {
			return s.dbErr("store wrapping", err)
		}
	}
	return nil
}

// SetWrappings implements keyring.Store: the old wrappings are replaced in
// one transaction, so a reader sees either all old or all new ones.
func (s *Store) SetWrappings(ctx context.Context, tenant string, version uint32, ws []kms.Wrapped) error {
	if err := store.ValidateVersionRef(tenant, version); err != nil {
		return err
	}
	if err := store.ValidateWrappings(tenant, version, ws); err != nil {
		return err
	}
	return s.tx(ctx, func(tx Tx) error {
		var one int
		err := tx.QueryRow(ctx, `SELECT 1 FROM key_versions WHERE tenant_id = $1 AND version = $2`+s.d.ForUpdate,
			tenant, version).Scan(&one)
		if errors.Is(err, sql.ErrNoRows) {
			return store.NoKey(tenant, version)
		}
		if err != nil {
			return s.dbErr("set wrappings", err)
		}
		if _, err := tx.Exec(ctx, `DELETE FROM wrappings WHERE tenant_id = $1 AND version = $2`, tenant, version); err != nil {
			return s.dbErr("set wrappings", err)
		}
		return s.insertWrappings(ctx, tx, tenant, version, ws)
	})
}

// ShredTenantKeys implements store.Store.
func (s *Store) ShredTenantKeys(ctx context.Context, id string) (int, error) {
	if !envelope.ValidTenantID(id) {
		return 0, store.BadTenantID(id)
	}
	var n int64
	err := s.tx(ctx, func(tx Tx) error {
		if err := s.lockVersions(ctx, tx, id); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, `DELETE FROM wrappings WHERE tenant_id = $1`, id); err != nil {
			return s.dbErr("shred tenant keys", err)
		}
		var err error
		if n, err = tx.Exec(ctx, `DELETE FROM key_versions WHERE tenant_id = $1`, id); err != nil {
			return s.dbErr("shred tenant keys", err)
		}
		return nil
	})
	return int(n), err
}

// lockVersions checks that the tenant exists and, where the dialect locks
// rows, locks the tenant row, which keeps new versions out, and its version
// rows, which waits for changes to their wrappings to commit.
func (s *Store) lockVersions(ctx context.Context, tx Tx, id string) error {
	var one int
	err := tx.QueryRow(ctx, `SELECT 1 FROM tenants WHERE id = $1`+s.d.ForUpdate, id).Scan(&one)
	if errors.Is(err, sql.ErrNoRows) {
		return store.NotFound("tenant %s", id)
	}
	if err != nil {
		return s.dbErr("shred tenant keys", err)
	}
	if s.d.ForUpdate == "" {
		return nil
	}
	if _, err := tx.Exec(ctx, `SELECT 1 FROM key_versions WHERE tenant_id = $1`+s.d.ForUpdate, id); err != nil {
		return s.dbErr("shred tenant keys", err)
	}
	return nil
}

// VersionsByWriter implements store.Store.
func (s *Store) VersionsByWriter(ctx context.Context, writer string) ([]store.VersionRef, error) {
	if err := store.ValidateWriter(writer); err != nil {
		return nil, err
	}
	rows, err := s.c.Read.Query(ctx, `SELECT tenant_id, version FROM key_versions WHERE writer = $1
		UNION SELECT tenant_id, version FROM wrappings WHERE writer = $1 ORDER BY 1, 2`, writer)
	return collect(s, "versions by writer", rows, err, func(row Row) (store.VersionRef, error) {
		var r store.VersionRef
		err := row.Scan(&r.Tenant, &r.Version)
		return r, err
	})
}
