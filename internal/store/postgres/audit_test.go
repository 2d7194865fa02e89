package postgres_test

import (
	"testing"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/store/storetest"
)

func TestAudit(t *testing.T) {
	storetest.RunAudit(t, func(t *testing.T) store.AuditStore {
		return open(t, pgtest.NewDatabase(t), storetest.WriterA)
	})
	storetest.RunAuditShared(t, func(t *testing.T) (store.AuditStore, store.AuditStore) {
		url := pgtest.NewDatabase(t)
		return open(t, url, storetest.WriterA), open(t, url, storetest.WriterB)
	})
}
