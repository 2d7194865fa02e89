package onboarding

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/byok-dev/byok/internal/platform"
	"gopkg.in/yaml.v3"
)

// omap is a YAML mapping that keeps its keys in the order written, so the
// template reads top-down as CloudFormation documents do.
type omap []kv

type kv struct {
	k string
	v any
}

// MarshalYAML builds the mapping node by node.
func (m omap) MarshalYAML() (any, error) {
	n := &yaml.Node{Kind: yaml.MappingNode}
	for _, e := range m {
		var k, v yaml.Node
		if err := k.Encode(e.k); err != nil {
			return nil, err
		}
		if err := v.Encode(e.v); err != nil {
			return nil, err
		}
		n.Content = append(n.Content, &k, &v)
	}
	return n, nil
}

// CloudFormation intrinsic functions, in their long (Fn::) form: plain YAML
// that any parser reads, unlike the short !Ref tags.
func ref(name string) any            { return map[string]any{"Ref": name} }
func sub(s string) any               { return map[string]any{"Fn::Sub": s} }
func subVars(s string, v any) any    { return map[string]any{"Fn::Sub": []any{s, v}} }
func fnIf(cond string, a, b any) any { return map[string]any{"Fn::If": []any{cond, a, b}} }
func getAtt(res, attr string) any    { return map[string]any{"Fn::GetAtt": []any{res, attr}} }
func equals(a, b any) any            { return map[string]any{"Fn::Equals": []any{a, b}} }
func not(c any) any                  { return map[string]any{"Fn::Not": []any{c}} }
func and(a, b any) any               { return map[string]any{"Fn::And": []any{a, b}} }
func condition(name string) any      { return map[string]any{"Condition": name} }

// CloudFormation returns the customer's template (YAML). Deployed in the
// hosting region it creates the role (assumed-role pattern) and, unless
// ExistingKeyId names one, a new key. For a multi-Region key it is deployed
// again in each replica region with PrimaryKeyArn set: a stack lives in one
// region, and a replica key must be created in its own region.
func (m *Model) CloudFormation() []byte {
	t := omap{
		{"AWSTemplateFormatVersion", "2010-09-09"},
		{"Description", m.cfnDescription()},
		{"Parameters", m.cfnParameters()},
		{"Conditions", m.cfnConditions()},
		{"Resources", m.cfnResources()},
		{"Outputs", m.cfnOutputs()},
	}
	var buf bytes.Buffer
	enc := yaml.NewEncoder(&buf)
	enc.SetIndent(2)
	if err := enc.Encode(t); err != nil {
		panic(err) // strings, maps and slices only: cannot fail
	}
	return buf.Bytes()
}

func (m *Model) cfnDescription() string {
	d := fmt.Sprintf("Bring-your-own-key access for tenant %s, hosted in %s (%s pattern)", m.TenantID, m.Region, m.Pattern)
	if m.CrossAccount() {
		d += fmt.Sprintf(". Deploy in the key's account %s, after the role account's stack (cloudformation-role-account.yaml) in %s: the key policy names the role", m.CustomerAccount, m.RoleAccount)
	}
	return d
}

func (m *Model) cfnRoleNameParam() kv {
	return kv{"RoleName", omap{{"Type", "String"}, {"Default", m.RoleName}, {"AllowedPattern", `[\w+=,.@-]{1,64}`},
		{"Description", "Name of the IAM role the platform assumes"}}}
}

func (m *Model) cfnExternalIDParam() kv {
	return kv{"ExternalId", omap{{"Type", "String"}, {"Default", m.ExternalID}, {"AllowedPattern", `[A-Za-z0-9+=,.@:/-]{8,128}`},
		{"Description", "External ID the platform presents; keep the value the platform gave you"}}}
}

func (m *Model) cfnTokenParam() kv {
	return kv{"PlatformToken", omap{{"Type", "String"}, {"Default", m.Token}, {"AllowedPattern", `[A-Za-z0-9_.:/=+@-]{1,128}`},
		{"Description", "Platform reference for this onboarding, tagged on what the stack creates"}}}
}

func accountParam(name, value, what string) kv {
	return kv{name, omap{{"Type", "String"}, {"Default", value}, {"AllowedPattern", `[0-9]{12}`}, {"Description", what}}}
}

func (m *Model) cfnParameters() omap {
	p := omap{}
	switch {
	case m.CrossAccount():
		p = append(p, m.cfnRoleNameParam(), accountParam("RoleAccountId", m.RoleAccount, "Account of the IAM role the platform assumes"))
	case m.Pattern == platform.AssumedRole:
		p = append(p, m.cfnRoleNameParam(), m.cfnExternalIDParam())
	}
	p = append(p,
		m.cfnTokenParam(),
		kv{"ExistingKeyId", omap{{"Type", "String"}, {"Default", m.existingKeyID()}, {"AllowedPattern", m.keyIDPattern()},
			{"Description", "Id of an existing key to use instead of creating one (" + m.keyIDKind() + ")"}}})
	if m.hasReplicas() {
		p = append(p, kv{"PrimaryKeyArn", omap{{"Type", "String"}, {"Default", ""},
			{"Description", "Empty in " + m.Region + "; in each replica region (" + strings.Join(m.ReplicaRegions, ", ") + ") the KeyArn output of the " + m.Region + " stack"}}})
	}
	return p
}

// ExistingKeyIDForTemplate is the default of the templates' existing key
// id parameter: the customer's key id, or "" to create a key.
func (m *Model) ExistingKeyIDForTemplate() string { return m.existingKeyID() }

// KeyDescription is the description of a key the templates create.
func (m *Model) KeyDescription() string { return m.keyDescription() }

func (m *Model) existingKeyID() string {
	if m.Key == nil {
		return ""
	}
	return m.Key.KeyID
}

func (m *Model) keyIDPattern() string {
	if m.MultiRegion {
		return `(mrk-[0-9a-f]{32})?`
	}
	return `((mrk-[0-9a-f]{32})|([0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}))?`
}

func (m *Model) keyIDKind() string {
	if m.MultiRegion {
		return "a multi-Region key, mrk-…"
	}
	return "a key id"
}

func (m *Model) hasReplicas() bool { return m.MultiRegion && len(m.ReplicaRegions) > 0 }

func (m *Model) cfnConditions() omap {
	c := omap{}
	if m.hasReplicas() {
		c = append(c, kv{"IsReplicaStack", not(equals(ref("PrimaryKeyArn"), ""))},
			kv{"IsPrimaryStack", equals(ref("PrimaryKeyArn"), "")},
			kv{"CreateKey", and(equals(ref("ExistingKeyId"), ""), condition("IsPrimaryStack"))})
		return c
	}
	return append(c, kv{"CreateKey", equals(ref("ExistingKeyId"), "")})
}

// cfnRefs are the template's references: the account and partition of the
// stack, the role by name, the key created or the existing one.
func (m *Model) cfnRefs() refs {
	r := refs{root: sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:root"), platform: m.PlatformPrincipal,
		externalID: ref("ExternalId"), grantee: m.PlatformPrincipal, tenant: m.TenantID}
	switch {
	case m.CrossAccount():
		r.grantee = sub("arn:${AWS::Partition}:iam::${RoleAccountId}:role/${RoleName}")
	case m.Pattern == platform.AssumedRole:
		r.grantee = sub("arn:${AWS::Partition}:iam::${AWS::AccountId}:role/${RoleName}")
	}
	keyID := fnIf("CreateKey", ref("Key"), ref("ExistingKeyId"))
	r.keys = []any{subVars("arn:${AWS::Partition}:kms:"+m.Region+":${AWS::AccountId}:key/${KeyId}", map[string]any{"KeyId": keyID})}
	for _, rr := range m.replicaRegionsIfMRK() {
		r.keys = append(r.keys, subVars("arn:${AWS::Partition}:kms:"+rr+":${AWS::AccountId}:key/${KeyId}", map[string]any{"KeyId": keyID}))
	}
	return r
}

func (m *Model) replicaRegionsIfMRK() []string {
	if !m.MultiRegion {
		return nil
	}
	return m.ReplicaRegions
}

func (m *Model) cfnTags() []any {
	return []any{
		omap{{"Key", "byok:tenant"}, {"Value", m.TenantID}},
		omap{{"Key", "byok:platform-token"}, {"Value", ref("PlatformToken")}},
	}
}

func (m *Model) cfnResources() omap {
	r := m.cfnRefs()
	res := omap{}
	if m.sameAccountRole() {
		res = append(res, kv{"Role", m.cfnRole(r)}, kv{"RolePolicy", m.cfnRolePolicy(r)})
	}
	res = append(res, kv{"Key", m.cfnKey(r)})
	if m.hasReplicas() {
		res = append(res, kv{"ReplicaKey", omap{{"Type", "AWS::KMS::ReplicaKey"}, {"Condition", "IsReplicaStack"},
			{"Properties", omap{{"PrimaryKeyArn", ref("PrimaryKeyArn")}, {"Description", m.keyDescription()},
				{"KeyPolicy", keyPolicy(r, m.KeySpec)}, {"Tags", m.cfnTags()}}}}})
	}
	return res
}

// sameAccountRole reports whether the key's template creates the role too:
// the assumed-role pattern with the role in the key's account.
func (m *Model) sameAccountRole() bool {
	return m.Pattern == platform.AssumedRole && !m.CrossAccount()
}

func (m *Model) primaryOnly(res omap) omap {
	if m.hasReplicas() {
		return append(res, kv{"Condition", "IsPrimaryStack"})
	}
	return res
}

func (m *Model) cfnRole(r refs) omap {
	res := omap{{"Type", "AWS::IAM::Role"}}
	if !m.CrossAccount() {
		res = m.primaryOnly(res)
	}
	return append(res, kv{"Properties", omap{
		{"RoleName", ref("RoleName")},
		{"Description", "Lets the platform use tenant " + m.TenantID + "'s KMS key"},
		{"AssumeRolePolicyDocument", trustPolicy(r)},
		{"Tags", m.cfnTags()},
	}})
}

// cfnRolePolicy is the role's inline policy as its own resource: it names
// the key, whose policy names the role, so inside the role it would be a
// circular dependency.
func (m *Model) cfnRolePolicy(r refs) omap {
	return append(m.primaryOnly(omap{{"Type", "AWS::IAM::RolePolicy"}}), kv{"Properties", omap{
		{"RoleName", ref("Role")},
		{"PolicyName", "byok-key-access"},
		{"PolicyDocument", rolePolicy(r, m.KeySpec)},
	}})
}

func (m *Model) cfnKey(r refs) omap {
	props := omap{
		{"Description", m.keyDescription()},
		{"KeySpec", m.KeySpec},
		{"KeyUsage", "ENCRYPT_DECRYPT"},
		{"MultiRegion", m.MultiRegion},
	}
	if !platform.IsRSA(m.KeySpec) {
		props = append(props, kv{"EnableKeyRotation", true})
	}
	props = append(props, kv{"KeyPolicy", keyPolicy(r, m.KeySpec)}, kv{"Tags", m.cfnTags()})
	key := omap{{"Type", "AWS::KMS::Key"}, {"Condition", "CreateKey"}}
	if m.sameAccountRole() {
		// KMS refuses a key policy naming a role that does not exist yet.
		key = append(key, kv{"DependsOn", "Role"})
	}
	return append(key, kv{"DeletionPolicy", "Retain"}, kv{"UpdateReplacePolicy", "Retain"}, kv{"Properties", props})
}

func (m *Model) keyDescription() string {
	return "Bring-your-own-key for tenant " + m.TenantID
}

func (m *Model) cfnOutputs() omap {
	out := omap{}
	keyARN := fnIf("CreateKey", getAtt("Key", "Arn"), sub("arn:${AWS::Partition}:kms:${AWS::Region}:${AWS::AccountId}:key/${ExistingKeyId}"))
	if m.hasReplicas() {
		keyARN = fnIf("IsReplicaStack", getAtt("ReplicaKey", "Arn"), keyARN)
	}
	out = append(out, kv{"KeyArn", omap{{"Description", "Give this key ARN to the platform"}, {"Value", keyARN}}})
	if m.sameAccountRole() {
		roleOut := m.primaryOnly(omap{{"Description", "Give this role ARN to the platform"}})
		out = append(out, kv{"RoleArn", append(roleOut, kv{"Value", getAtt("Role", "Arn")})})
	}
	return append(out, kv{"PlatformToken", omap{{"Value", ref("PlatformToken")}}})
}
