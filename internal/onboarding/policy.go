package onboarding

import (
	"encoding/json"
	"maps"
	"slices"

	"github.com/byok-dev/byok/internal/platform"
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
	SidRead       = "AllowReadingTheKey"
	SidAttach     = "AllowAttachmentOfPersistentResources"
	SidTrust      = "AllowPlatformWithExternalID"
	SidRoleUse    = "UseTenantKey"
	SidRoleRead   = "ReadTenantKey"
	SidRoleAttach = "AttachPersistentResources"
)

// TenantConditionKey is the condition key that binds the platform's
// cryptographic use of a key to one tenant: the platform sends the tenant id
// as the encryption context pair byok:tenant on every symmetric call
// (kms.Identity.EncryptionContext), so a policy requiring it lets the
// platform use the key for that tenant only, whatever its own bookkeeping
// says.
const TenantConditionKey = "kms:EncryptionContext:byok:tenant"

const policyVersion = "2012-10-17"

// CryptoActions are the cryptographic actions the platform uses on a key of
// spec: wrapping and unwrapping tenant keys (Encrypt, Decrypt,
// GenerateDataKey*) and moving them between keys (ReEncrypt*, which is
// optional: without it the platform rewraps with Decrypt and Encrypt). An
// RSA key cannot generate data keys. The generated policies grant them in their own
// statement ([SidUse], [SidRoleUse]) under [TenantCondition].
func CryptoActions(spec string) []string {
	if platform.IsRSA(spec) {
		return []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*"}
	}
	return []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*"}
}

// ReadActions are the actions that read the key, which carry no encryption
// context and so are granted without a tenant condition ([SidRead],
// [SidRoleRead]): DescribeKey, and GetKeyRotationStatus for the rotation
// status shown to the customer; for an RSA key, which KMS does not rotate
// automatically, GetPublicKey, under which the platform wraps tenant keys
// itself.
func ReadActions(spec string) []string {
	if platform.IsRSA(spec) {
		return []string{"kms:DescribeKey", "kms:GetPublicKey"}
	}
	return []string{"kms:DescribeKey", "kms:GetKeyRotationStatus"}
}

// TenantCondition is the condition of the platform's cryptographic
// statements on a key of spec for tenantID: StringEquals on
// [TenantConditionKey] for a symmetric key, so that every call must carry
// the tenant's context, none being refused too. Nil for an RSA key: KMS
// takes no encryption context with an asymmetric key, so the condition key
// is never present there; StringEquals would refuse every Decrypt, and
// StringEqualsIfExists would always hold and only look like a protection.
// The platform binds RSA wrappings to their tenant with a keyed tag instead
// (kms/awskms, "RSA keys").
func TenantCondition(spec, tenantID string) map[string]map[string]any {
	if platform.IsRSA(spec) {
		return nil
	}
	return map[string]map[string]any{"StringEquals": {TenantConditionKey: tenantID}}
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
	tenant     string // the tenant the cryptographic statements are bound to
}

func rootStatement(r refs) Statement {
	return Statement{Sid: SidRoot, Effect: "Allow", Principal: map[string]any{"AWS": r.root},
		Action: []string{"kms:*"}, Resource: "*"}
}

func useStatement(sid string, principal, resource any, spec, tenantID string) Statement {
	s := Statement{Sid: sid, Effect: "Allow", Action: CryptoActions(spec), Resource: resource,
		Condition: TenantCondition(spec, tenantID)}
	return withPrincipal(s, principal)
}

func readStatement(sid string, principal, resource any, spec string) Statement {
	return withPrincipal(Statement{Sid: sid, Effect: "Allow", Action: ReadActions(spec), Resource: resource}, principal)
}

// withPrincipal names principal in s; a nil principal is an identity
// policy's statement, which names none.
func withPrincipal(s Statement, principal any) Statement {
	if principal != nil {
		s.Principal = map[string]any{"AWS": principal}
	}
	return s
}

func attachStatement(sid string, principal, resource any) Statement {
	s := Statement{Sid: sid, Effect: "Allow", Action: AttachActions, Resource: resource,
		Condition: map[string]map[string]any{"Bool": {"kms:GrantIsForAWSResource": "true"}}}
	return withPrincipal(s, principal)
}

func keyStatements(r refs, spec string) []Statement {
	return []Statement{useStatement(SidUse, r.grantee, "*", spec, r.tenant), readStatement(SidRead, r.grantee, "*", spec),
		attachStatement(SidAttach, r.grantee, "*")}
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
		useStatement(SidRoleUse, nil, r.keys, spec, r.tenant), readStatement(SidRoleRead, nil, r.keys, spec),
		attachStatement(SidRoleAttach, nil, r.keys),
	}}
}

// jsonRefs are the plain ARNs of m.
func (m *Model) jsonRefs() refs {
	r := refs{root: m.rootARN(), platform: m.PlatformPrincipal, externalID: m.ExternalID, grantee: m.PlatformPrincipal,
		tenant: m.TenantID}
	if m.Pattern == platform.AssumedRole {
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
	if m.Pattern != platform.AssumedRole {
		return ""
	}
	return "arn:" + m.Partition + ":iam::" + m.RoleAccount + ":role/" + m.RoleName
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
	if m.Pattern != platform.AssumedRole {
		return nil
	}
	p := trustPolicy(m.jsonRefs())
	return &p
}

// RolePolicy is the customer role's inline policy, naming the key and its
// replicas. Nil for the direct pattern and before the customer has a key
// (the templates then name the key they create).
func (m *Model) RolePolicy() *Policy {
	if m.Pattern != platform.AssumedRole || m.Key == nil {
		return nil
	}
	p := rolePolicy(m.jsonRefs(), m.KeySpec)
	return &p
}

// ForTenants returns p with every tenant condition naming each of
// tenantIDs instead of the one tenant p was generated for: the policy of a
// key one customer shares between several of its own tenants, since
// StringEquals with several values holds when the request's context names
// any of them. Statements without a tenant condition (an RSA key's, the
// read and attach statements) are unchanged, and p is not modified.
func (p Policy) ForTenants(tenantIDs ...string) Policy {
	out := Policy{Version: p.Version, Statement: make([]Statement, len(p.Statement))}
	for i, s := range p.Statement {
		if v, ok := s.Condition["StringEquals"][TenantConditionKey]; ok && v != nil {
			s.Condition = cloneCondition(s.Condition)
			s.Condition["StringEquals"][TenantConditionKey] = slices.Clone(tenantIDs)
		}
		out.Statement[i] = s
	}
	return out
}

func cloneCondition(c map[string]map[string]any) map[string]map[string]any {
	out := make(map[string]map[string]any, len(c))
	for op, kv := range c {
		out[op] = maps.Clone(kv)
	}
	return out
}
