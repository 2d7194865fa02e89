package monitor

import (
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
)

var (
	now   = time.Date(2026, 5, 1, 12, 0, 0, 0, time.UTC)
	hours = func(n int) time.Duration { return time.Duration(n) * time.Hour }
	mach  = machine{suspendAfter: hours(4), archiveAfter: hours(7 * 24), restoreWindow: hours(30 * 24),
		warnings: []time.Duration{hours(7 * 24), hours(24)}}
	ok       = observation{OK: true}
	disabled = observation{Class: kms.Disabled}
	denied   = observation{Class: kms.Denied}
	notFound = observation{Class: kms.NotFound}
	throttle = observation{Class: kms.Throttled}
	broken   = observation{Class: kms.InvalidCiphertext}
)

// The transitions of the design's state diagram, one observation at a time.
func TestDecide(t *testing.T) {
	outage := record{Since: now.Add(-hours(1)), Reason: "key_disabled"}
	long := record{Since: now.Add(-hours(5)), Reason: "key_disabled"}
	week := record{Since: now.Add(-hours(7*24 + 1)), Reason: "key_disabled"}
	archived := record{Since: week.Since, Reason: "key_disabled", ArchivedAt: now.Add(-time.Hour)}
	pending := record{DeletionDate: now.Add(hours(48)), Reason: "key_pending_deletion", Warned: hours(7 * 24)}
	cases := []struct {
		name   string
		state  tenant.State
		rec    record
		obs    observation
		want   tenant.State
		events []string
	}{
		{"active ok", tenant.StateActive, record{}, ok, tenant.StateActive, nil},
		{"active disabled", tenant.StateActive, record{}, disabled, tenant.StateKeyUnavailable, []string{EventStateChanged}},
		{"active denied", tenant.StateActive, record{}, denied, tenant.StateKeyUnavailable, []string{EventStateChanged}},
		{"active not found is not destruction", tenant.StateActive, record{}, notFound, tenant.StateKeyUnavailable, []string{EventStateChanged}},
		{"active throttled", tenant.StateActive, record{}, throttle, tenant.StateActive, nil},
		{"active broken wrapping", tenant.StateActive, record{}, broken, tenant.StateActive, nil},
		{"unavailable before the timer", tenant.StateKeyUnavailable, outage, disabled, tenant.StateKeyUnavailable, nil},
		{"unavailable suspends", tenant.StateKeyUnavailable, long, disabled, tenant.StateSuspended, []string{EventStateChanged}},
		{"unavailable suspends on a throttled probe", tenant.StateKeyUnavailable, long, throttle, tenant.StateSuspended, []string{EventStateChanged}},
		{"unavailable recovers", tenant.StateKeyUnavailable, outage, ok, tenant.StateActive, []string{EventStateChanged}},
		{"suspended recovers", tenant.StateSuspended, long, ok, tenant.StateActive, []string{EventStateChanged}},
		{"suspended archives", tenant.StateSuspended, week, denied, tenant.StateSuspended, []string{EventArchived}},
		{"archived stays on a passing probe", tenant.StateSuspended, archived, ok, tenant.StateSuspended, nil},
		{"deletion scheduled", tenant.StateActive, record{}, observation{Class: kms.PendingDeletion, DeletionDate: now.Add(hours(10 * 24))}, tenant.StateDeletionPending, []string{EventStateChanged}},
		{"deletion seen late warns once", tenant.StateActive, record{}, observation{Class: kms.PendingDeletion, DeletionDate: now.Add(hours(12))}, tenant.StateDeletionPending, []string{EventStateChanged, EventDeletionWarning}},
		{"pending, next threshold", tenant.StateDeletionPending, pending, observation{Class: kms.PendingDeletion}, tenant.StateDeletionPending, nil},
		{"pending, deletion cancelled, key left disabled", tenant.StateDeletionPending, pending, disabled, tenant.StateKeyUnavailable, []string{EventStateChanged}},
		{"pending, key gone", tenant.StateDeletionPending, pending, notFound, tenant.StateDestroyed, []string{EventStateChanged}},
		{"pending, deletion cancelled and key enabled", tenant.StateDeletionPending, pending, ok, tenant.StateActive, []string{EventStateChanged}},
		{"pending, throttled", tenant.StateDeletionPending, pending, throttle, tenant.StateDeletionPending, nil},
	}
	for _, c := range cases {
		d := mach.decide("acme", c.state, c.rec, c.obs, now)
		var types []string
		for _, ev := range d.Events {
			types = append(types, ev.Type)
			if ev.Tenant != "acme" || !ev.Time.Equal(now) {
				t.Errorf("%s: event %+v lacks tenant or time", c.name, ev)
			}
		}
		if d.State != c.want || !cmp.Equal(types, c.events) {
			t.Errorf("%s: decide() = %s with %v, want %s with %v", c.name, d.State, types, c.want, c.events)
		}
	}
}

// A deletion 12 hours away crosses both thresholds: one warning (the 1-day
// one), and no further one on the next probe.
func TestDeletionWarnOnce(t *testing.T) {
	o := observation{Class: kms.PendingDeletion, DeletionDate: now.Add(hours(12))}
	d := mach.decide("acme", tenant.StateActive, record{}, o, now)
	if d.Record.Warned != hours(24) || d.Events[1].Threshold != "24h0m0s" {
		t.Fatalf("decide() = %+v, want one warning at the 1-day threshold", d)
	}
	again := mach.decide("acme", d.State, d.Record, observation{Class: kms.PendingDeletion}, now.Add(time.Hour))
	if len(again.Events) != 0 || again.Record != d.Record {
		t.Fatalf("decide() again = %+v, want nothing new", again)
	}
}

func TestBucket(t *testing.T) {
	b := bucket{rate: 2, burst: 2, tokens: 2}
	got := 0
	for range 5 {
		if b.allow(now) {
			got++
		}
	}
	if got != 2 {
		t.Fatalf("allowed %d at once, want the burst of 2", got)
	}
	if !b.allow(now.Add(500*time.Millisecond)) || b.allow(now.Add(500*time.Millisecond)) {
		t.Fatal("after 0.5 s at 2/s, want exactly one more")
	}
	if b.allow(now) {
		t.Fatal("a clock going backwards refilled the bucket")
	}
}
