package control

import (
	"crypto/ed25519"
	"encoding/json"
	"errors"
	"os"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/internal/shred"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/kms/localkms"
)

func offboardReceipt(t *testing.T, e *env, id string) *Receipt {
	t.Helper()
	sr, err := e.svc.Offboard(ctx, id)
	if err != nil {
		t.Fatalf("Offboard() err = %v", err)
	}
	r, err := VerifyReceipt(e.svcCfg.Receipts.PublicKey(), sr)
	if err != nil {
		t.Fatalf("VerifyReceipt() err = %v", err)
	}
	return r
}

func wantCheck(t *testing.T, r *Receipt, i int, want ReceiptCheck) {
	t.Helper()
	if i >= len(r.Checks) {
		t.Fatalf("receipt checks = %+v, want %+v at %d", r.Checks, want, i)
	}
	got := r.Checks[i]
	if got.Check != want.Check || got.Outcome != want.Outcome || got.Code != want.Code || got.Key != want.Key {
		t.Fatalf("receipt check %d = %+v, want %+v", i, got, want)
	}
}

// Offboarding destroys the shred key first: the receipt says when, the
// platform's own read of the tenant's keys is refused, and the customer's
// key, still enabled, would still open a copy of the newest wrapping.
func TestOffboardShredsKey(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	if _, err := e.shredKeys.Key(ctx, "acme"); err != nil {
		t.Fatalf("no shred key for an enabled tenant: %v", err)
	}
	r := offboardReceipt(t, e, "acme")
	if r.Format != ReceiptFormat || len(r.Destroyed) != 1 || r.Destroyed[0].What != SecretShredKey || r.Destroyed[0].At.IsZero() {
		t.Fatalf("receipt = %+v, want format v2 with the shred key destroyed", r)
	}
	wantCheck(t, r, 0, ReceiptCheck{Check: CheckPlatformUnwrap, Outcome: OutcomeRefused, Code: CodeTenantShredded})
	wantCheck(t, r, 1, ReceiptCheck{Check: CheckCustomerKey, Key: mrkARN, Outcome: OutcomeAccepted})
	if _, err := e.shredKeys.Key(ctx, "acme"); !errors.Is(err, shred.ErrDestroyed) {
		t.Fatalf("shred key after Offboard err = %v, want destroyed", err)
	}
}

// A customer who disabled their key before offboarding gets a receipt
// saying KMS refused, with the request id to find in CloudTrail.
func TestOffboardCustomerKeyDisabled(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	if _, err := e.admin.DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: aws.String(mrkID)}); err != nil {
		t.Fatal(err)
	}
	r := offboardReceipt(t, e, "acme")
	wantCheck(t, r, 1, ReceiptCheck{Check: CheckCustomerKey, Key: mrkARN, Outcome: OutcomeRefused, Code: "key_disabled"})
	if r.Checks[1].RequestID == "" {
		t.Fatalf("customer key check = %+v, want the KMS request id", r.Checks[1])
	}
}

// An offboarding interrupted after the shred key was destroyed finishes,
// with the first destruction's time; nothing is left to probe with.
func TestOffboardResumesAfterShredKey(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	tn, _ := e.svc.Tenant(ctx, "acme")
	if _, err := e.svc.beginOffboarding(ctx, tn); err != nil {
		t.Fatal(err)
	}
	at, err := e.shredKeys.Destroy(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	r := offboardReceipt(t, e, "acme")
	if len(r.Destroyed) != 1 || !r.Destroyed[0].At.Equal(at) || len(r.Versions) != 1 {
		t.Fatalf("receipt = %+v, want the shred key destroyed at %v and version 1", r, at)
	}
	wantCheck(t, r, 0, ReceiptCheck{Check: CheckPlatformUnwrap, Outcome: OutcomeRefused, Code: CodeTenantShredded})
	wantCheck(t, r, 1, ReceiptCheck{Check: CheckCustomerKey, Outcome: OutcomeSkipped})
}

// The loser of two offboardings at once may read the tenant before the
// winner records its offboarding and its versions after the winner
// destroyed the shred key: it answers tenant_shredded, not a bare store
// error.
func TestOffboardLosesToConcurrentDestroy(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	tn, _ := e.svc.Tenant(ctx, "acme")
	if _, err := e.shredKeys.Destroy(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.beginOffboarding(ctx, tn); Code(err) != CodeTenantShredded {
		t.Fatalf("beginOffboarding() after the shred key was destroyed err = %v, want %s", err, CodeTenantShredded)
	}
}

// Wrappings the shred layer does not cover (written without it) still
// unwrap after the shred key is gone: the offboarding fails rather than
// sign a receipt that says they do not.
func TestOffboardRefusesWhatStillUnwraps(t *testing.T) {
	e := newLifecycleEnvWith(t, envOptions{noShred: true})
	e.enable(t, "acme", home, mrkARN)
	e.svc.cfg.Shred = shredKeys(t, e.cfg.Providers[localkms.ProviderName].(*localkms.Provider))
	_, err := e.svc.Offboard(ctx, "acme")
	if err == nil {
		t.Fatal("Offboard() with unsealed wrappings err = nil, want a refusal to sign")
	}
	if tn, _ := e.svc.Tenant(ctx, "acme"); tn.Receipt != nil {
		t.Fatal("a receipt was stored")
	}
}

// Receipts signed before the v2 format keep verifying.
func TestVerifyReceiptV1(t *testing.T) {
	_, root := rootKey(t)
	s, err := NewReceiptSigner(root)
	if err != nil {
		t.Fatal(err)
	}
	body, _ := json.Marshal(Receipt{Format: ReceiptFormatV1, Tenant: "acme", Versions: []ReceiptVersion{{Version: 1, Wrappings: 2}},
		Requested: time.Unix(1e9, 0).UTC(), Deleted: time.Unix(1e9+1, 0).UTC(), Signer: s.id})
	r, err := VerifyReceipt(s.PublicKey(), &SignedReceipt{Receipt: body, Signature: ed25519.Sign(s.priv, signedBytes(body))})
	if err != nil || r.Format != ReceiptFormatV1 || len(r.Checks) != 0 {
		t.Fatalf("VerifyReceipt(v1) = %+v, %v", r, err)
	}
}

// The SQLite database's WAL is emptied after offboarding.
func TestOffboardReclaimsWAL(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	offboardReceipt(t, e, "acme")
	if _, ok := e.store.(*sqlite.Store); !ok {
		t.Skip("not SQLite")
	}
	if n := walSize(t, e.dbPath); n != 0 {
		t.Fatalf("WAL after Offboard is %d bytes, want truncated", n)
	}
}

func walSize(t *testing.T, db string) int64 {
	t.Helper()
	st, err := os.Stat(db + "-wal")
	if errors.Is(err, os.ErrNotExist) {
		return 0
	}
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// A tenant that never had a key version gets a tombstone all the same, so
// no shred key can be made for it later.
func TestOffboardWithoutVersions(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	r := offboardReceipt(t, e, "acme")
	if len(r.Destroyed) != 1 || len(r.Checks) != 1 {
		t.Fatalf("receipt = %+v, want the shred key destroyed and one check", r)
	}
	wantCheck(t, r, 0, ReceiptCheck{Check: CheckPlatformUnwrap, Outcome: OutcomeRefused, Code: CodeNoKeyVersion})
	if _, err := e.shredKeys.KeyOrCreate(ctx, "acme"); !errors.Is(err, shred.ErrDestroyed) {
		t.Fatalf("KeyOrCreate after Offboard err = %v, want destroyed", err)
	}
}
