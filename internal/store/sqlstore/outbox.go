package sqlstore

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

// EnqueueEvent implements store.Store. Selecting the subscriptions in the
// INSERT itself makes the fan-out one statement: a subscription is either
// committed before it and gets the event, or after it and does not.
func (s *Store) EnqueueEvent(ctx context.Context, e *store.OutboxEvent) (int, error) {
	if err := e.Validate(); err != nil {
		return 0, err
	}
	return s.enqueue(ctx, s.c.Write, e)
}

func (s *Store) enqueue(ctx context.Context, q Querier, e *store.OutboxEvent) (int, error) {
	at := s.d.Time(store.Trunc(e.At))
	n, err := q.Exec(ctx, `INSERT INTO webhook_outbox
		(owner, webhook_id, event_id, event_type, body, attempts, created_at, next_attempt_at, claim)
		SELECT owner, id, $1, $2, $3, 0, $4, $4, '' FROM webhooks WHERE tenant_id IS NULL OR tenant_id = $5
		ON CONFLICT (owner, webhook_id, event_id) DO NOTHING`,
		e.ID, e.Type, e.Body, at, e.Tenant)
	if err != nil {
		return 0, s.dbErr("enqueue event", err)
	}
	return int(n), nil
}

// ClaimOutbox implements store.Store. The UPDATE repeats the lease
// condition of its subquery: on PostgreSQL a concurrent claimer that picked
// the same rows waits for the first one's row locks, then re-checks the
// condition against the new lease and skips them.
func (s *Store) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Outbound, error) {
	if err := store.ValidateClaim(now, lease, limit); err != nil {
		return nil, err
	}
	now = store.Trunc(now)
	token := newClaim()
	n, err := s.c.Write.Exec(ctx, `UPDATE webhook_outbox SET claim = $1, claimed_until = $2
		WHERE seq IN (SELECT seq FROM webhook_outbox
			WHERE next_attempt_at <= $3 AND (claimed_until IS NULL OR claimed_until <= $3)
			ORDER BY next_attempt_at, seq LIMIT $4)
		AND (claimed_until IS NULL OR claimed_until <= $3)`,
		token, s.d.Time(now.Add(lease)), s.d.Time(now), limit)
	if err != nil {
		return nil, s.dbErr("claim outbox", err)
	}
	if n == 0 {
		return nil, nil
	}
	// The write pool reads its own commit, which a read-only connection
	// might not see yet on every backend.
	rows, err := s.c.Write.Query(ctx, `SELECT `+outboxColumns+`, w.url, w.secret, w.sealed_secret, w.owner
		FROM webhook_outbox o JOIN webhooks w ON w.owner = o.owner AND w.id = o.webhook_id
		WHERE o.claim = $1 ORDER BY o.next_attempt_at, o.seq`, token)
	return collect(s, "claim outbox", rows, err, func(row Row) (*store.Outbound, error) {
		o, dest := scanOutbound()
		if err := row.Scan(append(dest, &o.URL, &o.Secret, &o.SealedSecret, &o.Tenant)...); err != nil {
			return nil, err
		}
		o.Secret, o.SealedSecret = orNil(o.Secret), orNil(o.SealedSecret)
		return o, nil
	})
}

const outboxColumns = `o.seq, o.webhook_id, o.event_id, o.event_type, o.body, o.attempts,
	o.created_at, o.next_attempt_at, o.claim, o.claimed_until`

func scanOutbound() (*store.Outbound, []any) {
	var o store.Outbound
	return &o, []any{&o.Seq, &o.Webhook, &o.Event, &o.Type, &o.Body, &o.Attempts,
		timeAt(&o.CreatedAt), timeAt(&o.NextAttempt), &o.Claim, timeAt(&o.ClaimedUntil)}
}

func newClaim() string {
	var b [16]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// RescheduleOutbox implements store.Store.
func (s *Store) RescheduleOutbox(ctx context.Context, seq int64, claim string, attempts int, next time.Time) error {
	if claim == "" || attempts < 0 || next.IsZero() || next.Year() > 9999 {
		return store.Invalid("outbox entry %d: a claim, attempts from 0 and a due time needed", seq)
	}
	n, err := s.c.Write.Exec(ctx, `UPDATE webhook_outbox
		SET attempts = $1, next_attempt_at = $2, claim = '', claimed_until = NULL
		WHERE seq = $3 AND claim = $4`, attempts, s.d.Time(store.Trunc(next)), seq, claim)
	return s.affected(n, err, "reschedule outbox", func() error { return lost(seq) })
}

// DeleteOutbox implements store.Store.
func (s *Store) DeleteOutbox(ctx context.Context, seq int64, claim string) error {
	if claim == "" {
		return store.Invalid("outbox entry %d: no claim", seq)
	}
	n, err := s.c.Write.Exec(ctx, `DELETE FROM webhook_outbox WHERE seq = $1 AND claim = $2`, seq, claim)
	return s.affected(n, err, "delete outbox", func() error { return lost(seq) })
}

func lost(seq int64) error {
	return store.NotFound("outbox entry %d is gone or claimed by another deliverer", seq)
}

// Outbox implements store.Store.
func (s *Store) Outbox(ctx context.Context, tenant, webhook string, limit int) ([]*store.Outbound, error) {
	if webhook != "" {
		if err := validHookKey(tenant, webhook); err != nil {
			return nil, err
		}
	}
	limit, err := store.HistoryLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.c.Read.Query(ctx, `SELECT `+outboxColumns+`, o.owner FROM webhook_outbox o
		WHERE $1 = '' OR (o.owner = $2 AND o.webhook_id = $1) ORDER BY o.seq LIMIT $3`, webhook, tenant, limit)
	return collect(s, "outbox", rows, err, func(row Row) (*store.Outbound, error) {
		o, dest := scanOutbound()
		return o, row.Scan(append(dest, &o.Tenant)...)
	})
}
