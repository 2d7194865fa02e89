package envelope

import (
	"bytes"
	"encoding/hex"
	"encoding/json"
	"io"
	"os"
	"path/filepath"
	"testing"
)

// fuzzKeys holds the keys the reproducible vectors are sealed under (see
// internal/vectorgen): tenant acme's own scope and its vault payroll, so that
// seeds taken from the vectors reach the decryption code.
func fuzzKeys(t testing.TB) *KeySet {
	t.Helper()
	var keys []*TenantKey
	for _, v := range readVectors(t) {
		if !v.Reproducible || v.Name != v.Kind+"-empty" && v.Name != v.Kind+"-vault-scope" {
			continue
		}
		m, err := hex.DecodeString(v.Key)
		if err != nil {
			t.Fatal(err)
		}
		k, err := NewTenantKey(v.Tenant, v.KeyVersion, m)
		if err != nil {
			t.Fatal(err)
		}
		keys = append(keys, k)
	}
	if len(keys) != 4 {
		t.Fatalf("fuzz keys: %d vectors give a key, want 4", len(keys))
	}
	return NewKeySet(keys...)
}

func TestFuzzSeedCorporaExist(t *testing.T) {
	for _, target := range []string{"FuzzParseHeader", "FuzzOpenRecord", "FuzzStreamReader"} {
		entries, err := os.ReadDir(filepath.Join("testdata", "fuzz", target))
		if err != nil || len(entries) < 5 {
			t.Errorf("seed corpus of %s: %d files, err %v; run go run ./envelope/internal/vectorgen", target, len(entries), err)
		}
	}
}

// FuzzParseHeader checks that parsing never panics and that a parsed header
// marshals back to exactly the bytes it came from.
func FuzzParseHeader(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var h Header
		n, err := h.parse(b)
		if err != nil {
			if Code(err) == "" {
				t.Fatalf("parse error without a code: %v", err)
			}
			return
		}
		if got := h.marshal(); !bytes.Equal(got, b[:n]) {
			t.Fatalf("marshal(parse(b)) = %x, want %x", got, b[:n])
		}
	})
}

var fuzzContext = Context{"table": "invoices", "row": "1042"}

// FuzzOpenRecord feeds arbitrary bytes to Open: it must fail with a coded
// error or, for an untouched vector, succeed; never panic.
func FuzzOpenRecord(f *testing.F) {
	ks := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, ec := range []Context{nil, fuzzContext} {
			if _, err := Open(bg, ks, b, ec); err != nil && Code(err) == "" {
				t.Fatalf("Open() error without a code: %v", err)
			}
		}
	})
}

// FuzzStreamReader feeds arbitrary bytes to the sequential and random-access
// stream readers.
func FuzzStreamReader(f *testing.F) {
	ks := fuzzKeys(f)
	f.Fuzz(func(t *testing.T, b []byte) {
		for _, workers := range []int{1, 2} {
			r, err := NewReader(bg, bytes.NewReader(b), ks, fuzzContext, &StreamOptions{Workers: workers})
			if err == nil {
				_, err = io.Copy(io.Discard, r)
			}
			if err != nil && Code(err) == "" {
				t.Fatalf("stream reader error without a code: %v", err)
			}
		}
		ra, err := NewReaderAt(bg, bytes.NewReader(b), int64(len(b)), ks, fuzzContext)
		if err != nil {
			return
		}
		buf := make([]byte, 3000)
		for off := int64(0); off < ra.Size(); off += 700 {
			if _, err := ra.ReadAt(buf, off); err != nil && err != io.EOF && Code(err) == "" {
				t.Fatalf("ReadAt() error without a code: %v", err)
			}
		}
	})
}

func readVectors(t testing.TB) []vector {
	t.Helper()
	b, err := os.ReadFile("testdata/vectors/vectors.json")
	if err != nil {
		t.Fatal(err)
	}
	var f struct{ Vectors []vector }
	if err := json.Unmarshal(b, &f); err != nil || len(f.Vectors) == 0 {
		t.Fatalf("vectors: %v", err)
	}
	return f.Vectors
}
