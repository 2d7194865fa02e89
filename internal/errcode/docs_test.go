package errcode_test

import (
	"flag"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/errcode"
)

var update = flag.Bool("update", false, "rewrite docs/api.md's error table from the registry")

const (
	apiDoc      = "../../docs/api.md"
	cliDoc      = "../../docs/cli.md"
	tableHeader = "| Code | Status | Meaning |"
)

// docTable finds the error table of docs/api.md: the lines of the first
// table under "## Errors" whose header is tableHeader.
func docTable(t *testing.T, doc string) (lines []string, start, end int) {
	t.Helper()
	lines = strings.Split(doc, "\n")
	section := -1
	for i, l := range lines {
		if l == "## Errors" {
			section = i
		}
		if section >= 0 && l == tableHeader {
			start = i
			break
		}
	}
	if start == 0 {
		t.Fatalf("%s: no table %q under ## Errors", apiDoc, tableHeader)
	}
	end = start
	for end < len(lines) && strings.HasPrefix(lines[end], "|") {
		end++
	}
	return lines, start, end
}

// generated is the table the registry makes.
func generated() []string {
	out := []string{tableHeader, "|---|---|---|"}
	for _, e := range errcode.All() {
		out = append(out, fmt.Sprintf("| `%s` | %d | %s |", e.Code, e.Status, strings.ReplaceAll(e.Meaning, "|", `\|`)))
	}
	return out
}

var rowRe = regexp.MustCompile("^\\| `([a-z0-9_]+)` \\| (\\d{3}) \\|")

// TestAPIDocTable fails when docs/api.md lists a code the registry does
// not have, lacks one it has, gives another status, or words a meaning
// otherwise. With -update it rewrites the table instead.
func TestAPIDocTable(t *testing.T) {
	b, err := os.ReadFile(apiDoc)
	if err != nil {
		t.Fatal(err)
	}
	lines, start, end := docTable(t, string(b))
	if *update {
		out := append(append(append([]string{}, lines[:start]...), generated()...), lines[end:]...)
		if err := os.WriteFile(apiDoc, []byte(strings.Join(out, "\n")), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	documented := map[string]int{}
	for _, l := range lines[start+2 : end] {
		m := rowRe.FindStringSubmatch(l)
		if m == nil {
			t.Errorf("%s: row %q is not | `code` | status | meaning |", apiDoc, l)
			continue
		}
		documented[m[1]], _ = strconv.Atoi(m[2])
	}
	for _, e := range errcode.All() {
		got, ok := documented[e.Code]
		switch {
		case !ok:
			t.Errorf("%s does not list %s (%d)", apiDoc, e.Code, e.Status)
		case got != e.Status:
			t.Errorf("%s gives %s status %d, the registry %d", apiDoc, e.Code, got, e.Status)
		}
		delete(documented, e.Code)
	}
	for code, status := range documented {
		t.Errorf("%s lists %s (%d), which the registry does not have", apiDoc, code, status)
	}
	if t.Failed() {
		t.Fatal("run 'go generate ./internal/errcode' to write the registry's table into " + apiDoc)
	}
	if want := generated(); strings.Join(lines[start:end], "\n") != strings.Join(want, "\n") {
		t.Fatalf("%s's error table words the meanings otherwise than the registry: run 'go generate ./internal/errcode'", apiDoc)
	}
}

// TestCLIDocExitCodes: the row of exit code 3 in docs/cli.md names exactly
// the API codes that exit with 3, and the codes the row of exit code 6 names
// exit with 6.
func TestCLIDocExitCodes(t *testing.T) {
	b, err := os.ReadFile(cliDoc)
	if err != nil {
		t.Fatal(err)
	}
	decrypt := exitRowCodes(t, string(b), errcode.ExitDecrypt)
	for _, e := range errcode.All() {
		if (e.Exit == errcode.ExitDecrypt) != decrypt[e.Code] {
			t.Errorf("%s: %s exits with %d, and the row of exit code %d names it: %v", cliDoc, e.Code, e.Exit, errcode.ExitDecrypt, decrypt[e.Code])
		}
	}
	for code := range exitRowCodes(t, string(b), errcode.ExitRefused) {
		if e, ok := errcode.Lookup(code); !ok || e.Exit != errcode.ExitRefused {
			t.Errorf("%s: the row of exit code %d names %s, which the registry gives exit code %d", cliDoc, errcode.ExitRefused, code, e.Exit)
		}
	}
}

// exitRowCodes are the `codes` the row of exit code n names.
func exitRowCodes(t *testing.T, doc string, n int) map[string]bool {
	t.Helper()
	for _, l := range strings.Split(doc, "\n") {
		if !strings.HasPrefix(l, fmt.Sprintf("| %d |", n)) {
			continue
		}
		named := map[string]bool{}
		for _, m := range regexp.MustCompile("`([a-z0-9_]+)`").FindAllStringSubmatch(l, -1) {
			named[m[1]] = true
		}
		return named
	}
	t.Fatalf("%s has no row for exit code %d", cliDoc, n)
	return nil
}
