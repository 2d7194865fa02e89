package auth

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

const validToken = "byok_abcdefghijklmnop_234567zyxwvutsrq234567zyxwvutsrq234567zyxwvutsrq777q"

func TestParseToken(t *testing.T) {
	tok, err := parseToken(validToken)
	if err != nil || tok.id != "abcdefghijklmnop" || tok.plaintext() != validToken {
		t.Fatalf("parseToken(valid) = %q, %v", tok.id, err)
	}
	bad := map[string]string{
		"noncanonical tail": validToken[:len(validToken)-1] + "b",
		"separator":         strings.Replace(validToken, "p_", "pa", 1),
		"alphabet":          strings.Replace(validToken, "234", "018", 1),
		"long":              validToken + "a",
		"short":             validToken[:len(validToken)-1],
		"prefix":            "BYOK" + validToken[4:],
	}
	for name, s := range bad {
		if _, err := parseToken(s); !errors.Is(err, ErrUnauthenticated) {
			t.Errorf("parseToken(%s) err = %v, want ErrUnauthenticated", name, err)
		}
	}
}

// TestRedacted prints a parsed token every way a log line or error message
// could, and finds only its prefix and id.
func TestRedacted(t *testing.T) {
	tok, err := parseToken(validToken)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	for _, verb := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%d"} {
		fmt.Fprintf(&out, verb+"\n", tok)
		fmt.Fprintf(&out, verb+"\n", struct{ T token }{tok})
	}
	slog.New(slog.NewJSONHandler(&out, nil)).Info("t", "token", tok)
	slog.New(slog.NewTextHandler(&out, nil)).Info("t", "token", tok)
	j, _ := json.Marshal(map[string]any{"token": tok})
	out.Write(j)
	if strings.Contains(out.String(), tok.secret) || strings.Contains(out.String(), tok.secret[:8]) {
		t.Fatalf("a printed token shows its secret:\n%s", out.String())
	}
	if strings.Count(out.String(), "byok_abcdefghijklmnop_…") < 14 {
		t.Fatalf("a printed token does not show its id:\n%s", out.String())
	}
}

// TestConstantTimePath checks that every bearer string of the right shape
// costs exactly one hash comparison, and that a token's state is looked at
// only after its secret matched.
func TestConstantTimePath(t *testing.T) {
	e := sqliteEnv(t)
	calls := 0
	e.equal = func(a, b []byte) bool { calls++; return constantTimeEqual(a, b) }
	plain, info := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest", TTL: time.Hour})
	revokedPlain, revoked := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "old"})
	if err := e.Revoke(ctx, owner, revoked.ID); err != nil {
		t.Fatal(err)
	}
	wrong := plain[:len(plain)-2] + "aa"
	if wrong == plain {
		wrong = plain[:len(plain)-2] + "ba"
	}
	cases := []struct {
		name, bearer string
		ok           bool
	}{
		{"valid", plain, true},
		{"unknown id", strings.Replace(plain, info.ID, strings.Repeat("a", idLen), 1), false},
		{"wrong secret", wrong, false},
		{"revoked", revokedPlain, false},
	}
	for _, c := range cases {
		calls = 0
		_, err := e.Authenticate(ctx, c.bearer)
		if (err == nil) != c.ok || calls != 1 {
			t.Errorf("Authenticate(%s) err = %v after %d comparisons, want ok=%v after 1", c.name, err, calls, c.ok)
		}
	}
	calls = 0
	e.clock.Advance(time.Hour)
	if _, err := e.Authenticate(ctx, plain); err == nil || calls != 1 {
		t.Errorf("Authenticate(expired) err = %v after %d comparisons, want an error after 1", err, calls)
	}
	if !constantTimeEqual([]byte{1, 2}, []byte{1, 2}) || constantTimeEqual([]byte{1, 2}, []byte{1, 3}) {
		t.Fatal("constantTimeEqual is not equality")
	}
}

func TestFuzzSeeds(t *testing.T) {
	es, err := os.ReadDir(filepath.Join("testdata", "fuzz", "FuzzParseToken"))
	if err != nil || len(es) < 5 {
		t.Fatalf("FuzzParseToken seeds: %d files, %v; want at least 5", len(es), err)
	}
}

// FuzzParseToken checks that whatever parses prints back to the same
// string and never shows its secret when printed.
func FuzzParseToken(f *testing.F) {
	f.Add(validToken)
	f.Fuzz(func(t *testing.T, s string) {
		tok, err := parseToken(s)
		if err != nil {
			if !errors.Is(err, ErrUnauthenticated) || Redact(s) != "[redacted]" {
				t.Fatalf("parseToken(%q) err = %v, Redact = %q", s, err, Redact(s))
			}
			return
		}
		if tok.plaintext() != s {
			t.Fatalf("parseToken(%q) prints back as %q", s, tok.plaintext())
		}
		if _, err := b32.DecodeString(tok.secret); err != nil {
			t.Fatalf("parseToken(%q) accepted a secret that does not decode: %v", s, err)
		}
		if strings.Contains(fmt.Sprint(tok), tok.secret) || strings.Contains(Redact(s), tok.secret) {
			t.Fatalf("printing %q shows its secret", s)
		}
	})
}
