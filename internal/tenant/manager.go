package tenant

import (
	"context"
	"errors"
	"sync"
	"time"
)

// Store is what a Manager needs of the database.
type Store interface {
	// GetTenant returns one tenant.
	GetTenant(ctx context.Context, id string) (*Tenant, error)
	// UpdateTenant applies mutate to a copy of the tenant and stores it if
	// the stored revision is still wantRevision; otherwise it fails with an
	// error matching ErrStale and writes nothing.
	UpdateTenant(ctx context.Context, id string, wantRevision int64, mutate func(*Tenant) error) (*Tenant, error)
}

// ErrStale matches a store's refusal of an update made against a revision
// another writer has replaced meanwhile.
var ErrStale = errors.New("the tenant changed meanwhile")

// DefaultCacheTTL is how long [Manager.Cached] trusts a tenant it read.
// A change made by this process is seen at once; one made by another
// instance within the TTL.
const DefaultCacheTTL = 250 * time.Millisecond

// staleRetries bounds how often Update re-reads a tenant another writer
// changed meanwhile.
const staleRetries = 5

// Manager owns tenants: every change goes through [Manager.Update], and the
// data path reads through [Manager.Cached]. It is safe for concurrent use.
type Manager struct {
	store Store
	ttl   time.Duration
	now   func() time.Time
	cache sync.Map // id -> cached
}

type cached struct {
	t     *Tenant
	until time.Time
}

// NewManager returns a Manager over st; ttl 0 means DefaultCacheTTL, a
// negative ttl caches nothing.
func NewManager(st Store, ttl time.Duration) *Manager {
	if ttl == 0 {
		ttl = DefaultCacheTTL
	}
	return &Manager{store: st, ttl: ttl, now: time.Now}
}

// Get reads the tenant from the store.
func (m *Manager) Get(ctx context.Context, id string) (*Tenant, error) {
	t, err := m.store.GetTenant(ctx, id)
	if err != nil {
		return nil, err
	}
	m.remember(t)
	return t, nil
}

// Cached returns the tenant as read at most the cache TTL ago, for the
// data path, which would otherwise query the database on every record. The
// tenant returned is shared: it must not be modified. Failures are not
// cached.
func (m *Manager) Cached(ctx context.Context, id string) (*Tenant, error) {
	if v, ok := m.cache.Load(id); ok && m.now().Before(v.(cached).until) {
		return v.(cached).t, nil
	}
	return m.Get(ctx, id)
}

// Update applies mutate to the newest stored tenant by compare-and-swap,
// re-reading it when another writer got there first; mutate sees the
// newest state each time, so it must check its own preconditions. An error
// from mutate is returned as is.
func (m *Manager) Update(ctx context.Context, id string, mutate func(*Tenant) error) (*Tenant, error) {
	for attempt := 1; ; attempt++ {
		t, err := m.store.GetTenant(ctx, id)
		if err != nil {
			return nil, err
		}
		got, err := m.store.UpdateTenant(ctx, id, t.Revision, mutate)
		if errors.Is(err, ErrStale) && attempt < staleRetries {
			continue
		}
		if err != nil {
			m.Forget(id)
			return nil, err
		}
		m.remember(got)
		return got, nil
	}
}

// Forget drops the tenant from the cache.
func (m *Manager) Forget(id string) { m.cache.Delete(id) }

// Observe records a tenant just stored by a writer that changed it
// without Update, such as the key health monitor, whose state changes are
// stored together with their webhook events.
func (m *Manager) Observe(t *Tenant) { m.remember(t) }

// remember caches t unless a newer revision is cached already: a read
// that raced with a write must not replace what the write stored.
func (m *Manager) remember(t *Tenant) {
	if m.ttl <= 0 {
		return
	}
	next := cached{t: t, until: m.now().Add(m.ttl)}
	for {
		v, loaded := m.cache.LoadOrStore(t.ID, next)
		if !loaded || v.(cached).t.Revision > t.Revision || m.cache.CompareAndSwap(t.ID, v, next) {
			return
		}
	}
}
