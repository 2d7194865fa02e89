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
	w.Secret, w.CreatedAt = append([]byte(nil), in.Secret...), store.Now()
	_, err := s.c.Write.Exec(ctx, `INSERT INTO webhooks (id, tenant_id, url, secret, created_at) VALUES ($1, $2, $3, $4, $5)`,
		w.ID, nullIfEmpty(w.Tenant), w.URL, w.Secret, s.d.Time(w.CreatedAt))
	switch {
	case s.d.Unique(err, ""):
		return nil, store.Conflict("webhook %s already exists", w.ID)
	case s.d.ForeignKey(err):
		return nil, store.NotFound("tenant %s", w.Tenant)
	case err != nil:
		return nil, s.dbErr("create webhook", err)
	}
	return &w, nil
}

// Webhooks implements store.Store.
func (s *Store) Webhooks(ctx context.Context, tenant string) ([]*store.Webhook, error) {
	if tenant != "" && !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	rows, err := s.c.Read.Query(ctx, `SELECT id, coalesce(tenant_id, ''), url, secret, created_at FROM webhooks
		WHERE tenant_id IS NULL OR tenant_id = $1 ORDER BY id`, tenant)
	return collect(s, "webhooks", rows, err, func(row Row) (*store.Webhook, error) {
		var w store.Webhook
		return &w, row.Scan(&w.ID, &w.Tenant, &w.URL, &w.Secret, timeAt(&w.CreatedAt))
	})
}

// Webhook implements store.Store.
func (s *Store) Webhook(ctx context.Context, id string) (*store.Webhook, error) {
	if !store.ValidWebhookID(id) {
		return nil, store.Invalid("invalid webhook id %q", store.Clip(id))
	}
	var w store.Webhook
	err := s.c.Read.QueryRow(ctx, `SELECT id, coalesce(tenant_id, ''), url, secret, created_at FROM webhooks WHERE id = $1`, id).
		Scan(&w.ID, &w.Tenant, &w.URL, &w.Secret, timeAt(&w.CreatedAt))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("webhook %s", id)
	}
	if err != nil {
		return nil, s.dbErr("get webhook", err)
	}
	return &w, nil
}

// DeleteWebhook implements store.Store.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	if !store.ValidWebhookID(id) {
		return store.Invalid("invalid webhook id %q", store.Clip(id))
	}
	n, err := s.c.Write.Exec(ctx, `DELETE FROM webhooks WHERE id = $1`, id)
	return s.affected(n, err, "delete webhook", func() error { return store.NotFound("webhook %s", id) })
}

// AddDelivery implements store.Store.
func (s *Store) AddDelivery(ctx context.Context, d *store.Delivery) error {
	if err := d.Validate(); err != nil {
		return err
	}
	_, err := s.c.Write.Exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, attempt, at, status, error)
		VALUES ($1, $2, $3, $4, $5, $6)`, d.Webhook, d.Event, d.Attempt, s.d.Time(store.Trunc(d.At)), d.Status, d.Error)
	if s.d.ForeignKey(err) {
		return store.NotFound("webhook %s", d.Webhook)
	}
	if err != nil {
		return s.dbErr("add delivery", err)
	}
	return nil
}

// Deliveries implements store.Store.
func (s *Store) Deliveries(ctx context.Context, webhook string, limit int) ([]*store.Delivery, error) {
	if !store.ValidWebhookID(webhook) {
		return nil, store.Invalid("invalid webhook id %q", store.Clip(webhook))
	}
	limit, err := store.HistoryLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.c.Read.Query(ctx, `SELECT webhook_id, event_id, attempt, at, status, error
		FROM webhook_deliveries WHERE webhook_id = $1 ORDER BY at DESC, seq DESC LIMIT $2`, webhook, limit)
	return collect(s, "deliveries", rows, err, func(row Row) (*store.Delivery, error) {
		var d store.Delivery
		return &d, row.Scan(&d.Webhook, &d.Event, &d.Attempt, timeAt(&d.At), &d.Status, &d.Error)
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
