package keyring

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// call is one unwrap in flight; everyone asking for the same tenant version
// waits for it instead of calling the provider again.
type call struct {
	done chan struct{}
	e    *entry
	err  error
}

type flights struct {
	mu    sync.Mutex
	calls map[cacheKey]*call
}

// do runs fn once per key at a time. fn runs detached from any one caller's
// cancellation (bounded by timeout instead), so a caller giving up does not
// fail the others waiting on the same call.
func (f *flights) do(ctx context.Context, k cacheKey, timeout time.Duration, fn func(context.Context) (*entry, error)) (*entry, error) {
	f.mu.Lock()
	c, ok := f.calls[k]
	if !ok {
		c = &call{done: make(chan struct{})}
		f.calls[k] = c
		go f.run(context.WithoutCancel(ctx), k, c, timeout, fn)
	}
	f.mu.Unlock()
	select {
	case <-c.done:
		return c.e, c.err
	case <-ctx.Done():
		return nil, ctx.Err()
	}
}

func (f *flights) run(ctx context.Context, k cacheKey, c *call, timeout time.Duration, fn func(context.Context) (*entry, error)) {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	c.e, c.err = fn(ctx)
	f.mu.Lock()
	delete(f.calls, k)
	f.mu.Unlock()
	close(c.done)
}

// load fetches a version that is missing or expired in the cache. version 0
// with current set means the tenant's newest version.
func (k *Keyring) load(ctx context.Context, tenant string, version uint32, current bool, now int64) (*envelope.TenantKey, error) {
	k.meters.get(tenant).misses.Add(1)
	if k.cfg.Admit != nil {
		if err := k.cfg.Admit(ctx, tenant); err != nil {
			return nil, fmt.Errorf("keyring: tenant %s refused: %w", tenant, err)
		}
	}
	if current {
		v, err := k.cfg.Store.LatestVersion(ctx, tenant)
		if err != nil {
			return nil, err
		}
		version = v.Version
	}
	stale := k.cache.get(tenant, version)
	e, err := k.flight.do(ctx, cacheKey{tenant, version}, k.cfg.CallTimeout, func(ctx context.Context) (*entry, error) {
		return k.install(ctx, tenant, version)
	})
	if err != nil {
		return k.serveStale(stale, now, err)
	}
	if current {
		k.cache.setCurrent(e)
	}
	return e.key, nil
}

// serveStale returns an expired key still within MaxAge when the provider
// failed transiently; otherwise the error.
func (k *Keyring) serveStale(stale *entry, now int64, err error) (*envelope.TenantKey, error) {
	if stale == nil || !kms.ClassOf(err).Transient() {
		return nil, err
	}
	if time.Duration(now-stale.unwrapped.Load()) >= k.cfg.MaxAge {
		return nil, err
	}
	return stale.key, nil
}

// install unwraps a version and puts it in the cache. If the cache already
// holds the same key, that entry is renewed instead, so callers holding it
// keep a live key. A definitive failure evicts the tenant.
func (k *Keyring) install(ctx context.Context, tenant string, version uint32) (*entry, error) {
	v, err := k.cfg.Store.Version(ctx, tenant, version)
	if err != nil {
		return nil, err
	}
	key, err := k.unwrap(ctx, v)
	if err != nil {
		if kms.ClassOf(err).Definitive() {
			k.Evict(tenant)
		}
		return nil, err
	}
	return k.insert(key, false), nil
}

// insert caches key, or renews the entry that already holds it.
func (k *Keyring) insert(key *envelope.TenantKey, current bool) *entry {
	e := k.newEntry(key, k.now())
	// Entries dropped for the size bound are not destroyed: a caller may be
	// sealing with one right now, and the garbage collector reclaims them.
	got, _ := k.cache.put(e, current)
	if got != e {
		key.Destroy()
	}
	return got
}

// unwrap tries the version's wrappings, this region's first, moving on to the
// next only when a provider fails transiently.
func (k *Keyring) unwrap(ctx context.Context, v *Version) (*envelope.TenantKey, error) {
	b := kms.Identity{Tenant: v.Tenant, Version: v.Version, Purpose: kms.PurposeTenantKey}
	var last error = &kms.Error{Class: kms.Misconfigured, Op: "unwrap", Err: errNoWrapping}
	for _, w := range k.ordered(v.Wrappings) {
		key, err := k.callUnwrap(ctx, &w, b)
		if err == nil {
			return key, nil
		}
		last = err
		if !kms.ClassOf(err).Transient() {
			break
		}
	}
	return nil, last
}

func (k *Keyring) callUnwrap(ctx context.Context, w *kms.Wrapped, b kms.Identity) (*envelope.TenantKey, error) {
	p, err := k.provider(w.Key)
	if err != nil {
		return nil, err
	}
	var key *envelope.TenantKey
	err = k.metered(ctx, b.Tenant, func() (err error) {
		key, err = p.Unwrap(ctx, w, b)
		return err
	})
	return key, err
}

// metered runs one provider call within the tenant's budget and counts it.
func (k *Keyring) metered(ctx context.Context, tenant string, fn func() error) error {
	m := k.meters.get(tenant)
	if err := k.meters.admit(ctx, tenant, m); err != nil {
		return err
	}
	m.calls.Add(1)
	err := fn()
	if err != nil {
		m.failed.Add(1)
	}
	return err
}

func (k *Keyring) ordered(ws []kms.Wrapped) []kms.Wrapped {
	out := make([]kms.Wrapped, 0, len(ws))
	for _, w := range ws {
		if w.Key.Region == k.cfg.Region {
			out = append(out, w)
		}
	}
	for _, w := range ws {
		if w.Key.Region != k.cfg.Region {
			out = append(out, w)
		}
	}
	return out
}

func (k *Keyring) provider(ref kms.KeyRef) (kms.Provider, error) {
	p, ok := k.cfg.Providers[ref.Provider]
	if !ok {
		return nil, &kms.Error{Class: kms.Misconfigured, Op: "provider", Key: ref.ID, Err: errNoProvider(ref.Provider)}
	}
	return p, nil
}

// refresh renews a key close to expiry in the background; the cached key
// serves meanwhile. For the tenant's current entry it also picks up a newer
// version made by another instance.
func (k *Keyring) refresh(e *entry) {
	defer e.refreshing.Store(false)
	t, v := e.key.Tenant(), e.key.Version()
	ctx, cancel := context.WithTimeout(context.Background(), k.cfg.CallTimeout)
	defer cancel()
	_, _ = k.flight.do(ctx, cacheKey{t, v}, k.cfg.CallTimeout, func(ctx context.Context) (*entry, error) {
		return k.install(ctx, t, v)
	})
	if k.cache.getCurrent(t) != e {
		return
	}
	if latest, err := k.cfg.Store.LatestVersion(ctx, t); err == nil && latest.Version > v {
		_, _ = k.load(ctx, t, 0, true, k.now())
	}
}

func (k *Keyring) newEntry(key *envelope.TenantKey, now int64) *entry {
	e := &entry{key: key, meter: k.meters.get(key.Tenant())}
	e.unwrapped.Store(now)
	e.lastUsed.Store(now)
	return e
}
