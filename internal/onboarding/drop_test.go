package onboarding

import (
	"slices"
	"sort"
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/platform"
)

// clonePolicy deep-copies the parts of p that the cases alter.
func clonePolicy(p *Policy) *Policy {
	c := *p
	c.Statement = slices.Clone(p.Statement)
	for i := range c.Statement {
		c.Statement[i].Action = slices.Clone(c.Statement[i].Action)
	}
	return &c
}

func dropAction(p *Policy, sid, action string) *Policy {
	c := clonePolicy(p)
	for i := range c.Statement {
		if c.Statement[i].Sid == sid {
			c.Statement[i].Action = slices.DeleteFunc(c.Statement[i].Action, func(a string) bool { return a == action })
		}
	}
	return c
}

func dropStatement(p *Policy, sid string) *Policy {
	c := clonePolicy(p)
	c.Statement = slices.DeleteFunc(c.Statement, func(s Statement) bool { return s.Sid == sid })
	return c
}

// namedActions is every action the report names as missing, sorted, and
// whether every failure is a missing permission.
func namedActions(rep *Report) (actions []string, onlyMissing bool) {
	onlyMissing = true
	seen := map[string]bool{}
	for _, c := range rep.Checks {
		if c.Status == Fail && c.Code != "missing_permission" && c.Code != "role_not_assumable" {
			onlyMissing = false
		}
		if c.Action != "" && c.Status != Pass && !seen[c.Action] {
			seen[c.Action] = true
			actions = append(actions, c.Action)
		}
	}
	sort.Strings(actions)
	return actions, onlyMissing
}

// whatIsNamed maps a policy action to what the report names: a wildcard
// action is named by the operation the platform calls.
var whatIsNamed = map[string]string{"kms:ReEncrypt*": "kms:ReEncryptFrom", "kms:GenerateDataKey*": "kms:GenerateDataKey"}

func named(action string) string {
	if n, ok := whatIsNamed[action]; ok {
		return n
	}
	return action
}

// optionalActions are the actions the platform can do without: dropping
// one names it in a warning (or an info) and validation still passes.
var optionalActions = map[string]bool{"kms:ReEncrypt*": true, "kms:GetKeyRotationStatus": true}

// unusedRSAActions are granted on an RSA key but never called by the
// platform, so not exercised: dropping one names nothing.
var unusedRSAActions = map[string]bool{"kms:ReEncrypt*": true, "kms:Encrypt": true}

type dropCase struct {
	name     string
	edit     func(*side)
	want     []string // actions named, sorted
	optional bool     // validation passes all the same
}

// actionDrops are one case per action the platform uses, each dropped from
// the statement of the policy that field selects that grants it: useSid for
// the cryptographic actions, readSid for the others.
func actionDrops(m *Model, policy string, useSid, readSid string, field func(*side) **Policy) []dropCase {
	var cases []dropCase
	add := func(sid string, actions []string) {
		for _, action := range actions {
			want, optional := []string{named(action)}, optionalActions[action]
			if platform.IsRSA(m.KeySpec) && unusedRSAActions[action] {
				want, optional = nil, true
			}
			cases = append(cases, dropCase{name: policy + "-" + action, want: want, optional: optional,
				edit: func(s *side) { *field(s) = dropAction(*field(s), sid, action) }})
		}
	}
	add(useSid, CryptoActions(m.KeySpec))
	add(readSid, ReadActions(m.KeySpec))
	return cases
}

func runDrops(t *testing.T, cfg *platform.Config, m *Model, base func() *side, cases []dropCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			s := base()
			tc.edit(s)
			rep := validate(t, s.emulator(t), cfg, target(m), false)
			got, onlyMissing := namedActions(rep)
			if strings.Join(got, ",") != strings.Join(tc.want, ",") || !onlyMissing {
				t.Errorf("named actions = %q (only missing permissions: %v), want %q\n%s", got, onlyMissing, tc.want, rep)
			}
			if rep.OK() != tc.optional {
				t.Errorf("OK() = %v, want %v (optional: %v)\n%s", rep.OK(), tc.optional, tc.optional, rep)
			}
		})
	}
}

func keyPolicyField(s *side) **Policy  { return &s.keyPolicy }
func rolePolicyField(s *side) **Policy { return &s.rolePolicy }

// Dropping any one action of the key policy the platform generated makes
// validation name exactly that action.
func TestDropKeyPolicyAction(t *testing.T) {
	for _, spec := range []string{platform.KeySpecSymmetric, platform.KeySpecRSA3072} {
		t.Run(spec, func(t *testing.T) {
			cfg := testConfig(t, "  key_specs: [SYMMETRIC_DEFAULT, RSA_3072]\n", false)
			m := mustModel(t, cfg, request(platform.Direct, spec, mrkID))
			runDrops(t, cfg, m, func() *side { return sideFromModel(m) }, actionDrops(m, "key-policy", SidUse, SidRead, keyPolicyField))
		})
	}
}

// In the assumed-role pattern the role gets its permissions on two paths,
// either enough on its own: the key policy naming the role, and the role's
// policy under the key policy's delegation to the account (KMS's default
// key policy). Each path is tested alone, so that every action of each
// generated policy is proven needed.
func TestDropAssumedRoleAction(t *testing.T) {
	cfg := testConfig(t, "", false)
	m := mustModel(t, cfg, request(platform.AssumedRole, platform.KeySpecSymmetric, mrkID))
	t.Run("key-policy-path", func(t *testing.T) {
		base := func() *side { s := sideFromModel(m); s.rolePolicy = nil; return s }
		runDrops(t, cfg, m, base, actionDrops(m, "key-policy", SidUse, SidRead, keyPolicyField))
	})
	t.Run("role-policy-path", func(t *testing.T) {
		base := func() *side { s := sideFromModel(m); s.keyPolicy = nil; return s }
		cases := actionDrops(m, "role-policy", SidRoleUse, SidRoleRead, rolePolicyField)
		cases = append(cases, dropCase{name: "role-policy-replica-resource", want: []string{"kms:DescribeKey"},
			edit: func(s *side) {
				s.rolePolicy = clonePolicy(s.rolePolicy)
				for i := range s.rolePolicy.Statement {
					s.rolePolicy.Statement[i].Resource = []any{m.Key.String()}
				}
			}})
		runDrops(t, cfg, m, base, cases)
	})
}

// Dropping a whole statement names every action it held.
func TestDropStatement(t *testing.T) {
	cfg := testConfig(t, "", false)
	direct := mustModel(t, cfg, request(platform.Direct, platform.KeySpecSymmetric, mrkID))
	// Without kms:Encrypt nor kms:GenerateDataKey there is no ciphertext, so
	// Decrypt and ReEncrypt are skipped, not failed; without DescribeKey the
	// rotation check is skipped.
	runDrops(t, cfg, direct, func() *side { return sideFromModel(direct) }, []dropCase{
		{name: "use", want: []string{"kms:Encrypt", "kms:GenerateDataKey"}, edit: func(s *side) { s.keyPolicy = dropStatement(s.keyPolicy, SidUse) }},
		{name: "read", want: []string{"kms:DescribeKey"}, edit: func(s *side) { s.keyPolicy = dropStatement(s.keyPolicy, SidRead) }},
	})
	assumed := mustModel(t, cfg, request(platform.AssumedRole, platform.KeySpecSymmetric, mrkID))
	runDrops(t, cfg, assumed, func() *side { return sideFromModel(assumed) }, []dropCase{
		{name: "trust", want: []string{"sts:AssumeRole"}, edit: func(s *side) {
			s.trust = clonePolicy(s.trust)
			s.trust.Statement[0].Principal = map[string]any{"AWS": "arn:aws:iam::333333333333:root"}
		}},
	})
}

// unbound is p as the platform generated it before the tenant condition:
// the statement useSid holds every action, with no condition, and readSid
// is gone.
func unbound(p *Policy, useSid, readSid, spec string) *Policy {
	c := dropStatement(p, readSid)
	for i := range c.Statement {
		if c.Statement[i].Sid == useSid {
			c.Statement[i].Action, c.Statement[i].Condition = append(CryptoActions(spec), ReadActions(spec)...), nil
		}
	}
	return c
}

func (p *Policy) forTenantsPtr(ids ...string) *Policy {
	c := p.ForTenants(ids...)
	return &c
}
