package keyfile

import (
	"bytes"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
)

const testKey = "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8" // bytes 0..31

func line(tenant, version, key string) string {
	return "BYOK-KEY-1 tenant=" + tenant + " version=" + version + " created=2026-01-02T15:04:05Z " + key + "\n"
}

func TestMarshalParseRoundTrip(t *testing.T) {
	f := &File{}
	for v := uint32(1); v <= 3; v++ {
		k, err := envelope.GenerateTenantKey("acme:eu-1", v, nil)
		if err != nil {
			t.Fatal(err)
		}
		created := time.Date(2026, 11, 22, 10, 0, int(v), 0, time.UTC)
		if err := f.Append(Entry{Key: k, Created: created}); err != nil {
			t.Fatal(err)
		}
	}
	b, err := Marshal(f)
	if err != nil {
		t.Fatalf("Marshal() err = %v", err)
	}
	got, err := Parse(b)
	if err != nil {
		t.Fatalf("Parse(Marshal()) err = %v", err)
	}
	if len(got.Entries) != len(f.Entries) {
		t.Fatalf("Parse(Marshal()) has %d entries, want %d", len(got.Entries), len(f.Entries))
	}
	for i, e := range got.Entries {
		if !e.Key.Equal(f.Entries[i].Key) || !e.Created.Equal(f.Entries[i].Created) {
			t.Errorf("entry %d = %v %v, want %v %v", i, e.Key, e.Created, f.Entries[i].Key, f.Entries[i].Created)
		}
	}
}

func TestCanonicalBytes(t *testing.T) {
	want, err := os.ReadFile("testdata/canonical.key")
	if err != nil {
		t.Fatal(err)
	}
	f, err := Parse(want)
	if err != nil {
		t.Fatalf("Parse() err = %v", err)
	}
	got, err := Marshal(f)
	if err != nil {
		t.Fatalf("Marshal() err = %v", err)
	}
	if !bytes.Equal(got, want) {
		t.Errorf("Marshal(Parse(canonical)) =\n%s\nwant\n%s", got, want)
	}
	if f.Tenant() != "acme" || f.Latest().Key.Version() != 2 {
		t.Errorf("Tenant(), Latest() = %s, %d; want acme, 2", f.Tenant(), f.Latest().Key.Version())
	}
	if v := f.Oldest().Key.Version(); v != 1 {
		t.Errorf("Oldest() = version %d, want 1", v)
	}
	if m := f.Entries[0].Key.Material(); m[0] != 0 || m[31] != 31 {
		t.Errorf("key 1 material = %x, want 000102...1f", m)
	}
}

func TestParseAcceptsCommentsAndBlankLines(t *testing.T) {
	in := "# a comment\n\n  \t\n" + line("t", "5", testKey) + "#x\n" + line("t", "2", testKey)[:len(line("t", "2", testKey))-1]
	f, err := Parse([]byte(in))
	if err != nil {
		t.Fatalf("Parse() err = %v", err)
	}
	if len(f.Entries) != 2 || f.Latest().Key.Version() != 5 {
		t.Fatalf("Parse() = %d entries, latest %d; want 2 entries, latest 5", len(f.Entries), f.Latest().Key.Version())
	}
	if v, _ := f.NextVersion(); v != 6 {
		t.Errorf("NextVersion() = %d, want 6", v)
	}
}

func TestParseErrors(t *testing.T) {
	ok := line("t", "1", testKey)
	tests := []struct {
		name string
		in   string
		line int
		want *Error
	}{
		{"empty", "", 0, ErrNoKeys},
		{"only comments", "# x\n\n", 0, ErrNoKeys},
		{"garbage", "# x\nhello\n", 2, ErrMalformed},
		{"leading space", " " + ok, 1, ErrMalformed},
		{"indented comment", " # x\n" + ok, 1, ErrMalformed},
		{"crlf", strings.TrimSuffix(ok, "\n") + "\r\n", 1, ErrMalformed},
		{"tab", strings.Replace(ok, " ", "\t", 1), 1, ErrMalformed},
		{"double space", strings.Replace(ok, " ", "  ", 1), 1, ErrMalformed},
		{"trailing space", strings.TrimSuffix(ok, "\n") + " \n", 1, ErrMalformed},
		{"extra field", strings.TrimSuffix(ok, "\n") + " x=y\n", 1, ErrMalformed},
		{"missing created", "BYOK-KEY-1 tenant=t version=1 " + testKey + "\n", 1, ErrMalformed},
		{"fields reordered", "BYOK-KEY-1 version=1 tenant=t created=2026-01-02T15:04:05Z " + testKey + "\n", 1, ErrMalformed},
		{"future format", strings.Replace(ok, "KEY-1", "KEY-2", 1), 1, ErrUnsupported},
		{"bad tenant", line("a/b", "1", testKey), 1, ErrMalformed},
		{"empty tenant", line("", "1", testKey), 1, ErrMalformed},
		{"long tenant", line(strings.Repeat("a", 129), "1", testKey), 1, ErrMalformed},
		{"version 0", line("t", "0", testKey), 1, ErrMalformed},
		{"version leading zero", line("t", "01", testKey), 1, ErrMalformed},
		{"version sign", line("t", "+1", testKey), 1, ErrMalformed},
		{"version overflow", line("t", "4294967296", testKey), 1, ErrMalformed},
		{"bad time", strings.Replace(ok, "15:04:05Z", "15:04:05+01:00", 1), 1, ErrMalformed},
		{"fractional time", strings.Replace(ok, "15:04:05Z", "15:04:05.5Z", 1), 1, ErrMalformed},
		{"padded key", line("t", "1", testKey+"="), 1, ErrMalformed},
		{"short key", line("t", "1", testKey[:42]), 1, ErrMalformed},
		{"long key", line("t", "1", testKey+"AAAA"), 1, ErrMalformed},
		{"url alphabet", line("t", "1", "_"+testKey[1:]), 1, ErrMalformed},
		{"non-canonical bits", line("t", "1", testKey[:42]+"f"), 1, ErrMalformed},
		{"mixed tenants", ok + "\n" + line("u", "2", testKey), 3, ErrMixedTenants},
		{"duplicate version", ok + line("t", "1", testKey), 2, ErrDuplicateVersion},
		{"too large", strings.Repeat("#", MaxSize+1), 0, ErrMalformed},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := Parse([]byte(tt.in))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse() err = %v, want a *ParseError", err)
			}
			if !errors.Is(err, tt.want) || pe.Line != tt.line {
				t.Errorf("Parse() err = %v (line %d), want %v at line %d", err, pe.Line, tt.want, tt.line)
			}
			if Code(err) != tt.want.Code() {
				t.Errorf("Code() = %q, want %q", Code(err), tt.want.Code())
			}
			if strings.Contains(err.Error(), testKey[:16]) {
				t.Errorf("Parse() err = %q quotes key material", err)
			}
		})
	}
}

func TestErrorMessage(t *testing.T) {
	_, err := Parse([]byte("# x\n" + line("t", "0", testKey)))
	want := "line 2: keyfile: malformed key file: version= must be a number from 1, without leading zeros"
	if err == nil || err.Error() != want {
		t.Errorf("Parse() err = %v, want %s", err, want)
	}
	if Code(err) != "malformed_key_file" {
		t.Errorf("Code() = %q, want malformed_key_file", Code(err))
	}
}

func TestMarshalRejectsInvalidFiles(t *testing.T) {
	a1, _ := envelope.GenerateTenantKey("a", 1, nil)
	b2, _ := envelope.GenerateTenantKey("b", 2, nil)
	tests := []struct {
		name string
		f    *File
		want error
	}{
		{"empty", &File{}, ErrNoKeys},
		{"mixed", &File{Entries: []Entry{{Key: a1}, {Key: b2}}}, ErrMixedTenants},
		{"duplicate", &File{Entries: []Entry{{Key: a1}, {Key: a1}}}, ErrDuplicateVersion},
	}
	for _, tt := range tests {
		if _, err := Marshal(tt.f); !errors.Is(err, tt.want) {
			t.Errorf("%s: Marshal() err = %v, want %v", tt.name, err, tt.want)
		}
	}
}

func TestAppendChecks(t *testing.T) {
	a1, _ := envelope.GenerateTenantKey("a", 1, nil)
	b2, _ := envelope.GenerateTenantKey("b", 2, nil)
	f := &File{}
	if err := f.Append(Entry{Key: a1}); err != nil {
		t.Fatalf("Append(a1) err = %v", err)
	}
	if err := f.Append(Entry{Key: b2}); !errors.Is(err, ErrMixedTenants) {
		t.Errorf("Append(b2) err = %v, want ErrMixedTenants", err)
	}
	if err := f.Append(Entry{}); err == nil {
		t.Error("Append(nil key) err = nil, want an error")
	}
	if len(f.Entries) != 1 {
		t.Errorf("after failed Appends the file has %d entries, want 1", len(f.Entries))
	}
}

func TestNextVersionLimit(t *testing.T) {
	k, _ := envelope.GenerateTenantKey("a", ^uint32(0), nil)
	f := &File{Entries: []Entry{{Key: k}}}
	if _, err := f.NextVersion(); err == nil {
		t.Error("NextVersion() at the last version err = nil, want an error")
	}
}

func TestFuzzSeedCorpusExists(t *testing.T) {
	seeds, err := filepath.Glob("testdata/fuzz/FuzzParse/*")
	if err != nil || len(seeds) == 0 {
		t.Fatalf("seed corpus testdata/fuzz/FuzzParse is missing or empty (err = %v)", err)
	}
}

// FuzzParse checks that Parse never panics, that whatever it accepts marshals
// to a canonical form that parses back to the same keys and bytes, and that
// its errors never quote the input's long fields (where key material sits).
func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		file, err := Parse(data)
		if err != nil {
			checkNoEcho(t, data, err)
			return
		}
		canon, err := Marshal(file)
		if err != nil {
			t.Fatalf("Marshal(Parse(data)) err = %v", err)
		}
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(Marshal()) err = %v", err)
		}
		for i, e := range again.Entries {
			if !e.Key.Equal(file.Entries[i].Key) {
				t.Fatalf("entry %d changed in a round trip", i)
			}
		}
		if b, _ := Marshal(again); !bytes.Equal(b, canon) {
			t.Fatalf("Marshal is not stable:\n%s\n%s", canon, b)
		}
	})
}

func checkNoEcho(t *testing.T, data []byte, err error) {
	msg := err.Error()
	for _, field := range strings.FieldsFunc(string(data), func(r rune) bool { return r == ' ' || r == '\n' }) {
		if len(field) >= 20 && strings.Contains(msg, field) {
			t.Fatalf("Parse() err = %q quotes input field %q", msg, field)
		}
	}
}
