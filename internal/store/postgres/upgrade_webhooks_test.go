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

// TestUpgradeKeysWebhooksByOwner builds a database at schema version 9
// from that release's migrations, with sealed webhook secrets, delivery
// records and outbox entries; once migrated to webhooks keyed by owner and
// name, each is kept under its owner and its secret still opens.
func TestUpgradeKeysWebhooksByOwner(t *testing.T) {
	url := pgtest.NewDatabase(t)
	conn := raw(t, url)
	if _, err := conn.Exec(ctx, `CREATE TABLE schema_migrations (
		version integer NOT NULL PRIMARY KEY, name text NOT NULL, applied_at timestamptz NOT NULL)`); err != nil {
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
		if _, err := conn.Exec(ctx, string(b)); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO schema_migrations VALUES ($1, $2, now())`, i+1, filepath.Base(f)); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := conn.Exec(ctx, `INSERT INTO tenants (id, name, external_id, state, revision, created_at, updated_at, model)
		VALUES ($1, 'Upgrade', 'ext-upg', 'pending', 1, now(), now(), '{"v":2}')`, storetest.Schema9Tenant); err != nil {
		t.Fatal(err)
	}
	f := storetest.Schema9Webhooks(t)
	for _, h := range f.Hooks {
		var tenant any
		if h.Tenant != "" {
			tenant = h.Tenant
		}
		if _, err := conn.Exec(ctx, `INSERT INTO webhooks (id, tenant_id, url, secret, sealed_secret, created_at)
			VALUES ($1, $2, $3, ''::bytea, $4, now())`, h.ID, tenant, h.URL, h.Sealed); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO webhook_deliveries (webhook_id, event_id, attempt, at, status, error)
			VALUES ($1, $2, 1, now(), 200, '')`, h.ID, "evt_"+h.ID); err != nil {
			t.Fatal(err)
		}
		if _, err := conn.Exec(ctx, `INSERT INTO webhook_outbox (webhook_id, event_id, event_type, body, attempts, created_at, next_attempt_at)
			VALUES ($1, 'evt_next', 'tenant.state_changed', '{}'::bytea, 0, now() - interval '1 minute', now() - interval '1 minute')`, h.ID); err != nil {
			t.Fatal(err)
		}
	}
	storetest.CheckSchema9Webhooks(t, open(t, url, storetest.WriterA), f)
}
