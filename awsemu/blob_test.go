package awsemu

import "testing"

func TestValidKeyIDMatchesRegexp(t *testing.T) {
	for _, id := range []string{
		"0a1b2c3d-1111-4222-8333-444455556666", "mrk-0123456789abcdef0123456789abcdef",
		"0a1b2c3d-1111-4222-8333-44445555666", "0a1b2c3d-1111-4222-8333-44445555666G", "0a1b2c3d11111-4222-8333-444455556666",
		"mrk-0123456789abcdef0123456789abcdeF", "mrk-0123456789abcdef-123456789abcdef", "", "MRK-0123456789abcdef0123456789abcdef",
		newKeyID(false), newKeyID(true),
	} {
		if got, want := validKeyID(id), keyIDRe.MatchString(id); got != want {
			t.Errorf("validKeyID(%q) = %v, want %v", id, got, want)
		}
	}
}
