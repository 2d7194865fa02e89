package keyring

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/byok-dev/byok/kms"
)

// Version is one tenant key version as stored: never the key itself, only its
// wrappings, one per region or key-encryption key.
type Version struct {
	Tenant    string
	Version   uint32
	Wrappings []kms.Wrapped
	Created   time.Time
}

// Store persists tenant key versions. The server's SQL stores implement it;
// [MemStore] serves tests and in-process use.
type Store interface {
	// LatestVersion returns the tenant's newest version, or ErrNoKey.
	LatestVersion(ctx context.Context, tenant string) (*Version, error)
	// Version returns one version, or ErrNoKey.
	Version(ctx context.Context, tenant string, version uint32) (*Version, error)
	// Versions returns every version of the tenant, oldest first.
	Versions(ctx context.Context, tenant string) ([]*Version, error)
	// AddVersion stores a new version; it fails with ErrVersionExists if the
	// tenant already has that version number, so two instances creating
	// versions at once cannot overwrite each other.
	AddVersion(ctx context.Context, v *Version) error
	// SetWrappings replaces a version's wrappings (after a rewrap).
	SetWrappings(ctx context.Context, tenant string, version uint32, ws []kms.Wrapped) error
}

// Store errors.
var (
	ErrNoKey         = errors.New("keyring: tenant has no key version")
	ErrVersionExists = errors.New("keyring: key version already exists")
)

// MemStore is a Store in memory.
type MemStore struct {
	mu      sync.Mutex
	tenants map[string][]*Version
}

var _ Store = (*MemStore)(nil)

// NewMemStore returns an empty MemStore.
func NewMemStore() *MemStore { return &MemStore{tenants: map[string][]*Version{}} }

func cloneVersion(v *Version) *Version {
	c := *v
	c.Wrappings = slices.Clone(v.Wrappings)
	return &c
}

// LatestVersion implements Store.
func (m *MemStore) LatestVersion(_ context.Context, tenant string) (*Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	vs := m.tenants[tenant]
	if len(vs) == 0 {
		return nil, ErrNoKey
	}
	return cloneVersion(vs[len(vs)-1]), nil
}

// Version implements Store.
func (m *MemStore) Version(_ context.Context, tenant string, version uint32) (*Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.tenants[tenant] {
		if v.Version == version {
			return cloneVersion(v), nil
		}
	}
	return nil, ErrNoKey
}

// Versions implements Store.
func (m *MemStore) Versions(_ context.Context, tenant string) ([]*Version, error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	var out []*Version
	for _, v := range m.tenants[tenant] {
		out = append(out, cloneVersion(v))
	}
	return out, nil
}

// AddVersion implements Store.
func (m *MemStore) AddVersion(_ context.Context, v *Version) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, have := range m.tenants[v.Tenant] {
		if have.Version == v.Version {
			return fmt.Errorf("%w: %s version %d", ErrVersionExists, v.Tenant, v.Version)
		}
	}
	vs := append(m.tenants[v.Tenant], cloneVersion(v))
	slices.SortFunc(vs, func(a, b *Version) int { return int(a.Version) - int(b.Version) })
	m.tenants[v.Tenant] = vs
	return nil
}

// SetWrappings implements Store.
func (m *MemStore) SetWrappings(_ context.Context, tenant string, version uint32, ws []kms.Wrapped) error {
	m.mu.Lock()
	defer m.mu.Unlock()
	for _, v := range m.tenants[tenant] {
		if v.Version == version {
			v.Wrappings = slices.Clone(ws)
			return nil
		}
	}
	return ErrNoKey
}
