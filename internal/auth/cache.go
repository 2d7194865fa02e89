package auth

import (
	"context"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

// DefaultCacheTTL is how long a verified token is trusted without reading
// the store again. It is the worst-case delay before a token revoked on
// another instance stops working there when the revocation broadcast is lost
// (see [Tokens.OnRevoke]); a revocation through this instance, or one whose
// broadcast arrives, takes effect at once.
const DefaultCacheTTL = 3 * time.Second

// maxCached bounds the cache. Only tokens whose secret matched get in, so
// its size is bounded by the live tokens anyway; the bound keeps a platform
// with very many tokens from holding them all.
const maxCached = 10000

// cachedToken is a token whose secret matched and whose state admitted it.
// It keeps the hash, not the secret: a hit still hashes the presented
// secret and compares in constant time.
type cachedToken struct {
	hash      []byte
	principal Principal
	expires   time.Time // the token's own expiry
	until     time.Time // when the entry must be read from the store again
	// lastUsed is the last-used time written to the store, in Unix
	// nanoseconds, so hits keep the LastUsedInterval bookkeeping.
	lastUsed atomic.Int64
}

// tokenCache maps token ids to verified tokens.
type tokenCache struct {
	mu sync.RWMutex
	m  map[string]*cachedToken
}

func (c *tokenCache) get(id string, now time.Time) *cachedToken {
	c.mu.RLock()
	e := c.m[id]
	c.mu.RUnlock()
	if e == nil || !now.Before(e.until) {
		return nil
	}
	return e
}

func (c *tokenCache) put(id string, e *cachedToken, now time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[string]*cachedToken{}
	}
	if len(c.m) >= maxCached {
		c.sweep(now)
	}
	if len(c.m) < maxCached {
		c.m[id] = e
	}
}

// sweep drops expired entries; c.mu is held.
func (c *tokenCache) sweep(now time.Time) {
	for id, e := range c.m {
		if !now.Before(e.until) {
			delete(c.m, id)
		}
	}
}

func (c *tokenCache) forget(id string) {
	c.mu.Lock()
	delete(c.m, id)
	c.mu.Unlock()
}

// newCached makes the cache entry of an admitted token record.
func newCached(rec *store.Token, p *Principal, until time.Time, lastUsed time.Time) *cachedToken {
	e := &cachedToken{hash: rec.Hash, principal: *p, expires: rec.ExpiresAt, until: until}
	e.lastUsed.Store(lastUsed.UnixNano())
	return e
}

// Forget drops the token with the given id from this instance's cache, so
// that its next use reads the store. Subscribe it to other instances'
// revocations (see [Tokens.OnRevoke]).
func (t *Tokens) Forget(id string) { t.cache.forget(id) }

// OnRevoke sets fn to be called with the id of every token revoked through
// t, after the store has recorded the revocation, so that it can be
// broadcast to other instances, which call [Tokens.Forget]. Set it before
// t is used.
func (t *Tokens) OnRevoke(fn func(id string)) { t.revoked = fn }

// SetCacheTTL changes how long verified tokens are cached (default
// [DefaultCacheTTL]); 0 turns the cache off. Set it before t is used.
func (t *Tokens) SetCacheTTL(d time.Duration) { t.cacheTTL = d }

// authenticateCached answers from the cache when id is there: the secret is
// checked against the cached hash in constant time and the token's expiry
// against the clock. ok is false on a miss.
func (t *Tokens) authenticateCached(ctx context.Context, id string, sum []byte) (p *Principal, ok bool, err error) {
	now := t.clock()
	e := t.cache.get(id, now)
	if e == nil {
		return nil, false, nil
	}
	if !t.equal(sum, e.hash) {
		return nil, true, errUnknownToken
	}
	if !now.Before(e.expires) {
		t.cache.forget(id)
		return nil, false, nil // the store path says why
	}
	t.touchIfDue(ctx, e, id, now)
	cp := e.principal
	return &cp, true, nil
}

// touchIfDue keeps last-used within LastUsedInterval on cache hits; one
// caller wins the swap and writes.
func (t *Tokens) touchIfDue(ctx context.Context, e *cachedToken, id string, now time.Time) {
	last := e.lastUsed.Load()
	if now.Sub(time.Unix(0, last)) < LastUsedInterval || !e.lastUsed.CompareAndSwap(last, now.UnixNano()) {
		return
	}
	// As in admit: bookkeeping, retried after the next interval.
	_ = t.store.TouchToken(ctx, id, now)
}
