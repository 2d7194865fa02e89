package awskms_test

import (
	"testing"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// TestSTSOutageLeavesRegionOpen: while STS fails (down or throttling), a
// role tenant's calls fail transiently, retried, and the region's circuit
// breaker learns nothing from them: a tenant reaching the key directly
// keeps being served in the region meanwhile, and the role tenant's first
// call once STS is back succeeds. Before, the AssumeRole failures opened
// the region's breaker, which then refused every tenant of the region for
// its cool-down (here the emulator's clock, which never moves: for good).
func TestSTSOutageLeavesRegionOpen(t *testing.T) {
	for _, c := range []struct {
		kind awsemu.FaultKind
		want kms.Class
	}{{awsemu.FaultUnavailable, kms.Unavailable}, {awsemu.FaultThrottle, kms.Throttled}} {
		t.Run(c.kind.String(), func(t *testing.T) {
			e := newEnv(t, false, func(cfg *awskms.Config) { cfg.Breaker = awskms.BreakerPolicy{Failures: 2} })
			role, direct := viaRole(ref(roleKey), externalID), ref(symKey)
			rb, db := identity("role-tenant", 1), identity("direct-tenant", 1)
			rw, dw := e.generate(t, role, rb), e.generate(t, direct, db)
			// A new provider: no role session cached, as after a restart.
			cold, err := awskms.New(ctx, e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			e.setFaults(t, awsemu.Fault{Kind: c.kind, Operation: "AssumeRole"})
			e.ts.ClearEvents()
			const calls = 4 // each of e.cfg.Retry.MaxAttempts attempts, over twice the breaker's threshold
			for range calls {
				_, err := cold.Unwrap(ctx, rw, rb)
				e.wantClass(t, err, c.want, true)
				mustDo[*envelope.TenantKey](t)(cold.Unwrap(ctx, dw, db))
			}
			if n := len(e.events("AssumeRole", "")); n != calls*e.cfg.Retry.MaxAttempts {
				t.Fatalf("%d AssumeRole calls during the outage, want %d: each attempt tries STS", n, calls*e.cfg.Retry.MaxAttempts)
			}
			e.ts.SetFaults(nil)
			e.ts.ClearEvents()
			mustDo[*envelope.TenantKey](t)(cold.Unwrap(ctx, rw, rb))
			for _, ev := range e.ts.Events() {
				if ev.ErrorCode != "" {
					t.Errorf("after STS came back, %s failed with %s", ev.EventName, ev.ErrorCode)
				}
			}
		})
	}
}
