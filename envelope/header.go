package envelope

import (
	"encoding/binary"
	"fmt"
)

// Format identifiers and versions; FORMAT.md is the normative description.
const (
	recordMagic = "BYKR"
	streamMagic = "BYKS"

	formatV1 = 1

	// algAES256GCMHKDF: HKDF-SHA-256 derives a 256-bit AES-GCM key and a 256-bit
	// commitment value from the tenant key and a random salt.
	algAES256GCMHKDF = 1

	flagContextStored = 1 << 0
	knownFlags        = flagContextStored

	// prefixLen covers magic, version, algorithm, flags and the scope id length.
	prefixLen = 8
)

// Kind says which format a header belongs to.
type Kind int

// The two formats.
const (
	KindRecord Kind = iota + 1
	KindStream
)

func (k Kind) String() string {
	switch k {
	case KindRecord:
		return "record"
	case KindStream:
		return "stream"
	}
	return fmt.Sprintf("Kind(%d)", int(k))
}

// Header is the authenticated, unencrypted part of a record or stream. Reading
// it needs no key, so a caller can route a ciphertext to the right tenant and
// key version before opening it.
type Header struct {
	Kind          Kind
	FormatVersion uint8
	Algorithm     uint8
	// Tenant is the key scope id (see [ParseScope]): the tenant id for the
	// tenant's own scope, tenant/vault for another vault.
	Tenant     string
	KeyVersion uint32
	// SegmentSize is the plaintext bytes per segment; streams only.
	SegmentSize int
	// Context is the encryption context when the writer chose to store it, and
	// nil otherwise. Opening still requires the caller to pass the same context.
	Context Context

	flags      byte
	salt       []byte
	commit     []byte
	nonce      []byte // records only
	contextEnc []byte // canonical encoding of Context, when stored
	tlen       int    // scope id length while parsing
}

// ParseHeader parses the header at the start of a record or stream. For a
// stream, b must hold at least the whole header.
func ParseHeader(b []byte) (*Header, error) {
	h := &Header{}
	if _, err := h.parse(b); err != nil {
		return nil, err
	}
	return h, nil
}

func errCut(what string) error {
	return fail(ErrInvalidCiphertext, "ciphertext too short: cut inside the "+what)
}

// parse fills h from b and returns the header's length in bytes.
func (h *Header) parse(b []byte) (int, error) {
	if err := h.parsePrefix(b); err != nil {
		return 0, err
	}
	n := h.fixedLen()
	if len(b) < n {
		return 0, errCut("header")
	}
	if err := h.parseFixed(b[prefixLen:n]); err != nil {
		return 0, err
	}
	if !h.stored() {
		return n, nil
	}
	if len(b) < n+2 {
		return 0, errCut("stored context")
	}
	clen := int(binary.BigEndian.Uint16(b[n:]))
	if len(b) < n+2+clen {
		return 0, errCut("stored context")
	}
	if err := h.setContext(b[n+2 : n+2+clen]); err != nil {
		return 0, err
	}
	return n + 2 + clen, nil
}

// parsePrefix checks the first prefixLen bytes: magic, version, algorithm,
// flags and scope id length.
func (h *Header) parsePrefix(b []byte) error {
	if len(b) < prefixLen {
		return errCut("header")
	}
	switch string(b[:4]) {
	case recordMagic:
		h.Kind = KindRecord
	case streamMagic:
		h.Kind = KindStream
	default:
		return fail(ErrInvalidCiphertext, "not a byok ciphertext (bad magic)")
	}
	h.FormatVersion, h.Algorithm, h.flags, h.tlen = b[4], b[5], b[6], int(b[7])
	if h.FormatVersion != formatV1 || h.Algorithm != algAES256GCMHKDF {
		return fail(ErrUnsupportedVersion, fmt.Sprintf("format version %d algorithm %d", h.FormatVersion, h.Algorithm))
	}
	if h.flags&^knownFlags != 0 || h.tlen == 0 || h.tlen > MaxScopeIDLen {
		return fail(ErrInvalidCiphertext, "unknown flags or bad key scope id length")
	}
	return nil
}

// fixedLen is the header length up to, not including, a stored context.
func (h *Header) fixedLen() int {
	n := prefixLen + h.tlen + 4 + saltSize + commitSize
	if h.Kind == KindRecord {
		return n + nonceSize
	}
	return n + 4
}

// parseFixed reads the fields after the prefix; b is exactly fixedLen-prefixLen
// bytes.
func (h *Header) parseFixed(b []byte) error {
	t := h.tlen
	h.Tenant = string(b[:t])
	if checkScopeID(h.Tenant) != nil {
		return fail(ErrInvalidCiphertext, "header holds an invalid key scope id")
	}
	h.KeyVersion = binary.BigEndian.Uint32(b[t:])
	b = b[t+4:]
	if h.Kind == KindStream {
		h.SegmentSize = int(binary.BigEndian.Uint32(b))
		b = b[4:]
	}
	h.salt, h.commit = b[:saltSize], b[saltSize:saltSize+commitSize]
	if h.Kind == KindRecord {
		h.nonce = b[saltSize+commitSize:]
	}
	if h.KeyVersion == 0 || (h.Kind == KindStream && !validSegmentSize(h.SegmentSize)) {
		return fail(ErrInvalidCiphertext, "header holds an invalid key version or segment size")
	}
	return nil
}

// stored reports whether the header carries the encryption context.
func (h *Header) stored() bool { return h.flags&flagContextStored != 0 }

func (h *Header) setContext(enc []byte) error {
	c, err := parseContext(enc)
	if err != nil {
		return err
	}
	h.Context, h.contextEnc = c, enc
	return nil
}

// marshal returns h in wire form, including a stored context.
func (h *Header) marshal() []byte {
	b := h.appendFixed(nil)
	if h.stored() {
		b = binary.BigEndian.AppendUint16(b, uint16(len(h.contextEnc)))
		b = append(b, h.contextEnc...)
	}
	return b
}

// appendFixed writes the header up to, not including, a stored context.
func (h *Header) appendFixed(b []byte) []byte {
	b = h.appendPreSalt(b)
	b = append(b, h.salt...)
	b = append(b, h.commit...)
	return append(b, h.nonce...)
}

// appendPreSalt writes the header fields before the salt.
func (h *Header) appendPreSalt(b []byte) []byte {
	magic := recordMagic
	if h.Kind == KindStream {
		magic = streamMagic
	}
	b = append(b, magic...)
	b = append(b, h.FormatVersion, h.Algorithm, h.flags, byte(len(h.Tenant)))
	b = append(b, h.Tenant...)
	b = binary.BigEndian.AppendUint32(b, h.KeyVersion)
	if h.Kind == KindStream {
		b = binary.BigEndian.AppendUint32(b, uint32(h.SegmentSize))
	}
	return b
}
