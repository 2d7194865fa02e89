package monitor_test

import (
	"fmt"
	"net"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
)

// A receiver on 127.0.0.1 gets nothing unless private networks are
// allowed, whether the URL names the address or a host name that resolves
// to it when the delivery connects (as a rebound name would); the refused
// attempt is recorded once and not retried.
func TestWebhookInternalAddress(t *testing.T) {
	const refused = "address 127.0.0.1 is a loopback address; deliveries there are refused"
	cases := []struct {
		name         string
		allow, named bool
	}{
		{"address refused", false, false},
		{"address allowed", true, false},
		{"name refused", false, true},
		{"name allowed", true, true},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			t.Parallel()
			s := openSQLite(t, filepath.Join(t.TempDir(), "byok.db"))
			r := newReceiver(t, http.StatusOK)
			cfg := testConfig(s)
			cfg.AllowPrivateNetworks = c.allow
			w := build(t, cfg)
			if c.named {
				_, port, _ := net.SplitHostPort(r.srv.Listener.Addr().String())
				monitor.ResolveAs(w, "receiver.example:"+port, r.srv.Listener.Addr().String())
				h, err := w.Subscribe(ctx, "hook", "acme", "http://receiver.example:"+port+"/hook")
				if err != nil {
					t.Fatalf("Subscribe(receiver.example) err = %v", err)
				}
				r.secret = h.Secret
			} else {
				// Subscribed while private networks were allowed.
				subscribe(t, build(t, testConfig(s)), "hook", "acme", r)
			}
			run(t, w)
			w.Notify(monitor.Event{ID: "evt_1", Type: monitor.EventStateChanged, Tenant: "acme", Time: time.Now()})
			waitDeliveries(t, w, "acme", "hook", 1)
			waitOutbox(t, s, 0)
			ds, err := w.Deliveries(ctx, "acme", "hook", 0)
			if err != nil {
				t.Fatal(err)
			}
			want := store.Delivery{Webhook: "hook", Event: "evt_1", Attempt: 1, Status: http.StatusOK}
			calls := 1
			if !c.allow {
				want.Status, want.Error, calls = 0, refused, 0
			}
			if len(ds) != 1 || ds[0].Attempt != want.Attempt || ds[0].Status != want.Status || ds[0].Error != want.Error {
				t.Fatalf("deliveries = %s, want exactly one: %+v", describe(ds), want)
			}
			if got := r.callCount(); got != calls {
				t.Fatalf("receiver got %d requests, want %d", got, calls)
			}
		})
	}
}

func describe(ds []*store.Delivery) string {
	var b strings.Builder
	for _, d := range ds {
		fmt.Fprintf(&b, "{attempt %d status %d error %q} ", d.Attempt, d.Status, d.Error)
	}
	return "[" + strings.TrimSpace(b.String()) + "]"
}

// A redirect is not followed, whatever its target: the 3xx is the attempt's
// answer, and it is not retried.
func TestWebhookRedirectNotFollowed(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "byok.db"))
	target := newReceiver(t, http.StatusOK)
	redirect := httptest.NewServer(http.RedirectHandler(target.srv.URL+"/hook", http.StatusTemporaryRedirect))
	t.Cleanup(redirect.Close)
	w := build(t, testConfig(s))
	if _, err := w.Subscribe(ctx, "hook", "acme", redirect.URL+"/hook"); err != nil {
		t.Fatal(err)
	}
	run(t, w)
	w.Notify(monitor.Event{ID: "evt_1", Type: monitor.EventStateChanged, Tenant: "acme", Time: time.Now()})
	waitDeliveries(t, w, "acme", "hook", 1)
	waitOutbox(t, s, 0)
	ds, _ := w.Deliveries(ctx, "acme", "hook", 0)
	if len(ds) != 1 || ds[0].Status != http.StatusTemporaryRedirect || ds[0].Error != "status 307: redirects are not followed" {
		t.Fatalf("deliveries = %s, want one 307 not followed", describe(ds))
	}
	if n := target.callCount(); n != 0 {
		t.Fatalf("the redirect's target got %d requests, want none", n)
	}
}

// Subscribing a URL that names an internal address fails at once, saying
// why; with private networks allowed it succeeds.
func TestSubscribeInternalHost(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "byok.db"))
	strict := build(t, monitor.WebhookConfig{Store: s, Logger: quiet})
	cfg := testConfig(s)
	cfg.AllowHTTP = false
	lax := build(t, cfg)
	cases := []struct{ url, why string }{
		{"https://10.0.0.5/", "host 10.0.0.5 is in a private network"},
		{"https://169.254.169.254/latest/meta-data/", "host 169.254.169.254 is link-local"},
		{"https://localhost:8080/", "host localhost names this host"},
		{"https://LOCALHOST./hook", "names this host"},
		{"https://hooks.localhost/", "names this host"},
		{"https://127.0.0.1:8443/", "loopback"},
		{"https://[::1]/", "loopback"},
		{"https://[::ffff:10.0.0.5]/", "an IPv6 form of 10.0.0.5"},
		{"https://[fe80::1%25eth0]/", "link-local"},
		{"https://[fd00:ec2::254]/", "private network"},
		{"https://100.64.0.1/", "carrier-grade NAT"},
		{"https://0.0.0.0/", "unspecified"},
		{"https://224.0.0.1/", "multicast"},
		{"https://255.255.255.255/", "broadcast"},
	}
	for i, c := range cases {
		_, err := strict.Subscribe(ctx, "strict", "acme", c.url)
		if monitor.Code(err) != "invalid_webhook_url" || !strings.Contains(err.Error(), c.why) ||
			!strings.Contains(err.Error(), "webhooks are delivered to public addresses only") {
			t.Errorf("Subscribe(%s) err = %v, want invalid_webhook_url saying %q", c.url, err, c.why)
		}
		if _, err := lax.Subscribe(ctx, "lax-"+string(rune('a'+i)), "acme", c.url); err != nil {
			t.Errorf("Subscribe(%s) with private networks allowed: %v", c.url, err)
		}
	}
	for i, u := range []string{"https://example.com/hook", "https://93.184.215.14/hook", "https://[2606:4700::1]/", "https://localhost.example.com/"} {
		if _, err := strict.Subscribe(ctx, "public-"+string(rune('a'+i)), "acme", u); err != nil {
			t.Errorf("Subscribe(%s) err = %v, want it accepted", u, err)
		}
	}
}

// Every numeric form of an internal address is refused when subscribed
// with invalid_webhook_url, naming the address it is read as.
func TestSubscribeNumericForms(t *testing.T) {
	s := openSQLite(t, filepath.Join(t.TempDir(), "byok.db"))
	strict := build(t, monitor.WebhookConfig{Store: s, Logger: quiet})
	cases := []struct{ host, why string }{
		{"127.1", "127.0.0.1, a loopback address"},
		{"127.0.1", "127.0.0.1, a loopback address"},
		{"2130706433", "127.0.0.1, a loopback address"},
		{"0x7f000001", "127.0.0.1, a loopback address"},
		{"0x7f.0.0.1", "127.0.0.1, a loopback address"},
		{"0177.0.0.1", "127.0.0.1, a loopback address"},
		{"017700000001", "127.0.0.1, a loopback address"},
		{"127.000.000.001", "127.0.0.1, a loopback address"},
		{"127.0.0.1.", "127.0.0.1, a loopback address"},
		{"0", "0.0.0.0, unspecified"},
		{"0251.0376.0251.0376", "169.254.169.254, link-local"},
		{"localhost.localdomain", "names this host"},
		{"ip6-localhost", "names this host"},
	}
	for _, c := range cases {
		u := "https://" + c.host + ":8443/hook"
		_, err := strict.Subscribe(ctx, "hook", "acme", u)
		if monitor.Code(err) != "invalid_webhook_url" || !strings.Contains(err.Error(), c.why) ||
			!strings.Contains(err.Error(), "webhooks are delivered to public addresses only") {
			t.Errorf("Subscribe(%s) err = %v, want invalid_webhook_url naming %q", u, err, c.why)
		}
	}
}

// A host name is resolved when subscribed: one resolving to any internal
// address is refused, naming it; one that does not resolve yet is
// accepted (its deliveries fail until it does); with private networks
// allowed, nothing is looked up.
func TestSubscribeResolvesNames(t *testing.T) {
	answers := map[string][]string{
		"hooks.example.com":     {"93.184.215.14", "2606:4700::1"},
		"internal.example.com":  {"10.0.0.7"},
		"mixed.example.com":     {"93.184.215.14", "::ffff:127.0.0.1"},
		"metadata.example.com":  {"fd00:ec2::254"},
		"localhost.example.com": {"127.0.0.1"},
	}
	s := openSQLite(t, filepath.Join(t.TempDir(), "byok.db"))
	strict := build(t, monitor.WebhookConfig{Store: s, Logger: quiet})
	monitor.LookupAs(strict, answers)
	cfg := testConfig(s)
	cfg.AllowHTTP = false
	lax := build(t, cfg)
	monitor.LookupAs(lax, answers)
	cases := []struct{ host, why string }{
		{"hooks.example.com", ""},
		{"not-yet.example.com", ""},
		{"internal.example.com", "host internal.example.com resolves to 10.0.0.7, which is in a private network"},
		{"mixed.example.com", "resolves to 127.0.0.1, which is a loopback address"},
		{"metadata.example.com", "resolves to fd00:ec2::254, which is in a private network"},
		{"localhost.example.com", "resolves to 127.0.0.1"},
	}
	for i, c := range cases {
		u := "https://" + c.host + "/hook"
		_, err := strict.Subscribe(ctx, fmt.Sprintf("strict-%d", i), "acme", u)
		switch {
		case c.why == "" && err != nil:
			t.Errorf("Subscribe(%s) err = %v, want it accepted", u, err)
		case c.why != "" && (monitor.Code(err) != "invalid_webhook_url" || !strings.Contains(err.Error(), c.why)):
			t.Errorf("Subscribe(%s) err = %v, want invalid_webhook_url saying %q", u, err, c.why)
		}
		if _, err := lax.Subscribe(ctx, fmt.Sprintf("lax-%d", i), "acme", u); err != nil {
			t.Errorf("Subscribe(%s) with private networks allowed: %v", u, err)
		}
	}
}
