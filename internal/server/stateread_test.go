package server

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
)

// countingStore counts tenant reads of the real store beneath it.
type countingStore struct {
	store.Store
	reads atomic.Int64
}

func (c *countingStore) GetTenant(ctx context.Context, id string) (*tenant.Tenant, error) {
	c.reads.Add(1)
	return c.Store.GetTenant(ctx, id)
}

// TestOneTenantReadPerRequest: a data request on a cold cache reads its
// tenant once, for the state check and the keyring's region gate together,
// as byok serve wires them (one tenant manager for both); a second request
// within the cache window reads nothing.
func TestOneTenantReadPerRequest(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	st := &countingStore{Store: e.store}
	tenants := tenant.NewManager(st, time.Minute)
	kr, err := keyring.New(keyring.Config{Store: st, Region: home, Admit: control.RegionGate(tenants, home), Providers: e.providers})
	if err != nil {
		t.Fatal(err)
	}
	svc, err := control.New(control.Config{Platform: platformConfig(t), Store: st, Keyring: kr,
		Validator: &onboarding.Validator{Config: platformConfig(t)}, Tenants: tenants})
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.server.cfg
	cfg.Registry, cfg.Control, cfg.Keyring = nil, svc, kr
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.http.Config.Handler = srv.Handler()
	member := e.client(e.memberOf("acme"))
	for i, want := range []int64{1, 1} {
		if _, err := member.Encrypt(bg, "acme", []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
		if got := st.reads.Load(); got != want {
			t.Fatalf("after request %d: %d tenant reads, want %d", i+1, got, want)
		}
	}
	if s := kr.Stats("acme"); s.KMSCalls != 1 {
		t.Fatalf("KMS calls = %d, want the one cold unwrap (the gate ran)", s.KMSCalls)
	}
}
