package onboarding

import (
	"testing"

	"github.com/byok-dev/byok/internal/tenant"
)

// The generated artifacts, and nothing else, make the customer's side work.
func TestArtifactsWork(t *testing.T) {
	for _, tc := range []struct {
		name    string
		pattern tenant.AccessPattern
		spec    string
		asRole  bool
	}{
		{"direct/account", tenant.Direct, tenant.KeySpecSymmetric, false},
		{"direct/platform-role", tenant.Direct, tenant.KeySpecSymmetric, true},
		{"assumed-role/account", tenant.AssumedRole, tenant.KeySpecSymmetric, false},
		{"assumed-role/platform-role", tenant.AssumedRole, tenant.KeySpecSymmetric, true},
		{"direct/rsa", tenant.Direct, tenant.KeySpecRSA3072, false},
		{"assumed-role/rsa", tenant.AssumedRole, tenant.KeySpecRSA3072, false},
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
			if tenant.IsRSA(tc.spec) {
				wantCheck(t, rep, CheckTenantBinding, Info, CodeNoEncryptionContext)
			} else {
				wantCheck(t, rep, CheckTenantBinding, Pass, "ok")
			}
			t.Logf("\n%s", rep)
		})
	}
}
