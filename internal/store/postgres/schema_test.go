package postgres_test

import (
	"context"
	"errors"
	"fmt"
	"os"
	"strings"
	"sync"
	"testing"

	"github.com/jackc/pgx/v5"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/store/storetest"
)

var ctx = context.Background()

func raw(t *testing.T, url string) *pgx.Conn {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { conn.Close(ctx) })
	return conn
}

// TestMigratesOnce starts several instances on a new database at once: the
// advisory lock lets exactly one migrate.
func TestMigratesOnce(t *testing.T) {
	url := pgtest.NewDatabase(t)
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			s, err := postgres.Open(ctx, postgres.Config{URL: url})
			if err != nil {
				t.Errorf("Open() err = %v", err)
				return
			}
			s.Close()
		})
	}
	wg.Wait()
	var n, version int
	if err := raw(t, url).QueryRow(ctx, `SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &version); err != nil {
		t.Fatal(err)
	}
	if want := migrations(t); n != want || version != want {
		t.Fatalf("schema_migrations = %d rows up to %d, want %d rows up to version %d", n, version, want, want)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	url := pgtest.NewDatabase(t)
	open(t, url, "a").Close()
	if _, err := raw(t, url).Exec(ctx, fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, 'future.sql', now())`, migrations(t)+1)); err != nil {
		t.Fatal(err)
	}
	_, err := postgres.Open(ctx, postgres.Config{URL: url})
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", migrations(t)+1)) {
		t.Fatalf("Open(newer schema) err = %v, want ErrSchemaTooNew naming the future version", err)
	}
}

// TestForeignKeys checks the schema itself, below the store's own checks.
func TestForeignKeys(t *testing.T) {
	url := pgtest.NewDatabase(t)
	s := open(t, url, storetest.WriterA)
	storetest.SeedKeys(t, s, "acme")
	conn := raw(t, url)
	for _, stmt := range []string{`DELETE FROM key_versions`, `DELETE FROM tenants`} {
		if _, err := conn.Exec(ctx, stmt); err == nil || !strings.Contains(err.Error(), "foreign key") {
			t.Errorf("%s err = %v, want a foreign key violation", stmt, err)
		}
	}
	if _, err := s.LatestVersion(ctx, "acme"); err != nil {
		t.Fatalf("LatestVersion() after refused deletes err = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	cases := map[string]postgres.Config{
		"no url":        {},
		"malformed url": {URL: "postgres://%zz"},
		"negative pool": {URL: "postgres:///x", MaxConns: -1},
		"bad writer":    {URL: "postgres:///x", Writer: strings.Repeat("w", 300)},
	}
	for name, cfg := range cases {
		_, err := postgres.Open(ctx, cfg)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Open(%s) err = %v, want ErrInvalid", name, err)
		}
	}
}

// migrations counts the release's migration files.
func migrations(t *testing.T) int {
	t.Helper()
	es, err := os.ReadDir("migrations")
	if err != nil || len(es) == 0 {
		t.Fatalf("reading the migrations directory: %d files, %v", len(es), err)
	}
	return len(es)
}
