package storetest

import (
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

var t0 = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

func health(tenant string, at time.Time, o store.Outcome) *store.HealthRecord {
	r := &store.HealthRecord{Tenant: tenant, At: at, Outcome: o, Version: 3,
		Key: "arn:aws:kms:eu-west-1:111122223333:key/k", RequestID: "req-" + at.Format("150405.000")}
	if o != store.OutcomeOK {
		r.Code, r.Detail = "key_disabled", "kms: unwrap: key is disabled"
	}
	return r
}

func testHealth(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "other")
	var want []*store.HealthRecord
	for i, o := range []store.Outcome{store.OutcomeOK, store.OutcomeDegraded, store.OutcomeUnavailable, store.OutcomeError} {
		r := health("acme", t0.Add(time.Duration(i)*time.Minute), o)
		if err := s.AddHealth(ctx, r); err != nil {
			t.Fatalf("AddHealth(%s) err = %v", o, err)
		}
		want = append([]*store.HealthRecord{r}, want...)
	}
	// Same time twice: insertion order breaks the tie.
	tie := health("acme", want[0].At, store.OutcomeOK)
	if err := s.AddHealth(ctx, tie); err != nil {
		t.Fatal(err)
	}
	want = append([]*store.HealthRecord{tie}, want...)
	if err := s.AddHealth(ctx, health("other", t0, store.OutcomeOK)); err != nil {
		t.Fatal(err)
	}
	got, err := s.Health(ctx, "acme", 0)
	if err != nil {
		t.Fatalf("Health() err = %v", err)
	}
	diff(t, "Health()", got, want)
	got, _ = s.Health(ctx, "acme", 2)
	diff(t, "Health(limit 2)", got, want[:2])
	if got, _ := s.Health(ctx, "nobody", 0); len(got) != 0 {
		t.Fatalf("Health(unknown tenant) = %v, want none", got)
	}
}

func testHealthErrors(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	wantErr(t, "AddHealth(unknown tenant)", s.AddHealth(ctx, health("nobody", t0, store.OutcomeOK)), store.ErrNotFound)
	bad := map[string]func(*store.HealthRecord){
		"tenant":  func(r *store.HealthRecord) { r.Tenant = "bad tenant" },
		"outcome": func(r *store.HealthRecord) { r.Outcome = "fine" },
		"time":    func(r *store.HealthRecord) { r.At = time.Time{} },
		"detail":  func(r *store.HealthRecord) { r.Detail = strings.Repeat("x", store.MaxDetailLen+1) },
		"nul":     func(r *store.HealthRecord) { r.RequestID = "a\x00" },
	}
	for name, mutate := range bad {
		r := health("acme", t0, store.OutcomeDegraded)
		mutate(r)
		wantErr(t, "AddHealth(bad "+name+")", s.AddHealth(ctx, r), store.ErrInvalid)
	}
	_, err := s.Health(ctx, "acme", store.MaxPageSize+1)
	wantErr(t, "Health(limit too big)", err, store.ErrInvalid)
	_, err = s.Health(ctx, "bad tenant", 0)
	wantErr(t, "Health(bad tenant)", err, store.ErrInvalid)
}

func webhook(id, tenant string) *store.Webhook {
	return &store.Webhook{ID: id, Tenant: tenant, URL: "https://hooks.example.com/" + id, Secret: []byte("0123456789abcdef-" + id)}
}

func mustWebhook(t *testing.T, s store.Store, id, tenant string) *store.Webhook {
	t.Helper()
	w, err := s.CreateWebhook(ctx, webhook(id, tenant))
	if err != nil {
		t.Fatalf("CreateWebhook(%s) err = %v", id, err)
	}
	if w.CreatedAt.IsZero() || w.ID != id {
		t.Fatalf("CreateWebhook(%s) = %+v, want its id and a creation time", id, w)
	}
	return w
}

func testWebhooks(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "other")
	all := mustWebhook(t, s, "a-platform", "")
	acme := mustWebhook(t, s, "b-acme", "acme")
	mustWebhook(t, s, "c-other", "other")
	got, err := s.Webhooks(ctx, "acme")
	if err != nil {
		t.Fatalf("Webhooks(acme) err = %v", err)
	}
	diff(t, "Webhooks(acme)", got, []*store.Webhook{all, acme})
	got, _ = s.Webhooks(ctx, "")
	diff(t, "Webhooks(platform)", got, []*store.Webhook{all})
	one, err := s.Webhook(ctx, "acme", "b-acme")
	if err != nil {
		t.Fatalf("Webhook(b-acme) err = %v", err)
	}
	diff(t, "Webhook(b-acme)", []*store.Webhook{one}, []*store.Webhook{acme})
	if _, err := s.Webhook(ctx, "other", "b-acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("Webhook(other, b-acme) err = %v, want ErrNotFound: another tenant's name", err)
	}
	wantErr(t, "DeleteWebhook(other, b-acme)", s.DeleteWebhook(ctx, "other", "b-acme"), store.ErrNotFound)
	wantErr(t, "DeleteWebhook(platform, b-acme)", s.DeleteWebhook(ctx, "", "b-acme"), store.ErrNotFound)
	if err := s.DeleteWebhook(ctx, "acme", "b-acme"); err != nil {
		t.Fatalf("DeleteWebhook() err = %v", err)
	}
	got, _ = s.Webhooks(ctx, "acme")
	diff(t, "Webhooks(acme) after delete", got, []*store.Webhook{all})
}

func testWebhookErrors(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustWebhook(t, s, "hook", "acme")
	_, err := s.CreateWebhook(ctx, webhook("hook", "acme"))
	wantErr(t, "CreateWebhook(duplicate)", err, store.ErrConflict)
	mustWebhook(t, s, "plat", "")
	_, err = s.CreateWebhook(ctx, webhook("plat", ""))
	wantErr(t, "CreateWebhook(duplicate platform-wide)", err, store.ErrConflict)
	_, err = s.CreateWebhook(ctx, webhook("lost", "nobody"))
	wantErr(t, "CreateWebhook(unknown tenant)", err, store.ErrNotFound)
	bad := map[string]func(*store.Webhook){
		"id":     func(w *store.Webhook) { w.ID = "Hook!" },
		"tenant": func(w *store.Webhook) { w.Tenant = "bad tenant" },
		"url":    func(w *store.Webhook) { w.URL = "" },
		"secret": func(w *store.Webhook) { w.Secret = []byte("short") },
	}
	for name, mutate := range bad {
		w := webhook("x", "")
		mutate(w)
		_, err := s.CreateWebhook(ctx, w)
		wantErr(t, "CreateWebhook(bad "+name+")", err, store.ErrInvalid)
	}
	_, err = s.Webhook(ctx, "", "missing")
	wantErr(t, "Webhook(missing)", err, store.ErrNotFound)
	_, err = s.Webhook(ctx, "acme", "Bad Id")
	wantErr(t, "Webhook(bad id)", err, store.ErrInvalid)
	_, err = s.Webhook(ctx, "bad tenant", "hook")
	wantErr(t, "Webhook(bad tenant)", err, store.ErrInvalid)
	wantErr(t, "DeleteWebhook(missing)", s.DeleteWebhook(ctx, "acme", "missing"), store.ErrNotFound)
	wantErr(t, "DeleteWebhook(bad id)", s.DeleteWebhook(ctx, "", "Bad Id"), store.ErrInvalid)
	// Deleting the tenant takes its subscriptions with it.
	if err := s.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Webhooks(ctx, "acme"); len(got) != 1 || got[0].ID != "plat" {
		t.Fatalf("Webhooks() after the tenant was deleted = %v, want the platform-wide one only", got)
	}
}

func delivery(hook string, attempt int, at time.Time, status int) *store.Delivery {
	d := &store.Delivery{Webhook: hook, Event: "evt_1", Attempt: attempt, At: at, Status: status}
	if status != 200 {
		d.Error = fmt.Sprintf("status %d", status)
	}
	return d
}

func testDeliveries(t *testing.T, s store.Store) {
	mustWebhook(t, s, "hook", "")
	mustWebhook(t, s, "quiet", "")
	var want []*store.Delivery
	for i, status := range []int{500, 0, 200} {
		d := delivery("hook", i+1, t0.Add(time.Duration(i)*time.Second), status)
		if err := s.AddDelivery(ctx, d); err != nil {
			t.Fatalf("AddDelivery(%d) err = %v", i+1, err)
		}
		want = append([]*store.Delivery{d}, want...)
	}
	got, err := s.Deliveries(ctx, "", "hook", 0)
	if err != nil {
		t.Fatalf("Deliveries() err = %v", err)
	}
	diff(t, "Deliveries()", got, want)
	if got, _ := s.Deliveries(ctx, "", "quiet", 0); len(got) != 0 {
		t.Fatalf("Deliveries(quiet) = %v, want none", got)
	}
	wantErr(t, "AddDelivery(unknown webhook)", s.AddDelivery(ctx, delivery("gone", 1, t0, 200)), store.ErrNotFound)
	wantErr(t, "AddDelivery(attempt 0)", s.AddDelivery(ctx, delivery("hook", 0, t0, 200)), store.ErrInvalid)
	_, err = s.Deliveries(ctx, "", "Bad Id", 0)
	wantErr(t, "Deliveries(bad id)", err, store.ErrInvalid)
	if err := s.DeleteWebhook(ctx, "", "hook"); err != nil {
		t.Fatal(err)
	}
	if got, _ := s.Deliveries(ctx, "", "hook", 0); len(got) != 0 {
		t.Fatalf("Deliveries() of a deleted webhook = %v, want none", got)
	}
}

func testPruneHistory(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustWebhook(t, s, "hook", "")
	for i := range 3 {
		at := t0.Add(time.Duration(i) * time.Hour)
		if err := s.AddHealth(ctx, health("acme", at, store.OutcomeOK)); err != nil {
			t.Fatal(err)
		}
		if err := s.AddDelivery(ctx, delivery("hook", i+1, at, 200)); err != nil {
			t.Fatal(err)
		}
	}
	n, err := s.PruneHistory(ctx, t0.Add(90*time.Minute))
	if err != nil || n != 4 {
		t.Fatalf("PruneHistory() = %d, %v; want 4 records (2 health, 2 deliveries)", n, err)
	}
	hs, _ := s.Health(ctx, "acme", 0)
	ds, _ := s.Deliveries(ctx, "", "hook", 0)
	if len(hs) != 1 || len(ds) != 1 || !hs[0].At.Equal(t0.Add(2*time.Hour)) {
		t.Fatalf("after PruneHistory() health = %v, deliveries = %v; want the newest one of each", hs, ds)
	}
}

// testSameNameOwners gives a tenant, another tenant and the platform a
// webhook of the same name: each is its own subscription, with its own
// deliveries and outbox entries, and deleting one leaves the others.
func testSameNameOwners(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "other")
	owners := []string{"", "acme", "other"}
	for _, o := range owners {
		mustWebhook(t, s, "alerts", o)
	}
	for i, o := range owners {
		d := delivery("alerts", i+1, t0, 200)
		d.Tenant = o
		if err := s.AddDelivery(ctx, d); err != nil {
			t.Fatalf("AddDelivery(%q) err = %v", o, err)
		}
	}
	ev := &store.OutboxEvent{ID: "evt_acme", Type: "tenant.state_changed", Tenant: "acme", Body: []byte("{}"), At: t0}
	if n, err := s.EnqueueEvent(ctx, ev); n != 2 || err != nil {
		t.Fatalf("EnqueueEvent(acme) = %d, %v; want 2 (acme's and the platform's)", n, err)
	}
	for i, o := range owners {
		ds, err := s.Deliveries(ctx, o, "alerts", 0)
		if err != nil || len(ds) != 1 || ds[0].Attempt != i+1 || ds[0].Tenant != o {
			t.Fatalf("Deliveries(%q, alerts) = %+v, %v; want its own attempt %d only", o, ds, err, i+1)
		}
		out, err := s.Outbox(ctx, o, "alerts", 0)
		if want := map[string]int{"": 1, "acme": 1}[o]; err != nil || len(out) != want || (want == 1 && out[0].Tenant != o) {
			t.Fatalf("Outbox(%q, alerts) = %+v, %v; want %d entries of its own", o, out, err, want)
		}
	}
	if err := s.DeleteWebhook(ctx, "acme", "alerts"); err != nil {
		t.Fatal(err)
	}
	for _, o := range []string{"", "other"} {
		if ds, _ := s.Deliveries(ctx, o, "alerts", 0); len(ds) != 1 {
			t.Fatalf("Deliveries(%q, alerts) after acme's was deleted = %v, want its own", o, ds)
		}
	}
	if out, _ := s.Outbox(ctx, "", "alerts", 0); len(out) != 1 {
		t.Fatalf("platform outbox after acme's webhook was deleted = %v, want its entry", out)
	}
}
