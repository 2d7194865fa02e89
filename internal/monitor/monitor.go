package monitor

import (
	"context"
	"errors"
	"hash/fnv"
	"math/rand/v2"
	"sort"
	"sync"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

// Monitor probes tenants' keys and applies the tenant state machine. It is
// safe for concurrent use.
type Monitor struct {
	cfg     Config
	machine machine
	sem     chan struct{}
	wg      sync.WaitGroup

	mu        sync.Mutex
	tenants   map[string]*entry
	bucket    bucket
	nextList  time.Time
	nextPrune time.Time
	stats     Stats
}

// entry is the scheduler's view of one probed tenant.
type entry struct {
	due      time.Time
	inflight bool
	// regional: probe the tenant in Config.Region only (see scope).
	regional bool
	// The last health record written, to write only changes and heartbeats.
	lastOutcome store.Outcome
	lastCode    string
	lastWritten time.Time
}

// Stats are the monitor's counters since it started.
type Stats struct {
	Passes    uint64 // scheduling passes run
	Probes    uint64 // probes started
	Deferred  uint64 // due probes left for a later pass by the rate limit or concurrency
	Changes   uint64 // state changes and archivals stored
	Conflicts uint64 // compare-and-swap conflicts retried
	Tenants   int    // tenants scheduled
}

// monitored are the states whose keys are probed.
var monitored = []tenant.State{tenant.StateActive, tenant.StateKeyUnavailable, tenant.StateSuspended, tenant.StateDeletionPending}

func isMonitored(s tenant.State) bool {
	for _, m := range monitored {
		if s == m {
			return true
		}
	}
	return false
}

// New returns a Monitor; Run starts it.
func New(cfg Config) (*Monitor, error) {
	cfg.defaults()
	if err := cfg.check(); err != nil {
		return nil, err
	}
	m := &Monitor{cfg: cfg, sem: make(chan struct{}, cfg.Concurrency), tenants: map[string]*entry{},
		machine: machine{suspendAfter: cfg.SuspendAfter, archiveAfter: cfg.ArchiveAfter,
			restoreWindow: cfg.RestoreWindow, warnings: cfg.DeletionWarnings}}
	m.bucket = bucket{rate: cfg.Rate, burst: float64(cfg.Burst), tokens: float64(cfg.Burst)}
	return m, nil
}

// Run probes until ctx is cancelled, then waits for the probes in flight.
// Each Tick it starts the probes that are due, as the rate limit and
// concurrency allow, without waiting for them.
func (m *Monitor) Run(ctx context.Context) error {
	t := time.NewTicker(m.cfg.Tick)
	defer t.Stop()
	defer m.wg.Wait()
	for {
		m.pass(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
	}
}

// RunOnce runs one pass at the clock's time and waits for the probes it
// started. Run is RunOnce each Tick without the wait.
func (m *Monitor) RunOnce(ctx context.Context) {
	m.pass(ctx)
	m.wg.Wait()
}

// Stats returns the monitor's counters.
func (m *Monitor) Stats() Stats {
	m.mu.Lock()
	defer m.mu.Unlock()
	s := m.stats
	s.Tenants = len(m.tenants)
	return s
}

func (m *Monitor) pass(ctx context.Context) {
	if ctx.Err() != nil || m.cfg.Leader != nil && !m.cfg.Leader(ctx) {
		return
	}
	now := m.cfg.Now()
	m.refresh(ctx, now)
	m.prune(ctx, now)
	m.mu.Lock()
	defer m.mu.Unlock()
	m.stats.Passes++
	for _, id := range m.due(now) {
		if !m.start(ctx, id, now) {
			m.stats.Deferred++
		}
	}
}

// due lists the tenants whose probe is due, most overdue first.
func (m *Monitor) due(now time.Time) []string {
	var ids []string
	for id, e := range m.tenants {
		if !e.inflight && !now.Before(e.due) {
			ids = append(ids, id)
		}
	}
	sort.Slice(ids, func(i, j int) bool {
		a, b := m.tenants[ids[i]], m.tenants[ids[j]]
		return a.due.Before(b.due) || a.due.Equal(b.due) && ids[i] < ids[j]
	})
	return ids
}

// start launches one probe if the rate limit and concurrency allow.
// Called with m.mu held.
func (m *Monitor) start(ctx context.Context, id string, now time.Time) bool {
	if !m.bucket.allow(now) {
		return false
	}
	select {
	case m.sem <- struct{}{}:
	default:
		m.bucket.refund()
		return false
	}
	e := m.tenants[id]
	e.inflight = true
	regional := e.regional
	e.due = now.Add(m.cfg.Interval + m.jitter())
	m.stats.Probes++
	m.wg.Add(1)
	go func() {
		defer m.wg.Done()
		defer func() { <-m.sem }()
		m.probe(ctx, id, regional)
		m.mu.Lock()
		e.inflight = false
		m.mu.Unlock()
	}()
	return true
}

func (m *Monitor) jitter() time.Duration {
	if m.cfg.Jitter <= 0 {
		return 0
	}
	return rand.N(m.cfg.Jitter + 1)
}

// offset spreads tenants over the interval: a tenant's first probe comes at
// a point of the interval fixed by its id, so a restart does not probe
// every tenant at once.
func (m *Monitor) offset(id string) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(id))
	return time.Duration(h.Sum64() % uint64(m.cfg.Interval))
}

// refresh rereads the monitored tenants every ListEvery: new ones are
// scheduled, ones that left the monitored states (or were archived) are
// dropped.
func (m *Monitor) refresh(ctx context.Context, now time.Time) {
	m.mu.Lock()
	if now.Before(m.nextList) {
		m.mu.Unlock()
		return
	}
	m.nextList = now.Add(m.cfg.ListEvery)
	m.mu.Unlock()
	ids, err := m.listProbed(ctx)
	if err != nil {
		m.cfg.Logger.ErrorContext(ctx, "monitor: listing tenants", "err", err)
		return
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	for id := range m.tenants {
		if _, ok := ids[id]; !ok && !m.tenants[id].inflight {
			delete(m.tenants, id)
		}
	}
	for id, regional := range ids {
		if m.tenants[id] == nil {
			m.tenants[id] = &entry{due: now.Add(m.offset(id))}
		}
		m.tenants[id].regional = regional
	}
}

// listProbed returns the tenants in monitored states that are not archived
// and that this instance probes (see scope), each with whether regionally.
func (m *Monitor) listProbed(ctx context.Context) (map[string]bool, error) {
	ids := map[string]bool{}
	for _, st := range monitored {
		for cursor := ""; ; {
			page, err := m.cfg.Store.ListTenants(ctx, store.ListOptions{State: st, Cursor: cursor, Limit: store.MaxPageSize})
			if err != nil {
				return nil, err
			}
			for _, t := range page.Tenants {
				if probe, regional := m.scope(t); probe && t.Outage.ArchivedAt.IsZero() {
					ids[t.ID] = regional
				}
			}
			if cursor = page.Next; cursor == "" {
				break
			}
		}
	}
	return ids, nil
}

// prune drops history past the retention, at most hourly.
func (m *Monitor) prune(ctx context.Context, now time.Time) {
	m.mu.Lock()
	if now.Before(m.nextPrune) {
		m.mu.Unlock()
		return
	}
	m.nextPrune = now.Add(time.Hour)
	m.mu.Unlock()
	if _, err := m.cfg.Store.PruneHistory(ctx, now.Add(-m.cfg.Retention)); err != nil {
		m.cfg.Logger.ErrorContext(ctx, "monitor: pruning history", "err", err)
	}
}

// bucket is a token bucket on the monitor's clock. It never sleeps: a probe
// without a token waits for a later pass.
type bucket struct {
	rate, burst, tokens float64
	last                time.Time
}

func (b *bucket) allow(now time.Time) bool {
	if !b.last.IsZero() && now.After(b.last) {
		b.tokens = min(b.burst, b.tokens+now.Sub(b.last).Seconds()*b.rate)
	}
	if b.last.IsZero() || now.After(b.last) {
		b.last = now
	}
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}

func (b *bucket) refund() { b.tokens = min(b.burst, b.tokens+1) }

// errConflicts means the tenant kept changing under the monitor.
var errConflicts = errors.New("monitor: tenant kept changing; gave up after retries")
