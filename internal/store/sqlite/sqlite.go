// Package sqlite is the embedded [store.Store]: one SQLite database file
// through modernc.org/sqlite (pure Go, no cgo).
//
// # Connections
//
// The database runs in WAL mode so readers never wait for the writer. Writes
// go through a pool of exactly one connection whose transactions begin
// IMMEDIATE, so writers in this process queue in Go instead of failing with
// SQLITE_BUSY; the busy timeout covers other processes on the same file.
// Reads use a separate read-only pool. Foreign keys are on for every
// connection and synchronous is FULL: a committed key version survives a
// power cut, because data may already be sealed under it. secure_delete is
// on, so deleted rows (wrapped keys, webhook secrets) are overwritten in
// the file rather than left in its free pages.
//
// # Files
//
// The database file is created 0600 before SQLite opens it, and SQLite
// gives its -wal and -shm files the same mode; an existing database that
// others may read is tightened at Open, with a warning.
//
// # Migrations
//
// [Open] applies the embedded migrations in one transaction, recording
// each in schema_migrations, and refuses a database migrated by a newer
// release with [store.ErrSchemaTooNew].
package sqlite

import (
	"context"
	"database/sql"
	"embed"
	"errors"
	"fmt"
	"log/slog"
	"net/url"
	"strconv"
	"strings"
	"time"

	"modernc.org/sqlite"
	sqlite3 "modernc.org/sqlite/lib"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/sqlstore"
)

// Config configures a Store.
type Config struct {
	// Path is the database file, created if missing. It may not contain
	// '?'; in-memory databases are refused (WAL needs a file).
	Path string
	// Writer names this release in the key versions it writes; empty means
	// store.DefaultWriter().
	Writer string
	// BusyTimeout is how long a statement waits for another process's lock.
	// Default 5 seconds.
	BusyTimeout time.Duration
	// Logger receives the warnings about database files that others may
	// read; default slog.Default().
	Logger *slog.Logger
}

// Store is a store.Store and store.AuditStore on SQLite. Its methods but
// Close are those of the shared store in internal/store/sqlstore, which
// runs the same statements on both databases.
type Store struct {
	*core
	w *sql.DB // one connection: all writes
	r *sql.DB // reads
}

// core is embedded under a name of its own, so that only its methods are
// exported.
type core = sqlstore.Store

// dialect stores times as Unix microseconds and locks nothing: the single
// write connection and IMMEDIATE transactions already serialize writers.
var dialect = sqlstore.Dialect{
	Name: "sqlite",
	Time: func(t time.Time) any { return t.UnixMicro() },
	Unique: func(err error, column string) bool {
		// SQLite names the column only in the message: "UNIQUE constraint
		// failed: tenants.external_id".
		return isUnique(err) && (column == "" || strings.Contains(err.Error(), column))
	},
	ForeignKey: isForeignKey,
	Reclaim:    `PRAGMA wal_checkpoint(TRUNCATE)`,
}

var (
	_ store.Store      = (*Store)(nil)
	_ store.AuditStore = (*Store)(nil)
)

//go:embed migrations/*.sql
var migrationFS embed.FS

// Open opens (creating and migrating if needed) the database at cfg.Path.
func Open(ctx context.Context, cfg Config) (*Store, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	if err := createPrivate(cfg.Path, cfg.Logger); err != nil {
		return nil, err
	}
	w, err := openPool(cfg, true)
	if err != nil {
		return nil, err
	}
	// Migrating creates the file in WAL mode before the read-only pool
	// opens it; the migration only needs the writer.
	if err := sqlstore.Migrate(ctx, sqlstore.New(dialect, conns(w, w), cfg.Writer), migrationFS, createMigrations); err != nil {
		w.Close()
		return nil, err
	}
	r, err := openPool(cfg, false)
	if err != nil {
		w.Close()
		return nil, err
	}
	return &Store{core: sqlstore.New(dialect, conns(w, r), cfg.Writer), w: w, r: r}, nil
}

const createMigrations = `CREATE TABLE IF NOT EXISTS schema_migrations (
	version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`

func (c *Config) check() error {
	if c.Path == "" || strings.Contains(c.Path, "?") || strings.Contains(c.Path, ":memory:") || strings.HasPrefix(c.Path, "file:") {
		return store.Invalid("sqlite: path must name a file and may not contain '?', ':memory:' or a file: prefix")
	}
	if c.BusyTimeout < 0 {
		return store.Invalid("sqlite: busy timeout must not be negative")
	}
	if c.BusyTimeout == 0 {
		c.BusyTimeout = 5 * time.Second
	}
	if c.Writer == "" {
		c.Writer = store.DefaultWriter()
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return store.ValidateWriter(c.Writer)
}

func openPool(cfg Config, writer bool) (*sql.DB, error) {
	q := url.Values{}
	q.Add("_pragma", "busy_timeout("+strconv.FormatInt(cfg.BusyTimeout.Milliseconds(), 10)+")")
	q.Add("_pragma", "foreign_keys(1)")
	q.Add("_pragma", "synchronous(FULL)")
	q.Add("_pragma", "secure_delete(1)")
	if writer {
		q.Add("_pragma", "journal_mode(WAL)")
		q.Set("_txlock", "immediate")
	} else {
		q.Add("_pragma", "query_only(1)")
	}
	db, err := sql.Open("sqlite", cfg.Path+"?"+q.Encode())
	if err != nil {
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	if writer {
		db.SetMaxOpenConns(1)
	}
	if err := db.Ping(); err != nil {
		db.Close()
		return nil, fmt.Errorf("sqlite: open %s: %w", cfg.Path, err)
	}
	return db, nil
}

// Close implements store.Store.
func (s *Store) Close() error {
	return errors.Join(s.r.Close(), s.w.Close())
}

// constraint reports whether err is one of the given SQLite constraint
// violations (extended result codes).
func constraint(err error, codes ...int) bool {
	var se *sqlite.Error
	if !errors.As(err, &se) {
		return false
	}
	for _, c := range codes {
		if se.Code() == c {
			return true
		}
	}
	return false
}

func isUnique(err error) bool {
	return constraint(err, sqlite3.SQLITE_CONSTRAINT_UNIQUE, sqlite3.SQLITE_CONSTRAINT_PRIMARYKEY)
}

func isForeignKey(err error) bool { return constraint(err, sqlite3.SQLITE_CONSTRAINT_FOREIGNKEY) }
