package postgres

import (
	"context"
	"errors"

	"github.com/jackc/pgx/v5"

	"github.com/byok-dev/byok/internal/store"
)

var _ store.AuditStore = (*Store)(nil)

// AppendAudit implements store.AuditStore. The head row is created if
// missing and then locked FOR UPDATE, so concurrent appends to one chain,
// from any instance, queue on it; the (chain, seq) primary key is the
// backstop.
func (s *Store) AppendAudit(ctx context.Context, chain string, build func(store.AuditHead) ([]store.AuditRow, store.AuditHead, error)) error {
	if err := store.ValidateAuditChain(chain); err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		head, err := lockAuditHead(ctx, tx, chain)
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

func lockAuditHead(ctx context.Context, tx pgx.Tx, chain string) (store.AuditHead, error) {
	_, err := tx.Exec(ctx, `INSERT INTO audit_heads (chain, seq, hash, mac) VALUES ($1, 0, '', '')
		ON CONFLICT (chain) DO NOTHING`, chain)
	if err != nil {
		return store.AuditHead{}, dbErr("append audit", err)
	}
	h := store.AuditHead{Chain: chain}
	err = tx.QueryRow(ctx, `SELECT seq, hash, mac FROM audit_heads WHERE chain = $1 FOR UPDATE`, chain).Scan(&h.Seq, &h.Hash, &h.MAC)
	if err != nil {
		return h, dbErr("append audit", err)
	}
	h.Normalize()
	return h, nil
}

func appendAudit(ctx context.Context, tx pgx.Tx, rows []store.AuditRow, next store.AuditHead) error {
	for _, r := range rows {
		_, err := tx.Exec(ctx, `INSERT INTO audit_rows (chain, seq, at, event, prev, hash) VALUES ($1, $2, $3, $4, $5, $6)`,
			r.Chain, r.Seq, store.Trunc(r.At), r.Event, nonNil(r.Prev), r.Hash)
		if isUnique(err) {
			return store.Conflict("audit chain %s already has row %d", r.Chain, r.Seq)
		}
		if err != nil {
			return dbErr("append audit", err)
		}
	}
	_, err := tx.Exec(ctx, `UPDATE audit_heads SET seq = $2, hash = $3, mac = $4 WHERE chain = $1`,
		next.Chain, next.Seq, nonNil(next.Hash), nonNil(next.MAC))
	if err != nil {
		return dbErr("append audit", err)
	}
	return nil
}

// AuditHead implements store.AuditStore.
func (s *Store) AuditHead(ctx context.Context, chain string) (store.AuditHead, error) {
	if err := store.ValidateAuditChain(chain); err != nil {
		return store.AuditHead{}, err
	}
	h := store.AuditHead{Chain: chain}
	err := s.pool.QueryRow(ctx, `SELECT seq, hash, mac FROM audit_heads WHERE chain = $1`, chain).Scan(&h.Seq, &h.Hash, &h.MAC)
	if errors.Is(err, pgx.ErrNoRows) {
		return h, store.NotFound("audit chain %s", chain)
	}
	if err != nil {
		return h, dbErr("audit head", err)
	}
	h.Normalize()
	return h, nil
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
	rows, err := s.pool.Query(ctx, `SELECT seq, at, event, prev, hash FROM audit_rows
		WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3`, chain, after, limit)
	if err != nil {
		return nil, dbErr("audit rows", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (store.AuditRow, error) {
		r := store.AuditRow{Chain: chain}
		err := row.Scan(&r.Seq, &r.At, &r.Event, &r.Prev, &r.Hash)
		r.At = r.At.UTC()
		return r, err
	})
	if err != nil {
		return nil, dbErr("audit rows", err)
	}
	return out, nil
}

// AuditChains implements store.AuditStore.
func (s *Store) AuditChains(ctx context.Context) ([]string, error) {
	rows, err := s.pool.Query(ctx, `SELECT chain FROM audit_heads UNION SELECT chain FROM audit_rows ORDER BY chain`)
	if err != nil {
		return nil, dbErr("audit chains", err)
	}
	out, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		return nil, dbErr("audit chains", err)
	}
	return out, nil
}
