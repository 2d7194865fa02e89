// Package localkms is a [kms.Provider] whose key-encryption key is the
// platform's own root key, read from a byok key file (docs/keyfile.md) made by
// `byok keygen`. It protects tenants that have not brought their own key, and
// serves development and tests without a cloud account.
//
// # Keys
//
// A provider holds one or more root keys, one per key file. The key file's
// tenant id is the root key's name, which [kms.KeyRef.ID] names. Each version
// in a file is a root key version: wrapping uses the
// newest, unwrapping finds the version recorded in the wrapped key, so adding
// a version to the file (`byok keygen -add`) rotates the root key without
// touching existing wrappings.
//
// # Format
//
// A wrapped tenant key is an envelope record (docs/FORMAT.md) of the 32 key
// bytes sealed under the root key, with the identity's encryption context plus
// the root key's name as its context, so it opens only for the same tenant,
// version and purpose.
package localkms

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/kms"
)

// ProviderName is the kms.KeyRef.Provider value this package serves.
const ProviderName = "local"

// Algorithm is the kms.Wrapped.Algorithm of local wrappings.
const Algorithm = "byok-local-v1"

// Provider wraps tenant keys under root keys held in memory.
type Provider struct {
	first string // the first root key's name
	roots map[string]*root
}

type root struct {
	latest *envelope.TenantKey
	keys   *envelope.KeySet
}

var _ kms.Provider = (*Provider)(nil)

// New returns a provider over the root keys in files, one root key (with its
// versions) per file, named by the file's tenant id.
func New(files ...*keyfile.File) (*Provider, error) {
	p := &Provider{roots: map[string]*root{}}
	for _, f := range files {
		if f == nil || len(f.Entries) == 0 {
			return nil, errors.New("localkms: a key file holds no key")
		}
		if _, dup := p.roots[f.Tenant()]; dup {
			return nil, fmt.Errorf("localkms: two key files name root key %q", f.Tenant())
		}
		p.roots[f.Tenant()] = &root{latest: f.Latest().Key, keys: envelope.NewKeySet(f.Keys()...)}
		if p.first == "" {
			p.first = f.Tenant()
		}
	}
	if p.first == "" {
		return nil, errors.New("localkms: no key file given")
	}
	return p, nil
}

// Load reads root key files. It refuses a file that group or others may read
// or write, as ssh does for private keys.
func Load(paths ...string) (*Provider, error) {
	var files []*keyfile.File
	for _, path := range paths {
		data, err := ReadKeyFile(path)
		if err != nil {
			return nil, err
		}
		f, err := keyfile.Parse(data)
		if err != nil {
			return nil, fmt.Errorf("localkms: %s: %w", path, err)
		}
		files = append(files, f)
	}
	return New(files...)
}

// ErrUnsafePermissions means a key file is readable or writable by group or
// others.
var ErrUnsafePermissions = errors.New("key file is readable or writable by group or others")

// ReadKeyFile reads a key file after checking that only its owner can read or
// write it.
func ReadKeyFile(path string) ([]byte, error) {
	st, err := os.Stat(path)
	if err != nil {
		return nil, fmt.Errorf("localkms: %w", err)
	}
	if st.Mode().Perm()&0o077 != 0 {
		return nil, fmt.Errorf("localkms: %s: mode %04o: %w", path, st.Mode().Perm(), ErrUnsafePermissions)
	}
	if st.Size() > keyfile.MaxSize {
		return nil, fmt.Errorf("localkms: %s is larger than a key file can be", path)
	}
	return os.ReadFile(path)
}

// Name returns the first root key's name.
func (p *Provider) Name() string { return p.first }

// KeyRef returns the reference that names the first root key.
func (p *Provider) KeyRef() kms.KeyRef { return RootRef(p.first) }

// RootRef returns the reference to the root key called name.
func RootRef(name string) kms.KeyRef { return kms.KeyRef{Provider: ProviderName, ID: name} }

func (p *Provider) check(ctx context.Context, op string, ref kms.KeyRef, b kms.Identity) (*root, error) {
	if err := ctx.Err(); err != nil {
		return nil, &kms.Error{Class: kms.Unavailable, Op: op, Key: ref.ID, Err: err}
	}
	if err := b.Validate(); err != nil {
		return nil, err
	}
	r, ok := p.roots[ref.ID]
	if ref.Provider != ProviderName || !ok {
		return nil, &kms.Error{Class: kms.NotFound, Op: op, Key: ref.ID, Err: fmt.Errorf("no root key %q is loaded", ref.ID)}
	}
	return r, nil
}

func wrapContext(name string, b kms.Identity) envelope.Context {
	ec := envelope.Context(b.EncryptionContext())
	ec["byok:wrapping-key"] = name
	return ec
}

// GenerateAndWrap creates a tenant key and wraps it under the root key.
func (p *Provider) GenerateAndWrap(ctx context.Context, ref kms.KeyRef, b kms.Identity) (*envelope.TenantKey, *kms.Wrapped, error) {
	if _, err := p.check(ctx, "generate", ref, b); err != nil {
		return nil, nil, err
	}
	key, err := envelope.GenerateTenantKey(b.Tenant, b.Version, nil)
	if err != nil {
		return nil, nil, err
	}
	w, err := p.Wrap(ctx, ref, key, b)
	if err != nil {
		return nil, nil, err
	}
	return key, w, nil
}

// Wrap seals key's material under the newest root key version.
func (p *Provider) Wrap(ctx context.Context, ref kms.KeyRef, key *envelope.TenantKey, b kms.Identity) (*kms.Wrapped, error) {
	r, err := p.check(ctx, "wrap", ref, b)
	if err != nil {
		return nil, err
	}
	material := key.Material()
	defer clear(material)
	ct, err := envelope.Seal(r.latest, material, wrapContext(ref.ID, b))
	if err != nil {
		return nil, &kms.Error{Class: kms.Misconfigured, Op: "wrap", Key: ref.ID, Err: err}
	}
	return &kms.Wrapped{Key: RootRef(ref.ID), Algorithm: Algorithm, Ciphertext: ct}, nil
}

// Unwrap opens w, which must have been made for b.
func (p *Provider) Unwrap(ctx context.Context, w *kms.Wrapped, b kms.Identity) (*envelope.TenantKey, error) {
	r, err := p.check(ctx, "unwrap", w.Key, b)
	if err != nil {
		return nil, err
	}
	if w.Algorithm != Algorithm {
		return nil, &kms.Error{Class: kms.InvalidCiphertext, Op: "unwrap", Key: w.Key.ID, Err: fmt.Errorf("algorithm %q is not %s", w.Algorithm, Algorithm)}
	}
	material, err := envelope.Open(ctx, r.keys, w.Ciphertext, wrapContext(w.Key.ID, b))
	if err != nil {
		return nil, &kms.Error{Class: unwrapClass(err), Op: "unwrap", Key: w.Key.ID, Err: err}
	}
	defer clear(material)
	return envelope.NewTenantKey(b.Tenant, b.Version, material)
}

// unwrapClass maps envelope failures: a root key version missing from the
// file is a key not found; anything else means the wrapping does not open.
func unwrapClass(err error) kms.Class {
	if errors.Is(err, envelope.ErrKeyVersionUnknown) || errors.Is(err, envelope.ErrWrongTenant) {
		return kms.NotFound
	}
	return kms.InvalidCiphertext
}

// Rewrap unwraps w and wraps it under to.
func (p *Provider) Rewrap(ctx context.Context, w *kms.Wrapped, to kms.KeyRef, b kms.Identity) (*kms.Wrapped, error) {
	key, err := p.Unwrap(ctx, w, b)
	if err != nil {
		return nil, err
	}
	defer key.Destroy()
	return p.Wrap(ctx, to, key, b)
}

// Describe reports the root key.
func (p *Provider) Describe(ctx context.Context, ref kms.KeyRef, _ string) (*kms.KeyInfo, error) {
	if _, err := p.check(ctx, "describe", ref, kms.Identity{Tenant: "describe", Version: 1, Purpose: "describe"}); err != nil {
		return nil, err
	}
	return &kms.KeyInfo{ARN: ProviderName + ":" + ref.ID, KeyID: ref.ID, KeySpec: "SYMMETRIC_DEFAULT",
		KeyUsage: "ENCRYPT_DECRYPT", EncryptionAlgorithms: []string{"SYMMETRIC_DEFAULT"}, State: "Enabled"}, nil
}

// Probe unwraps w and discards the key.
func (p *Provider) Probe(ctx context.Context, w *kms.Wrapped, b kms.Identity) error {
	key, err := p.Unwrap(ctx, w, b)
	if err != nil {
		return err
	}
	key.Destroy()
	return nil
}
