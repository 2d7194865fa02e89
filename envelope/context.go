package envelope

import (
	"encoding/binary"
	"slices"
	"strings"
)

// Context is an encryption context: non-secret key/value pairs bound to a
// ciphertext. Opening requires exactly the same pairs. Use it to bind what the
// data is (table, row id, purpose) so that a ciphertext moved elsewhere fails.
// Keys must be non-empty; keys and values are compared as bytes.
type Context map[string]string

// Encryption context limits, in bytes of the canonical encoding (FORMAT.md).
const (
	MaxContextPairs = 64
	MaxContextSize  = 8192
)

// appendCanonical validates c and appends its canonical encoding: nothing for
// an empty context, otherwise a pair count then length-prefixed keys and values
// sorted by key bytes. One pass, no allocation for up to 8 pairs.
func (c Context) appendCanonical(b []byte) ([]byte, error) {
	if len(c) == 0 {
		return b, nil
	}
	if len(c) > MaxContextPairs {
		return b, fail(ErrInvalidContext, "too many pairs")
	}
	if len(c) == 1 {
		for k, v := range c {
			return appendPair(b, k, v)
		}
	}
	var small [8]pair
	pairs := small[:0]
	size := 2
	for k, v := range c {
		if k == "" || len(k) > MaxContextSize || len(v) > MaxContextSize {
			return b, fail(ErrInvalidContext, "empty or oversized key or value")
		}
		pairs = append(pairs, pair{k, v})
		size += 4 + len(k) + len(v)
	}
	if size > MaxContextSize {
		return b, fail(ErrInvalidContext, "encoded context exceeds 8192 bytes")
	}
	sortPairs(pairs)
	b = binary.BigEndian.AppendUint16(b, uint16(len(pairs)))
	for _, p := range pairs {
		b = appendString16(b, p.k)
		b = appendString16(b, p.v)
	}
	return b, nil
}

type pair struct{ k, v string }

func appendPair(b []byte, k, v string) ([]byte, error) {
	if k == "" || 6+len(k)+len(v) > MaxContextSize {
		return b, fail(ErrInvalidContext, "empty or oversized key or value")
	}
	b = binary.BigEndian.AppendUint16(b, 1)
	b = appendString16(b, k)
	return appendString16(b, v), nil
}

// sortPairs is an insertion sort: contexts are a handful of pairs, where it
// beats the general sort's setup.
func sortPairs(p []pair) {
	if len(p) > 16 {
		slices.SortFunc(p, func(x, y pair) int { return strings.Compare(x.k, y.k) })
		return
	}
	for i := 1; i < len(p); i++ {
		for j := i; j > 0 && p[j].k < p[j-1].k; j-- {
			p[j], p[j-1] = p[j-1], p[j]
		}
	}
}

func appendString16(b []byte, s string) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...)
}

// parseContext decodes a canonical encoding, rejecting any non-canonical form so
// that one context has exactly one encoding.
func parseContext(b []byte) (Context, error) {
	if len(b) == 0 {
		return Context{}, nil
	}
	if len(b) < 2 || len(b) > MaxContextSize {
		return nil, errBadContextEncoding
	}
	n := int(binary.BigEndian.Uint16(b))
	if n == 0 || n > MaxContextPairs {
		return nil, errBadContextEncoding
	}
	b = b[2:]
	c := make(Context, n)
	prev := ""
	for i := range n {
		k, rest, ok := cutString16(b)
		if !ok {
			return nil, errBadContextEncoding
		}
		v, rest, ok := cutString16(rest)
		if !ok || k == "" || (i > 0 && k <= prev) {
			return nil, errBadContextEncoding
		}
		c[k], prev, b = v, k, rest
	}
	if len(b) != 0 {
		return nil, errBadContextEncoding
	}
	return c, nil
}

var errBadContextEncoding = fail(ErrInvalidCiphertext, "stored encryption context is not canonical")

func cutString16(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", nil, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b) < 2+n {
		return "", nil, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}
