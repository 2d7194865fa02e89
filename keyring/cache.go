package keyring

import (
	"hash/maphash"
	"sync"
	"sync/atomic"

	"github.com/byok-dev/byok/envelope"
)

type cacheKey struct {
	tenant  string
	version uint32
}

// entry is one unwrapped tenant key version.
type entry struct {
	key        *envelope.TenantKey
	meter      *tenantMeter
	unwrapped  atomic.Int64 // unix nanoseconds of the last successful unwrap
	lastUsed   atomic.Int64 // unix nanoseconds, kept to about a second
	refreshing atomic.Bool
}

const shardCount = 16

// evictionSample is how many entries eviction looks at to find an old one:
// an approximate LRU, so that a hit never takes a write lock.
const evictionSample = 8

type shard struct {
	mu      sync.RWMutex
	keys    map[cacheKey]*entry
	current map[string]*entry // the tenant's newest version
}

// cache is sharded by tenant, so one tenant's versions share a shard and
// evicting a tenant touches one lock.
type cache struct {
	seed     maphash.Seed
	shards   [shardCount]shard
	perShard int
}

func newCache(maxEntries int) *cache {
	c := &cache{seed: maphash.MakeSeed(), perShard: max(1, (maxEntries+shardCount-1)/shardCount)}
	for i := range c.shards {
		c.shards[i].keys = map[cacheKey]*entry{}
		c.shards[i].current = map[string]*entry{}
	}
	return c
}

func (c *cache) shard(tenant string) *shard {
	return &c.shards[maphash.String(c.seed, tenant)%shardCount]
}

func (c *cache) get(tenant string, version uint32) *entry {
	s := c.shard(tenant)
	s.mu.RLock()
	e := s.keys[cacheKey{tenant, version}]
	s.mu.RUnlock()
	return e
}

func (c *cache) getCurrent(tenant string) *entry {
	s := c.shard(tenant)
	s.mu.RLock()
	e := s.current[tenant]
	s.mu.RUnlock()
	return e
}

// put stores e unless the cache already holds its tenant version, in which
// case that entry is renewed and returned instead (a version's material never
// changes, and callers may be using the cached key). It also makes the entry
// current when asked, and returns the entries it evicted to stay within the
// bound; the caller destroys those and, when the returned entry is not e, e's
// key.
func (c *cache) put(e *entry, current bool) (*entry, []*entry) {
	t, v := e.key.Tenant(), e.key.Version()
	s := c.shard(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if old, ok := s.keys[cacheKey{t, v}]; ok {
		old.unwrapped.Store(max(old.unwrapped.Load(), e.unwrapped.Load()))
		e = old
	}
	s.keys[cacheKey{t, v}] = e
	if cur := s.current[t]; current || cur == nil || cur.key.Version() < v {
		if current || cur != nil {
			s.current[t] = e
		}
	}
	var evicted []*entry
	for len(s.keys) > c.perShard {
		evicted = append(evicted, s.evictOne(e))
	}
	return e, evicted
}

// evictOne removes the least recently used of a few entries, never keep.
func (s *shard) evictOne(keep *entry) *entry {
	var victim *entry
	var victimKey cacheKey
	n := 0
	for k, e := range s.keys { // map order is random: a sample
		if e == keep {
			continue
		}
		if victim == nil || e.lastUsed.Load() < victim.lastUsed.Load() {
			victim, victimKey = e, k
		}
		if n++; n == evictionSample {
			break
		}
	}
	s.remove(victimKey, victim)
	return victim
}

func (s *shard) remove(k cacheKey, e *entry) {
	if s.keys[k] == e {
		delete(s.keys, k)
	}
	if s.current[k.tenant] == e {
		delete(s.current, k.tenant)
	}
}

// removeTenant drops every version of tenant and returns them.
func (c *cache) removeTenant(tenant string) []*entry {
	s := c.shard(tenant)
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []*entry
	for k, e := range s.keys {
		if k.tenant == tenant {
			out = append(out, e)
			delete(s.keys, k)
		}
	}
	delete(s.current, tenant)
	return out
}

func (c *cache) countTenant(tenant string) int {
	s := c.shard(tenant)
	s.mu.RLock()
	defer s.mu.RUnlock()
	n := 0
	for k := range s.keys {
		if k.tenant == tenant {
			n++
		}
	}
	return n
}

func (c *cache) len() int {
	n := 0
	for i := range c.shards {
		s := &c.shards[i]
		s.mu.RLock()
		n += len(s.keys)
		s.mu.RUnlock()
	}
	return n
}

// setCurrent makes e its tenant's current entry unless a newer version is
// already current, or e was evicted meanwhile (its key is destroyed).
func (c *cache) setCurrent(e *entry) {
	t := e.key.Tenant()
	s := c.shard(t)
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.keys[cacheKey{t, e.key.Version()}] != e {
		return
	}
	if cur := s.current[t]; cur == nil || cur.key.Version() <= e.key.Version() {
		s.current[t] = e
	}
}
