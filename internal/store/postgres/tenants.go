package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
)

const tenantCols = `id, name, external_id, state, revision, created_at, updated_at, settings`

type scanner interface{ Scan(...any) error }

func scanTenant(row scanner) (*store.Tenant, error) {
	var t store.Tenant
	var settings string
	err := row.Scan(&t.ID, &t.Name, &t.ExternalID, &t.State, &t.Revision, &t.CreatedAt, &t.UpdatedAt, &settings)
	if err != nil {
		return nil, err
	}
	t.CreatedAt, t.UpdatedAt, t.Settings = t.CreatedAt.UTC(), t.UpdatedAt.UTC(), []byte(settings)
	return &t, nil
}

// duplicateTenant names which unique key a tenant collided on.
func duplicateTenant(t *store.Tenant, err error) error {
	if _, constraint := pgErr(err); constraint == "tenants_external_id_key" {
		return store.Conflict("tenant %s: external id is already used by another tenant", t.ID)
	}
	return store.Conflict("tenant %s already exists", t.ID)
}

// CreateTenant implements store.Store.
func (s *Store) CreateTenant(ctx context.Context, in *store.Tenant) (*store.Tenant, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	t := in.Clone()
	now := store.Now()
	t.Revision, t.CreatedAt, t.UpdatedAt = 1, now, now
	t.Settings = store.SettingsOrEmpty(t.Settings)
	_, err := s.pool.Exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		t.ID, t.Name, t.ExternalID, string(t.State), t.Revision, t.CreatedAt, t.UpdatedAt, string(t.Settings))
	if isUnique(err) {
		return nil, duplicateTenant(t, err)
	}
	if err != nil {
		return nil, dbErr("create tenant", err)
	}
	return t, nil
}

// GetTenant implements store.Store.
func (s *Store) GetTenant(ctx context.Context, id string) (*store.Tenant, error) {
	if !envelope.ValidTenantID(id) {
		return nil, store.BadTenantID(id)
	}
	return getTenant(ctx, s.pool, id)
}

type queryer interface {
	QueryRow(ctx context.Context, query string, args ...any) pgx.Row
}

func getTenant(ctx context.Context, q queryer, id string) (*store.Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.NotFound("tenant %s", id)
	}
	if err != nil {
		return nil, dbErr("get tenant", err)
	}
	return t, nil
}

// ListTenants implements store.Store.
func (s *Store) ListTenants(ctx context.Context, opts store.ListOptions) (*store.TenantPage, error) {
	after, limit, err := store.ValidateListOptions(opts)
	if err != nil {
		return nil, err
	}
	rows, err := s.pool.Query(ctx, `SELECT `+tenantCols+` FROM tenants
		WHERE id > $1 AND ($2 = '' OR state = $2) ORDER BY id LIMIT $3`,
		after, string(opts.State), limit+1)
	if err != nil {
		return nil, dbErr("list tenants", err)
	}
	defer rows.Close()
	var ts []*store.Tenant
	for rows.Next() {
		t, err := scanTenant(rows)
		if err != nil {
			return nil, dbErr("list tenants", err)
		}
		ts = append(ts, t)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("list tenants", err)
	}
	return store.FinishPage(ts, limit), nil
}

// UpdateTenant implements store.Store. mutate runs outside any transaction;
// the write is one UPDATE conditional on the revision, so a concurrent
// update between the read and the write makes this one fail with
// ErrConflict instead of being lost.
func (s *Store) UpdateTenant(ctx context.Context, id string, want int64, mutate func(*store.Tenant) error) (*store.Tenant, error) {
	if !envelope.ValidTenantID(id) || want < 1 || mutate == nil {
		return nil, store.Invalid("update tenant %q: needs a valid id, a revision from 1 and a mutate function", store.Clip(id))
	}
	cur, err := getTenant(ctx, s.pool, id)
	if err != nil {
		return nil, err
	}
	if cur.Revision != want {
		return nil, store.Conflict("tenant %s: stale revision %d, the tenant is at revision %d", id, want, cur.Revision)
	}
	next := cur.Clone()
	if err := mutate(next); err != nil {
		return nil, err
	}
	if err := store.CheckMutation(cur, next); err != nil {
		return nil, err
	}
	next.Revision, next.UpdatedAt = want+1, store.Now()
	next.Settings = store.SettingsOrEmpty(next.Settings)
	return next, s.casTenant(ctx, next, want)
}

func (s *Store) casTenant(ctx context.Context, t *store.Tenant, want int64) error {
	res, err := s.pool.Exec(ctx, `UPDATE tenants SET name = $1, external_id = $2, state = $3, revision = $4,
		updated_at = $5, settings = $6 WHERE id = $7 AND revision = $8`,
		t.Name, t.ExternalID, string(t.State), t.Revision, t.UpdatedAt, string(t.Settings), t.ID, want)
	if isUnique(err) {
		return duplicateTenant(t, err)
	}
	if err != nil {
		return dbErr("update tenant", err)
	}
	if res.RowsAffected() == 1 {
		return nil
	}
	if _, err := getTenant(ctx, s.pool, t.ID); err != nil {
		return err
	}
	return store.Conflict("tenant %s: stale revision %d, updated concurrently", t.ID, want)
}

// DeleteTenant implements store.Store.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	if !envelope.ValidTenantID(id) {
		return store.BadTenantID(id)
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM key_versions WHERE tenant_id = $1`, id).Scan(&n)
		if err != nil {
			return dbErr("delete tenant", err)
		}
		if n > 0 {
			return store.Conflict("tenant %s still has %d key versions that data may need; shred them first (ShredTenantKeys)", id, n)
		}
		res, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, id)
		if isForeignKey(err) {
			return store.Conflict("tenant %s still has key versions; shred them first", id)
		}
		return affected(res, err, "delete tenant", func() error { return store.NotFound("tenant %s", id) })
	})
}

// affected turns the result of a single-row change into nil, the database
// error, or notFound() when no row matched.
func affected(res pgconn.CommandTag, err error, op string, notFound func() error) error {
	if err != nil {
		return dbErr(op, err)
	}
	if res.RowsAffected() == 0 {
		return notFound()
	}
	return nil
}

// PutAttachment implements store.Store.
func (s *Store) PutAttachment(ctx context.Context, in *store.Attachment) (*store.Attachment, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	a := *in
	a.CreatedAt = store.Now()
	_, err := s.pool.Exec(ctx, `INSERT INTO attachments (tenant_id, region, key_arn, role_arn, access_pattern, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, region) DO UPDATE SET key_arn = excluded.key_arn,
		role_arn = excluded.role_arn, access_pattern = excluded.access_pattern, created_at = excluded.created_at`,
		a.Tenant, a.Region, a.KeyARN, a.RoleARN, string(a.AccessPattern), a.CreatedAt)
	if isForeignKey(err) {
		return nil, store.NotFound("tenant %s", a.Tenant)
	}
	if err != nil {
		return nil, dbErr("put attachment", err)
	}
	return &a, nil
}

// Attachments implements store.Store.
func (s *Store) Attachments(ctx context.Context, tenant string) ([]*store.Attachment, error) {
	if !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	as, err := s.attachments(ctx, tenant)
	if err != nil || len(as) > 0 {
		return as, err
	}
	_, err = getTenant(ctx, s.pool, tenant)
	return nil, err
}

func (s *Store) attachments(ctx context.Context, tenant string) ([]*store.Attachment, error) {
	rows, err := s.pool.Query(ctx, `SELECT region, key_arn, role_arn, access_pattern, created_at
		FROM attachments WHERE tenant_id = $1 ORDER BY region`, tenant)
	if err != nil {
		return nil, dbErr("list attachments", err)
	}
	defer rows.Close()
	var as []*store.Attachment
	for rows.Next() {
		a := &store.Attachment{Tenant: tenant}
		if err := rows.Scan(&a.Region, &a.KeyARN, &a.RoleARN, &a.AccessPattern, &a.CreatedAt); err != nil {
			return nil, dbErr("list attachments", err)
		}
		a.CreatedAt = a.CreatedAt.UTC()
		as = append(as, a)
	}
	if err := rows.Err(); err != nil {
		return nil, dbErr("list attachments", err)
	}
	return as, nil
}

// DeleteAttachment implements store.Store.
func (s *Store) DeleteAttachment(ctx context.Context, tenant, region string) error {
	if !envelope.ValidTenantID(tenant) || !store.ValidRegion(region) {
		return store.Invalid("delete attachment: invalid tenant id %q or region %q", store.Clip(tenant), store.Clip(region))
	}
	res, err := s.pool.Exec(ctx, `DELETE FROM attachments WHERE tenant_id = $1 AND region = $2`, tenant, region)
	return affected(res, err, "delete attachment", func() error {
		return store.NotFound("attachment of tenant %s in %s", tenant, region)
	})
}
