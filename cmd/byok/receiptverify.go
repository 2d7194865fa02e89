package main

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"strings"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/control"
)

const verifyReceiptUsage = "byok tenant verify-receipt [--public-key KEY] FILE"

// runTenantVerifyReceipt checks a receipt kept as 'byok tenant receipt
// --json' wrote it, against the public key given or else against the keys
// the server publishes (GET /v1/receipt-keys).
func runTenantVerifyReceipt(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant verify-receipt", verifyReceiptUsage)
	pubFlag := r.fs.String("public-key", "", "the platform's receipt public `key` (base64, as GET /v1/receipt-keys lists it); default: ask the server")
	pos, err := r.parse(args, 1, "one receipt file")
	if err != nil {
		return err
	}
	sr, err := readReceipt(pos[0])
	if err != nil {
		return err
	}
	keys, err := receiptKeys(ctx, r, *pubFlag)
	if err != nil {
		return err
	}
	return verifyAndPrint(c, r, sr, keys)
}

func readReceipt(path string) (*control.SignedReceipt, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHint(exitUsage, err, "pass the file 'byok tenant receipt --json TENANT' wrote")
	}
	var sr control.SignedReceipt
	if err := json.Unmarshal(b, &sr); err != nil || len(sr.Receipt) == 0 {
		return nil, withHint(exitDecrypt, fmt.Errorf("receipt_invalid: %s is not a signed receipt", path),
			"pass the file 'byok tenant receipt --json TENANT' wrote, unchanged")
	}
	return &sr, nil
}

// receiptKeys is the key given on the command line, or the server's.
func receiptKeys(ctx context.Context, r *remote, given string) ([]ed25519.PublicKey, error) {
	if given != "" {
		b, err := base64.StdEncoding.DecodeString(given)
		if err != nil || len(b) != ed25519.PublicKeySize {
			return nil, usageErr("--public-key must be a base64 Ed25519 public key (%d bytes)", ed25519.PublicKeySize)
		}
		return []ed25519.PublicKey{b}, nil
	}
	cl, err := r.client()
	if err != nil {
		return nil, err
	}
	ks, err := cl.ReceiptKeys(ctx)
	if err != nil {
		return nil, apiErr(err)
	}
	return publicKeys(ks), nil
}

func publicKeys(ks []client.ReceiptKey) []ed25519.PublicKey {
	out := make([]ed25519.PublicKey, 0, len(ks))
	for _, k := range ks {
		if len(k.PublicKey) == ed25519.PublicKeySize {
			out = append(out, k.PublicKey)
		}
	}
	return out
}

// compacted is sr with its receipt in the compact form it was signed in: a
// copy that was pretty-printed since (as releases before this one did with
// --json) has the same members in the same order, so compacting restores
// the signed bytes; any other change still fails.
func compacted(sr *control.SignedReceipt) *control.SignedReceipt {
	var buf bytes.Buffer
	if err := json.Compact(&buf, sr.Receipt); err != nil {
		return sr
	}
	return &control.SignedReceipt{Receipt: buf.Bytes(), Signature: sr.Signature}
}

// verifyAndPrint verifies sr under the key its signer id names and prints
// what the receipt says.
func verifyAndPrint(c *cli, r *remote, sr *control.SignedReceipt, keys []ed25519.PublicKey) error {
	var head struct {
		Signer string `json:"signer"`
	}
	_ = json.Unmarshal(sr.Receipt, &head)
	for _, k := range keys {
		if control.SignerID(k) != head.Signer {
			continue
		}
		if _, err := control.VerifyReceipt(k, compacted(sr)); err != nil {
			msg := strings.TrimPrefix(err.Error(), "control: deletion receipt: ")
			return withHint(exitDecrypt, errors.New("receipt_invalid: "+msg), "the receipt was altered, or is not the one the platform signed")
		}
		if _, err := fmt.Fprintf(c.stdout, "receipt verified: signed by %s\n", head.Signer); err != nil {
			return err
		}
		return printReceipt(c, r, &client.SignedReceipt{Receipt: sr.Receipt, Signature: sr.Signature})
	}
	return withHint(exitDecrypt, errors.New("receipt_invalid: no published key matches the receipt's signer "+head.Signer),
		"the receipt names a signer the platform does not publish: it was altered, or comes from another platform")
}
