package monitor

import (
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"testing"
	"time"
)

func needSeeds(f *testing.F, name string) {
	dir := filepath.Join("testdata", "fuzz", name)
	if seeds, err := os.ReadDir(dir); err != nil || len(seeds) == 0 {
		f.Fatalf("seed folder %s is missing or empty (%v)", dir, err)
	}
}

// FuzzVerify: a receiver's check of any signature header never panics, and
// what Sign writes always verifies for its body and for no other.
func FuzzVerify(f *testing.F) {
	needSeeds(f, "FuzzVerify")
	f.Add("t=1700000000,v1=00", []byte(`{"id":"evt_1"}`))
	secret := []byte("0123456789abcdef0123456789abcdef")
	now := time.Unix(1700000000, 0)
	f.Fuzz(func(t *testing.T, header string, body []byte) {
		_ = Verify(secret, header, body, now, 0)
		signed := Sign(secret, now, body)
		if err := Verify(secret, signed, body, now, 0); err != nil {
			t.Fatalf("Verify(Sign(%q)) = %v", body, err)
		}
		if err := Verify(secret, signed, append(body, 'x'), now, 0); err == nil {
			t.Fatalf("the signature of %q verifies for another body", body)
		}
	})
}

// FuzzWebhookURL: any URL is accepted or refused with invalid_webhook_url,
// and an accepted one is https, with a host that is no internal address
// and no credentials: no number but a canonical IP address, and no name of
// this host.
func FuzzWebhookURL(f *testing.F) {
	needSeeds(f, "FuzzWebhookURL")
	f.Add("https://hooks.example.com/byok")
	w := &Webhooks{}
	f.Fuzz(func(t *testing.T, raw string) {
		err := w.checkURL(raw)
		if err != nil {
			if Code(err) != ErrInvalidWebhookURL.Code() {
				t.Fatalf("checkURL(%q) = %v, want invalid_webhook_url", raw, err)
			}
			return
		}
		u, perr := url.Parse(raw)
		if perr != nil || u.Scheme != "https" || u.Hostname() == "" || u.User != nil || u.Fragment != "" {
			t.Fatalf("checkURL accepted %q", raw)
		}
		host := foldHost(u.Hostname())
		if ip, err := netip.ParseAddr(host); err == nil && internalKind(ip) != "" {
			t.Fatalf("checkURL accepted %q, whose host is %s", raw, internalKind(ip))
		}
		if _, err := netip.ParseAddr(host); err != nil {
			if addrs, numeric := ipv4Readings(host); numeric {
				t.Fatalf("checkURL accepted %q, whose host is a number resolvers read as %v", raw, addrs)
			}
		}
		if localName(host) {
			t.Fatalf("checkURL accepted %q, whose host names this host", raw)
		}
	})
}
