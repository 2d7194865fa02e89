// Package errcode is the registry of byok's stable error codes: for each
// code the HTTP status the API answers it with, the exit code of the CLI,
// a one-line meaning and a hint saying what a person can do about it.
//
// The packages keep their own sentinel errors and the codes they carry; this
// registry is what the server, the client, the CLI and docs/api.md read to
// agree on what each code means. A code is stable once released: it keeps
// its meaning and status.
//
// # Keeping it whole
//
// The tests fail when a package can produce a code that is not registered,
// when the server answers a code with a status other than the registered
// one, and when the table in docs/api.md and the registry disagree. After
// changing an entry, rewrite that table with
//
//	go generate ./internal/errcode
package errcode

//go:generate go test -run TestAPIDocTable -update

// Exit codes of the CLI for a refused request.
const (
	// ExitDecrypt: the data does not open (altered, wrong context, wrong
	// tenant, unknown key version).
	ExitDecrypt = 3
	// ExitRefused: the server refused the request for any other reason.
	ExitRefused = 6
)

// Entry is one stable code.
type Entry struct {
	Code    string
	Status  int    // the HTTP status the API answers with
	Exit    int    // the CLI's exit code
	Meaning string // what happened, in one line
	Hint    string // what a person should do; "" when there is nothing to add
}

var index = func() map[string]int {
	m := make(map[string]int, len(entries))
	for i, e := range entries {
		m[e.Code] = i
	}
	return m
}()

// Lookup returns the entry of code.
func Lookup(code string) (Entry, bool) {
	i, ok := index[code]
	if !ok {
		return Entry{}, false
	}
	return entries[i], true
}

// Meaning returns the one-line meaning of code, or "" for an unknown code.
func Meaning(code string) string {
	e, _ := Lookup(code)
	return e.Meaning
}

// Hint returns what a person should do about code, or "".
func Hint(code string) string {
	e, _ := Lookup(code)
	return e.Hint
}

// All returns every entry, grouped by HTTP status.
func All() []Entry {
	return append([]Entry(nil), entries...)
}
