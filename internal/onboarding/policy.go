package onboarding

import (
	"encoding/json"

	"github.com/byok-dev/byok/internal/tenant"
)

// Policy is an IAM policy document: a key policy, a trust policy or an
// identity policy.
type Policy struct {
	Version   string      `json:"Version" yaml:"Version"`
	Statement []Statement `json:"Statement" yaml:"Statement"`
}

// Statement is one policy statement. Principal and Resource are plain
// values: strings in JSON policies, intrinsic functions in CloudFormation
// and interpolated strings in Terraform.
type Statement struct {
	Sid       string                    `json:"Sid" yaml:"Sid"`
	Effect    string                    `json:"Effect" yaml:"Effect"`
	Principal map[string]any            `json:"Principal,omitempty" yaml:"Principal,omitempty"`
	Action    []string                  `json:"Action" yaml:"Action"`
	Resource  any                       `json:"Resource,omitempty" yaml:"Resource,omitempty"`
	Condition map[string]map[string]any `json:"Condition,omitempty" yaml:"Condition,omitempty"`
}

// JSON returns the policy as indented JSON, as customers paste it.
func (p Policy) JSON() []byte {
	b, err := json.MarshalIndent(p, "", "  ")
	if err != nil {
		panic(err) // only strings, slices and maps of them: cannot fail
	}
	return append(b, '\n')
}

// Statement ids, stable: customers and the platform's support find the
// platform's statements in a key policy by them.
const (
	SidRoot       = "EnableIAMUserPermissions"
	SidUse        = "AllowUseOfTheKey"
	SidAttach     = "AllowAttachmentOfPersistentResources"
	SidTrust      = "AllowPlatformWithExternalID"
	SidRoleUse    = "UseTenantKey"
	SidRoleAttach = "AttachPersistentResources"
)

const policyVersion = "2012-10-17"

// UseActions are the kms: actions the platform uses on a key of spec:
// wrapping and unwrapping tenant keys (Encrypt, Decrypt, GenerateDataKey*),
// moving them between keys (ReEncrypt*), checking the key (DescribeKey,
// GetKeyRotationStatus, for the rotation status shown to the customer). An
// RSA key cannot generate data keys or rotate automatically; the platform
// wraps under its public key instead (GetPublicKey).
func UseActions(spec string) []string {
	if tenant.IsRSA(spec) {
		return []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:DescribeKey", "kms:GetPublicKey"}
	}
	return []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey", "kms:GetKeyRotationStatus"}
}

// AttachActions let AWS services that the platform runs on (EBS, RDS, ...)
// create grants on the key for their own persistent resources, and only them
// (kms:GrantIsForAWSResource).
var AttachActions = []string{"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"}

// refs are the values that differ between output formats: plain ARNs in
// JSON, intrinsic functions in CloudFormation, interpolations in Terraform.
type refs struct {
	grantee    any   // who the key policy grants: platform principal or customer role
	root       any   // the customer account root
	keys       []any // the key and its replicas, for the role policy
	platform   any   // the platform principal the role trusts
	externalID any
}

func rootStatement(r refs) Statement {
	return Statement{Sid: SidRoot, Effect: "Allow", Principal: map[string]any{"AWS": r.root},
		Action: []string{"kms:*"}, Resource: "*"}
}

func useStatement(sid string, principal, resource any, spec string) Statement {
	s := Statement{Sid: sid, Effect: "Allow", Action: UseActions(spec), Resource: resource}
	if principal != nil {
		s.Principal = map[string]any{"AWS": principal}
	}
	return s
}

func attachStatement(sid string, principal, resource any) Statement {
	s := Statement{Sid: sid, Effect: "Allow", Action: AttachActions, Resource: resource,
		Condition: map[string]map[string]any{"Bool": {"kms:GrantIsForAWSResource": "true"}}}
	if principal != nil {
		s.Principal = map[string]any{"AWS": principal}
	}
	return s
}

func keyStatements(r refs, spec string) []Statement {
	return []Statement{useStatement(SidUse, r.grantee, "*", spec), attachStatement(SidAttach, r.grantee, "*")}
}

func keyPolicy(r refs, spec string) Policy {
	return Policy{Version: policyVersion, Statement: append([]Statement{rootStatement(r)}, keyStatements(r, spec)...)}
}

func trustPolicy(r refs) Policy {
	return Policy{Version: policyVersion, Statement: []Statement{{
		Sid: SidTrust, Effect: "Allow", Principal: map[string]any{"AWS": r.platform},
		Action:    []string{"sts:AssumeRole"},
		Condition: map[string]map[string]any{"StringEquals": {"sts:ExternalId": r.externalID}},
	}}}
}

func rolePolicy(r refs, spec string) Policy {
	return Policy{Version: policyVersion, Statement: []Statement{
		useStatement(SidRoleUse, nil, r.keys, spec), attachStatement(SidRoleAttach, nil, r.keys),
	}}
}

// jsonRefs are the plain ARNs of m.
func (m *Model) jsonRefs() refs {
	r := refs{root: m.rootARN(), platform: m.PlatformPrincipal, externalID: m.ExternalID, grantee: m.PlatformPrincipal}
	if m.Pattern == tenant.AssumedRole {
		r.grantee = m.RoleARN()
	}
	for _, k := range m.KeyARNs() {
		r.keys = append(r.keys, k)
	}
	return r
}

func (m *Model) rootARN() string {
	return "arn:" + m.Partition + ":iam::" + m.CustomerAccount + ":root"
}

// RoleARN is the customer role's ARN (assumed-role pattern), or "".
func (m *Model) RoleARN() string {
	if m.Pattern != tenant.AssumedRole {
		return ""
	}
	return "arn:" + m.Partition + ":iam::" + m.CustomerAccount + ":role/" + m.RoleName
}

// KeyARNs are the existing key's ARN and, for a multi-Region key, its
// replicas' in every required replica region; nil without a key.
func (m *Model) KeyARNs() []string {
	if m.Key == nil {
		return nil
	}
	out := []string{m.Key.String()}
	for _, region := range m.ReplicaRegions {
		r, err := m.Key.InRegion(region)
		if err == nil { // NewModel checked the key is multi-Region when replicas are required
			out = append(out, r.String())
		}
	}
	return out
}

// KeyPolicyStatements are the statements to add to an existing key's policy.
func (m *Model) KeyPolicyStatements() []Statement { return keyStatements(m.jsonRefs(), m.KeySpec) }

// KeyPolicy is the complete policy of a new key: the account root keeps full
// control (so the customer can always change or revoke the platform's
// access), then the platform's statements.
func (m *Model) KeyPolicy() Policy { return keyPolicy(m.jsonRefs(), m.KeySpec) }

// TrustPolicy is the customer role's trust policy: the platform principal
// may assume it, only with the tenant's External ID. Nil for the direct
// pattern.
func (m *Model) TrustPolicy() *Policy {
	if m.Pattern != tenant.AssumedRole {
		return nil
	}
	p := trustPolicy(m.jsonRefs())
	return &p
}

// RolePolicy is the customer role's inline policy, naming the key and its
// replicas. Nil for the direct pattern and before the customer has a key
// (the templates then name the key they create).
func (m *Model) RolePolicy() *Policy {
	if m.Pattern != tenant.AssumedRole || m.Key == nil {
		return nil
	}
	p := rolePolicy(m.jsonRefs(), m.KeySpec)
	return &p
}
