package storetest

import (
	"bytes"
	"context"
	"errors"
	"testing"

	"github.com/byok-dev/byok/internal/shred"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/sqlstore"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms/localkms"
)

// ShredStore is what RunShredLayer needs of a store: the SQL stores'
// shred layer methods.
type ShredStore interface {
	store.Store
	SetSealer(x sqlstore.Sealer)
	HasSealed(ctx context.Context) (bool, error)
	SealLegacy(ctx context.Context) (int, error)
}

// ShredOpener opens one database twice, neither store with a sealer yet;
// raw returns every ciphertext the database stores.
type ShredOpener func(t *testing.T) (a, b ShredStore, raw func(t *testing.T) [][]byte)

// Layer returns a shred layer over a fresh keystore in a temporary
// directory, with its keystore.
func Layer(t *testing.T) (*shred.Layer, *shred.Keystore) {
	t.Helper()
	p, err := localkms.New(rootKey(t, "platform-root"))
	if err != nil {
		t.Fatal(err)
	}
	ks, err := shred.Open(shred.Config{Dir: t.TempDir(), Root: p, RootRef: p.KeyRef()})
	if err != nil {
		t.Fatal(err)
	}
	return shred.NewLayer(ks), ks
}

// RunShredLayer checks the store's shred layer: rows written without a
// sealer read as they are and SealLegacy seals them once; rows written
// with one hold only sealed bytes (raw returns every stored ciphertext);
// a store without the keystore refuses them with shred_key_missing; after
// the tenant's shred key is destroyed, they fail with tenant_shredded.
func RunShredLayer(t *testing.T, open ShredOpener) {
	a, b, raw := open(t)
	mustCreate(t, a, "acme")
	mustAdd(t, a, version("acme", 1, 1))
	layer, keys := Layer(t)
	a.SetSealer(layer)
	if has, err := a.HasSealed(ctx); has || err != nil {
		t.Fatalf("HasSealed(legacy only) = %v, %v; want false", has, err)
	}
	readsAs(t, a, version("acme", 1, 1))
	if n, err := a.SealLegacy(ctx); n != 1 || err != nil {
		t.Fatalf("SealLegacy() = %d, %v; want 1 row sealed", n, err)
	}
	if n, err := a.SealLegacy(ctx); n != 0 || err != nil {
		t.Fatalf("SealLegacy() again = %d, %v; want 0", n, err)
	}
	mustAdd(t, a, version("acme", 2, 2, 3))
	if has, err := a.HasSealed(ctx); !has || err != nil {
		t.Fatalf("HasSealed() = %v, %v; want true", has, err)
	}
	readsAs(t, a, version("acme", 1, 1), version("acme", 2, 2, 3))
	checkSealed(t, raw(t), []*keyring.Version{version("acme", 1, 1), version("acme", 2, 2, 3)})
	if _, err := b.Versions(ctx, "acme"); !errors.Is(err, store.ErrShredKeyMissing) || store.Code(err) != "shred_key_missing" {
		t.Fatalf("Versions() without keystore err = %v, want shred_key_missing", err)
	}
	if _, err := keys.Destroy(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := a.Versions(ctx, "acme"); !errors.Is(err, store.ErrShredded) || store.Code(err) != "tenant_shredded" {
		t.Fatalf("Versions() after Destroy err = %v, want tenant_shredded", err)
	}
	if err := a.AddVersion(ctx, version("acme", 3, 1)); !errors.Is(err, store.ErrShredded) {
		t.Fatalf("AddVersion() after Destroy err = %v, want tenant_shredded", err)
	}
}

func readsAs(t *testing.T, s store.Store, want ...*keyring.Version) {
	t.Helper()
	got, err := s.Versions(ctx, "acme")
	if err != nil {
		t.Fatalf("Versions() err = %v", err)
	}
	diff(t, "Versions()", got, want)
}

// checkSealed fails if a stored ciphertext is one of the wrappings' own.
func checkSealed(t *testing.T, stored [][]byte, vs []*keyring.Version) {
	t.Helper()
	if len(stored) == 0 {
		t.Fatal("raw read no ciphertext")
	}
	for _, v := range vs {
		for _, w := range v.Wrappings {
			for _, s := range stored {
				if bytes.Contains(s, w.Ciphertext) {
					t.Fatalf("a stored ciphertext holds version %d's KMS ciphertext %q", v.Version, w.Ciphertext)
				}
			}
		}
	}
}
