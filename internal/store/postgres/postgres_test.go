package postgres_test

import (
	"context"
	"os"
	"testing"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/store/storetest"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

func open(t *testing.T, url, writer string) *postgres.Store {
	t.Helper()
	s, err := postgres.Open(context.Background(), postgres.Config{URL: url, Writer: writer, MaxConns: 8})
	if err != nil {
		t.Fatalf("Open() err = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fresh(t *testing.T) store.Store {
	return open(t, pgtest.NewDatabase(t), storetest.WriterA)
}

func TestContract(t *testing.T) { storetest.Run(t, fresh) }

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.NewDatabase(t)
		return open(t, url, storetest.WriterA), open(t, url, storetest.WriterB)
	})
}

func TestKeyring(t *testing.T) { storetest.RunKeyring(t, fresh) }
