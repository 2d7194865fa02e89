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
