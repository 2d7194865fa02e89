package monitor_test

import (
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/monitor"
)

// NextProbe knows a tenant once the scheduler listed it, and not when the
// schedule has gone stale (this instance stopped running passes).
func TestNextProbe(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	m := e.monitor(t, nil)
	if _, ok := m.NextProbe("acme"); ok {
		t.Fatal("NextProbe() known before the first pass")
	}
	e.step(m, monitor.DefaultInterval+time.Second)
	at, ok := m.NextProbe("acme")
	if !ok || !at.After(e.ts.Now()) || at.After(e.ts.Now().Add(monitor.DefaultInterval+monitor.DefaultJitter)) {
		t.Fatalf("NextProbe() = %v, %v; want within one interval of %v", at, ok, e.ts.Now())
	}
	e.ts.Advance(3 * monitor.DefaultInterval)
	if _, ok := m.NextProbe("acme"); ok {
		t.Fatal("NextProbe() known for a schedule no pass has run for three intervals")
	}
	if _, ok := m.NextProbe("nobody"); ok {
		t.Fatal("NextProbe() known for an unknown tenant")
	}
}
