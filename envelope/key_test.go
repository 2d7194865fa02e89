package envelope

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
)

func TestTenantKeyNeverPrintsMaterial(t *testing.T) {
	material := bytes.Repeat([]byte{0xAB}, KeySize)
	key, err := NewTenantKey("acme", 2, material)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%x", "%X", "%q", "%d"} {
		out = append(out, fmt.Sprintf(verb, key))
		out = append(out, fmt.Sprintf(verb, struct{ K *TenantKey }{key}))
	}
	j, err := json.Marshal(map[string]any{"key": key})
	if err != nil {
		t.Fatal(err)
	}
	out = append(out, string(j))
	var logs bytes.Buffer
	slog.New(slog.NewJSONHandler(&logs, nil)).Info("using key", "key", key)
	slog.New(slog.NewTextHandler(&logs, nil)).Info("using key", "key", key)
	out = append(out, logs.String())
	forbidden := []string{hex.EncodeToString(material), strings.ToUpper(hex.EncodeToString(material)), "171, 171", "171 171", "\xab\xab"}
	for _, s := range out {
		for _, f := range forbidden {
			if strings.Contains(s, f) {
				t.Fatalf("output %q shows key material", s)
			}
		}
	}
	if !strings.Contains(out[0], "acme") || !strings.Contains(out[0], redacted) {
		t.Fatalf("%%v = %q, want the tenant and %s", out[0], redacted)
	}
}

func TestTenantKeyMaterialIsACopy(t *testing.T) {
	key := mustKey(t, "acme", 1)
	m := key.Material()
	m[0] ^= 0xFF
	if bytes.Equal(m, key.Material()) {
		t.Fatal("changing Material()'s result changed the key")
	}
	src := bytes.Repeat([]byte{1}, KeySize)
	k2, _ := NewTenantKey("acme", 1, src)
	src[0] = 2
	if k2.Material()[0] != 1 {
		t.Fatal("NewTenantKey kept a reference to the caller's slice")
	}
}

func TestTenantKeyEqual(t *testing.T) {
	a := mustKey(t, "acme", 1)
	same, _ := NewTenantKey("acme", 1, a.Material())
	otherVersion, _ := NewTenantKey("acme", 2, a.Material())
	otherTenant, _ := NewTenantKey("globex", 1, a.Material())
	if !a.Equal(same) {
		t.Error("Equal(same material) = false")
	}
	for _, o := range []*TenantKey{otherVersion, otherTenant, mustKey(t, "acme", 1), nil} {
		if a.Equal(o) {
			t.Errorf("Equal(%v) = true", o)
		}
	}
}

func TestNewTenantKeyRejects(t *testing.T) {
	good := make([]byte, KeySize)
	for _, tc := range []struct {
		tenant  string
		version uint32
		m       []byte
	}{
		{"", 1, good},
		{strings.Repeat("a", MaxTenantIDLen+1), 1, good},
		{"has space", 1, good},
		{"slash/", 1, good},
		{"acme", 0, good},
		{"acme", 1, good[:31]},
		{"acme", 1, append(good, 0)},
	} {
		if _, err := NewTenantKey(tc.tenant, tc.version, tc.m); !errors.Is(err, ErrInvalidKey) {
			t.Errorf("NewTenantKey(%q, %d, %d bytes) err = %v, want ErrInvalidKey", tc.tenant, tc.version, len(tc.m), err)
		}
	}
	if _, err := NewTenantKey(strings.Repeat("a", MaxTenantIDLen), 1, good); err != nil {
		t.Errorf("NewTenantKey(longest tenant id) err = %v", err)
	}
}

func TestKeySetLookup(t *testing.T) {
	k := mustKey(t, "acme", 1)
	s := NewKeySet(k)
	if got, err := s.TenantKey(bg, "acme", 1); err != nil || got != k {
		t.Fatalf("TenantKey(acme, 1) = %v, %v", got, err)
	}
	if _, err := s.TenantKey(bg, "globex", 1); !errors.Is(err, ErrWrongTenant) {
		t.Fatalf("TenantKey(globex) err = %v, want ErrWrongTenant", err)
	}
	if _, err := s.TenantKey(bg, "acme", 2); !errors.Is(err, ErrKeyVersionUnknown) {
		t.Fatalf("TenantKey(acme, 2) err = %v, want ErrKeyVersionUnknown", err)
	}
}

func TestContextCanonicalEncoding(t *testing.T) {
	a, err := Context{"b": "2", "a": "1", "aa": ""}.appendCanonical(nil)
	if err != nil {
		t.Fatal(err)
	}
	want := []byte{0, 3, 0, 1, 'a', 0, 1, '1', 0, 2, 'a', 'a', 0, 0, 0, 1, 'b', 0, 1, '2'}
	if !bytes.Equal(a, want) {
		t.Fatalf("canonical = %v, want %v", a, want)
	}
	back, err := parseContext(a)
	if err != nil || len(back) != 3 || back["aa"] != "" {
		t.Fatalf("parseContext() = %v, %v", back, err)
	}
	for _, bad := range [][]byte{
		{0, 0}, {0, 1}, {0, 1, 0, 0, 0, 0}, // zero pairs, cut, empty key
		{0, 2, 0, 1, 'b', 0, 0, 0, 1, 'a', 0, 0}, // unsorted
		{0, 2, 0, 1, 'a', 0, 0, 0, 1, 'a', 0, 0}, // duplicate
		append(bytes.Clone(want), 0),             // trailing byte
	} {
		if _, err := parseContext(bad); err == nil {
			t.Errorf("parseContext(%v) accepted a non-canonical encoding", bad)
		}
	}
}
