package control

import (
	"bytes"
	"crypto/ed25519"
	"os"
	"path/filepath"
	"testing"

	"github.com/byok-dev/byok/envelope"
)

// FuzzVerifyReceipt signs arbitrary bytes as a receipt, as only the
// platform can, and checks what a customer's verification makes of them:
// never a panic; either receipt_invalid or a receipt of this format (or
// v1, as stored before) and signer; and the same signature over altered
// bytes always fails.
func FuzzVerifyReceipt(f *testing.F) {
	dir := filepath.Join("testdata", "fuzz", "FuzzVerifyReceipt")
	if seeds, err := os.ReadDir(dir); err != nil || len(seeds) == 0 {
		f.Fatalf("seed folder %s is missing or empty (%v)", dir, err)
	}
	root, err := envelope.NewTenantKey("platform-root", 1, bytes.Repeat([]byte{7}, envelope.KeySize))
	if err != nil {
		f.Fatal(err)
	}
	signer, err := NewReceiptSigner(root)
	if err != nil {
		f.Fatal(err)
	}
	valid, err := signer.Sign(&Receipt{Tenant: "acme"})
	if err != nil {
		f.Fatal(err)
	}
	f.Add([]byte(valid.Receipt), uint(3))
	f.Fuzz(func(t *testing.T, body []byte, at uint) {
		sr := &SignedReceipt{Receipt: body, Signature: ed25519.Sign(signer.priv, signedBytes(body))}
		r, err := VerifyReceipt(signer.PublicKey(), sr)
		switch {
		case err != nil && Code(err) != CodeReceiptInvalid:
			t.Fatalf("VerifyReceipt(%q) = %v, want receipt_invalid", body, err)
		case err == nil && ((r.Format != ReceiptFormat && r.Format != ReceiptFormatV1) || r.Signer != signer.id):
			t.Fatalf("VerifyReceipt(%q) accepted format %q signer %q", body, r.Format, r.Signer)
		}
		if len(body) == 0 {
			return
		}
		altered := bytes.Clone(body)
		altered[at%uint(len(altered))] ^= 1
		if _, err := VerifyReceipt(signer.PublicKey(), &SignedReceipt{Receipt: altered, Signature: sr.Signature}); err == nil {
			t.Fatalf("a signature over %q verifies %q", body, altered)
		}
	})
}
