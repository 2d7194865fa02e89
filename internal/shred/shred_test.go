package shred

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/kms/localkms"
)

func rootProvider(t testing.TB) *localkms.Provider {
	t.Helper()
	k, err := envelope.GenerateTenantKey("platform-root", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	p, err := localkms.New(&keyfile.File{Entries: []keyfile.Entry{{Key: k, Created: time.Unix(0, 0).UTC()}}})
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func openStore(t testing.TB, dir string, root *localkms.Provider) *Keystore {
	t.Helper()
	ks, err := Open(Config{Dir: dir, Root: root, RootRef: root.KeyRef()})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func TestKeystoreCreateDestroy(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "keys")
	ks := openStore(t, dir, rootProvider(t))
	if _, err := ks.Key(ctx, "acme"); !errors.Is(err, ErrMissing) || !errors.Is(err, store.ErrShredKeyMissing) {
		t.Fatalf("Key(no file) err = %v, want ErrMissing", err)
	}
	k1, err := ks.KeyOrCreate(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	k2, err := ks.Key(ctx, "acme")
	if err != nil || !k1.Equal(k2) {
		t.Fatalf("Key after create = %v, %v; want the created key", k2, err)
	}
	checkModes(t, dir)
	_, path := ks.path("acme")
	live, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	at, err := ks.Destroy(ctx, "acme")
	if err != nil || at.IsZero() {
		t.Fatalf("Destroy = %v, %v", at, err)
	}
	for _, get := range []func(context.Context, string) (*envelope.TenantKey, error){ks.Key, ks.KeyOrCreate} {
		if _, err := get(ctx, "acme"); !errors.Is(err, ErrDestroyed) || !errors.Is(err, store.ErrShredded) {
			t.Fatalf("after Destroy err = %v, want ErrDestroyed", err)
		}
	}
	tomb, _ := os.ReadFile(path)
	if bytes.Contains(tomb, live[bytes.Index(live, []byte(`"ciphertext"`)):][:40]) || !strings.Contains(string(tomb), `"tombstone":true`) {
		t.Fatalf("tombstone = %s, want no key", tomb)
	}
	again, err := ks.Destroy(ctx, "acme")
	if err != nil || !again.Equal(at) {
		t.Fatalf("second Destroy = %v, %v; want the first time %v", again, err, at)
	}
	if _, err := ks.Key(ctx, "other"); !errors.Is(err, ErrMissing) {
		t.Fatalf("other tenant err = %v, want ErrMissing", err)
	}
}

func checkModes(t *testing.T, dir string) {
	t.Helper()
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		info, _ := d.Info()
		want := fs.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if info.Mode().Perm() != want {
			t.Errorf("%s mode %v, want %v", path, info.Mode().Perm(), want)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// TestKeystoreInterruptedDestroy: a file zeroed by a destruction that
// stopped before its tombstone reads as destroyed, and destroying again
// writes the tombstone.
func TestKeystoreInterruptedDestroy(t *testing.T) {
	ctx := context.Background()
	ks := openStore(t, t.TempDir(), rootProvider(t))
	if _, err := ks.KeyOrCreate(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	_, path := ks.path("acme")
	if err := zero(path); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.KeyOrCreate(ctx, "acme"); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("zeroed file err = %v, want ErrDestroyed", err)
	}
	if at, err := ks.Destroy(ctx, "acme"); err != nil || at.IsZero() {
		t.Fatalf("Destroy = %v, %v", at, err)
	}
	f, err := readFile(path, "acme")
	if err != nil || !f.Tombstone || f.Destroyed.IsZero() {
		t.Fatalf("after Destroy file = %+v, %v; want a dated tombstone", f, err)
	}
}

// TestKeystoreDestroyWithoutKey: a tenant that never had a key still gets
// a tombstone, so none is made for it later.
func TestKeystoreDestroyWithoutKey(t *testing.T) {
	ctx := context.Background()
	ks := openStore(t, t.TempDir(), rootProvider(t))
	if _, err := ks.Destroy(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := ks.KeyOrCreate(ctx, "acme"); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("KeyOrCreate after Destroy err = %v, want ErrDestroyed", err)
	}
}

// TestKeystoreRaceCreate: keystores on one directory (as instances sharing
// it) creating the same tenant's key at once all get one key.
func TestKeystoreRaceCreate(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	root := rootProvider(t)
	const n = 16
	keys := make([]*envelope.TenantKey, n)
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		ks := openStore(t, dir, root)
		wg.Go(func() { keys[i], errs[i] = ks.KeyOrCreate(ctx, "racer") })
	}
	wg.Wait()
	for i := range n {
		if errs[i] != nil || !keys[i].Equal(keys[0]) {
			t.Fatalf("instance %d: key %v, err %v; want instance 0's key", i, keys[i], errs[i])
		}
	}
	var files []string
	filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, path)
		}
		return nil
	})
	if len(files) != 1 {
		t.Fatalf("keystore holds %v, want one key file and no temporary file", files)
	}
}

func TestKeystoreWrongRoot(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := openStore(t, dir, rootProvider(t)).KeyOrCreate(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := openStore(t, dir, rootProvider(t)).Key(ctx, "acme"); err == nil {
		t.Fatal("Key under another root key succeeded")
	}
}

func TestKeystoreHasKeys(t *testing.T) {
	ks := openStore(t, t.TempDir(), rootProvider(t))
	if has, err := HasKeys(ks.Dir()); has || err != nil {
		t.Fatalf("empty HasKeys = %v, %v", has, err)
	}
	if _, err := ks.KeyOrCreate(context.Background(), "acme"); err != nil {
		t.Fatal(err)
	}
	if has, err := HasKeys(ks.Dir()); !has || err != nil {
		t.Fatalf("HasKeys = %v, %v; want true", has, err)
	}
}

func TestLayer(t *testing.T) {
	ctx := context.Background()
	ks := openStore(t, t.TempDir(), rootProvider(t))
	l := NewLayer(ks)
	blob := []byte("a KMS wrapping's ciphertext")
	sealed, err := l.Seal(ctx, "acme", 3, blob)
	if err != nil {
		t.Fatal(err)
	}
	if bytes.Contains(sealed, blob) {
		t.Fatal("sealed bytes hold the blob")
	}
	if got, err := l.Open(ctx, "acme", 3, sealed); err != nil || !bytes.Equal(got, blob) {
		t.Fatalf("Open = %q, %v", got, err)
	}
	if _, err := l.Open(ctx, "acme", 4, sealed); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Open(other version) err = %v, want ErrCorrupt", err)
	}
	if _, err := l.Seal(ctx, "other", 3, blob); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Open(ctx, "other", 3, sealed); !errors.Is(err, store.ErrCorrupt) {
		t.Fatalf("Open(other tenant) err = %v, want ErrCorrupt", err)
	}
	for i := range sealed {
		for bit := range 8 {
			c := bytes.Clone(sealed)
			c[i] ^= 1 << bit
			if _, err := l.Open(ctx, "acme", 3, c); err == nil {
				t.Fatalf("bit %d of byte %d flipped: opened", bit, i)
			}
		}
	}
	for n := range len(sealed) {
		if _, err := l.Open(ctx, "acme", 3, sealed[:n]); err == nil {
			t.Fatalf("truncated to %d bytes: opened", n)
		}
	}
	if _, err := ks.Destroy(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := l.Open(ctx, "acme", 3, sealed); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("Open after Destroy err = %v, want ErrDestroyed", err)
	}
	if _, err := l.Seal(ctx, "acme", 4, blob); !errors.Is(err, ErrDestroyed) {
		t.Fatalf("Seal after Destroy err = %v, want ErrDestroyed", err)
	}
}

func TestParseFileSeeds(t *testing.T) {
	seeds, err := filepath.Glob("testdata/*.key")
	if err != nil || len(seeds) < 3 {
		t.Fatalf("seeds = %v, %v; want testdata/*.key", seeds, err)
	}
	for _, path := range seeds {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parseFile(b)
		bad := strings.HasPrefix(filepath.Base(path), "bad-")
		if (err != nil && !errors.Is(err, errZeroed)) != bad {
			t.Errorf("%s: parse err = %v", path, err)
		}
	}
}

func FuzzParseFile(f *testing.F) {
	seeds, _ := filepath.Glob("testdata/*.key")
	if len(seeds) == 0 {
		f.Fatal("no seeds in testdata")
	}
	for _, path := range seeds {
		b, err := os.ReadFile(path)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fl, err := parseFile(b)
		if err != nil {
			return
		}
		out, err := fl.marshal()
		if err != nil {
			t.Fatal(err)
		}
		again, err := parseFile(out)
		if err != nil {
			t.Fatalf("marshaled file does not parse: %v\n%s", err, out)
		}
		out2, _ := again.marshal()
		if !bytes.Equal(out, out2) {
			t.Fatalf("parse-marshal not stable:\n%s\n%s", out, out2)
		}
	})
}

// TestDestroyOverwritesInPlace: the key file's own bytes are zeroed before
// the tombstone replaces it, so another name for the same inode (a hard
// link, or a file system that keeps the old inode's blocks) holds no key.
func TestDestroyOverwritesInPlace(t *testing.T) {
	ctx := context.Background()
	ks := openStore(t, t.TempDir(), rootProvider(t))
	if _, err := ks.KeyOrCreate(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	_, path := ks.path("acme")
	other := filepath.Join(t.TempDir(), "same-inode")
	if err := os.Link(path, other); err != nil {
		t.Skipf("no hard links here: %v", err)
	}
	if _, err := ks.Destroy(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	b, err := os.ReadFile(other)
	if err != nil || len(b) == 0 || len(bytes.Trim(b, "\x00")) != 0 {
		t.Fatalf("the old inode holds %q, %v; want only zeros", b, err)
	}
}
