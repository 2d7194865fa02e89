package storetest

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/localkms"
)

// RunKeyring runs keyrings with a local key provider on a store: versions
// created by one keyring open in another (a second process with an empty
// cache), rewraps and added wrappings persist, and shredding makes the data
// unreadable.
func RunKeyring(t *testing.T, open Opener) {
	s := open(t)
	provider, err := localkms.New(rootKey(t, "root-a"), rootKey(t, "root-b"))
	if err != nil {
		t.Fatal(err)
	}
	newKeyring := func() *keyring.Keyring {
		kr, err := keyring.New(keyring.Config{Providers: map[string]kms.Provider{localkms.ProviderName: provider}, Store: s})
		if err != nil {
			t.Fatal(err)
		}
		return kr
	}
	rootA, rootB := localkms.RootRef("root-a"), localkms.RootRef("root-b")
	mustCreate(t, s, "acme")
	first := newKeyring()
	if _, err := first.CreateVersion(ctx, "acme", []kms.KeyRef{rootA}); err != nil {
		t.Fatalf("CreateVersion(1) err = %v", err)
	}
	ec := envelope.Context{"table": "invoices"}
	old := seal(t, first, ec, "under version 1")
	if _, err := first.CreateVersion(ctx, "acme", []kms.KeyRef{rootA}); err != nil {
		t.Fatalf("CreateVersion(2) err = %v", err)
	}
	cur := seal(t, first, ec, "under version 2")

	// A second keyring, as another instance, creating the same version
	// number at once would lose: the store refuses it.
	err = s.AddVersion(ctx, &keyring.Version{Tenant: "acme", Version: 2, Wrappings: []kms.Wrapped{wrapping(1)}})
	if !errors.Is(err, keyring.ErrVersionExists) {
		t.Fatalf("AddVersion(existing) err = %v, want ErrVersionExists", err)
	}
	opens(t, newKeyring(), ec, old, "under version 1")
	opens(t, newKeyring(), ec, cur, "under version 2")

	res, err := first.Rewrap(ctx, "acme", rootA, rootB)
	if err != nil || res.Rewrapped != 2 {
		t.Fatalf("Rewrap() = %+v, %v; want 2 rewrapped", res, err)
	}
	if n, err := first.AddWrapping(ctx, "acme", rootA); err != nil || n != 2 {
		t.Fatalf("AddWrapping() = %d, %v; want 2", n, err)
	}
	v1, err := s.Version(ctx, "acme", 1)
	if err != nil || len(v1.Wrappings) != 2 || !keyring.SameKey(v1.Wrappings[0].Key, rootB) {
		t.Fatalf("Version(1) after rewrap = %+v, %v; want wrappings under root-b then root-a", v1, err)
	}
	opens(t, newKeyring(), ec, old, "under version 1")

	if n, err := s.ShredTenantKeys(ctx, "acme"); err != nil || n != 2 {
		t.Fatalf("ShredTenantKeys() = %d, %v; want 2", n, err)
	}
	if _, err := newKeyring().Open(ctx, "acme", cur, ec); !errors.Is(err, keyring.ErrNoKey) {
		t.Fatalf("Open() after shredding err = %v, want ErrNoKey", err)
	}
	if err := s.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatalf("DeleteTenant() after shredding err = %v", err)
	}
}

func seal(t *testing.T, kr *keyring.Keyring, ec envelope.Context, msg string) []byte {
	t.Helper()
	ct, err := kr.Seal(ctx, "acme", []byte(msg), ec)
	if err != nil {
		t.Fatalf("Seal() err = %v", err)
	}
	return ct
}

func opens(t *testing.T, kr *keyring.Keyring, ec envelope.Context, ct []byte, want string) {
	t.Helper()
	pt, err := kr.Open(ctx, "acme", ct, ec)
	if err != nil || !bytes.Equal(pt, []byte(want)) {
		t.Fatalf("Open() = %q, %v; want %q", pt, err, want)
	}
}

func rootKey(t *testing.T, name string) *keyfile.File {
	t.Helper()
	k, err := envelope.GenerateTenantKey(name, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &keyfile.File{}
	if err := f.Append(keyfile.Entry{Key: k, Created: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	return f
}
