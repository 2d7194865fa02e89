package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"math"
	"strconv"
	"time"

	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/cluster"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/keyring"
)

// monitorConfig is byok.yaml's monitor section; zero values take the
// monitor's defaults (a probe every 30 s per tenant, up to 5 s of jitter;
// suspension after 4 h of outage, archival after 7 days, restores for 30
// days after archival).
type monitorConfig struct {
	Interval      time.Duration `yaml:"interval"`
	Jitter        time.Duration `yaml:"jitter"`
	ProbeTimeout  time.Duration `yaml:"probe_timeout"`
	SuspendAfter  time.Duration `yaml:"suspend_after"`
	ArchiveAfter  time.Duration `yaml:"archive_after"`
	RestoreWindow time.Duration `yaml:"restore_window"`
	// Rate bounds probes per second across all tenants, Concurrency the
	// probes in flight: the platform's KMS quota is shared with the data path.
	Rate        float64 `yaml:"rate"`
	Concurrency int     `yaml:"concurrency"`
}

// check names the field and the fix of the first problem; the monitor
// checks the same rules, but only by its own names.
func (m monitorConfig) check() error {
	for _, f := range []struct {
		name string
		d    time.Duration
	}{{"interval", m.Interval}, {"jitter", m.Jitter}, {"probe_timeout", m.ProbeTimeout},
		{"suspend_after", m.SuspendAfter}, {"archive_after", m.ArchiveAfter}, {"restore_window", m.RestoreWindow}} {
		if f.d < 0 {
			return configErr("monitor."+f.name, fmt.Sprintf("%s is negative", f.d), "give a positive Go duration such as 30s or 4h, or leave it out for the default")
		}
	}
	interval := cmp.Or(m.Interval, monitor.DefaultInterval)
	suspend := cmp.Or(m.SuspendAfter, monitor.DefaultSuspendAfter)
	archive := cmp.Or(m.ArchiveAfter, monitor.DefaultArchiveAfter)
	switch {
	case m.Jitter > interval:
		return configErr("monitor.jitter", fmt.Sprintf("%s exceeds monitor.interval (%s)", m.Jitter, interval), "set a jitter no longer than the interval")
	case m.Interval != 0 && m.Interval < time.Second:
		return configErr("monitor.interval", fmt.Sprintf("%s is shorter than the monitor's 1s tick", m.Interval), "set at least 1s")
	case m.Rate < 0 || math.IsNaN(m.Rate) || math.IsInf(m.Rate, 0):
		return configErr("monitor.rate", fmt.Sprintf("%v is not a rate", m.Rate), "give the most probes per second across all tenants, e.g. 50, or leave it out for 50")
	case m.Concurrency < 0:
		return configErr("monitor.concurrency", fmt.Sprintf("%d is negative", m.Concurrency), "give the most probes in flight, e.g. 32, or leave it out for 32")
	case archive < suspend:
		return configErr("monitor.archive_after", fmt.Sprintf("%s is shorter than monitor.suspend_after (%s)", archive, suspend),
			"a tenant is suspended before it is archived: set archive_after at least as long as suspend_after")
	}
	return nil
}

// apply sets the probe timing and the tenant timers and, on PostgreSQL,
// makes only the instance holding its region's monitor lock probe.
func (m monitorConfig) apply(mc *monitor.Config, leader func(context.Context) bool) {
	mc.Interval, mc.Jitter, mc.ProbeTimeout = m.Interval, m.Jitter, m.ProbeTimeout
	mc.SuspendAfter, mc.ArchiveAfter, mc.RestoreWindow = m.SuspendAfter, m.ArchiveAfter, m.RestoreWindow
	mc.Rate, mc.Concurrency = m.Rate, m.Concurrency
	mc.Leader = leader
}

// backgroundLeader is who runs a job that one instance must run for all:
// on PostgreSQL the holder of the advisory lock key (the monitor's of this
// instance's region, cluster.MonitorLock, or scheduled rotation's,
// cluster.LockRotation); on SQLite, whose one instance leads, nil. stop
// resigns the lead, so that on a clean shutdown another instance takes over
// at its next check rather than once the lock's connection is found dead.
func backgroundLeader(cfg *serveConfig, key int64, log *slog.Logger) (lead func(context.Context) bool, stop func()) {
	if cfg.Database.Postgres == "" {
		return nil, func() {}
	}
	l := cluster.NewLeader(cfg.Database.Postgres, key)
	return l.IsLeader, func() {
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		if err := l.Resign(ctx); err != nil {
			log.Warn("resigning the background jobs' lead", "err", err)
		}
	}
}

// rotationConfig is byok.yaml's rotation section: scheduled rotation of
// tenant key versions, off unless period is set.
type rotationConfig struct {
	// Period is how old a tenant's newest key version may get before the
	// leader makes the next one.
	Period time.Duration `yaml:"period"`
	// CheckEvery is how often the leader looks for tenants due.
	CheckEvery time.Duration `yaml:"check_every"`
}

const (
	defaultRotationCheck = time.Hour
	minRotationPeriod    = time.Hour
)

func (r rotationConfig) check() error {
	switch {
	case r.Period < 0:
		return configErr("rotation.period", fmt.Sprintf("%s is negative", r.Period), "give a Go duration such as 2160h (90 days), or leave it out to rotate only on request")
	case r.Period > 0 && r.Period < minRotationPeriod:
		return configErr("rotation.period", fmt.Sprintf("%s is shorter than %s", r.Period, minRotationPeriod),
			"every rotation adds a key version the tenant keeps for good: set at least 1h (2160h is 90 days)")
	case r.CheckEvery < 0 || r.CheckEvery > 0 && r.CheckEvery < time.Second:
		return configErr("rotation.check_every", fmt.Sprintf("%s is not a useful check interval", r.CheckEvery), "give at least 1s, or leave it out for 1h")
	case r.CheckEvery > 0 && r.Period == 0:
		return configErr("rotation.check_every", "set without rotation.period", "set rotation.period too, e.g. 2160h (90 days)")
	}
	return nil
}

// job returns the background job that rotates due tenants' keys every
// CheckEvery on the leader, or nil when scheduled rotation is off.
func (r rotationConfig) job(svc *control.Service, leader func(context.Context) bool, sink audit.Sink, log *slog.Logger) func(context.Context) error {
	if r.Period == 0 {
		return nil
	}
	every := cmp.Or(r.CheckEvery, defaultRotationCheck)
	return func(ctx context.Context) error {
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			if leader == nil || leader(ctx) {
				rotateDue(ctx, svc, sink, log)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-t.C:
			}
		}
	}
}

// rotateDue runs one scheduled rotation pass and records each rotation in
// the tenant's audit chain, as a rotation through the API is.
func rotateDue(ctx context.Context, svc *control.Service, sink audit.Sink, log *slog.Logger) {
	rs, err := svc.RotateDue(ctx)
	if err != nil && ctx.Err() == nil {
		log.Error("scheduled rotation: listing tenants", "err", err.Error())
	}
	log.Debug("scheduled rotation pass", "rotations", len(rs))
	for _, r := range rs {
		e := audit.Event{Time: time.Now().UTC(), Tenant: r.Tenant, Actor: "system:rotation", Action: string(auth.KeyRotate),
			Outcome: "ok", Count: 1, Details: map[string]string{"scheduled": "true"}}
		if r.Err != nil {
			e.Outcome = control.Code(r.Err)
			log.Warn("scheduled rotation failed", "tenant", r.Tenant, "code", e.Outcome, "err", r.Err.Error())
		} else {
			e.Details["version"] = strconv.FormatUint(uint64(r.Version), 10)
			log.Info("scheduled rotation", "tenant", r.Tenant, "version", r.Version)
		}
		if err := sink.Record(context.WithoutCancel(ctx), e); err != nil {
			log.Error("audit record failed", "action", e.Action, "tenant", r.Tenant, "error", err.Error())
		}
	}
}

// keyringConfig is byok.yaml's keyring section: the tenant key cache and
// each tenant's KMS call budget. Zero values take the keyring's defaults.
type keyringConfig struct {
	TTL           time.Duration `yaml:"ttl"`
	RefreshWindow time.Duration `yaml:"refresh_window"`
	MaxAge        time.Duration `yaml:"max_age"`
	MaxEntries    int           `yaml:"max_entries"`
	Budget        struct {
		Rate    float64       `yaml:"rate"`
		Burst   int           `yaml:"burst"`
		MaxWait time.Duration `yaml:"max_wait"`
	} `yaml:"budget"`
}

const defaultKeyringTTL = 5 * time.Minute

func (k keyringConfig) check() error {
	ttl := cmp.Or(k.TTL, defaultKeyringTTL)
	b := k.Budget
	switch {
	case k.TTL < 0 || k.RefreshWindow < 0 || k.MaxAge < 0:
		return configErr("keyring", "ttl, refresh_window and max_age must not be negative", "give positive Go durations such as 5m, or leave them out for the defaults")
	case k.RefreshWindow >= ttl:
		return configErr("keyring.refresh_window", fmt.Sprintf("%s is not shorter than keyring.ttl (%s)", k.RefreshWindow, ttl),
			"the refresh starts within the last refresh_window of the TTL: set it shorter, e.g. a fifth of the TTL")
	case k.MaxAge != 0 && k.MaxAge < ttl:
		return configErr("keyring.max_age", fmt.Sprintf("%s is shorter than keyring.ttl (%s)", k.MaxAge, ttl),
			"max_age is how long a key may keep serving past the TTL while KMS fails transiently: set it at least as long as the TTL")
	case k.MaxEntries < 0:
		return configErr("keyring.max_entries", fmt.Sprintf("%d is negative", k.MaxEntries), "give the most tenant keys to keep cached, or leave it out for 100000")
	case b.Rate < 0 || math.IsNaN(b.Rate) || math.IsInf(b.Rate, 0):
		return configErr("keyring.budget.rate", fmt.Sprintf("%v is not a rate", b.Rate), "give the KMS calls per second each tenant may make, e.g. 5, or leave it out for no limit")
	case b.Burst < 0 || b.MaxWait < 0:
		return configErr("keyring.budget", "burst and max_wait must not be negative", "give a burst of at least 1 and a max_wait such as 100ms")
	case b.Rate > 0 && b.Burst == 0:
		return configErr("keyring.budget.burst", "missing, and keyring.budget.rate needs it", "set how many calls a tenant may make at once, at least 1")
	case b.Rate == 0 && (b.Burst != 0 || b.MaxWait != 0):
		return configErr("keyring.budget.rate", "missing, and burst and max_wait do nothing without it", "set rate (KMS calls per second per tenant), or remove the budget")
	}
	return nil
}

func (k keyringConfig) apply(kc *keyring.Config) {
	kc.TTL, kc.RefreshWindow, kc.MaxAge, kc.MaxEntries = k.TTL, k.RefreshWindow, k.MaxAge, k.MaxEntries
	kc.Budget = keyring.Budget{Rate: k.Budget.Rate, Burst: k.Budget.Burst, MaxWait: k.Budget.MaxWait}
}

// configErr is a byok.yaml error naming the field, what is wrong and the fix.
func configErr(field, problem, fix string) error {
	return withHint(exitError, fmt.Errorf("byok.yaml: %s: %s", field, problem), fix+" (docs/configuration.md, \"Service settings\")")
}

// broadcaster connects the keyring's evictions to the other instances on
// PostgreSQL; on SQLite (one instance) it does nothing.
type broadcaster struct {
	bus    *cluster.Postgres
	rev    *cluster.Relay
	tokens *cluster.Relay
}

func newBroadcaster(ctx context.Context, cfg *serveConfig) (*broadcaster, error) {
	if cfg.Database.Postgres == "" {
		return &broadcaster{}, nil
	}
	bus, err := cluster.NewPostgres(ctx, cfg.Database.Postgres)
	if err != nil {
		return nil, err
	}
	return &broadcaster{bus: bus}, nil
}

// announce suits keyring.Config.Evicted.
func (b *broadcaster) announce(tenant string) {
	if b != nil && b.rev != nil {
		b.rev.Announce(tenant)
	}
}

// attach subscribes the keyring to other instances' evictions.
func (b *broadcaster) attach(kr *keyring.Keyring, log *slog.Logger) {
	if b.bus == nil {
		return
	}
	b.rev = cluster.NewRevocations(b.bus, kr)
	b.rev.Errors = func(err error) { log.Warn("revocation broadcast failed", "err", err) }
}

// attachTokens makes token revocations reach the other instances'
// authentication caches at once rather than within auth.DefaultCacheTTL.
func (b *broadcaster) attachTokens(t *auth.Tokens, log *slog.Logger) {
	if b.bus == nil {
		return
	}
	b.tokens = cluster.NewTokenRevocations(b.bus, t)
	b.tokens.Errors = func(err error) { log.Warn("token revocation broadcast failed", "err", err) }
	t.OnRevoke(b.tokens.Announce)
}

func (b *broadcaster) close() {
	if b.bus == nil {
		return
	}
	if b.rev != nil {
		b.rev.Stop()
	}
	if b.tokens != nil {
		b.tokens.Stop()
	}
	b.bus.Close()
}
