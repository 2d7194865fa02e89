package rootseal_test

import (
	"bytes"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/rootseal"
)

// rootFile returns a root key file with the given versions.
func rootFile(t testing.TB, versions ...uint32) *keyfile.File {
	t.Helper()
	f := &keyfile.File{}
	for _, v := range versions {
		k, err := envelope.GenerateTenantKey("platform-root", v, nil)
		if err != nil {
			t.Fatal(err)
		}
		if err := f.Append(keyfile.Entry{Key: k, Created: time.Unix(0, 0).UTC()}); err != nil {
			t.Fatal(err)
		}
	}
	return f
}

func sealer(t *testing.T, f *keyfile.File, purpose string) *rootseal.Sealer {
	t.Helper()
	s, err := rootseal.New(f, purpose)
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	return s
}

var secret = []byte("0123456789abcdef0123456789abcdef")

func TestRoundTrip(t *testing.T) {
	s := sealer(t, rootFile(t, 1), "webhook secret")
	sealed, err := s.Seal(secret, "hook", "acme")
	if err != nil {
		t.Fatalf("Seal() err = %v", err)
	}
	if len(sealed) != len(secret)+rootseal.Overhead || bytes.Contains(sealed, secret) {
		t.Fatalf("Seal() = %x: want %d bytes without the secret in them", sealed, len(secret)+rootseal.Overhead)
	}
	got, err := s.Open(sealed, "hook", "acme")
	if err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open() = %q, %v; want the secret", got, err)
	}
	again, _ := s.Seal(secret, "hook", "acme")
	if bytes.Equal(again, sealed) {
		t.Fatal("two seals of one secret are equal: the nonce is not fresh")
	}
}

// A sealed value opens only with its own binding and purpose, under the
// root key that sealed it.
func TestOpenRefuses(t *testing.T) {
	f := rootFile(t, 1)
	s := sealer(t, f, "webhook secret")
	sealed, _ := s.Seal(secret, "hook", "acme")
	cases := map[string]func() ([]byte, error){
		"other id":      func() ([]byte, error) { return s.Open(sealed, "other", "acme") },
		"other tenant":  func() ([]byte, error) { return s.Open(sealed, "hook", "") },
		"shifted parts": func() ([]byte, error) { return s.Open(sealed, "hooka", "cme") },
		"no binding":    func() ([]byte, error) { return s.Open(sealed) },
		"other purpose": func() ([]byte, error) { return sealer(t, f, "other").Open(sealed, "hook", "acme") },
		"other root": func() ([]byte, error) {
			return sealer(t, rootFile(t, 1), "webhook secret").Open(sealed, "hook", "acme")
		},
		"empty": func() ([]byte, error) { return s.Open(nil, "hook", "acme") },
	}
	for name, open := range cases {
		if got, err := open(); !errors.Is(err, rootseal.ErrOpen) || got != nil {
			t.Errorf("Open(%s) = %q, %v; want ErrOpen", name, got, err)
		}
	}
}

func TestBitFlipsAndTruncation(t *testing.T) {
	s := sealer(t, rootFile(t, 1), "webhook secret")
	sealed, _ := s.Seal(secret, "hook", "")
	for i := range len(sealed) * 8 {
		c := bytes.Clone(sealed)
		c[i/8] ^= 1 << (i % 8)
		if _, err := s.Open(c, "hook", ""); !errors.Is(err, rootseal.ErrOpen) {
			t.Fatalf("Open(bit %d flipped) err = %v, want ErrOpen", i, err)
		}
	}
	for n := range len(sealed) {
		if _, err := s.Open(sealed[:n], "hook", ""); !errors.Is(err, rootseal.ErrOpen) {
			t.Fatalf("Open(first %d bytes) err = %v, want ErrOpen", n, err)
		}
	}
}

// Adding a root key version seals new values under it and keeps the older
// ones opening; a file without the version a value names says so.
func TestRootVersions(t *testing.T) {
	f := rootFile(t, 1)
	old, _ := sealer(t, f, "webhook secret").Seal(secret, "hook", "")
	k2, _ := envelope.GenerateTenantKey("platform-root", 2, nil)
	if err := f.Append(keyfile.Entry{Key: k2, Created: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	s := sealer(t, f, "webhook secret")
	if got, err := s.Open(old, "hook", ""); err != nil || !bytes.Equal(got, secret) {
		t.Fatalf("Open(sealed under version 1) after adding version 2 = %q, %v", got, err)
	}
	sealed, _ := s.Seal(secret, "hook", "")
	only2 := &keyfile.File{Entries: f.Entries[1:]}
	if _, err := sealer(t, only2, "webhook secret").Open(sealed, "hook", ""); err != nil {
		t.Fatalf("a value sealed after adding version 2 does not open without version 1: %v", err)
	}
	_, err := sealer(t, only2, "webhook secret").Open(old, "hook", "")
	if !errors.Is(err, rootseal.ErrOpen) || !strings.Contains(err.Error(), "root key version 1") {
		t.Fatalf("Open(version 1 gone) err = %v, want ErrOpen naming version 1", err)
	}
}

func TestNoLeak(t *testing.T) {
	s := sealer(t, rootFile(t, 1), "webhook secret")
	for _, format := range []string{"%v", "%+v", "%#v", "%s", "%x"} {
		if got := fmt.Sprintf(format, s); got != "rootseal.Sealer([redacted])" {
			t.Errorf("Sprintf(%s) = %q", format, got)
		}
	}
	if _, err := rootseal.New(&keyfile.File{}, "webhook secret"); err == nil {
		t.Error("New(empty file) err = nil")
	}
	var zero rootseal.Sealer
	if _, err := zero.Seal(secret); err == nil {
		t.Error("zero Sealer seals")
	}
}

// FuzzOpen: no input panics Open, and only the sealed value itself opens.
func FuzzOpen(f *testing.F) {
	s, err := rootseal.New(rootFile(f, 1), "webhook secret")
	if err != nil {
		f.Fatal(err)
	}
	sealed, _ := s.Seal(secret, "hook", "")
	f.Add(sealed)
	f.Add(sealed[:rootseal.Overhead])
	f.Add([]byte{1, 0, 0, 0, 9})
	f.Fuzz(func(t *testing.T, b []byte) {
		got, err := s.Open(b, "hook", "")
		if err == nil && (!bytes.Equal(b, sealed) || !bytes.Equal(got, secret)) {
			t.Fatalf("Open(%x) = %q, want ErrOpen", b, got)
		}
	})
}
