// Package postgres is the [store.Store] for many instances on one
// PostgreSQL database, through a pgx/v5 connection pool.
//
// # Concurrency
//
// Transactions run at READ COMMITTED. Tenant updates are one UPDATE
// conditional on the revision; a second writer waits for the first's row
// lock, sees the new revision and gets store.ErrConflict. Changes to a key
// version's wrappings lock the version row first, and shredding locks the
// tenant and its versions, so concurrent changes queue instead of failing on
// a constraint.
//
// # Migrations
//
// [Open] applies the embedded migrations in one transaction under an
// advisory lock, so instances starting at once migrate exactly once, and
// refuses a database migrated by a newer release with
// [store.ErrSchemaTooNew].
package postgres

import (
	"context"
	"embed"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/jackc/pgx/v5/pgconn"
	"github.com/jackc/pgx/v5/pgxpool"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/sqlstore"
)

// Config configures a Store.
type Config struct {
	// URL is a PostgreSQL connection string (postgres://... or key=value).
	URL string
	// Writer names this release in the key versions it writes; empty means
	// store.DefaultWriter().
	Writer string
	// MaxConns bounds the pool; 0 keeps pgx's default.
	MaxConns int32
}

// Store is a store.Store and store.AuditStore on PostgreSQL. Its methods but
// Close are those of the shared store in internal/store/sqlstore, which
// runs the same statements on both databases.
type Store struct {
	*core
	pool *pgxpool.Pool
}

// core is embedded under a name of its own, so that only its methods are
// exported.
type core = sqlstore.Store

// dialect stores times as timestamptz and, since transactions run at READ
// COMMITTED, locks the rows a transaction reads before it changes them.
var dialect = sqlstore.Dialect{
	Name:         "postgres",
	Time:         func(t time.Time) any { return t },
	ForUpdate:    " FOR UPDATE",
	AdvisoryLock: `SELECT pg_advisory_xact_lock($1)`,
	Unique: func(err error, column string) bool {
		// A column's unique constraint is named table_column_key, as
		// PostgreSQL names it by default and the migrations spell out.
		code, constraint := pgErr(err)
		return code == uniqueViolation && (column == "" || constraint == strings.ReplaceAll(column, ".", "_")+"_key")
	},
	ForeignKey: isForeignKey,
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.AuditStore = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Open connects to cfg.URL and migrates the database.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	pc, err := pgxpool.ParseConfig(cfg.URL)
	if err != nil {
		return nil, store.Invalid("postgres: malformed connection string")
	}
	if cfg.MaxConns > 0 {
		pc.MaxConns = cfg.MaxConns
	}
	pool, err := pgxpool.NewWithConfig(ctx, pc)
	if err != nil {
		return nil, fmt.Errorf("postgres: connect: %w", err)
	}
	s := &Store{core: sqlstore.New(dialect, conns(pool), cfg.Writer), pool: pool}
	if err := sqlstore.Migrate(ctx, s.core, migrationFS, createMigrations); err != nil {
		pool.Close()
		return nil, err
	}
	return s, nil
}

func (c *Config) check() error {
	if c.URL == "" {
		return store.Invalid("postgres: no connection string")
	}
	if c.MaxConns < 0 {
		return store.Invalid("postgres: max connections must not be negative")
	}
	if c.Writer == "" {
		c.Writer = store.DefaultWriter()
	}
	return store.ValidateWriter(c.Writer)
}

// Close implements store.Store.
func (s *Store) Close() error {
	s.pool.Close()
	return nil
}

const createMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`

// PostgreSQL error codes the store maps.
const (
	uniqueViolation     = "23505"
	foreignKeyViolation = "23503"
)

// pgErr returns the SQLSTATE and constraint of err, if it is a server error.
func pgErr(err error) (code, constraint string) {
	var pe *pgconn.PgError
	if errors.As(err, &pe) {
		return pe.Code, pe.ConstraintName
	}
	return "", ""
}

func isForeignKey(err error) bool {
	code, _ := pgErr(err)
	return code == foreignKeyViolation
}
