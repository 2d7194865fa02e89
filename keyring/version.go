package keyring

import (
	"context"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

var errNoWrapping = errors.New("the key version has no wrapping")

type errNoProvider string

func (e errNoProvider) Error() string { return fmt.Sprintf("no provider %q is configured", string(e)) }

// CreateVersion makes the tenant's next key version: a fresh key generated and
// wrapped by the first reference's provider, wrapped again under every other
// reference (one per region or key), stored, and cached as the tenant's
// current key. Data sealed from now on uses it; older versions keep opening.
func (k *Keyring) CreateVersion(ctx context.Context, tenant string, refs []kms.KeyRef) (*Version, error) {
	next, err := k.nextVersion(ctx, tenant)
	if err != nil {
		return nil, err
	}
	return k.createVersion(ctx, tenant, next, refs)
}

// CreateFirstVersion makes version 1 of a tenant that has none, and fails
// with ErrVersionExists if the tenant has a version 1 already: of two callers
// racing to give a tenant its first key, exactly one succeeds and the other
// leaves nothing behind.
func (k *Keyring) CreateFirstVersion(ctx context.Context, tenant string, refs []kms.KeyRef) (*Version, error) {
	return k.createVersion(ctx, tenant, 1, refs)
}

func (k *Keyring) createVersion(ctx context.Context, tenant string, next uint32, refs []kms.KeyRef) (*Version, error) {
	if len(refs) == 0 {
		return nil, &kms.Error{Class: kms.Misconfigured, Op: "create", Err: errors.New("no key-encryption key given")}
	}
	b := kms.Identity{Tenant: tenant, Version: next, Purpose: kms.PurposeTenantKey}
	key, ws, err := k.generate(ctx, refs, b)
	if err != nil {
		return nil, fmt.Errorf("keyring: create version %d of tenant %s: %w", next, tenant, err)
	}
	v := &Version{Tenant: tenant, Version: next, Wrappings: ws, Created: k.wallNow()}
	if err := k.cfg.Store.AddVersion(ctx, v); err != nil {
		key.Destroy()
		return nil, fmt.Errorf("keyring: create version %d of tenant %s: %w", next, tenant, err)
	}
	k.insert(key, true)
	return v, nil
}

func (k *Keyring) nextVersion(ctx context.Context, tenant string) (uint32, error) {
	latest, err := k.cfg.Store.LatestVersion(ctx, tenant)
	if errors.Is(err, ErrNoKey) {
		return 1, nil
	}
	if err != nil {
		return 0, err
	}
	return latest.Version + 1, nil
}

func (k *Keyring) generate(ctx context.Context, refs []kms.KeyRef, b kms.Identity) (*envelope.TenantKey, []kms.Wrapped, error) {
	p, err := k.provider(refs[0])
	if err != nil {
		return nil, nil, err
	}
	var key *envelope.TenantKey
	var first *kms.Wrapped
	err = k.metered(ctx, b.Tenant, func() (err error) {
		key, first, err = p.GenerateAndWrap(ctx, refs[0], b)
		return err
	})
	if err != nil {
		return nil, nil, err
	}
	ws := []kms.Wrapped{*first}
	for _, ref := range refs[1:] {
		w, err := k.wrap(ctx, ref, key, b)
		if err != nil {
			key.Destroy()
			return nil, nil, err
		}
		ws = append(ws, *w)
	}
	return key, ws, nil
}

func (k *Keyring) wrap(ctx context.Context, ref kms.KeyRef, key *envelope.TenantKey, b kms.Identity) (*kms.Wrapped, error) {
	p, err := k.provider(ref)
	if err != nil {
		return nil, err
	}
	var w *kms.Wrapped
	err = k.metered(ctx, b.Tenant, func() (err error) {
		w, err = p.Wrap(ctx, ref, key, b)
		return err
	})
	return w, err
}

// SameKey reports whether a and b name the same key in the same region.
func SameKey(a, b kms.KeyRef) bool {
	return a.Provider == b.Provider && a.ID == b.ID && a.Region == b.Region
}

// RewrapResult counts what a rewrap did.
type RewrapResult struct {
	Versions  int // versions of the tenant
	Rewrapped int // wrappings moved to the new key
	Skipped   int // versions with no wrapping under the old key
}

// Rewrap replaces every wrapping under from with one under to, one provider
// call per wrapping, and stores each version as soon as it is done. Versions
// without a wrapping under from are skipped, so an interrupted rewrap resumes
// where it stopped when run again. No data is re-encrypted.
func (k *Keyring) Rewrap(ctx context.Context, tenant string, from, to kms.KeyRef) (RewrapResult, error) {
	versions, err := k.cfg.Store.Versions(ctx, tenant)
	if err != nil {
		return RewrapResult{}, err
	}
	res := RewrapResult{Versions: len(versions)}
	for _, v := range versions {
		n, err := k.rewrapVersion(ctx, v, from, to)
		if err != nil {
			return res, fmt.Errorf("keyring: rewrap tenant %s version %d: %w", tenant, v.Version, err)
		}
		res.Rewrapped += n
		if n == 0 {
			res.Skipped++
		}
	}
	return res, nil
}

func (k *Keyring) rewrapVersion(ctx context.Context, v *Version, from, to kms.KeyRef) (int, error) {
	b := kms.Identity{Tenant: v.Tenant, Version: v.Version, Purpose: kms.PurposeTenantKey}
	n := 0
	for i, w := range v.Wrappings {
		if !SameKey(w.Key, from) {
			continue
		}
		moved, err := k.rewrapOne(ctx, &w, to, b)
		if err != nil {
			return 0, err
		}
		v.Wrappings[i] = *moved
		n++
	}
	if n == 0 {
		return 0, nil
	}
	return n, k.cfg.Store.SetWrappings(ctx, v.Tenant, v.Version, v.Wrappings)
}

// rewrapOne moves one wrapping: within a provider by its Rewrap, across
// providers (platform key to customer key) by unwrapping and wrapping.
func (k *Keyring) rewrapOne(ctx context.Context, w *kms.Wrapped, to kms.KeyRef, b kms.Identity) (*kms.Wrapped, error) {
	if w.Key.Provider == to.Provider {
		p, err := k.provider(to)
		if err != nil {
			return nil, err
		}
		var moved *kms.Wrapped
		err = k.metered(ctx, b.Tenant, func() (err error) {
			moved, err = p.Rewrap(ctx, w, to, b)
			return err
		})
		return moved, err
	}
	key, err := k.callUnwrap(ctx, w, b)
	if err != nil {
		return nil, err
	}
	defer key.Destroy()
	return k.wrap(ctx, to, key, b)
}

// AddWrapping wraps every version of tenant that lacks a wrapping under to,
// for a new region or an additional key. It is resumable like Rewrap.
func (k *Keyring) AddWrapping(ctx context.Context, tenant string, to kms.KeyRef) (int, error) {
	versions, err := k.cfg.Store.Versions(ctx, tenant)
	if err != nil {
		return 0, err
	}
	added := 0
	for _, v := range versions {
		if hasWrapping(v, to) {
			continue
		}
		key, err := k.TenantKey(ctx, tenant, v.Version)
		if err != nil {
			return added, fmt.Errorf("keyring: add wrapping to tenant %s version %d: %w", tenant, v.Version, err)
		}
		w, err := k.wrap(ctx, to, key, kms.Identity{Tenant: tenant, Version: v.Version, Purpose: kms.PurposeTenantKey})
		if err != nil {
			return added, fmt.Errorf("keyring: add wrapping to tenant %s version %d: %w", tenant, v.Version, err)
		}
		if err := k.cfg.Store.SetWrappings(ctx, tenant, v.Version, append(v.Wrappings, *w)); err != nil {
			return added, err
		}
		added++
	}
	return added, nil
}

func hasWrapping(v *Version, ref kms.KeyRef) bool {
	for _, w := range v.Wrappings {
		if SameKey(w.Key, ref) {
			return true
		}
	}
	return false
}

// WrapCopy re-encrypts version v's key under to and returns the wrapping
// without storing it, for a copy kept in another store (a backup vault's).
// Within one provider it is the provider's Rewrap (for AWS a ReEncrypt
// where the credentials allow), across providers an unwrap and a wrap. The
// version's wrappings are tried this region's first, moving on only when one
// fails transiently.
func (k *Keyring) WrapCopy(ctx context.Context, v *Version, to kms.KeyRef) (*kms.Wrapped, error) {
	b := kms.Identity{Tenant: v.Tenant, Version: v.Version, Purpose: kms.PurposeTenantKey}
	var last error = &kms.Error{Class: kms.Misconfigured, Op: "rewrap", Err: errNoWrapping}
	for _, w := range k.ordered(v.Wrappings) {
		moved, err := k.rewrapOne(ctx, &w, to, b)
		if err == nil {
			return moved, nil
		}
		last = err
		if !kms.ClassOf(err).Transient() {
			break
		}
	}
	return nil, fmt.Errorf("keyring: copy tenant %s version %d: %w", v.Tenant, v.Version, last)
}
