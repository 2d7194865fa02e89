package sqlstore

import (
	"context"
	"database/sql"
	"errors"

	"github.com/byok-dev/byok/internal/store"
)

// AppendAudit implements store.AuditStore. The head row is created if
// missing and then read for update, so concurrent appends to one chain,
// from any instance, queue on it; the (chain, seq) primary key is the
// backstop. The head row always ends at next, so creating it early leaves
// nothing behind that a commit would not have written anyway.
func (s *Store) AppendAudit(ctx context.Context, chain string, build func(store.AuditHead) ([]store.AuditRow, store.AuditHead, error)) error {
	if err := store.ValidateAuditChain(chain); err != nil {
		return err
	}
	return s.tx(ctx, func(tx Tx) error {
		head, err := s.lockAuditHead(ctx, tx, chain)
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
		return s.appendAudit(ctx, tx, rows, next)
	})
}

func (s *Store) lockAuditHead(ctx context.Context, tx Tx, chain string) (store.AuditHead, error) {
	_, err := tx.Exec(ctx, `INSERT INTO audit_heads (chain, seq, hash, mac) VALUES ($1, 0, $2, $2)
		ON CONFLICT (chain) DO NOTHING`, chain, []byte{})
	if err != nil {
		return store.AuditHead{}, s.dbErr("append audit", err)
	}
	h := store.AuditHead{Chain: chain}
	err = tx.QueryRow(ctx, `SELECT seq, hash, mac FROM audit_heads WHERE chain = $1`+s.d.ForUpdate, chain).Scan(&h.Seq, &h.Hash, &h.MAC)
	if err != nil {
		return h, s.dbErr("append audit", err)
	}
	h.Normalize()
	return h, nil
}

func (s *Store) appendAudit(ctx context.Context, tx Tx, rows []store.AuditRow, next store.AuditHead) error {
	for _, r := range rows {
		_, err := tx.Exec(ctx, `INSERT INTO audit_rows (chain, seq, at, event, prev, hash) VALUES ($1, $2, $3, $4, $5, $6)`,
			r.Chain, r.Seq, s.d.Time(store.Trunc(r.At)), r.Event, nonNil(r.Prev), r.Hash)
		if s.d.Unique(err, "") {
			return store.Conflict("audit chain %s already has row %d", r.Chain, r.Seq)
		}
		if err != nil {
			return s.dbErr("append audit", err)
		}
	}
	_, err := tx.Exec(ctx, `UPDATE audit_heads SET seq = $2, hash = $3, mac = $4 WHERE chain = $1`,
		next.Chain, next.Seq, nonNil(next.Hash), nonNil(next.MAC))
	if err != nil {
		return s.dbErr("append audit", err)
	}
	return nil
}

// AuditHead implements store.AuditStore.
func (s *Store) AuditHead(ctx context.Context, chain string) (store.AuditHead, error) {
	if err := store.ValidateAuditChain(chain); err != nil {
		return store.AuditHead{}, err
	}
	h := store.AuditHead{Chain: chain}
	err := s.c.Read.QueryRow(ctx, `SELECT seq, hash, mac FROM audit_heads WHERE chain = $1`, chain).Scan(&h.Seq, &h.Hash, &h.MAC)
	if errors.Is(err, sql.ErrNoRows) {
		return h, store.NotFound("audit chain %s", chain)
	}
	if err != nil {
		return h, s.dbErr("audit head", err)
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
	rows, err := s.c.Read.Query(ctx, `SELECT seq, at, event, prev, hash FROM audit_rows
		WHERE chain = $1 AND seq > $2 ORDER BY seq LIMIT $3`, chain, after, limit)
	return collect(s, "audit rows", rows, err, func(row Row) (store.AuditRow, error) {
		r := store.AuditRow{Chain: chain}
		err := row.Scan(&r.Seq, timeAt(&r.At), &r.Event, &r.Prev, &r.Hash)
		return r, err
	})
}

// AuditChains implements store.AuditStore.
func (s *Store) AuditChains(ctx context.Context) ([]string, error) {
	rows, err := s.c.Read.Query(ctx, `SELECT chain FROM audit_heads UNION SELECT chain FROM audit_rows ORDER BY chain`)
	return collect(s, "audit chains", rows, err, func(row Row) (string, error) {
		var c string
		err := row.Scan(&c)
		return c, err
	})
}
