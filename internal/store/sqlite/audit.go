package sqlite

import (
	"context"
	"database/sql"
	"errors"

	"github.com/byok-dev/byok/internal/store"
)

var _ store.AuditStore = (*Store)(nil)

// AppendAudit implements store.AuditStore. The single write connection and
// BEGIN IMMEDIATE serialize appends across this and other processes.
func (s *Store) AppendAudit(ctx context.Context, chain string, build func(store.AuditHead) ([]store.AuditRow, store.AuditHead, error)) error {
	if err := store.ValidateAuditChain(chain); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		head, err := auditHead(ctx, tx, chain)
		if errors.Is(err, store.ErrNotFound) {
			head, err = store.AuditHead{Chain: chain}, nil
		}
		if err != nil {
			return err
		}
		rows, next, err := build(head)
		if err != nil {
			return err
		}
		if err := store.ValidateAuditAppend(chain, head, rows, next); err != nil {
			return err
		}
		return appendAudit(ctx, tx, rows, next)
	})
}

func appendAudit(ctx context.Context, tx *sql.Tx, rows []store.AuditRow, next store.AuditHead) error {
	for _, r := range rows {
		_, err := tx.ExecContext(ctx, `INSERT INTO audit_rows (chain, seq, at, event, prev, hash) VALUES (?, ?, ?, ?, ?, ?)`,
			r.Chain, r.Seq, micros(r.At), r.Event, nonNil(r.Prev), r.Hash)
		if isUnique(err) {
			return store.Conflict("audit chain %s already has row %d", r.Chain, r.Seq)
		}
		if err != nil {
			return dbErr("append audit", err)
		}
	}
	_, err := tx.ExecContext(ctx, `INSERT INTO audit_heads (chain, seq, hash, mac) VALUES (?, ?, ?, ?)
		ON CONFLICT (chain) DO UPDATE SET seq = excluded.seq, hash = excluded.hash, mac = excluded.mac`,
		next.Chain, next.Seq, nonNil(next.Hash), nonNil(next.MAC))
	if err != nil {
		return dbErr("append audit", err)
	}
	return nil
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

func auditHead(ctx context.Context, q querier, chain string) (store.AuditHead, error) {
	h := store.AuditHead{Chain: chain}
	err := q.QueryRowContext(ctx, `SELECT seq, hash, mac FROM audit_heads WHERE chain = ?`, chain).Scan(&h.Seq, &h.Hash, &h.MAC)
	if errors.Is(err, sql.ErrNoRows) {
		return h, store.NotFound("audit chain %s", chain)
	}
	if err != nil {
		return h, dbErr("audit head", err)
	}
	h.Normalize()
	return h, nil
}

// AuditHead implements store.AuditStore.
func (s *Store) AuditHead(ctx context.Context, chain string) (store.AuditHead, error) {
	if err := store.ValidateAuditChain(chain); err != nil {
		return store.AuditHead{}, err
	}
	return auditHead(ctx, s.r, chain)
}

// AuditRows implements store.AuditStore.
func (s *Store) AuditRows(ctx context.Context, chain string, after int64, limit int) ([]store.AuditRow, error) {
	if err := store.ValidateAuditChain(chain); err != nil {
		return nil, err
	}
	limit, err := store.AuditLimit(limit)
	if err != nil {
		return nil, err
	}
	rows, err := s.r.QueryContext(ctx, `SELECT seq, at, event, prev, hash FROM audit_rows
		WHERE chain = ? AND seq > ? ORDER BY seq LIMIT ?`, chain, after, limit)
	if err != nil {
		return nil, dbErr("audit rows", err)
	}
	defer rows.Close()
	var out []store.AuditRow
	for rows.Next() {
		r := store.AuditRow{Chain: chain}
		var at int64
		if err := rows.Scan(&r.Seq, &at, &r.Event, &r.Prev, &r.Hash); err != nil {
			return nil, dbErr("audit rows", err)
		}
		r.At = fromMicros(at)
		out = append(out, r)
	}
	return out, wrapRowsErr("audit rows", rows.Err())
}

// AuditChains implements store.AuditStore.
func (s *Store) AuditChains(ctx context.Context) ([]string, error) {
	rows, err := s.r.QueryContext(ctx, `SELECT chain FROM audit_heads UNION SELECT DISTINCT chain FROM audit_rows ORDER BY chain`)
	if err != nil {
		return nil, dbErr("audit chains", err)
	}
	defer rows.Close()
	var out []string
	for rows.Next() {
		var c string
		if err := rows.Scan(&c); err != nil {
			return nil, dbErr("audit chains", err)
		}
		out = append(out, c)
	}
	return out, wrapRowsErr("audit chains", rows.Err())
}
