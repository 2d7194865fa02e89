package audit

import (
	"crypto/hkdf"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"log/slog"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
)

// KeySize is the size of a [Key].
const KeySize = 32

// Key is the secret that keys the chain's HMACs. Without it nobody can
// recompute a chain, so an attacker with write access to the database
// cannot forge rows or heads. The zero Key is unusable.
type Key struct {
	k   [KeySize]byte
	set bool
}

// keyInfo separates the audit key from every other key derived from the
// platform root key.
const keyInfo = "byok audit log v1"

// DeriveKey derives the audit key from a platform root key version with
// HKDF-SHA-256. The same root key version always gives the same audit key,
// so the version used must stay the same for as long as the chains it
// signed are kept (the command line uses the oldest version of the root key
// file, which adding versions does not change).
func DeriveKey(root *envelope.TenantKey) (Key, error) {
	if root == nil {
		return Key{}, errors.New("audit: no root key")
	}
	okm, err := hkdf.Key(sha256.New, root.Material(), nil, keyInfo, KeySize)
	if err != nil {
		return Key{}, err
	}
	var k Key
	copy(k.k[:], okm)
	k.set = true
	return k, nil
}

// KeyFromRootFile derives the audit key from the oldest version of a root
// key file: adding versions to the file (rotating the root key) leaves the
// audit key, and so every chain already written, unchanged.
func KeyFromRootFile(f *keyfile.File) (Key, error) {
	if f == nil || len(f.Entries) == 0 {
		return Key{}, errors.New("audit: the root key file holds no key")
	}
	return DeriveKey(f.Oldest().Key)
}

// Valid reports whether k holds a key.
func (k Key) Valid() bool { return k.set }

// Equal compares in constant time.
func (k Key) Equal(o Key) bool {
	return k.set == o.set && subtle.ConstantTimeCompare(k.k[:], o.k[:]) == 1
}

func (k Key) mac(parts ...[]byte) []byte {
	m := hmac.New(sha256.New, k.k[:])
	for _, p := range parts {
		m.Write(p)
	}
	return m.Sum(nil)
}

// String, GoString and LogValue keep the key out of logs.
func (Key) String() string { return "audit.Key([redacted])" }

// GoString implements fmt.GoStringer.
func (k Key) GoString() string { return k.String() }

// LogValue implements slog.LogValuer.
func (k Key) LogValue() slog.Value { return slog.StringValue(k.String()) }

// MarshalText refuses to encode the key.
func (Key) MarshalText() ([]byte, error) { return []byte("[redacted]"), nil }
