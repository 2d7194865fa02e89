package onboarding

import (
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/platform"
)

// The fixes name the exact condition to add, with the tenant's id, and the
// statement it goes in.
func TestTenantBindingFixes(t *testing.T) {
	cfg := testConfig(t, "", false)
	m := mustModel(t, cfg, request(platform.Direct, platform.KeySpecSymmetric, mrkID))
	condition := `"StringEquals": {"kms:EncryptionContext:byok:tenant": "tenant-42"}`
	for _, tc := range []struct {
		name string
		edit func(*side)
		id   string
		want []string
	}{
		{"unbound", func(s *side) { s.keyPolicy = unbound(s.keyPolicy, SidUse, SidRead, s.spec) }, CheckTenantCondition,
			[]string{condition, SidUse, SidRead}},
		{"another-tenant", func(s *side) { s.keyPolicy = s.keyPolicy.forTenantsPtr("tenant-7") }, PermissionCheck("kms:Encrypt"),
			[]string{condition, SidUse, "kms:Encrypt"}},
		{"no-describe", func(s *side) { s.keyPolicy = dropStatement(s.keyPolicy, SidRead) }, PermissionCheck("kms:DescribeKey"),
			[]string{SidRead, "kms:DescribeKey"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := sideFromModel(m)
			tc.edit(s)
			rep := validate(t, s.emulator(t), cfg, target(m), false)
			c := rep.Check(tc.id)
			if c == nil {
				t.Fatalf("no check %s\n%s", tc.id, rep)
			}
			for _, w := range tc.want {
				if !strings.Contains(c.Fix, w) {
					t.Errorf("%s fix = %q, want it to name %s", tc.id, c.Fix, w)
				}
			}
			if tc.id != PermissionCheck("kms:DescribeKey") && !strings.Contains(c.Fix, TenantConditionKey) {
				t.Errorf("fix %q does not name %s", c.Fix, TenantConditionKey)
			}
			t.Logf("\n%s", rep)
		})
	}
}

// A key shared by several tenants of one customer lists each; the other
// statements are left alone, and the policy it came from is unchanged.
func TestForTenants(t *testing.T) {
	m := mustModel(t, testConfig(t, "", false), request(platform.Direct, platform.KeySpecSymmetric, mrkID))
	p := m.KeyPolicy()
	before := string(p.JSON())
	shared := p.ForTenants("tenant-42", "tenant-43")
	if string(p.JSON()) != before {
		t.Fatalf("ForTenants() modified its receiver")
	}
	for _, s := range shared.Statement {
		v, bound := s.Condition["StringEquals"][TenantConditionKey]
		switch {
		case s.Sid == SidUse && !bound:
			t.Errorf("statement %s lost its tenant condition", s.Sid)
		case s.Sid == SidUse && strings.Join(v.([]string), ",") != "tenant-42,tenant-43":
			t.Errorf("statement %s tenants = %v", s.Sid, v)
		case s.Sid != SidUse && bound:
			t.Errorf("statement %s got a tenant condition", s.Sid)
		}
	}
}
