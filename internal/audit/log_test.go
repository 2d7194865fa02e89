package audit

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func data(tenant, action, outcome string, at time.Time) Event {
	return Event{Time: at, Tenant: tenant, Actor: "token:svc (backend)", Action: action, Outcome: outcome}
}

// events decodes a chain's rows.
func events(t *testing.T, l *Log, chain string) []Event {
	t.Helper()
	rows, err := l.cfg.Store.AuditRows(ctx, chain, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var out []Event
	for _, r := range rows {
		e, err := decodeEvent(r.Event)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, e)
	}
	return out
}

func TestControlWrittenAtOnce(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := b.open(t)
		l := newLog(t, s, nil)
		mustRecord(t, l, control("acme", "tenant.create"))
		mustRecord(t, l, control("", "platform.config"))
		e := control("acme", "kms.Decrypt")
		e.KMSRequestID, e.Details = "5fd1-aws", map[string]string{"op": "unwrap"}
		mustRecord(t, l, e)
		want := control("acme", "tenant.create")
		want.Time, want.Count = t0, 1
		got := events(t, l, acme)
		if len(got) != 2 {
			t.Fatalf("acme chain has %d rows, want 2", len(got))
		}
		if d := cmp.Diff(want, got[0]); d != "" {
			t.Errorf("first event (-want +got):\n%s", d)
		}
		if got[1].KMSRequestID != "5fd1-aws" || got[1].Details["op"] != "unwrap" {
			t.Errorf("KMS event = %+v", got[1])
		}
		if p := events(t, l, PlatformChain); len(p) != 1 || p[0].Action != "platform.config" {
			t.Errorf("platform chain = %+v, want the platform event", p)
		}
		for _, c := range []string{acme, PlatformChain} {
			if res := mustVerify(t, l, c); !res.OK {
				t.Errorf("Verify(%s) = %+v", c, res)
			}
		}
	})
}

func TestRecordInvalid(t *testing.T) {
	s, _ := openSQLite(t)
	l := newLog(t, s, nil)
	for name, e := range map[string]Event{
		"no action":  {Actor: "a", Outcome: "ok"},
		"no actor":   {Action: "x", Outcome: "ok"},
		"no outcome": {Action: "x", Actor: "a"},
		"bad tenant": {Tenant: "a b", Action: "x", Actor: "a", Outcome: "ok"},
	} {
		if err := l.Record(ctx, e); err == nil {
			t.Errorf("Record(%s) err = nil, want an error", name)
		}
	}
	if _, err := New(Config{Store: s}); err == nil {
		t.Error("New() without a key err = nil")
	}
}

// TestAggregation records 1,000 data events in one minute: one row.
func TestAggregation(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := b.open(t)
		c := &clock{now: t0}
		l := newLog(t, s, c)
		for i := range 1000 {
			mustRecord(t, l, data("acme", ActionDataEncrypt, OutcomeOK, t0.Add(time.Duration(i)*time.Millisecond)))
		}
		if err := l.FlushClosed(ctx); err != nil {
			t.Fatal(err)
		}
		if got := events(t, l, acme); len(got) != 0 {
			t.Fatalf("rows before the minute closed = %d, want 0", len(got))
		}
		c.Set(t0.Add(time.Minute))
		if err := l.FlushClosed(ctx); err != nil {
			t.Fatal(err)
		}
		got := events(t, l, acme)
		want := []Event{{Time: t0.Truncate(time.Minute), Tenant: "acme", Actor: "token:svc (backend)",
			Action: ActionDataEncrypt, Outcome: OutcomeOK, Count: 1000, Details: map[string]string{"window": "1m"}}}
		if d := cmp.Diff(want, got); d != "" {
			t.Fatalf("rows (-want +got):\n%s", d)
		}
	})
}

// TestMinuteBoundary checks buckets split by minute, action, outcome and
// tenant, each flushed only once its minute has closed.
func TestMinuteBoundary(t *testing.T) {
	s, _ := openSQLite(t)
	c := &clock{now: t0}
	l := newLog(t, s, c)
	m0 := t0.Truncate(time.Minute)
	m1 := m0.Add(time.Minute)
	for _, e := range []Event{
		data("acme", ActionDataEncrypt, OutcomeOK, m0.Add(59*time.Second+999*time.Millisecond)),
		data("acme", ActionDataEncrypt, OutcomeOK, m1),
		data("acme", ActionDataDecrypt, "context_mismatch", m0.Add(time.Second)),
		data("acme", ActionDataDecrypt, "context_mismatch", m0.Add(2*time.Second)),
		data("globex", ActionDataEncrypt, OutcomeOK, m0),
	} {
		mustRecord(t, l, e)
	}
	c.Set(m1.Add(30 * time.Second))
	if err := l.FlushClosed(ctx); err != nil {
		t.Fatal(err)
	}
	got := counts(events(t, l, acme))
	if d := cmp.Diff([]string{"00 data.decrypt context_mismatch 2", "00 data.encrypt ok 1"}, got); d != "" {
		t.Fatalf("acme after minute 0 closed (-want +got):\n%s", d)
	}
	if g := counts(events(t, l, "tenant:globex")); len(g) != 1 {
		t.Fatalf("globex rows = %v, want one", g)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	got = counts(events(t, l, acme))
	if len(got) != 3 || got[2] != "01 data.encrypt ok 1" {
		t.Fatalf("acme after Flush = %v, want minute 1's row last", got)
	}
}

func counts(es []Event) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%02d %s %s %d", e.Time.Minute(), e.Action, e.Outcome, e.Count))
	}
	return out
}

// TestRunFlushesOnShutdown stops Run and expects the open minute written.
func TestRunFlushesOnShutdown(t *testing.T) {
	s, _ := openSQLite(t)
	l, err := New(Config{Store: s, Key: testKey(t), Now: (&clock{now: t0}).Now, FlushInterval: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	runCtx, cancel := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- l.Run(runCtx) }()
	for range 10 {
		mustRecord(t, l, data("acme", ActionDataDecrypt, OutcomeOK, t0))
	}
	time.Sleep(20 * time.Millisecond)
	if got := events(t, l, acme); len(got) != 0 {
		t.Fatalf("Run wrote the open minute early: %v", counts(got))
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run() err = %v", err)
	}
	if got := counts(events(t, l, acme)); len(got) != 1 || got[0] != "00 data.decrypt ok 10" {
		t.Fatalf("rows after shutdown = %v", got)
	}
}

// TestFlushFailureKeepsCounts closes the store under a pending bucket: the
// count must survive for a later flush.
func TestFlushFailureKeepsCounts(t *testing.T) {
	s, _ := openSQLite(t)
	l := newLog(t, s, nil)
	mustRecord(t, l, Event{Tenant: "acme", Actor: "a", Action: ActionDataEncrypt, Outcome: OutcomeOK, Count: 5})
	canceled, cancel := context.WithCancel(ctx)
	cancel()
	if err := l.Flush(canceled); !errors.Is(err, context.Canceled) {
		t.Fatalf("Flush(canceled) err = %v, want context.Canceled", err)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if got := counts(events(t, l, acme)); len(got) != 1 || got[0] != "00 data.encrypt ok 5" {
		t.Fatalf("rows = %v, want the kept count", got)
	}
}

// TestConcurrent records from many goroutines and two Logs on one store
// (two instances): the chain has no gaps and verifies.
func TestConcurrent(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		s, _ := b.open(t)
		logs := []*Log{newLog(t, s, nil), newLog(t, s, nil)}
		const workers, each = 16, 10
		var wg sync.WaitGroup
		errs := make(chan error, 2*workers*each)
		for i := range workers {
			l := logs[i%2]
			wg.Go(func() {
				for j := range each {
					errs <- l.Record(ctx, control("acme", fmt.Sprintf("key.op%d.%d", i, j)))
					errs <- l.Record(ctx, data("acme", ActionDataEncrypt, OutcomeOK, t0))
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Fatal(err)
			}
		}
		for _, l := range logs {
			if err := l.Flush(ctx); err != nil {
				t.Fatal(err)
			}
		}
		res := mustVerify(t, logs[0], acme)
		if !res.OK || res.Rows != workers*each+2 {
			t.Fatalf("Verify() = %+v, want OK with %d rows", res, workers*each+2)
		}
	})
}
