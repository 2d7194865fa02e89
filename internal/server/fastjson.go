package server

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"io"
	"net/http"
)

// The data plane's JSON takes most of a record's time with encoding/json
// (reflection, and scanning every byte of the base64 twice). The fast paths
// here parse only the plain shape almost every client sends, records with a
// base64 plaintext and nothing else, and hand anything else (a context, a
// ciphertext, escapes, other spellings, errors) to encoding/json on the same
// bytes, so answers and error messages do not change. Writers produce the
// bytes json.Encoder would.

// readBody reads the (size-limited) body of a data request.
func readBody(r *http.Request) ([]byte, error) {
	n := r.ContentLength
	if n < 0 || n > 1<<20 {
		n = 512 // a hint only: a large claimed length is not trusted
	}
	buf := bytes.NewBuffer(make([]byte, 0, n+1))
	if _, err := buf.ReadFrom(r.Body); err != nil {
		return nil, badJSON(err)
	}
	return buf.Bytes(), nil
}

// decodeBytes is decodeJSON on a body already read.
func decodeBytes(body []byte, v any) error {
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.DisallowUnknownFields()
	if err := dec.Decode(v); err != nil {
		return badJSON(err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "the body holds more than one JSON value")
	}
	return nil
}

// parser reads the plain shapes; any method returning false means "not
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

// base64String reads a JSON string of base64 characters only (no escapes)
// and decodes it as encoding/json decodes a []byte.
func (p *parser) base64String() ([]byte, bool) {
	if !p.lit(`"`) {
		return nil, false
	}
	start := p.i
	for p.i < len(p.b) && base64Char(p.b[p.i]) {
		p.i++
	}
	if p.i == len(p.b) || p.b[p.i] != '"' {
		return nil, false
	}
	s := p.b[start:p.i]
	p.i++
	out := make([]byte, base64.StdEncoding.DecodedLen(len(s)))
	n, err := base64.StdEncoding.Decode(out, s)
	return out[:n], err == nil
}

func base64Char(c byte) bool {
	return c >= 'A' && c <= 'Z' || c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '+' || c == '/' || c == '='
}

// plainRecord reads {"plaintext":"<base64>"}.
func (p *parser) plainRecord() (recordIn, bool) {
	if !p.lit(`{`) || !p.lit(`"plaintext"`) || !p.lit(`:`) {
		return recordIn{}, false
	}
	pt, ok := p.base64String()
	return recordIn{Plaintext: pt}, ok && p.lit(`}`)
}

// end reports whether only whitespace is left.
func (p *parser) end() bool {
	p.ws()
	return p.i == len(p.b)
}

// parsePlainRecord parses a single-record body of the plain shape.
func parsePlainRecord(body []byte) (recordIn, bool) {
	p := &parser{b: body}
	rec, ok := p.plainRecord()
	return rec, ok && p.end()
}

// parsePlainBatch parses {"records":[plain records]} with at least one.
func parsePlainBatch(body []byte) ([]recordIn, bool) {
	p := &parser{b: body}
	if !p.lit(`{`) || !p.lit(`"records"`) || !p.lit(`:`) || !p.lit(`[`) {
		return nil, false
	}
	var recs []recordIn
	for {
		rec, ok := p.plainRecord()
		if !ok {
			return nil, false
		}
		recs = append(recs, rec)
		if !p.lit(`,`) {
			break
		}
	}
	return recs, p.lit(`]`) && p.lit(`}`) && p.end()
}

// decodeRecord reads a single-record body.
func decodeRecord(r *http.Request, in *recordIn) error {
	body, err := readBody(r)
	if err != nil {
		return err
	}
	if rec, ok := parsePlainRecord(body); ok {
		*in = rec
		return nil
	}
	return decodeBytes(body, in)
}

// decodeBatch reads a batch body.
func decodeBatch(r *http.Request) ([]recordIn, error) {
	body, err := readBody(r)
	if err != nil {
		return nil, err
	}
	if recs, ok := parsePlainBatch(body); ok {
		return recs, nil
	}
	var in struct {
		Records []recordIn `json:"records"`
	}
	err = decodeBytes(body, &in)
	return in.Records, err
}

// appendRecordOut appends out as encoding/json would: only a record that
// carries non-empty bytes and no error takes the fast path (omitempty drops
// an empty slice).
func appendRecordOut(b []byte, out *recordOut) []byte {
	var name string
	var data []byte
	switch {
	case out.Error == nil && len(out.Plaintext) == 0 && len(out.Ciphertext) > 0:
		name, data = `{"ciphertext":"`, out.Ciphertext
	case out.Error == nil && len(out.Ciphertext) == 0 && len(out.Plaintext) > 0:
		name, data = `{"plaintext":"`, out.Plaintext
	default:
		enc, _ := json.Marshal(out)
		return append(b, enc...)
	}
	b = append(b, name...)
	b = base64.StdEncoding.AppendEncode(b, data)
	return append(b, `"}`...)
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

func writeRaw(w http.ResponseWriter, b []byte) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(http.StatusOK)
	w.Write(b)
}
