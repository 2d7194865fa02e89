package postgres_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/store/storetest"
)

// TestUpgradeFromSchema5 builds a database at schema version 5 from that
// release's migrations, stores the tenant rows it wrote (those of
// sqlite's testdata/schema5.db and the other shapes it wrote), and reads
// every tenant's settings as the typed model once migrated.
func TestUpgradeFromSchema5(t *testing.T) {
	url := pgtest.NewDatabase(t)
	conn := raw(t, url)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (
		version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/000[1-5]_*.sql")
	if err != nil || len(files) != 5 {
		t.Fatalf("migrations up to 5: %v, %v", files, err)
	}
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, now())`, i+1, filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	for _, r := range storetest.Schema5Rows(t) {
		if _, err := conn.Exec(ctx, `INSERT INTO tenants (id, name, external_id, state, revision, created_at, updated_at, settings)
			VALUES ($1, $2, $3, $4, $5, $6, $7, $8)`, r.ID, r.Name, r.ExternalID, r.State, r.Revision,
			time.UnixMicro(r.CreatedAt), time.UnixMicro(r.UpdatedAt), r.Settings); err != nil {
			t.Fatal(err)
		}
	}
	storetest.CheckSchema5(t, open(t, url, storetest.WriterA))
	var doc string
	if err := conn.QueryRow(ctx, `SELECT model FROM tenants WHERE id = 'demo'`).Scan(&doc); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(doc, `"v": 2`) || strings.Contains(doc, `"monitor"`) || !strings.Contains(doc, `"outage"`) {
		t.Fatalf("migrated demo row = %s, want version 2 with the monitor's record as outage", doc)
	}
}
