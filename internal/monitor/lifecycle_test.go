package monitor_test

import (
	"context"
	"errors"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
)

const day = 24 * time.Hour

// A key that stays disabled suspends the tenant after SuspendAfter and
// archives it after ArchiveAfter; a key back before archiving makes it
// active at the next probe, after archiving only Restore does.
func TestSuspendArchiveRestore(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	m := e.monitor(t, nil)
	e.step(m, time.Minute)
	e.disable(t)
	e.step(m, time.Minute)
	e.wantState(t, "acme", tenant.StateKeyUnavailable)
	if halted(t, m, "acme") {
		t.Fatal("Halted() = true while the key is only unavailable")
	}
	e.jump(m, monitor.DefaultSuspendAfter)
	e.wantState(t, "acme", tenant.StateSuspended)
	if !halted(t, m, "acme") {
		t.Fatal("Halted() = false for a suspended tenant")
	}
	e.enable(t)
	e.step(m, time.Minute)
	e.wantState(t, "acme", tenant.StateActive)

	e.disable(t)
	e.step(m, time.Minute)
	e.jump(m, monitor.DefaultSuspendAfter)
	e.jump(m, monitor.DefaultArchiveAfter)
	st := status(t, m, "acme")
	if st.State != tenant.StateSuspended || st.ArchivedAt.IsZero() || !st.RestoreUntil.Equal(st.ArchivedAt.Add(monitor.DefaultRestoreWindow)) {
		t.Fatalf("Status() after ArchiveAfter = %+v, want suspended and archived with a restore window", st)
	}
	if n := len(e.events.ofType(monitor.EventArchived)); n != 1 {
		t.Fatalf("%d archive events, want 1", n)
	}
	e.enable(t)
	probes := m.Stats().Probes
	e.step(m, 2*time.Minute)
	e.wantState(t, "acme", tenant.StateSuspended)
	if m.Stats().Probes != probes {
		t.Fatal("an archived tenant was probed on the schedule")
	}
	if err := m.Restore(ctx, "acme"); err != nil {
		t.Fatalf("Restore() err = %v", err)
	}
	e.wantState(t, "acme", tenant.StateActive)
	if st := status(t, m, "acme"); !st.ArchivedAt.IsZero() || !st.UnavailableSince.IsZero() {
		t.Fatalf("Status() after Restore = %+v, want the outage cleared", st)
	}
	if evs := e.events.ofType(monitor.EventRestored); len(evs) != 1 || evs[0].NewState != tenant.StateActive {
		t.Fatalf("restore events = %+v, want one to active", evs)
	}
	if err := m.Restore(ctx, "acme"); !errors.Is(err, monitor.ErrNotArchived) || monitor.Code(err) != "tenant_not_archived" {
		t.Fatalf("Restore(active) err = %v, want tenant_not_archived", err)
	}
	// The rest of the tenant's record survived the monitor's bookkeeping.
	tn, _ := e.store.GetTenant(ctx, "acme")
	if tn.KeyBinding == nil || tn.KeyBinding.Regions[region] != keyARN || tn.Outage != (tenant.Outage{}) {
		t.Fatalf("tenant after restore = %+v, want its key binding kept and no outage", tn)
	}
}

func TestRestoreRefusals(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	m := e.monitor(t, func(c *monitor.Config) { c.RestoreWindow = day })
	e.step(m, time.Minute)
	e.disable(t)
	e.step(m, time.Minute)
	e.jump(m, monitor.DefaultSuspendAfter)
	e.jump(m, monitor.DefaultArchiveAfter)
	err := m.Restore(ctx, "acme")
	if !errors.Is(err, monitor.ErrKeyUnavailable) || !errors.Is(err, kms.ErrDisabled) {
		t.Fatalf("Restore(key still disabled) err = %v, want key_unavailable wrapping the kms error", err)
	}
	e.enable(t)
	e.ts.Advance(day + time.Second)
	if err := m.Restore(ctx, "acme"); !errors.Is(err, monitor.ErrRestoreExpired) || monitor.Code(err) != "restore_window_expired" {
		t.Fatalf("Restore(after the window) err = %v, want restore_window_expired", err)
	}
	e.wantState(t, "acme", tenant.StateSuspended)
	if err := m.Restore(ctx, "nobody"); monitor.Code(err) != "tenant_not_found" {
		t.Fatalf("Restore(unknown) err = %v, want tenant_not_found", err)
	}
}

// A deletion scheduled by the customer moves the tenant to
// deletion_pending with the date, warns at each threshold once, and
// destroys the tenant when the key is gone.
func TestScheduledDeletion(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	m := e.monitor(t, nil)
	e.step(m, time.Minute)
	out, err := e.customer.ScheduleKeyDeletion(ctx, &kmsapi.ScheduleKeyDeletionInput{KeyId: aws.String(keyID), PendingWindowInDays: aws.Int32(10)})
	if err != nil {
		t.Fatal(err)
	}
	date := out.DeletionDate.UTC().Truncate(time.Second) // DescribeKey answers in seconds
	e.step(m, time.Minute)
	st := status(t, m, "acme")
	if st.State != tenant.StateDeletionPending || !st.DeletionDate.Equal(date) || st.Halted {
		t.Fatalf("Status() after scheduling = %+v, want deletion_pending on %s, not halted", st, date)
	}
	if n := len(e.events.ofType(monitor.EventDeletionWarning)); n != 0 {
		t.Fatalf("%d warnings 10 days ahead, want none before the 7-day threshold", n)
	}
	e.jump(m, 3*day+time.Minute) // under 7 days left
	e.step(m, time.Minute)
	e.jump(m, 6*day) // under 1 day left
	e.step(m, time.Minute)
	warnings := e.events.ofType(monitor.EventDeletionWarning)
	if len(warnings) != 2 || warnings[0].Threshold != "168h0m0s" || warnings[1].Threshold != "24h0m0s" || !warnings[1].DeletionDate.Equal(date) {
		t.Fatalf("warnings = %+v, want one at 7 days and one at 1 day, dated", warnings)
	}
	e.jump(m, day)
	e.step(m, time.Minute)
	e.wantState(t, "acme", tenant.StateDestroyed)
	if !halted(t, m, "acme") {
		t.Fatal("Halted() = false for a destroyed tenant")
	}
	if len(e.events.ofType(monitor.EventDeletionWarning)) != 2 {
		t.Fatal("more warnings after the key was deleted")
	}
}

// Throttling and an unreachable KMS mark the tenant degraded; its state
// stays and its cached key keeps serving.
func TestTransientFaultsDegrade(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	m := e.monitor(t, nil)
	ct, _ := e.kr.Seal(ctx, "acme", []byte("record"), nil)
	e.step(m, time.Minute)
	for _, kind := range []awsemu.FaultKind{awsemu.FaultThrottle, awsemu.FaultUnavailable} {
		if err := e.ts.SetFaults([]awsemu.Fault{{Kind: kind, Operation: "Decrypt"}}); err != nil {
			t.Fatal(err)
		}
		e.step(m, time.Minute)
		e.wantState(t, "acme", tenant.StateActive)
		st := status(t, m, "acme")
		if !st.Degraded || st.LastProbe.Outcome != store.OutcomeDegraded {
			t.Fatalf("%s: Status() = %+v, want degraded", kind, st)
		}
		if _, err := e.kr.Open(ctx, "acme", ct, nil); err != nil {
			t.Fatalf("%s: Open() from the cache err = %v", kind, err)
		}
	}
	e.ts.SetFaults(nil)
	e.step(m, time.Minute)
	if st := status(t, m, "acme"); st.Degraded {
		t.Fatalf("Status() after the faults cleared = %+v, want not degraded", st)
	}
	hs, err := m.Health(ctx, "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	// Written on each change of outcome only: ok, throttled, unavailable, ok.
	if len(hs) != 4 || hs[1].Code != kms.Unavailable.Code() || hs[2].Code != kms.Throttled.Code() {
		t.Fatalf("health history = %+v, want 4 records, newest first", hs)
	}
	if len(e.events.all()) != 0 {
		t.Fatalf("events = %+v, want none for transient faults", e.events.all())
	}
}

// Two instances probing the same tenant at once change its state once and
// announce it once.
func TestConcurrentInstances(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	a := e.monitor(t, nil)
	b := e.monitor(t, func(c *monitor.Config) { c.Keyring = e.keyring(t) })
	e.step(a, time.Minute)
	b.RunOnce(ctx)
	e.disable(t)
	for range 40 {
		e.ts.Advance(time.Second)
		var wg sync.WaitGroup
		wg.Go(func() { a.RunOnce(ctx) })
		wg.Go(func() { b.RunOnce(ctx) })
		wg.Wait()
	}
	e.wantState(t, "acme", tenant.StateKeyUnavailable)
	if n := len(e.events.ofType(monitor.EventStateChanged)); n != 1 {
		t.Fatalf("%d state change events from two instances, want 1", n)
	}
}

// The global rate limit spreads probes over passes; none is lost.
func TestRateLimit(t *testing.T) {
	e := newEnv(t)
	ids := []string{"t0", "t1", "t2", "t3", "t4", "t5", "t6", "t7", "t8", "t9"}
	for _, id := range ids {
		e.tenant(t, id)
	}
	m := e.monitor(t, func(c *monitor.Config) { c.Rate, c.Burst = 3, 3 })
	m.RunOnce(ctx)
	e.jump(m, monitor.DefaultInterval) // every tenant is due at once
	if s := m.Stats(); s.Probes != 3 || s.Deferred != 7 || s.Tenants != 10 {
		t.Fatalf("Stats() after one pass = %+v, want 3 probes and 7 deferred of 10", s)
	}
	e.jump(m, time.Second)
	e.jump(m, time.Second)
	e.jump(m, time.Second)
	if s := m.Stats(); s.Probes != 10 {
		t.Fatalf("Stats() = %+v, want all 10 probed within 4 s at 3/s", s)
	}
}

// Run probes on its own until cancelled and does nothing when not leader.
func TestRun(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	var leader sync.Mutex
	lead := false
	m := e.monitor(t, func(c *monitor.Config) {
		c.Tick, c.Interval, c.Jitter = time.Millisecond, 10*time.Millisecond, time.Millisecond
		c.Leader = func(context.Context) bool { leader.Lock(); defer leader.Unlock(); return lead }
	})
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan error)
	go func() { done <- m.Run(ctx) }()
	time.Sleep(50 * time.Millisecond)
	if s := m.Stats(); s.Passes != 0 || s.Probes != 0 {
		t.Fatalf("Stats() while not leader = %+v, want nothing done", s)
	}
	leader.Lock()
	lead = true
	leader.Unlock()
	e.disable(t)
	deadline := time.Now().Add(10 * time.Second)
	for e.state(t, "acme") != tenant.StateKeyUnavailable && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	e.wantState(t, "acme", tenant.StateKeyUnavailable)
	cancel()
	if err := <-done; !errors.Is(err, context.Canceled) {
		t.Fatalf("Run() err = %v, want context.Canceled", err)
	}
}

func TestConfigErrors(t *testing.T) {
	e := newEnv(t)
	cases := map[string]func(*monitor.Config){
		"no store":          func(c *monitor.Config) { c.Store = nil },
		"jitter > interval": func(c *monitor.Config) { c.Interval, c.Jitter = time.Second, 2*time.Second },
		"negative rate":     func(c *monitor.Config) { c.Rate = -1 },
		"archive first":     func(c *monitor.Config) { c.SuspendAfter, c.ArchiveAfter = day, time.Hour },
		"warnings order":    func(c *monitor.Config) { c.DeletionWarnings = []time.Duration{day, 7 * day} },
		"zero warning":      func(c *monitor.Config) { c.DeletionWarnings = []time.Duration{0} },
	}
	for name, edit := range cases {
		cfg := monitor.Config{Store: e.store, Keyring: e.kr}
		edit(&cfg)
		if _, err := monitor.New(cfg); !errors.Is(err, monitor.ErrInvalidConfig) || monitor.Code(err) != "invalid_config" {
			t.Errorf("New(%s) err = %v, want invalid_config", name, err)
		}
	}
}

func halted(t *testing.T, m *monitor.Monitor, id string) bool {
	t.Helper()
	h, err := m.Halted(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func status(t *testing.T, m *monitor.Monitor, id string) *monitor.Status {
	t.Helper()
	st, err := m.Status(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
