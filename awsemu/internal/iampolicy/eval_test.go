package iampolicy

import (
	"testing"

	"github.com/google/go-cmp/cmp"
)

const (
	ownerAccount    = "111122223333"
	platformAccount = "444455556666"
	keyARN          = "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab"
	platformRole    = "arn:aws:iam::444455556666:role/byok-platform"
	platformSession = "arn:aws:sts::444455556666:assumed-role/byok-platform/tenant-sync"
)

var (
	alice = Principal{Account: ownerAccount, ARNs: []string{"arn:aws:iam::111122223333:user/alice"}}
	// platform is an assumed-role session of the platform's role.
	platform = Principal{Account: platformAccount, ARNs: []string{platformRole, platformSession}}
	// platformOther is another role of the platform's account.
	platformOther = Principal{Account: platformAccount, ARNs: []string{
		"arn:aws:iam::444455556666:role/other", "arn:aws:sts::444455556666:assumed-role/other/s",
	}}
	stranger   = Principal{Account: "999988887777", ARNs: []string{"arn:aws:iam::999988887777:user/mallory"}}
	kmsService = Principal{Service: "kms.amazonaws.com"}
)

func allow(sid string, principal, account bool) Result {
	return Result{Decision: Allow, Sid: sid, PrincipalMatched: principal, AccountMatched: account}
}

func deny(sid string) Result { return Result{Decision: Deny, Sid: sid} }

var notApplicable = Result{Decision: NotApplicable}

type evalCase struct {
	name string
	req  Request
	want Result
}

func runResourceCases(t *testing.T, p *Policy, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := p.EvaluateResource(&tc.req)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("EvaluateResource() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func runIdentityCases(t *testing.T, p *Policy, cases []evalCase) {
	t.Helper()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			got := p.EvaluateIdentity(&tc.req)
			if diff := cmp.Diff(tc.want, got); diff != "" {
				t.Errorf("EvaluateIdentity() = %+v, want %+v", got, tc.want)
			}
		})
	}
}

func tenantCtx(tenant string) map[string][]string {
	return map[string][]string{"kms:EncryptionContext:tenant": {tenant}}
}

func TestDefaultKeyPolicy(t *testing.T) {
	const sid = "Enable IAM User Permissions"
	runResourceCases(t, readPolicy(t, "kms-default.json"), []evalCase{
		{"owner user, delegated to IAM", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice}, allow(sid, false, true)},
		{"owner user, any kms action", Request{Action: "kms:PutKeyPolicy", Resource: keyARN, Principal: alice}, allow(sid, false, true)},
		{"owner user, non-kms action", Request{Action: "s3:GetObject", Resource: keyARN, Principal: alice}, notApplicable},
		{"platform session", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: platform}, notApplicable},
		{"stranger", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: stranger}, notApplicable},
		{"service", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: kmsService}, notApplicable},
		{"no caller", Request{Action: "kms:Decrypt", Resource: keyARN}, notApplicable},
	})
}

func TestCrossAccountKeyPolicy(t *testing.T) {
	const (
		use      = "AllowPlatformUseOfTheKey"
		describe = "AllowPlatformDescribe"
		grants   = "AllowAttachmentOfPersistentResources"
		root     = "Enable IAM User Permissions"
	)
	grantCtx := func(v string) map[string][]string {
		return map[string][]string{"kms:GrantIsForAWSResource": {v}}
	}
	runResourceCases(t, readPolicy(t, "byok-cross-account.json"), []evalCase{
		{"session via role ARN and account", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: platform, Context: tenantCtx("t-42")}, allow(use, true, true)},
		{"wrong tenant", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: platform, Context: tenantCtx("t-1")}, notApplicable},
		{"no encryption context", Request{Action: "kms:Encrypt", Resource: keyARN, Principal: platform}, notApplicable},
		{"other role of platform account", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: platformOther, Context: tenantCtx("t-42")}, allow(use, false, true)},
		{"action case-insensitive", Request{Action: "KMS:decrypt", Resource: keyARN, Principal: platform, Context: tenantCtx("t-42")}, allow(use, true, true)},
		{"GenerateDataKey* wildcard", Request{Action: "kms:GenerateDataKeyWithoutPlaintext", Resource: keyARN, Principal: platform, Context: tenantCtx("t-42")}, allow(use, true, true)},
		{"ReEncrypt* wildcard", Request{Action: "kms:ReEncryptFrom", Resource: keyARN, Principal: platform, Context: tenantCtx("t-42")}, allow(use, true, true)},
		{"describe without context", Request{Action: "kms:DescribeKey", Resource: keyARN, Principal: platform}, allow(describe, true, false)},
		{"describe with context, first allowing Sid", Request{Action: "kms:DescribeKey", Resource: keyARN, Principal: platform, Context: tenantCtx("t-42")}, allow(use, true, true)},
		{"grant for AWS resource", Request{Action: "kms:CreateGrant", Resource: keyARN, Principal: platform, Context: grantCtx("true")}, allow(grants, true, false)},
		{"grant not for AWS resource", Request{Action: "kms:CreateGrant", Resource: keyARN, Principal: platform, Context: grantCtx("false")}, notApplicable},
		{"grant without the key", Request{Action: "kms:CreateGrant", Resource: keyARN, Principal: platform}, notApplicable},
		{"platform may not delete", Request{Action: "kms:ScheduleKeyDeletion", Resource: keyARN, Principal: platform}, notApplicable},
		{"owner may delete", Request{Action: "kms:ScheduleKeyDeletion", Resource: keyARN, Principal: alice}, allow(root, false, true)},
		{"stranger", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: stranger, Context: tenantCtx("t-42")}, notApplicable},
	})
}

func TestTrustPolicyExternalID(t *testing.T) {
	const sid = "AllowPlatformToAssume"
	roleARN := "arn:aws:iam::111122223333:role/byok-access"
	ext := func(v ...string) map[string][]string { return map[string][]string{"sts:ExternalId": v} }
	withID := readPolicy(t, "trust-external-id.json")
	runResourceCases(t, withID, []evalCase{
		{"right external id", Request{Action: "sts:AssumeRole", Resource: roleARN, Principal: platform, Context: ext("byok-7f3a9c")}, allow(sid, true, false)},
		{"external id is case-sensitive", Request{Action: "sts:AssumeRole", Resource: roleARN, Principal: platform, Context: ext("BYOK-7F3A9C")}, notApplicable},
		{"wrong external id", Request{Action: "sts:AssumeRole", Resource: roleARN, Principal: platform, Context: ext("guess")}, notApplicable},
		{"missing external id", Request{Action: "sts:AssumeRole", Resource: roleARN, Principal: platform}, notApplicable},
		{"other role of the platform account", Request{Action: "sts:AssumeRole", Resource: roleARN, Principal: platformOther, Context: ext("byok-7f3a9c")}, notApplicable},
		{"other action", Request{Action: "sts:TagSession", Resource: roleARN, Principal: platform, Context: ext("byok-7f3a9c")}, notApplicable},
		{"missing Resource matches any resource", Request{Action: "sts:AssumeRole", Resource: "", Principal: platform, Context: ext("byok-7f3a9c")}, allow(sid, true, false)},
	})
	withoutID := mustParse(t, `{"Version": "2012-10-17", "Statement": [{"Effect": "Allow",
		"Principal": {"AWS": "444455556666"}, "Action": "sts:AssumeRole"}]}`)
	runResourceCases(t, withoutID, []evalCase{
		{"no condition, no id", Request{Action: "sts:AssumeRole", Resource: roleARN, Principal: platformOther}, allow("", false, true)},
		{"no condition, any id", Request{Action: "sts:AssumeRole", Resource: roleARN, Principal: platform, Context: ext("x")}, allow("", false, true)},
	})
}

func TestDenyWins(t *testing.T) {
	ownerCtx := map[string][]string{
		"kms:CallerAccount": {ownerAccount}, "kms:ViaService": {"s3.us-east-1.amazonaws.com"},
		"aws:PrincipalAccount": {ownerAccount},
	}
	strangerCtx := map[string][]string{
		"kms:CallerAccount": {"999988887777"}, "aws:PrincipalAccount": {"999988887777"},
	}
	serviceCtx := map[string][]string{"aws:PrincipalIsAWSService": {"true"}}
	runResourceCases(t, readPolicy(t, "key-policy-deny-other-accounts.json"), []evalCase{
		{"owner via S3: principal * and account", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice, Context: ownerCtx}, allow("Enable IAM User Permissions", true, true)},
		{"stranger denied", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: stranger, Context: strangerCtx}, deny("DenyOutsideOrg")},
		{"stranger denied without any context", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: stranger}, deny("DenyOutsideOrg")},
		{"service not denied", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: kmsService, Context: serviceCtx}, notApplicable},
	})
	// The order of statements does not matter.
	for _, doc := range []string{
		`{"Statement": [{"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Sid": "D"}, {"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Sid": "A"}]}`,
		`{"Statement": [{"Effect": "Allow", "Principal": "*", "Action": "kms:*", "Sid": "A"}, {"Effect": "Deny", "Principal": "*", "Action": "kms:Decrypt", "Sid": "D"}]}`,
	} {
		p := mustParse(t, doc)
		runResourceCases(t, p, []evalCase{
			{"denied action", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice}, deny("D")},
			{"other action", Request{Action: "kms:Encrypt", Resource: keyARN, Principal: alice}, allow("A", true, false)},
		})
	}
}

func TestPrincipalForms(t *testing.T) {
	tests := []struct {
		name      string
		principal string
		caller    Principal
		want      Result
	}{
		{"star matches user", `"*"`, alice, allow("", true, false)},
		{"star matches service", `"*"`, kmsService, allow("", true, false)},
		{"AWS star matches session", `{"AWS": "*"}`, platform, allow("", true, false)},
		{"bare account id", `{"AWS": "444455556666"}`, platform, allow("", false, true)},
		{"root ARN", `{"AWS": "arn:aws:iam::444455556666:root"}`, platform, allow("", false, true)},
		{"root ARN of another account", `{"AWS": "arn:aws:iam::111122223333:root"}`, platform, notApplicable},
		{"role ARN matches its session", `{"AWS": "arn:aws:iam::444455556666:role/byok-platform"}`, platform, allow("", true, false)},
		{"session ARN", `{"AWS": "` + platformSession + `"}`, platform, allow("", true, false)},
		{"other session of the role", `{"AWS": "arn:aws:sts::444455556666:assumed-role/byok-platform/other"}`, platform, notApplicable},
		{"role ARN does not match other role", `{"AWS": "` + platformRole + `"}`, platformOther, notApplicable},
		{"user ARN", `{"AWS": "arn:aws:iam::111122223333:user/alice"}`, alice, allow("", true, false)},
		{"role and account", `{"AWS": ["444455556666", "` + platformRole + `"]}`, platform, allow("", true, true)},
		{"unique id listed by caller", `{"AWS": "AROA1234567890EXAMPLE"}`, Principal{Account: platformAccount, ARNs: []string{platformRole, "AROA1234567890EXAMPLE"}}, allow("", true, false)},
		{"service", `{"Service": "kms.amazonaws.com"}`, kmsService, allow("", true, false)},
		{"service case-insensitive", `{"Service": "KMS.amazonaws.com"}`, kmsService, allow("", true, false)},
		{"service does not match users", `{"Service": "kms.amazonaws.com"}`, alice, notApplicable},
		{"other service", `{"Service": "s3.amazonaws.com"}`, kmsService, notApplicable},
		{"account does not match service", `{"AWS": "111122223333"}`, kmsService, notApplicable},
		{"federated never matches", `{"Federated": "cognito-identity.amazonaws.com"}`, alice, notApplicable},
		{"canonical user never matches", `{"CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}`, alice, notApplicable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, stmt(`"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Principal": `+tt.principal))
			got := p.EvaluateResource(&Request{Action: "kms:Decrypt", Resource: keyARN, Principal: tt.caller})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("EvaluateResource() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestPartitions(t *testing.T) {
	cnUser := Principal{Account: ownerAccount, ARNs: []string{"arn:aws-cn:iam::111122223333:user/li"}}
	govRole := Principal{Account: ownerAccount, ARNs: []string{"arn:aws-us-gov:iam::111122223333:role/r", "arn:aws-us-gov:sts::111122223333:assumed-role/r/s"}}
	noARN := Principal{Account: ownerAccount}
	tests := []struct {
		name      string
		principal string
		caller    Principal
		want      Result
	}{
		{"aws-cn root, aws-cn caller", `{"AWS": "arn:aws-cn:iam::111122223333:root"}`, cnUser, allow("", false, true)},
		{"aws-cn root, aws caller", `{"AWS": "arn:aws-cn:iam::111122223333:root"}`, alice, notApplicable},
		{"aws root, aws-cn caller", `{"AWS": "arn:aws:iam::111122223333:root"}`, cnUser, notApplicable},
		{"aws-us-gov root", `{"AWS": "arn:aws-us-gov:iam::111122223333:root"}`, govRole, allow("", false, true)},
		{"aws-us-gov role", `{"AWS": "arn:aws-us-gov:iam::111122223333:role/r"}`, govRole, allow("", true, false)},
		{"bare id ignores partition", `{"AWS": "111122223333"}`, cnUser, allow("", false, true)},
		{"caller without ARN fits any partition", `{"AWS": "arn:aws-cn:iam::111122223333:root"}`, noARN, allow("", false, true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, stmt(`"Effect": "Allow", "Action": "kms:*", "Principal": `+tt.principal))
			got := p.EvaluateResource(&Request{Action: "kms:Decrypt", Resource: keyARN, Principal: tt.caller})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("EvaluateResource() = %+v, want %+v", got, tt.want)
			}
		})
	}
}

func TestNotPrincipal(t *testing.T) {
	// A Deny with NotPrincipal, plus an Allow for everyone, so that a caller
	// left out of the Deny is allowed.
	policy := func(notPrincipal string) *Policy {
		return mustParse(t, `{"Statement": [
			{"Sid": "DenyOthers", "Effect": "Deny", "NotPrincipal": `+notPrincipal+`, "Action": "kms:*", "Resource": "*"},
			{"Sid": "AllowAll", "Effect": "Allow", "Principal": "*", "Action": "kms:*", "Resource": "*"}]}`)
	}
	const sessionAll = `{"AWS": ["` + platformRole + `", "` + platformSession + `", "arn:aws:iam::444455556666:root"]}`
	tests := []struct {
		name         string
		notPrincipal string
		caller       Principal
		want         Result
	}{
		{"session, role and account listed", sessionAll, platform, allow("AllowAll", true, false)},
		{"only role listed", `{"AWS": "` + platformRole + `"}`, platform, deny("DenyOthers")},
		{"role and session but not account", `{"AWS": ["` + platformRole + `", "` + platformSession + `"]}`, platform, deny("DenyOthers")},
		{"other caller", sessionAll, alice, deny("DenyOthers")},
		{"star exempts everyone", `"*"`, stranger, allow("AllowAll", true, false)},
		{"AWS star exempts everyone", `{"AWS": "*"}`, kmsService, allow("AllowAll", true, false)},
		{"service listed", `{"Service": "kms.amazonaws.com"}`, kmsService, allow("AllowAll", true, false)},
		{"service not listed", `{"Service": "s3.amazonaws.com"}`, kmsService, deny("DenyOthers")},
		{"caller without identity is not exempt", sessionAll, Principal{}, deny("DenyOthers")},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := policy(tt.notPrincipal).EvaluateResource(&Request{Action: "kms:Decrypt", Resource: keyARN, Principal: tt.caller})
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("EvaluateResource() = %+v, want %+v", got, tt.want)
			}
		})
	}

	allowNot := mustParse(t, stmt(`"Effect": "Allow", "NotPrincipal": {"AWS": "999988887777"}, "Action": "kms:*"`))
	runResourceCases(t, allowNot, []evalCase{
		{"allow through NotPrincipal grants directly", Request{Action: "kms:Decrypt", Principal: alice}, allow("", true, false)},
		{"listed account excluded", Request{Action: "kms:Decrypt", Principal: Principal{Account: "999988887777"}}, notApplicable},
	})
}

func TestIdentityPolicy(t *testing.T) {
	p := readPolicy(t, "identity-kms.json")
	otherKey := "arn:aws:kms:us-east-1:999988887777:key/k"
	runIdentityCases(t, p, []evalCase{
		{"decrypt tenant key", Request{Action: "kms:Decrypt", Resource: keyARN, Context: tenantCtx("t-1")}, allow("UseCustomerKeys", false, false)},
		{"GenerateDataKeyPair matches GenerateDataKey*", Request{Action: "kms:GenerateDataKeyPair", Resource: keyARN, Context: tenantCtx("t-1")}, allow("UseCustomerKeys", false, false)},
		{"region wildcard", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:eu-west-1:111122223333:key/mrk-1", Context: tenantCtx("t-1")}, allow("UseCustomerKeys", false, false)},
		{"key of another account", Request{Action: "kms:Decrypt", Resource: otherKey, Context: tenantCtx("t-1")}, notApplicable},
		{"resource is case-sensitive", Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:111122223333:KEY/k", Context: tenantCtx("t-1")}, notApplicable},
		{"missing tenant", Request{Action: "kms:Decrypt", Resource: keyARN}, notApplicable},
		{"grant for AWS resource", Request{Action: "kms:CreateGrant", Resource: keyARN, Context: map[string][]string{"kms:grantisforawsresource": {"true"}}}, allow("GrantsForAWSResources", false, false)},
		{"explicit deny", Request{Action: "kms:ScheduleKeyDeletion", Resource: keyARN}, deny("NeverDeleteKeys")},
		{"explicit deny, any resource", Request{Action: "kms:DisableKey", Resource: otherKey}, deny("NeverDeleteKeys")},
		{"unlisted action", Request{Action: "kms:PutKeyPolicy", Resource: keyARN}, notApplicable},
	})
}

func TestIdentityIgnoresPrincipalAndResourcelessStatements(t *testing.T) {
	p := mustParse(t, `{"Statement": [
		{"Sid": "HasPrincipal", "Effect": "Deny", "Principal": "*", "Action": "kms:*", "Resource": "*"},
		{"Sid": "HasNotPrincipal", "Effect": "Deny", "NotPrincipal": {"AWS": "111122223333"}, "Action": "kms:*", "Resource": "*"},
		{"Sid": "NoResource", "Effect": "Deny", "Action": "kms:*"},
		{"Sid": "Plain", "Effect": "Allow", "Action": "kms:*", "Resource": "*"}]}`)
	runIdentityCases(t, p, []evalCase{
		{"only the plain statement applies", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice}, allow("Plain", false, false)},
	})
	runResourceCases(t, p, []evalCase{
		{"as a resource policy the principal Deny applies", Request{Action: "kms:Decrypt", Resource: keyARN, Principal: alice}, deny("HasPrincipal")},
	})
}

func TestNotActionNotResource(t *testing.T) {
	p := readPolicy(t, "identity-assume-role.json")
	runIdentityCases(t, p, []evalCase{
		{"assume byok role", Request{Action: "sts:AssumeRole", Resource: "arn:aws:iam::111122223333:role/byok-access"}, allow("", false, false)},
		{"assume other role", Request{Action: "sts:AssumeRole", Resource: "arn:aws:iam::111122223333:role/admin"}, notApplicable},
		{"s3 outside the audit bucket denied", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::other/x"}, deny("")},
		{"s3 in the audit bucket not denied", Request{Action: "s3:GetObject", Resource: "arn:aws:s3:::byok-audit/2025/x"}, notApplicable},
		{"kms excluded by NotAction", Request{Action: "kms:Decrypt", Resource: keyARN}, notApplicable},
	})
}

func TestActionAndResourceWildcards(t *testing.T) {
	tests := []struct {
		name     string
		action   string
		resource string
		req      Request
		want     Decision
	}{
		{"star action", `"*"`, `"*"`, Request{Action: "sts:AssumeRole", Resource: keyARN}, Allow},
		{"service star", `"kms:*"`, `"*"`, Request{Action: "kms:Decrypt", Resource: keyARN}, Allow},
		{"service star other service", `"kms:*"`, `"*"`, Request{Action: "kmsx:Decrypt", Resource: keyARN}, NotApplicable},
		{"question mark", `"kms:?ecrypt"`, `"*"`, Request{Action: "kms:Decrypt", Resource: keyARN}, Allow},
		{"prefix wildcard", `"kms:Get*"`, `"*"`, Request{Action: "kms:GetPublicKey", Resource: keyARN}, Allow},
		{"action list", `["kms:Encrypt", "kms:Decrypt"]`, `"*"`, Request{Action: "kms:Decrypt", Resource: keyARN}, Allow},
		{"exact action mismatch", `"kms:Decrypt"`, `"*"`, Request{Action: "kms:DecryptX", Resource: keyARN}, NotApplicable},
		{"key wildcard", `"kms:*"`, `"arn:aws:kms:us-east-1:111122223333:key/*"`, Request{Action: "kms:Decrypt", Resource: keyARN}, Allow},
		{"alias does not match key pattern", `"kms:*"`, `"arn:aws:kms:us-east-1:111122223333:key/*"`, Request{Action: "kms:Decrypt", Resource: "arn:aws:kms:us-east-1:111122223333:alias/a"}, NotApplicable},
		{"region wildcard", `"kms:*"`, `"arn:aws:kms:*:111122223333:key/*"`, Request{Action: "kms:Decrypt", Resource: keyARN}, Allow},
		{"single char wildcard", `"kms:*"`, `"arn:aws:kms:us-east-?:111122223333:key/*"`, Request{Action: "kms:Decrypt", Resource: keyARN}, Allow},
		{"exact resource", `"kms:*"`, `"` + keyARN + `"`, Request{Action: "kms:Decrypt", Resource: keyARN}, Allow},
		{"resource list", `"kms:*"`, `["arn:aws:kms:us-east-1:1:key/x", "` + keyARN + `"]`, Request{Action: "kms:Decrypt", Resource: keyARN}, Allow},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := mustParse(t, stmt(`"Effect": "Allow", "Action": `+tt.action+`, "Resource": `+tt.resource))
			if got := p.EvaluateIdentity(&tt.req); got.Decision != tt.want {
				t.Errorf("EvaluateIdentity() = %v, want %v", got.Decision, tt.want)
			}
		})
	}
}

func TestNilInputs(t *testing.T) {
	var nilPolicy *Policy
	if got := nilPolicy.EvaluateResource(&Request{Action: "kms:Decrypt"}); got.Decision != NotApplicable {
		t.Errorf("nil.EvaluateResource() = %v, want NotApplicable", got.Decision)
	}
	p := readPolicy(t, "kms-default.json")
	if got := p.EvaluateResource(nil); got.Decision != NotApplicable {
		t.Errorf("EvaluateResource(nil) = %v, want NotApplicable", got.Decision)
	}
	if got := p.EvaluateIdentity(nil); got.Decision != NotApplicable {
		t.Errorf("EvaluateIdentity(nil) = %v, want NotApplicable", got.Decision)
	}
	var empty Policy
	if got := empty.EvaluateIdentity(&Request{}); got.Decision != NotApplicable {
		t.Errorf("Policy{}.EvaluateIdentity() = %v, want NotApplicable", got.Decision)
	}
}

func TestHandBuiltStatementWithoutEffectNeverApplies(t *testing.T) {
	p := &Policy{Statements: []Statement{{Action: []string{"*"}, Resource: []string{"*"}}}}
	if got := p.EvaluateIdentity(&Request{Action: "kms:Decrypt", Resource: keyARN}); got.Decision != NotApplicable {
		t.Errorf("EvaluateIdentity() = %v, want NotApplicable", got.Decision)
	}
}
