// Package sqlstore is the query logic shared by the SQL stores: one set of
// statements, written once, that internal/store/sqlite and
// internal/store/postgres run through their own drivers.
//
// # Dialect
//
// Statements use PostgreSQL's numbered placeholders ($1, $2, ...); a backend
// whose database wants another style rewrites them in its [Querier]. What
// else differs between the databases is a [Dialect]: how a time is stored,
// whether a transaction must lock the rows it reads before changing them,
// how to take a transaction-scoped lock, and how the driver reports unique
// and foreign-key violations.
//
// # Connections
//
// A backend hands [New] its [Conns]: a [Querier] for reads, one for
// single-statement writes and a way to begin a write transaction. The
// querier and transaction interfaces are the few calls the store makes, so
// database/sql and pgx adapt to them in a few lines each.
//
// # Shred layer
//
// With a [Sealer] set ([Store.SetSealer]), every wrapping's ciphertext is
// stored sealed under its tenant's shred key, which lives outside the
// database (internal/shred); the wrappings column shred_layer says which
// rows are. Rows written without one read as they are, and
// [Store.SealLegacy] seals them.
package sqlstore

import (
	"context"
	"fmt"
	"time"
)

// Dialect is what the store needs to know about a database beyond its
// driver.
type Dialect struct {
	// Name prefixes database errors: "sqlite: commit: ...".
	Name string
	// Time encodes t for a time column. Columns decode the same way in
	// every dialect, from Unix microseconds or from a timestamp.
	Time func(t time.Time) any
	// ForUpdate follows a SELECT whose rows the transaction goes on to
	// change: " FOR UPDATE" where concurrent transactions would otherwise
	// interleave, "" where the database runs one writer at a time.
	ForUpdate string
	// AdvisoryLock is a statement taking a lock on the integer $1 until the
	// transaction ends, or "" where the database runs one writer at a time.
	AdvisoryLock string
	// Unique reports whether err is a unique violation; with a non-empty
	// column ("table.column"), only one of that column's unique constraint.
	Unique func(err error, column string) bool
	// ForeignKey reports whether err is a foreign-key violation.
	ForeignKey func(err error) bool
	// Reclaim is a statement that removes deleted rows' bytes from files
	// beside the database (SQLite's WAL), or "" where there is none.
	Reclaim string
}

// Row is a single-row query result.
type Row interface {
	// Scan returns an error matching sql.ErrNoRows when there is no row.
	Scan(dest ...any) error
}

// Rows is a multi-row query result.
type Rows interface {
	Row
	Next() bool
	Err() error
	Close()
}

// Querier runs statements on a pool or in a transaction.
type Querier interface {
	// Exec returns the number of rows the statement changed.
	Exec(ctx context.Context, query string, args ...any) (int64, error)
	Query(ctx context.Context, query string, args ...any) (Rows, error)
	QueryRow(ctx context.Context, query string, args ...any) Row
}

// Tx is a write transaction.
type Tx interface {
	Querier
	Commit(ctx context.Context) error
	Rollback(ctx context.Context) error
}

// Conns are a backend's connections.
type Conns struct {
	// Read runs reads outside transactions.
	Read Querier
	// Write runs single-statement writes.
	Write Querier
	// Begin starts a write transaction.
	Begin func(ctx context.Context) (Tx, error)
}

// Store implements everything of store.Store, store.Tokens and
// store.AuditStore but Close, which belongs to the backend that owns the
// connections.
type Store struct {
	d      Dialect
	c      Conns
	writer string
	// sealer, when set, seals every wrapping written (SetSealer).
	sealer Sealer
}

// New returns a Store that records writer in the key versions and
// wrappings it writes.
func New(d Dialect, c Conns, writer string) *Store {
	return &Store{d: d, c: c, writer: writer}
}

// tx runs fn in a write transaction, committing if fn returns nil.
func (s *Store) tx(ctx context.Context, fn func(Tx) error) error {
	tx, err := s.c.Begin(ctx)
	if err != nil {
		return s.dbErr("begin", err)
	}
	if err := fn(tx); err != nil {
		// A canceled ctx must not keep the rollback from reaching the server.
		tx.Rollback(context.WithoutCancel(ctx))
		return err
	}
	if err := tx.Commit(ctx); err != nil {
		return s.dbErr("commit", err)
	}
	return nil
}

// lock takes the dialect's advisory lock on key for the rest of tx.
func (s *Store) lock(ctx context.Context, tx Querier, op string, key int64) error {
	if s.d.AdvisoryLock == "" {
		return nil
	}
	if _, err := tx.Exec(ctx, s.d.AdvisoryLock, key); err != nil {
		return s.dbErr(op, err)
	}
	return nil
}

// dbErr wraps an unexpected database error with the operation.
func (s *Store) dbErr(op string, err error) error {
	return fmt.Errorf("%s: %s: %w", s.d.Name, op, err)
}

// each calls fn for every row of a query; rows and err are what the query
// returned.
func (s *Store) each(op string, rows Rows, err error, fn func(Row) error) error {
	if err != nil {
		return s.dbErr(op, err)
	}
	defer rows.Close()
	for rows.Next() {
		if err := fn(rows); err != nil {
			return s.dbErr(op, err)
		}
	}
	if err := rows.Err(); err != nil {
		return s.dbErr(op, err)
	}
	return nil
}

// collect scans every row of a query with scan.
func collect[T any](s *Store, op string, rows Rows, err error, scan func(Row) (T, error)) ([]T, error) {
	var out []T
	err = s.each(op, rows, err, func(row Row) error {
		v, err := scan(row)
		out = append(out, v)
		return err
	})
	if err != nil {
		return nil, err
	}
	return out, nil
}

// affected turns the result of a single-row change into nil, the database
// error, or notFound() when no row matched.
func (s *Store) affected(n int64, err error, op string, notFound func() error) error {
	if err != nil {
		return s.dbErr(op, err)
	}
	if n == 0 {
		return notFound()
	}
	return nil
}

// timeAt returns a scan destination for a time column stored either as
// Unix microseconds or as a timestamp; NULL scans as the zero time.
func timeAt(t *time.Time) *timeCol { return &timeCol{t} }

type timeCol struct{ t *time.Time }

// Scan implements sql.Scanner.
func (c *timeCol) Scan(src any) error {
	switch v := src.(type) {
	case nil:
		*c.t = time.Time{}
	case int64:
		*c.t = time.UnixMicro(v).UTC()
	case time.Time:
		*c.t = v.UTC()
	default:
		return fmt.Errorf("time column holds %T", src)
	}
	return nil
}

// nullTime encodes the zero time as NULL.
func (s *Store) nullTime(t time.Time) any {
	if t.IsZero() {
		return nil
	}
	return s.d.Time(t)
}

// nullIfEmpty stores "" as NULL.
func nullIfEmpty(s string) any {
	if s == "" {
		return nil
	}
	return s
}

// nonNil keeps empty blobs out of NOT NULL columns as NULL.
func nonNil(b []byte) []byte {
	if b == nil {
		return []byte{}
	}
	return b
}
