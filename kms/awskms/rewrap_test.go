package awskms_test

import (
	"maps"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// minimalStatement is a vendor's minimal grant to the platform: no
// kms:ReEncrypt*.
const minimalStatement = `{"Sid":"Platform","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},
  "Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}`

// putPolicy replaces the key policy of key id in eu-west-1.
func (e *env) putPolicy(t *testing.T, id, policy string) {
	t.Helper()
	_, err := e.admin(t, euWest1).PutKeyPolicy(ctx, &kmsapi.PutKeyPolicyInput{KeyId: aws.String(id),
		PolicyName: aws.String("default"), Policy: aws.String(policy)})
	if err != nil {
		t.Fatalf("PutKeyPolicy(%s) err = %v", id, err)
	}
}

// rewrapOps rewraps w to to and returns the requests it made, each as
// name or name=error code.
func (e *env) rewrapOps(t *testing.T, w *kms.Wrapped, to kms.KeyRef, b kms.Identity) (*kms.Wrapped, []string) {
	t.Helper()
	e.ts.ClearEvents()
	moved, err := e.p.Rewrap(ctx, w, to, b)
	if err != nil {
		t.Fatalf("Rewrap() err = %v", err)
	}
	var ops []string
	for _, ev := range e.ts.Events() {
		op := ev.EventName
		if ev.ErrorCode != "" {
			op += "=" + ev.ErrorCode
		}
		ops = append(ops, op)
		if ev.ErrorCode == "" && !maps.Equal(ev.EncryptionContext, b.EncryptionContext()) {
			t.Errorf("%s encryption context = %v, want the identity's %v", ev.EventName, ev.EncryptionContext, b.EncryptionContext())
		}
	}
	return moved, ops
}

func wantOps(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Errorf("Rewrap() made %v, want %v", got, want)
	}
}

// TestRewrapWithoutReEncrypt: with keys whose policies grant no
// kms:ReEncrypt*, Rewrap moves the tenant key with Decrypt then Encrypt,
// under the identity's encryption context; the denial is remembered, so
// later rewraps make no denied call, until the retry time has passed.
func TestRewrapWithoutReEncrypt(t *testing.T) {
	e := newEnv(t, false)
	for _, id := range []string{symKey, symKey2} {
		e.putPolicy(t, id, keyPolicy(ownerStatement, minimalStatement))
	}
	b1, b2 := identity("acme", 1), identity("acme", 2)
	w1, w2 := e.generate(t, ref(symKey), b1), e.generate(t, ref(symKey), b2)
	e.generate(t, ref(symKey2), identity("acme", 3)) // learn the destination key first

	moved, ops := e.rewrapOps(t, w1, ref(symKey2), b1)
	wantOps(t, ops, "ReEncrypt=AccessDeniedException", "Decrypt", "Encrypt")
	if moved.Key.ID != keyARN(euWest1, symKey2) || moved.Algorithm != "SYMMETRIC_DEFAULT" || moved.RequestID == "" {
		t.Fatalf("Rewrap() = %+v, want a symmetric wrapping under %s with a request id", moved, symKey2)
	}
	_, ops = e.rewrapOps(t, w2, ref(symKey2), b2)
	wantOps(t, ops, "Decrypt", "Encrypt")

	mustDo[*envelope.TenantKey](t)(e.p.Unwrap(ctx, moved, b1))
	if _, err := e.p.Unwrap(ctx, moved, b2); kms.ClassOf(err) != kms.InvalidCiphertext {
		t.Fatalf("Unwrap(moved wrapping, another version's identity) err = %v, want InvalidCiphertext", err)
	}

	// Granted ReEncrypt later, the provider uses it again once the denial is
	// old enough.
	for _, id := range []string{symKey, symKey2} {
		e.putPolicy(t, id, keyPolicy(ownerStatement, platformStatement))
	}
	e.ts.Advance(61 * time.Minute)
	_, ops = e.rewrapOps(t, w2, ref(symKey2), b2)
	wantOps(t, ops, "ReEncrypt")
}

// TestRewrapRevokedKey: a key that denies everything still fails as
// Denied; the fallback makes no Encrypt under the destination.
func TestRewrapRevokedKey(t *testing.T) {
	e := newEnv(t, false)
	b := identity("acme", 1)
	w := e.generate(t, ref(symKey), b)
	e.generate(t, ref(symKey2), identity("acme", 2))
	e.putPolicy(t, symKey, keyPolicy(ownerStatement))
	e.ts.ClearEvents()
	_, err := e.p.Rewrap(ctx, w, ref(symKey2), b)
	e.wantClass(t, err, kms.Denied, true)
	if n := len(e.events("Encrypt", "")); n != 0 {
		t.Fatalf("Rewrap() from a revoked key made %d Encrypt calls, want none", n)
	}
}
