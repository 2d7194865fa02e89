package server

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"slices"
	"strconv"
	"sync"
)

// The data plane's JSON takes most of a record's time with encoding/json
// (reflection, and scanning every byte of the base64 twice), and its garbage
// (a body, a plaintext and a ciphertext per record, an answer) another large
// share. The fast path here reads only the plain shape almost every client
// sends, records holding one base64 value and nothing else, into buffers
// reused across requests, and writes the answer straight into another.
// Anything else (a context, escapes, other spellings, errors) goes to
// the general path on the same bytes (checkStrict, then encoding/json), so
// answers and error messages do not change. Writers produce the bytes json.Encoder would.

// dataBufs are one data request's buffers, reused across requests.
type dataBufs struct {
	body    []byte // the request body
	values  []byte // the decoded values, one after another
	spans   []span // where each value is, first in body, then in values
	out     []byte // the answer
	scratch []byte // one record's result before it is base64-encoded
}

type span struct{ lo, hi int }

var dataPool = sync.Pool{New: func() any { return new(dataBufs) }}

// maxPooled keeps the occasional huge request from pinning its buffers.
const maxPooled = 4 << 20

func getBufs() *dataBufs { return dataPool.Get().(*dataBufs) }

func putBufs(b *dataBufs) {
	for _, p := range []*[]byte{&b.body, &b.values, &b.out, &b.scratch} {
		if cap(*p) > maxPooled {
			*p = nil
		}
		*p = (*p)[:0]
	}
	if cap(b.spans) > maxPooled/16 {
		b.spans = nil
	}
	b.spans = b.spans[:0]
	dataPool.Put(b)
}

// readBody appends the (size-limited) body of a data request to buf.
func readBody(r *http.Request, buf []byte) ([]byte, error) {
	if n := r.ContentLength; n > 0 && n <= 1<<20 {
		// A hint only: a larger claimed length is not trusted with memory
		// before the bytes arrive, and the body limit applies to what is read.
		buf = slices.Grow(buf, int(n)+1)
	}
	for {
		if len(buf) == cap(buf) {
			buf = slices.Grow(buf, max(512, cap(buf)))
		}
		n, err := r.Body.Read(buf[len(buf):cap(buf)])
		buf = buf[:len(buf)+n]
		if errors.Is(err, io.EOF) {
			return buf, nil
		}
		if err != nil {
			return buf, badJSON(err)
		}
	}
}

// decodeBytes reads exactly one JSON object of body into v, field names
// matching exactly (see checkStrict).
func decodeBytes(body []byte, v any) error {
	if err := checkStrict(body, v); err != nil {
		return err
	}
	if err := json.Unmarshal(body, v); err != nil {
		return badJSON(err)
	}
	return nil
}

// parser finds the plain shapes; any method returning false means "not
// this shape", never "invalid".
type parser struct {
	b []byte
	i int
}

func (p *parser) ws() {
	for p.i < len(p.b) && (p.b[p.i] == ' ' || p.b[p.i] == '\t' || p.b[p.i] == '\n' || p.b[p.i] == '\r') {
		p.i++
	}
}

// lit skips whitespace and then s.
func (p *parser) lit(s string) bool {
	p.ws()
	if !bytes.HasPrefix(p.b[p.i:], []byte(s)) {
		return false
	}
	p.i += len(s)
	return true
}

// str finds a JSON string's contents without looking inside: decodeValues
// refuses whatever is not plain base64 (escapes included).
func (p *parser) str() (span, bool) {
	if !p.lit(`"`) {
		return span{}, false
	}
	n := bytes.IndexByte(p.b[p.i:], '"')
	if n < 0 {
		return span{}, false
	}
	s := span{p.i, p.i + n}
	p.i += n + 1
	return s, true
}

// member reads {"<field>":"<string>"}; field comes quoted.
func (p *parser) member(field string) (span, bool) {
	if !p.lit(`{`) || !p.lit(field) || !p.lit(`:`) {
		return span{}, false
	}
	s, ok := p.str()
	return s, ok && p.lit(`}`)
}

// end reports whether only whitespace is left.
func (p *parser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// plainSpans appends to spans where the values of a plain body are: one
// record {"<field>":"..."}, or with batch {"records":[records]} holding at
// least one. field comes quoted.
func plainSpans(body []byte, field string, batch bool, spans []span) ([]span, bool) {
	p := &parser{b: body}
	if !batch {
		s, ok := p.member(field)
		return append(spans, s), ok && p.end()
	}
	if !p.lit(`{`) || !p.lit(`"records"`) || !p.lit(`:`) || !p.lit(`[`) {
		return spans, false
	}
	for {
		s, ok := p.member(field)
		if !ok {
			return spans, false
		}
		spans = append(spans, s)
		if !p.lit(`,`) {
			break
		}
	}
	return spans, p.lit(`]`) && p.lit(`}`) && p.end()
}

// decodeValues decodes the base64 of each span of body into values and
// points the spans there instead. It fails on anything encoding/json would
// not decode to the same bytes: escapes and other non-base64 bytes fail to
// decode, and raw line breaks (invalid JSON, which the base64 decoder
// skips) shorten the output.
func decodeValues(body []byte, spans []span, values []byte) ([]byte, bool) {
	for i, s := range spans {
		src := body[s.lo:s.hi]
		if len(src)%4 != 0 {
			return values, false
		}
		want := len(src) / 4 * 3
		for j := len(src) - 1; j >= len(src)-2 && j >= 0 && src[j] == '='; j-- {
			want--
		}
		lo := len(values)
		values = slices.Grow(values, len(src)/4*3)
		n, err := base64.StdEncoding.Decode(values[lo:lo+len(src)/4*3], src)
		if err != nil || n != want {
			return values, false
		}
		values = values[:lo+n]
		spans[i] = span{lo, lo + n}
	}
	return values, true
}

// appendValue appends {"<name>":"<base64 of data>"}; name comes quoted.
func appendValue(b []byte, name string, data []byte) []byte {
	b = append(b, '{')
	b = append(b, name...)
	b = append(b, `:"`...)
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, `"}`...)
}

// appendRecordOut appends out as encoding/json would, except that an empty
// plaintext is answered as "" rather than omitted.
func appendRecordOut(b []byte, out *recordOut) []byte {
	switch {
	case out.Error == nil && out.Plaintext == nil && len(out.Ciphertext) > 0:
		return appendValue(b, `"ciphertext"`, out.Ciphertext)
	case out.Error == nil && out.Ciphertext == nil && out.Plaintext != nil:
		return appendValue(b, `"plaintext"`, out.Plaintext)
	}
	enc, _ := json.Marshal(out)
	return append(b, enc...)
}

// writeRecord answers one record.
func writeRecord(w http.ResponseWriter, out *recordOut) {
	b := make([]byte, 0, 32+base64.StdEncoding.EncodedLen(len(out.Ciphertext)+len(out.Plaintext)))
	writeRaw(w, append(appendRecordOut(b, out), '\n'))
}

// writeResults answers a batch.
func writeResults(w http.ResponseWriter, results []*recordOut) {
	size := 16
	for _, r := range results {
		size += 32 + base64.StdEncoding.EncodedLen(len(r.Ciphertext)+len(r.Plaintext))
	}
	b := append(make([]byte, 0, size), `{"results":[`...)
	for i, r := range results {
		if i > 0 {
			b = append(b, ',')
		}
		b = appendRecordOut(b, r)
	}
	writeRaw(w, append(b, "]}\n"...))
}

// writeRaw answers 200 with a JSON body; a known length spares the
// chunked framing.
func writeRaw(w http.ResponseWriter, b []byte) {
	h := w.Header()
	h.Set("Content-Type", "application/json")
	h.Set("Content-Length", strconv.Itoa(len(b)))
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}

// fastRecords runs op on values decoded by the fast path and answers as
// single and batch would. op appends its result to its dst.
func (s *Server) fastRecords(ctx context.Context, w http.ResponseWriter, c *call, kind *recordKind, batch bool, b *dataBufs) error {
	if batch {
		if err := s.checkBatch(len(b.spans)); err != nil {
			return err
		}
	}
	if err := s.admitData(ctx, c.tenant); err != nil {
		return err
	}
	out := b.out[:0]
	if batch {
		out = append(out, `{"results":[`...)
	}
	for i, sp := range b.spans {
		if i > 0 {
			out = append(out, ',')
		}
		res, err := kind.appendOp(s, ctx, b.scratch[:0], c.tenant, b.values[sp.lo:sp.hi])
		if err != nil {
			if !batch || tenantWide(err) {
				return err
			}
			out = appendRecordOut(out, s.recordResult(c, nil, err))
			continue
		}
		b.scratch = res[:0]
		if batch {
			c.count++
		}
		out = appendValue(out, kind.out, res)
	}
	if batch {
		out = append(out, "]}"...)
	}
	out = append(out, '\n')
	b.out = out[:0]
	writeRaw(w, out)
	return nil
}
