package sqlite

import (
	"context"
	"database/sql"
	"strings"

	"github.com/byok-dev/byok/internal/store/sqlstore"
)

// conn adapts a database/sql pool or transaction to sqlstore.Querier.
type conn struct {
	q interface {
		ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
		QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
		QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
	}
}

// rebind turns the shared statements' $n placeholders into SQLite's ?n,
// which bind by number the same way. None of the statements has a '$'
// anywhere else; statements without arguments, such as migrations, are
// left as written.
func rebind(query string, args []any) string {
	if len(args) == 0 {
		return query
	}
	return strings.ReplaceAll(query, "$", "?")
}

func (c conn) Exec(ctx context.Context, query string, args ...any) (int64, error) {
	res, err := c.q.ExecContext(ctx, rebind(query, args), args...)
	if err != nil {
		return 0, err
	}
	return res.RowsAffected()
}

func (c conn) Query(ctx context.Context, query string, args ...any) (sqlstore.Rows, error) {
	rows, err := c.q.QueryContext(ctx, rebind(query, args), args...)
	if err != nil {
		return nil, err
	}
	return sqlRows{rows}, nil
}

func (c conn) QueryRow(ctx context.Context, query string, args ...any) sqlstore.Row {
	return c.q.QueryRowContext(ctx, rebind(query, args), args...)
}

type sqlRows struct{ *sql.Rows }

func (r sqlRows) Close() { r.Rows.Close() }

type tx struct {
	conn
	tx *sql.Tx
}

func (t tx) Commit(context.Context) error   { return t.tx.Commit() }
func (t tx) Rollback(context.Context) error { return t.tx.Rollback() }

// conns gives the shared store the write pool for writes and transactions,
// which begin IMMEDIATE, and the read-only pool for reads.
func conns(w, r *sql.DB) sqlstore.Conns {
	return sqlstore.Conns{
		Read:  conn{r},
		Write: conn{w},
		Begin: func(ctx context.Context) (sqlstore.Tx, error) {
			t, err := w.BeginTx(ctx, nil)
			if err != nil {
				return nil, err
			}
			return tx{conn{t}, t}, nil
		},
	}
}
