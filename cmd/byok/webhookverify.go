package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/byok-dev/byok/internal/monitor"
)

const webhookVerifyUsage = "byok webhook verify --secret-file FILE --signature HEADER [--window D] [BODY_FILE]"

// runWebhookVerify checks one delivery as a receiver must (docs/operations.md,
// "Verifying a delivery"): the Byok-Signature header over the exact body
// bytes (BODY_FILE, or stdin), with a timestamp inside the replay window.
// It calls no server: it helps a receiver's developers check their copy of
// a delivery and their secret.
func runWebhookVerify(_ context.Context, c *cli, args []string) error {
	fs := newFlags(c, "webhook verify", webhookVerifyUsage)
	secretFile := fs.String("secret-file", "", "the `file` holding the webhook's signing secret (hex, as 'webhook add' printed it)")
	header := fs.String("signature", "", "the delivery's Byok-Signature `header` value")
	window := fs.Duration("window", monitor.DefaultReplayWindow, "how far the signature's time may be from now")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if *secretFile == "" || *header == "" || fs.NArg() > 1 {
		return usageErr("--secret-file and --signature are required, with at most one body file")
	}
	secret, err := readSecret(*secretFile)
	if err != nil {
		return err
	}
	body, err := readBody(c, fs.Args())
	if err != nil {
		return err
	}
	if err := monitor.Verify(secret, *header, body, time.Now(), *window); err != nil {
		msg := strings.TrimPrefix(err.Error(), "monitor: ")
		return withHint(exitDecrypt, fmt.Errorf("%s: %s", monitor.Code(err), msg),
			"check that the body is the exact bytes received, the secret is the webhook's, and the clock is right")
	}
	_, err = fmt.Fprintln(c.stdout, "signature valid")
	return err
}

func readSecret(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, withHint(exitUsage, err, "pass the file holding the secret 'byok webhook add' printed")
	}
	secret, err := hex.DecodeString(strings.TrimSpace(string(b)))
	if err != nil || len(secret) == 0 {
		return nil, withHint(exitUsage, errors.New("the secret file does not hold a hex secret"), "pass the secret exactly as 'byok webhook add' printed it")
	}
	return secret, nil
}

func readBody(c *cli, args []string) ([]byte, error) {
	if len(args) == 0 {
		return io.ReadAll(c.stdin)
	}
	return os.ReadFile(args[0])
}
