package server

import (
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/monitor"
)

// hookReceiver records the deliveries whose signature verifies under its
// secret, set once the subscription exists.
type hookReceiver struct {
	srv    *httptest.Server
	mu     sync.Mutex
	secret []byte
	events []monitor.Event
	bad    int
}

func newHookReceiver(t *testing.T) *hookReceiver {
	r := &hookReceiver{}
	r.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, req *http.Request) {
		body, _ := io.ReadAll(req.Body)
		r.mu.Lock()
		defer r.mu.Unlock()
		var ev monitor.Event
		if monitor.Verify(r.secret, req.Header.Get(monitor.SignatureHeader), body, time.Now(), 0) != nil || json.Unmarshal(body, &ev) != nil {
			r.bad++
			w.WriteHeader(http.StatusUnauthorized)
			return
		}
		r.events = append(r.events, ev)
	}))
	t.Cleanup(r.srv.Close)
	return r
}

func (r *hookReceiver) setSecret(t *testing.T, hexSecret string) {
	b, err := hex.DecodeString(hexSecret)
	if err != nil || len(b) != 32 {
		t.Fatalf("secret %q is not 32 bytes of hex", hexSecret)
	}
	r.mu.Lock()
	r.secret = b
	r.mu.Unlock()
}

func (r *hookReceiver) got() ([]monitor.Event, int) {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]monitor.Event(nil), r.events...), r.bad
}

// scoped issues a token of role scoped to tenant.
func (e *env) scoped(role auth.Role, tenant string) *client.Client {
	p, err := e.tokens.Authenticate(bg, e.owner)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.tokens.Issue(bg, p, auth.IssueRequest{Role: role, Tenant: tenant, Name: string(role) + " of " + tenant})
	if err != nil {
		e.t.Fatal(err)
	}
	return e.client(tok)
}

// webhookRoutes subscribes a receiver to tenant adm's events and one
// platform-wide, delivers an event, reads the deliveries and unsubscribes,
// as the owner and as adm's own admin; the other tenant's admin reaches
// none of adm's webhooks, and naming its own webhook as adm named one
// tells it nothing of adm's: the two are two webhooks.
func webhookRoutes(t *testing.T, e *env, run subtest) {
	owner, admAdmin, otherAdmin := e.client(e.owner), e.scoped(auth.RoleAdmin, "adm"), e.scoped(auth.RoleAdmin, "other")
	rcv, rcvOther := newHookReceiver(t), newHookReceiver(t)
	url := rcv.srv.URL + "/hook"
	run("POST /v1/tenants/{id}/webhooks", func(t *testing.T) {
		h, err := admAdmin.CreateWebhook(bg, "adm", "adm-hook", url)
		if err != nil || h.ID != "adm-hook" || h.Tenant != "adm" || h.URL != url || h.Created.IsZero() {
			t.Fatalf("CreateWebhook(adm) = %+v, %v", h, err)
		}
		rcv.setSecret(t, h.Secret)
		_, err = admAdmin.CreateWebhook(bg, "adm", "adm-hook", url)
		wantCode(t, err, "webhook_exists", http.StatusConflict)
		oh, err := otherAdmin.CreateWebhook(bg, "other", "adm-hook", rcvOther.srv.URL+"/hook")
		if err != nil || oh.Tenant != "other" || oh.ID != "adm-hook" {
			t.Fatalf("CreateWebhook(other, adm's name) = %+v, %v; want 201 and other's own webhook", oh, err)
		}
		rcvOther.setSecret(t, oh.Secret)
		_, err = owner.CreateWebhook(bg, "adm", "x", "ftp://example.com/")
		wantCode(t, err, "invalid_webhook_url", http.StatusBadRequest)
		_, err = owner.CreateWebhook(bg, "adm", "Not Valid", url)
		wantCode(t, err, "invalid_webhook_id", http.StatusBadRequest)
		_, err = owner.CreateWebhook(bg, "nobody", "x", url)
		wantCode(t, err, "tenant_not_found", http.StatusNotFound)
		_, err = otherAdmin.CreateWebhook(bg, "adm", "sneaky", url)
		wantCode(t, err, "forbidden", http.StatusForbidden)
		_, err = e.client(e.other).CreateWebhook(bg, "other", "member-hook", url)
		wantCode(t, err, "forbidden", http.StatusForbidden)
		if ev := e.audit.find(string(auth.WebhookManage), "adm"); len(ev) == 0 || ev[0].Outcome != "ok" {
			t.Fatalf("audit events of the subscription = %+v, want one ok", ev)
		}
	})
	run("POST /v1/webhooks", func(t *testing.T) {
		h, err := owner.CreateWebhook(bg, "", "ops", "https://ops.example.com/byok")
		if err != nil || h.Tenant != "" || len(h.Secret) != 64 {
			t.Fatalf("CreateWebhook(platform-wide) = %+v, %v", h, err)
		}
		_, err = admAdmin.CreateWebhook(bg, "", "adm-wide", url)
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("GET /v1/tenants/{id}/webhooks", func(t *testing.T) {
		hs, err := e.scoped(auth.RoleAuditor, "adm").Webhooks(bg, "adm")
		if err != nil || len(hs) != 1 || hs[0].ID != "adm-hook" || hs[0].Tenant != "adm" || hs[0].URL != url || hs[0].Secret != "" {
			t.Fatalf("Webhooks(adm) = %+v, %v; want adm-hook alone, without its secret", hs, err)
		}
		if hs, err := otherAdmin.Webhooks(bg, "other"); err != nil || len(hs) != 1 || hs[0].Tenant != "other" || hs[0].URL == url {
			t.Fatalf("Webhooks(other) = %+v, %v; want other's adm-hook alone", hs, err)
		}
		_, err = otherAdmin.Webhooks(bg, "adm")
		wantCode(t, err, "forbidden", http.StatusForbidden)
		_, err = owner.Webhooks(bg, "nobody")
		wantCode(t, err, "tenant_not_found", http.StatusNotFound)
		_, err = e.client(e.memberOf("adm")).Webhooks(bg, "adm")
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("GET /v1/webhooks", func(t *testing.T) {
		hs, err := owner.Webhooks(bg, "")
		if err != nil || len(hs) != 1 || hs[0].ID != "ops" || hs[0].Secret != "" {
			t.Fatalf("Webhooks(platform-wide) = %+v, %v; want ops alone, without its secret", hs, err)
		}
		_, err = admAdmin.Webhooks(bg, "")
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("GET /v1/webhooks/{webhook}/deliveries", func(t *testing.T) {
		e.hooks.Notify(monitor.Event{ID: "evt_routes", Type: monitor.EventStateChanged, Tenant: "adm", Time: time.Now()})
		ds := waitDelivered(t, admAdmin, "", "adm-hook")
		if ds[0].Event != "evt_routes" || ds[0].Attempt != 1 || ds[0].Error != "" {
			t.Fatalf("deliveries = %+v, want evt_routes delivered at the first attempt", ds)
		}
		if evs, bad := rcv.got(); len(evs) != 1 || evs[0].ID != "evt_routes" || bad != 0 {
			t.Fatalf("receiver got %+v and %d bad deliveries, want evt_routes signed", evs, bad)
		}
		// other's adm-hook is its own: it got nothing of adm's event.
		if ds, err := otherAdmin.WebhookDeliveries(bg, "", "adm-hook", 0); err != nil || len(ds) != 0 {
			t.Fatalf("other's adm-hook deliveries = %+v, %v; want none of adm's", ds, err)
		}
		if evs, _ := rcvOther.got(); len(evs) != 0 {
			t.Fatalf("other's receiver got %+v, want none of adm's events", evs)
		}
		_, err := otherAdmin.WebhookDeliveries(bg, "adm", "adm-hook", 0)
		wantCode(t, err, "forbidden", http.StatusForbidden)
		_, err = admAdmin.WebhookDeliveries(bg, "", "ops", 0)
		wantCode(t, err, "webhook_not_found", http.StatusNotFound)
		_, err = owner.WebhookDeliveries(bg, "", "Bad!", 0)
		wantCode(t, err, "invalid_webhook_id", http.StatusBadRequest)
		// A platform token's /v1/webhooks/{webhook} is the platform-wide
		// one; a tenant's is on its tenant's route.
		_, err = owner.WebhookDeliveries(bg, "", "adm-hook", 0)
		wantCode(t, err, "webhook_not_found", http.StatusNotFound)
		if err == nil || !strings.Contains(err.Error(), "/v1/tenants/{id}/webhooks/adm-hook") {
			t.Fatalf("platform token on /v1/webhooks/adm-hook: %v; want the tenant route named", err)
		}
		rec := serveOnce(e, e.server.Handler(), "GET", "/v1/tenants/adm/webhooks/adm-hook/deliveries?limit=x", e.owner, "")
		if got := decodeErr(t, rec); rec.Code != http.StatusBadRequest || got.Code != CodeInvalidRequest {
			t.Fatalf("limit=x answered %d %s, want 400 %s", rec.Code, got.Code, CodeInvalidRequest)
		}
	})
	run("GET /v1/tenants/{id}/webhooks/{webhook}/deliveries", func(t *testing.T) {
		ds := waitDelivered(t, owner, "adm", "adm-hook")
		if len(ds) != 1 || ds[0].Event != "evt_routes" {
			t.Fatalf("adm's adm-hook deliveries on its tenant route = %+v, want evt_routes", ds)
		}
		if ds, err := owner.WebhookDeliveries(bg, "other", "adm-hook", 0); err != nil || len(ds) != 0 {
			t.Fatalf("other's adm-hook deliveries on its tenant route = %+v, %v; want none", ds, err)
		}
		_, err := owner.WebhookDeliveries(bg, "adm", "missing", 0)
		wantCode(t, err, "webhook_not_found", http.StatusNotFound)
		_, err = admAdmin.WebhookDeliveries(bg, "other", "adm-hook", 0)
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("DELETE /v1/tenants/{id}/webhooks/{webhook}", func(t *testing.T) {
		wantCode(t, admAdmin.DeleteWebhook(bg, "other", "adm-hook"), "forbidden", http.StatusForbidden)
		h, err := owner.CreateWebhook(bg, "other", "doomed", rcvOther.srv.URL+"/doomed")
		if err != nil {
			t.Fatal(err)
		}
		if err := owner.DeleteWebhook(bg, "other", h.ID); err != nil {
			t.Fatalf("DeleteWebhook(other, doomed) by the owner: %v", err)
		}
		wantCode(t, owner.DeleteWebhook(bg, "other", h.ID), "webhook_not_found", http.StatusNotFound)
		wantCode(t, owner.DeleteWebhook(bg, "adm", "Bad!"), "invalid_webhook_id", http.StatusBadRequest)
	})
	run("DELETE /v1/webhooks/{webhook}", func(t *testing.T) {
		wantCode(t, admAdmin.DeleteWebhook(bg, "", "ops"), "webhook_not_found", http.StatusNotFound)
		wantCode(t, owner.DeleteWebhook(bg, "", "adm-hook"), "webhook_not_found", http.StatusNotFound)
		if err := admAdmin.DeleteWebhook(bg, "", "adm-hook"); err != nil {
			t.Fatalf("DeleteWebhook(adm-hook) by adm's admin: %v", err)
		}
		// other's webhook of the same name is untouched.
		if hs, err := otherAdmin.Webhooks(bg, "other"); err != nil || len(hs) != 1 || hs[0].ID != "adm-hook" {
			t.Fatalf("Webhooks(other) after adm removed its adm-hook = %+v, %v; want other's", hs, err)
		}
		if err := otherAdmin.DeleteWebhook(bg, "", "adm-hook"); err != nil {
			t.Fatalf("DeleteWebhook(adm-hook) by other's admin: %v", err)
		}
		wantCode(t, otherAdmin.DeleteWebhook(bg, "", "adm-hook"), "webhook_not_found", http.StatusNotFound)
		if err := owner.DeleteWebhook(bg, "", "ops"); err != nil {
			t.Fatalf("DeleteWebhook(ops) by the owner: %v", err)
		}
		wantCode(t, owner.DeleteWebhook(bg, "", "Bad!"), "invalid_webhook_id", http.StatusBadRequest)
		_, err := owner.WebhookDeliveries(bg, "adm", "adm-hook", 0)
		wantCode(t, err, "webhook_not_found", http.StatusNotFound)
		if ev := e.audit.find(string(auth.WebhookManage), "adm"); len(ev) < 2 || ev[len(ev)-1].Outcome != "ok" {
			t.Fatalf("audit events of adm's webhooks = %+v; want the removal recorded under adm", ev)
		}
		// A platform-wide token removing a tenant's webhook, on the
		// tenant's route, is audited on that tenant's chain too.
		if _, err := owner.CreateWebhook(bg, "adm", "adm-hook-2", url); err != nil {
			t.Fatal(err)
		}
		before := len(e.audit.find(string(auth.WebhookManage), "adm"))
		if err := owner.DeleteWebhook(bg, "adm", "adm-hook-2"); err != nil {
			t.Fatalf("DeleteWebhook(adm-hook-2) by the owner: %v", err)
		}
		if ev := e.audit.find(string(auth.WebhookManage), "adm"); len(ev) != before+1 {
			t.Fatalf("the owner's removal of adm-hook-2 left %d audit events under adm, want %d", len(ev), before+1)
		}
	})
}

// waitDelivered waits for a webhook's first delivery record.
func waitDelivered(t *testing.T, c *client.Client, tenant, id string) []*client.Delivery {
	t.Helper()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		ds, err := c.WebhookDeliveries(bg, tenant, id, 0)
		if err != nil {
			t.Fatal(err)
		}
		if len(ds) > 0 {
			return ds
		}
	}
	t.Fatalf("webhook %s: no delivery recorded", id)
	return nil
}

// Without monitor.Webhooks the webhook routes answer 501, not 500.
func TestWebhooksNotConfigured(t *testing.T) {
	e := newEnv(t)
	cfg := e.server.cfg
	cfg.Registry, cfg.Webhooks = nil, nil
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	rec := serveOnce(e, srv.Handler(), "GET", "/v1/webhooks", e.owner, "")
	if got := decodeErr(t, rec); rec.Code != http.StatusNotImplemented || got.Code != CodeNotImplemented || !strings.Contains(got.Message, "webhook") {
		t.Fatalf("GET /v1/webhooks without webhooks = %d %+v, want 501 %s", rec.Code, got, CodeNotImplemented)
	}
}

// A tenant admin cannot subscribe a URL naming the platform's own network:
// the answer is 400 invalid_webhook_url saying why, and nothing is stored.
func TestWebhookInternalURLRefused(t *testing.T) {
	e := newEnv(t)
	hooks, err := monitor.NewWebhooks(monitor.WebhookConfig{Store: e.store})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.server.cfg
	cfg.Registry, cfg.Webhooks = nil, hooks
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	p, err := e.tokens.Authenticate(bg, e.owner)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.tokens.Issue(bg, p, auth.IssueRequest{Role: auth.RoleAdmin, Tenant: "other", Name: "admin of other"})
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(client.Config{URL: hs.URL, Token: tok})
	if err != nil {
		t.Fatal(err)
	}
	for url, why := range map[string]string{
		"https://10.0.0.5/":                         "host 10.0.0.5 is in a private network",
		"https://169.254.169.254/latest/meta-data/": "host 169.254.169.254 is link-local",
		"https://localhost:8080/":                   "host localhost names this host",
		"https://[::ffff:127.0.0.1]/":               "an IPv6 form of 127.0.0.1, a loopback address",
	} {
		_, err := admin.CreateWebhook(bg, "other", "internal", url)
		wantCode(t, err, "invalid_webhook_url", http.StatusBadRequest)
		if !strings.Contains(err.Error(), why) || !strings.Contains(err.Error(), "public addresses only") {
			t.Errorf("CreateWebhook(%s) err = %v, want it to say %q", url, err, why)
		}
	}
	if list, err := admin.Webhooks(bg, "other"); err != nil || len(list) != 0 {
		t.Fatalf("Webhooks(other) = %+v, %v; want none", list, err)
	}
	if _, err := admin.CreateWebhook(bg, "other", "public", "https://hooks.example.com/byok"); err != nil {
		t.Fatalf("CreateWebhook(public) err = %v", err)
	}
}
