// Package shred keeps each tenant's shred key outside the database and
// seals every wrapping of the tenant's keys under it, so that destroying
// that one key at offboarding makes every copy of the wrappings useless:
// the rows in a database backup, in PostgreSQL's WAL or in SQLite's free
// pages (docs/threat-model.md, "Crypto-shredding and copies of the
// database").
//
// # Keystore
//
// A [Keystore] is a directory (0700) of one file (0600) per tenant at
// <dir>/<2 hex>/<sha256 of the tenant id, hex>.key, holding the tenant's
// 256-bit shred key wrapped under the platform root key (kms/localkms,
// identity purpose "shred-key"), so rotating the root key needs nothing
// here. A key is created once: instances racing to create one link their
// file into place with link(2), which fails for all but one; the others
// read the winner's. [Keystore.Destroy] overwrites the file's bytes with
// zeros, syncs them, then renames a tombstone over it; a tenant with a
// tombstone never gets a key again.
//
// # Layer
//
// A [Layer] seals a KMS wrapping's ciphertext with AES-256-GCM under the
// tenant's shred key, with the tenant and key version in the associated
// data; the SQL stores hold only the sealed bytes.
package shred

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/kms"
)

// Purpose is the identity purpose under which the root key wraps shred
// keys, so a shred key's wrapping never opens as a tenant key's.
const Purpose = "shred-key"

// Errors, matched with errors.Is: the store's, which is how the API
// answers them (tenant_shredded, shred_key_missing).
var (
	// ErrDestroyed means the tenant's shred key was destroyed.
	ErrDestroyed = store.ErrShredded
	// ErrMissing means the keystore has no file for the tenant.
	ErrMissing = store.ErrShredKeyMissing
)

// Config configures a Keystore.
type Config struct {
	// Dir is the keystore's directory, created 0700 if missing.
	Dir string
	// Root wraps the shred keys: the platform root key's provider.
	Root kms.Provider
	// RootRef names the root key that wraps new shred keys.
	RootRef kms.KeyRef
	// Now is the clock; nil means time.Now.
	Now func() time.Time
}

// Keystore holds the tenants' shred keys. It caches nothing, so a key
// another instance destroyed is gone here at once. It is safe for
// concurrent use, also by several processes sharing the directory.
type Keystore struct {
	cfg Config
}

// Open returns the keystore in cfg.Dir, creating the directory if needed.
func Open(cfg Config) (*Keystore, error) {
	if cfg.Dir == "" || cfg.Root == nil || cfg.RootRef.Provider == "" {
		return nil, errors.New("shred: the keystore needs a directory and the platform root key")
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if err := os.MkdirAll(cfg.Dir, 0o700); err != nil {
		return nil, fmt.Errorf("shred: keystore: %w", err)
	}
	st, err := os.Stat(cfg.Dir)
	if err != nil {
		return nil, fmt.Errorf("shred: keystore: %w", err)
	}
	if !st.IsDir() {
		return nil, fmt.Errorf("shred: keystore %s is not a directory", cfg.Dir)
	}
	return &Keystore{cfg: cfg}, nil
}

// Dir is the keystore's directory.
func (k *Keystore) Dir() string { return k.cfg.Dir }

// HasKeys reports whether the keystore in dir holds any key file, live or
// tombstone: a database with sealed wrappings and an empty keystore means
// the keystore is not the one it was written with.
func HasKeys(dir string) (bool, error) {
	found := false
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && filepath.Ext(path) == ".key" {
			found = true
			return fs.SkipAll
		}
		return nil
	})
	if err != nil {
		return false, fmt.Errorf("shred: keystore: %w", err)
	}
	return found, nil
}

// path is the tenant's file: hashed, so a tenant id never becomes a path.
func (k *Keystore) path(tenant string) (shard, name string) {
	sum := sha256.Sum256([]byte(tenant))
	h := hex.EncodeToString(sum[:])
	shard = filepath.Join(k.cfg.Dir, h[:2])
	return shard, filepath.Join(shard, h+".key")
}

func identity(tenant string) kms.Identity {
	return kms.Identity{Tenant: tenant, Version: 1, Purpose: Purpose}
}

// Key returns the tenant's shred key. It fails with ErrDestroyed after
// Destroy and with ErrMissing when there is no file.
func (k *Keystore) Key(ctx context.Context, tenant string) (*envelope.TenantKey, error) {
	if !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	_, path := k.path(tenant)
	f, err := readFile(path, tenant)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, store.ShredKeyMissing("tenant %s's shred key is not in the shred keystore", tenant)
	}
	if err != nil {
		return nil, err
	}
	return k.open(ctx, f)
}

func (k *Keystore) open(ctx context.Context, f *file) (*envelope.TenantKey, error) {
	if f.Tombstone {
		return nil, store.Shredded("tenant %s was offboarded: its shred key was destroyed", f.Tenant)
	}
	key, err := k.cfg.Root.Unwrap(ctx, f.Wrapped, identity(f.Tenant))
	if err != nil {
		return nil, fmt.Errorf("shred: open tenant %s's shred key: %w", f.Tenant, err)
	}
	return key, nil
}

// readFile reads and parses path, which must be tenant's.
func readFile(path, tenant string) (*file, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, err
	}
	f, err := parseFile(b)
	if errors.Is(err, errZeroed) {
		f.Tenant = tenant
		return f, nil
	}
	if err != nil {
		return nil, store.Corrupt(fmt.Errorf("shred: %s: %w", path, err))
	}
	if f.Tenant != tenant {
		return nil, store.Corrupt(fmt.Errorf("shred: %s names tenant %s, not %s", path, f.Tenant, tenant))
	}
	return f, nil
}

// KeyOrCreate returns the tenant's shred key, creating it if the tenant
// has none. Of instances creating one at once, all get the same key. It
// fails with ErrDestroyed after Destroy.
func (k *Keystore) KeyOrCreate(ctx context.Context, tenant string) (*envelope.TenantKey, error) {
	key, err := k.Key(ctx, tenant)
	if !errors.Is(err, ErrMissing) {
		return key, err
	}
	if err := k.create(ctx, tenant); err != nil {
		return nil, err
	}
	return k.Key(ctx, tenant)
}

// create links a new key file into place unless one is there already.
func (k *Keystore) create(ctx context.Context, tenant string) error {
	key, w, err := k.cfg.Root.GenerateAndWrap(ctx, k.cfg.RootRef, identity(tenant))
	if err != nil {
		return fmt.Errorf("shred: create tenant %s's shred key: %w", tenant, err)
	}
	key.Destroy()
	b, err := (&file{Format: fileFormat, Tenant: tenant, Created: k.cfg.Now().UTC().Truncate(time.Second), Wrapped: w}).marshal()
	if err != nil {
		return err
	}
	shard, path := k.path(tenant)
	if err := os.MkdirAll(shard, 0o700); err != nil {
		return fmt.Errorf("shred: keystore: %w", err)
	}
	tmp, err := writeTemp(shard, b)
	if err != nil {
		return err
	}
	defer os.Remove(tmp)
	// link fails if another instance won: its key is the tenant's.
	if err := os.Link(tmp, path); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("shred: keystore: %w", err)
	}
	return syncDir(shard)
}

// writeTemp writes b to a new file in dir and syncs it.
func writeTemp(dir string, b []byte) (string, error) {
	f, err := os.CreateTemp(dir, ".tmp-*")
	if err != nil {
		return "", fmt.Errorf("shred: keystore: %w", err)
	}
	_, err = f.Write(b)
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		os.Remove(f.Name())
		return "", fmt.Errorf("shred: keystore: %w", err)
	}
	return f.Name(), nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("shred: keystore: %w", err)
	}
	if err := errors.Join(d.Sync(), d.Close()); err != nil {
		return fmt.Errorf("shred: keystore: sync %s: %w", dir, err)
	}
	return nil
}

// Destroy destroys the tenant's shred key and returns when it was
// destroyed: the key file's bytes are overwritten with zeros and synced,
// then a tombstone replaces the file. Destroying a destroyed key returns
// the first destruction's time; a tenant without a key gets a tombstone,
// so none is ever made for it.
func (k *Keystore) Destroy(ctx context.Context, tenant string) (time.Time, error) {
	if !envelope.ValidTenantID(tenant) {
		return time.Time{}, store.BadTenantID(tenant)
	}
	if err := ctx.Err(); err != nil {
		return time.Time{}, err
	}
	shard, path := k.path(tenant)
	f, err := readFile(path, tenant)
	switch {
	case err == nil && f.Tombstone && !f.Destroyed.IsZero():
		return f.Destroyed, nil
	case err != nil && !errors.Is(err, fs.ErrNotExist):
		return time.Time{}, err
	}
	if err := os.MkdirAll(shard, 0o700); err != nil {
		return time.Time{}, fmt.Errorf("shred: keystore: %w", err)
	}
	if err := zero(path); err != nil {
		return time.Time{}, err
	}
	at := k.cfg.Now().UTC().Truncate(time.Second)
	return at, k.tombstone(shard, path, tenant, at)
}

// zero overwrites the file's bytes in place, so that its blocks no longer
// hold the key even where the file system keeps the old inode's data.
func zero(path string) error {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("shred: destroy: %w", err)
	}
	st, err := f.Stat()
	if err == nil {
		_, err = f.WriteAt(make([]byte, st.Size()), 0)
	}
	err = errors.Join(err, f.Sync(), f.Close())
	if err != nil {
		return fmt.Errorf("shred: destroy: %w", err)
	}
	return nil
}

func (k *Keystore) tombstone(shard, path, tenant string, at time.Time) error {
	b, err := (&file{Format: fileFormat, Tenant: tenant, Destroyed: at, Tombstone: true}).marshal()
	if err != nil {
		return err
	}
	tmp, err := writeTemp(shard, b)
	if err != nil {
		return err
	}
	if err := os.Rename(tmp, path); err != nil {
		os.Remove(tmp)
		return fmt.Errorf("shred: destroy: %w", err)
	}
	return syncDir(shard)
}

// random fills b; a failing system RNG ends the process (crypto/rand).
func random(b []byte) { _, _ = rand.Read(b) }
