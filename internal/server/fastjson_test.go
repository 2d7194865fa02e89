package server

import (
	"bytes"
	"encoding/json"
	"net/http/httptest"
	"testing"

	"github.com/google/go-cmp/cmp"
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

// The fast parsers agree with encoding/json wherever they answer.
func TestFastParseAgreesWithJSON(t *testing.T) {
	answered := 0
	for _, body := range fastBodies {
		if rec, ok := parsePlainRecord([]byte(body)); ok {
			answered++
			var want recordIn
			if err := decodeBytes([]byte(body), &want); err != nil {
				t.Errorf("parsePlainRecord(%q) accepted what encoding/json refuses: %v", body, err)
			}
			if diff := cmp.Diff(want, rec); diff != "" || (want.Plaintext == nil) != (rec.Plaintext == nil) {
				t.Errorf("parsePlainRecord(%q) differs from encoding/json (-want +got):\n%s", body, diff)
			}
		}
		if recs, ok := parsePlainBatch([]byte(body)); ok {
			answered++
			var want struct {
				Records []recordIn `json:"records"`
			}
			if err := decodeBytes([]byte(body), &want); err != nil {
				t.Errorf("parsePlainBatch(%q) accepted what encoding/json refuses: %v", body, err)
			}
			if diff := cmp.Diff(want.Records, recs); diff != "" {
				t.Errorf("parsePlainBatch(%q) differs from encoding/json (-want +got):\n%s", body, diff)
			}
		}
	}
	if answered != 5 {
		t.Errorf("the fast parsers answered %d bodies, want 5", answered)
	}
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
		if want := encoded(t, out); !bytes.Equal(w.Body.Bytes(), want) {
			t.Errorf("writeRecord() = %s, want %s", w.Body.Bytes(), want)
		}
	}
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
