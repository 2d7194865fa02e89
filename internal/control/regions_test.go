package control

import (
	"log/slog"
	"testing"
	"time"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
)

// Adding a region wraps every version under the multi-Region key's replica
// there; until done the region refuses the tenant, and afterwards it opens
// the tenant's data with the home region down.
func TestAddRegionReplica(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	if _, err := e.svc.RotateTenantKey(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	recs := sealN(t, e.keyringIn(t, home), "acme", 3)
	_, err := e.keyringIn(t, usEast).Open(ctx, "acme", recs[0].ct, nil)
	wantCode(t, err, CodeRegionNotReady)

	fs := &failingStore{Store: e.store}
	fs.after.Store(1) // the second version's wrapping fails
	_, err = e.withStore(t, fs).AddRegion(ctx, AddRegion{Tenant: "acme", Region: usEast})
	if err == nil {
		t.Fatal("AddRegion() with a failing store succeeded")
	}
	regions, _ := e.svc.Regions(ctx, "acme")
	if rs := regions[usEast]; rs == nil || rs.Ready {
		t.Fatalf("region status after an interrupted AddRegion = %+v, want recorded, not ready", rs)
	}
	_, err = e.keyringIn(t, usEast).Open(ctx, "acme", recs[0].ct, nil)
	wantCode(t, err, CodeRegionNotReady)

	res, err := e.svc.AddRegion(ctx, AddRegion{Tenant: "acme", Region: usEast})
	if err != nil || res.Wrapped != 1 || res.KeyARN != "arn:aws:kms:us-east-1:222222222222:key/"+mrkID {
		t.Fatalf("AddRegion() again = %+v, %v; want the last version wrapped under the replica", res, err)
	}
	if err := e.ts.SetFaults([]awsemu.Fault{{Kind: awsemu.FaultUnavailable, Region: home}, {Kind: awsemu.FaultUnavailable, Region: replica}}); err != nil {
		t.Fatal(err)
	}
	us := e.keyringIn(t, usEast)
	openAll(t, us, "acme", recs)
	openAll(t, e.keyringIn(t, usEast), "acme", sealN(t, us, "acme", 1))
	_, err = e.svc.AddRegion(ctx, AddRegion{Tenant: "acme", Region: usEast})
	wantCode(t, err, CodeRegionExists)
}

// Where the platform resolves aliases, the new region's key is the same
// alias resolved there: another key, in another region.
func TestAddRegionByAlias(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "globex", usEast, usAlias)
	recs := sealN(t, e.keyringIn(t, usEast), "globex", 2)
	res, err := e.svc.AddRegion(ctx, AddRegion{Tenant: "globex", Region: apSouth})
	wantAP := "arn:aws:kms:" + apSouth + ":" + customerAcct + ":key/" + apPlainID
	if err != nil || res.KeyARN != wantAP || res.Wrapped != 1 {
		t.Fatalf("AddRegion() = %+v, %v; want version 1 wrapped under %s", res, err, wantAP)
	}
	if err := e.ts.SetFaults([]awsemu.Fault{{Kind: awsemu.FaultUnavailable, Region: usEast}}); err != nil {
		t.Fatal(err)
	}
	openAll(t, e.keyringIn(t, apSouth), "globex", recs)
}

func TestAddRegionErrors(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "pending", Name: "p"}); err != nil {
		t.Fatal(err)
	}
	disable(t, e, customerAcct, mrkID, apSouth)
	for _, tc := range []struct {
		name string
		req  AddRegion
		code string
	}{
		{"unknown tenant", AddRegion{Tenant: "nobody", Region: usEast}, CodeNotFound},
		{"pending tenant", AddRegion{Tenant: "pending", Region: usEast}, CodeWrongState},
		{"unknown region", AddRegion{Tenant: "acme", Region: "mars-north-1"}, "unknown_region"},
		{"region serving", AddRegion{Tenant: "acme", Region: home}, CodeRegionExists},
		{"replica disabled", AddRegion{Tenant: "acme", Region: apSouth}, CodeValidationFailed},
		{"malformed key", AddRegion{Tenant: "acme", Region: usEast, KeyARN: "nope"}, "invalid_key_arn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.AddRegion(ctx, tc.req)
			wantCode(t, err, tc.code)
		})
	}
	regions, _ := e.svc.Regions(ctx, "acme")
	if len(regions) != 2 {
		t.Fatalf("regions after refused AddRegions = %v, want home and replica only", regions)
	}
}

// A single-Region key has no counterpart in another region: the customer
// must name one.
func TestAddRegionNeedsAKey(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	b := &tenant.KeyBinding{Regions: map[string]string{usEast: "arn:aws:kms:us-east-1:222222222222:key/" + plainID}}
	a, err := e.svc.attachment(Attach{Tenant: "initech", Region: usEast, KeyARN: b.Regions[usEast]})
	if err != nil {
		t.Fatal(err)
	}
	_, err = e.svc.counterpart(a, b, apSouth)
	wantCode(t, err, CodeRegionKeyRequired)
}

// A vault in a separate account gets every version re-encrypted under its
// own key, in its own store: its copy opens with the primary key disabled.
func TestVault(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	if _, err := e.svc.RotateTenantKey(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	recs := sealN(t, e.keyringIn(t, home), "acme", 3)
	v, _, err := e.svc.AddVault(ctx, AddVault{Tenant: "acme", Name: "backup", Region: usEast, KeyARN: vaultARN})
	if err != nil || !v.Default || v.KeyARN != vaultARN {
		t.Fatalf("AddVault() = %+v, %v; want the default vault", v, err)
	}
	vaultStore := keyring.NewMemStore()
	n, err := e.svc.ReplicateToVault(ctx, "acme", "", vaultStore)
	if err != nil || n != 2 {
		t.Fatalf("ReplicateToVault() = %d, %v; want 2 versions", n, err)
	}
	if n, err := e.svc.ReplicateToVault(ctx, "acme", "backup", vaultStore); err != nil || n != 0 {
		t.Fatalf("ReplicateToVault() again = %d, %v; want nothing to do", n, err)
	}
	vs, _ := vaultStore.Versions(ctx, "acme")
	for _, ver := range vs {
		if len(ver.Wrappings) != 1 || ver.Wrappings[0].Key.ID != vaultARN {
			t.Fatalf("vault version %d wrappings = %+v, want the vault key's only", ver.Version, ver.Wrappings)
		}
	}
	if _, _, err := e.svc.AddVault(ctx, AddVault{Tenant: "acme", Name: "archive", Region: usEast, KeyARN: vaultARN, Default: true}); err != nil {
		t.Fatal(err)
	}
	if vaults, _ := e.svc.Vaults(ctx, "acme"); len(vaults) != 2 || !vaults["archive"].Default || vaults["backup"].Default {
		t.Fatalf("vaults = %+v, want archive the only default", vaults)
	}
	disable(t, e, customerAcct, mrkID, home, replica, usEast)
	_, err = e.keyringIn(t, home).Open(ctx, "acme", recs[0].ct, nil)
	wantCode(t, err, "key_disabled")
	cfg := e.cfg
	cfg.Store, cfg.Region = vaultStore, usEast
	vk, _ := keyring.New(cfg)
	openAll(t, vk, "acme", recs)
}

func TestVaultErrors(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	if _, _, err := e.svc.AddVault(ctx, AddVault{Tenant: "acme", Name: "backup", Region: usEast, KeyARN: vaultARN}); err != nil {
		t.Fatal(err)
	}
	disable(t, e, vaultAcct, vaultKeyID, usEast)
	for _, tc := range []struct {
		name string
		req  AddVault
		code string
	}{
		{"bad name", AddVault{Tenant: "acme", Name: "Backup!", Region: usEast, KeyARN: vaultARN}, CodeInvalid},
		{"unknown tenant", AddVault{Tenant: "nobody", Name: "b", Region: usEast, KeyARN: vaultARN}, CodeNotFound},
		{"key in another region", AddVault{Tenant: "acme", Name: "b", Region: apSouth, KeyARN: vaultARN}, CodeValidationFailed},
		{"key disabled", AddVault{Tenant: "acme", Name: "b", Region: usEast, KeyARN: vaultARN}, CodeValidationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := e.svc.AddVault(ctx, tc.req)
			wantCode(t, err, tc.code)
		})
	}
	e.putPolicy(t, vaultAcct, vaultKeyID, e.policy(t, vaultAcct), usEast)
	_, _, err := e.svc.AddVault(ctx, AddVault{Tenant: "acme", Name: "backup", Region: usEast, KeyARN: vaultARN})
	wantCode(t, err, CodeVaultExists)
	_, err = e.svc.ReplicateToVault(ctx, "acme", "elsewhere", keyring.NewMemStore())
	wantCode(t, err, CodeVaultNotFound)
	_, err = e.svc.ReplicateToVault(ctx, "acme", "backup", keyring.NewMemStore())
	wantCode(t, err, "key_disabled")
}

func TestReadErrors(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	_, err := e.svc.KeyChangeStatus(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
	_, err = e.svc.Inventory(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
	_, err = e.svc.Regions(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
	_, err = e.svc.Vaults(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
	wantCode(t, e.svc.CheckRetire(ctx, "nobody", mrkARN), CodeNotFound)
	wantCode(t, e.svc.CheckRetire(ctx, "nobody", "not an arn"), "invalid_key_arn")
	wantCode(t, RegionGate(tenant.NewManager(e.store, -1), home)(ctx, "nobody"), CodeNotFound)
	// A tenant on the platform key has no region record: served everywhere.
	pe := newEnvWith(t, envOptions{platformKey: true, config: changeableConfig, world: lifecycleWorld()})
	if _, err := pe.svc.CreateTenant(ctx, CreateTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	if err := RegionGate(tenant.NewManager(pe.store, -1), apSouth)(ctx, "acme"); err != nil {
		t.Fatalf("RegionGate() for a platform-key tenant err = %v, want nil", err)
	}
}

// A region's key health belongs to the key its probes saw: a key change
// forgets it, so a region whose old key was disabled serves under the new
// key at once, and is judged again by its next probe.
func TestKeyChangeForgetsRegionHealth(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	recs := sealN(t, e.keyringIn(t, home), "acme", 2)
	clock := time.Now()
	var mons []*monitor.Monitor
	for _, region := range []string{home, replica} {
		m, err := monitor.New(monitor.Config{Store: e.store, Keyring: e.keyringIn(t, region), Region: region,
			Providers: e.cfg.Providers, Now: func() time.Time { return clock }, Logger: slog.New(slog.DiscardHandler)})
		if err != nil {
			t.Fatal(err)
		}
		mons = append(mons, m)
	}
	probe := func() {
		for range 2 { // the first pass schedules, the second probes
			clock = clock.Add(monitor.DefaultInterval + monitor.DefaultJitter + time.Second)
			for _, m := range mons {
				m.RunOnce(ctx)
			}
		}
	}
	disable(t, e, customerAcct, mrkID, replica)
	probe()
	tn, _ := e.svc.Tenant(ctx, "acme")
	if h := tn.HealthIn(replica); tn.State != tenant.StateActive || h == nil || h.State != tenant.StateKeyUnavailable {
		t.Fatalf("tenant with %s's replica disabled = %s, %s health %+v; want active, the replica key_unavailable", replica, tn.State, replica, h)
	}
	if _, err := e.svc.ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: mrk2ARN}); err != nil {
		t.Fatalf("ChangeKey() err = %v", err)
	}
	tn, _ = e.svc.Tenant(ctx, "acme")
	if tn.HealthIn(home) != nil || tn.HealthIn(replica) != nil {
		t.Fatalf("region health after the key change = %+v / %+v, want none: the new key is not probed yet", tn.HealthIn(home), tn.HealthIn(replica))
	}
	openAll(t, e.keyringIn(t, replica), "acme", recs)
	probe()
	tn, _ = e.svc.Tenant(ctx, "acme")
	if h := tn.HealthIn(replica); h == nil || h.State != tenant.StateActive {
		t.Fatalf("%s health after probing the new key = %+v, want active", replica, h)
	}
}
