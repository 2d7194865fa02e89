package monitor_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/tenant"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

// backends open two stores on one new database, as two processes (one
// after the other, or side by side) would, with tenant acme in it.
var backends = map[string]func(t *testing.T) (a, b store.Store){
	"sqlite": func(t *testing.T) (store.Store, store.Store) {
		path := filepath.Join(t.TempDir(), "byok.db")
		return openSQLite(t, path), openSQLite(t, path)
	},
	"postgres": func(t *testing.T) (store.Store, store.Store) {
		url := pgtest.NewDatabase(t)
		return openPostgres(t, url), openPostgres(t, url)
	},
}

func openSQLite(t *testing.T, path string) store.Store {
	t.Helper()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: path})
	return withTenant(t, s, err)
}

func openPostgres(t *testing.T, url string) store.Store {
	t.Helper()
	s, err := postgres.Open(ctx, postgres.Config{URL: url, MaxConns: 8})
	return withTenant(t, s, err)
}

func withTenant(t *testing.T, s store.Store, err error) store.Store {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	_, err = s.CreateTenant(ctx, &tenant.Tenant{ID: "acme", Name: "Acme", ExternalID: "ext-acme-0000", State: tenant.StateActive})
	if err != nil && !errors.Is(err, store.ErrConflict) {
		t.Fatal(err)
	}
	return s
}

func eachBackend(t *testing.T, fn func(t *testing.T, open func(t *testing.T) (a, b store.Store))) {
	for name, open := range backends {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open)
		})
	}
}

func testEvent(id string) monitor.Event {
	return monitor.Event{ID: id, Type: monitor.EventDeletionWarning, Tenant: "acme", Key: "arn:aws:kms:eu-west-1:222222222222:key/k",
		DeletionDate: time.Date(2026, 4, 1, 0, 0, 0, 0, time.UTC), Threshold: "168h0m0s", Time: time.Now().UTC().Truncate(time.Second)}
}

// checkBodies checks that the receiver got each event, in the body Notify was
// given, under its own id, and not more than sent times.
func checkBodies(t *testing.T, r *receiver, evs []monitor.Event, times int) {
	t.Helper()
	got := r.received()
	for _, ev := range evs {
		want, _ := json.Marshal(ev)
		bodies := got[ev.ID]
		if len(bodies) == 0 || len(bodies) > times {
			t.Fatalf("event %s received %d times, want 1 to %d", ev.ID, len(bodies), times)
		}
		for _, b := range bodies {
			if !bytes.Equal(b, want) {
				t.Fatalf("event %s body = %s, want %s", ev.ID, b, want)
			}
		}
	}
	if len(got) != len(evs) {
		t.Fatalf("receiver got %d events, want %d", len(got), len(evs))
	}
}

// Events notified by a process that stopped before delivering them are
// delivered by the next one on the same database, with the same id and
// body, signed.
func TestWebhooksRestart(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) (store.Store, store.Store)) {
		a, b := open(t)
		r := newReceiver(t, 200)
		first := build(t, testConfig(a)) // never runs: stopped before delivering
		subscribe(t, first, "hook", "acme", r)
		evs := []monitor.Event{testEvent("evt_1"), testEvent("evt_2")}
		for _, ev := range evs {
			first.Notify(ev)
		}
		if first.Dropped() != 0 || len(waitOutbox(t, a, 2)) != 2 {
			t.Fatal("Notify() did not store the events")
		}
		run(t, build(t, testConfig(b)))
		waitOutbox(t, b, 0)
		checkBodies(t, r, evs, 1)
	})
}

// A process stopped during an attempt puts the event back; the next one
// sends it again, the same, and the cut-short attempt does not count.
func TestWebhooksStoppedMidAttempt(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) (store.Store, store.Store)) {
		a, b := open(t)
		r := newReceiver(t, 200)
		r.hold, r.arrived = make(chan string), make(chan string, 4)
		first := build(t, testConfig(a))
		subscribe(t, first, "hook", "acme", r)
		stop := run(t, first)
		ev := testEvent("evt_1")
		first.Notify(ev)
		<-r.arrived
		stop()
		left := waitOutbox(t, a, 1)
		if left[0].Attempts != 0 || left[0].Claim != "" {
			t.Fatalf("outbox after stopping = %+v, want the event put back unclaimed", left[0])
		}
		close(r.hold)
		second := build(t, testConfig(b))
		run(t, second)
		waitOutbox(t, b, 0)
		checkBodies(t, r, []monitor.Event{ev}, 2)
		if ds, _ := second.Deliveries(ctx, "acme", "hook", 0); len(ds) != 1 || ds[0].Attempt != 1 || ds[0].Status != 200 {
			t.Fatalf("deliveries = %+v, want attempt 1 delivered", ds)
		}
	})
}

// clock is a test clock some way ahead of the real one.
type clock struct{ ahead atomic.Int64 }

func (c *clock) Now() time.Time          { return time.Now().Add(time.Duration(c.ahead.Load())) }
func (c *clock) advance(d time.Duration) { c.ahead.Add(int64(d)) }

// A retry scheduled before a restart is made after it, when due, as the
// next attempt; and a process that died holding a lease (here: claimed
// and never settled) gives the event up when the lease lapses.
func TestWebhooksRetryAfterRestart(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) (store.Store, store.Store)) {
		a, b := open(t)
		var clk clock
		r := newReceiver(t, 503, 200)
		r.now = clk.Now
		cfg := testConfig(a)
		cfg.BaseDelay, cfg.MaxDelay, cfg.Now = time.Hour, time.Hour, clk.Now
		first := build(t, cfg)
		subscribe(t, first, "hook", "acme", r)
		stop := run(t, first)
		ev := testEvent("evt_1")
		first.Notify(ev)
		waitFor(t, "the first attempt to be settled", func() bool {
			got, _ := a.Outbox(ctx, "", "", 0)
			return len(got) == 1 && got[0].Attempts == 1 && got[0].Claim == ""
		})
		stop()

		clk.advance(time.Hour)
		crashed, err := a.ClaimOutbox(ctx, clk.Now(), time.Hour, 10)
		if err != nil || len(crashed) != 1 {
			t.Fatalf("ClaimOutbox() = %v, %v; want the due retry", crashed, err)
		}
		cfg.Store = b
		second := build(t, cfg)
		run(t, second)
		// Ten polls that must leave the leased entry alone; on a slow
		// machine fewer happen, which can hide a fault but not invent one.
		time.Sleep(50 * time.Millisecond)
		if n := r.callCount(); n != 1 {
			t.Fatalf("receiver called %d times under another's lease, want 1", n)
		}
		clk.advance(time.Hour)
		waitOutbox(t, b, 0)
		checkBodies(t, r, []monitor.Event{ev}, 2)
		ds, _ := second.Deliveries(ctx, "acme", "hook", 0)
		if len(ds) != 2 || ds[0].Attempt != 2 || ds[0].Status != 200 || ds[1].Attempt != 1 || ds[1].Status != 503 {
			t.Fatalf("deliveries = %+v, want attempt 1 refused, attempt 2 delivered", ds)
		}
	})
}

// Two instances delivering from one database send each event once.
func TestWebhooksShareOutbox(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) (store.Store, store.Store)) {
		a, b := open(t)
		r := newReceiver(t, 200)
		ws := []*monitor.Webhooks{build(t, testConfig(a)), build(t, testConfig(b))}
		subscribe(t, ws[0], "hook", "acme", r)
		for _, w := range ws {
			run(t, w)
		}
		var evs []monitor.Event
		for i := range 40 {
			ev := testEvent(fmt.Sprintf("evt_%02d", i))
			ws[i%2].Notify(ev)
			evs = append(evs, ev)
		}
		waitOutbox(t, a, 0)
		checkBodies(t, r, evs, 1)
	})
}

// A webhook deleted while its event waits gets nothing and its entry goes;
// one created after the event does not get it.
func TestWebhookDeletedWhileWaiting(t *testing.T) {
	eachBackend(t, func(t *testing.T, open func(*testing.T) (store.Store, store.Store)) {
		a, _ := open(t)
		w := build(t, testConfig(a))
		gone, kept, late := newReceiver(t, 200), newReceiver(t, 200), newReceiver(t, 200)
		subscribe(t, w, "gone", "acme", gone)
		subscribe(t, w, "kept", "", kept)
		ev := testEvent("evt_1")
		w.Notify(ev)
		subscribe(t, w, "late", "acme", late)
		waitOutbox(t, a, 2)
		if err := w.Unsubscribe(ctx, "acme", "gone"); err != nil {
			t.Fatal(err)
		}
		if left := waitOutbox(t, a, 1); left[0].Webhook != "kept" {
			t.Fatalf("outbox = %+v, want only kept's entry", left)
		}
		run(t, w)
		waitOutbox(t, a, 0)
		checkBodies(t, kept, []monitor.Event{ev}, 1)
		if gone.callCount() != 0 || late.callCount() != 0 {
			t.Fatalf("deleted webhook called %d times, late one %d times; want none", gone.callCount(), late.callCount())
		}
	})
}
