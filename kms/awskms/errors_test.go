package awskms_test

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// TestErrorClasses produces each error class from a real cause in the
// emulator and checks that the error names the key, the region and the
// request id the emulator logged (the one the customer sees in CloudTrail).
func TestErrorClasses(t *testing.T) {
	keyID := aws.String(keyARN(euWest1, symKey))
	for _, tc := range []struct {
		name   string
		cause  func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped
		want   kms.Class
		wantID bool
	}{
		{"KeyDisabled", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			mustDo[*kmsapi.DisableKeyOutput](t)(e.admin(t, euWest1).DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: keyID}))
			return w
		}, kms.Disabled, true},
		{"DeletionScheduled", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			scheduleDeletion(t, e)
			return w
		}, kms.PendingDeletion, true},
		{"KeyDeleted", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			scheduleDeletion(t, e)
			e.ts.Advance(8 * 24 * time.Hour)
			return w
		}, kms.NotFound, true},
		{"PolicyStatementRemoved", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			mustDo[*kmsapi.PutKeyPolicyOutput](t)(e.admin(t, euWest1).PutKeyPolicy(ctx, &kmsapi.PutKeyPolicyInput{
				KeyId: keyID, PolicyName: aws.String("default"), Policy: aws.String(keyPolicy(ownerStatement)),
			}))
			return w
		}, kms.Denied, true},
		{"RegionDown", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultUnavailable, Region: euWest1})
			return w
		}, kms.Unavailable, true},
		{"InternalError", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultInternal, Operation: "Decrypt"})
			return w
		}, kms.Unavailable, true},
		{"ConnectionRefused", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultRefuse, Region: euWest1})
			return w
		}, kms.Unavailable, false},
		{"Throttled", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultThrottle, Operation: "Decrypt"})
			return w
		}, kms.Throttled, true},
		{"CiphertextAltered", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			c := *w
			c.Ciphertext = bytes.Clone(w.Ciphertext)
			c.Ciphertext[len(c.Ciphertext)/2] ^= 0x80
			return &c
		}, kms.InvalidCiphertext, true},
		{"OtherKeyNamed", func(t *testing.T, e *env, w *kms.Wrapped) *kms.Wrapped {
			c := *w
			c.Key.ID = keyARN(euWest1, symKey2)
			return &c
		}, kms.InvalidCiphertext, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			b := identity("acme", 1)
			w := tc.cause(t, e, e.generate(t, ref(symKey), b))
			_, err := e.p.Unwrap(ctx, w, b)
			ke := e.wantClass(t, err, tc.want, tc.wantID)
			if ke.Key != w.Key.ID || ke.Region != euWest1 || ke.Op != "unwrap" {
				t.Errorf("err = %v: key %q, region %q, op %q; want %s in %s, unwrap", err, ke.Key, ke.Region, ke.Op, w.Key.ID, euWest1)
			}
			if !errors.Is(err, &kms.Error{Class: tc.want}) {
				t.Errorf("errors.Is(%v, class %v sentinel) = false", err, tc.want)
			}
		})
	}
}

func scheduleDeletion(t *testing.T, e *env) {
	t.Helper()
	mustDo[*kmsapi.ScheduleKeyDeletionOutput](t)(e.admin(t, euWest1).ScheduleKeyDeletion(ctx, &kmsapi.ScheduleKeyDeletionInput{
		KeyId: aws.String(keyARN(euWest1, symKey)), PendingWindowInDays: aws.Int32(7),
	}))
}

// TestTransientRetriesAreNotMultiplied: a throttled or unavailable call is
// tried exactly MaxAttempts times, so the SDK's own retryer is off.
func TestTransientRetriesAreNotMultiplied(t *testing.T) {
	for _, kind := range []awsemu.FaultKind{awsemu.FaultThrottle, awsemu.FaultUnavailable} {
		e := newEnv(t, false)
		b := identity("acme", 1)
		w := e.generate(t, ref(symKey), b)
		e.setFaults(t, awsemu.Fault{Kind: kind, Operation: "Decrypt"})
		if _, err := e.p.Unwrap(ctx, w, b); !kms.ClassOf(err).Transient() {
			t.Fatalf("Unwrap(fault %d) err = %v, want a transient class", kind, err)
		}
		if n := len(e.events("Decrypt", "")); n != e.cfg.Retry.MaxAttempts {
			t.Errorf("fault %d: %d Decrypt requests, want MaxAttempts = %d", kind, n, e.cfg.Retry.MaxAttempts)
		}
	}
}

// TestRetrySucceedsUnderPartialThrottling: with half the requests throttled,
// every unwrap succeeds through retries.
func TestRetrySucceedsUnderPartialThrottling(t *testing.T) {
	e := newEnv(t, false, func(c *awskms.Config) {
		c.Retry.MaxAttempts = 20
		c.Breaker.Failures = 1000 // this test is about retries, not the breaker
	})
	b := identity("acme", 1)
	w := e.generate(t, ref(symKey), b)
	e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultThrottle, Operation: "Decrypt", Probability: 0.5})
	for range 20 {
		key, err := e.p.Unwrap(ctx, w, b)
		if err != nil {
			t.Fatalf("Unwrap() err = %v", err)
		}
		key.Destroy()
	}
	throttled := 0
	for _, ev := range e.events("Decrypt", "") {
		if ev.ErrorCode == "ThrottlingException" {
			throttled++
		}
	}
	if throttled == 0 {
		t.Fatal("no Decrypt was throttled: the fault did not apply and retries were not exercised")
	}
}

// TestDeniedRoleAccess: a role that cannot be assumed is Denied, with the
// request id of the refused AssumeRole.
func TestDeniedRoleAccess(t *testing.T) {
	for name, ext := range map[string]string{"WrongExternalID": "ext-someone-else", "MissingExternalID": ""} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, false)
			_, _, err := e.p.GenerateAndWrap(ctx, viaRole(ref(roleKey), ext), identity("acme", 1))
			ke := e.wantClass(t, err, kms.Denied, true)
			ev := e.events("AssumeRole", euWest1)
			if len(ev) != 1 || ev[0].RequestID != ke.RequestID || ev[0].ErrorCode != "AccessDenied" {
				t.Fatalf("AssumeRole events = %+v, want one AccessDenied with request id %s", ev, ke.RequestID)
			}
			if len(e.events("", "")) != 1 {
				t.Errorf("events = %+v, want only the refused AssumeRole (a denied role is not retried)", e.ts.Events())
			}
		})
	}
}

// TestAliasDeleted: once the customer deletes the alias, the alias reference
// is NotFound, while keys already wrapped (recorded by key ARN) still unwrap.
func TestAliasDeleted(t *testing.T) {
	e := newEnv(t, false)
	b := identity("acme", 1)
	w := e.generate(t, aliasRef(), b)
	if w.Key.ID != keyARN(euWest1, symKey) {
		t.Fatalf("wrapped key = %s, want the key ARN the alias named", w.Key.ID)
	}
	mustDo[*kmsapi.DeleteAliasOutput](t)(e.admin(t, euWest1).DeleteAlias(ctx, &kmsapi.DeleteAliasInput{AliasName: aws.String(tenantAlias)}))
	_, _, err := e.p.GenerateAndWrap(ctx, aliasRef(), identity("acme", 2))
	e.wantClass(t, err, kms.NotFound, true)
	_, err = e.p.Describe(ctx, aliasRef(), "acme")
	e.wantClass(t, err, kms.NotFound, true)
	if _, err := e.p.Unwrap(ctx, w, b); err != nil {
		t.Fatalf("Unwrap(wrapped through the deleted alias) err = %v", err)
	}
}

// TestCallDeadline: a KMS slower than CallTimeout fails as Unavailable
// within the deadline, and the error says it was the deadline.
func TestCallDeadline(t *testing.T) {
	e := newEnv(t, false, func(c *awskms.Config) { c.CallTimeout = 200 * time.Millisecond })
	b := identity("acme", 1)
	w := e.generate(t, ref(symKey), b)
	e.setFaults(t, awsemu.Fault{Kind: awsemu.FaultLatency, Latency: 2 * time.Second, Operation: "Decrypt"})
	start := time.Now()
	_, err := e.p.Unwrap(ctx, w, b)
	e.wantClass(t, err, kms.Unavailable, false)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Unwrap() err = %v, want it to wrap context.DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("Unwrap() took %v, want about CallTimeout (200ms)", d)
	}
}

// TestMisconfiguredReferences: references that cannot work fail before any
// AWS request.
func TestMisconfiguredReferences(t *testing.T) {
	e := newEnv(t, false)
	sym := ref(symKey)
	for name, r := range map[string]kms.KeyRef{
		"OtherProvider":        {Provider: "local", ID: sym.ID},
		"BareKeyID":            {Provider: awskms.ProviderName, ID: symKey},
		"RegionOfSingleRegion": {Provider: awskms.ProviderName, ID: sym.ID, Region: usEast1},
		"FailoverNonMRK":       {Provider: awskms.ProviderName, ID: sym.ID, FailoverRegions: []string{usEast1}},
		"ExternalIDNoRole":     {Provider: awskms.ProviderName, ID: sym.ID, ExternalID: externalID},
		"BadRoleARN":           {Provider: awskms.ProviderName, ID: sym.ID, RoleARN: "arn:aws:iam::2222:role/x"},
		"RoleOtherPartition":   {Provider: awskms.ProviderName, ID: sym.ID, RoleARN: "arn:aws-cn:iam::222222222222:role/x"},
	} {
		if _, _, err := e.p.GenerateAndWrap(ctx, r, identity("acme", 1)); kms.ClassOf(err) != kms.Misconfigured {
			t.Errorf("%s: GenerateAndWrap(%+v) err = %v, want class Misconfigured", name, r, err)
		}
	}
	if ev := e.ts.Events(); len(ev) != 0 {
		t.Errorf("misconfigured references made %d AWS requests, want none", len(ev))
	}
}
