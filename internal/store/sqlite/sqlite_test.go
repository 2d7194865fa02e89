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

func TestShredLayer(t *testing.T) {
	storetest.RunShredLayer(t, func(t *testing.T) (a, b storetest.ShredStore, raw func(*testing.T) [][]byte) {
		path := filepath.Join(t.TempDir(), "byok.db")
		return open(t, path, storetest.WriterA), open(t, path, storetest.WriterB), func(t *testing.T) [][]byte {
			return rawCiphertexts(t, path)
		}
	})
}

func TestContractSealed(t *testing.T) {
	storetest.Run(t, func(t *testing.T) store.Store {
		s := open(t, filepath.Join(t.TempDir(), "byok.db"), storetest.WriterA)
		layer, _ := storetest.Layer(t)
		s.SetSealer(layer)
		return s
	})
}

func rawCiphertexts(t *testing.T, path string) [][]byte {
	t.Helper()
	rows, err := raw(t, path).Query(`SELECT ciphertext FROM wrappings`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var out [][]byte
	for rows.Next() {
		var b []byte
		if err := rows.Scan(&b); err != nil {
			t.Fatal(err)
		}
		out = append(out, b)
	}
	return out
}
