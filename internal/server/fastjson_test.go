package server

import (
	"bytes"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

var fastBodies = []string{
	`{"plaintext":"aGVsbG8="}`,
	` { "plaintext" : "aGVsbG8=" } ` + "\n",
	`{"plaintext":""}`,
	`{"plaintext":"aGVsbG8"}`,    // bad padding: encoding/json's error
	`{"plaintext":"aGVs\nbG8="}`, // raw newline: invalid JSON
	`{"plaintext":"aGVs\u0062G8="}`,
	`{"PlainText":"aGVsbG8="}`,
	`{"plaintext":"aGVsbG8=","context":{"a":"b"}}`,
	`{"plaintext":"aGVsbG8=","plaintext":"eA=="}`,
	`{"plaintext":null}`,
	`{"plaintext":"aGVsbG8="}{}`,
	`{"plaintext":"aGVsbG8="`,
	`{"ciphertext":"aGVsbG8="}`,
	`{"records":[{"plaintext":"aGVsbG8="},{"plaintext":"eA=="}]}`,
	`{"records":[ {"plaintext":"aGVsbG8="} , {"plaintext":""} ]} `,
	`{"records":[]}`,
	`{"records":[{"plaintext":"aGVsbG8="},]}`,
	`{"records":[{"plaintext":"aGVsbG8="}],"x":1}`,
	`{"records":[{"plaintext":"aGVsbG8="}]} x`,
	``,
}

// fastValues runs the fast path's parse of body: the decoded values, or
// false where it hands the body to encoding/json.
func fastValues(body, field string, batch bool) ([][]byte, bool) {
	spans, ok := plainSpans([]byte(body), field, batch, nil)
	if !ok {
		return nil, false
	}
	values, ok := decodeValues([]byte(body), spans, nil)
	if !ok {
		return nil, false
	}
	out := make([][]byte, len(spans))
	for i, s := range spans {
		out[i] = values[s.lo:s.hi]
	}
	return out, true
}

// The fast parse agrees with encoding/json wherever it answers.
func TestFastParseAgreesWithJSON(t *testing.T) {
	answered := 0
	for _, kind := range []*recordKind{sealing, opening} {
		for _, body := range fastBodies {
			if kind == opening {
				body = strings.ReplaceAll(body, `"plaintext"`, `"ciphertext"`)
			}
			if got, ok := fastValues(body, kind.in, false); ok {
				answered++
				var want recordIn
				if err := decodeBytes([]byte(body), &want); err != nil {
					t.Errorf("single %q: accepted what encoding/json refuses: %v", body, err)
				}
				if diff := cmp.Diff([][]byte{fieldOf(kind, want)}, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("single %q: differs from encoding/json (-want +got):\n%s", body, diff)
				}
			}
			if got, ok := fastValues(body, kind.in, true); ok {
				answered++
				var want struct {
					Records []recordIn `json:"records"`
				}
				if err := decodeBytes([]byte(body), &want); err != nil {
					t.Errorf("batch %q: accepted what encoding/json refuses: %v", body, err)
				}
				var values [][]byte
				for _, r := range want.Records {
					values = append(values, fieldOf(kind, r))
				}
				if diff := cmp.Diff(values, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("batch %q: differs from encoding/json (-want +got):\n%s", body, diff)
				}
			}
		}
	}
	if answered != 11 {
		t.Errorf("the fast parse answered %d bodies, want 11", answered)
	}
}

func fieldOf(kind *recordKind, r recordIn) []byte {
	if kind == sealing {
		return r.Plaintext
	}
	return r.Ciphertext
}

// The writers produce json.Encoder's bytes.
func TestFastWriteAgreesWithJSON(t *testing.T) {
	outs := []*recordOut{
		{Ciphertext: []byte{0xfb, 0xff, 1, 2, 3}},
		{Plaintext: []byte{}},
		{Plaintext: []byte("<&>")},
		{Error: &Error{Code: "invalid_ciphertext", Message: "<bad> & \"worse\""}},
		{Plaintext: []byte("x"), Ciphertext: []byte("y")},
	}
	for _, out := range outs {
		w := httptest.NewRecorder()
		writeRecord(w, out)
		want := encoded(t, out)
		if out.Plaintext != nil && len(out.Plaintext) == 0 {
			want = []byte(`{"plaintext":""}` + "\n") // not omitted, unlike encoding/json
		}
		if !bytes.Equal(w.Body.Bytes(), want) {
			t.Errorf("writeRecord() = %s, want %s", w.Body.Bytes(), want)
		}
	}
	outs = slices.DeleteFunc(outs, func(o *recordOut) bool { return o.Plaintext != nil && len(o.Plaintext) == 0 })
	w := httptest.NewRecorder()
	writeResults(w, outs)
	want := encoded(t, struct {
		Results []*recordOut `json:"results"`
	}{outs})
	if !bytes.Equal(w.Body.Bytes(), want) || w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("writeResults() = %s (%s), want %s", w.Body.Bytes(), w.Header().Get("Content-Type"), want)
	}
}

func encoded(t *testing.T, v any) []byte {
	var b bytes.Buffer
	if err := json.NewEncoder(&b).Encode(v); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// postRaw posts body with token and returns the status and answer.
func postRaw(t *testing.T, e *env, token, path, body string) (int, string) {
	t.Helper()
	req, _ := http.NewRequest("POST", e.http.URL+path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// The fast path answers exactly as the general one: each body is sent in
// the plain shape and again with an empty context, which only encoding/json
// reads. Decryption is deterministic, so the answers must be equal bytes.
func TestFastPathAnswersAsGeneral(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	tok := e.memberOf("acme")
	sealed, err := e.client(tok).Encrypt(bg, "acme", []byte("card 4111"), nil)
	if err != nil {
		t.Fatal(err)
	}
	empty, err := e.client(tok).Encrypt(bg, "acme", nil, nil)
	if err != nil {
		t.Fatal(err)
	}
	altered := bytes.Clone(sealed)
	altered[len(altered)-1] ^= 1
	rec := func(ct []byte) string { return `{"ciphertext":"` + b64(ct) + `"}` }
	cases := []struct{ path, body, want string }{
		{"/decrypt", rec(sealed), `{"plaintext":"` + b64([]byte("card 4111")) + `"}`},
		{"/decrypt", rec(empty), `{"plaintext":""}`},
		{"/decrypt", rec(altered), `"code":"invalid_ciphertext"`},
		{"/decrypt", rec(nil), `"code":"invalid_ciphertext"`},
		{"/decrypt/batch", `{"records":[` + rec(sealed) + `,` + rec(altered) + `,` + rec(empty) + `,` + rec(nil) + `]}`,
			`{"results":[{"plaintext":"Y2FyZCA0MTEx"},{"error":{"code":"invalid_ciphertext"`},
		{"/decrypt/batch", `{"records":[` + strings.Repeat(rec(sealed)+",", 100) + rec(sealed) + `]}`, `"code":"batch_too_large"`},
		{"/encrypt/batch", `{"records":[{"plaintext":"aGk="},{"plaintext":"aGk="}]}`, `{"results":[{"ciphertext":"`},
	}
	for _, c := range cases {
		path := "/v1/tenants/acme" + c.path
		st1, fast := postRaw(t, e, tok, path, c.body)
		if !strings.Contains(fast, c.want) {
			t.Errorf("POST %s %.80s = %d %.300s, want it to contain %s", c.path, c.body, st1, fast, c.want)
		}
		general := strings.ReplaceAll(c.body, `"}`, `","context":{}}`)
		st2, slow := postRaw(t, e, tok, path, general)
		if strings.HasPrefix(c.path, "/encrypt") {
			// Ciphertexts differ every time; their shape must not.
			fast, slow = strconv.Itoa(strings.Count(fast, `"ciphertext"`)), strconv.Itoa(strings.Count(slow, `"ciphertext"`))
		}
		if st1 != st2 || fast != slow {
			t.Errorf("POST %s: plain body answered %d %.300s; with a context %d %.300s", c.path, st1, fast, st2, slow)
		}
	}
}

// FuzzFastParse: wherever the fast parse answers, encoding/json accepts the
// body and reads the same values from it.
func FuzzFastParse(f *testing.F) {
	dir := filepath.Join("testdata", "fuzz", "FuzzFastParse")
	if seeds, err := os.ReadDir(dir); err != nil || len(seeds) == 0 {
		f.Fatalf("seed folder %s is missing or empty (%v)", dir, err)
	}
	for _, body := range fastBodies {
		f.Add(body, true)
	}
	f.Fuzz(func(t *testing.T, body string, batch bool) {
		got, ok := fastValues(body, `"plaintext"`, batch)
		if !ok {
			return
		}
		var want []recordIn
		if batch {
			var in struct {
				Records []recordIn `json:"records"`
			}
			if err := decodeBytes([]byte(body), &in); err != nil {
				t.Fatalf("fast parse accepted %q, encoding/json refuses it: %v", body, err)
			}
			want = in.Records
		} else {
			var in recordIn
			if err := decodeBytes([]byte(body), &in); err != nil {
				t.Fatalf("fast parse accepted %q, encoding/json refuses it: %v", body, err)
			}
			want = []recordIn{in}
		}
		if len(want) != len(got) {
			t.Fatalf("%q: %d values, encoding/json reads %d", body, len(got), len(want))
		}
		for i := range want {
			if want[i].Context != nil || want[i].Ciphertext != nil || !bytes.Equal(want[i].Plaintext, got[i]) {
				t.Fatalf("%q: record %d is %+v to encoding/json, %q to the fast parse", body, i, want[i], got[i])
			}
		}
	})
}
