// Package kmstest is the conformance suite every [kms.Provider] passes. A
// provider's own tests call [Run] with a setup that returns usable keys.
package kmstest

import (
	"bytes"
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// Setup is what the suite needs from a provider under test.
type Setup struct {
	Provider kms.Provider
	// Key and OtherKey are two usable keys; Rewrap moves from one to the other.
	Key      kms.KeyRef
	OtherKey kms.KeyRef
	// Missing names a key that does not exist at the provider.
	Missing kms.KeyRef
	// Tamper returns an altered copy of w that must not unwrap; nil alters the
	// last byte of the ciphertext.
	Tamper func(w *kms.Wrapped) *kms.Wrapped
}

// Run runs the suite. setup is called once per subtest.
func Run(t *testing.T, setup func(t *testing.T) Setup) {
	for _, tc := range []struct {
		name string
		f    func(t *testing.T, s Setup)
	}{
		{"GenerateAndUnwrap", testGenerateAndUnwrap},
		{"WrapExisting", testWrapExisting},
		{"BindingEnforced", testBindingEnforced},
		{"TamperedCiphertext", testTampered},
		{"Rewrap", testRewrap},
		{"Describe", testDescribe},
		{"MissingKey", testMissingKey},
		{"Probe", testProbe},
		{"InvalidBinding", testInvalidBinding},
		{"CanceledContext", testCanceled},
		{"Concurrent", testConcurrent},
	} {
		t.Run(tc.name, func(t *testing.T) { tc.f(t, setup(t)) })
	}
}

var ctx = context.Background()

func identity(tenant string, v uint32) kms.Identity {
	return kms.Identity{Tenant: tenant, Version: v, Purpose: kms.PurposeTenantKey}
}

func generate(t *testing.T, s Setup, b kms.Identity) (*kms.Wrapped, []byte) {
	t.Helper()
	key, w, err := s.Provider.GenerateAndWrap(ctx, s.Key, b)
	if err != nil {
		t.Fatalf("GenerateAndWrap() err = %v", err)
	}
	if key.Tenant() != b.Tenant || key.Version() != b.Version {
		t.Fatalf("GenerateAndWrap() key is for %s/%d, want %s/%d", key.Tenant(), key.Version(), b.Tenant, b.Version)
	}
	if len(w.Ciphertext) == 0 || w.Algorithm == "" || w.Key.Provider != s.Key.Provider {
		t.Fatalf("GenerateAndWrap() wrapped = %+v, want ciphertext, algorithm and provider set", w)
	}
	return w, key.Material()
}

func unwrapEqual(t *testing.T, s Setup, w *kms.Wrapped, b kms.Identity, want []byte) {
	t.Helper()
	got, err := s.Provider.Unwrap(ctx, w, b)
	if err != nil {
		t.Fatalf("Unwrap() err = %v", err)
	}
	if !bytes.Equal(got.Material(), want) || got.Tenant() != b.Tenant || got.Version() != b.Version {
		t.Fatalf("Unwrap() returned another key than was wrapped")
	}
}

func testGenerateAndUnwrap(t *testing.T, s Setup) {
	b := identity("acme", 1)
	w, material := generate(t, s, b)
	unwrapEqual(t, s, w, b, material)
	w2, material2 := generate(t, s, b)
	if bytes.Equal(material, material2) || bytes.Equal(w.Ciphertext, w2.Ciphertext) {
		t.Fatal("two GenerateAndWrap calls returned the same key or ciphertext")
	}
}

func testWrapExisting(t *testing.T, s Setup) {
	b := identity("acme", 2)
	_, material := generate(t, s, b)
	key, _ := s.Provider.Unwrap(ctx, mustWrap(t, s, s.Key, b, material), b)
	w, err := s.Provider.Wrap(ctx, s.OtherKey, key, b)
	if err != nil {
		t.Fatalf("Wrap() err = %v", err)
	}
	unwrapEqual(t, s, w, b, material)
}

func mustWrap(t *testing.T, s Setup, ref kms.KeyRef, b kms.Identity, material []byte) *kms.Wrapped {
	t.Helper()
	key, err := newKey(b, material)
	if err != nil {
		t.Fatal(err)
	}
	w, err := s.Provider.Wrap(ctx, ref, key, b)
	if err != nil {
		t.Fatalf("Wrap() err = %v", err)
	}
	return w
}

func testBindingEnforced(t *testing.T, s Setup) {
	b := identity("acme", 3)
	w, _ := generate(t, s, b)
	for _, other := range []kms.Identity{
		identity("globex", 3),
		identity("acme", 4),
		{Tenant: "acme", Version: 3, Purpose: "something-else"},
	} {
		if _, err := s.Provider.Unwrap(ctx, w, other); kms.ClassOf(err) != kms.InvalidCiphertext {
			t.Errorf("Unwrap(with identity %+v) err = %v, want class InvalidCiphertext", other, err)
		}
	}
}

func testTampered(t *testing.T, s Setup) {
	b := identity("acme", 1)
	w, _ := generate(t, s, b)
	tamper := s.Tamper
	if tamper == nil {
		tamper = func(w *kms.Wrapped) *kms.Wrapped {
			c := *w
			c.Ciphertext = bytes.Clone(w.Ciphertext)
			c.Ciphertext[len(c.Ciphertext)-1] ^= 1
			return &c
		}
	}
	if _, err := s.Provider.Unwrap(ctx, tamper(w), b); kms.ClassOf(err) != kms.InvalidCiphertext {
		t.Fatalf("Unwrap(tampered) err = %v, want class InvalidCiphertext", err)
	}
}

func testRewrap(t *testing.T, s Setup) {
	b := identity("acme", 5)
	w, material := generate(t, s, b)
	moved, err := s.Provider.Rewrap(ctx, w, s.OtherKey, b)
	if err != nil {
		t.Fatalf("Rewrap() err = %v", err)
	}
	if moved.Key.Provider != s.OtherKey.Provider {
		t.Fatalf("Rewrap() key = %v, want one at %v", moved.Key, s.OtherKey)
	}
	unwrapEqual(t, s, moved, b, material)
	if _, err := s.Provider.Rewrap(ctx, w, s.OtherKey, identity("globex", 5)); kms.ClassOf(err) != kms.InvalidCiphertext {
		t.Fatalf("Rewrap(wrong identity) err = %v, want class InvalidCiphertext", err)
	}
}

func testDescribe(t *testing.T, s Setup) {
	info, err := s.Provider.Describe(ctx, s.Key, "acme")
	if err != nil {
		t.Fatalf("Describe() err = %v", err)
	}
	if info.State != "Enabled" || info.KeyID == "" || info.KeySpec == "" || len(info.EncryptionAlgorithms) == 0 {
		t.Fatalf("Describe() = %+v, want an enabled key with its id, spec and algorithms", info)
	}
}

func testMissingKey(t *testing.T, s Setup) {
	if _, err := s.Provider.Describe(ctx, s.Missing, ""); kms.ClassOf(err) != kms.NotFound {
		t.Errorf("Describe(missing) err = %v, want class NotFound", err)
	}
	if _, _, err := s.Provider.GenerateAndWrap(ctx, s.Missing, identity("acme", 1)); kms.ClassOf(err) != kms.NotFound {
		t.Errorf("GenerateAndWrap(missing) err = %v, want class NotFound", err)
	}
}

func testProbe(t *testing.T, s Setup) {
	b := identity("acme", 1)
	w, _ := generate(t, s, b)
	if err := s.Provider.Probe(ctx, w, b); err != nil {
		t.Fatalf("Probe() err = %v", err)
	}
}

func testInvalidBinding(t *testing.T, s Setup) {
	for _, b := range []kms.Identity{{}, {Tenant: "acme", Purpose: kms.PurposeTenantKey}, {Tenant: "bad tenant", Version: 1, Purpose: "x"}} {
		if _, _, err := s.Provider.GenerateAndWrap(ctx, s.Key, b); kms.ClassOf(err) != kms.Misconfigured {
			t.Errorf("GenerateAndWrap(identity %+v) err = %v, want class Misconfigured", b, err)
		}
	}
}

func testCanceled(t *testing.T, s Setup) {
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, _, err := s.Provider.GenerateAndWrap(c, s.Key, identity("acme", 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("GenerateAndWrap(canceled context) err = %v, want context.Canceled", err)
	}
	b := identity("acme", 2)
	w, _ := generate(t, s, b)
	if _, err := s.Provider.Unwrap(c, w, b); !errors.Is(err, context.Canceled) {
		t.Fatalf("Unwrap(canceled context) err = %v, want context.Canceled", err)
	}
}

func testConcurrent(t *testing.T, s Setup) {
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			b := identity("acme", uint32(i+1))
			key, w, err := s.Provider.GenerateAndWrap(ctx, s.Key, b)
			if err != nil {
				t.Error(err)
				return
			}
			got, err := s.Provider.Unwrap(ctx, w, b)
			if err != nil || !got.Equal(key) {
				t.Errorf("concurrent Unwrap() = %v, %v", got, err)
			}
		})
	}
	wg.Wait()
}

func newKey(b kms.Identity, material []byte) (*envelope.TenantKey, error) {
	return envelope.NewTenantKey(b.Tenant, b.Version, material)
}
