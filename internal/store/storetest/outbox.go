package storetest

import (
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

func event(id, tenant string, at time.Time) *store.OutboxEvent {
	return &store.OutboxEvent{ID: id, Type: "tenant.state_changed", Tenant: tenant, At: at,
		Body: []byte(`{"id":"` + id + `","tenant":"` + tenant + "\"}\x00\xff")}
}

func mustEnqueue(t *testing.T, s store.Store, e *store.OutboxEvent, want int) {
	t.Helper()
	if n, err := s.EnqueueEvent(ctx, e); err != nil || n != want {
		t.Fatalf("EnqueueEvent(%s) = %d, %v; want %d entries", e.ID, n, err, want)
	}
}

func outbox(t *testing.T, s store.Store, tenant, webhook string) []*store.Outbound {
	t.Helper()
	got, err := s.Outbox(ctx, tenant, webhook, 0)
	if err != nil {
		t.Fatalf("Outbox(%q) err = %v", webhook, err)
	}
	return got
}

func mustClaim(t *testing.T, s store.Store, now time.Time, limit int) []*store.Outbound {
	t.Helper()
	got, err := s.ClaimOutbox(ctx, now, time.Minute, limit)
	if err != nil {
		t.Fatalf("ClaimOutbox(%s) err = %v", now, err)
	}
	return got
}

// pending is what Outbox lists for an event not yet claimed.
func pending(seq int64, tenant, hook string, e *store.OutboxEvent) *store.Outbound {
	return &store.Outbound{Seq: seq, Tenant: tenant, Webhook: hook, Event: e.ID, Type: e.Type, Body: e.Body,
		CreatedAt: e.At, NextAttempt: e.At}
}

// An event goes to the subscriptions of its tenant and the platform-wide
// ones that exist when it is stored, once per event id.
func testOutbox(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "other")
	mustWebhook(t, s, "a-platform", "")
	mustWebhook(t, s, "b-acme", "acme")
	mustWebhook(t, s, "c-other", "other")
	e1 := event("evt_1", "acme", t0)
	mustEnqueue(t, s, e1, 2)
	mustEnqueue(t, s, e1, 0)
	mustWebhook(t, s, "d-late", "acme")
	e2 := event("evt_2", "", t0.Add(time.Second))
	mustEnqueue(t, s, e2, 1)
	all := outbox(t, s, "", "")
	if len(all) != 3 {
		t.Fatalf("Outbox() = %d entries, want 3", len(all))
	}
	first := all[0].Seq
	if all[0].Webhook == "b-acme" {
		// Entries of one statement come in no defined order.
		all[0], all[1] = all[1], all[0]
	}
	want := []*store.Outbound{pending(all[0].Seq, "", "a-platform", e1), pending(all[1].Seq, "acme", "b-acme", e1), pending(all[2].Seq, "", "a-platform", e2)}
	diff(t, "Outbox()", all, want)
	if all[2].Seq <= max(first, all[1].Seq) {
		t.Fatalf("Outbox() seqs %d, %d, %d: a later event must have a later seq", all[0].Seq, all[1].Seq, all[2].Seq)
	}
	diff(t, "Outbox(b-acme)", outbox(t, s, "acme", "b-acme"), want[1:2])
	if got := outbox(t, s, "acme", "d-late"); len(got) != 0 {
		t.Fatalf("Outbox(d-late) = %v: a subscription created after an event must not get it", got)
	}
	if got, _ := s.Outbox(ctx, "", "", 1); len(got) != 1 {
		t.Fatalf("Outbox(limit 1) = %d entries", len(got))
	}
}

// Claims lease due entries once, oldest first; a lapsed lease gives an
// entry back; only the claim's token reschedules or deletes.
func testOutboxClaim(t *testing.T, s store.Store) {
	hook := mustWebhook(t, s, "hook", "")
	for i := range 3 {
		mustEnqueue(t, s, event(fmt.Sprintf("evt_%d", i), "", t0.Add(time.Duration(i)*time.Second)), 1)
	}
	if got := mustClaim(t, s, t0.Add(-time.Microsecond), 10); len(got) != 0 {
		t.Fatalf("ClaimOutbox(before due) = %v, want none", got)
	}
	now := t0.Add(time.Second)
	got := mustClaim(t, s, now, 10)
	if len(got) != 2 || got[0].Event != "evt_0" || got[1].Event != "evt_1" || got[0].Claim == "" || got[0].Claim != got[1].Claim {
		t.Fatalf("ClaimOutbox(t0+1s) = %v, want evt_0 and evt_1 under one claim", got)
	}
	a := got[0]
	if a.URL != hook.URL || string(a.Secret) != string(hook.Secret) || !a.ClaimedUntil.Equal(now.Add(time.Minute)) || a.Attempts != 0 {
		t.Fatalf("claimed entry = %+v, want the webhook's URL and secret, leased until %s", a, now.Add(time.Minute))
	}
	if again := mustClaim(t, s, t0.Add(2*time.Second), 10); len(again) != 1 || again[0].Event != "evt_2" || again[0].Claim == a.Claim {
		t.Fatalf("ClaimOutbox(t0+2s) = %v, want only evt_2 under a new claim", again)
	}
	wantErr(t, "RescheduleOutbox(other claim)", s.RescheduleOutbox(ctx, a.Seq, "other", 1, t0.Add(10*time.Second)), store.ErrNotFound)
	if err := s.RescheduleOutbox(ctx, a.Seq, a.Claim, 1, t0.Add(10*time.Second)); err != nil {
		t.Fatalf("RescheduleOutbox() err = %v", err)
	}
	wantErr(t, "RescheduleOutbox(released)", s.RescheduleOutbox(ctx, a.Seq, a.Claim, 2, t0), store.ErrNotFound)
	if got := mustClaim(t, s, t0.Add(5*time.Second), 10); len(got) != 0 {
		t.Fatalf("ClaimOutbox(t0+5s) = %v, want none (rescheduled and leased)", got)
	}
	back := mustClaim(t, s, t0.Add(10*time.Second), 10)
	if len(back) != 1 || back[0].Seq != a.Seq || back[0].Attempts != 1 || !back[0].NextAttempt.Equal(t0.Add(10*time.Second)) {
		t.Fatalf("ClaimOutbox(t0+10s) = %v, want evt_0 with 1 attempt", back)
	}
	// The first claim's deliverer stalled past its lease: evt_1 comes back.
	b := got[1]
	lapsed := mustClaim(t, s, b.ClaimedUntil, 10)
	if len(lapsed) != 1 || lapsed[0].Seq != b.Seq {
		t.Fatalf("ClaimOutbox(lease lapsed) = %v, want evt_1 again", lapsed)
	}
	wantErr(t, "DeleteOutbox(lapsed claim)", s.DeleteOutbox(ctx, b.Seq, b.Claim), store.ErrNotFound)
	if err := s.DeleteOutbox(ctx, b.Seq, lapsed[0].Claim); err != nil {
		t.Fatalf("DeleteOutbox() err = %v", err)
	}
	wantErr(t, "DeleteOutbox(deleted)", s.DeleteOutbox(ctx, b.Seq, lapsed[0].Claim), store.ErrNotFound)
	if left := outbox(t, s, "", ""); len(left) != 2 || left[0].Event != "evt_0" || left[1].Event != "evt_2" {
		t.Fatalf("Outbox() = %v, want evt_0 and evt_2 left", left)
	}
}

func testOutboxErrors(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	bad := map[string]func(*store.OutboxEvent){
		"id":        func(e *store.OutboxEvent) { e.ID = "" },
		"long id":   func(e *store.OutboxEvent) { e.ID = strings.Repeat("e", store.MaxEventIDLen+1) },
		"type":      func(e *store.OutboxEvent) { e.Type = "" },
		"tenant":    func(e *store.OutboxEvent) { e.Tenant = "bad tenant" },
		"no body":   func(e *store.OutboxEvent) { e.Body = nil },
		"long body": func(e *store.OutboxEvent) { e.Body = make([]byte, store.MaxEventBodyLen+1) },
		"time":      func(e *store.OutboxEvent) { e.At = time.Time{} },
	}
	for name, mutate := range bad {
		e := event("evt_1", "acme", t0)
		mutate(e)
		_, err := s.EnqueueEvent(ctx, e)
		wantErr(t, "EnqueueEvent(bad "+name+")", err, store.ErrInvalid)
	}
	// No subscription: nothing to store, and no error.
	mustEnqueue(t, s, event("evt_1", "acme", t0), 0)
	for name, c := range map[string]struct {
		now   time.Time
		lease time.Duration
		limit int
	}{"time": {time.Time{}, time.Minute, 1}, "lease": {t0, 0, 1}, "limit": {t0, time.Minute, 0}, "big limit": {t0, time.Minute, store.MaxPageSize + 1}} {
		_, err := s.ClaimOutbox(ctx, c.now, c.lease, c.limit)
		wantErr(t, "ClaimOutbox(bad "+name+")", err, store.ErrInvalid)
	}
	wantErr(t, "RescheduleOutbox(no claim)", s.RescheduleOutbox(ctx, 1, "", 1, t0), store.ErrInvalid)
	wantErr(t, "RescheduleOutbox(no time)", s.RescheduleOutbox(ctx, 1, "c", 1, time.Time{}), store.ErrInvalid)
	wantErr(t, "RescheduleOutbox(missing)", s.RescheduleOutbox(ctx, 1, "c", 1, t0), store.ErrNotFound)
	wantErr(t, "DeleteOutbox(no claim)", s.DeleteOutbox(ctx, 1, ""), store.ErrInvalid)
	wantErr(t, "DeleteOutbox(missing)", s.DeleteOutbox(ctx, 1, "c"), store.ErrNotFound)
	_, err := s.Outbox(ctx, "", "Bad Id", 0)
	wantErr(t, "Outbox(bad id)", err, store.ErrInvalid)
	_, err = s.Outbox(ctx, "", "", store.MaxPageSize+1)
	wantErr(t, "Outbox(limit too big)", err, store.ErrInvalid)
}

// Entries go with their webhook, claimed or not, and with the tenant whose
// webhook it was; PruneHistory removes old ones.
func testOutboxCleanup(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustWebhook(t, s, "gone", "")
	mustWebhook(t, s, "acme-hook", "acme")
	mustEnqueue(t, s, event("evt_1", "acme", t0), 2)
	claimed := mustClaim(t, s, t0, 1)
	if len(claimed) != 1 {
		t.Fatalf("ClaimOutbox() = %v, want one entry", claimed)
	}
	for _, h := range [][2]string{{"", "gone"}, {"acme", "acme-hook"}} {
		if err := s.DeleteWebhook(ctx, h[0], h[1]); err != nil {
			t.Fatal(err)
		}
	}
	if left := outbox(t, s, "", ""); len(left) != 0 {
		t.Fatalf("Outbox() after the webhooks were deleted = %v, want none", left)
	}
	wantErr(t, "DeleteOutbox(webhook deleted)", s.DeleteOutbox(ctx, claimed[0].Seq, claimed[0].Claim), store.ErrNotFound)

	mustWebhook(t, s, "acme-hook", "acme")
	mustEnqueue(t, s, event("evt_2", "acme", t0), 1)
	if err := s.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if left := outbox(t, s, "", ""); len(left) != 0 {
		t.Fatalf("Outbox() after the tenant was deleted = %v, want none", left)
	}

	mustWebhook(t, s, "hook", "")
	for i := range 3 {
		mustEnqueue(t, s, event(fmt.Sprintf("evt_%d", i+3), "", t0.Add(time.Duration(i)*time.Hour)), 1)
	}
	if n, err := s.PruneHistory(ctx, t0.Add(90*time.Minute)); err != nil || n != 2 {
		t.Fatalf("PruneHistory() = %d, %v; want the 2 older entries", n, err)
	}
	if left := outbox(t, s, "", ""); len(left) != 1 || left[0].Event != "evt_5" {
		t.Fatalf("Outbox() after PruneHistory() = %v, want evt_5", left)
	}
}

// claimRace has claimers on both stores lease and delete entries until none
// are left; each entry must be leased exactly once.
func claimRace(t *testing.T, a, b store.Store) {
	const entries, claimers = 60, 6
	mustWebhook(t, a, "hook", "")
	for i := range entries {
		mustEnqueue(t, a, event(fmt.Sprintf("evt_%d", i), "", t0), 1)
	}
	var mu sync.Mutex
	seen := map[int64]int{}
	var wg sync.WaitGroup
	for i := range claimers {
		s := []store.Store{a, b}[i%2]
		wg.Go(func() {
			for {
				got, err := s.ClaimOutbox(ctx, t0, time.Hour, 4)
				if err != nil {
					t.Errorf("ClaimOutbox() err = %v", err)
					return
				}
				for _, o := range got {
					mu.Lock()
					seen[o.Seq]++
					mu.Unlock()
					if err := s.DeleteOutbox(ctx, o.Seq, o.Claim); err != nil {
						t.Errorf("DeleteOutbox(%d) err = %v", o.Seq, err)
					}
				}
				if left, err := s.Outbox(ctx, "", "", 1); err != nil || len(left) == 0 {
					return
				}
			}
		})
	}
	wg.Wait()
	if len(seen) != entries {
		t.Fatalf("claimed %d entries, want %d", len(seen), entries)
	}
	for seq, n := range seen {
		if n != 1 {
			t.Fatalf("entry %d claimed %d times, want once", seq, n)
		}
	}
}

// A tenant's change and the events it raises are stored together: a lost
// compare-and-swap stores no event, and an invalid event no change.
func testUpdateWithEvents(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustWebhook(t, s, "a-platform", "")
	mustWebhook(t, s, "b-acme", "acme")
	cur, err := s.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	suspend := func(t *tenant.Tenant) error { t.State = tenant.StateSuspended; return nil }

	_, n, err := s.UpdateTenantWithEvents(ctx, "acme", cur.Revision+1, suspend, []*store.OutboxEvent{event("evt_stale", "acme", t0)})
	wantErr(t, "UpdateTenantWithEvents(stale revision)", err, store.ErrConflict)
	// A change that lands between the read and the write (made here from
	// inside mutate) loses the compare-and-swap in the transaction, and the
	// events stored in it go with it.
	racing := func(next *tenant.Tenant) error {
		if _, err := s.UpdateTenant(ctx, "acme", cur.Revision, func(t *tenant.Tenant) error { t.Name = "Raced"; return nil }); err != nil {
			return err
		}
		return suspend(next)
	}
	_, n2, err := s.UpdateTenantWithEvents(ctx, "acme", cur.Revision, racing, []*store.OutboxEvent{event("evt_raced", "acme", t0)})
	wantErr(t, "UpdateTenantWithEvents(raced)", err, store.ErrConflict)
	if n+n2 != 0 || len(outbox(t, s, "", "")) != 0 {
		t.Fatalf("a lost compare-and-swap stored events: %+v", outbox(t, s, "", ""))
	}
	if cur, err = s.GetTenant(ctx, "acme"); err != nil || cur.Name != "Raced" || cur.State == tenant.StateSuspended {
		t.Fatalf("after the race the tenant is %+v, %v; want the racing rename only", cur, err)
	}
	bad := event("evt_bad", "acme", t0)
	bad.Type = ""
	_, _, err = s.UpdateTenantWithEvents(ctx, "acme", cur.Revision, suspend, []*store.OutboxEvent{bad})
	wantErr(t, "UpdateTenantWithEvents(invalid event)", err, store.ErrInvalid)
	if got, _ := s.GetTenant(ctx, "acme"); got.Revision != cur.Revision {
		t.Fatalf("an invalid event let the change through: revision %d, want %d", got.Revision, cur.Revision)
	}

	e1, e2 := event("evt_1", "acme", t0), event("evt_2", "acme", t0)
	next, n, err := s.UpdateTenantWithEvents(ctx, "acme", cur.Revision, suspend, []*store.OutboxEvent{e1, e2})
	if err != nil || n != 4 || next.State != tenant.StateSuspended || next.Revision != cur.Revision+1 {
		t.Fatalf("UpdateTenantWithEvents() = %+v, %d, %v; want suspended at the next revision, 4 entries", next, n, err)
	}
	if got, _ := s.GetTenant(ctx, "acme"); got.State != tenant.StateSuspended {
		t.Fatalf("stored state = %s, want suspended", got.State)
	}
	if got := outbox(t, s, "acme", "b-acme"); len(got) != 2 || got[0].Event != "evt_1" || got[1].Event != "evt_2" {
		t.Fatalf("b-acme's outbox = %+v, want evt_1 and evt_2", got)
	}
	// Without events it is UpdateTenant.
	if _, n, err := s.UpdateTenantWithEvents(ctx, "acme", next.Revision, func(t *tenant.Tenant) error { t.Name = "Acme 2"; return nil }, nil); err != nil || n != 0 {
		t.Fatalf("UpdateTenantWithEvents(no events) = %d, %v", n, err)
	}
}
