package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
)

// AddHealth implements store.Store.
func (s *Store) AddHealth(ctx context.Context, r *store.HealthRecord) error {
	if err := r.Validate(); err != nil {
		return err
	}
	_, err := s.c.Write.Exec(ctx, `INSERT INTO key_health (tenant_id, at, outcome, code, key_id, version, request_id, detail)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`,
		r.Tenant, s.d.Time(store.Trunc(r.At)), string(r.Outcome), r.Code, r.Key, int64(r.Version), r.RequestID, r.Detail)
	if s.d.ForeignKey(err) {
		return store.NotFound("tenant %s", r.Tenant)
	}
	if err != nil {
		return s.dbErr("add health", err)
	}
	return nil
}

// Health implements store.Store.
func (s *Store) Health(ctx context.Context, tenant string, limit int) ([]*store.HealthRecord, error) {
	if !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	limit, err := store.HistoryLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.c.Read.Query(ctx, `SELECT tenant_id, at, outcome, code, key_id, version, request_id, detail
		FROM key_health WHERE tenant_id = $1 ORDER BY at DESC, seq DESC LIMIT $2`, tenant, limit)
	return collect(s, "health", rows, err, func(row Row) (*store.HealthRecord, error) {
		var r store.HealthRecord
		return &r, row.Scan(&r.Tenant, timeAt(&r.At), &r.Outcome, &r.Code, &r.Key, &r.Version, &r.RequestID, &r.Detail)
	})
}

// CreateWebhook implements store.Store.
func (s *Store) CreateWebhook(ctx context.Context, in *store.Webhook) (*store.Webhook, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	w := *in
	w.Secret, w.SealedSecret, w.CreatedAt = orNil(in.Secret), orNil(in.SealedSecret), store.Now()
	_, err := s.c.Write.Exec(ctx, `INSERT INTO webhooks (owner, id, tenant_id, url, secret, sealed_secret, created_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`,
		w.Tenant, w.ID, nullIfEmpty(w.Tenant), w.URL, nonNil(w.Secret), blobOrNull(w.SealedSecret), s.d.Time(w.CreatedAt))
	switch {
	case s.d.Unique(err, ""):
		return nil, store.Conflict("%s already has a webhook %s", hookOwner(w.Tenant), w.ID)
	case s.d.ForeignKey(err):
		return nil, store.NotFound("tenant %s", w.Tenant)
	case err != nil:
		return nil, s.dbErr("create webhook", err)
	}
	return &w, nil
}

// hookOwner names a webhook's owner in messages.
func hookOwner(tenant string) string {
	if tenant == "" {
		return "the platform"
	}
	return "tenant " + tenant
}

// validHookKey checks the key of a webhook: its owner and its name.
func validHookKey(tenant, id string) error {
	if tenant != "" && !envelope.ValidTenantID(tenant) {
		return store.BadTenantID(tenant)
	}
	if !store.ValidWebhookID(id) {
		return store.Invalid("invalid webhook id %q", store.Clip(id))
	}
	return nil
}

// Webhooks implements store.Store.
func (s *Store) Webhooks(ctx context.Context, tenant string) ([]*store.Webhook, error) {
	if tenant != "" && !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	rows, err := s.c.Read.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE tenant_id IS NULL OR tenant_id = $1 ORDER BY owner, id`, tenant)
	return collect(s, "webhooks", rows, err, scanWebhook)
}

const webhookColumns = `id, owner, url, secret, sealed_secret, created_at`

func scanWebhook(row Row) (*store.Webhook, error) {
	var w store.Webhook
	if err := row.Scan(&w.ID, &w.Tenant, &w.URL, &w.Secret, &w.SealedSecret, timeAt(&w.CreatedAt)); err != nil {
		return nil, err
	}
	w.Secret, w.SealedSecret = orNil(w.Secret), orNil(w.SealedSecret)
	return &w, nil
}

// orNil copies b, making an empty one nil: a row holds no bytes in the
// secret column it does not use.
func orNil(b []byte) []byte {
	if len(b) == 0 {
		return nil
	}
	return append([]byte(nil), b...)
}

// blobOrNull stores an empty blob as NULL: a driver may bind a nil []byte
// as an empty blob.
func blobOrNull(b []byte) any {
	if len(b) == 0 {
		return nil
	}
	return b
}

// ClearSecretWebhooks implements store.Store.
func (s *Store) ClearSecretWebhooks(ctx context.Context, afterTenant, afterID string, limit int) ([]*store.Webhook, error) {
	if limit < 1 || limit > store.MaxPageSize {
		return nil, store.Invalid("clear secret webhooks: limit must be 1 to %d", store.MaxPageSize)
	}
	rows, err := s.c.Read.Query(ctx, `SELECT `+webhookColumns+` FROM webhooks
		WHERE sealed_secret IS NULL AND (owner > $1 OR (owner = $1 AND id > $2)) ORDER BY owner, id LIMIT $3`,
		afterTenant, afterID, limit)
	return collect(s, "clear secret webhooks", rows, err, scanWebhook)
}

// SealWebhookSecret implements store.Store. The clear secret is compared
// in the statement, so a subscription deleted and created again under the
// same id meanwhile keeps its own secret.
func (s *Store) SealWebhookSecret(ctx context.Context, tenant, id string, clear, sealed []byte) error {
	if err := validHookKey(tenant, id); err != nil {
		return err
	}
	if len(clear) == 0 || len(sealed) == 0 || len(sealed) > store.MaxSealedSecretLen {
		return store.Invalid("webhook %s: a clear secret and a sealed one of at most %d bytes needed", id, store.MaxSealedSecretLen)
	}
	n, err := s.c.Write.Exec(ctx, `UPDATE webhooks SET secret = $1, sealed_secret = $2
		WHERE owner = $3 AND id = $4 AND sealed_secret IS NULL AND secret = $5`, []byte{}, sealed, tenant, id, clear)
	return s.affected(n, err, "seal webhook secret", func() error {
		return store.NotFound("%s has no webhook %s with that clear secret", hookOwner(tenant), id)
	})
}

// Webhook implements store.Store.
func (s *Store) Webhook(ctx context.Context, tenant, id string) (*store.Webhook, error) {
	if err := validHookKey(tenant, id); err != nil {
		return nil, err
	}
	w, err := scanWebhook(s.c.Read.QueryRow(ctx, `SELECT `+webhookColumns+` FROM webhooks WHERE owner = $1 AND id = $2`, tenant, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("%s has no webhook %s", hookOwner(tenant), id)
	}
	if err != nil {
		return nil, s.dbErr("get webhook", err)
	}
	return w, nil
}

// DeleteWebhook implements store.Store.
func (s *Store) DeleteWebhook(ctx context.Context, tenant, id string) error {
	if err := validHookKey(tenant, id); err != nil {
		return err
	}
	n, err := s.c.Write.Exec(ctx, `DELETE FROM webhooks WHERE owner = $1 AND id = $2`, tenant, id)
	return s.affected(n, err, "delete webhook", func() error { return store.NotFound("%s has no webhook %s", hookOwner(tenant), id) })
}

// AddDelivery implements store.Store.
func (s *Store) AddDelivery(ctx context.Context, d *store.Delivery) error {
	if err := d.Validate(); err != nil {
		return err
	}
	_, err := s.c.Write.Exec(ctx, `INSERT INTO webhook_deliveries (owner, webhook_id, event_id, attempt, at, status, error)
		VALUES ($1, $2, $3, $4, $5, $6, $7)`, d.Tenant, d.Webhook, d.Event, d.Attempt, s.d.Time(store.Trunc(d.At)), d.Status, d.Error)
	if s.d.ForeignKey(err) {
		return store.NotFound("%s has no webhook %s", hookOwner(d.Tenant), d.Webhook)
	}
	if err != nil {
		return s.dbErr("add delivery", err)
	}
	return nil
}

// Deliveries implements store.Store.
func (s *Store) Deliveries(ctx context.Context, tenant, webhook string, limit int) ([]*store.Delivery, error) {
	if err := validHookKey(tenant, webhook); err != nil {
		return nil, err
	}
	limit, err := store.HistoryLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.c.Read.Query(ctx, `SELECT owner, webhook_id, event_id, attempt, at, status, error
		FROM webhook_deliveries WHERE owner = $1 AND webhook_id = $2 ORDER BY at DESC, seq DESC LIMIT $3`, tenant, webhook, limit)
	return collect(s, "deliveries", rows, err, func(row Row) (*store.Delivery, error) {
		var d store.Delivery
		return &d, row.Scan(&d.Tenant, &d.Webhook, &d.Event, &d.Attempt, timeAt(&d.At), &d.Status, &d.Error)
	})
}

// PruneHistory implements store.Store.
func (s *Store) PruneHistory(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx Tx) error {
		for _, older := range []string{"key_health WHERE at", "webhook_deliveries WHERE at", "webhook_outbox WHERE created_at"} {
			k, err := tx.Exec(ctx, `DELETE FROM `+older+` < $1`, s.d.Time(before))
			if err != nil {
				return s.dbErr("prune history", err)
			}
			n += int(k)
		}
		return nil
	})
	return n, err
}
