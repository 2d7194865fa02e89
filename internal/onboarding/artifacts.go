package onboarding

import (
	"encoding/json"

	"github.com/byok-dev/byok/internal/platform"
)

// Artifact is one file handed to the customer.
type Artifact struct {
	Name    string // file name, e.g. key-policy.json
	Content []byte
}

// Artifacts returns every artifact of m, in a fixed order: the key policy
// statements to add, the complete key policy for a new key, then for the
// assumed-role pattern the trust policy and (with a key) the role policy,
// then the CloudFormation template and the Terraform configuration. With the
// role in another account than the key ([Model.CrossAccount]), the key
// policies and cloudformation.yaml and main.tf are the key account's, the
// trust and role policies the role account's, which has its own template
// ([RoleAccountCloudFormation]) and configuration ([RoleAccountTerraform]).
func (m *Model) Artifacts() []Artifact {
	out := []Artifact{
		{"key-policy-statements.json", indentJSON(m.KeyPolicyStatements())},
		{"key-policy.json", m.KeyPolicy().JSON()},
	}
	if m.Pattern == platform.AssumedRole {
		out = append(out, Artifact{"trust-policy.json", m.TrustPolicy().JSON()})
	}
	if p := m.RolePolicy(); p != nil {
		out = append(out, Artifact{"role-policy.json", p.JSON()})
	}
	out = append(out, Artifact{"cloudformation.yaml", m.CloudFormation()})
	if m.CrossAccount() {
		out = append(out, Artifact{RoleAccountCloudFormation, m.CloudFormationRoleAccount()})
	}
	out = append(out, Artifact{"main.tf", m.Terraform()})
	if m.CrossAccount() {
		out = append(out, Artifact{RoleAccountTerraform, m.TerraformRoleAccount()})
	}
	return out
}

func indentJSON(v any) []byte {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		panic(err)
	}
	return append(b, '\n')
}
