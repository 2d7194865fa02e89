package postgres

import (
	"context"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/byok-dev/byok/internal/store/sqlstore"
)

// conn adapts a pgx pool or transaction to sqlstore.Querier.
type conn struct {
	q interface {
		Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
		Query(ctx context.Context, sql string, args ...any) (pgx.Rows, error)
		QueryRow(ctx context.Context, sql string, args ...any) pgx.Row
	}
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	tag, err := c.q.Exec(ctx, query, args...)
	return tag.RowsAffected(), err
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.Query(ctx, query, args...)
	if err != nil {
		return nil, err
	}
	return rows, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRow(ctx, query, args...)
}

type tx struct {
	conn
	tx pgx.Tx
}

func (t tx) Commit(ctx context.Context) error   { return t.tx.Commit(ctx) }
func (t tx) Rollback(ctx context.Context) error { return t.tx.Rollback(ctx) }

// conns runs everything on the one pool.
func conns(pool *pgxpool.Pool) sqlstore.Conns {
	return sqlstore.Conns{
		Read:  conn{pool},
		Write: conn{pool},
		Begin: func(ctx context.Context) (sqlstore.Tx, error) {
			t, err := pool.Begin(ctx)
			if err != nil {
				return nil, err
			}
			return tx{conn{t}, t}, nil
		},
	}
}
