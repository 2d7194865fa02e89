package sqlite_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/store/storetest"
)

func open(t *testing.T, path, writer string) *sqlite.Store {
	t.Helper()
	s, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, Writer: writer})
	if err != nil {
		t.Fatalf("Open() err = %v", err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func fresh(t *testing.T) store.Store {
	return open(t, filepath.Join(t.TempDir(), "byok.db"), storetest.WriterA)
}

func TestContract(t *testing.T) { storetest.Run(t, fresh) }

func TestShared(t *testing.T) {
	storetest.RunShared(t, func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "byok.db")
		return open(t, path, storetest.WriterA), open(t, path, storetest.WriterB)
	})
}

func TestKeyring(t *testing.T) { storetest.RunKeyring(t, fresh) }
