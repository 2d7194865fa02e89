package monitor_test

import (
	"bytes"
	"context"
	"errors"
	"log/slog"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

// claimFailing is a real store whose claims fail while fail is set, as
// they do while the database is down.
type claimFailing struct {
	store.Store
	fail  atomic.Bool
	calls atomic.Int64
}

func (s *claimFailing) ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, n int) ([]*store.Outbound, error) {
	s.calls.Add(1)
	if s.fail.Load() {
		return nil, errors.New("database is down")
	}
	return s.Store.ClaimOutbox(ctx, now, lease, n)
}

type lockedLog struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedLog) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedLog) count(s string) int {
	l.mu.Lock()
	defer l.mu.Unlock()
	return strings.Count(l.b.String(), s)
}

// A database that stays down makes every poll's claim fail; the log gets
// one line when that starts, one a minute after, and one on recovery, not
// one per poll.
func TestClaimFailuresLoggedOncePerMinute(t *testing.T) {
	st := &claimFailing{Store: openSQLite(t, filepath.Join(t.TempDir(), "byok.db"))}
	st.fail.Store(true)
	var clk clock
	var logs lockedLog
	cfg := testConfig(st)
	cfg.Now = clk.Now
	cfg.Logger = slog.New(slog.NewTextHandler(&logs, nil))
	run(t, build(t, cfg))

	const failing, back = `msg="monitor: claiming webhook deliveries"`, "works again"
	calls := func(n int64) func() bool {
		start := st.calls.Load()
		return func() bool { return st.calls.Load() >= start+n }
	}
	waitFor(t, "20 failed claims", calls(20))
	if n := logs.count(failing); n != 1 {
		t.Fatalf("%d log lines for the first 20 failed claims, want 1:\n%s", n, logs.b.String())
	}
	clk.advance(61 * time.Second)
	waitFor(t, "more failed claims", calls(5))
	if n := logs.count(failing); n != 2 {
		t.Fatalf("%d log lines after a minute of failed claims, want 2", n)
	}
	st.fail.Store(false)
	waitFor(t, "the recovery logged", func() bool { return logs.count(back) == 1 })
	waitFor(t, "claims after the recovery", calls(5))
	if n, m := logs.count(failing), logs.count(back); n != 2 || m != 1 {
		t.Fatalf("after recovering: %d failure lines, %d recovery lines; want 2 and 1", n, m)
	}
}

// enqueueFailing is a real store whose EnqueueEvent always fails.
type enqueueFailing struct{ store.Store }

func (enqueueFailing) EnqueueEvent(context.Context, *store.OutboxEvent) (int, error) {
	return 0, errors.New("enqueue is not the monitor's path")
}

// The monitor stores Webhooks' events with the state change, in one
// transaction, rather than through Notify after it: here Notify's own
// write always fails, and the event is still stored and delivered.
func TestMonitorStoresEventsWithChange(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	w := build(t, testConfig(enqueueFailing{e.store}))
	run(t, w)
	r := newReceiver(t, 200)
	subscribe(t, w, "hook", "acme", r)
	m := e.monitor(t, func(c *monitor.Config) { c.Notifier = w })
	e.step(m, time.Minute)
	e.disable(t)
	e.step(m, time.Minute)
	waitDeliveries(t, w, "acme", "hook", 1)
	if got := r.events(); len(got) != 1 || got[0].NewState != tenant.StateKeyUnavailable {
		t.Fatalf("receiver got %+v, want the state change", got)
	}
	if n := w.Dropped(); n != 0 {
		t.Fatalf("%d events dropped, want none", n)
	}
}
