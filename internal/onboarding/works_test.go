package onboarding

import (
	"testing"

	"github.com/byok-dev/byok/internal/platform"
)

// The generated artifacts, and nothing else, make the customer's side work.
func TestArtifactsWork(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern platform.AccessPattern
		spec    string
		asRole  bool
	}{
		{"direct/account", platform.Direct, platform.KeySpecSymmetric, false},
		{"direct/platform-role", platform.Direct, platform.KeySpecSymmetric, true},
		{"assumed-role/account", platform.AssumedRole, platform.KeySpecSymmetric, false},
		{"assumed-role/platform-role", platform.AssumedRole, platform.KeySpecSymmetric, true},
		{"direct/rsa", platform.Direct, platform.KeySpecRSA3072, false},
		{"assumed-role/rsa", platform.AssumedRole, platform.KeySpecRSA3072, false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, "  key_specs: [SYMMETRIC_DEFAULT, RSA_3072]\n", tc.asRole)
			m := mustModel(t, cfg, request(tc.pattern, tc.spec, mrkID))
			s := sideFromModel(m)
			ts := s.emulator(t)
			rep := validate(t, ts, cfg, target(m), tc.asRole)
			wantFailed(t, rep)
			if !rep.OK() {
				t.Errorf("OK() = false\n%s", rep)
			}
			if platform.IsRSA(tc.spec) {
				wantCheck(t, rep, CheckTenantCondition, Info, CodeNoEncryptionContext)
			} else {
				wantCheck(t, rep, CheckTenantCondition, Pass, "ok")
			}
			t.Logf("\n%s", rep)
		})
	}
}
