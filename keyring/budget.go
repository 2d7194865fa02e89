package keyring

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"golang.org/x/time/rate"

	"github.com/byok-dev/byok/kms"
)

// Budget limits one tenant's KMS calls: AWS throttles the calling account,
// so without it one tenant's cache misses could spend the platform's quota.
type Budget struct {
	// Rate is the sustained calls per second allowed per tenant; 0 means no
	// limit.
	Rate float64
	// Burst is how many calls may be made at once; at least 1 when Rate is set.
	Burst int
	// MaxWait is how long a call over budget waits for its turn before it
	// fails with kms_throttled. 0 fails at once.
	MaxWait time.Duration
}

func (b Budget) validate() error {
	if b.Rate < 0 || b.Burst < 0 || b.MaxWait < 0 {
		return fmt.Errorf("keyring: budget fields must not be negative")
	}
	if b.Rate > 0 && b.Burst == 0 {
		return fmt.Errorf("keyring: budget burst must be at least 1 when a rate is set")
	}
	return nil
}

// tenantMeter is one tenant's budget and call counts.
type tenantMeter struct {
	limiter *rate.Limiter
	calls   atomic.Uint64
	failed  atomic.Uint64
	refused atomic.Uint64
	hits    atomic.Uint64
	misses  atomic.Uint64
}

type meters struct {
	budget Budget
	mu     sync.Mutex
	byTen  map[string]*tenantMeter
}

func (m *meters) get(tenant string) *tenantMeter {
	m.mu.Lock()
	defer m.mu.Unlock()
	tm, ok := m.byTen[tenant]
	if !ok {
		tm = &tenantMeter{}
		if m.budget.Rate > 0 {
			tm.limiter = rate.NewLimiter(rate.Limit(m.budget.Rate), m.budget.Burst)
		}
		m.byTen[tenant] = tm
	}
	return tm
}

// admit waits for the tenant's turn, up to MaxWait and the context's
// deadline, or refuses with a Throttled error.
func (m *meters) admit(ctx context.Context, tenant string, tm *tenantMeter) error {
	if tm.limiter == nil {
		return nil
	}
	r := tm.limiter.Reserve()
	delay := r.Delay()
	if delay == 0 {
		return nil
	}
	if delay > m.budget.MaxWait {
		r.Cancel()
		tm.refused.Add(1)
		return &kms.Error{Class: kms.Throttled, Op: "budget", Err: fmt.Errorf("tenant %s is over its KMS call budget (%.3g calls/s)", tenant, m.budget.Rate)}
	}
	t := time.NewTimer(delay)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		r.Cancel()
		return ctx.Err()
	}
}

// Stats are one tenant's counters since the keyring started.
type Stats struct {
	KMSCalls   uint64 // calls made to a provider
	KMSFailed  uint64 // of which failed
	Refused    uint64 // calls refused by the tenant's budget
	CacheHits  uint64
	CacheMiss  uint64
	CachedKeys int
}
