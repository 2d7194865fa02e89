package envelope

import (
	"context"
	"crypto/aes"
	"crypto/cipher"
	"crypto/hkdf"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"fmt"
	"io"
	"log/slog"
	"sync"
	"sync/atomic"
)

// KeySize is the size of a tenant key in bytes.
const KeySize = 32

// MaxTenantIDLen is the longest tenant id. A header's key scope id adds an
// optional vault name and may be up to [MaxScopeIDLen].
const MaxTenantIDLen = 128

// TenantKey is one version of a tenant's 256-bit key. It is opaque: the material
// never appears in any print, log or JSON path, and leaves only through
// [TenantKey.Material], which returns a copy. Use it through a pointer; a
// TenantKey is safe for concurrent use.
//
// A TenantKey also holds the data keys derived from it: the one this process
// seals with (replaced after [DataKeyMessageLimit] records) and a bounded cache
// of those seen while opening.
type TenantKey struct {
	tenant    string
	version   uint32
	matMu     sync.RWMutex // Destroy takes it to clear material no reader is using
	material  [KeySize]byte
	destroyed atomic.Bool

	sealing atomic.Pointer[dataKey]
	sealMu  sync.Mutex // serialises replacement of the sealing data key

	openMu sync.Mutex
	opened map[[saltSize]byte]*dataKey
}

// NewTenantKey builds a tenant key from existing material, for example a key
// just unwrapped by a KMS. material is copied. tenant is a key scope id (see
// [ScopeID]): a tenant id for the tenant's own scope, or tenant/vault.
func NewTenantKey(tenant string, version uint32, material []byte) (*TenantKey, error) {
	if err := checkScopeID(tenant); err != nil {
		return nil, err
	}
	if version == 0 {
		return nil, fmt.Errorf("%w: key version must be 1 or more", ErrInvalidKey)
	}
	if len(material) != KeySize {
		return nil, fmt.Errorf("%w: material is %d bytes, want %d", ErrInvalidKey, len(material), KeySize)
	}
	k := &TenantKey{tenant: tenant, version: version}
	copy(k.material[:], material)
	return k, nil
}

// GenerateTenantKey creates a tenant key with fresh material from rand, or from
// crypto/rand when rand is nil.
func GenerateTenantKey(tenant string, version uint32, rnd io.Reader) (*TenantKey, error) {
	var m [KeySize]byte
	if err := readRandom(rnd, m[:]); err != nil {
		return nil, fmt.Errorf("envelope: generate key: %w", err)
	}
	return NewTenantKey(tenant, version, m[:])
}

// ValidTenantID reports whether id can name a tenant: 1 to 128 characters of
// A–Z, a–z, 0–9, '.', '_', ':' and '-'.
func ValidTenantID(id string) bool { return checkTenantID(id) == nil }

func checkTenantID(id string) error {
	if id == "" || len(id) > MaxTenantIDLen {
		return fmt.Errorf("%w: tenant id must be 1 to %d characters", ErrInvalidKey, MaxTenantIDLen)
	}
	for i := 0; i < len(id); i++ {
		if !tenantIDChar(id[i]) {
			return fmt.Errorf("%w: tenant id %q has a character outside A-Z a-z 0-9 . _ : -", ErrInvalidKey, id)
		}
	}
	return nil
}

func tenantIDChar(c byte) bool {
	return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9' ||
		c == '.' || c == '_' || c == ':' || c == '-'
}

// Tenant returns the key scope id the key belongs to: the tenant id for the
// tenant's own scope, tenant/vault for another vault (see [ParseScope]).
func (k *TenantKey) Tenant() string { return k.tenant }

// Version returns the key version.
func (k *TenantKey) Version() uint32 { return k.version }

// Material returns a copy of the key bytes, for wrapping under a KMS key.
func (k *TenantKey) Material() []byte {
	k.matMu.RLock()
	defer k.matMu.RUnlock()
	m := k.material
	return m[:]
}

// Equal reports whether both keys have the same tenant, version and material,
// comparing the material in constant time.
func (k *TenantKey) Equal(o *TenantKey) bool {
	if k == nil || o == nil {
		return k == o
	}
	a, b := k.Material(), o.Material()
	defer clear(a)
	defer clear(b)
	same := subtle.ConstantTimeCompare(a, b) == 1
	return same && k.tenant == o.tenant && k.version == o.version
}

// Destroy overwrites the key material and drops the derived data keys, so the
// key cannot seal or open any more. Go may have copied the bytes elsewhere (the
// garbage collector moves nothing here, but callers' copies from Material and
// the AES key schedules inside dropped cipher.AEAD values are only released to
// the collector), so this limits exposure; it does not guarantee erasure.
func (k *TenantKey) Destroy() {
	k.matMu.Lock()
	k.destroyed.Store(true)
	clear(k.material[:])
	k.matMu.Unlock()
	k.sealing.Store(nil)
	k.openMu.Lock()
	k.opened = nil
	k.openMu.Unlock()
}

func (k *TenantKey) usable() error {
	if k == nil {
		return fmt.Errorf("%w: nil key", ErrInvalidKey)
	}
	if k.destroyed.Load() {
		return fmt.Errorf("%w: key was destroyed", ErrInvalidKey)
	}
	return nil
}

const redacted = "[redacted]"

// String describes the key without its material.
func (k *TenantKey) String() string {
	if k == nil {
		return "envelope.TenantKey(nil)"
	}
	return fmt.Sprintf("envelope.TenantKey{tenant=%s version=%d material=%s}", k.tenant, k.version, redacted)
}

// GoString keeps %#v from printing the material.
func (k *TenantKey) GoString() string { return k.String() }

// Format keeps every fmt verb (%x, %v, %+v, %s, ...) on the redacted form.
func (k *TenantKey) Format(f fmt.State, _ rune) { _, _ = io.WriteString(f, k.String()) }

// MarshalJSON writes the tenant and version and a redacted placeholder.
func (k *TenantKey) MarshalJSON() ([]byte, error) {
	return fmt.Appendf(nil, `{"tenant":%q,"version":%d,"material":%q}`, k.tenant, k.version, redacted), nil
}

// MarshalText keeps text encoders (YAML, TOML, flag values) on the redacted form.
func (k *TenantKey) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// LogValue keeps slog on the redacted form.
func (k *TenantKey) LogValue() slog.Value {
	return slog.GroupValue(slog.String("tenant", k.tenant), slog.Uint64("version", uint64(k.version)),
		slog.String("material", redacted))
}

// DataKeyMessageLimit is how many records one process seals with one derived
// data key before it derives the next. FORMAT.md gives the bound it keeps.
const DataKeyMessageLimit = 1 << 24

// dataKeyMessageLimit is DataKeyMessageLimit, lowered by tests that watch a
// data key being replaced.
var dataKeyMessageLimit uint64 = DataKeyMessageLimit

// maxOpenedDataKeys bounds the per-key cache of data keys seen while opening.
const maxOpenedDataKeys = 256

const (
	saltSize   = 32
	commitSize = 32
	nonceSize  = 12
	tagSize    = 16
)

// dataKey is an AEAD derived from a tenant key and a salt, with the commitment
// value that proves which key it came from.
type dataKey struct {
	salt   [saltSize]byte
	commit [commitSize]byte
	aead   cipher.AEAD
	used   atomic.Uint64
}

// deriveInfo names what a derived key is for, so record and stream keys from
// the same tenant key and salt are unrelated.
func deriveInfo(label string, tenant string, version uint32, extra []byte) string {
	b := make([]byte, 0, len(label)+2+len(tenant)+4+len(extra))
	b = append(b, label...)
	b = append(b, 0, byte(len(tenant)))
	b = append(b, tenant...)
	b = binary.BigEndian.AppendUint32(b, version)
	b = append(b, extra...)
	return string(b)
}

// derive runs HKDF-SHA-256 over the tenant key and returns the AEAD key's
// cipher and the commitment value, both from one expansion.
func (k *TenantKey) derive(salt []byte, info string) (cipher.AEAD, [commitSize]byte, error) {
	var commit [commitSize]byte
	k.matMu.RLock()
	defer k.matMu.RUnlock()
	if k.destroyed.Load() {
		return nil, commit, fmt.Errorf("%w: key was destroyed", ErrInvalidKey)
	}
	okm, err := hkdf.Key(sha256.New, k.material[:], salt, info, KeySize+commitSize)
	if err != nil {
		return nil, commit, err
	}
	defer clear(okm)
	copy(commit[:], okm[KeySize:])
	block, err := aes.NewCipher(okm[:KeySize])
	if err != nil {
		return nil, commit, err
	}
	aead, err := cipher.NewGCM(block)
	return aead, commit, err
}

var recordLabel = "byok record v1 data key"

func (k *TenantKey) newRecordDataKey(rnd io.Reader) (*dataKey, error) {
	dk := &dataKey{}
	if err := readRandom(rnd, dk.salt[:]); err != nil {
		return nil, err
	}
	aead, commit, err := k.derive(dk.salt[:], deriveInfo(recordLabel, k.tenant, k.version, []byte{algAES256GCMHKDF}))
	if err != nil {
		return nil, err
	}
	dk.aead, dk.commit = aead, commit
	return dk, nil
}

// sealingKey returns the process's current data key and this record's
// message number under it (1, 2, ...), which is the record's nonce. A new data
// key is derived once the current one has sealed DataKeyMessageLimit records.
func (k *TenantKey) sealingKey() (*dataKey, uint64, error) {
	if dk := k.sealing.Load(); dk != nil {
		if n := dk.used.Add(1); n <= dataKeyMessageLimit {
			return dk, n, nil
		}
	}
	k.sealMu.Lock()
	defer k.sealMu.Unlock()
	if dk := k.sealing.Load(); dk != nil {
		if n := dk.used.Add(1); n <= dataKeyMessageLimit {
			return dk, n, nil
		}
	}
	dk, err := k.newRecordDataKey(nil)
	if err != nil {
		return nil, 0, err
	}
	dk.used.Store(1)
	k.sealing.Store(dk)
	return dk, 1, nil
}

// openingKey returns the data key for salt, checking commit against it in
// constant time. Derived keys are cached per salt, so opening many records from
// one writer derives once.
func (k *TenantKey) openingKey(salt, commit []byte) (*dataKey, error) {
	var s [saltSize]byte
	copy(s[:], salt)
	dk := k.cachedOpening(s)
	if dk == nil {
		var err error
		if dk, err = k.deriveOpening(s); err != nil {
			return nil, err
		}
	}
	if !equalCommit(dk.commit[:], commit) {
		return nil, fail(ErrInvalidCiphertext, "key commitment does not match the tenant key")
	}
	return dk, nil
}

func (k *TenantKey) cachedOpening(s [saltSize]byte) *dataKey {
	if cur := k.sealing.Load(); cur != nil && cur.salt == s {
		return cur
	}
	k.openMu.Lock()
	defer k.openMu.Unlock()
	return k.opened[s]
}

func (k *TenantKey) deriveOpening(s [saltSize]byte) (*dataKey, error) {
	aead, commit, err := k.derive(s[:], deriveInfo(recordLabel, k.tenant, k.version, []byte{algAES256GCMHKDF}))
	if err != nil {
		return nil, err
	}
	dk := &dataKey{salt: s, commit: commit, aead: aead}
	k.openMu.Lock()
	defer k.openMu.Unlock()
	if k.destroyed.Load() {
		return dk, nil
	}
	if k.opened == nil {
		k.opened = make(map[[saltSize]byte]*dataKey)
	}
	if len(k.opened) >= maxOpenedDataKeys {
		for old := range k.opened { // map order is random: a cheap random eviction
			delete(k.opened, old)
			break
		}
	}
	k.opened[s] = dk
	return dk, nil
}

func readRandom(rnd io.Reader, b []byte) error {
	if rnd == nil {
		_, _ = rand.Read(b) // crypto/rand.Read never fails (Go 1.24+)
		return nil
	}
	_, err := io.ReadFull(rnd, b)
	return err
}

// KeyLookup finds the tenant key a ciphertext names. The tenant it is asked for
// is the header's key scope id (see [ScopeID]), so a lookup that serves a
// tenant's vaults serves each scope id as its own tenant. Implementations
// return [ErrWrongTenant] for a scope they do not serve and [ErrKeyVersionUnknown] for
// a version they do not have; any other error (a KMS outage, say) is passed
// through to the caller of Open unchanged.
type KeyLookup interface {
	TenantKey(ctx context.Context, tenant string, version uint32) (*TenantKey, error)
}

// KeyLookupFunc adapts a function to [KeyLookup].
type KeyLookupFunc func(ctx context.Context, tenant string, version uint32) (*TenantKey, error)

// TenantKey calls f.
func (f KeyLookupFunc) TenantKey(ctx context.Context, tenant string, version uint32) (*TenantKey, error) {
	return f(ctx, tenant, version)
}

// KeySet is a fixed set of tenant keys, the simplest [KeyLookup].
type KeySet struct {
	keys    map[keySetKey]*TenantKey
	tenants map[string]bool
}

type keySetKey struct {
	tenant  string
	version uint32
}

// NewKeySet returns a KeySet holding keys.
func NewKeySet(keys ...*TenantKey) *KeySet {
	s := &KeySet{keys: make(map[keySetKey]*TenantKey, len(keys)), tenants: map[string]bool{}}
	for _, k := range keys {
		s.keys[keySetKey{k.tenant, k.version}] = k
		s.tenants[k.tenant] = true
	}
	return s
}

// TenantKey returns the key for tenant and version.
func (s *KeySet) TenantKey(_ context.Context, tenant string, version uint32) (*TenantKey, error) {
	if k, ok := s.keys[keySetKey{tenant, version}]; ok {
		return k, nil
	}
	if !s.tenants[tenant] {
		return nil, fail(ErrWrongTenant, "no key for tenant "+tenant)
	}
	return nil, fail(ErrKeyVersionUnknown, fmt.Sprintf("tenant %s has no key version %d", tenant, version))
}

// lookupKey asks lookup for the key and checks that it is the one the header
// names, so a faulty lookup cannot make data open under another tenant's key.
func lookupKey(ctx context.Context, lookup KeyLookup, tenant string, version uint32) (*TenantKey, error) {
	k, err := lookup.TenantKey(ctx, tenant, version)
	if err != nil {
		return nil, err
	}
	if err := k.usable(); err != nil {
		return nil, err
	}
	if k.tenant != tenant {
		return nil, fail(ErrWrongTenant, "key lookup returned a key of tenant "+k.tenant+" for tenant "+tenant)
	}
	if k.version != version {
		return nil, fail(ErrKeyVersionUnknown, fmt.Sprintf("key lookup returned version %d for version %d", k.version, version))
	}
	return k, nil
}

// equalCommit compares two commitment values in constant time, a word at a
// time: it runs on every record opened.
func equalCommit(a, b []byte) bool {
	if len(a) != commitSize || len(b) != commitSize {
		return false
	}
	var d uint64
	for i := 0; i < commitSize; i += 8 {
		d |= binary.LittleEndian.Uint64(a[i:]) ^ binary.LittleEndian.Uint64(b[i:])
	}
	return d == 0
}
