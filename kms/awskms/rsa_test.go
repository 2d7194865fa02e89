package awskms_test

import (
	"bytes"
	"crypto/hmac"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// TestRSAWrapMakesNoKMSCall: after the key's one DescribeKey and
// GetPublicKey, wrapping is local; only unwrapping calls KMS, once.
func TestRSAWrapMakesNoKMSCall(t *testing.T) {
	for name, r := range map[string]kms.KeyRef{"Direct": ref(rsaKey), "ViaRole": viaRole(ref(rsaKey), externalID)} {
		t.Run(name, func(t *testing.T) {
			e := newEnv(t, true)
			e.generate(t, r, identity("acme", 1))
			if d, g := len(e.events("DescribeKey", "")), len(e.events("GetPublicKey", "")); d != 1 || g != 1 {
				t.Fatalf("first wrap: %d DescribeKey and %d GetPublicKey, want 1 and 1", d, g)
			}
			e.ts.ClearEvents()
			var ws []*kms.Wrapped
			for v := uint32(2); v < 12; v++ {
				ws = append(ws, e.generate(t, r, identity("acme", v)))
			}
			key := mustDo[*envelope.TenantKey](t)(envelope.GenerateTenantKey("acme", 12, nil))
			ws = append(ws, mustDo[*kms.Wrapped](t)(e.p.Wrap(ctx, r, key, identity("acme", 12))))
			if ev := e.ts.Events(); len(ev) != 0 {
				t.Fatalf("11 RSA wraps made %d AWS requests (%s…), want none", len(ev), ev[0].EventName)
			}
			got := mustDo[*envelope.TenantKey](t)(e.p.Unwrap(ctx, ws[10], identity("acme", 12)))
			if !got.Equal(key) {
				t.Fatal("Unwrap() returned another key than was wrapped")
			}
			dec := e.events("Decrypt", euWest1)
			if len(dec) != 1 || len(e.ts.Events()) != 1 || dec[0].ErrorCode != "" {
				t.Fatalf("unwrap made requests %+v, want one successful Decrypt", e.ts.Events())
			}
		})
	}
}

// TestRSAForgedWrappingCostsNoCall: a wrapping made by someone holding the
// public key but not the integrity key, or moved to another identity or key,
// fails as InvalidCiphertext before any KMS call.
func TestRSAForgedWrappingCostsNoCall(t *testing.T) {
	e := newEnv(t, true)
	b := identity("acme", 1)
	w := e.generate(t, ref(rsaKey), b)
	pub := publicKey(t, e)
	chosen := bytes.Repeat([]byte{0x42}, envelope.KeySize)
	forgedCT := mustDo[[]byte](t)(rsa.EncryptOAEP(sha256.New(), rand.Reader, pub, chosen, nil))
	e.ts.ClearEvents()

	forged := *w
	forged.Ciphertext = forgedCT
	withTag := forged
	mac := hmac.New(sha256.New, bytes.Repeat([]byte{1}, 32)) // an attacker's own key
	mac.Write(forgedCT)
	withTag.IdentityTag = mac.Sum(nil)
	noTag := *w
	noTag.IdentityTag = nil
	otherKey := *w
	otherKey.Key.ID = keyARN(euWest1, rsaKey2)
	for name, tc := range map[string]struct {
		w *kms.Wrapped
		b kms.Identity
	}{
		"KeptTag":      {&forged, b},
		"AttackersTag": {&withTag, b},
		"NoTag":        {&noTag, b},
		"OtherTenant":  {w, identity("globex", 1)},
		"OtherVersion": {w, identity("acme", 2)},
		"OtherKey":     {&otherKey, b},
	} {
		_, err := e.p.Unwrap(ctx, tc.w, tc.b)
		if kms.ClassOf(err) != kms.InvalidCiphertext {
			t.Errorf("%s: Unwrap() err = %v, want class InvalidCiphertext", name, err)
		}
	}
	if ev := e.ts.Events(); len(ev) != 0 {
		t.Fatalf("forged wrappings made %d AWS requests, want none", len(ev))
	}
}

func publicKey(t *testing.T, e *env) *rsa.PublicKey {
	t.Helper()
	out := mustDo[*kmsapi.GetPublicKeyOutput](t)(e.admin(t, euWest1).GetPublicKey(ctx, &kmsapi.GetPublicKeyInput{KeyId: aws.String(keyARN(euWest1, rsaKey))}))
	pub := mustDo[any](t)(x509.ParsePKIXPublicKey(out.PublicKey))
	return pub.(*rsa.PublicKey)
}

// TestRSANeedsIntegrityKey: without an integrity key, RSA keys are
// Misconfigured; symmetric keys still work.
func TestRSANeedsIntegrityKey(t *testing.T) {
	e := newEnv(t, true, func(c *awskms.Config) { c.IntegrityKey = nil })
	if _, _, err := e.p.GenerateAndWrap(ctx, ref(rsaKey), identity("acme", 1)); kms.ClassOf(err) != kms.Misconfigured {
		t.Fatalf("GenerateAndWrap(RSA key, no integrity key) err = %v, want class Misconfigured", err)
	}
	e.generate(t, ref(symKey), identity("acme", 1))
}

// TestRSAIntegrityKeyIsBound: another platform instance with a different
// integrity key refuses the wrapping, before calling KMS.
func TestRSAIntegrityKeyIsBound(t *testing.T) {
	e := newEnv(t, true)
	b := identity("acme", 1)
	w := e.generate(t, ref(rsaKey), b)
	cfg := e.cfg
	cfg.IntegrityKey = bytes.Repeat([]byte{7}, awskms.IntegrityKeySize)
	other := mustDo[*awskms.Provider](t)(awskms.New(ctx, cfg))
	e.ts.ClearEvents()
	if _, err := other.Unwrap(ctx, w, b); kms.ClassOf(err) != kms.InvalidCiphertext {
		t.Fatalf("Unwrap(other integrity key) err = %v, want class InvalidCiphertext", err)
	}
	if len(e.ts.Events()) != 0 {
		t.Fatal("a wrapping with a bad tag reached KMS")
	}
}

// TestRSADisabledKeyStopsUnwrap: revoking an RSA key stops unwraps (and is
// classified), though wrapping with the cached public key goes on.
func TestRSADisabledKeyStopsUnwrap(t *testing.T) {
	e := newEnv(t, true)
	b := identity("acme", 1)
	w := e.generate(t, ref(rsaKey), b)
	mustDo[*kmsapi.DisableKeyOutput](t)(e.admin(t, euWest1).DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: aws.String(keyARN(euWest1, rsaKey))}))
	_, err := e.p.Unwrap(ctx, w, b)
	e.wantClass(t, err, kms.Disabled, true)
	if err := e.p.Probe(ctx, w, b); kms.ClassOf(err) != kms.Disabled {
		t.Fatalf("Probe() err = %v, want class Disabled", err)
	}
}
