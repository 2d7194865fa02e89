package main

import (
	"context"
	"log/slog"
	"time"

	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/cluster"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/keyring"
)

// monitorConfig is byok.yaml's monitor section; zero values take the
// monitor's defaults (a probe every 30 s per tenant, up to 5 s of jitter).
type monitorConfig struct {
	Interval time.Duration `yaml:"interval"`
	Jitter   time.Duration `yaml:"jitter"`
}

// apply sets the probe timing and, on PostgreSQL, makes only the instance
// holding the monitor's advisory lock for its region probe.
func (m monitorConfig) apply(mc *monitor.Config, cfg *serveConfig) {
	mc.Interval, mc.Jitter = m.Interval, m.Jitter
	if cfg.Database.Postgres != "" {
		mc.Leader = cluster.NewLeader(cfg.Database.Postgres, cluster.MonitorLock(mc.Region)).IsLeader
	}
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
