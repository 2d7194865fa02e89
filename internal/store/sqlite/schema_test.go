package sqlite_test

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/store/storetest"
)

// raw opens the file without the store, foreign keys on.
func raw(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=foreign_keys(1)&_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

func TestMigratesOnce(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byok.db")
	open(t, path, "a").Close()
	open(t, path, "b")
	var n, version int
	var mode string
	db := raw(t, path)
	if err := db.QueryRow(`SELECT count(*), max(version) FROM schema_migrations`).Scan(&n, &version); err != nil {
		t.Fatal(err)
	}
	if want := migrations(t); n != want || version != want {
		t.Fatalf("schema_migrations = %d rows up to %d, want %d rows up to version %d", n, version, want, want)
	}
	if err := db.QueryRow(`PRAGMA journal_mode`).Scan(&mode); err != nil || mode != "wal" {
		t.Fatalf("journal_mode = %q, %v; want wal", mode, err)
	}
}

func TestRefusesNewerSchema(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byok.db")
	open(t, path, "a").Close()
	if _, err := raw(t, path).Exec(fmt.Sprintf(`INSERT INTO schema_migrations VALUES (%d, 'future.sql', 0)`, migrations(t)+1)); err != nil {
		t.Fatal(err)
	}
	_, err := sqlite.Open(context.Background(), sqlite.Config{Path: path})
	if !errors.Is(err, store.ErrSchemaTooNew) || !strings.Contains(err.Error(), fmt.Sprintf("schema version %d", migrations(t)+1)) {
		t.Fatalf("Open(newer schema) err = %v, want ErrSchemaTooNew naming the future version", err)
	}
}

// TestForeignKeys checks the schema itself, below the store's own checks:
// no statement can delete a key version that has wrappings or a tenant that
// has key versions.
func TestForeignKeys(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byok.db")
	s := open(t, path, storetest.WriterA)
	storetest.SeedKeys(t, s, "acme")
	db := raw(t, path)
	for _, stmt := range []string{`DELETE FROM key_versions`, `DELETE FROM tenants`} {
		if _, err := db.Exec(stmt); err == nil || !strings.Contains(err.Error(), "FOREIGN KEY") {
			t.Errorf("%s err = %v, want a foreign key violation", stmt, err)
		}
	}
	if _, err := s.LatestVersion(context.Background(), "acme"); err != nil {
		t.Fatalf("LatestVersion() after refused deletes err = %v", err)
	}
}

func TestConfigErrors(t *testing.T) {
	dir := t.TempDir()
	cases := map[string]sqlite.Config{
		"no path":          {},
		"memory":           {Path: ":memory:"},
		"query":            {Path: filepath.Join(dir, "a.db?mode=memory")},
		"uri":              {Path: "file:" + filepath.Join(dir, "a.db")},
		"negative timeout": {Path: filepath.Join(dir, "a.db"), BusyTimeout: -1},
		"bad writer":       {Path: filepath.Join(dir, "a.db"), Writer: "a\x00"},
	}
	for name, cfg := range cases {
		_, err := sqlite.Open(context.Background(), cfg)
		if !errors.Is(err, store.ErrInvalid) {
			t.Errorf("Open(%s) err = %v, want ErrInvalid", name, err)
		}
	}
	if _, err := sqlite.Open(context.Background(), sqlite.Config{Path: filepath.Join(dir, "missing", "a.db")}); err == nil {
		t.Error("Open(missing directory) err = nil, want an error")
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
