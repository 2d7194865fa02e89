package sqlite_test

import (
	"path/filepath"
	"testing"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/storetest"
)

func TestAudit(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) store.AuditStore {
		return open(t, filepath.Join(t.TempDir(), "byok.db"), storetest.WriterA)
	})
	storetest.RunAuditShared(t, func(t *testing.T) (store.AuditStore, store.AuditStore) {
		path := filepath.Join(t.TempDir(), "byok.db")
		return open(t, path, storetest.WriterA), open(t, path, storetest.WriterB)
	})
}
