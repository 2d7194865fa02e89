package monitor_test

import (
	"errors"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
)

// The defaults keep the promise: interval + jitter + tick + probe timeout
// is within 60 s, whatever the keyring's cache TTL.
func TestRevocationBoundDefaults(t *testing.T) {
	bound := monitor.RevocationBound(monitor.Config{})
	want := monitor.DefaultInterval + monitor.DefaultJitter + monitor.DefaultTick + monitor.DefaultProbeTimeout
	if bound != want || bound > monitor.RevocationPromise {
		t.Fatalf("RevocationBound(defaults) = %s, want %s and at most %s", bound, want, monitor.RevocationPromise)
	}
	if got := monitor.RevocationBound(monitor.Config{Interval: 2 * time.Minute}); got <= monitor.RevocationPromise {
		t.Fatalf("RevocationBound(2m interval) = %s, want over the promise", got)
	}
}

// TestRevocationBound revokes the customer's key in the emulator, through
// the real SDK, by each of the two means a customer has, and measures how
// long data operations keep succeeding on a keyring whose cache TTL (5
// minutes, the default) is far longer than the bound.
func TestRevocationBound(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	m := e.monitor(t, nil)
	ec := envelope.Context{"row": "1"}
	ct, err := e.kr.Seal(ctx, "acme", []byte("record"), ec)
	if err != nil {
		t.Fatal(err)
	}
	bound := monitor.RevocationBound(monitor.Config{})
	revocations := []struct {
		name            string
		revoke, restore func(*testing.T)
		want            error
	}{
		{"disable", e.disable, e.enable, kms.ErrDisabled},
		{"policy", func(t *testing.T) { e.policy(t, ownerOnly) }, func(t *testing.T) { e.policy(t, grantAll) }, kms.ErrDenied},
	}
	for _, rv := range revocations {
		e.step(m, time.Minute) // the tenant is scheduled and probed, all well
		e.wantState(t, "acme", tenant.StateActive)
		e.kr.Evict("acme") // a freshly cached key: only the monitor can end it early
		if _, err := e.kr.Open(ctx, "acme", ct, ec); err != nil {
			t.Fatal(err)
		}
		// Revoke just after a probe passed, the worst moment: the next probe
		// is a whole interval (plus jitter) away.
		probedNow(e, m)
		rv.revoke(t)
		took := refusedAfter(t, e, m, ct, ec, rv.want)
		t.Logf("%s: data operations refused %s after the revocation (bound %s, cache TTL 5m)", rv.name, took, bound)
		if took > bound || took > monitor.RevocationPromise {
			t.Fatalf("%s: refused after %s, want within %s", rv.name, took, bound)
		}
		e.wantState(t, "acme", tenant.StateKeyUnavailable)
		rv.restore(t)
		e.step(m, bound)
		e.wantState(t, "acme", tenant.StateActive)
		if _, err := e.kr.Open(ctx, "acme", ct, ec); err != nil {
			t.Fatalf("%s: Open() after the key came back err = %v", rv.name, err)
		}
	}
	changes := e.events.ofType(monitor.EventStateChanged)
	if len(changes) != 4 || changes[0].Reason != "key_disabled" || changes[2].Reason != "key_access_denied" || changes[0].KMSRequestID == "" {
		t.Fatalf("state change events = %+v, want disabled, back, denied, back with request ids", changes)
	}
}

// probedNow steps the clock until a probe has just run.
func probedNow(e *env, m *monitor.Monitor) {
	for n := m.Stats().Probes; m.Stats().Probes == n; {
		e.step(m, time.Second)
	}
}

// refusedAfter steps the clock a second at a time, running the monitor and
// one data operation per second, until the operation fails with want.
func refusedAfter(t *testing.T, e *env, m *monitor.Monitor, ct []byte, ec envelope.Context, want error) time.Duration {
	t.Helper()
	start := e.ts.Now()
	for range 120 {
		e.step(m, time.Second)
		_, err := e.kr.Open(ctx, "acme", ct, ec)
		if errors.Is(err, want) {
			return e.ts.Now().Sub(start)
		}
		if err != nil {
			t.Fatalf("Open() err = %v, want success or %v", err, want)
		}
	}
	t.Fatalf("data operations still succeed 120 s after the revocation")
	return 0
}

// Without the monitor the same keyring would serve the revoked key until
// its cache TTL: the probe is what bounds revocation.
func TestCacheAloneServesRevokedKey(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	ct, _ := e.kr.Seal(ctx, "acme", []byte("record"), nil)
	e.disable(t)
	e.ts.Advance(2 * time.Minute)
	if _, err := e.kr.Open(ctx, "acme", ct, nil); err != nil {
		t.Fatalf("Open() from the cache, unmonitored, err = %v; want success until the TTL", err)
	}
}
