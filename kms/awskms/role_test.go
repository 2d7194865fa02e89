package awskms_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/byok-dev/byok/kms/awskms"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// TestAssumeRoleRefreshedBeforeExpiry: session credentials are reused until
// RefreshWindow (5 min) before they expire by the emulator's clock, then
// replaced while still valid, so no call ever meets expired credentials.
func TestAssumeRoleRefreshedBeforeExpiry(t *testing.T) {
	e := newEnv(t, false)
	r := viaRole(ref(roleKey), externalID)
	b := identity("acme", 1)
	w := e.generate(t, r, b)
	unwrap := func(after time.Duration, wantAssumes int) {
		t.Helper()
		e.ts.Advance(after)
		mustDo[*envelope.TenantKey](t)(e.p.Unwrap(ctx, w, b))
		if n := len(e.events("AssumeRole", "")); n != wantAssumes {
			t.Fatalf("after %v more: %d AssumeRole calls, want %d", after, n, wantAssumes)
		}
	}
	unwrap(0, 1)
	unwrap(50*time.Minute, 1) // 10 minutes left: cached
	unwrap(6*time.Minute, 2)  // 4 minutes left: replaced
	unwrap(30*time.Minute, 2) // the first session has expired; the second has not
	for _, ev := range e.ts.Events() {
		if ev.ErrorCode != "" {
			t.Fatalf("request %s failed with %s: credentials were used past expiry", ev.EventName, ev.ErrorCode)
		}
	}
}

// TestRoleSessionNamesTenant: the customer's CloudTrail shows the tenant in
// the role session name and the identity in the encryption context.
func TestRoleSessionNamesTenant(t *testing.T) {
	e := newEnv(t, false)
	e.generate(t, viaRole(ref(roleKey), externalID), identity("acme:eu", 7))
	ev := e.events("GenerateDataKey", euWest1)
	if len(ev) != 1 {
		t.Fatalf("events = %+v, want one GenerateDataKey", e.ts.Events())
	}
	if arn := ev[0].UserIdentity.ARN; !strings.HasSuffix(arn, ":assumed-role/"+roleName+"/byok-acme-eu") {
		t.Errorf("caller = %s, want the role session byok-acme-eu", arn)
	}
	want := kms.Identity{Tenant: "acme:eu", Version: 7, Purpose: kms.PurposeTenantKey}.EncryptionContext()
	for k, v := range want {
		if ev[0].EncryptionContext[k] != v {
			t.Errorf("logged encryption context = %v, want %v", ev[0].EncryptionContext, want)
			break
		}
	}
}

// TestDescribeNamesTenant: a DescribeKey asked for a tenant goes through
// that tenant's role session too, so the customer's CloudTrail names it.
func TestDescribeNamesTenant(t *testing.T) {
	e := newEnv(t, false)
	mustDo[*kms.KeyInfo](t)(e.p.Describe(ctx, viaRole(ref(roleKey), externalID), "acme:eu"))
	ev := e.events("DescribeKey", euWest1)
	if len(ev) == 0 {
		t.Fatalf("events = %+v, want a DescribeKey", e.ts.Events())
	}
	for _, d := range ev {
		if arn := d.UserIdentity.ARN; !strings.HasSuffix(arn, ":assumed-role/"+roleName+"/byok-acme-eu") {
			t.Errorf("caller = %s, want the role session byok-acme-eu", arn)
		}
	}
}

// TestRewrapPaths: one ReEncrypt when the keys share a region and
// credentials; Decrypt then Encrypt across regions or roles.
func TestRewrapPaths(t *testing.T) {
	for _, tc := range []struct {
		name     string
		from, to kms.KeyRef
		wantOps  []string
	}{
		{"SameRegion", ref(symKey), ref(symKey2), []string{"ReEncrypt"}},
		{"SameRoleSameRegion", viaRole(ref(roleKey), externalID), viaRole(ref(symKey2), externalID), []string{"ReEncrypt"}},
		{"OtherRegion", ref(symKey), refIn(usEast1, symKeyUS), []string{"Decrypt", "Encrypt"}},
		{"DirectToRole", ref(symKey), viaRole(ref(roleKey), externalID), []string{"Decrypt", "Encrypt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			e := newEnv(t, false)
			b := identity("acme", 1)
			w := e.generate(t, tc.from, b)
			e.generate(t, tc.to, identity("acme", 2)) // learn the destination key first
			e.ts.ClearEvents()
			moved, err := e.p.Rewrap(ctx, w, tc.to, b)
			if err != nil {
				t.Fatalf("Rewrap() err = %v", err)
			}
			var ops []string
			for _, ev := range e.ts.Events() {
				ops = append(ops, ev.EventName)
			}
			if strings.Join(ops, ",") != strings.Join(tc.wantOps, ",") {
				t.Errorf("Rewrap() made %v, want %v", ops, tc.wantOps)
			}
			if moved.Key.ID != tc.to.ID || moved.RequestID == "" {
				t.Errorf("Rewrap() = key %s, request id %q; want key %s and a request id", moved.Key.ID, moved.RequestID, tc.to.ID)
			}
			mustDo[*envelope.TenantKey](t)(e.p.Unwrap(ctx, moved, b))
		})
	}
}

// TestStaleSessionAssumedAgain: when KMS refuses a cached role session's
// credentials, whether as expired (however long ago: the provider's clock
// here never moves, as when the emulator's clock is advanced) or as unknown
// (the emulator restarted from a state taken before the session), the
// provider assumes the role again within the same call, which succeeds;
// the refusal is never classified as a misconfigured key.
func TestStaleSessionAssumedAgain(t *testing.T) {
	cases := []struct {
		name, refusal string
		stale         func(e *env, before string)
	}{
		{"expired a minute ago", "ExpiredTokenException", func(e *env, _ string) { e.ts.Advance(time.Hour + time.Minute) }},
		{"expired days ago", "ExpiredTokenException", func(e *env, _ string) { e.ts.Advance(40 * 24 * time.Hour) }},
		{"unknown to KMS", "UnrecognizedClientException", func(e *env, before string) {
			if err := e.ts.SetStateFile(before); err != nil {
				t.Fatal(err)
			}
		}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			var frozen time.Time
			e := newEnv(t, false, func(cfg *awskms.Config) { cfg.Clock = func() time.Time { return frozen } })
			frozen = e.ts.Now()
			before := filepath.Join(t.TempDir(), "state.json")
			if err := e.ts.SetStateFile(before); err != nil {
				t.Fatal(err)
			}
			saved, err := os.ReadFile(before)
			if err != nil {
				t.Fatal(err)
			}
			r := viaRole(ref(roleKey), externalID)
			b := identity("acme", 1)
			w := e.generate(t, r, b)
			if err := os.WriteFile(before, saved, 0o600); err != nil {
				t.Fatal(err)
			}
			c.stale(e, before)
			mustDo[*envelope.TenantKey](t)(e.p.Unwrap(ctx, w, b))
			if n := len(e.events("AssumeRole", "")); n != 2 {
				t.Fatalf("%d AssumeRole calls, want 2: the first session and its replacement", n)
			}
			decrypts := e.events("Decrypt", euWest1)
			if len(decrypts) != 2 || decrypts[0].ErrorCode != c.refusal || decrypts[1].ErrorCode != "" {
				t.Fatalf("Decrypt events = %+v, want one refused with %s, then one that succeeded", decrypts, c.refusal)
			}
		})
	}
}

// TestDirectCredentialsRejected: the platform's own credentials, refused,
// are a misconfiguration at once; there is no session to assume again.
func TestDirectCredentialsRejected(t *testing.T) {
	e := newEnv(t, false, func(cfg *awskms.Config) {
		cfg.AWS.Credentials = aws.NewCredentialsCache(credentials.NewStaticCredentialsProvider("AKIAUNKNOWN000000001", "x", ""))
	})
	_, _, err := e.p.GenerateAndWrap(ctx, ref(symKey), identity("acme", 1))
	e.wantClass(t, err, kms.Misconfigured, true)
	if n := len(e.ts.Events()); n != 1 {
		t.Fatalf("events = %+v, want the one refused request", e.ts.Events())
	}
}
