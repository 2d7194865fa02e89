package audit

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	_ "github.com/jackc/pgx/v5/stdlib" // the "pgx" database/sql driver, for tampering
	_ "modernc.org/sqlite"             // the "sqlite" driver, for tampering

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/store/sqlite"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var ctx = context.Background()

// backend is one store implementation with raw access to its database, as
// an attacker with write access would have.
type backend struct {
	name string
	open func(t *testing.T) (store.AuditStore, *sql.DB)
	// editSQL rewrites "ok" to "no" in the event of row seq of chain 'tenant:acme'.
	editSQL string
}

var backends = []backend{
	{name: "sqlite", open: openSQLite,
		editSQL: `UPDATE audit_rows SET event = CAST(replace(CAST(event AS TEXT), '"ok"', '"no"') AS BLOB) WHERE chain = 'tenant:acme' AND seq = %d`},
	{name: "postgres", open: openPostgres,
		editSQL: `UPDATE audit_rows SET event = convert_to(replace(convert_from(event, 'UTF8'), '"ok"', '"no"'), 'UTF8') WHERE chain = 'tenant:acme' AND seq = %d`},
}

func openSQLite(t *testing.T) (store.AuditStore, *sql.DB) {
	path := filepath.Join(t.TempDir(), "byok.db")
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	if err != nil {
		t.Fatalf("sqlite.Open() err = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, rawDB(t, "sqlite", path)
}

func openPostgres(t *testing.T) (store.AuditStore, *sql.DB) {
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 8})
	if err != nil {
		t.Fatalf("postgres.Open() err = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s, rawDB(t, "pgx", url)
}

func rawDB(t *testing.T, driver, dsn string) *sql.DB {
	db, err := sql.Open(driver, dsn)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// forEachBackend runs fn as a parallel subtest per store.
func forEachBackend(t *testing.T, fn func(t *testing.T, b backend)) {
	for _, b := range backends {
		t.Run(b.name, func(t *testing.T) {
			t.Parallel()
			fn(t, b)
		})
	}
}

func testKey(t *testing.T) Key {
	t.Helper()
	root, err := envelope.NewTenantKey("platform-root", 1, make([]byte, envelope.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	k, err := DeriveKey(root)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// clock is a settable fake clock.
type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	c.now = t
	c.mu.Unlock()
}

var t0 = time.Date(2026, 11, 22, 12, 0, 5, 0, time.UTC)

func newLog(t *testing.T, s store.AuditStore, c *clock) *Log {
	t.Helper()
	if c == nil {
		c = &clock{now: t0}
	}
	l, err := New(Config{Store: s, Key: testKey(t), Now: c.Now})
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	return l
}

func control(tenant, action string) Event {
	return Event{Tenant: tenant, Actor: "token:tk1 (alice)", Action: action, Outcome: OutcomeOK,
		KeyARN: "arn:aws:kms:eu-west-1:111122223333:key/mrk-1", RequestID: "req-" + action}
}

func mustRecord(t *testing.T, l *Log, e Event) {
	t.Helper()
	if err := l.Record(ctx, e); err != nil {
		t.Fatalf("Record(%s) err = %v", e.Action, err)
	}
}

func mustVerify(t *testing.T, l *Log, chain string) VerifyResult {
	t.Helper()
	res, err := l.Verify(ctx, chain)
	if err != nil {
		t.Fatalf("Verify(%s) err = %v", chain, err)
	}
	return res
}
