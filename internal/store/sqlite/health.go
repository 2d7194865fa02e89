package sqlite

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
	_, err := s.w.ExecContext(ctx, `INSERT INTO key_health (tenant_id, at, outcome, code, key_id, version, request_id, detail)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?)`,
		r.Tenant, micros(r.At), r.Outcome, r.Code, r.Key, r.Version, r.RequestID, r.Detail)
	if isForeignKey(err) {
		return store.NotFound("tenant %s", r.Tenant)
	}
	if err != nil {
		return dbErr("add health", err)
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
	rows, err := s.r.QueryContext(ctx, `SELECT tenant_id, at, outcome, code, key_id, version, request_id, detail
		FROM key_health WHERE tenant_id = ? ORDER BY at DESC, seq DESC LIMIT ?`, tenant, limit)
	if err != nil {
		return nil, dbErr("health", err)
	}
	defer rows.Close()
	var out []*store.HealthRecord
	for rows.Next() {
		var r store.HealthRecord
		var at int64
		if err := rows.Scan(&r.Tenant, &at, &r.Outcome, &r.Code, &r.Key, &r.Version, &r.RequestID, &r.Detail); err != nil {
			return nil, dbErr("health", err)
		}
		r.At = fromMicros(at)
		out = append(out, &r)
	}
	return out, wrapRowsErr("health", rows.Err())
}

// CreateWebhook implements store.Store.
func (s *Store) CreateWebhook(ctx context.Context, in *store.Webhook) (*store.Webhook, error) {
	if err := in.Validate(); err != nil {
		return nil, err
	}
	w := *in
	w.Secret, w.CreatedAt = append([]byte(nil), in.Secret...), store.Now()
	_, err := s.w.ExecContext(ctx, `INSERT INTO webhooks (id, tenant_id, url, secret, created_at) VALUES (?, ?, ?, ?, ?)`,
		w.ID, nullString(w.Tenant), w.URL, w.Secret, micros(w.CreatedAt))
	switch {
	case isUnique(err):
		return nil, store.Conflict("webhook %s already exists", w.ID)
	case isForeignKey(err):
		return nil, store.NotFound("tenant %s", w.Tenant)
	case err != nil:
		return nil, dbErr("create webhook", err)
	}
	return &w, nil
}

// Webhooks implements store.Store.
func (s *Store) Webhooks(ctx context.Context, tenant string) ([]*store.Webhook, error) {
	if tenant != "" && !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	rows, err := s.r.QueryContext(ctx, `SELECT id, coalesce(tenant_id, ''), url, secret, created_at FROM webhooks
		WHERE tenant_id IS NULL OR tenant_id = ? ORDER BY id`, tenant)
	if err != nil {
		return nil, dbErr("webhooks", err)
	}
	defer rows.Close()
	var out []*store.Webhook
	for rows.Next() {
		var w store.Webhook
		var created int64
		if err := rows.Scan(&w.ID, &w.Tenant, &w.URL, &w.Secret, &created); err != nil {
			return nil, dbErr("webhooks", err)
		}
		w.CreatedAt = fromMicros(created)
		out = append(out, &w)
	}
	return out, wrapRowsErr("webhooks", rows.Err())
}

// DeleteWebhook implements store.Store.
func (s *Store) DeleteWebhook(ctx context.Context, id string) error {
	if !store.ValidWebhookID(id) {
		return store.Invalid("invalid webhook id %q", store.Clip(id))
	}
	res, err := s.w.ExecContext(ctx, `DELETE FROM webhooks WHERE id = ?`, id)
	if err != nil {
		return dbErr("delete webhook", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.NotFound("webhook %s", id)
	}
	return nil
}

// AddDelivery implements store.Store.
func (s *Store) AddDelivery(ctx context.Context, d *store.Delivery) error {
	if err := d.Validate(); err != nil {
		return err
	}
	_, err := s.w.ExecContext(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, attempt, at, status, error)
		VALUES (?, ?, ?, ?, ?, ?)`, d.Webhook, d.Event, d.Attempt, micros(d.At), d.Status, d.Error)
	if isForeignKey(err) {
		return store.NotFound("webhook %s", d.Webhook)
	}
	if err != nil {
		return dbErr("add delivery", err)
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
	rows, err := s.r.QueryContext(ctx, `SELECT webhook_id, event_id, attempt, at, status, error
		FROM webhook_deliveries WHERE webhook_id = ? ORDER BY at DESC, seq DESC LIMIT ?`, webhook, limit)
	if err != nil {
		return nil, dbErr("deliveries", err)
	}
	defer rows.Close()
	var out []*store.Delivery
	for rows.Next() {
		var d store.Delivery
		var at int64
		if err := rows.Scan(&d.Webhook, &d.Event, &d.Attempt, &at, &d.Status, &d.Error); err != nil {
			return nil, dbErr("deliveries", err)
		}
		d.At = fromMicros(at)
		out = append(out, &d)
	}
	return out, wrapRowsErr("deliveries", rows.Err())
}

// PruneHistory implements store.Store.
func (s *Store) PruneHistory(ctx context.Context, before time.Time) (int, error) {
	n := 0
	err := s.tx(ctx, func(tx *sql.Tx) error {
		for _, table := range []string{"key_health", "webhook_deliveries"} {
			res, err := tx.ExecContext(ctx, `DELETE FROM `+table+` WHERE at < ?`, micros(before))
			if err != nil {
				return dbErr("prune history", err)
			}
			k, _ := res.RowsAffected()
			n += int(k)
		}
		return nil
	})
	return n, err
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func wrapRowsErr(op string, err error) error {
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return dbErr(op, err)
	}
	return nil
}
