package monitor

import (
	"context"
	"log/slog"
	"time"

	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

// Defaults of [Config]. With them a revocation is honoured within
// [RevocationBound] = 30 s + 5 s + 1 s + 10 s = 46 s, under the 60 s the
// platform promises.
const (
	DefaultInterval        = 30 * time.Second
	DefaultJitter          = 5 * time.Second
	DefaultTick            = time.Second
	DefaultProbeTimeout    = 10 * time.Second
	DefaultRate            = 50 // probes per second, all tenants together
	DefaultConcurrency     = 32
	DefaultSuspendAfter    = 4 * time.Hour
	DefaultArchiveAfter    = 7 * 24 * time.Hour
	DefaultRestoreWindow   = 30 * 24 * time.Hour
	DefaultHealthHeartbeat = time.Hour
	DefaultRetention       = 30 * 24 * time.Hour
	DefaultListEvery       = 10 * time.Second
	// RevocationPromise is the bound the defaults are held to.
	RevocationPromise = 60 * time.Second
)

// Store is what the monitor needs of the database: tenants' states and
// their key health history.
type Store interface {
	tenant.Store
	ListTenants(ctx context.Context, opts store.ListOptions) (*store.TenantPage, error)
	UpdateTenantWithEvents(ctx context.Context, id string, wantRevision int64, mutate func(*tenant.Tenant) error, events []*store.OutboxEvent) (*tenant.Tenant, int, error)
	AddHealth(ctx context.Context, r *store.HealthRecord) error
	Health(ctx context.Context, tenant string, limit int) ([]*store.HealthRecord, error)
	PruneHistory(ctx context.Context, before time.Time) (int, error)
}

var _ Store = store.Store(nil)

// Config configures a Monitor. Zero durations and sizes take the defaults.
type Config struct {
	Store   Store
	Keyring *keyring.Keyring
	// Tenants, when set, is told of every state change the monitor
	// stores, so that the data path sees it at once.
	Tenants *tenant.Manager
	// Region is the hosting region this instance serves. Set, the monitor
	// probes only the tenants that region serves, through their wrappings
	// there (keyring.Keyring.ProbeRegion), and records what it sees as the
	// region's health (tenant.Region.Health); the tenant's state follows
	// what all its probed regions together allow. Empty, every tenant is
	// probed through any wrapping and judged as a whole.
	Region string
	// Providers, by provider name, answer Describe for the date of a
	// scheduled deletion. Optional: without them deletion_pending carries no
	// date and no dated warnings are sent.
	Providers map[string]kms.Provider

	// Interval is the time between two probes of one tenant's key.
	Interval time.Duration
	// Jitter is the most added at random to each Interval, so instances and
	// tenants do not fall into step. It may not exceed Interval.
	Jitter time.Duration
	// Tick is how often Run looks for probes that are due.
	Tick time.Duration
	// ProbeTimeout bounds one probe (its KMS call, retries included).
	ProbeTimeout time.Duration
	// Rate bounds probes per second across all tenants (a token bucket of
	// Burst, default Rate rounded up), to keep within the platform's KMS
	// request quota. Concurrency bounds probes in flight.
	Rate        float64
	Burst       int
	Concurrency int

	// SuspendAfter is how long a key stays unavailable before the tenant is
	// suspended; ArchiveAfter how long before a suspended tenant is
	// archived; RestoreWindow how long an archived tenant may be restored.
	// All count from the first failed probe of the outage.
	SuspendAfter  time.Duration
	ArchiveAfter  time.Duration
	RestoreWindow time.Duration
	// DeletionWarnings are the times before a scheduled key deletion at
	// which a warning is sent, longest first; see [DeletionWarnings]. Nil
	// means the platform defaults (7 days, 1 day); empty sends none.
	DeletionWarnings []time.Duration

	// HealthHeartbeat is how often an unchanged probe outcome is written to
	// the health history (changes are always written); Retention how long
	// history is kept; ListEvery how often the tenant list is reread.
	HealthHeartbeat time.Duration
	Retention       time.Duration
	ListEvery       time.Duration

	// Notifier receives every event; nil sends none. It must return
	// promptly.
	Notifier Notifier
	// Leader reports whether this instance should probe now; nil means
	// always. With many instances, plug a lock in here so one leads.
	Leader func(ctx context.Context) bool
	// Now is the clock, for tests; nil means time.Now.
	Now func() time.Time
	// Logger receives state changes and failures; nil means slog.Default().
	Logger *slog.Logger
}

// DeletionWarnings converts the platform policy's warning thresholds.
func DeletionWarnings(p *platform.Policy) []time.Duration {
	ds := make([]time.Duration, len(p.DeletionWarnings))
	for i, d := range p.DeletionWarnings {
		ds[i] = time.Duration(d)
	}
	return ds
}

// RevocationBound is the longest time, under cfg, from the customer
// revoking the key to the cache eviction that makes the next data
// operation fail: the wait for the next probe (Interval + Jitter), the
// loop noticing it is due (Tick), and the probe itself (ProbeTimeout). It
// assumes the probe rate and concurrency keep up with the tenants (see
// docs/operations.md) and that KMS answers: while KMS cannot be reached a
// revocation cannot be seen, and cached keys serve up to the keyring's
// MaxAge.
func RevocationBound(cfg Config) time.Duration {
	cfg.defaults()
	return cfg.Interval + cfg.Jitter + cfg.Tick + cfg.ProbeTimeout
}

func (c *Config) defaults() {
	def := func(d *time.Duration, v time.Duration) {
		if *d == 0 {
			*d = v
		}
	}
	def(&c.Interval, DefaultInterval)
	def(&c.Jitter, min(DefaultJitter, c.Interval))
	def(&c.Tick, DefaultTick)
	def(&c.ProbeTimeout, DefaultProbeTimeout)
	def(&c.SuspendAfter, DefaultSuspendAfter)
	def(&c.ArchiveAfter, DefaultArchiveAfter)
	def(&c.RestoreWindow, DefaultRestoreWindow)
	def(&c.HealthHeartbeat, DefaultHealthHeartbeat)
	def(&c.Retention, DefaultRetention)
	def(&c.ListEvery, DefaultListEvery)
	c.defaultCounts()
}

func (c *Config) defaultCounts() {
	if c.Rate == 0 {
		c.Rate = DefaultRate
	}
	if c.Burst == 0 {
		c.Burst = max(1, int(c.Rate+0.999))
	}
	if c.Concurrency == 0 {
		c.Concurrency = DefaultConcurrency
	}
	if c.DeletionWarnings == nil {
		c.DeletionWarnings = DeletionWarnings(&platform.Default().Policy)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
}

// check validates a defaulted configuration.
func (c *Config) check() error {
	bad := func(format string, args ...any) error { return errorf(ErrInvalidConfig, nil, format, args...) }
	switch {
	case c.Store == nil || c.Keyring == nil:
		return bad("a store and a keyring are required")
	case c.Interval < 0 || c.Jitter < 0 || c.Tick < 0 || c.ProbeTimeout < 0:
		return bad("durations must not be negative")
	case c.Jitter > c.Interval:
		return bad("jitter %s exceeds the interval %s", c.Jitter, c.Interval)
	case c.Tick > c.Interval:
		return bad("tick %s exceeds the interval %s", c.Tick, c.Interval)
	case c.Rate < 0 || c.Burst < 0 || c.Concurrency < 0:
		return bad("rate, burst and concurrency must not be negative")
	case c.SuspendAfter < 0 || c.ArchiveAfter < c.SuspendAfter || c.RestoreWindow < 0:
		return bad("suspension must come before archiving and no timer may be negative")
	case c.HealthHeartbeat < 0 || c.Retention < 0 || c.ListEvery < 0:
		return bad("history and listing durations must not be negative")
	}
	return checkWarnings(c.DeletionWarnings)
}

func checkWarnings(ds []time.Duration) error {
	for i, d := range ds {
		if d <= 0 || i > 0 && d >= ds[i-1] {
			return errorf(ErrInvalidConfig, nil, "deletion warnings must be positive and listed longest first")
		}
	}
	return nil
}
