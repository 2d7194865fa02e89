package server

import (
	"log/slog"
	"net/http"
	"net/http/httptest"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
)

// hosting is one hosting region's server and monitor over the env's store
// and providers.
type hosting struct {
	client  *client.Client
	monitor *monitor.Monitor
}

func (e *env) hostRegion(t *testing.T, region string) *hosting {
	t.Helper()
	kr, err := keyring.New(keyring.Config{Store: e.store, Region: region, Providers: e.providers,
		Admit: control.RegionGate(tenant.NewManager(e.store, -1), region)})
	if err != nil {
		t.Fatal(err)
	}
	mon, err := monitor.New(monitor.Config{Store: e.store, Keyring: kr, Region: region, Providers: e.providers,
		Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.server.cfg
	cfg.Keyring, cfg.Monitor, cfg.Region, cfg.Registry = kr, mon, region, prometheus.NewRegistry()
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ts := httptest.NewServer(srv.Handler())
	t.Cleanup(ts.Close)
	c, err := client.New(client.Config{URL: ts.URL, Token: e.owner})
	if err != nil {
		t.Fatal(err)
	}
	return &hosting{client: c, monitor: mon}
}

// The customer disables the replica of a multi-Region key in one hosting
// region: that region's server refuses the tenant with key_disabled, the
// other keeps serving, and the status shows each region's key.
func TestRegionRefusesOnlyItsOwn(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	west, central := e.hostRegion(t, home), e.hostRegion(t, replica)
	probe := func() {
		e.clock.advance(due)
		west.monitor.RunOnce(bg)
		central.monitor.RunOnce(bg)
	}
	probe()
	ct, err := central.client.Encrypt(bg, "acme", []byte("record"), nil)
	if err != nil {
		t.Fatalf("Encrypt() in %s err = %v", replica, err)
	}
	_, err = e.customer(replica).DisableKey(bg, &kmsapi.DisableKeyInput{KeyId: aws.String(mrkID)})
	if err != nil {
		t.Fatal(err)
	}
	probe()
	// The region's recorded health refuses before any KMS call: the
	// customer's CloudTrail sees the probes, not one call per request.
	e.aws.ClearEvents()
	for range 3 {
		_, err = central.client.Decrypt(bg, "acme", ct, nil)
		wantCode(t, err, "key_disabled", http.StatusLocked)
	}
	if evs := e.aws.Events(); len(evs) != 0 {
		t.Fatalf("refused requests in %s made %d KMS calls, want none: %+v", replica, len(evs), evs)
	}
	if _, err := west.client.Decrypt(bg, "acme", ct, nil); err != nil {
		t.Fatalf("Decrypt() in %s with only %s's key disabled err = %v", home, replica, err)
	}
	st, err := west.client.Status(bg, "acme", 0)
	if err != nil {
		t.Fatal(err)
	}
	w, c := st.Regions[home], st.Regions[replica]
	if st.State != "active" || w == nil || w.Health == nil || w.Health.State != "active" ||
		c == nil || c.Health == nil || c.Health.State != "key_unavailable" || c.Health.Reason != "key_disabled" || c.Health.Since.IsZero() {
		t.Fatalf("status = %s with regions %+v / %+v, want active, %s active and %s key_unavailable (key_disabled)", st.State, w, c, home, replica)
	}
	// A region that does not serve the tenant cannot probe its key for a
	// restore, and says so.
	_, err = e.hostRegion(t, "us-east-1").client.Restore(bg, "acme")
	wantCode(t, err, "region_not_ready", http.StatusConflict)
}
