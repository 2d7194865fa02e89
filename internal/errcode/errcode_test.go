package errcode_test

import (
	"regexp"
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/errcode"
)

var codeRe = regexp.MustCompile(`^[a-z][a-z0-9]*(_[a-z0-9]+)*$`)

// Each entry is complete: a snake_case code given once, an error status, an
// exit code of a refusal, and a meaning of one line.
func TestEntries(t *testing.T) {
	seen := map[string]bool{}
	for _, e := range errcode.All() {
		switch {
		case seen[e.Code]:
			t.Errorf("%s is registered twice", e.Code)
		case !codeRe.MatchString(e.Code):
			t.Errorf("%q is not a snake_case code", e.Code)
		case e.Status < 400 || e.Status > 599:
			t.Errorf("%s has status %d, want 4xx or 5xx", e.Code, e.Status)
		case e.Exit != errcode.ExitRefused && e.Exit != errcode.ExitDecrypt:
			t.Errorf("%s exits with %d, want %d or %d", e.Code, e.Exit, errcode.ExitRefused, errcode.ExitDecrypt)
		case e.Meaning == "" || strings.ContainsAny(e.Meaning+e.Hint, "\n|"):
			t.Errorf("%s: meaning %q and hint %q must be one line each, without |", e.Code, e.Meaning, e.Hint)
		}
		seen[e.Code] = true
	}
}

func TestLookup(t *testing.T) {
	e, ok := errcode.Lookup("key_version_unknown")
	if !ok || e.Status != 400 || e.Exit != errcode.ExitDecrypt || errcode.Meaning(e.Code) != e.Meaning {
		t.Fatalf("Lookup(key_version_unknown) = %+v, %v; want 400, exit %d", e, ok, errcode.ExitDecrypt)
	}
	if _, ok := errcode.Lookup("http_502"); ok || errcode.Hint("http_502") != "" {
		t.Fatal("Lookup(http_502) found an entry; want none")
	}
}
