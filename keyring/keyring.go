// Package keyring manages tenant keys for a process: it creates tenant key
// versions wrapped under each tenant's key-encryption keys, unwraps them on
// demand through a [kms.Provider], and keeps the unwrapped keys in a bounded
// in-memory cache, so the customer's KMS is called a few times per tenant per
// cache window and never per record.
//
// # Cache
//
// An unwrapped key serves for [Config.TTL]. In the last [Config.RefreshWindow]
// of that time the first use starts one background unwrap while the cached key
// keeps serving, so a busy tenant never waits for KMS at expiry; at most one
// unwrap per tenant version is in flight however many callers ask. When the
// provider is unreachable or throttling, an expired key keeps serving up to
// [Config.MaxAge]; a definitive answer (disabled, denied, pending deletion, not
// found) evicts it at once. [Keyring.Evict] drops a tenant on revocation.
// The cache holds at most [Config.MaxEntries] keys and drops the least
// recently used (approximately: a sample, so hits never take a write lock).
//
// Keys dropped by Evict or by a definitive failure are destroyed with
// [envelope.TenantKey.Destroy]: their bytes are overwritten at once, and an
// operation using one at that moment fails (it is revoked). Keys dropped only
// to stay within MaxEntries may still be in use by a caller, so they are left
// to the garbage collector. Either way Go may have left copies (AES key
// schedules inside cipher values, stack copies), which only the garbage
// collector reclaims; nothing here guarantees erasure.
//
// # Budgets
//
// Each tenant's KMS calls pass through a token bucket ([Budget]); calls over
// budget wait up to MaxWait and then fail with kms_throttled, so one tenant's
// misses cannot spend the platform's KMS quota or starve other tenants.
// [Keyring.Stats] counts each tenant's calls, refusals, hits and misses.
//
// # Admission
//
// [Config.Admit] lets the control plane refuse a tenant before any of its
// keys is unwrapped, for example in a region that does not serve it yet.
//
// # Sealing
//
// [Keyring.Rewrap] and [Keyring.AddWrapping] move or add a tenant's
// wrappings in the store; [Keyring.WrapCopy] re-encrypts one version for a
// copy kept elsewhere (a backup vault's store).
//
// [Keyring.Seal] and [Keyring.Open] encrypt for a tenant with its newest key
// version in one call; the Keyring is also an [envelope.KeyLookup].
package keyring

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// Config configures a Keyring. Zero durations and sizes take the defaults.
type Config struct {
	// Providers serve key references by their Provider name.
	Providers map[string]kms.Provider
	// Store holds the wrapped tenant key versions.
	Store Store
	// Region is the region this process serves: wrappings for it are tried
	// first, others only when it fails transiently.
	Region string
	// TTL is how long an unwrapped key serves before it is unwrapped again;
	// it bounds how long a revocation can go unnoticed. Default 5 minutes.
	TTL time.Duration
	// RefreshWindow is the end part of TTL in which a use triggers a
	// background refresh. Default TTL/5.
	RefreshWindow time.Duration
	// MaxAge is how long after its last successful unwrap a key may still
	// serve while the provider fails transiently. Default TTL (no grace).
	MaxAge time.Duration
	// MaxEntries bounds the cache. Default 100,000.
	MaxEntries int
	// Budget limits each tenant's KMS calls. The zero value sets no limit.
	Budget Budget
	// CallTimeout bounds a background refresh. Default 30 seconds.
	CallTimeout time.Duration
	// Now is the clock, for tests; nil means the system's monotonic clock.
	Now func() time.Time
	// Admit, when set, is asked before a tenant's key is unwrapped on a cache
	// miss; its error refuses the operation (wrapped, so errors.As finds
	// it). The control plane uses it so that a region serves a tenant only
	// once its keys are wrapped there, and so that an offboarded tenant
	// fails with its own code. Keys already cached are not asked again.
	Admit func(ctx context.Context, tenant string) error
	// Evicted, when set, is called after Evict (a revocation, or a definitive
	// failure seen by an unwrap or probe), to broadcast it to the platform's
	// other instances, which call EvictLocal.
	Evicted func(tenant string)
}

func (c *Config) setDefaults() error {
	if len(c.Providers) == 0 || c.Store == nil {
		return errors.New("keyring: config needs providers and a store")
	}
	if c.TTL < 0 || c.RefreshWindow < 0 || c.MaxAge < 0 || c.MaxEntries < 0 || c.CallTimeout < 0 {
		return errors.New("keyring: durations and sizes must not be negative")
	}
	c.TTL = cmpOr(c.TTL, 5*time.Minute)
	c.RefreshWindow = cmpOr(c.RefreshWindow, c.TTL/5)
	c.MaxAge = max(cmpOr(c.MaxAge, c.TTL), c.TTL)
	c.MaxEntries = cmpOr(c.MaxEntries, 100_000)
	c.CallTimeout = cmpOr(c.CallTimeout, 30*time.Second)
	if c.RefreshWindow >= c.TTL {
		return errors.New("keyring: refresh window must be shorter than the TTL")
	}
	return c.Budget.validate()
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Keyring is safe for concurrent use.
type Keyring struct {
	cfg    Config
	clock  *coarseClock // cache times are nanoseconds since clock.base
	cache  *cache
	flight flights
	meters meters
}

var _ envelope.KeyLookup = (*Keyring)(nil)

// New returns a Keyring.
func New(cfg Config) (*Keyring, error) {
	if err := cfg.setDefaults(); err != nil {
		return nil, err
	}
	return &Keyring{
		cfg:    cfg,
		clock:  newCoarseClock(),
		cache:  newCache(cfg.MaxEntries),
		flight: flights{calls: map[cacheKey]*call{}},
		meters: meters{budget: cfg.Budget, byTen: map[string]*tenantMeter{}},
	}, nil
}

// now returns the cache clock: monotonic nanoseconds since the keyring was
// made, a few milliseconds coarse (see coarseClock).
func (k *Keyring) now() int64 {
	if k.cfg.Now != nil {
		return int64(k.cfg.Now().Sub(k.clock.base))
	}
	return k.clock.read()
}

func (k *Keyring) wallNow() time.Time {
	if k.cfg.Now != nil {
		return k.cfg.Now()
	}
	return time.Now()
}

// ErrWrongTenant is returned by Open for a ciphertext of another tenant.
var ErrWrongTenant = envelope.ErrWrongTenant

// TenantKey returns the unwrapped key of a tenant version, from the cache or
// through its provider. It makes the Keyring an envelope.KeyLookup.
func (k *Keyring) TenantKey(ctx context.Context, tenant string, version uint32) (*envelope.TenantKey, error) {
	now := k.now()
	if e := k.cache.get(tenant, version); e != nil {
		if key, ok := k.serve(e, now); ok {
			return key, nil
		}
	}
	return k.load(ctx, tenant, version, false, now)
}

// Current returns the tenant's newest key version, the one new data is
// sealed with.
func (k *Keyring) Current(ctx context.Context, tenant string) (*envelope.TenantKey, error) {
	now := k.now()
	if e := k.cache.getCurrent(tenant); e != nil {
		if key, ok := k.serve(e, now); ok {
			return key, nil
		}
	}
	return k.load(ctx, tenant, 0, true, now)
}

// serve returns a cached key that is still fresh, starting a background
// refresh when it is close to expiry.
func (k *Keyring) serve(e *entry, now int64) (*envelope.TenantKey, bool) {
	age := time.Duration(now - e.unwrapped.Load())
	if age >= k.cfg.TTL {
		return nil, false
	}
	if now-e.lastUsed.Load() > int64(time.Second) {
		e.lastUsed.Store(now)
	}
	e.meter.hits.Add(1)
	if age >= k.cfg.TTL-k.cfg.RefreshWindow && e.refreshing.CompareAndSwap(false, true) {
		go k.refresh(e)
	}
	return e.key, true
}

// Seal encrypts plaintext for tenant under its newest key version.
func (k *Keyring) Seal(ctx context.Context, tenant string, plaintext []byte, ec envelope.Context) ([]byte, error) {
	return k.AppendSeal(ctx, nil, tenant, plaintext, ec, nil)
}

// AppendSeal is Seal appending to dst, with record options.
func (k *Keyring) AppendSeal(ctx context.Context, dst []byte, tenant string, plaintext []byte, ec envelope.Context, opts *envelope.RecordOptions) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		key, err := k.Current(ctx, tenant)
		if err != nil {
			return nil, fmt.Errorf("keyring: seal for tenant %s: %w", tenant, err)
		}
		out, err := envelope.AppendSeal(dst, key, plaintext, ec, opts)
		if !errors.Is(err, envelope.ErrInvalidKey) {
			return out, err
		}
		// The key was evicted (and destroyed) while in use: fetch it again.
		if attempt == evictedRetries {
			return nil, fmt.Errorf("keyring: seal for tenant %s: %w", tenant, errEvicted)
		}
	}
}

// evictedRetries is how often an operation fetches a key again after it was
// evicted under it, before giving up.
const evictedRetries = 3

var errEvicted = errors.New("the tenant key was evicted while in use; the key may have been revoked")

// Open decrypts a record of tenant; a record of any other tenant fails with
// ErrWrongTenant before any key is fetched.
func (k *Keyring) Open(ctx context.Context, tenant string, ciphertext []byte, ec envelope.Context) ([]byte, error) {
	return k.AppendOpen(ctx, nil, tenant, ciphertext, ec)
}

// AppendOpen is Open appending the plaintext to dst.
func (k *Keyring) AppendOpen(ctx context.Context, dst []byte, tenant string, ciphertext []byte, ec envelope.Context) ([]byte, error) {
	for attempt := 1; ; attempt++ {
		pt, err := envelope.AppendOpen(ctx, dst, k.For(tenant), ciphertext, ec)
		if !errors.Is(err, envelope.ErrInvalidKey) {
			return pt, err
		}
		if attempt == evictedRetries {
			return nil, fmt.Errorf("keyring: open for tenant %s: %w", tenant, errEvicted)
		}
	}
}

// For returns a lookup that serves tenant only, for opening records and
// streams on behalf of one tenant. A version the tenant does not have fails
// with an error matching both envelope.ErrKeyVersionUnknown and ErrNoKey.
func (k *Keyring) For(tenant string) envelope.KeyLookup {
	return envelope.KeyLookupFunc(func(ctx context.Context, t string, v uint32) (*envelope.TenantKey, error) {
		if t != tenant {
			return nil, fmt.Errorf("keyring: ciphertext of tenant %s opened for tenant %s: %w", t, tenant, ErrWrongTenant)
		}
		key, err := k.TenantKey(ctx, t, v)
		if errors.Is(err, ErrNoKey) {
			// A ciphertext naming a version the tenant lacks is bad input,
			// reported as the envelope.KeyLookup contract asks.
			return nil, fmt.Errorf("keyring: %w: %w", envelope.ErrKeyVersionUnknown, err)
		}
		return key, err
	})
}

// Evict drops every cached key of tenant at once, for revocation.
//
// Config.Evicted, when set, is told, so other instances can evict too.
func (k *Keyring) Evict(tenant string) {
	k.EvictLocal(tenant)
	if k.cfg.Evicted != nil {
		k.cfg.Evicted(tenant)
	}
}

// EvictLocal is Evict without telling Config.Evicted: for an eviction that
// another instance announced.
func (k *Keyring) EvictLocal(tenant string) {
	for _, e := range k.cache.removeTenant(tenant) {
		e.key.Destroy()
	}
}

// Stats returns tenant's counters.
func (k *Keyring) Stats(tenant string) Stats {
	m := k.meters.get(tenant)
	return Stats{
		KMSCalls: m.calls.Load(), KMSFailed: m.failed.Load(), Refused: m.refused.Load(),
		CacheHits: m.hits.Load(), CacheMiss: m.misses.Load(), CachedKeys: k.cache.countTenant(tenant),
	}
}

// CachedKeys returns how many keys the cache holds.
func (k *Keyring) CachedKeys() int { return k.cache.len() }
