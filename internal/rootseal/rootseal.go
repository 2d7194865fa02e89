// Package rootseal seals the small secrets that the database keeps for the
// service itself, such as webhook signing secrets, under keys derived from
// the platform root key, so that a copy of the database alone does not
// reveal them.
//
// # Keys
//
// Each purpose has its own key per root key version: HKDF-SHA-256 of the
// version's material with the info "byok rootseal v1 " followed by the
// purpose. A value is sealed under the newest version of the root key file
// and names that version, so adding a version to the file (rotating the
// root key) leaves every value sealed before it readable for as long as
// the file keeps the older version; values sealed after use the new one.
//
// # Format
//
// A sealed value is a format byte (1), the root key version (4 bytes, big
// endian), a 12-byte random nonce and the AES-256-GCM ciphertext with its
// tag. The associated data binds the purpose, the version and the caller's
// binding (for a webhook, its id and tenant): a value copied to another
// owner's row does not open.
package rootseal

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/internal/keyfile"
)

// Sizes of the format.
const (
	formatV1   = 1
	headerSize = 1 + 4
	nonceSize  = 12
	tagSize    = 16
	// Overhead is how many bytes sealing adds to a secret.
	Overhead = headerSize + nonceSize + tagSize
)

// ErrOpen means a sealed value does not open: it is malformed, was altered,
// is bound to another owner, or names a root key version that the root key
// file does not hold. The error's text says which.
var ErrOpen = errors.New("rootseal: sealed value does not open")

// Sealer seals and opens the values of one purpose. Its zero value is
// unusable; it prints no key material.
type Sealer struct {
	purpose string
	keys    map[uint32]cipher.AEAD
	newest  uint32
}

// New derives the purpose's keys from every version of the root key file.
func New(f *keyfile.File, purpose string) (*Sealer, error) {
	if f == nil || len(f.Entries) == 0 {
		return nil, errors.New("rootseal: the root key file holds no key")
	}
	if purpose == "" {
		return nil, errors.New("rootseal: a purpose is required")
	}
	s := &Sealer{purpose: purpose, keys: map[uint32]cipher.AEAD{}, newest: f.Latest().Key.Version()}
	for _, e := range f.Entries {
		aead, err := derive(e.Key.Material(), purpose)
		if err != nil {
			return nil, err
		}
		s.keys[e.Key.Version()] = aead
	}
	return s, nil
}

func derive(material []byte, purpose string) (cipher.AEAD, error) {
	defer clear(material)
	key, err := hkdf.Key(sha256.New, material, nil, "byok rootseal v1 "+purpose, 32)
	if err != nil {
		return nil, fmt.Errorf("rootseal: derive key: %w", err)
	}
	defer clear(key)
	block, err := aes.NewCipher(key)
	if err != nil {
		return nil, fmt.Errorf("rootseal: %w", err)
	}
	return cipher.NewGCM(block)
}

// Seal seals secret under the newest root key version, bound to bind.
func (s *Sealer) Seal(secret []byte, bind ...string) ([]byte, error) {
	if s == nil || s.keys == nil {
		return nil, errors.New("rootseal: no sealer")
	}
	out := make([]byte, headerSize+nonceSize, headerSize+nonceSize+len(secret)+tagSize)
	out[0] = formatV1
	binary.BigEndian.PutUint32(out[1:headerSize], s.newest)
	if _, err := rand.Read(out[headerSize:]); err != nil {
		return nil, fmt.Errorf("rootseal: nonce: %w", err)
	}
	return s.keys[s.newest].Seal(out, out[headerSize:], secret, s.aad(out[:headerSize], bind)), nil
}

// Open returns the secret sealed in sealed with the same binding, or an
// error wrapping ErrOpen.
func (s *Sealer) Open(sealed []byte, bind ...string) ([]byte, error) {
	if s == nil || s.keys == nil {
		return nil, errors.New("rootseal: no sealer")
	}
	if len(sealed) < Overhead || sealed[0] != formatV1 {
		return nil, fmt.Errorf("%w: malformed (%d bytes)", ErrOpen, len(sealed))
	}
	version := binary.BigEndian.Uint32(sealed[1:headerSize])
	aead, ok := s.keys[version]
	if !ok {
		return nil, fmt.Errorf("%w: sealed under root key version %d, which the root key file does not hold", ErrOpen, version)
	}
	nonce, ct := sealed[headerSize:headerSize+nonceSize], sealed[headerSize+nonceSize:]
	plain, err := aead.Open(nil, nonce, ct, s.aad(sealed[:headerSize], bind))
	if err != nil {
		return nil, fmt.Errorf("%w: altered, or sealed for another owner", ErrOpen)
	}
	return plain, nil
}

// aad is the purpose, the header and each binding part, length-prefixed so
// that no two bindings give the same bytes.
func (s *Sealer) aad(header []byte, bind []string) []byte {
	b := binary.BigEndian.AppendUint16(nil, uint16(len(s.purpose)))
	b = append(b, s.purpose...)
	b = append(b, header...)
	for _, part := range bind {
		b = binary.BigEndian.AppendUint32(b, uint32(len(part)))
		b = append(b, part...)
	}
	return b
}

// String, GoString and Format keep the keys out of logs.
func (s *Sealer) String() string { return "rootseal.Sealer([redacted])" }

// GoString implements fmt.GoStringer.
func (s *Sealer) GoString() string { return s.String() }

// Format implements fmt.Formatter.
func (s *Sealer) Format(f fmt.State, _ rune) { fmt.Fprint(f, s.String()) }
