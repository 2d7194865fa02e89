package sigv4

import (
	"net/http/httptest"
	"os"
	"strings"
	"testing"
	"time"
)

func TestFuzzSeedCorpusExists(t *testing.T) {
	entries, err := os.ReadDir("testdata/fuzz/FuzzParse")
	if err != nil || len(entries) < 4 {
		t.Fatalf("seed corpus of FuzzParse: %d files, err %v", len(entries), err)
	}
}

// FuzzParse feeds arbitrary Authorization and X-Amz-Date headers to Parse and,
// when they parse, to Verify: errors are fine, panics are not.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, auth, date string) {
		r := httptest.NewRequest("POST", "http://kms.eu-west-1.amazonaws.com/", strings.NewReader("{}"))
		r.Header.Set("Authorization", auth)
		r.Header.Set("X-Amz-Date", date)
		c, err := Parse(r)
		if err != nil {
			return
		}
		if c.AccessKeyID == "" || c.Signature == "" || len(c.SignedHeaders) == 0 {
			t.Fatalf("Parse(%q) = %+v without its required fields", auth, c)
		}
		if err := Verify(r, []byte("{}"), c, "secret", c.Time.Add(time.Minute)); err == nil {
			t.Fatalf("Verify accepted a signature the fuzzer made up: %q", auth)
		}
	})
}
