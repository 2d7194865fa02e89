package awsemu

import (
	"bytes"
	"errors"
	"net/http"
	"os"
	"testing"
)

// FuzzKMSRequest feeds arbitrary operation names and bodies to an
// authenticated caller's request decoding and dispatch: every outcome must be
// a response or an AWS-shaped client error, never a panic or a server error.
func FuzzKMSRequest(f *testing.F) {
	w := &World{Regions: []string{"eu-west-1"}, Accounts: []Account{{ID: "111111111111",
		Users: []User{{Name: "u", AccessKeyID: "AKIAFUZZ", SecretAccessKey: "s"}},
		Keys:  []Key{{ID: "0a1b2c3d-1111-4222-8333-444455556666", Region: "eu-west-1", Aliases: []string{"alias/a"}}},
	}}}
	s, err := New(w)
	if err != nil {
		f.Fatal(err)
	}
	f.Add("Encrypt", []byte(`{"KeyId":"alias/a","Plaintext":"eA=="}`))
	f.Fuzz(func(t *testing.T, op string, body []byte) {
		if op == "CreateKey" || op == "ReplicateKey" {
			return // RSA key generation would make the fuzzer crawl
		}
		u := s.st.Accounts["111111111111"].Users["u"]
		c := &call{p: userPrincipal("111111111111", u), region: "eu-west-1", service: "kms", op: op, body: body, ev: &Event{}}
		_, err := s.dispatch(c)
		var ae *apiError
		if err != nil && (!errors.As(err, &ae) || ae.Status >= http.StatusInternalServerError) {
			t.Fatalf("%s %q: err = %v, want a client error", op, body, err)
		}
	})
}

func TestParseWorldSeedCorpusExists(t *testing.T) {
	entries, err := os.ReadDir("testdata/fuzz/FuzzParseWorld")
	if err != nil || len(entries) < 3 {
		t.Fatalf("seed corpus of FuzzParseWorld: %d files, err %v", len(entries), err)
	}
}

// FuzzParseWorld feeds arbitrary bytes to the world file parser: a world it
// accepts must also validate, and nothing may panic.
func FuzzParseWorld(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		w, err := ParseWorld(bytes.NewReader(b))
		if err != nil {
			return
		}
		if err := w.Validate(); err != nil {
			t.Fatalf("ParseWorld accepted a world that does not validate: %v", err)
		}
	})
}
