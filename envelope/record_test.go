package envelope

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
)

func mustKey(t testing.TB, tenant string, version uint32) *TenantKey {
	t.Helper()
	k, err := GenerateTenantKey(tenant, version, nil)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

var bg = context.Background()

func TestRecordRoundTrip(t *testing.T) {
	key := mustKey(t, "acme", 1)
	ks := NewKeySet(key)
	for _, size := range []int{0, 1, 15, 16, 17, 1023, 1 << 10, 64 << 10, 3<<20 + 7} {
		for _, store := range []bool{false, true} {
			for _, ec := range []Context{nil, {}, {"row": "42"}, {"b": "2", "a": "1", "": "x"[:0] + "z"[:0]}} {
				name := fmt.Sprintf("%d/store=%v/ctx=%d", size, store, len(ec))
				t.Run(name, func(t *testing.T) {
					if _, bad := ec[""]; bad {
						_, err := AppendSeal(nil, key, nil, ec, nil)
						if !errors.Is(err, ErrInvalidContext) {
							t.Fatalf("Seal() with empty context key err = %v, want ErrInvalidContext", err)
						}
						return
					}
					pt := bytes.Repeat([]byte{0xA5}, size)
					ct, err := AppendSeal(nil, key, pt, ec, &RecordOptions{StoreContext: store})
					if err != nil {
						t.Fatal(err)
					}
					got, err := Open(bg, ks, ct, ec)
					if err != nil {
						t.Fatalf("Open() err = %v", err)
					}
					if !bytes.Equal(got, pt) {
						t.Fatalf("Open() = %d bytes, want the %d sealed", len(got), len(pt))
					}
					if store && len(ec) == 0 && len(ct) != len(pt)+RecordOverhead(4)+2 {
						t.Errorf("len(ct) = %d, want %d", len(ct), len(pt)+RecordOverhead(4)+2)
					}
					if !store && len(ct) != len(pt)+RecordOverhead(4)+ctxStoredLen(ec, false) {
						t.Errorf("len(ct) = %d, want plaintext + RecordOverhead", len(ct))
					}
				})
			}
		}
	}
}

func ctxStoredLen(ec Context, stored bool) int {
	if !stored {
		return 0
	}
	b, _ := ec.appendCanonical(nil)
	return 2 + len(b)
}

func TestRecordAppendAndInPlace(t *testing.T) {
	key := mustKey(t, "acme", 1)
	prefix := []byte("prefix:")
	ct, err := AppendSeal(append([]byte(nil), prefix...), key, []byte("hello"), nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.HasPrefix(ct, prefix) {
		t.Fatalf("AppendSeal() lost the prefix")
	}
	body := append([]byte(nil), ct[len(prefix):]...)
	pt, err := AppendOpen(bg, body[:0], NewKeySet(key), body, nil)
	if err != nil || string(pt) != "hello" {
		t.Fatalf("AppendOpen(in place) = %q, %v; want hello", pt, err)
	}
}

func TestRecordRejects(t *testing.T) {
	acme1 := mustKey(t, "acme", 1)
	acme2 := mustKey(t, "acme", 2)
	globex := mustKey(t, "globex", 1)
	ec := Context{"table": "invoices"}
	ct, err := Seal(acme1, []byte("secret"), ec)
	if err != nil {
		t.Fatal(err)
	}
	stored, err := AppendSeal(nil, acme1, []byte("secret"), ec, &RecordOptions{StoreContext: true})
	if err != nil {
		t.Fatal(err)
	}
	otherMaterial, _ := NewTenantKey("acme", 1, globex.Material())
	for _, tc := range []struct {
		name   string
		lookup KeyLookup
		ct     []byte
		ec     Context
		want   error
	}{
		{"wrong tenant", NewKeySet(globex), ct, ec, ErrWrongTenant},
		{"unknown version", NewKeySet(acme2), ct, ec, ErrKeyVersionUnknown},
		{"same tenant and version, other material", NewKeySet(otherMaterial), ct, ec, ErrInvalidCiphertext},
		{"wrong context", NewKeySet(acme1), ct, Context{"table": "users"}, ErrInvalidCiphertext},
		{"missing context", NewKeySet(acme1), ct, nil, ErrInvalidCiphertext},
		{"extra context", NewKeySet(acme1), ct, Context{"table": "invoices", "x": "y"}, ErrInvalidCiphertext},
		{"wrong stored context", NewKeySet(acme1), stored, Context{"table": "users"}, ErrContextMismatch},
		{"lookup lies about tenant", lyingLookup(globex), ct, ec, ErrWrongTenant},
		{"lookup lies about version", lyingLookup(acme2), ct, ec, ErrKeyVersionUnknown},
		{"empty", NewKeySet(acme1), nil, ec, ErrInvalidCiphertext},
		{"stream given as record", NewKeySet(acme1), sealStream(t, acme1, []byte("x"), ec, nil), ec, ErrInvalidCiphertext},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := Open(bg, tc.lookup, tc.ct, tc.ec)
			if !errors.Is(err, tc.want) {
				t.Fatalf("Open() err = %v, want %v", err, tc.want)
			}
		})
	}
}

func lyingLookup(k *TenantKey) KeyLookup {
	return KeyLookupFunc(func(context.Context, string, uint32) (*TenantKey, error) { return k, nil })
}

func TestRecordLookupErrorPassesThrough(t *testing.T) {
	key := mustKey(t, "acme", 1)
	ct, _ := Seal(key, []byte("x"), nil)
	outage := errors.New("kms unreachable")
	_, err := Open(bg, KeyLookupFunc(func(context.Context, string, uint32) (*TenantKey, error) { return nil, outage }), ct, nil)
	if !errors.Is(err, outage) {
		t.Fatalf("Open() err = %v, want the lookup's error", err)
	}
}

// Every single-bit flip anywhere in a record must be rejected.
func TestRecordBitFlips(t *testing.T) {
	key := mustKey(t, "acme", 1)
	ks := NewKeySet(key)
	ec := Context{"row": "7"}
	for _, store := range []bool{false, true} {
		ct, err := AppendSeal(nil, key, []byte("a sample record of modest length"), ec, &RecordOptions{StoreContext: store})
		if err != nil {
			t.Fatal(err)
		}
		for i := range len(ct) * 8 {
			bad := bytes.Clone(ct)
			bad[i/8] ^= 1 << (i % 8)
			if pt, err := Open(bg, ks, bad, ec); err == nil {
				t.Fatalf("store=%v: flip of bit %d opened as %q", store, i, pt)
			} else if Code(err) == "" {
				t.Fatalf("store=%v: flip of bit %d: err = %v has no stable code", store, i, err)
			}
		}
	}
}

func TestRecordTruncations(t *testing.T) {
	key := mustKey(t, "acme", 1)
	ks := NewKeySet(key)
	ct, _ := AppendSeal(nil, key, []byte("truncate me"), Context{"k": "v"}, &RecordOptions{StoreContext: true})
	for n := range len(ct) {
		if _, err := Open(bg, ks, ct[:n], Context{"k": "v"}); !errors.Is(err, ErrInvalidCiphertext) {
			t.Fatalf("Open(first %d of %d bytes) err = %v, want ErrInvalidCiphertext", n, len(ct), err)
		}
	}
	if _, err := Open(bg, ks, append(bytes.Clone(ct), 0), Context{"k": "v"}); !errors.Is(err, ErrInvalidCiphertext) {
		t.Fatalf("Open(with a byte appended) err = %v, want ErrInvalidCiphertext", err)
	}
}

func TestRecordErrorsAreOpaque(t *testing.T) {
	key := mustKey(t, "acme", 1)
	ct, _ := Seal(key, []byte("x"), Context{"a": "b"})
	_, errCtx := Open(bg, NewKeySet(key), ct, Context{"a": "c"})
	bad := bytes.Clone(ct)
	bad[len(bad)-1] ^= 1
	_, errTag := Open(bg, NewKeySet(key), bad, Context{"a": "b"})
	if errCtx.Error() != errTag.Error() {
		t.Fatalf("wrong context and bad tag give different messages: %q vs %q", errCtx, errTag)
	}
	var oe *OpenError
	if !errors.As(errTag, &oe) || oe.Detail() == "" {
		t.Fatalf("bad tag err = %#v, want an *OpenError with a detail for logs", errTag)
	}
	if Code(errTag) != "invalid_ciphertext" {
		t.Fatalf("Code() = %q, want invalid_ciphertext", Code(errTag))
	}
}

func TestRecordUnsupportedVersion(t *testing.T) {
	key := mustKey(t, "acme", 1)
	ct, _ := Seal(key, []byte("x"), nil)
	for _, i := range []int{4, 5} {
		bad := bytes.Clone(ct)
		bad[i] = 9
		if _, err := Open(bg, NewKeySet(key), bad, nil); !errors.Is(err, ErrUnsupportedVersion) {
			t.Fatalf("byte %d = 9: Open() err = %v, want ErrUnsupportedVersion", i, err)
		}
	}
}

func TestRecordSealErrors(t *testing.T) {
	key := mustKey(t, "acme", 1)
	big := make([]byte, MaxRecordSize+1)
	if _, err := Seal(key, big, nil); !errors.Is(err, ErrTooLarge) {
		t.Errorf("Seal(too large) err = %v, want ErrTooLarge", err)
	}
	huge := Context{"k": string(make([]byte, MaxContextSize))}
	if _, err := Seal(key, nil, huge); !errors.Is(err, ErrInvalidContext) {
		t.Errorf("Seal(huge context) err = %v, want ErrInvalidContext", err)
	}
	many := Context{}
	for i := range MaxContextPairs + 1 {
		many[fmt.Sprint(i)] = ""
	}
	if _, err := Seal(key, nil, many); !errors.Is(err, ErrInvalidContext) {
		t.Errorf("Seal(too many pairs) err = %v, want ErrInvalidContext", err)
	}
	var nilKey *TenantKey
	if _, err := Seal(nilKey, nil, nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Seal(nil key) err = %v, want ErrInvalidKey", err)
	}
	key.Destroy()
	if _, err := Seal(key, nil, nil); !errors.Is(err, ErrInvalidKey) {
		t.Errorf("Seal(destroyed key) err = %v, want ErrInvalidKey", err)
	}
}

func TestDestroyedKeyDoesNotOpen(t *testing.T) {
	key := mustKey(t, "acme", 1)
	ct, _ := Seal(key, []byte("x"), nil)
	key.Destroy()
	if _, err := Open(bg, NewKeySet(key), ct, nil); !errors.Is(err, ErrInvalidKey) {
		t.Fatalf("Open() with a destroyed key err = %v, want ErrInvalidKey", err)
	}
}

// A data key is replaced after the message limit, and records from every data
// key still open.
func TestDataKeyReplacedAfterLimit(t *testing.T) {
	defer func(old uint64) { dataKeyMessageLimit = old }(dataKeyMessageLimit)
	dataKeyMessageLimit = 3
	key := mustKey(t, "acme", 1)
	salts := map[string]int{}
	var cts [][]byte
	for i := range 10 {
		ct, err := Seal(key, []byte{byte(i)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := ParseHeader(ct)
		salts[string(h.salt)]++
		cts = append(cts, ct)
	}
	if len(salts) != 4 {
		t.Fatalf("10 records with a limit of 3 used %d data keys, want 4", len(salts))
	}
	fresh, _ := NewTenantKey("acme", 1, key.Material())
	for i, ct := range cts {
		if pt, err := Open(bg, NewKeySet(fresh), ct, nil); err != nil || pt[0] != byte(i) {
			t.Fatalf("record %d: Open() = %v, %v", i, pt, err)
		}
	}
}

// Concurrent sealers never reuse a (data key, nonce) pair.
func TestConcurrentSealUniqueNonces(t *testing.T) {
	defer func(old uint64) { dataKeyMessageLimit = old }(dataKeyMessageLimit)
	dataKeyMessageLimit = 100
	key := mustKey(t, "acme", 1)
	var mu sync.Mutex
	seen := map[string]bool{}
	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 200 {
				ct, err := Seal(key, []byte("x"), nil)
				if err != nil {
					t.Error(err)
					return
				}
				h, _ := ParseHeader(ct)
				id := string(h.salt) + string(h.nonce)
				mu.Lock()
				if seen[id] {
					t.Error("a (salt, nonce) pair was used twice")
				}
				seen[id] = true
				mu.Unlock()
			}
		})
	}
	wg.Wait()
}

func TestParseHeaderShowsStoredContext(t *testing.T) {
	key := mustKey(t, "acme", 7)
	ec := Context{"table": "invoices", "row": "1"}
	ct, _ := AppendSeal(nil, key, []byte("x"), ec, &RecordOptions{StoreContext: true})
	h, err := ParseHeader(ct)
	if err != nil {
		t.Fatal(err)
	}
	if h.Kind != KindRecord || h.Tenant != "acme" || h.KeyVersion != 7 || len(h.Context) != 2 || h.Context["row"] != "1" {
		t.Fatalf("ParseHeader() = %+v", h)
	}
	plain, _ := Seal(key, []byte("x"), ec)
	if h, _ := ParseHeader(plain); h.Context != nil {
		t.Fatalf("ParseHeader() of an unstored context = %v, want nil", h.Context)
	}
}
