package iampolicy

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"unicode/utf8"

	"github.com/google/go-cmp/cmp"
)

// fuzzCallers are the callers every parsed policy is evaluated for.
var fuzzCallers = []Principal{alice, platform, platformOther, stranger, kmsService, {}}

// FuzzParse parses arbitrary bytes; whatever parses must evaluate without
// panicking and give a well-formed result. The seed corpus lives in
// testdata/fuzz/FuzzParse.
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, doc []byte) {
		p, err := Parse(doc)
		if err != nil {
			checkParseError(t, p, err)
			return
		}
		if len(doc) > MaxPolicySize {
			t.Fatalf("Parse() accepted %d bytes, want at most %d", len(doc), MaxPolicySize)
		}
		again, _ := Parse(doc)
		if diff := cmp.Diff(p, again); diff != "" {
			t.Fatalf("Parse() is not deterministic (-first +second):\n%s", diff)
		}
		_, _ = p.ValidateIdentity(), p.ValidateResource()
		for _, r := range fuzzRequests(p) {
			checkResult(t, p.EvaluateIdentity(&r), true)
			checkResult(t, p.EvaluateResource(&r), false)
		}
	})
}

func checkParseError(t *testing.T, p *Policy, err error) {
	t.Helper()
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Message == "" || p != nil {
		t.Fatalf("Parse() = %v, %v; want nil, *ParseError", p, err)
	}
}

func checkResult(t *testing.T, res Result, identity bool) {
	t.Helper()
	switch {
	case res.Decision != NotApplicable && res.Decision != Allow && res.Decision != Deny:
		t.Fatalf("Evaluate() decision = %v, want NotApplicable, Allow or Deny", res.Decision)
	case res.Decision != Allow && (res.PrincipalMatched || res.AccountMatched):
		t.Fatalf("Evaluate() = %+v: match flags set without Allow", res)
	case identity && (res.PrincipalMatched || res.AccountMatched):
		t.Fatalf("EvaluateIdentity() = %+v: match flags set", res)
	}
}

// fuzzRequests builds requests that reach deep into p: for each statement,
// its first action and resource, with its condition values as context, for
// every caller; and once with an empty request.
func fuzzRequests(p *Policy) []Request {
	reqs := []Request{{}}
	for _, st := range p.Statements {
		base := Request{Action: first(st.Action), Resource: first(st.Resource), Context: map[string][]string{}}
		for _, c := range st.Condition {
			base.Context[c.Key] = c.Values
		}
		for _, caller := range fuzzCallers {
			r := base
			r.Principal = caller
			reqs = append(reqs, r)
		}
	}
	return reqs
}

func first(list []string) string {
	if len(list) == 0 {
		return ""
	}
	return list[0]
}

// TestFuzzSeedCorpus checks that the seed corpus exists, so that a plain
// go test runs FuzzParse over realistic policies.
func TestFuzzSeedCorpus(t *testing.T) {
	dir := filepath.Join("testdata", "fuzz", "FuzzParse")
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatalf("ReadDir(%s) err = %v, want nil", dir, err)
	}
	if len(entries) < 6 {
		t.Fatalf("seed corpus has %d entries, want at least 6", len(entries))
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.HasPrefix(data, []byte("go test fuzz v1\n")) {
			t.Errorf("seed %s lacks the go test fuzz v1 header", e.Name())
		}
	}
}

// FuzzGlob checks globMatch against the plain backtracking matcher on short
// inputs, where the reference's exponential worst case stays cheap.
func FuzzGlob(f *testing.F) {
	f.Add("kms:GenerateDataKey*", "kms:GenerateDataKeyPair")
	f.Add("*a?b*", "xxaébyy")
	f.Add("arn:aws:kms:*:1:key/*", "arn:aws:kms:us-east-1:1:key/k")
	f.Fuzz(func(t *testing.T, pattern, s string) {
		p, r := []rune(pattern), []rune(s)
		if len(p) > 12 || len(r) > 16 || !utf8.ValidString(pattern) || !utf8.ValidString(s) {
			t.Skip()
		}
		if got, want := globMatch(pattern, s), globReference(p, r); got != want {
			t.Fatalf("globMatch(%q, %q) = %v, want %v", pattern, s, got, want)
		}
	})
}
