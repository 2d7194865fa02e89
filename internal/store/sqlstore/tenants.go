package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

const tenantCols = `id, name, external_id, state, state_since, revision, created_at, updated_at, model`

func scanTenant(row Row) (*tenant.Tenant, error) {
	var t tenant.Tenant
	var doc string
	err := row.Scan(&t.ID, &t.Name, &t.ExternalID, &t.State, timeAt(&t.StateSince), &t.Revision, timeAt(&t.CreatedAt), timeAt(&t.UpdatedAt), &doc)
	if err != nil {
		return nil, err
	}
	if err := tenant.UnmarshalModel([]byte(doc), &t); err != nil {
		return nil, store.Corrupt(err)
	}
	return &t, nil
}

// duplicateTenant names which unique key a tenant collided on.
func (s *Store) duplicateTenant(t *tenant.Tenant, err error) error {
	if s.d.Unique(err, "tenants.external_id") {
		return store.Conflict("tenant %s: external id is already used by another tenant", t.ID)
	}
	return store.Conflict("tenant %s already exists", t.ID)
}

// CreateTenant implements store.Store.
func (s *Store) CreateTenant(ctx context.Context, in *tenant.Tenant) (*tenant.Tenant, error) {
	if err := store.ValidateTenant(in); err != nil {
		return nil, err
	}
	t := in.Clone()
	now := store.Now()
	t.Revision, t.CreatedAt, t.UpdatedAt, t.StateSince = 1, now, now, now
	doc, err := marshalModel(t)
	if err != nil {
		return nil, err
	}
	_, err = s.c.Write.Exec(ctx, `INSERT INTO tenants (`+tenantCols+`) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`,
		t.ID, t.Name, t.ExternalID, string(t.State), s.d.Time(t.StateSince), t.Revision, s.d.Time(t.CreatedAt), s.d.Time(t.UpdatedAt), doc)
	if s.d.Unique(err, "") {
		return nil, s.duplicateTenant(t, err)
	}
	if err != nil {
		return nil, s.dbErr("create tenant", err)
	}
	return t, nil
}

// GetTenant implements store.Store.
func (s *Store) GetTenant(ctx context.Context, id string) (*tenant.Tenant, error) {
	if !envelope.ValidTenantID(id) {
		return nil, store.BadTenantID(id)
	}
	return s.getTenant(ctx, s.c.Read, id)
}

func (s *Store) getTenant(ctx context.Context, q Querier, id string) (*tenant.Tenant, error) {
	t, err := scanTenant(q.QueryRow(ctx, `SELECT `+tenantCols+` FROM tenants WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("tenant %s", id)
	}
	if err != nil {
		return nil, s.dbErr("get tenant", err)
	}
	return t, nil
}

// ListTenants implements store.Store.
func (s *Store) ListTenants(ctx context.Context, opts store.ListOptions) (*store.TenantPage, error) {
	after, limit, err := store.ValidateListOptions(opts)
	if err != nil {
		return nil, err
	}
	rows, err := s.c.Read.Query(ctx, `SELECT `+tenantCols+` FROM tenants
		WHERE id > $1 AND ($2 = '' OR state = $2) ORDER BY id LIMIT $3`,
		after, string(opts.State), limit+1)
	ts, err := collect(s, "list tenants", rows, err, scanTenant)
	if err != nil {
		return nil, err
	}
	return store.FinishPage(ts, limit), nil
}

// UpdateTenant implements store.Store. mutate runs outside any transaction;
// the write is one UPDATE conditional on the revision, so a concurrent
// update between the read and the write makes this one fail with
// ErrConflict instead of being lost.
func (s *Store) UpdateTenant(ctx context.Context, id string, want int64, mutate func(*tenant.Tenant) error) (*tenant.Tenant, error) {
	next, err := s.mutated(ctx, id, want, mutate)
	if err != nil {
		return nil, err
	}
	return next, s.casTenant(ctx, s.c.Write, next, want)
}

// UpdateTenantWithEvents implements store.Store.
func (s *Store) UpdateTenantWithEvents(ctx context.Context, id string, want int64, mutate func(*tenant.Tenant) error, events []*store.OutboxEvent) (*tenant.Tenant, int, error) {
	for _, e := range events {
		if err := e.Validate(); err != nil {
			return nil, 0, err
		}
	}
	next, err := s.mutated(ctx, id, want, mutate)
	if err != nil {
		return nil, 0, err
	}
	stored := 0
	err = s.tx(ctx, func(tx Tx) error {
		// Events first: a lost compare-and-swap then rolls them back, which
		// the contract suite can see.
		for _, e := range events {
			n, err := s.enqueue(ctx, tx, e)
			if err != nil {
				return err
			}
			stored += n
		}
		return s.casTenant(ctx, tx, next, want)
	})
	if err != nil {
		return nil, 0, err
	}
	return next, stored, nil
}

// mutated returns the tenant as mutate changes it, checked, with its next
// revision, if the stored one is still want.
func (s *Store) mutated(ctx context.Context, id string, want int64, mutate func(*tenant.Tenant) error) (*tenant.Tenant, error) {
	if !envelope.ValidTenantID(id) || want < 1 || mutate == nil {
		return nil, store.Invalid("update tenant %q: needs a valid id, a revision from 1 and a mutate function", store.Clip(id))
	}
	cur, err := s.getTenant(ctx, s.c.Read, id)
	if err != nil {
		return nil, err
	}
	if cur.Revision != want {
		return nil, store.Stale("tenant %s: stale revision %d, the tenant is at revision %d", id, want, cur.Revision)
	}
	next := cur.Clone()
	if err := mutate(next); err != nil {
		return nil, err
	}
	if err := store.CheckMutation(cur, next); err != nil {
		return nil, err
	}
	next.Revision, next.UpdatedAt = want+1, store.Now()
	if next.State != cur.State {
		next.StateSince = next.UpdatedAt
	}
	return next, nil
}

func (s *Store) casTenant(ctx context.Context, q Querier, t *tenant.Tenant, want int64) error {
	doc, err := marshalModel(t)
	if err != nil {
		return err
	}
	n, err := q.Exec(ctx, `UPDATE tenants SET name = $1, external_id = $2, state = $3, state_since = $4, revision = $5,
		updated_at = $6, model = $7 WHERE id = $8 AND revision = $9`,
		t.Name, t.ExternalID, string(t.State), s.d.Time(t.StateSince), t.Revision, s.d.Time(t.UpdatedAt), doc, t.ID, want)
	if s.d.Unique(err, "") {
		return s.duplicateTenant(t, err)
	}
	if err != nil {
		return s.dbErr("update tenant", err)
	}
	if n == 1 {
		return nil
	}
	// No row matched: the tenant is gone or its revision moved on.
	if _, err := s.getTenant(ctx, q, t.ID); err != nil {
		return err
	}
	return store.Stale("tenant %s: stale revision %d, updated concurrently", t.ID, want)
}

// marshalModel is the stored document of t, or the ErrInvalid error that
// says why it cannot be stored.
func marshalModel(t *tenant.Tenant) (string, error) {
	b, err := tenant.MarshalModel(t)
	if err != nil {
		return "", store.Invalid("%v", err)
	}
	return string(b), nil
}

// DeleteTenant implements store.Store.
func (s *Store) DeleteTenant(ctx context.Context, id string) error {
	if !envelope.ValidTenantID(id) {
		return store.BadTenantID(id)
	}
	return s.tx(ctx, func(tx Tx) error {
		var n int
		err := tx.QueryRow(ctx, `SELECT count(*) FROM key_versions WHERE tenant_id = $1`, id).Scan(&n)
		if err != nil {
			return s.dbErr("delete tenant", err)
		}
		if n > 0 {
			return store.Conflict("tenant %s still has %d key versions that data may need; shred them first (ShredTenantKeys)", id, n)
		}
		k, err := tx.Exec(ctx, `DELETE FROM tenants WHERE id = $1`, id)
		if s.d.ForeignKey(err) {
			return store.Conflict("tenant %s still has key versions; shred them first", id)
		}
		return s.affected(k, err, "delete tenant", func() error { return store.NotFound("tenant %s", id) })
	})
}

// PutAttachment implements store.Store.
func (s *Store) PutAttachment(ctx context.Context, in *store.Attachment) (*store.Attachment, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	a := *in
	a.CreatedAt = store.Now()
	_, err := s.c.Write.Exec(ctx, `INSERT INTO attachments (tenant_id, region, key_arn, role_arn, access_pattern, created_at)
		VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (tenant_id, region) DO UPDATE SET key_arn = excluded.key_arn,
		role_arn = excluded.role_arn, access_pattern = excluded.access_pattern, created_at = excluded.created_at`,
		a.Tenant, a.Region, a.KeyARN, a.RoleARN, string(a.AccessPattern), s.d.Time(a.CreatedAt))
	if s.d.ForeignKey(err) {
		return nil, store.NotFound("tenant %s", a.Tenant)
	}
	if err != nil {
		return nil, s.dbErr("put attachment", err)
	}
	return &a, nil
}

// Attachments implements store.Store.
func (s *Store) Attachments(ctx context.Context, tenant string) ([]*store.Attachment, error) {
	if !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	rows, err := s.c.Read.Query(ctx, `SELECT region, key_arn, role_arn, access_pattern, created_at
		FROM attachments WHERE tenant_id = $1 ORDER BY region`, tenant)
	as, err := collect(s, "list attachments", rows, err, func(row Row) (*store.Attachment, error) {
		a := &store.Attachment{Tenant: tenant}
		return a, row.Scan(&a.Region, &a.KeyARN, &a.RoleARN, &a.AccessPattern, timeAt(&a.CreatedAt))
	})
	if err != nil || len(as) > 0 {
		return as, err
	}
	// No attachments is an answer only for a tenant that exists.
	_, err = s.getTenant(ctx, s.c.Read, tenant)
	return nil, err
}

// DeleteAttachment implements store.Store.
func (s *Store) DeleteAttachment(ctx context.Context, tenant, region string) error {
	if !envelope.ValidTenantID(tenant) || !store.ValidRegion(region) {
		return store.Invalid("delete attachment: invalid tenant id %q or region %q", store.Clip(tenant), store.Clip(region))
	}
	n, err := s.c.Write.Exec(ctx, `DELETE FROM attachments WHERE tenant_id = $1 AND region = $2`, tenant, region)
	return s.affected(n, err, "delete attachment", func() error {
		return store.NotFound("attachment of tenant %s in %s", tenant, region)
	})
}
