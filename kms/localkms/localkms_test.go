package localkms

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/kmstest"
)

func rootFile(t testing.TB, name string, versions ...uint32) *keyfile.File {
	t.Helper()
	f := &keyfile.File{}
	for _, v := range versions {
		k, err := envelope.GenerateTenantKey(name, v, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Append(keyfile.Entry{Key: k, Created: time.Now().UTC().Truncate(time.Second)}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func newProvider(t testing.TB, name string) *Provider {
	p, err := New(rootFile(t, name, 1))
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func TestConformance(t *testing.T) {
	kmstest.Run(t, func(t *testing.T) kmstest.Setup {
		p, err := New(rootFile(t, "platform-root", 1), rootFile(t, "second-root", 1, 2))
		if err != nil {
			t.Fatal(err)
		}
		return kmstest.Setup{
			Provider: p,
			Key:      p.KeyRef(),
			OtherKey: RootRef("second-root"),
			Missing:  kms.KeyRef{Provider: ProviderName, ID: "no-such-root"},
		}
	})
}

func TestRootKeyRotation(t *testing.T) {
	f := rootFile(t, "root", 1)
	p1, _ := New(f)
	b := kms.Identity{Tenant: "acme", Version: 1, Purpose: kms.PurposeTenantKey}
	key, w, err := p1.GenerateAndWrap(context.Background(), p1.KeyRef(), b)
	if err != nil {
		t.Fatal(err)
	}
	k2, _ := envelope.GenerateTenantKey("root", 2, nil)
	if err := f.Append(keyfile.Entry{Key: k2, Created: time.Now().UTC().Truncate(time.Second)}); err != nil {
		t.Fatal(err)
	}
	p2, _ := New(f)
	got, err := p2.Unwrap(context.Background(), w, b)
	if err != nil || !got.Equal(key) {
		t.Fatalf("Unwrap() after adding root version 2 = %v, %v", got, err)
	}
	w2, _ := p2.Wrap(context.Background(), p2.KeyRef(), key, b)
	if h, _ := envelope.ParseHeader(w2.Ciphertext); h.KeyVersion != 2 {
		t.Fatalf("wrap after rotation used root version %d, want 2", h.KeyVersion)
	}
	onlyV2 := &keyfile.File{Entries: f.Entries[1:]}
	p3, _ := New(onlyV2)
	if _, err := p3.Unwrap(context.Background(), w, b); kms.ClassOf(err) != kms.NotFound {
		t.Fatalf("Unwrap() with root version 1 gone err = %v, want class NotFound", err)
	}
}

func TestLoadRefusesOpenPermissions(t *testing.T) {
	dir := t.TempDir()
	data, err := keyfile.Marshal(rootFile(t, "root", 1))
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(dir, "root.key")
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	if _, err := Load(path); !errors.Is(err, ErrUnsafePermissions) {
		t.Fatalf("Load(0644 file) err = %v, want ErrUnsafePermissions", err)
	}
	if err := os.Chmod(path, 0o600); err != nil {
		t.Fatal(err)
	}
	p, err := Load(path)
	if err != nil || p.Name() != "root" {
		t.Fatalf("Load(0600 file) = %v, %v", p, err)
	}
	if _, err := Load(filepath.Join(dir, "missing")); !errors.Is(err, os.ErrNotExist) {
		t.Fatalf("Load(missing) err = %v, want os.ErrNotExist", err)
	}
}

func TestWrongAlgorithm(t *testing.T) {
	p := newProvider(t, "root")
	b := kms.Identity{Tenant: "acme", Version: 1, Purpose: kms.PurposeTenantKey}
	_, w, _ := p.GenerateAndWrap(context.Background(), p.KeyRef(), b)
	w.Algorithm = "SYMMETRIC_DEFAULT"
	if _, err := p.Unwrap(context.Background(), w, b); kms.ClassOf(err) != kms.InvalidCiphertext {
		t.Fatalf("Unwrap(wrong algorithm) err = %v, want class InvalidCiphertext", err)
	}
}
