package platform

import (
	"bytes"
	"errors"
	"os"
	"testing"

	"gopkg.in/yaml.v3"
)

// FuzzParse: any input is either a valid configuration, which survives a
// YAML round trip unchanged, or a *ConfigError listing at least one problem.
func FuzzParse(f *testing.F) {
	if b, err := os.ReadFile("testdata/config.yaml"); err == nil {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(bytes.NewReader(data), nil)
		if err != nil {
			var ce *ConfigError
			if !errors.As(err, &ce) || len(ce.Problems) == 0 {
				t.Fatalf("Parse() err = %v, want a *ConfigError with problems", err)
			}
			return
		}
		out, err := yaml.Marshal(c)
		if err != nil {
			t.Fatalf("Marshal() err = %v", err)
		}
		c2, err := Parse(bytes.NewReader(out), nil)
		if err != nil {
			t.Fatalf("Parse(Marshal(c)) err = %v\n%s", err, out)
		}
		if out2, _ := yaml.Marshal(c2); !bytes.Equal(out, out2) {
			t.Fatalf("round trip changed the configuration:\n%s\n%s", out, out2)
		}
	})
}

// FuzzIdentifiers: every customer-supplied identifier is accepted or refused
// with a stable code, never a panic; accepted ARNs print back as given.
func FuzzIdentifiers(f *testing.F) {
	f.Add("arn:aws:kms:eu-west-1:111122223333:key/mrk-0123456789abcdef0123456789abcdef")
	f.Fuzz(func(t *testing.T, s string) {
		if a, err := ParseKeyARN("key_arn", s); err == nil && a.String() != s {
			t.Fatalf("ParseKeyARN(%q).String() = %q", s, a)
		} else if err != nil && CodeOf(err) == "" {
			t.Fatalf("ParseKeyARN(%q) err = %v without a code", s, err)
		}
		if r, err := ParseRoleARN("role_arn", s); err == nil && r.String() != s {
			t.Fatalf("ParseRoleARN(%q).String() = %q", s, r)
		} else if err != nil && CodeOf(err) == "" {
			t.Fatalf("ParseRoleARN(%q) err = %v without a code", s, err)
		}
		if err := CheckExternalID(s); err != nil && CodeOf(err) == "" {
			t.Fatalf("CheckExternalID(%q) err = %v without a code", s, err)
		}
	})
}
