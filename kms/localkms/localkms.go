// Package localkms is a [kms.Provider] whose key-encryption key is the
// platform's own root key, read from a byok key file (docs/keyfile.md) made by
// `byok keygen`. It protects tenants that have not brought their own key, and
// serves development and tests without a cloud account.
//
// # Keys
//
// The key file's tenant id is the root key's name, which [kms.KeyRef.ID]
// names. Each version in the file is a root key version: wrapping uses the
// newest, unwrapping finds the version recorded in the wrapped key, so adding
// a version to the file (`byok keygen -add`) rotates the root key without
// touching existing wrappings.
//
// # Format
//
// A wrapped tenant key is an envelope record (docs/FORMAT.md) of the 32 key
// bytes sealed under the root key, with the binding's encryption context plus
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

// Provider wraps tenant keys under a root key held in memory.
type Provider struct {
	name   string
	latest *envelope.TenantKey
	keys   *envelope.KeySet
}

var _ kms.Provider = (*Provider)(nil)

// New returns a provider over the root key versions in f.
func New(f *keyfile.File) (*Provider, error) {
	if f == nil || len(f.Entries) == 0 {
		return nil, errors.New("localkms: the key file holds no key")
	}
	return &Provider{name: f.Tenant(), latest: f.Latest().Key, keys: envelope.NewKeySet(f.Keys()...)}, nil
}

// Load reads the root key file at path. It refuses a file that group or
// others may read or write, as ssh does for private keys.
func Load(path string) (*Provider, error) {
	data, err := ReadKeyFile(path)
	if err != nil {
		return nil, err
	}
	f, err := keyfile.Parse(data)
	if err != nil {
		return nil, fmt.Errorf("localkms: %s: %w", path, err)
	}
	return New(f)
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

// Name returns the root key's name, the ID of the KeyRefs it serves.
func (p *Provider) Name() string { return p.name }

// KeyRef returns the reference that names this provider's root key.
func (p *Provider) KeyRef() kms.KeyRef { return kms.KeyRef{Provider: ProviderName, ID: p.name} }

func (p *Provider) check(ctx context.Context, op string, ref kms.KeyRef, b kms.Binding) error {
	if err := ctx.Err(); err != nil {
		return &kms.Error{Class: kms.Unavailable, Op: op, Key: ref.ID, Err: err}
	}
	if err := b.Validate(); err != nil {
		return err
	}
	if ref.Provider != ProviderName || ref.ID != p.name {
		return &kms.Error{Class: kms.NotFound, Op: op, Key: ref.ID, Err: fmt.Errorf("this provider holds root key %q only", p.name)}
	}
	return nil
}

func (p *Provider) context(b kms.Binding) envelope.Context {
	ec := envelope.Context(b.EncryptionContext())
	ec["byok:wrapping-key"] = p.name
	return ec
}

// GenerateAndWrap creates a tenant key and wraps it under the root key.
func (p *Provider) GenerateAndWrap(ctx context.Context, ref kms.KeyRef, b kms.Binding) (*envelope.TenantKey, *kms.Wrapped, error) {
	if err := p.check(ctx, "generate", ref, b); err != nil {
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
func (p *Provider) Wrap(ctx context.Context, ref kms.KeyRef, key *envelope.TenantKey, b kms.Binding) (*kms.Wrapped, error) {
	if err := p.check(ctx, "wrap", ref, b); err != nil {
		return nil, err
	}
	material := key.Material()
	defer clear(material)
	ct, err := envelope.Seal(p.latest, material, p.context(b))
	if err != nil {
		return nil, &kms.Error{Class: kms.Misconfigured, Op: "wrap", Key: p.name, Err: err}
	}
	return &kms.Wrapped{Key: p.KeyRef(), Algorithm: Algorithm, Ciphertext: ct}, nil
}

// Unwrap opens w, which must have been made for b.
func (p *Provider) Unwrap(ctx context.Context, w *kms.Wrapped, b kms.Binding) (*envelope.TenantKey, error) {
	if err := p.check(ctx, "unwrap", w.Key, b); err != nil {
		return nil, err
	}
	if w.Algorithm != Algorithm {
		return nil, &kms.Error{Class: kms.InvalidCiphertext, Op: "unwrap", Key: p.name, Err: fmt.Errorf("algorithm %q is not %s", w.Algorithm, Algorithm)}
	}
	material, err := envelope.Open(ctx, p.keys, w.Ciphertext, p.context(b))
	if err != nil {
		return nil, &kms.Error{Class: unwrapClass(err), Op: "unwrap", Key: p.name, Err: err}
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
func (p *Provider) Rewrap(ctx context.Context, w *kms.Wrapped, to kms.KeyRef, b kms.Binding) (*kms.Wrapped, error) {
	key, err := p.Unwrap(ctx, w, b)
	if err != nil {
		return nil, err
	}
	defer key.Destroy()
	return p.Wrap(ctx, to, key, b)
}

// Describe reports the root key.
func (p *Provider) Describe(ctx context.Context, ref kms.KeyRef) (*kms.KeyInfo, error) {
	if err := p.check(ctx, "describe", ref, kms.Binding{Tenant: p.name, Version: 1, Purpose: "describe"}); err != nil {
		return nil, err
	}
	return &kms.KeyInfo{ARN: ProviderName + ":" + p.name, KeyID: p.name, KeySpec: "SYMMETRIC_DEFAULT",
		KeyUsage: "ENCRYPT_DECRYPT", State: "Enabled"}, nil
}

// Probe unwraps w and discards the key.
func (p *Provider) Probe(ctx context.Context, w *kms.Wrapped, b kms.Binding) error {
	key, err := p.Unwrap(ctx, w, b)
	if err != nil {
		return err
	}
	key.Destroy()
	return nil
}
