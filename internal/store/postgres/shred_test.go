package postgres_test

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/shred"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/store/storetest"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/localkms"
)

func TestShredLayer(t *testing.T) {
	storetest.RunShredLayer(t, func(t *testing.T) (a, b storetest.ShredStore, raw func(*testing.T) [][]byte) {
		url := pgtest.NewDatabase(t)
		return open(t, url, storetest.WriterA), open(t, url, storetest.WriterB), func(t *testing.T) [][]byte {
			return rawCiphertexts(t, url)
		}
	})
}

func rawCiphertexts(t *testing.T, url string) [][]byte {
	t.Helper()
	rows, err := raw(t, url).Query(ctx, `SELECT ciphertext FROM wrappings`)
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

// TestShreddedBytesOnDisk is the view of someone who reads the server's
// files after offboarding (or keeps its WAL archive): the wrappings' heap
// file and every WAL segment hold neither the KMS ciphertext of the
// tenant's key, nor the tenant key, nor its shred key. The sealed bytes
// are there (which shows the files are read), and they do not open
// without the destroyed shred key.
func TestShreddedBytesOnDisk(t *testing.T) {
	url := pgtest.NewDatabase(t)
	conn := raw(t, url)
	var dataDir, heap string
	if err := conn.QueryRow(ctx, `SHOW data_directory`).Scan(&dataDir); err != nil {
		t.Skipf("the server's data directory is not readable here: %v", err)
	}
	s := open(t, url, storetest.WriterA)
	layer, keys := storetest.Layer(t)
	s.SetSealer(layer)
	if _, err := s.CreateTenant(ctx, &tenant.Tenant{ID: "acme", Name: "Acme", ExternalID: "ext-acme-0001", State: tenant.StateActive}); err != nil {
		t.Fatal(err)
	}
	tk, w := customerWrapping(t)
	if err := s.AddVersion(ctx, &keyring.Version{Tenant: "acme", Version: 1, Created: time.Now(), Wrappings: []kms.Wrapped{*w}}); err != nil {
		t.Fatal(err)
	}
	sealed := rawCiphertexts(t, url)
	shredKey, err := keys.Key(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := keys.Destroy(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := s.ShredTenantKeys(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := conn.Exec(ctx, `CHECKPOINT`); err != nil {
		t.Fatal(err)
	}
	if err := conn.QueryRow(ctx, `SELECT pg_relation_filepath('wrappings')`).Scan(&heap); err != nil {
		t.Fatal(err)
	}
	files := append(glob(t, filepath.Join(dataDir, heap)+"*"), glob(t, filepath.Join(dataDir, "pg_wal", "0*"))...)
	disk := readAll(t, files)
	secrets := map[string][]byte{"the KMS ciphertext": w.Ciphertext, "the tenant key": tk.Material(), "the shred key": shredKey.Material()}
	for what, b := range secrets {
		if bytes.Contains(disk, b) {
			t.Errorf("%s is in the heap or WAL after offboarding", what)
		}
	}
	if len(sealed) != 1 || !bytes.Contains(disk, sealed[0]) {
		t.Fatalf("the sealed wrapping is not in %d heap and WAL files: the test reads the wrong files", len(files))
	}
	checkUnopenable(t, layer, sealed[0])
}

// customerWrapping is a tenant key wrapped as a customer's KMS would.
func customerWrapping(t *testing.T) (*envelope.TenantKey, *kms.Wrapped) {
	t.Helper()
	k, err := envelope.GenerateTenantKey("customer-kms", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := localkms.New(&keyfile.File{Entries: []keyfile.Entry{{Key: k, Created: time.Unix(0, 0).UTC()}}})
	if err != nil {
		t.Fatal(err)
	}
	tk, w, err := p.GenerateAndWrap(ctx, p.KeyRef(), kms.Identity{Tenant: "acme", Version: 1, Purpose: kms.PurposeTenantKey})
	if err != nil {
		t.Fatal(err)
	}
	return tk, w
}

func checkUnopenable(t *testing.T, layer *shred.Layer, sealed []byte) {
	t.Helper()
	if _, err := layer.Open(ctx, "acme", 1, sealed); !errors.Is(err, store.ErrShredded) {
		t.Fatalf("Open(sealed) after destruction err = %v, want tenant_shredded", err)
	}
	other, err := envelope.GenerateTenantKey("acme", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := shred.OpenWith(other, "acme", 1, sealed); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("OpenWith(another key) err = %v, want it not to open", err)
	}
}

func glob(t *testing.T, pattern string) []string {
	t.Helper()
	m, err := filepath.Glob(pattern)
	if err != nil || len(m) == 0 {
		t.Fatalf("no files match %s: %v", pattern, err)
	}
	return m
}

func readAll(t *testing.T, files []string) []byte {
	t.Helper()
	var all []byte
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Skipf("the server's files are not readable here: %v", err)
		}
		all = append(all, b...)
	}
	return all
}
