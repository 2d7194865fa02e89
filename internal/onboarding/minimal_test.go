package onboarding

import (
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/platform"
)

// minimalActions is what vendors' BYOK guides grant a platform on a
// symmetric key: no kms:ReEncrypt*, no kms:GetKeyRotationStatus.
var minimalActions = []string{"kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey"}

// minimalRSAActions is the same for an RSA key.
var minimalRSAActions = []string{"kms:Encrypt", "kms:Decrypt", "kms:GetPublicKey", "kms:DescribeKey"}

// grantOnly is a policy with the generated root statement (when root) and
// one statement allowing exactly actions to principal, with no condition,
// as a vendor's guide writes it.
func grantOnly(m *Model, principal string, actions []string) *Policy {
	var p Policy
	if principal != "" {
		p = m.KeyPolicy()
		p.Statement = p.Statement[:1] // the account root's kms:*
	} else {
		p.Version = policyVersion
	}
	st := Statement{Sid: "VendorAccess", Effect: "Allow", Action: actions, Resource: "*"}
	if principal != "" {
		st.Principal = map[string]any{"AWS": principal}
	}
	p.Statement = append(p.Statement, st)
	return &p
}

func wantOnlyWarnings(t *testing.T, rep *Report, want ...string) {
	t.Helper()
	var got []string
	for _, c := range rep.Checks {
		if c.Status == Warn {
			got = append(got, c.ID+"="+c.Code)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("warnings = %q, want %q\n%s", got, want, rep)
	}
}

// A key whose policy (or whose role's policy) grants only what vendors'
// guides grant passes validation; the missing kms:ReEncrypt* is a warning
// that says what it costs.
func TestMinimalPermissions(t *testing.T) {
	reEncrypt := PermissionCheck("kms:ReEncrypt") + "=" + CodeOptionalPermissionMissing
	notBound := CheckTenantCondition + "=" + CodeTenantConditionMissing
	for _, tc := range []struct {
		name    string
		pattern platform.AccessPattern
		edit    func(*Model, *side)
		warns   []string
		vendor  bool // no kms:GetKeyRotationStatus either
	}{
		{"generated-without-reencrypt", platform.Direct, func(m *Model, s *side) {
			s.keyPolicy = dropAction(s.keyPolicy, SidUse, "kms:ReEncrypt*")
		}, []string{reEncrypt}, false},
		{"vendor-key-policy", platform.Direct, func(m *Model, s *side) {
			s.keyPolicy = grantOnly(m, m.PlatformPrincipal, minimalActions)
		}, []string{reEncrypt, notBound}, true},
		{"vendor-role-policy", platform.AssumedRole, func(m *Model, s *side) {
			s.keyPolicy, s.rolePolicy = nil, grantOnly(m, "", minimalActions)
		}, []string{reEncrypt, notBound}, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, "", false)
			m := mustModel(t, cfg, request(tc.pattern, platform.KeySpecSymmetric, mrkID))
			s := sideFromModel(m)
			tc.edit(m, s)
			rep := validate(t, s.emulator(t), cfg, target(m), false)
			wantFailed(t, rep)
			if !rep.OK() {
				t.Fatalf("OK() = false\n%s", rep)
			}
			wantOnlyWarnings(t, rep, tc.warns...)
			t.Logf("\n%s", rep)
			c := rep.Check(PermissionCheck("kms:ReEncrypt"))
			if c.Action != "kms:ReEncryptFrom" || !strings.Contains(c.Message, "two KMS calls per key version instead of one") ||
				!strings.Contains(c.Fix, "kms:ReEncrypt*") || c.RequestID == "" {
				t.Errorf("ReEncrypt check = %+v; want the action, what it costs, the fix and the request id", c)
			}
			if rot := rep.Check(CheckRotation); tc.vendor && (rot.Code != "rotation_status_unknown" || rot.Status != Info) {
				t.Errorf("rotation check = %+v, want info rotation_status_unknown", rot)
			}
		})
	}
}

// An RSA key whose role allows exactly Encrypt, Decrypt, GetPublicKey and
// DescribeKey passes with no warning: the platform never re-encrypts under
// an RSA key. Nor does it call kms:Encrypt there (it wraps under the public
// key), so a role without it passes too.
func TestMinimalRSAPermissions(t *testing.T) {
	for _, tc := range []struct {
		name    string
		actions []string
	}{
		{"vendor", minimalRSAActions},
		{"without-encrypt", []string{"kms:Decrypt", "kms:GetPublicKey", "kms:DescribeKey"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			cfg := testConfig(t, "  key_specs: [RSA_3072]\n", false)
			m := mustModel(t, cfg, request(platform.AssumedRole, platform.KeySpecRSA3072, mrkID))
			s := sideFromModel(m)
			s.keyPolicy, s.rolePolicy = nil, grantOnly(m, "", tc.actions)
			rep := validate(t, s.emulator(t), cfg, target(m), false)
			wantFailed(t, rep)
			if !rep.OK() {
				t.Fatalf("OK() = false\n%s", rep)
			}
			wantOnlyWarnings(t, rep)
			wantCheck(t, rep, PermissionCheck("kms:Encrypt"), Info, CodeNotNeeded)
			wantCheck(t, rep, PermissionCheck("kms:Decrypt"), Pass, "ok")
			wantCheck(t, rep, PermissionCheck("kms:ReEncrypt"), Info, CodeNotNeeded)
			wantCheck(t, rep, PermissionCheck("kms:GetPublicKey"), Pass, "ok")
			wantCheck(t, rep, ReplicaCheck(replicaRegion), Pass, "ok")
		})
	}
}
