package auth

import (
	"crypto/sha256"
	"encoding/base32"
	"fmt"
	"io"
	"log/slog"
	"strings"
)

// Token format: "byok_" + id + "_" + secret, where id is 16 and secret 52
// characters of lowercase base32 (a-z 2-7). The id is 80 random bits and
// public: it finds the stored token and names it in lists and logs. The
// secret is 256 random bits and is never stored, only its hash.
const (
	tokenPrefix = "byok_"
	idBytes     = 10
	secretBytes = 32
	idLen       = 16 // base32 of idBytes
	secretLen   = 52 // base32 of secretBytes, unpadded
	tokenLen    = len(tokenPrefix) + idLen + 1 + secretLen
)

var b32 = base32.NewEncoding("abcdefghijklmnopqrstuvwxyz234567").WithPadding(base32.NoPadding)

// hashDomain separates token hashes from any other SHA-256 use and binds
// the hash to the token id, so a stored hash is only good for its own row.
const hashDomain = "byok api token v1\x00"

// token is a parsed plaintext token. It holds the secret, so every way of
// printing it shows only the prefix and the id.
type token struct {
	id     string
	secret string
}

// parseToken accepts exactly the format above: the length, the prefix, the
// separator and the alphabet, and nothing else (no whitespace, no case
// folding), so one token has one spelling.
func parseToken(s string) (token, error) {
	if len(s) != tokenLen || !strings.HasPrefix(s, tokenPrefix) {
		return token{}, fmt.Errorf("%w: not a byok API token", ErrUnauthenticated)
	}
	rest := s[len(tokenPrefix):]
	id, secret := rest[:idLen], rest[idLen+1:]
	if rest[idLen] != '_' || !base32Text(id) || !base32Text(secret) || !canonicalSecret(secret) {
		return token{}, fmt.Errorf("%w: malformed byok API token", ErrUnauthenticated)
	}
	return token{id: id, secret: secret}, nil
}

func base32Text(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// canonicalSecret reports whether the secret's unused low 4 bits are zero:
// 52 characters carry 260 bits for 256 bits of secret, and a token that
// differs only there is not the token that was issued.
func canonicalSecret(s string) bool {
	last := strings.IndexByte("abcdefghijklmnopqrstuvwxyz234567", s[len(s)-1])
	return last&0xf == 0
}

// plaintext is the token as given to its holder, once.
func (t token) plaintext() string { return tokenPrefix + t.id + "_" + t.secret }

// hash is what the store keeps. One SHA-256 is enough: the secret is 256
// uniformly random bits, so inverting the hash of a leaked row costs 2^256
// guesses either way. Slow password hashes (bcrypt, argon2) only help
// low-entropy secrets, and would cost milliseconds on every request.
func (t token) hash() []byte {
	h := sha256.New()
	io.WriteString(h, hashDomain+t.id+"\x00"+t.secret)
	return h.Sum(nil)
}

func (t token) redacted() string { return tokenPrefix + t.id + "_…" }

// String, GoString, Format, LogValue and MarshalText print the token
// redacted, whatever the verb or logger.
func (t token) String() string               { return t.redacted() }
func (t token) GoString() string             { return t.redacted() }
func (t token) Format(f fmt.State, _ rune)   { io.WriteString(f, t.redacted()) }
func (t token) LogValue() slog.Value         { return slog.StringValue(t.redacted()) }
func (t token) MarshalText() ([]byte, error) { return []byte(t.redacted()), nil }
