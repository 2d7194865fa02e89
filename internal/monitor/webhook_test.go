package monitor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

// receiver is a webhook endpoint that verifies each delivery as the
// documentation tells receivers to, and answers from a script of statuses
// (the last one repeats).
type receiver struct {
	t        *testing.T
	srv      *httptest.Server
	secret   []byte
	statuses []int
	// now is the receiver's clock, time.Now unless the test moves it.
	now func() time.Time
	// hold, when set, keeps requests waiting until it is closed or the
	// sender gives up; arrived then receives each request's event id.
	hold, arrived chan string
	mu            sync.Mutex
	got           []monitor.Event
	bodies        map[string][][]byte // every request's body by event id
	calls         int
}

func newReceiver(t *testing.T, statuses ...int) *receiver {
	r := &receiver{t: t, statuses: statuses, now: time.Now, bodies: map[string][][]byte{}}
	r.srv = httptest.NewServer(http.HandlerFunc(r.serve))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *receiver) serve(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	if r.hold != nil {
		r.arrived <- req.Header.Get(monitor.EventIDHeader)
		select {
		case <-r.hold:
		case <-req.Context().Done():
			return
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	status := r.statuses[min(r.calls, len(r.statuses)-1)]
	r.calls++
	id := req.Header.Get(monitor.EventIDHeader)
	r.bodies[id] = append(r.bodies[id], body)
	if err := monitor.Verify(r.secret, req.Header.Get(monitor.SignatureHeader), body, r.now(), 0); err != nil {
		r.t.Errorf("delivery signature: %v", err)
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	var ev monitor.Event
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(monitor.EventIDHeader) {
		r.t.Errorf("delivery body %s: %v", body, err)
	}
	if status == http.StatusOK {
		r.got = append(r.got, ev)
	}
	w.WriteHeader(status)
}

func (r *receiver) events() []monitor.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]monitor.Event(nil), r.got...)
}

// received returns a copy of every request body by event id.
func (r *receiver) received() map[string][][]byte {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := map[string][][]byte{}
	for id, bs := range r.bodies {
		out[id] = append([][]byte(nil), bs...)
	}
	return out
}

func (r *receiver) callCount() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.calls
}

// testConfig retries within milliseconds and polls often; receivers are
// httptest servers on 127.0.0.1, so private networks are allowed.
func testConfig(s store.Store) monitor.WebhookConfig {
	return monitor.WebhookConfig{Store: s, MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond,
		PollInterval: 5 * time.Millisecond, AllowHTTP: true, AllowPrivateNetworks: true, Logger: quiet}
}

func newWebhooks(t *testing.T, s store.Store) *monitor.Webhooks {
	t.Helper()
	w := build(t, testConfig(s))
	run(t, w)
	return w
}

func build(t *testing.T, cfg monitor.WebhookConfig) *monitor.Webhooks {
	t.Helper()
	w, err := monitor.NewWebhooks(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// run runs w until the test ends or the returned stop is called, which
// waits for Run to return.
func run(t *testing.T, w *monitor.Webhooks) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() { w.Run(ctx); close(done) }()
	stop = func() { cancel(); <-done }
	t.Cleanup(stop)
	return stop
}

// waitFor polls cond with a deadline generous enough for a loaded machine.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if cond() {
			return
		}
	}
	t.Fatalf("timed out waiting for %s", what)
}

// waitOutbox waits until the outbox holds exactly n entries and returns them.
func waitOutbox(t *testing.T, s store.Store, n int) []*store.Outbound {
	t.Helper()
	var got []*store.Outbound
	waitFor(t, fmt.Sprintf("%d outbox entries", n), func() bool {
		var err error
		if got, err = s.Outbox(ctx, "", "", 0); err != nil {
			t.Fatal(err)
		}
		return len(got) == n
	})
	return got
}

func subscribe(t *testing.T, w *monitor.Webhooks, id, tenant string, r *receiver) {
	t.Helper()
	h, err := w.Subscribe(ctx, id, tenant, r.srv.URL+"/hook")
	if err != nil {
		t.Fatalf("Subscribe(%s) err = %v", id, err)
	}
	r.secret = h.Secret
}

// waitDeliveries waits until the webhook has n delivery records.
func waitDeliveries(t *testing.T, w *monitor.Webhooks, tenant, id string, n int) []*store.Delivery {
	t.Helper()
	for deadline := time.Now().Add(10 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		ds, err := w.Deliveries(ctx, tenant, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) >= n {
			return ds
		}
	}
	t.Fatalf("webhook %s: fewer than %d deliveries recorded", id, n)
	return nil
}

// A disabled key is announced, signed, to the tenant's webhook and to the
// platform-wide one; a receiver failing twice gets the event on the third
// attempt, one always failing is given up on after MaxAttempts, and every
// attempt is recorded.
func TestWebhooks(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	e.tenant(t, "other")
	w := newWebhooks(t, e.store)
	flaky, platform, dead := newReceiver(t, 500, 500, 200), newReceiver(t, 200), newReceiver(t, 503)
	subscribe(t, w, "acme-flaky", "acme", flaky)
	subscribe(t, w, "platform", "", platform)
	subscribe(t, w, "acme-dead", "acme", dead)
	m := e.monitor(t, func(c *monitor.Config) { c.Notifier = w })
	e.step(m, time.Minute)
	e.disable(t)
	e.step(m, time.Minute)

	ds := waitDeliveries(t, w, "acme", "acme-flaky", 3)
	if ds[0].Attempt != 3 || ds[0].Status != 200 || ds[0].Error != "" || ds[2].Status != 500 || ds[2].Error == "" {
		t.Fatalf("flaky deliveries = %+v, want 500, 500, then 200 on attempt 3", ds)
	}
	waitDeliveries(t, w, "", "platform", 2)
	waitOutbox(t, e.store, 0) // given up on: no fourth attempt can come
	if ds, _ = w.Deliveries(ctx, "acme", "acme-dead", 0); len(ds) != 3 || ds[0].Status != 503 {
		t.Fatalf("dead receiver deliveries = %+v, want exactly 3 failed attempts", ds)
	}
	got := flaky.events()
	if len(got) != 1 || got[0].Type != monitor.EventStateChanged || got[0].Tenant != "acme" || got[0].NewState != tenant.StateKeyUnavailable ||
		got[0].OldState != tenant.StateActive || got[0].Reason != "key_disabled" || got[0].KMSRequestID == "" || got[0].Time.IsZero() {
		t.Fatalf("tenant webhook got %+v, want acme's state change with reason and request id", got)
	}
	tenants := map[string]bool{}
	for _, ev := range platform.events() {
		tenants[ev.Tenant] = true
	}
	if !tenants["acme"] || !tenants["other"] {
		t.Fatalf("platform webhook got events of %v, want both tenants", tenants)
	}
}

// A 4xx other than 408 and 429 is the receiver refusing: no retry.
func TestWebhookRefusalNotRetried(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	w := newWebhooks(t, e.store)
	r := newReceiver(t, 400)
	subscribe(t, w, "hook", "acme", r)
	w.Notify(monitor.Event{ID: "evt_1", Type: monitor.EventStateChanged, Tenant: "acme", Time: time.Now()})
	waitDeliveries(t, w, "acme", "hook", 1)
	waitOutbox(t, e.store, 0)
	if ds, _ := w.Deliveries(ctx, "acme", "hook", 0); len(ds) != 1 || ds[0].Status != 400 {
		t.Fatalf("deliveries = %+v, want one refused attempt", ds)
	}
}

func TestSubscribeErrors(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	w, err := monitor.NewWebhooks(monitor.WebhookConfig{Store: e.store, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	cases := []struct{ id, tenant, url, code string }{
		{"h", "acme", "http://example.com/hook", "invalid_webhook_url"}, // https only unless allowed
		{"h", "acme", "https:///path", "invalid_webhook_url"},
		{"h", "acme", "https://user:pw@example.com/", "invalid_webhook_url"},
		{"h", "acme", "https://example.com/#frag", "invalid_webhook_url"},
		{"h", "acme", "ftp://example.com/", "invalid_webhook_url"},
		{"h", "acme", "", "invalid_webhook_url"},
		{"h", "acme", "https://example.com/" + strings.Repeat("a", store.MaxURLLen), "invalid_webhook_url"},
		{"H!", "acme", "https://example.com/", "invalid_webhook_id"},
		{"h", "nobody", "https://example.com/", "tenant_not_found"},
	}
	for _, c := range cases {
		if _, err := w.Subscribe(ctx, c.id, c.tenant, c.url); monitor.Code(err) != c.code {
			t.Errorf("Subscribe(%q, %q, %q) err = %v, want %s", c.id, c.tenant, c.url, err, c.code)
		}
	}
	h, err := w.Subscribe(ctx, "h", "acme", "https://example.com/hook")
	if err != nil || len(h.Secret) != 32 {
		t.Fatalf("Subscribe(valid) = %+v, %v; want a 32-byte secret", h, err)
	}
	if _, err := w.Subscribe(ctx, "h", "acme", "https://example.com/other"); monitor.Code(err) != "webhook_exists" {
		t.Fatalf("Subscribe(duplicate) err = %v, want webhook_exists", err)
	}
	// Names are the owner's: the platform-wide scope has its own.
	if _, err := w.Subscribe(ctx, "h", "", "https://example.com/other"); err != nil {
		t.Fatalf("Subscribe(platform-wide, name of acme's) err = %v", err)
	}
	if err := w.Unsubscribe(ctx, "acme", "h"); err != nil {
		t.Fatal(err)
	}
	if _, err := w.Owned(ctx, "h", ""); err != nil {
		t.Fatalf("Owned(h, platform) after acme's h was removed: %v", err)
	}
	if err := w.Unsubscribe(ctx, "acme", "h"); monitor.Code(err) != "webhook_not_found" {
		t.Fatalf("Unsubscribe(missing) err = %v, want webhook_not_found", err)
	}
	if _, err := monitor.NewWebhooks(monitor.WebhookConfig{}); monitor.Code(err) != "invalid_config" {
		t.Fatalf("NewWebhooks(no store) err = %v, want invalid_config", err)
	}
}

// With the database down, Notify gives up after NotifyTimeout and counts
// the event as dropped: the monitor goes on probing.
func TestNotifyDatabaseDown(t *testing.T) {
	e := newEnv(t)
	cfg := testConfig(e.store)
	cfg.NotifyTimeout = time.Second
	w := build(t, cfg)
	e.store.Close()
	done := make(chan struct{})
	go func() {
		w.Notify(monitor.Event{ID: "evt_1", Type: monitor.EventStateChanged, Tenant: "acme", Time: time.Now()})
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(time.Minute):
		t.Fatal("Notify() did not return with the database down")
	}
	if w.Dropped() != 1 {
		t.Fatalf("Dropped() = %d, want 1", w.Dropped())
	}
}

func TestVerify(t *testing.T) {
	secret := []byte("0123456789abcdef0123456789abcdef")
	body := []byte(`{"id":"evt_1"}`)
	now := time.Unix(1_800_000_000, 0)
	h := monitor.Sign(secret, now, body)
	if err := monitor.Verify(secret, h, body, now.Add(time.Minute), 0); err != nil {
		t.Fatalf("Verify(valid) err = %v", err)
	}
	// A second v1 (a secret being changed) is accepted.
	if err := monitor.Verify(secret, "v1=00,"+h, body, now, 0); err != nil {
		t.Fatalf("Verify(two signatures) err = %v", err)
	}
	cases := []struct {
		name   string
		secret []byte
		header string
		body   []byte
		at     time.Time
		want   error
	}{
		{"other secret", []byte("another secret, 32 bytes long..."), h, body, now, monitor.ErrBadSignature},
		{"body changed", secret, h, []byte(`{"id":"evt_2"}`), now, monitor.ErrBadSignature},
		{"replayed late", secret, h, body, now.Add(6 * time.Minute), monitor.ErrStaleSignature},
		{"from the future", secret, h, body, now.Add(-6 * time.Minute), monitor.ErrStaleSignature},
		{"no timestamp", secret, h[strings.Index(h, ",")+1:], body, now, monitor.ErrBadSignature},
		{"empty", secret, "", body, now, monitor.ErrBadSignature},
		{"timestamp swapped", secret, strings.Replace(h, "t=1800000000", "t=1800000001", 1), body, now, monitor.ErrBadSignature},
	}
	for _, c := range cases {
		if err := monitor.Verify(c.secret, c.header, c.body, c.at, 0); !errors.Is(err, c.want) {
			t.Errorf("Verify(%s) err = %v, want %v", c.name, err, c.want)
		}
	}
}

// List shows a tenant its own subscriptions only, and Owned finds a
// subscription only for its tenant: another tenant's, or a platform-wide
// one asked for as a tenant's, is not found.
func TestListAndOwned(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	e.tenant(t, "other")
	w := newWebhooks(t, e.store)
	for _, s := range [][2]string{{"acme-hook", "acme"}, {"other-hook", "other"}, {"ops", ""}} {
		if _, err := w.Subscribe(ctx, s[0], s[1], "https://example.com/"+s[0]); err != nil {
			t.Fatal(err)
		}
	}
	for tenant, want := range map[string]string{"acme": "acme-hook", "other": "other-hook", "": "ops"} {
		hooks, err := w.List(ctx, tenant)
		if err != nil || len(hooks) != 1 || hooks[0].ID != want {
			t.Errorf("List(%q) = %v, %v; want only %s", tenant, hooks, err, want)
		}
	}
	if h, err := w.Owned(ctx, "acme-hook", "acme"); err != nil || h.Tenant != "acme" {
		t.Errorf("Owned(acme-hook, acme) = %+v, %v", h, err)
	}
	if h, err := w.Owned(ctx, "ops", ""); err != nil || h.Tenant != "" {
		t.Errorf("Owned(ops, \"\") = %+v, %v", h, err)
	}
	for _, c := range [][2]string{{"other-hook", "acme"}, {"ops", "acme"}, {"acme-hook", ""}, {"missing", "acme"}} {
		if _, err := w.Owned(ctx, c[0], c[1]); !errors.Is(err, monitor.ErrWebhookNotFound) {
			t.Errorf("Owned(%s, %q) err = %v, want ErrWebhookNotFound", c[0], c[1], err)
		}
	}
	if _, err := w.Owned(ctx, "Bad!", "acme"); monitor.Code(err) != "invalid_webhook_id" {
		t.Errorf("Owned(bad id) err = %v, want invalid_webhook_id", err)
	}
	if _, err := w.Deliveries(ctx, "acme", "Bad!", 0); monitor.Code(err) != "invalid_webhook_id" {
		t.Errorf("Deliveries(bad id) err = %v, want invalid_webhook_id", err)
	}
}
