package postgres_test

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/store/storetest"
)

// TestUpgradeSealsWebhookSecrets builds a database at schema version 5
// from that release's migrations with webhooks whose secrets are in clear,
// as it stored them; once migrated, their secrets are sealed.
func TestUpgradeSealsWebhookSecrets(t *testing.T) {
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
	for _, h := range storetest.Schema5Webhooks() {
		if _, err := conn.Exec(ctx, `INSERT INTO webhooks (id, tenant_id, url, secret, created_at) VALUES ($1, NULL, $2, $3, now())`,
			h.ID, h.URL, h.Secret); err != nil {
			t.Fatal(err)
		}
	}
	storetest.CheckSchema5Webhooks(t, open(t, url, storetest.WriterA), func(secret []byte) bool {
		var n int
		if err := conn.QueryRow(ctx, `SELECT count(*) FROM webhooks WHERE position($1::bytea in secret) > 0
			OR position($1::bytea in coalesce(sealed_secret, ''::bytea)) > 0`, secret).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
}
