package sqlite_test

import (
	"bytes"
	"os"
	"path/filepath"
	"testing"

	"github.com/byok-dev/byok/internal/store/storetest"
)

// TestUpgradeSealsWebhookSecrets stores webhooks with clear secrets, as
// the release at schema version 5 did, in testdata/schema5.db; once
// migrated, their secrets are sealed and the file (after the store closes
// and the WAL is checkpointed into it) no longer holds them.
func TestUpgradeSealsWebhookSecrets(t *testing.T) {
	b, err := os.ReadFile("testdata/schema5.db")
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "byok.db")
	if err := os.WriteFile(path, b, 0o600); err != nil {
		t.Fatal(err)
	}
	db := raw(t, path)
	for _, h := range storetest.Schema5Webhooks() {
		if _, err := db.Exec(`INSERT INTO webhooks (id, tenant_id, url, secret, created_at) VALUES (?, NULL, ?, ?, 0)`,
			h.ID, h.URL, h.Secret); err != nil {
			t.Fatal(err)
		}
	}
	db.Close()
	s := open(t, path, storetest.WriterA)
	db = raw(t, path)
	storetest.CheckSchema5Webhooks(t, s, func(secret []byte) bool {
		var n int
		if err := db.QueryRow(`SELECT count(*) FROM webhooks WHERE instr(secret, ?) > 0 OR instr(sealed_secret, ?) > 0`,
			secret, secret).Scan(&n); err != nil {
			t.Fatal(err)
		}
		return n > 0
	})
	db.Close()
	s.Close()
	for _, h := range storetest.Schema5Webhooks() {
		for _, f := range []string{path, path + "-wal"} {
			if b, _ := os.ReadFile(f); bytes.Contains(b, h.Secret) {
				t.Errorf("%s still holds the clear secret of %s", filepath.Base(f), h.ID)
			}
		}
	}
}

// TestUpgradeKeysWebhooksByOwner builds a database at schema version 9
// from that release's migrations, with sealed webhook secrets, delivery
// records and outbox entries; once migrated to webhooks keyed by owner and
// name, each is kept under its owner and its secret still opens.
func TestUpgradeKeysWebhooksByOwner(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byok.db")
	db := raw(t, path)
	if _, err := db.Exec(`CREATE TABLE schema_migrations (
		version INTEGER NOT NULL PRIMARY KEY, name TEXT NOT NULL, applied_at INTEGER NOT NULL) STRICT`); err != nil {
		t.Fatal(err)
	}
	files, err := filepath.Glob("migrations/000[1-9]_*.sql")
	if err != nil || len(files) != 9 {
		t.Fatalf("migrations up to 9: %v, %v", files, err)
	}
	for i, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := db.Exec(string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := db.Exec(`INSERT INTO schema_migrations VALUES (?, ?, 0)`, i+1, filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := db.Exec(`INSERT INTO tenants (id, name, external_id, state, revision, created_at, updated_at, model)
		VALUES (?, 'Upgrade', 'ext-upg', 'pending', 1, 0, 0, '{"v":2}')`, storetest.Schema9Tenant); err != nil {
		t.Fatal(err)
	}
	f := storetest.Schema9Webhooks(t)
	for _, h := range f.Hooks {
		var tenant any
		if h.Tenant != "" {
			tenant = h.Tenant
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`INSERT INTO webhooks (id, tenant_id, url, secret, sealed_secret, created_at) VALUES (?, ?, ?, x'', ?, 0)`, []any{h.ID, tenant, h.URL, h.Sealed}},
			{`INSERT INTO webhook_deliveries (webhook_id, event_id, attempt, at, status, error) VALUES (?, ?, 1, 0, 200, '')`, []any{h.ID, "evt_" + h.ID}},
			{`INSERT INTO webhook_outbox (webhook_id, event_id, event_type, body, attempts, created_at, next_attempt_at)
				VALUES (?, 'evt_next', 'tenant.state_changed', x'7b7d', 0, 0, 0)`, []any{h.ID}},
		} {
			if _, err := db.Exec(q.sql, q.args...); err != nil {
				t.Fatalf("%s: %v", q.sql, err)
			}
		}
	}
	db.Close()
	storetest.CheckSchema9Webhooks(t, open(t, path, storetest.WriterA), f)
}
