package onboarding

import (
	"strings"
	"testing"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/platform"
)

// crossWorld is the customer with two accounts: the key in keyAcct, the
// role in roleAcct, each built from the generated artifacts and then
// altered by the test.
type crossWorld struct {
	keyAcct, roleAcct string
	keyPolicy         *Policy // nil keeps KMS's default policy (the key account's root only)
	trust, rolePolicy *Policy // rolePolicy nil: the role has no policy
}

func (w *crossWorld) start(t *testing.T) *awsemu.TestServer {
	t.Helper()
	key := awsemu.Account{ID: w.keyAcct, Keys: []awsemu.Key{{ID: mrkID, Region: hostRegion, MultiRegion: true,
		Replicas: []string{replicaRegion}, Rotation: true, Policy: policyJSON(w.keyPolicy)}}}
	role := awsemu.Role{Name: "byok-tenant-42", TrustPolicy: policyJSON(w.trust), Policies: map[string]string{}}
	if w.rolePolicy != nil {
		role.Policies["byok-key-access"] = policyJSON(w.rolePolicy)
	}
	world := (&side{keyID: mrkID, keyRegion: hostRegion, spec: platform.KeySpecSymmetric}).world()
	world.Accounts = []awsemu.Account{world.Accounts[0], key} // the platform's account, then the customer's
	if w.roleAcct == w.keyAcct {
		world.Accounts[1].Roles = []awsemu.Role{role}
	} else {
		world.Accounts = append(world.Accounts, awsemu.Account{ID: w.roleAcct, Roles: []awsemu.Role{role}})
	}
	return awsemu.NewTestServer(t, world)
}

// crossModel is the model of a key in keyAcct used through a role in
// roleAcct.
func crossModel(t *testing.T, keyAcct, roleAcct string) *Model {
	req := request(platform.AssumedRole, platform.KeySpecSymmetric, mrkID)
	req.KeyARN = "arn:aws:kms:" + hostRegion + ":" + keyAcct + ":key/" + mrkID
	req.RoleAccount = roleAcct
	return mustModel(t, testConfig(t, "", false), req)
}

func crossTarget(m *Model) Target {
	return Target{TenantID: m.TenantID, ExternalID: m.ExternalID, Region: m.Region, KeyARN: m.Key.String(), RoleARN: m.RoleARN()}
}

// Both directions (the second account's key through a role of the first,
// and the reverse) validate from the generated artifacts, and each missing
// side is named: the key policy of the key's account, for the role or its
// account root, or the role's own policy in the role's account.
func TestCrossAccountRole(t *testing.T) {
	const other = roleAccount
	for _, dir := range []struct{ name, keyAcct, roleAcct string }{
		{"key-in-first-role-in-second", customerAccount, other},
		{"key-in-second-role-in-first", other, customerAccount},
	} {
		m := crossModel(t, dir.keyAcct, dir.roleAcct)
		if !m.CrossAccount() || !strings.Contains(m.RoleARN(), dir.roleAcct) {
			t.Fatalf("model: cross-account %v, role %s", m.CrossAccount(), m.RoleARN())
		}
		roleRoot := "arn:aws:iam::" + dir.roleAcct + ":root"
		keyPolicy := m.KeyPolicy()
		rootPolicy := keyPolicyNaming(m, roleRoot)
		for _, tc := range []struct {
			name       string
			keyPolicy  *Policy
			rolePolicy *Policy
			policy     string   // the policy the doctor names; "" when all pass
			fix        []string // what the fix must say
		}{
			{name: "from-artifacts", keyPolicy: &keyPolicy, rolePolicy: m.RolePolicy()},
			{name: "key-policy-names-role-account-root", keyPolicy: &rootPolicy, rolePolicy: m.RolePolicy()},
			{name: "key-policy-statement-missing", rolePolicy: m.RolePolicy(), policy: PolicyKey,
				fix: []string{"key policy of " + m.Key.String() + " in account " + dir.keyAcct, "principal " + m.RoleARN(), roleRoot, SidRead}},
			{name: "role-policy-missing", keyPolicy: &keyPolicy, policy: PolicyRole,
				fix: []string{"inline policy of role " + m.RoleARN() + " in account " + dir.roleAcct, SidRoleRead, "key policy of account " + dir.keyAcct + " allowing it is not enough"}},
		} {
			t.Run(dir.name+"/"+tc.name, func(t *testing.T) {
				t.Parallel()
				w := &crossWorld{keyAcct: dir.keyAcct, roleAcct: dir.roleAcct, keyPolicy: tc.keyPolicy, trust: m.TrustPolicy(), rolePolicy: tc.rolePolicy}
				rep := validate(t, w.start(t), testConfig(t, "", false), crossTarget(m), false)
				if role := rep.Check(CheckRoleARN); role == nil || role.Status != Pass || !strings.Contains(role.Message, "another account") {
					t.Errorf("role check = %+v, want a pass saying the role is in another account", role)
				}
				if tc.policy == "" {
					wantFailed(t, rep)
					return
				}
				c := rep.Check(PermissionCheck("kms:DescribeKey"))
				if c == nil || c.Code != "missing_permission" || c.Policy != tc.policy {
					t.Fatalf("DescribeKey check = %+v, want missing_permission in %s\n%s", c, tc.policy, rep)
				}
				for _, want := range tc.fix {
					if !strings.Contains(c.Fix, want) {
						t.Errorf("fix %q lacks %q", c.Fix, want)
					}
				}
				if d := rep.Check(PermissionCheck("kms:GenerateDataKey")); d == nil || d.Policy != tc.policy || !strings.Contains(d.Fix, TenantConditionKey) {
					t.Errorf("GenerateDataKey check = %+v, want %s with the tenant condition", d, tc.policy)
				}
			})
		}
	}
}

// keyPolicyNaming is m's key policy with principal in place of the role:
// the role's account root, which delegates to that account's IAM policies.
func keyPolicyNaming(m *Model, principal string) Policy {
	p := m.KeyPolicy()
	for i, s := range p.Statement {
		if s.Sid != SidRoot {
			p.Statement[i].Principal = map[string]any{"AWS": principal}
		}
	}
	return p
}

// In the key's own account either side is enough: a key policy naming only
// the account root leaves it to the role's policy, and the doctor says
// that either grant fixes a role without one.
func TestSameAccountRoleEitherSide(t *testing.T) {
	m := mustModel(t, testConfig(t, "", false), request(platform.AssumedRole, platform.KeySpecSymmetric, mrkID))
	w := &crossWorld{keyAcct: customerAccount, roleAcct: customerAccount, trust: m.TrustPolicy()}
	rep := validate(t, w.start(t), testConfig(t, "", false), crossTarget(m), false)
	c := rep.Check(PermissionCheck("kms:DescribeKey"))
	if c == nil || c.Policy != PolicyRole || !strings.Contains(c.Fix, "or name the role in the key policy, statement "+SidRead) {
		t.Fatalf("DescribeKey check = %+v, want the role's policy or the key policy\n%s", c, rep)
	}
	w.rolePolicy = m.RolePolicy()
	wantFailed(t, validate(t, w.start(t), testConfig(t, "", false), crossTarget(m), false))
}
