package control

import (
	"crypto/ed25519"
	"crypto/hkdf"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/tenant"
)

// ReceiptFormat names version 2 of the deletion receipt (docs/receipts.md),
// which adds what was destroyed outside the database and the checks made
// after.
const ReceiptFormat = "byok-deletion-receipt-v2"

// ReceiptFormatV1 names version 1, which offboardings before the shred
// layer signed; such receipts keep verifying.
const ReceiptFormatV1 = "byok-deletion-receipt-v1"

// SecretShredKey is the ReceiptSecret.What of a tenant's shred key.
const SecretShredKey = "shred_key"

// receiptDomain prefixes the signed bytes, so a receipt signature can never
// be taken for a signature over anything else.
const receiptDomain = "byok deletion receipt v1\x00"

// receiptKeyInfo is the HKDF info that derives the signing key's seed from
// the platform root key; the root key's name and version follow it.
const receiptKeyInfo = "byok receipt signing key v1"

// Receipt is the record that a tenant's keys were destroyed.
type Receipt struct {
	Format string `json:"format"`
	Tenant string `json:"tenant"`
	// Versions are the tenant key versions destroyed.
	Versions []ReceiptVersion `json:"versions"`
	// Keys are the keys (customer or platform) whose wrappings of the
	// tenant's versions were deleted.
	Keys []ReceiptKey `json:"keys"`
	// Requested is when offboarding began (the tenant stopped serving);
	// Deleted when the wrappings were deleted and the caches emptied.
	Requested time.Time `json:"requested"`
	Deleted   time.Time `json:"deleted"`
	// Signer is the signing key's id: "ed25519:" and the first 16 bytes of
	// the SHA-256 of its public key, in hex.
	Signer string `json:"signer"`
	// Destroyed are the secrets kept outside the database that were
	// destroyed: the tenant's shred key (v2).
	Destroyed []ReceiptSecret `json:"destroyed,omitempty"`
	// Checks are what the platform verified once the shred key was
	// destroyed (v2).
	Checks []ReceiptCheck `json:"checks,omitempty"`
}

// ReceiptSecret is a secret destroyed, and when.
type ReceiptSecret struct {
	What string    `json:"what"`
	At   time.Time `json:"at"`
}

// ReceiptCheck is one check made after the shred key was destroyed:
// platform_unwrap (the platform's own read and unwrap of the tenant's keys;
// its outcome is always refused, or no receipt is signed) or customer_key
// (a KMS decrypt, with the customer's key, of the newest wrapping as it was
// before offboarding).
type ReceiptCheck struct {
	Check string `json:"check"`
	// Key and Region name the customer key of a customer_key check.
	Key    string `json:"key,omitempty"`
	Region string `json:"region,omitempty"`
	// Outcome is refused, accepted, unavailable or skipped.
	Outcome string `json:"outcome"`
	// Code is the refusal's error code (e.g. key_disabled).
	Code string `json:"code,omitempty"`
	// RequestID is the KMS request id of the probe, for CloudTrail.
	RequestID string `json:"request_id,omitempty"`
}

// ReceiptVersion is one destroyed tenant key version.
type ReceiptVersion = tenant.DestroyedVersion

// ReceiptKey is one key whose wrappings were destroyed.
type ReceiptKey = tenant.DestroyedKey

// SignedReceipt is a receipt as handed out: the exact JSON bytes signed and
// the Ed25519 signature over receiptDomain followed by them.
type SignedReceipt = tenant.SignedReceipt

// ReceiptSigner signs deletion receipts with an Ed25519 key derived from the
// platform root key, so receipts need no key of their own to keep, and
// anyone holding the public key (which the platform publishes) can check
// them without being able to forge one.
type ReceiptSigner struct {
	priv ed25519.PrivateKey
	id   string
}

// NewReceiptSigner derives the signing key from the platform root key (the
// newest version of the platform key file): its seed is HKDF-SHA-256 of
// the root key material with info "byok receipt signing key v1", the root
// key's name and its version. The same root key always gives the same
// signer; rotating the root key gives a new one.
func NewReceiptSigner(root *envelope.TenantKey) (*ReceiptSigner, error) {
	if root == nil {
		return nil, errors.New("control: receipt signer needs the platform root key")
	}
	material := root.Material()
	if material == nil {
		return nil, errors.New("control: the platform root key is destroyed")
	}
	info := fmt.Sprintf("%s|%s|%d", receiptKeyInfo, root.Tenant(), root.Version())
	seed, err := hkdf.Key(sha256.New, material, nil, info, ed25519.SeedSize)
	clear(material)
	if err != nil {
		return nil, fmt.Errorf("control: derive the receipt key: %w", err)
	}
	priv := ed25519.NewKeyFromSeed(seed)
	clear(seed)
	return &ReceiptSigner{priv: priv, id: SignerID(priv.Public().(ed25519.PublicKey))}, nil
}

// PublicKey returns the key that verifies this signer's receipts.
func (s *ReceiptSigner) PublicKey() ed25519.PublicKey {
	return s.priv.Public().(ed25519.PublicKey)
}

// SignerID is the id receipts carry for the key pub.
func SignerID(pub ed25519.PublicKey) string {
	sum := sha256.Sum256(pub)
	return "ed25519:" + hex.EncodeToString(sum[:16])
}

// Sign fills in r.Format and r.Signer and signs r.
func (s *ReceiptSigner) Sign(r *Receipt) (*SignedReceipt, error) {
	r.Format, r.Signer = ReceiptFormat, s.id
	body, err := json.Marshal(r)
	if err != nil {
		return nil, err
	}
	return &SignedReceipt{Receipt: body, Signature: ed25519.Sign(s.priv, signedBytes(body))}, nil
}

func signedBytes(body []byte) []byte {
	return append([]byte(receiptDomain), body...)
}

// VerifyReceipt checks sr's signature under pub and returns the receipt. It
// fails with receipt_invalid when the signature does not verify, the
// receipt is not of this format, or it names another signer.
func VerifyReceipt(pub ed25519.PublicKey, sr *SignedReceipt) (*Receipt, error) {
	if sr == nil || len(pub) != ed25519.PublicKeySize {
		return nil, badReceipt("no receipt or no public key", nil)
	}
	if !ed25519.Verify(pub, signedBytes(sr.Receipt), sr.Signature) {
		return nil, badReceipt("the signature does not verify", nil)
	}
	var r Receipt
	if err := json.Unmarshal(sr.Receipt, &r); err != nil {
		return nil, badReceipt("the receipt is not valid JSON", err)
	}
	if r.Format != ReceiptFormat && r.Format != ReceiptFormatV1 {
		return nil, badReceipt(fmt.Sprintf("unknown receipt format %q", r.Format), nil)
	}
	if r.Signer != SignerID(pub) {
		return nil, badReceipt("the receipt names another signer", nil)
	}
	return &r, nil
}

func badReceipt(msg string, err error) error {
	return &Error{Code: CodeReceiptInvalid, Message: "deletion receipt: " + msg, Err: err}
}
