package sqlite_test

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/store/storetest"
	"github.com/byok-dev/byok/keyring"
)

// TestUpgradeFromSchema5 opens a database written by the release at schema
// version 5 (testdata/schema5.db, made by its byok dev and CLI: an enabled
// tenant whose key was then disabled, an offboarded one, one whose key was
// changed, a pending one) plus rows in the other shapes that release
// wrote, and reads every tenant's settings as the typed model.
func TestUpgradeFromSchema5(t *testing.T) {
	b, err := os.ReadFile("testdata/schema5.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "byok.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db := raw(t, path)
	var version int
	if err := db.QueryRow(`SELECT max(version) FROM schema_migrations`).Scan(&version); err != nil || version != 5 {
		t.Fatalf("fixture schema version = %d, %v; want 5", version, err)
	}
	for _, r := range storetest.Schema5Rows(t)[5:] {
		if _, err := db.Exec(`INSERT INTO tenants (id, name, external_id, state, revision, created_at, updated_at, settings)
			VALUES (?, ?, ?, ?, ?, ?, ?, ?)`, r.ID, r.Name, r.ExternalID, r.State, r.Revision, r.CreatedAt, r.UpdatedAt, r.Settings); err != nil {
			t.Fatal(err)
		}
	}
	s := open(t, path, storetest.WriterA)
	storetest.CheckSchema5(t, s)
	var doc string
	if err := db.QueryRow(`SELECT model FROM tenants WHERE id = 'demo'`).Scan(&doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc, `"v":2`) || strings.Contains(doc, `"monitor"`) || !strings.Contains(doc, `"outage"`) {
		t.Fatalf("migrated demo row = %s, want version 2 with the monitor's record as outage", doc)
	}
	before, err := s.LatestVersion(context.Background(), "demo")
	if err != nil || before.Version != 1 || len(before.Wrappings) != 2 {
		t.Fatalf("LatestVersion(demo) after migration = %+v, %v; want version 1 with its 2 wrappings", before, err)
	}
	checkSealsLegacy(t, s, db, before)
}

// checkSealsLegacy: the release's wrappings, stored as the KMS returned
// them, are sealed under the shred layer by SealLegacy and read the same.
func checkSealsLegacy(t *testing.T, s *sqlite.Store, db *sql.DB, before *keyring.Version) {
	t.Helper()
	layer, _ := storetest.Layer(t)
	s.SetSealer(layer)
	var legacy int
	if err := db.QueryRow(`SELECT count(*) FROM wrappings WHERE shred_layer = 0`).Scan(&legacy); err != nil || legacy < 2 {
		t.Fatalf("legacy rows = %d, %v; want the fixture's wrappings", legacy, err)
	}
	if n, err := s.SealLegacy(context.Background()); n != legacy || err != nil {
		t.Fatalf("SealLegacy() = %d, %v; want %d", n, err, legacy)
	}
	after, err := s.LatestVersion(context.Background(), "demo")
	if err != nil || !cmp.Equal(after, before) {
		t.Fatalf("LatestVersion(demo) after sealing = %+v, %v; want %+v", after, err, before)
	}
	for _, w := range before.Wrappings {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM wrappings WHERE ciphertext = ?`, w.Ciphertext).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows holding a KMS ciphertext after sealing = %d, %v; want 0", n, err)
		}
	}
}
