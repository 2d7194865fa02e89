// Package keyfile reads and writes byok key files: text files that hold one or
// more versions of one tenant's 256-bit key. The format is specified in
// docs/keyfile.md; this package only parses and marshals, it does no I/O.
//
// # Format
//
// Comment lines start with '#'; blank lines are ignored. Every other line is a
// key line, which is strict: exactly these fields, in this order, separated by
// single spaces:
//
//	BYOK-KEY-1 tenant=<id> version=<n> created=<YYYY-MM-DDTHH:MM:SSZ> <key>
//
// where <key> is the 32 key bytes in standard base64 without padding. All key
// lines name the same tenant and no version appears twice.
//
// # Errors
//
// [Parse] returns a [*ParseError] holding the line number and one of the
// sentinel errors, each with a stable code ([Code]). No error ever contains
// key material or the text of a key line.
package keyfile

import (
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/byok-dev/byok/envelope"
)

// MaxSize is the largest key file Parse accepts, far above any real one.
const MaxSize = 1 << 20

// lineTag starts every key line; its digit is the key line format version.
const lineTag = "BYOK-KEY-1"

// header is the comment block Marshal writes first.
const header = "# byok key file: keep it secret. Anyone who has it can open what it sealed.\n" +
	"# Format: BYOK-KEY-1 tenant=<id> version=<n> created=<UTC time> <base64 key>\n"

// timeLayout is the only time form accepted, so that every instant has one
// spelling and parse-then-marshal keeps the bytes.
const timeLayout = "2006-01-02T15:04:05Z"

// keyEncoding rejects padding and non-zero trailing bits, so every key has one
// spelling.
var keyEncoding = base64.RawStdEncoding.Strict()

// Entry is one key line: a key version and when it was created.
type Entry struct {
	Key     *envelope.TenantKey
	Created time.Time
}

// File is the content of a key file: key versions of one tenant, in file order.
type File struct {
	Entries []Entry
}

// Tenant returns the tenant of the file's keys, or "" for an empty file.
func (f *File) Tenant() string {
	if len(f.Entries) == 0 {
		return ""
	}
	return f.Entries[0].Key.Tenant()
}

// Latest returns the entry with the highest key version: the one to seal
// with. It panics on an empty File, which Parse never returns.
func (f *File) Latest() Entry {
	best := f.Entries[0]
	for _, e := range f.Entries[1:] {
		if e.Key.Version() > best.Key.Version() {
			best = e
		}
	}
	return best
}

// Oldest returns the entry with the lowest key version: the one that keys
// what must outlive rotation (audit chains, identity tags). It panics on an
// empty File, which Parse never returns.
func (f *File) Oldest() Entry {
	best := f.Entries[0]
	for _, e := range f.Entries[1:] {
		if e.Key.Version() < best.Key.Version() {
			best = e
		}
	}
	return best
}

// NextVersion returns the version a new key added to the file gets: one more
// than the highest, or 1 for an empty file.
func (f *File) NextVersion() (uint32, error) {
	if len(f.Entries) == 0 {
		return 1, nil
	}
	v := f.Latest().Key.Version()
	if v == ^uint32(0) {
		return 0, errors.New("keyfile: key version limit reached")
	}
	return v + 1, nil
}

// Keys returns every key in the file, for an [envelope.KeySet].
func (f *File) Keys() []*envelope.TenantKey {
	keys := make([]*envelope.TenantKey, len(f.Entries))
	for i, e := range f.Entries {
		keys[i] = e.Key
	}
	return keys
}

// Append adds e after checking that it keeps the file valid: same tenant, new
// version.
func (f *File) Append(e Entry) error {
	if err := f.check(e); err != nil {
		return err
	}
	f.Entries = append(f.Entries, e)
	return nil
}

func (f *File) check(e Entry) error {
	if e.Key == nil {
		return errors.New("keyfile: nil key")
	}
	if len(f.Entries) > 0 && e.Key.Tenant() != f.Tenant() {
		return fmt.Errorf("%w: tenant %s after tenant %s", ErrMixedTenants, e.Key.Tenant(), f.Tenant())
	}
	for _, o := range f.Entries {
		if o.Key.Version() == e.Key.Version() {
			return fmt.Errorf("%w: version %d", ErrDuplicateVersion, e.Key.Version())
		}
	}
	return nil
}

// Marshal returns the canonical text of f: the standard comment block, then
// one key line per entry in order. Creation times are written in UTC, to the
// second. It fails on an empty or invalid File.
func Marshal(f *File) ([]byte, error) {
	if len(f.Entries) == 0 {
		return nil, ErrNoKeys
	}
	var seen File
	b := []byte(header)
	for _, e := range f.Entries {
		if err := seen.Append(e); err != nil {
			return nil, err
		}
		b = appendLine(b, e)
	}
	return b, nil
}

func appendLine(b []byte, e Entry) []byte {
	m := e.Key.Material()
	defer clear(m)
	b = fmt.Appendf(b, "%s tenant=%s version=%d created=%s ", lineTag, e.Key.Tenant(),
		e.Key.Version(), e.Created.UTC().Format(timeLayout))
	b = keyEncoding.AppendEncode(b, m)
	return append(b, '\n')
}

// Parse reads a key file. It accepts comments and blank lines, and requires at
// least one key line; see the package documentation for the syntax.
func Parse(data []byte) (*File, error) {
	if len(data) > MaxSize {
		return nil, &ParseError{Err: ErrMalformed, Detail: fmt.Sprintf("file is larger than %d bytes", MaxSize)}
	}
	f := &File{}
	for n, line := range bytes.SplitAfter(data, []byte("\n")) {
		if err := f.parseLine(line); err != nil {
			return nil, atLine(n+1, err)
		}
	}
	if len(f.Entries) == 0 {
		return nil, &ParseError{Err: ErrNoKeys, Detail: "no key lines"}
	}
	return f, nil
}

func (f *File) parseLine(line []byte) error {
	text := strings.TrimSuffix(string(line), "\n")
	if strings.Trim(text, " \t") == "" || text[0] == '#' {
		return nil
	}
	if strings.ContainsAny(text, "\t\r") {
		return malformed("key line holds a tab or carriage return; use single spaces and LF line ends")
	}
	e, err := parseKeyLine(text)
	if err != nil {
		return err
	}
	return f.Append(e)
}

// parseKeyLine parses one key line. Its errors name the field at fault,
// never the line's text.
func parseKeyLine(text string) (Entry, error) {
	fields := strings.Split(text, " ")
	if !strings.HasPrefix(fields[0], "BYOK-KEY-") {
		return Entry{}, malformed("line is neither a comment nor a key line")
	}
	if fields[0] != lineTag {
		return Entry{}, fmt.Errorf("%w: key line format %s", ErrUnsupported, safeTag(fields[0]))
	}
	if len(fields) != 5 {
		return Entry{}, malformed("key line must have 5 fields separated by single spaces")
	}
	return parseFields(fields[1:])
}

func parseFields(fields []string) (Entry, error) {
	tenant, ok := strings.CutPrefix(fields[0], "tenant=")
	if !ok || !envelope.ValidTenantID(tenant) {
		return Entry{}, malformed("tenant= must be a tenant id of 1 to 128 characters A-Z a-z 0-9 . _ : -")
	}
	version, err := parseVersion(fields[1])
	if err != nil {
		return Entry{}, err
	}
	created, err := parseCreated(fields[2])
	if err != nil {
		return Entry{}, err
	}
	key, err := parseKey(tenant, version, fields[3])
	if err != nil {
		return Entry{}, err
	}
	return Entry{Key: key, Created: created}, nil
}

func parseVersion(field string) (uint32, error) {
	s, ok := strings.CutPrefix(field, "version=")
	if !ok || s == "" || s[0] < '1' || s[0] > '9' {
		return 0, malformed("version= must be a number from 1, without leading zeros")
	}
	v, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, malformed("version= must be a number from 1 to 4294967295")
	}
	return uint32(v), nil
}

func parseCreated(field string) (time.Time, error) {
	s, ok := strings.CutPrefix(field, "created=")
	if !ok {
		return time.Time{}, malformed("the third field must be created=<YYYY-MM-DDTHH:MM:SSZ>")
	}
	t, err := time.Parse(timeLayout, s)
	if err != nil || t.Format(timeLayout) != s {
		return time.Time{}, malformed("created= must be a UTC time like 2026-01-02T15:04:05Z")
	}
	return t, nil
}

// parseKey decodes the key field. The decoded bytes are cleared once the
// TenantKey holds its own copy; base64 errors are not wrapped because they
// quote the offending input.
func parseKey(tenant string, version uint32, field string) (*envelope.TenantKey, error) {
	if keyEncoding.DecodedLen(len(field)) != envelope.KeySize {
		return nil, malformed("key must be 32 bytes in base64 without padding (43 characters)")
	}
	m, err := keyEncoding.DecodeString(field)
	defer clear(m)
	if err != nil {
		return nil, malformed("key is not valid base64 (standard alphabet, no padding)")
	}
	return envelope.NewTenantKey(tenant, version, m)
}

// safeTag returns tag for an error message if it is short and plain, so a
// mangled line cannot push key material into the message.
func safeTag(tag string) string {
	rest := strings.TrimPrefix(tag, "BYOK-KEY-")
	if len(rest) > 0 && len(rest) <= 4 && strings.Trim(rest, "0123456789") == "" {
		return tag
	}
	return "BYOK-KEY-?"
}
