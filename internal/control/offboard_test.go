package control

import (
	"bytes"
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/json"
	"io"
	"sync"
	"testing"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
)

// Offboarding destroys every wrapping and cached key: records and streams
// sealed before all fail with tenant_shredded, and the signed receipt lists
// what was destroyed.
func TestOffboard(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	e.enable(t, "globex", usEast, usAlias)
	if _, err := e.svc.RotateTenantKey(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	kr := e.keyringIn(t, home)
	e.svc.cfg.Keyring = kr // the service's own keyring, whose cache Offboard empties
	recs := sealN(t, kr, "acme", 3)
	stream := sealStream(t, kr, "acme")
	us := e.keyringIn(t, usEast)
	others := sealN(t, us, "globex", 1)
	if kr.Stats("acme").CachedKeys == 0 {
		t.Fatal("no key of acme cached before Offboard")
	}

	sr, err := e.svc.Offboard(ctx, "acme")
	if err != nil {
		t.Fatalf("Offboard() err = %v", err)
	}
	r, err := VerifyReceipt(e.svcCfg.Receipts.PublicKey(), sr)
	if err != nil {
		t.Fatalf("VerifyReceipt() err = %v", err)
	}
	if r.Tenant != "acme" || len(r.Versions) != 2 || len(r.Keys) != 2 || r.Deleted.Before(r.Requested) || r.Format != ReceiptFormat {
		t.Fatalf("receipt = %+v, want acme's 2 versions under 2 keys", r)
	}
	if tn, _ := e.svc.Tenant(ctx, "acme"); tn.State != tenant.StateShredded {
		t.Fatalf("state after Offboard = %s, want shredded", tn.State)
	}
	if kr.Stats("acme").CachedKeys != 0 {
		t.Fatal("the offboarding process still caches acme's keys")
	}
	if pt, err := openStream(e.keyringIn(t, usEast), "globex", sealStream(t, us, "globex")); err != nil || len(pt) == 0 {
		t.Fatalf("another tenant's stream: %v", err)
	}
	for _, open := range []*keyring.Keyring{kr, e.keyringIn(t, home)} {
		for _, rec := range recs {
			_, err := open.Open(ctx, "acme", rec.ct, envelope.Context{"row": rec.pt})
			wantCode(t, err, CodeTenantShredded)
		}
		_, err := openStream(open, "acme", stream)
		wantCode(t, err, CodeTenantShredded)
		_, err = open.Seal(ctx, "acme", []byte("x"), nil)
		wantCode(t, err, CodeTenantShredded)
	}
	openAll(t, e.keyringIn(t, usEast), "globex", others)
	if vs, _ := e.store.Versions(ctx, "acme"); len(vs) != 0 {
		t.Fatalf("%d versions left after Offboard", len(vs))
	}
	if as, _ := e.svc.Attachments(ctx, "acme"); len(as) != 0 {
		t.Fatalf("%d attachments left after Offboard", len(as))
	}
	again, err := e.svc.DeletionReceipt(ctx, "acme")
	if err != nil || !bytes.Equal(again.Receipt, sr.Receipt) {
		t.Fatalf("DeletionReceipt() = %v, %v; want the receipt Offboard returned", again, err)
	}
	_, err = e.svc.Offboard(ctx, "acme")
	wantCode(t, err, CodeTenantShredded)
	_, err = e.svc.RotateTenantKey(ctx, "acme")
	wantCode(t, err, CodeTenantShredded)
	_, err = e.svc.ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: mrk2ARN})
	wantCode(t, err, CodeTenantShredded)
	// Without the gate the keyring says the version is unknown.
	plain, _ := keyring.New(e.cfg)
	_, err = plain.Open(ctx, "acme", recs[0].ct, envelope.Context{"row": recs[0].pt})
	wantCode(t, err, "key_version_unknown")
}

func TestOffboardErrors(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	_, err := e.svc.Offboard(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
	_, err = e.svc.DeletionReceipt(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
	e.enable(t, "acme", home, mrkARN)
	_, err = e.svc.DeletionReceipt(ctx, "acme")
	wantCode(t, err, CodeWrongState)
	cfg := e.svcCfg
	cfg.Receipts = nil
	svc, _ := New(cfg)
	_, err = svc.Offboard(ctx, "acme")
	wantCode(t, err, CodeNoReceiptKey)
	if tn, _ := e.svc.Tenant(ctx, "acme"); tn.State != tenant.StateActive {
		t.Fatalf("state after a refused Offboard = %s, want active", tn.State)
	}
	if _, err := NewReceiptSigner(nil); err == nil {
		t.Fatal("NewReceiptSigner(nil) err = nil")
	}
}

// An offboarding interrupted after the tenant became shredded finishes
// when called again, with a receipt listing what existed at the start.
func TestOffboardResumes(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	tn, _ := e.svc.Tenant(ctx, "acme")
	if _, err := e.svc.beginOffboarding(ctx, tn); err != nil {
		t.Fatal(err)
	}
	sr, err := e.svc.Offboard(ctx, "acme")
	if err != nil {
		t.Fatalf("Offboard() after an interrupted one err = %v", err)
	}
	r, err := VerifyReceipt(e.svcCfg.Receipts.PublicKey(), sr)
	if err != nil || len(r.Versions) != 1 || r.Versions[0].Wrappings != 2 {
		t.Fatalf("receipt = %+v, %v; want version 1 with its 2 wrappings", r, err)
	}
}

// A receipt verifies under its signer's key only, and not once changed.
func TestVerifyReceipt(t *testing.T) {
	_, root := rootKey(t)
	s, err := NewReceiptSigner(root)
	if err != nil {
		t.Fatal(err)
	}
	s2, _ := NewReceiptSigner(root)
	if !s.PublicKey().Equal(s2.PublicKey()) {
		t.Fatal("the same root key derived two signing keys")
	}
	// The derivation documented in docs/receipts.md.
	seed, _ := hkdf.Key(sha256.New, root.Material(), nil, "byok receipt signing key v1|platform-root|1", 32)
	if !ed25519.NewKeyFromSeed(seed).Public().(ed25519.PublicKey).Equal(s.PublicKey()) {
		t.Fatal("the signing key is not the one docs/receipts.md derives")
	}
	sr, err := s.Sign(&Receipt{Tenant: "acme", Versions: []ReceiptVersion{{Version: 1}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := VerifyReceipt(s.PublicKey(), sr); err != nil {
		t.Fatalf("VerifyReceipt() err = %v", err)
	}
	if !ed25519.Verify(s.PublicKey(), append([]byte("byok deletion receipt v1\x00"), sr.Receipt...), sr.Signature) {
		t.Fatal("the signature is not over the bytes docs/receipts.md names")
	}
	_, other := rootKey(t)
	os, _ := NewReceiptSigner(other)
	tampered := bytes.Replace(sr.Receipt, []byte(`"acme"`), []byte(`"acmf"`), 1)
	badSig := append([]byte(nil), sr.Signature...)
	badSig[0] ^= 1
	forged, _ := os.Sign(&Receipt{Tenant: "acme"})
	unknown, _ := json.Marshal(Receipt{Format: "v0", Tenant: "acme", Signer: s.id})
	for name, tc := range map[string]struct {
		pub ed25519.PublicKey
		sr  *SignedReceipt
	}{
		"tampered body":      {s.PublicKey(), &SignedReceipt{Receipt: tampered, Signature: sr.Signature}},
		"flipped signature":  {s.PublicKey(), &SignedReceipt{Receipt: sr.Receipt, Signature: badSig}},
		"other signer":       {s.PublicKey(), forged},
		"no receipt":         {s.PublicKey(), nil},
		"short key":          {s.PublicKey()[:5], sr},
		"unknown format":     {s.PublicKey(), &SignedReceipt{Receipt: unknown, Signature: ed25519.Sign(s.priv, signedBytes(unknown))}},
		"signer id mismatch": {os.PublicKey(), &SignedReceipt{Receipt: sr.Receipt, Signature: ed25519.Sign(os.priv, signedBytes(sr.Receipt))}},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := VerifyReceipt(tc.pub, tc.sr)
			wantCode(t, err, CodeReceiptInvalid)
		})
	}
}

func sealStream(t *testing.T, kr *keyring.Keyring, id string) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := kr.NewWriter(ctx, id, &buf, envelope.Context{"file": "f"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.Write(bytes.Repeat([]byte("stream "), 20_000)); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func openStream(kr *keyring.Keyring, id string, ct []byte) ([]byte, error) {
	r, err := kr.NewReader(ctx, id, bytes.NewReader(ct), envelope.Context{"file": "f"}, nil)
	if err != nil {
		return nil, err
	}
	return io.ReadAll(r)
}

// Two offboardings at once shred once and hand out one receipt.
func TestConcurrentOffboard(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	var wg sync.WaitGroup
	got := make([]*SignedReceipt, 2)
	errs := make([]error, 2)
	for i := range got {
		wg.Go(func() { got[i], errs[i] = e.svc.Offboard(ctx, "acme") })
	}
	wg.Wait()
	stored, err := e.svc.DeletionReceipt(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for i := range got {
		switch {
		case errs[i] == nil && !bytes.Equal(got[i].Receipt, stored.Receipt):
			t.Fatalf("Offboard() %d returned a receipt other than the stored one", i)
		case errs[i] != nil && Code(errs[i]) != CodeTenantShredded && Code(errs[i]) != CodeConflict:
			t.Fatalf("Offboard() %d err = %v", i, errs[i])
		}
	}
	if _, err := VerifyReceipt(e.svcCfg.Receipts.PublicKey(), stored); err != nil {
		t.Fatal(err)
	}
}
