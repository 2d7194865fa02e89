package platform

import (
	"crypto/rand"
	"fmt"
	"regexp"
)

// External ID length bounds. STS accepts 2 to 1224 characters; the platform
// asks for at least 8 so that a guessed or reused short value is unlikely, and
// at most 128 so that it fits in any console field and log line.
const (
	MinExternalIDLen     = 8
	MaxExternalIDLen     = 128
	DefaultExternalIDLen = 32
)

var externalIDRe = regexp.MustCompile(`^[A-Za-z0-9+=,.@:/-]+$`)

// externalIDAlphabet is the part of the allowed set that needs no quoting
// anywhere (URLs, YAML, shells), for generated ids.
const externalIDAlphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789"

// NewExternalID returns a random External ID of DefaultExternalIDLen
// characters from crypto/rand (about 190 bits).
func NewExternalID() string {
	return randomString(DefaultExternalIDLen)
}

func randomString(n int) string {
	b := make([]byte, n)
	// Rejection sampling keeps the distribution uniform: 62 does not divide 256.
	limit := byte(256 - 256%len(externalIDAlphabet))
	buf := make([]byte, 1)
	for i := 0; i < n; {
		_, _ = rand.Read(buf) // crypto/rand.Read never fails
		if buf[0] >= limit {
			continue
		}
		b[i] = externalIDAlphabet[int(buf[0])%len(externalIDAlphabet)]
		i++
	}
	return string(b)
}

// CheckExternalID validates a supplied External ID: 8 to 128 characters of
// A-Z a-z 0-9 and + = , . @ : / -.
func CheckExternalID(id string) error {
	fail := func(format string, a ...any) error {
		return &Error{Code: CodeInvalidExternalID, Field: "external_id", Reason: fmt.Sprintf(format, a...)}
	}
	if err := checkLen("external_id", id); err != nil {
		return err
	}
	if len(id) < MinExternalIDLen || len(id) > MaxExternalIDLen {
		return fail("%d characters, want %d to %d", len(id), MinExternalIDLen, MaxExternalIDLen)
	}
	if !externalIDRe.MatchString(id) {
		return fail("only A-Z a-z 0-9 and + = , . @ : / - are allowed")
	}
	return nil
}
