package iampolicy

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func mustParse(t *testing.T, doc string) *Policy {
	t.Helper()
	p, err := Parse([]byte(doc))
	if err != nil {
		t.Fatalf("Parse(%s) err = %v, want nil", doc, err)
	}
	return p
}

func readPolicy(t *testing.T, name string) *Policy {
	t.Helper()
	doc, err := os.ReadFile(filepath.Join("testdata", "policies", name))
	if err != nil {
		t.Fatal(err)
	}
	return mustParse(t, string(doc))
}

func TestParseExamplePolicies(t *testing.T) {
	files, err := filepath.Glob(filepath.Join("testdata", "policies", "*.json"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no example policies: %v", err)
	}
	for _, f := range files {
		readPolicy(t, filepath.Base(f))
	}
}

func TestParseKeyPolicyStructure(t *testing.T) {
	got := readPolicy(t, "byok-cross-account.json")
	want := &Policy{
		Version: "2012-10-17",
		ID:      "byok-key-policy",
		Statements: []Statement{
			{
				Sid:       "Enable IAM User Permissions",
				Effect:    EffectAllow,
				Principal: &Principals{AWS: []string{"arn:aws:iam::111122223333:root"}},
				Action:    []string{"kms:*"},
				Resource:  []string{"*"},
			},
			{
				Sid:       "AllowPlatformUseOfTheKey",
				Effect:    EffectAllow,
				Principal: &Principals{AWS: []string{"arn:aws:iam::444455556666:role/byok-platform", "444455556666"}},
				Action:    []string{"kms:Encrypt", "kms:Decrypt", "kms:ReEncrypt*", "kms:GenerateDataKey*", "kms:DescribeKey"},
				Resource:  []string{"*"},
				Condition: []Condition{{Operator: "StringEquals", Key: "kms:EncryptionContext:tenant", Values: []string{"t-42"}}},
			},
			{
				Sid:       "AllowPlatformDescribe",
				Effect:    EffectAllow,
				Principal: &Principals{AWS: []string{"arn:aws:iam::444455556666:role/byok-platform"}},
				Action:    []string{"kms:DescribeKey"},
				Resource:  []string{"*"},
			},
			{
				Sid:       "AllowAttachmentOfPersistentResources",
				Effect:    EffectAllow,
				Principal: &Principals{AWS: []string{"arn:aws:iam::444455556666:role/byok-platform"}},
				Action:    []string{"kms:CreateGrant", "kms:ListGrants", "kms:RevokeGrant"},
				Resource:  []string{"*"},
				Condition: []Condition{{Operator: "Bool", Key: "kms:GrantIsForAWSResource", Values: []string{"true"}}},
			},
		},
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
	}
}

func TestParseForms(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want *Policy
	}{
		{
			name: "single statement object, no version",
			doc:  `{"Statement": {"Effect": "Deny", "NotAction": "kms:Decrypt", "NotResource": ["arn:aws:kms:us-east-1:111122223333:key/k"]}}`,
			want: &Policy{Statements: []Statement{{
				Effect: EffectDeny, NotAction: []string{"kms:Decrypt"},
				NotResource: []string{"arn:aws:kms:us-east-1:111122223333:key/k"},
			}}},
		},
		{
			name: "2008 version, wildcard principal, no resource",
			doc:  `{"Version": "2008-10-17", "Statement": [{"Effect": "Allow", "Principal": "*", "Action": "*"}]}`,
			want: &Policy{Version: "2008-10-17", Statements: []Statement{{
				Effect: EffectAllow, Principal: &Principals{All: true}, Action: []string{"*"},
			}}},
		},
		{
			name: "all principal types, AWS star",
			doc: `{"Statement": [{"Effect": "Allow", "NotPrincipal": {"AWS": ["*"], "Service": "kms.amazonaws.com",
				"Federated": "cognito-identity.amazonaws.com", "CanonicalUser": "79a59df900b949e55d96a1e698fbaced"}, "Action": "kms:*"}]}`,
			want: &Policy{Statements: []Statement{{
				Effect: EffectAllow, Action: []string{"kms:*"},
				NotPrincipal: &Principals{
					All: true, AWS: []string{"*"}, Service: []string{"kms.amazonaws.com"},
					Federated: []string{"cognito-identity.amazonaws.com"}, CanonicalUser: []string{"79a59df900b949e55d96a1e698fbaced"},
				},
			}}},
		},
		{
			name: "condition values of every type, sorted",
			doc: `{"Statement": [{"Effect": "Allow", "Principal": {"AWS": "111122223333"}, "Action": "kms:*", "Condition": {
				"StringLike": {"kms:ViaService": "s3.*", "aws:PrincipalArn": ["arn:aws:iam::*:role/a", "x"]},
				"Bool": {"kms:GrantIsForAWSResource": false},
				"NumericLessThan": {"kms:RequestAge": [3, 4.5e1, -1]}}}]}`,
			want: &Policy{Statements: []Statement{{
				Effect: EffectAllow, Principal: &Principals{AWS: []string{"111122223333"}}, Action: []string{"kms:*"},
				Condition: []Condition{
					{Operator: "Bool", Key: "kms:GrantIsForAWSResource", Values: []string{"false"}},
					{Operator: "NumericLessThan", Key: "kms:RequestAge", Values: []string{"3", "4.5e1", "-1"}},
					{Operator: "StringLike", Key: "aws:PrincipalArn", Values: []string{"arn:aws:iam::*:role/a", "x"}},
					{Operator: "StringLike", Key: "kms:ViaService", Values: []string{"s3.*"}},
				},
			}}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := mustParse(t, tt.doc)
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("Parse() mismatch (-want +got):\n%s", diff)
			}
		})
	}
}

// stmt wraps statement elements into a policy document.
func stmt(elements string) string {
	return `{"Version": "2012-10-17", "Statement": [{` + elements + `}]}`
}

func TestParseErrors(t *testing.T) {
	const (
		allowAll = `"Effect": "Allow", "Action": "kms:*", "Resource": "*"`
		badPrin  = "Policy contains a statement with one or more invalid principals."
	)
	tests := []struct {
		name string
		doc  string
		want string
	}{
		{"not JSON", `{"Statement": [`, "This policy contains invalid Json"},
		{"trailing data", stmt(allowAll) + `x`, "This policy contains invalid Json"},
		{"empty", ``, "This policy contains invalid Json"},
		{"array document", `[]`, "Syntax errors in policy."},
		{"null document", `null`, "Syntax errors in policy."},
		{"too large", `{"Id": "` + strings.Repeat("a", MaxPolicySize) + `"}`, "Policy document exceeds the maximum size of 32768 bytes."},
		{"unknown top-level element", `{"Statement": [{` + allowAll + `}], "Extra": 1}`, "Syntax errors in policy."},
		{"lowercase element name", `{"statement": [{` + allowAll + `}]}`, "Syntax errors in policy."},
		{"missing statement", `{"Version": "2012-10-17"}`, "Syntax errors in policy."},
		{"empty statement list", `{"Statement": []}`, "Policy document must contain at least one statement."},
		{"statement is a string", `{"Statement": "x"}`, "Syntax errors in policy."},
		{"statement list holds a string", `{"Statement": ["x"]}`, "Syntax errors in policy."},
		{"bad version", `{"Version": "2012-10-18", "Statement": [{` + allowAll + `}]}`, "The policy failed legacy parsing"},
		{"numeric version", `{"Version": 2012, "Statement": [{` + allowAll + `}]}`, "The policy failed legacy parsing"},
		{"numeric Id", `{"Id": 1, "Statement": [{` + allowAll + `}]}`, "Syntax errors in policy."},
		{"unknown statement element", stmt(allowAll + `, "Actions": "kms:*"`), "Syntax errors in policy."},
		{"missing effect", stmt(`"Action": "kms:*", "Resource": "*"`), "Syntax errors in policy."},
		{"lowercase effect", stmt(`"Effect": "allow", "Action": "kms:*", "Resource": "*"`), "Invalid effect: allow"},
		{"numeric effect", stmt(`"Effect": 1, "Action": "kms:*", "Resource": "*"`), "Syntax errors in policy."},
		{"numeric sid", stmt(allowAll + `, "Sid": 3`), "Syntax errors in policy."},
		{"duplicate sid", `{"Statement": [{"Sid": "A", ` + allowAll + `}, {"Sid": "A", ` + allowAll + `}]}`, "Statement IDs (SID) in a single policy must be unique."},
		{"missing action", stmt(`"Effect": "Allow", "Resource": "*"`), "Policy statement must contain actions."},
		{"empty action list", stmt(`"Effect": "Allow", "Action": [], "Resource": "*"`), "Policy statement must contain actions."},
		{"action and not action", stmt(allowAll + `, "NotAction": "kms:Decrypt"`), "Syntax errors in policy."},
		{"action without vendor", stmt(`"Effect": "Allow", "Action": "Decrypt", "Resource": "*"`), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"action with empty vendor", stmt(`"Effect": "Allow", "Action": ":Decrypt", "Resource": "*"`), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"action with two colons", stmt(`"Effect": "Allow", "Action": "kms:Decrypt:x", "Resource": "*"`), "Actions/Condition can contain only one colon."},
		{"action with empty name", stmt(`"Effect": "Allow", "Action": "kms:", "Resource": "*"`), "Syntax errors in policy."},
		{"numeric action", stmt(`"Effect": "Allow", "Action": [1], "Resource": "*"`), "Syntax errors in policy."},
		{"resource and not resource", stmt(allowAll + `, "NotResource": "*"`), "Syntax errors in policy."},
		{"empty resource list", stmt(`"Effect": "Allow", "Action": "kms:*", "Resource": []`), "Policy statement must contain resources."},
		{"resource not an ARN", stmt(`"Effect": "Allow", "Action": "kms:*", "Resource": "key/1234"`), `Resource key/1234 must be in ARN format or "*".`},
		{"resource null", stmt(`"Effect": "Allow", "Action": "kms:*", "Resource": null`), "Syntax errors in policy."},
		{"principal and not principal", stmt(allowAll + `, "Principal": "*", "NotPrincipal": "*"`), "Syntax errors in policy."},
		{"principal string not star", stmt(allowAll + `, "Principal": "111122223333"`), badPrin},
		{"principal empty object", stmt(allowAll + `, "Principal": {}`), badPrin},
		{"principal unknown type", stmt(allowAll + `, "Principal": {"Aws": "*"}`), badPrin},
		{"principal empty list", stmt(allowAll + `, "Principal": {"AWS": []}`), badPrin},
		{"principal 11-digit account", stmt(allowAll + `, "Principal": {"AWS": "11112222333"}`), badPrin},
		{"principal unknown partition", stmt(allowAll + `, "Principal": {"AWS": "arn:aws-xx:iam::111122223333:root"}`), badPrin},
		{"principal non-IAM service", stmt(allowAll + `, "Principal": {"AWS": "arn:aws:kms::111122223333:root"}`), badPrin},
		{"principal with region", stmt(allowAll + `, "Principal": {"AWS": "arn:aws:iam:us-east-1:111122223333:root"}`), badPrin},
		{"principal bad account in ARN", stmt(allowAll + `, "Principal": {"AWS": "arn:aws:iam::1111-2222-3333:root"}`), badPrin},
		{"principal wildcard role", stmt(allowAll + `, "Principal": {"AWS": "arn:aws:iam::111122223333:role/*"}`), badPrin},
		{"principal group", stmt(allowAll + `, "Principal": {"AWS": "arn:aws:iam::111122223333:group/admins"}`), badPrin},
		{"principal role without name", stmt(allowAll + `, "Principal": {"AWS": "arn:aws:iam::111122223333:role/"}`), badPrin},
		{"principal session without name", stmt(allowAll + `, "Principal": {"AWS": "arn:aws:sts::111122223333:assumed-role/R"}`), badPrin},
		{"principal too few parts", stmt(allowAll + `, "Principal": {"AWS": "arn:aws:iam::111122223333"}`), badPrin},
		{"principal numeric", stmt(allowAll + `, "Principal": {"AWS": 111122223333}`), badPrin},
		{"principal bad service", stmt(allowAll + `, "Principal": {"Service": "kms"}`), badPrin},
		{"principal empty federated", stmt(allowAll + `, "Principal": {"Federated": ""}`), badPrin},
		{"condition not object", stmt(allowAll + `, "Condition": []`), "Syntax errors in policy."},
		{"unknown operator", stmt(allowAll + `, "Condition": {"StringEqual": {"kms:CallerAccount": "1"}}`), "Invalid Condition type : StringEqual."},
		{"date operator unsupported", stmt(allowAll + `, "Condition": {"DateLessThan": {"aws:CurrentTime": "2030-01-01T00:00:00Z"}}`), "Invalid Condition type : DateLessThan."},
		{"NullIfExists", stmt(allowAll + `, "Condition": {"NullIfExists": {"kms:CallerAccount": "true"}}`), "Invalid Condition type : NullIfExists."},
		{"ForAnyValue:Null", stmt(allowAll + `, "Condition": {"ForAnyValue:Null": {"kms:CallerAccount": "true"}}`), "Invalid Condition type : ForAnyValue:Null."},
		{"bare IfExists", stmt(allowAll + `, "Condition": {"IfExists": {"kms:CallerAccount": "1"}}`), "Invalid Condition type : IfExists."},
		{"unknown set prefix", stmt(allowAll + `, "Condition": {"ForSomeValues:StringEquals": {"kms:CallerAccount": "1"}}`), "Invalid Condition type : ForSomeValues:StringEquals."},
		{"operator block not object", stmt(allowAll + `, "Condition": {"StringEquals": "x"}`), "Syntax errors in policy."},
		{"condition key without vendor", stmt(allowAll + `, "Condition": {"StringEquals": {"CallerAccount": "1"}}`), "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."},
		{"condition value object", stmt(allowAll + `, "Condition": {"StringEquals": {"kms:CallerAccount": {"a": 1}}}`), "Condition values for kms:CallerAccount must be strings, numbers or booleans."},
		{"condition value null", stmt(allowAll + `, "Condition": {"StringEquals": {"kms:CallerAccount": null}}`), "Condition values for kms:CallerAccount must be strings, numbers or booleans."},
		{"condition value nested array", stmt(allowAll + `, "Condition": {"StringEquals": {"kms:CallerAccount": [["1"]]}}`), "Condition values for kms:CallerAccount must be strings, numbers or booleans."},
		{"condition values empty", stmt(allowAll + `, "Condition": {"StringEquals": {"kms:CallerAccount": []}}`), "Condition values for kms:CallerAccount must be strings, numbers or booleans."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := Parse([]byte(tt.doc))
			var pe *ParseError
			if !errors.As(err, &pe) {
				t.Fatalf("Parse() = %v, %v; want *ParseError %q", p, err, tt.want)
			}
			if pe.Message != tt.want || err.Error() != tt.want {
				t.Errorf("Parse() err = %q, want %q", pe.Message, tt.want)
			}
		})
	}
}

func TestParseErrorShortensEchoedText(t *testing.T) {
	long := strings.Repeat("é", 200)
	_, err := Parse([]byte(stmt(`"Effect": "` + long + `", "Action": "kms:*", "Resource": "*"`)))
	if err == nil {
		t.Fatal("Parse() err = nil, want *ParseError")
	}
	if n := len(err.Error()); n > 200 {
		t.Errorf("len(Parse() err) = %d, want <= 200", n)
	}
	if !strings.HasSuffix(err.Error(), "...") || !strings.HasPrefix(err.Error(), "Invalid effect: é") {
		t.Errorf("Parse() err = %q, want a shortened Invalid effect message", err)
	}
}

func TestParseAcceptsPrincipalForms(t *testing.T) {
	principals := []string{
		`"*"`,
		`{"AWS": "*"}`,
		`{"AWS": "111122223333"}`,
		`{"AWS": "arn:aws:iam::111122223333:root"}`,
		`{"AWS": "arn:aws-cn:iam::111122223333:root"}`,
		`{"AWS": "arn:aws-us-gov:iam::111122223333:root"}`,
		`{"AWS": "arn:aws:iam::111122223333:user/alice"}`,
		`{"AWS": "arn:aws:iam::111122223333:user/division/team/alice+ops@example.com"}`,
		`{"AWS": "arn:aws:iam::111122223333:role/service-role/byok_platform-1"}`,
		`{"AWS": "arn:aws:sts::111122223333:assumed-role/byok-platform/session-1"}`,
		`{"AWS": "arn:aws:sts::111122223333:federated-user/bob"}`,
		`{"AWS": "AROA1234567890EXAMPLE"}`,
		`{"AWS": ["111122223333", "arn:aws:iam::444455556666:role/r"], "Service": ["kms.amazonaws.com", "s3.amazonaws.com.cn"]}`,
		`{"Federated": "arn:aws:iam::111122223333:saml-provider/idp"}`,
	}
	for _, pr := range principals {
		mustParse(t, stmt(`"Effect": "Allow", "Action": "kms:*", "Principal": `+pr))
	}
}

func TestValidateIdentity(t *testing.T) {
	tests := []struct {
		name string
		doc  string
		want string // "" for no error
	}{
		{"valid", stmt(`"Effect": "Allow", "Action": "kms:*", "Resource": "*"`), ""},
		{"not resource", stmt(`"Effect": "Allow", "Action": "kms:*", "NotResource": "*"`), ""},
		{"principal", stmt(`"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Principal": "*"`), "Policy document should not specify a principal."},
		{"not principal", stmt(`"Effect": "Allow", "Action": "kms:*", "Resource": "*", "NotPrincipal": {"AWS": "111122223333"}`), "Policy document should not specify a principal."},
		{"no resource", stmt(`"Effect": "Allow", "Action": "kms:*"`), "Policy statement must contain resources."},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			checkValidate(t, mustParse(t, tt.doc).ValidateIdentity(), tt.want)
		})
	}
}

func TestValidateResource(t *testing.T) {
	checkValidate(t, readPolicy(t, "trust-external-id.json").ValidateResource(), "")
	checkValidate(t, readPolicy(t, "kms-default.json").ValidateResource(), "")
	p := mustParse(t, stmt(`"Effect": "Allow", "Action": "kms:*", "Resource": "*"`))
	checkValidate(t, p.ValidateResource(), "Policy contains a statement with one or more invalid principals.")
}

func checkValidate(t *testing.T, err error, want string) {
	t.Helper()
	if want == "" {
		if err != nil {
			t.Errorf("Validate() err = %v, want nil", err)
		}
		return
	}
	var pe *ParseError
	if !errors.As(err, &pe) || pe.Message != want {
		t.Errorf("Validate() err = %v, want %q", err, want)
	}
}

func TestStringers(t *testing.T) {
	tests := []struct {
		got, want string
	}{
		{NotApplicable.String(), "NotApplicable"},
		{Allow.String(), "Allow"},
		{Deny.String(), "Deny"},
		{Decision(0).String(), "Decision(0)"},
		{EffectAllow.String(), "Allow"},
		{EffectDeny.String(), "Deny"},
		{Effect(7).String(), "Effect(7)"},
	}
	for _, tt := range tests {
		if tt.got != tt.want {
			t.Errorf("String() = %q, want %q", tt.got, tt.want)
		}
	}
}

func TestParseErrorIsDeterministic(t *testing.T) {
	doc := stmt(`"Effect": "Allow", "Action": "kms:*", "Resource": "*", "Condition": {
		"StringEquals": {"kms:CallerAccount": "1", "bad": "x"}, "AStringEqual": {"kms:CallerAccount": "1"}, "Zzz": {"k:k": "v"}}`)
	for range 20 {
		_, err := Parse([]byte(doc))
		if err == nil || err.Error() != "Invalid Condition type : AStringEqual." {
			t.Fatalf("Parse() err = %v, want Invalid Condition type : AStringEqual.", err)
		}
	}
}
