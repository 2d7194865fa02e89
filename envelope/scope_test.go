package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"testing"
)

var (
	longestScope = strings.Repeat("a", MaxTenantIDLen) + "/" + strings.Repeat("b", MaxVaultNameLen)
	// malformedScopes are refused as key scope ids, by NewTenantKey and in a
	// header.
	malformedScopes = map[string]string{
		"two slashes":  "acme/payroll/x",
		"empty vault":  "acme/",
		"empty tenant": "/payroll",
		"bad char":     "acme/pay roll",
		"uppercase":    "acme/Payroll",
		"194 bytes":    longestScope + "b",
		"long tenant":  strings.Repeat("a", MaxTenantIDLen+1) + "/b",
		"long vault":   "acme/" + strings.Repeat("b", MaxVaultNameLen+1),
		"tenant char":  "ac me/payroll",
		"vault colon":  "acme/pay:roll",
	}
)

func TestScopeID(t *testing.T) {
	for _, tc := range []struct{ tenant, vault, want string }{
		{"acme", "", "acme"},
		{"acme", "payroll", "acme/payroll"},
		{"Acme.Corp:1", "hr_2-b", "Acme.Corp:1/hr_2-b"},
		{strings.Repeat("a", MaxTenantIDLen), strings.Repeat("b", MaxVaultNameLen), longestScope},
	} {
		id, err := ScopeID(tc.tenant, tc.vault)
		if err != nil || id != tc.want {
			t.Fatalf("ScopeID(%q, %q) = %q, %v; want %q", tc.tenant, tc.vault, id, err, tc.want)
		}
		tenant, vault, err := ParseScope(id)
		if err != nil || tenant != tc.tenant || vault != tc.vault {
			t.Fatalf("ParseScope(%q) = %q, %q, %v", id, tenant, vault, err)
		}
		if !ValidScopeID(id) {
			t.Fatalf("ValidScopeID(%q) = false", id)
		}
	}
	if len(longestScope) != MaxScopeIDLen || MaxScopeIDLen != 193 {
		t.Fatalf("longest scope id is %d bytes, MaxScopeIDLen %d", len(longestScope), MaxScopeIDLen)
	}
	if ValidTenantID("acme/payroll") {
		t.Fatal("ValidTenantID accepts a vault's scope id")
	}
}

func TestScopeIDRejects(t *testing.T) {
	for name, id := range malformedScopes {
		if ValidScopeID(id) {
			t.Errorf("%s: ValidScopeID(%q) = true", name, id)
		}
		if _, _, err := ParseScope(id); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: ParseScope(%q) err = %v, want ErrInvalidKey", name, id, err)
		}
		if _, err := NewTenantKey(id, 1, make([]byte, KeySize)); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("%s: NewTenantKey(%q) err = %v, want ErrInvalidKey", name, id, err)
		}
	}
	for _, tc := range []struct{ tenant, vault string }{
		{"", "payroll"}, {"acme/hr", "payroll"}, {"acme", "Payroll"}, {"acme", "a/b"},
		{"acme", strings.Repeat("b", MaxVaultNameLen+1)},
	} {
		if id, err := ScopeID(tc.tenant, tc.vault); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("ScopeID(%q, %q) = %q, %v; want ErrInvalidKey", tc.tenant, tc.vault, id, err)
		}
	}
	_, err := NewTenantKey("acme/payroll/x", 1, make([]byte, KeySize))
	if err == nil || !strings.Contains(err.Error(), "more than one '/'") {
		t.Errorf("two slashes: err = %v, want it to say so", err)
	}
}

// sealIn seals a record or a stream of kind under key.
func sealIn(t *testing.T, kind Kind, key *TenantKey, ec Context) []byte {
	t.Helper()
	if kind == KindRecord {
		ct, err := Seal(key, []byte("salary slip"), ec)
		if err != nil {
			t.Fatal(err)
		}
		return ct
	}
	return sealStream(t, key, bytes.Repeat([]byte("salary slip "), 300), ec, &StreamOptions{SegmentSize: MinSegmentSize})
}

func openIn(kind Kind, lookup KeyLookup, ct []byte, ec Context) error {
	if kind == KindRecord {
		_, err := Open(bg, lookup, ct, ec)
		return err
	}
	r, err := NewReader(bg, bytes.NewReader(ct), lookup, ec, nil)
	if err == nil {
		_, err = io.Copy(io.Discard, r)
	}
	return err
}

// withScope rewrites the key scope id in ct's header, keeping the rest.
func withScope(ct []byte, scope string) []byte {
	t := int(ct[7])
	out := append(bytes.Clone(ct[:7]), byte(len(scope)))
	out = append(out, scope...)
	return append(out, ct[8+t:]...)
}

// TestScopesDoNotCrossOpen seals under one scope of tenant acme and opens
// under another with the same key material and version: the lookup for the
// other scope refuses, a lookup handing back the other scope's key is
// refused, and a header rewritten to name the other scope fails the key
// commitment, because the scope is bound by the key derivation.
func TestScopesDoNotCrossOpen(t *testing.T) {
	material := bytes.Repeat([]byte{7}, KeySize)
	key := func(scope string) *TenantKey {
		k, err := NewTenantKey(scope, 2, material)
		if err != nil {
			t.Fatal(err)
		}
		return k
	}
	ec := Context{"item": "42"}
	pairs := [][2]string{
		{"acme/payroll", "acme"}, {"acme/payroll", "acme/hr"},
		{"acme", "acme/payroll"}, {"acme/hr", "acme/payroll"},
	}
	for _, kind := range []Kind{KindRecord, KindStream} {
		for _, p := range pairs {
			sealed, opener := key(p[0]), key(p[1])
			ct := sealIn(t, kind, sealed, ec)
			if err := openIn(kind, NewKeySet(sealed), ct, ec); err != nil {
				t.Fatalf("%s under %s does not open under its own scope: %v", kind, p[0], err)
			}
			if err := openIn(kind, NewKeySet(opener), ct, ec); !errors.Is(err, ErrWrongTenant) {
				t.Errorf("%s under %s, key set of %s: err = %v, want wrong_tenant", kind, p[0], p[1], err)
			}
			if err := openIn(kind, lyingLookup(opener), ct, ec); !errors.Is(err, ErrWrongTenant) {
				t.Errorf("%s under %s, lookup answering %s: err = %v, want wrong_tenant", kind, p[0], p[1], err)
			}
			moved := withScope(ct, p[1])
			if err := openIn(kind, NewKeySet(opener), moved, ec); !errors.Is(err, ErrInvalidCiphertext) {
				t.Errorf("%s under %s, header rewritten to %s: err = %v, want invalid_ciphertext", kind, p[0], p[1], err)
			}
		}
	}
}

func TestHeaderKeyScope(t *testing.T) {
	for _, kind := range []Kind{KindRecord, KindStream} {
		ct := sealIn(t, kind, mustKey(t, "acme/payroll", 1), nil)
		h, err := ParseHeader(ct)
		if err != nil || h.Tenant != "acme/payroll" {
			t.Fatalf("%s: ParseHeader() = %+v, %v", kind, h, err)
		}
		longest := sealIn(t, kind, mustKey(t, longestScope, 1), nil)
		if h, err := ParseHeader(longest); err != nil || h.Tenant != longestScope {
			t.Fatalf("%s: ParseHeader(193-byte scope) = %+v, %v", kind, h, err)
		}
		for name, scope := range malformedScopes {
			bad := withScope(ct, scope)
			if _, err := ParseHeader(bad); !errors.Is(err, ErrInvalidCiphertext) {
				t.Errorf("%s, %s scope %q: ParseHeader() err = %v, want invalid_ciphertext", kind, name, scope, err)
			}
			if err := openIn(kind, fuzzKeys(t), bad, nil); !errors.Is(err, ErrInvalidCiphertext) {
				t.Errorf("%s, %s scope %q: open err = %v, want invalid_ciphertext", kind, name, scope, err)
			}
		}
	}
}

// TestLookupAskedForScopeID checks that a key lookup is asked for the
// header's whole scope id, so a lookup keyed by tenant serves each vault's
// scope as a tenant of its own.
func TestLookupAskedForScopeID(t *testing.T) {
	key := mustKey(t, "acme/payroll", 4)
	for _, kind := range []Kind{KindRecord, KindStream} {
		var asked []string
		lookup := KeyLookupFunc(func(_ context.Context, scope string, version uint32) (*TenantKey, error) {
			asked = append(asked, fmt.Sprintf("%s@%d", scope, version))
			return key, nil
		})
		if err := openIn(kind, lookup, sealIn(t, kind, key, nil), nil); err != nil {
			t.Fatalf("%s: open: %v", kind, err)
		}
		if len(asked) != 1 || asked[0] != "acme/payroll@4" {
			t.Fatalf("%s: lookup asked for %v, want [acme/payroll@4]", kind, asked)
		}
	}
}
