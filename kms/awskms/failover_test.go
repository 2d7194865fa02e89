package awskms_test

import (
	"testing"
	"time"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

func mrkRef() kms.KeyRef {
	r := ref(mrkKey)
	r.FailoverRegions = []string{usEast1, euCentral1}
	return r
}

// TestMRKFailover: with the primary's region down, every unwrap succeeds
// through a replica; the region's breaker opens after Breaker.Failures
// failures, so later unwraps skip it, and after the cool-down it is tried
// again and used once it is back.
func TestMRKFailover(t *testing.T) {
	e := newEnv(t, false, func(c *awskms.Config) {
		c.Breaker = awskms.BreakerPolicy{Failures: 3, Cooldown: time.Minute}
	})
	b := identity("acme", 1)
	key, w, err := e.p.GenerateAndWrap(ctx, mrkRef(), b)
	if err != nil {
		t.Fatal(err)
	}
	e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultUnavailable, Region: euWest1})
	for i := range 10 {
		got, err := e.p.Unwrap(ctx, w, b)
		if err != nil {
			t.Fatalf("Unwrap() #%d with %s down err = %v", i, euWest1, err)
		}
		if !got.Equal(key) {
			t.Fatal("Unwrap() through the replica returned another key")
		}
	}
	if n := len(e.events("Decrypt", euWest1)); n != 3 {
		t.Errorf("%d Decrypt requests went to the down region, want Breaker.Failures = 3", n)
	}
	if n := len(e.events("Decrypt", usEast1)); n != 10 {
		t.Errorf("%d Decrypt requests went to the first replica, want 10", n)
	}

	e.ts.SetFaults(nil)
	e.ts.ClearEvents()
	mustDo[*envelope.TenantKey](t)(e.p.Unwrap(ctx, w, b))
	if n := len(e.events("Decrypt", euWest1)); n != 0 {
		t.Fatalf("breaker open: %d requests to %s before the cool-down, want 0", n, euWest1)
	}
	e.ts.Advance(time.Minute)
	for range 2 {
		mustDo[*envelope.TenantKey](t)(e.p.Unwrap(ctx, w, b))
	}
	if n := len(e.events("Decrypt", euWest1)); n != 2 {
		t.Fatalf("after the cool-down %d requests went to %s, want both unwraps", n, euWest1)
	}
}

// TestMRKGenerateFailsOver: new wrappings are made in a replica while the
// primary's region is down, and record the key in the reference's region.
func TestMRKGenerateFailsOver(t *testing.T) {
	e := newEnv(t, false)
	e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultRefuse, Region: euWest1})
	b := identity("acme", 1)
	key, w, err := e.p.GenerateAndWrap(ctx, mrkRef(), b)
	if err != nil {
		t.Fatalf("GenerateAndWrap() with %s down err = %v", euWest1, err)
	}
	if w.Key.ID != keyARN(euWest1, mrkKey) {
		t.Errorf("wrapped key = %s, want the ARN in %s", w.Key.ID, euWest1)
	}
	if len(e.events("GenerateDataKey", usEast1)) != 1 {
		t.Errorf("events = %+v, want GenerateDataKey in %s", e.ts.Events(), usEast1)
	}
	e.ts.SetFaults(nil)
	got := mustDo[*envelope.TenantKey](t)(e.p.Unwrap(ctx, w, b))
	if !got.Equal(key) {
		t.Fatal("Unwrap() in the primary region returned another key")
	}
}

// TestMRKReplicaRegion: KeyRef.Region selects the replica to use.
func TestMRKReplicaRegion(t *testing.T) {
	e := newEnv(t, false)
	r := ref(mrkKey)
	r.Region = euCentral1
	e.generate(t, r, identity("acme", 1))
	if ev := e.events("GenerateDataKey", euCentral1); len(ev) != 1 || ev[0].Resources[0] != keyARN(euCentral1, mrkKey) {
		t.Fatalf("events = %+v, want GenerateDataKey on the %s replica", e.ts.Events(), euCentral1)
	}
}

// TestMRKAllRegionsDown: when every replica is down the call is
// Unavailable, and once every breaker is open it fails without a request.
func TestMRKAllRegionsDown(t *testing.T) {
	e := newEnv(t, false, func(c *awskms.Config) {
		c.Breaker = awskms.BreakerPolicy{Failures: 2, Cooldown: time.Hour}
	})
	b := identity("acme", 1)
	w := e.generate(t, mrkRef(), b)
	e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultUnavailable})
	_, err := e.p.Unwrap(ctx, w, b)
	e.wantClass(t, err, kms.Unavailable, true)
	e.ts.ClearEvents()
	_, err = e.p.Unwrap(ctx, w, b)
	e.wantClass(t, err, kms.Unavailable, false)
	if n := len(e.ts.Events()); n != 0 {
		t.Fatalf("with every breaker open, Unwrap made %d requests, want 0", n)
	}
}

// TestMRKFailoverOnHangingRegion: a region that answers too slowly fails
// over after AttemptTimeout, well within CallTimeout.
func TestMRKFailoverOnHangingRegion(t *testing.T) {
	e := newEnv(t, false, func(c *awskms.Config) { c.AttemptTimeout = 100 * time.Millisecond })
	b := identity("acme", 1)
	w := e.generate(t, mrkRef(), b)
	e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultLatency, Latency: 2 * time.Second, Region: euWest1})
	start := time.Now()
	if _, err := e.p.Unwrap(ctx, w, b); err != nil {
		t.Fatalf("Unwrap() with %s hanging err = %v", euWest1, err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Unwrap() took %v, want about AttemptTimeout (100ms)", d)
	}
	if len(e.events("Decrypt", usEast1)) != 1 {
		t.Errorf("events = %+v, want the Decrypt served in %s", e.ts.Events(), usEast1)
	}
}
