package awskms_test

import (
	"slices"
	"testing"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/kms"
)

// Every request a provider makes reaches the context's observer with the
// request id the customer's CloudTrail (here the emulator's log) shows.
func TestObserverSeesEveryRequest(t *testing.T) {
	e := newEnv(t, false)
	b := identity("acme", 1)
	w := e.generate(t, viaRole(ref(roleKey), externalID), b)
	e.ts.ClearEvents()
	var calls []kms.Call
	octx := kms.WithObserver(ctx, func(c kms.Call) { calls = append(calls, c) })
	key, err := e.p.Unwrap(octx, w, b)
	if err != nil {
		t.Fatal(err)
	}
	key.Destroy()
	logged := e.ts.Events()
	if len(calls) == 0 || len(calls) != len(logged) {
		t.Fatalf("observed %d calls for %d logged requests", len(calls), len(logged))
	}
	for _, c := range calls {
		if c.RequestID == "" || !slices.ContainsFunc(logged, func(ev awsemu.Event) bool { return ev.RequestID == c.RequestID }) {
			t.Fatalf("call %+v: request id not in the emulator's log", c)
		}
	}
	if last := calls[len(calls)-1]; last.Service != "kms" || last.API != "Decrypt" || last.Class != 0 || last.Region != euWest1 {
		t.Fatalf("last call = %+v, want a successful kms Decrypt in %s", last, euWest1)
	}

	// A refused call is observed with its class and request id too.
	e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultThrottle, Region: euWest1, Operation: "Decrypt"})
	calls = nil
	if _, err := e.p.Unwrap(octx, w, b); err == nil {
		t.Fatal("Unwrap() under throttling succeeded")
	}
	if len(calls) < 2 || calls[0].Class != kms.Throttled || calls[0].RequestID == "" {
		t.Fatalf("calls under throttling = %+v, want each retry observed as Throttled with an id", calls)
	}
}
