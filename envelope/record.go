package envelope

import (
	"context"
	"encoding/binary"
	"io"
	"sync"
	"unsafe"
)

// MaxRecordSize is the largest plaintext a record holds. Larger data belongs in
// a stream, which never needs the whole plaintext in memory.
const MaxRecordSize = 64 << 20

// RecordOverhead returns how many bytes a record adds to its plaintext for a
// key scope id (tenant id, or tenant/vault) of tenantLen bytes when the context
// is not stored.
func RecordOverhead(tenantLen int) int {
	return prefixLen + tenantLen + 4 + saltSize + commitSize + nonceSize + tagSize
}

// RecordOptions adjusts [AppendSeal]. The zero value is the default.
type RecordOptions struct {
	// StoreContext writes the encryption context into the header, so that
	// [ParseHeader] can show it. It is authenticated either way.
	StoreContext bool
	// Rand, when set, supplies the salt of a data key used for this record
	// only (message number 1), so output is reproducible. For test vectors only.
	Rand io.Reader
}

// Seal encrypts plaintext for key's tenant and version, binding ec.
func Seal(key *TenantKey, plaintext []byte, ec Context) ([]byte, error) {
	return AppendSeal(nil, key, plaintext, ec, nil)
}

// AppendSeal appends the record for plaintext to dst and returns the extended
// slice. With enough capacity in dst it does not allocate. plaintext must not
// overlap dst's spare capacity.
func AppendSeal(dst []byte, key *TenantKey, plaintext []byte, ec Context, opts *RecordOptions) ([]byte, error) {
	if opts == nil {
		opts = &RecordOptions{}
	}
	if err := key.usable(); err != nil {
		return nil, err
	}
	if len(plaintext) > MaxRecordSize {
		return nil, ErrTooLarge
	}
	scratch := getScratch()
	defer putScratch(scratch)
	enc, err := ec.appendCanonical((*scratch)[:0])
	if err != nil {
		return nil, err
	}
	dk, msg, err := recordSealingKey(key, opts.Rand)
	if err != nil {
		return nil, err
	}
	var nonce [nonceSize]byte
	binary.BigEndian.PutUint64(nonce[4:], msg)
	h := Header{Kind: KindRecord, FormatVersion: formatV1, Algorithm: algAES256GCMHKDF, Tenant: key.tenant,
		KeyVersion: key.version, salt: dk.salt[:], commit: dk.commit[:], nonce: nonce[:], tlen: len(key.tenant)}
	fixed := h.fixedLen()
	hlen := fixed
	if opts.StoreContext {
		h.flags = flagContextStored
		hlen += 2 + len(enc)
	}
	out, start := grow(dst, hlen+len(plaintext)+tagSize)
	out = h.appendFixed(out[:start])
	if opts.StoreContext {
		out = binary.BigEndian.AppendUint16(out, uint16(len(enc)))
		out = append(out, enc...)
	}
	aad := recordAAD(scratch, enc, out[start:], opts.StoreContext)
	// The nonce is read from the header just written: a local array would
	// escape through the AEAD interface and cost an allocation.
	return dk.aead.Seal(out, out[start+fixed-nonceSize:start+fixed], plaintext, aad), nil
}

func recordSealingKey(key *TenantKey, rnd io.Reader) (*dataKey, uint64, error) {
	if rnd == nil {
		return key.sealingKey()
	}
	dk, err := key.newRecordDataKey(rnd)
	return dk, 1, err
}

// recordAAD returns a record's associated data: the header when it holds the
// context, otherwise the canonical context followed by the header. enc is the
// canonical context at the start of *scratch; the concatenation is built there
// so that sealing and opening do not allocate.
func recordAAD(scratch *[]byte, enc, header []byte, stored bool) []byte {
	if stored || len(enc) == 0 {
		return header
	}
	*scratch = append(enc, header...)
	return *scratch
}

// Open decrypts a record, using lookup to find the key its header names, and
// checks that ec is the context it was sealed with.
func Open(ctx context.Context, lookup KeyLookup, ciphertext []byte, ec Context) ([]byte, error) {
	return AppendOpen(ctx, nil, lookup, ciphertext, ec)
}

// AppendOpen appends the plaintext of ciphertext to dst. To decrypt in place,
// pass ciphertext[:0] as dst: the plaintext ends up at the start of ciphertext's
// array. Any other overlap of dst's spare capacity with ciphertext is handled
// the same way, at the cost of one copy.
func AppendOpen(ctx context.Context, dst []byte, lookup KeyLookup, ciphertext []byte, ec Context) ([]byte, error) {
	var h Header
	n, err := h.parse(ciphertext)
	if err != nil {
		return nil, err
	}
	if h.Kind != KindRecord {
		return nil, fail(ErrInvalidCiphertext, "this is a stream, not a record")
	}
	if len(ciphertext)-n < tagSize {
		return nil, errCut("authentication tag")
	}
	scratch := getScratch()
	defer putScratch(scratch)
	enc, err := ec.appendCanonical((*scratch)[:0])
	if err != nil {
		return nil, err
	}
	if h.stored() && string(h.contextEnc) != string(enc) {
		return nil, fail(ErrContextMismatch, "stored context differs from the caller's")
	}
	key, err := lookupKey(ctx, lookup, h.Tenant, h.KeyVersion)
	if err != nil {
		return nil, err
	}
	dk, err := key.openingKey(h.salt, h.commit)
	if err != nil {
		return nil, err
	}
	aad := recordAAD(scratch, enc, ciphertext[:n], h.stored())
	if anyOverlap(dst[len(dst):cap(dst)], ciphertext) {
		return openInPlace(dst, dk, h.nonce, ciphertext[n:], aad)
	}
	out, err := dk.aead.Open(dst, h.nonce, ciphertext[n:], aad)
	if err != nil {
		return nil, errRecordAuth
	}
	return out, nil
}

var errRecordAuth = fail(ErrInvalidCiphertext, "record authentication failed (altered bytes or a different context)")

// openInPlace decrypts body onto itself, then moves the plaintext to the end
// of dst, which shares body's array: AES-GCM allows exact overlap only.
func openInPlace(dst []byte, dk *dataKey, nonce, body, aad []byte) ([]byte, error) {
	pt, err := dk.aead.Open(body[:0], nonce, body, aad)
	if err != nil {
		return nil, errRecordAuth
	}
	out, start := grow(dst, len(pt))
	copy(out[start:], pt)
	return out, nil
}

// anyOverlap reports whether x and y share memory.
func anyOverlap(x, y []byte) bool {
	return len(x) > 0 && len(y) > 0 &&
		uintptr(unsafe.Pointer(&x[0])) <= uintptr(unsafe.Pointer(&y[len(y)-1])) &&
		uintptr(unsafe.Pointer(&y[0])) <= uintptr(unsafe.Pointer(&x[len(x)-1]))
}

// grow makes room for n more bytes after len(b) and returns the slice at full
// length together with the old length.
func grow(b []byte, n int) ([]byte, int) {
	start := len(b)
	if cap(b)-start < n {
		nb := make([]byte, start, start+n)
		copy(nb, b)
		b = nb
	}
	return b[:start+n], start
}

var scratchPool = sync.Pool{New: func() any { b := make([]byte, 0, 512); return &b }}

func getScratch() *[]byte { return scratchPool.Get().(*[]byte) }

func putScratch(b *[]byte) {
	if cap(*b) > 64<<10 {
		return
	}
	scratchPool.Put(b)
}
