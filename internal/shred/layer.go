package shred

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
)

// layerVersion leads every sealed wrapping.
const layerVersion = 1

// layerAAD prefixes the associated data; the tenant and key version follow.
const layerAAD = "byok shred layer v1\x00"

const nonceSize = 12

// Layer seals wrappings under the tenants' shred keys. It is the SQL
// stores' sealer (sqlstore.Sealer).
type Layer struct {
	keys *Keystore
}

// NewLayer returns the layer over keys.
func NewLayer(keys *Keystore) *Layer { return &Layer{keys: keys} }

// Seal seals a wrapping's ciphertext of the tenant's key version, creating
// the tenant's shred key if it has none. It fails with ErrDestroyed for a
// tenant whose key was destroyed.
func (l *Layer) Seal(ctx context.Context, tenant string, version uint32, blob []byte) ([]byte, error) {
	key, err := l.keys.KeyOrCreate(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer key.Destroy()
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	out := make([]byte, 1+nonceSize, 1+nonceSize+len(blob)+aead.Overhead())
	out[0] = layerVersion
	random(out[1:])
	return aead.Seal(out, out[1:], blob, aad(tenant, version)), nil
}

// Open returns the ciphertext inside sealed. It fails with ErrDestroyed
// when the tenant's shred key was destroyed, ErrMissing when the keystore
// has no key for it, and store.ErrCorrupt when the bytes do not open.
func (l *Layer) Open(ctx context.Context, tenant string, version uint32, sealed []byte) ([]byte, error) {
	key, err := l.keys.Key(ctx, tenant)
	if err != nil {
		return nil, err
	}
	defer key.Destroy()
	return OpenWith(key, tenant, version, sealed)
}

// OpenWith opens sealed with the shred key key.
func OpenWith(key *envelope.TenantKey, tenant string, version uint32, sealed []byte) ([]byte, error) {
	aead, err := newAEAD(key)
	if err != nil {
		return nil, err
	}
	if len(sealed) < 1+nonceSize+aead.Overhead() || sealed[0] != layerVersion {
		return nil, store.Corrupt(fmt.Errorf("shred: tenant %s version %d: the sealed wrapping is malformed", tenant, version))
	}
	blob, err := aead.Open(nil, sealed[1:1+nonceSize], sealed[1+nonceSize:], aad(tenant, version))
	if err != nil {
		return nil, store.Corrupt(fmt.Errorf("shred: tenant %s version %d: the sealed wrapping does not open", tenant, version))
	}
	return blob, nil
}

func newAEAD(key *envelope.TenantKey) (cipher.AEAD, error) {
	material := key.Material()
	if material == nil {
		return nil, errors.New("shred: the shred key is destroyed")
	}
	defer clear(material)
	block, err := aes.NewCipher(material)
	if err != nil {
		return nil, err
	}
	return cipher.NewGCM(block)
}

func aad(tenant string, version uint32) []byte {
	b := append([]byte(layerAAD), tenant...)
	b = append(b, 0)
	return binary.BigEndian.AppendUint32(b, version)
}
