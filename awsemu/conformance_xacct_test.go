package awsemu_test

import (
	"context"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/byok-dev/byok/awsemu"
)

const (
	vaultAcct = "333333333333"
	xKeyID    = "mrk-3d3e3f00112233445566778899aabbcc"
)

func xPolicy(statements ...string) string {
	return `{"Version":"2012-10-17","Statement":[` + strings.Join(statements, ",") + `]}`
}

func xAllow(principal, action, resource string) string {
	s := `{"Effect":"Allow","Action":"` + action + `","Resource":"` + resource + `"`
	if principal != "" {
		s += `,"Principal":{"AWS":"` + principal + `"}`
	}
	return s + `}`
}

// xWorld is a key in keyAcct and a role R in roleAcct that the platform
// may assume, with the key policy and the role's identity policy given ("":
// KMS's default key policy; no identity policy).
func xWorld(t *testing.T, keyAcct, roleAcct, keyPolicy, rolePolicy string) (*awsemu.TestServer, string) {
	t.Helper()
	allowAll := xPolicy(xAllow("", "*", "*"))
	role := awsemu.Role{Name: "R", TrustPolicy: xPolicy(`{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + platformAcct + `:root"},"Action":"sts:AssumeRole"}`),
		Policies: map[string]string{}}
	if rolePolicy != "" {
		role.Policies["kms"] = rolePolicy
	}
	accts := []awsemu.Account{
		{ID: platformAcct, Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001", SecretAccessKey: "s", Policies: map[string]string{"all": allowAll}}}},
		{ID: keyAcct, Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIAKEYADMIN00000001", SecretAccessKey: "s", Policies: map[string]string{"all": allowAll}}},
			Keys: []awsemu.Key{{ID: xKeyID, Region: euWest1, MultiRegion: true, Policy: keyPolicy}}},
	}
	if roleAcct == keyAcct {
		accts[1].Roles = []awsemu.Role{role}
	} else {
		accts = append(accts, awsemu.Account{ID: roleAcct, Roles: []awsemu.Role{role}})
	}
	ts := awsemu.NewTestServer(t, &awsemu.World{Regions: []string{euWest1}, Accounts: accts})
	return ts, "arn:aws:kms:" + euWest1 + ":" + keyAcct + ":key/" + xKeyID
}

func xSession(t *testing.T, ts *awsemu.TestServer, roleARN string) *kms.Client {
	t.Helper()
	out, err := sts.NewFromConfig(ts.Config(euWest1, ts.Credentials(t, platformAcct, "platform"))).AssumeRole(context.Background(),
		&sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("xs")})
	if err != nil {
		t.Fatalf("AssumeRole() err = %v", err)
	}
	c := out.Credentials
	return kms.NewFromConfig(ts.Config(euWest1, aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}))
}

// A role session of one account using another account's key needs both
// the key policy (naming the role, or its account's root) and the role's
// identity policy; in the key's own account a key policy naming the role is
// enough, and one naming only the account's root leaves it to the role's
// identity policy. Either direction between two customer accounts is the
// same.
func TestCrossAccountRoleSession(t *testing.T) {
	const noResource, noIdentity = "because no resource-based policy allows the kms:Encrypt action", "because no identity-based policy allows the kms:Encrypt action"
	for _, dir := range []struct{ keyAcct, roleAcct string }{{customerAcct, vaultAcct}, {vaultAcct, customerAcct}, {customerAcct, customerAcct}} {
		roleARN := "arn:aws:iam::" + dir.roleAcct + ":role/R"
		keyRoot, roleRoot := "arn:aws:iam::"+dir.keyAcct+":root", "arn:aws:iam::"+dir.roleAcct+":root"
		keyARN := "arn:aws:kms:" + euWest1 + ":" + dir.keyAcct + ":key/" + xKeyID
		otherKey := "arn:aws:kms:" + euWest1 + ":" + dir.keyAcct + ":key/mrk-ffffffffffffffffffffffffffffffff"
		cross := dir.keyAcct != dir.roleAcct
		either := func(crossReason, sameReason string) string {
			if cross {
				return crossReason
			}
			return sameReason
		}
		for _, tc := range []struct {
			name, keyPolicy, rolePolicy, reason string
		}{
			{"key policy names the role, identity policy allows", xPolicy(xAllow(keyRoot, "kms:*", "*"), xAllow(roleARN, "kms:Encrypt", "*")),
				xPolicy(xAllow("", "kms:Encrypt", keyARN)), ""},
			{"key policy names the role, no identity policy", xPolicy(xAllow(keyRoot, "kms:*", "*"), xAllow(roleARN, "kms:Encrypt", "*")),
				"", either(noIdentity, "")},
			{"key policy names the role, identity policy on another key", xPolicy(xAllow(keyRoot, "kms:*", "*"), xAllow(roleARN, "kms:Encrypt", "*")),
				xPolicy(xAllow("", "kms:Encrypt", otherKey)), either(noIdentity, "")},
			{"key policy names the role's account root, identity policy allows", xPolicy(xAllow(keyRoot, "kms:*", "*"), xAllow(roleRoot, "kms:Encrypt", "*")),
				xPolicy(xAllow("", "kms:Encrypt", keyARN)), ""},
			{"key policy names the role's account root, no identity policy", xPolicy(xAllow(keyRoot, "kms:*", "*"), xAllow(roleRoot, "kms:Encrypt", "*")),
				"", noIdentity},
			{"default key policy, identity policy allows", "", xPolicy(xAllow("", "kms:Encrypt", keyARN)), either(noResource, "")},
			{"key policy names neither", xPolicy(xAllow("arn:aws:iam::"+platformAcct+":root", "kms:*", "*")),
				xPolicy(xAllow("", "kms:Encrypt", keyARN)), noResource},
			{"explicit deny in the key policy", xPolicy(xAllow(roleRoot, "kms:*", "*"), xAllow(keyRoot, "kms:*", "*"),
				`{"Effect":"Deny","Principal":{"AWS":"`+roleARN+`"},"Action":"kms:Encrypt","Resource":"*"}`),
				xPolicy(xAllow("", "kms:Encrypt", keyARN)), "with an explicit deny in a resource-based policy"},
		} {
			t.Run(dir.keyAcct+"-key/"+dir.roleAcct+"-role/"+tc.name, func(t *testing.T) {
				t.Parallel()
				ts, _ := xWorld(t, dir.keyAcct, dir.roleAcct, tc.keyPolicy, tc.rolePolicy)
				_, err := xSession(t, ts, roleARN).Encrypt(context.Background(), &kms.EncryptInput{KeyId: aws.String(keyARN), Plaintext: []byte("x")})
				if tc.reason == "" {
					if err != nil {
						t.Fatalf("Encrypt() err = %v, want success", err)
					}
					return
				}
				wantCode(t, err, "AccessDeniedException")
				msg := apiMessage(err)
				if !strings.HasPrefix(msg, "User: arn:aws:sts::"+dir.roleAcct+":assumed-role/R/xs is not authorized to perform: kms:Encrypt on resource: "+keyARN) ||
					!strings.HasSuffix(msg, tc.reason) {
					t.Fatalf("message = %q, want the session, the key and %q", msg, tc.reason)
				}
			})
		}
	}
}

// KMS refuses a key policy naming a user or role that does not exist, so a
// key policy naming another account's role is put after the role exists.
func TestKeyPolicyPrincipalsMustExist(t *testing.T) {
	ts, keyARN := xWorld(t, customerAcct, vaultAcct, "", "")
	admin := kms.NewFromConfig(ts.Config(euWest1, ts.Credentials(t, customerAcct, "admin")))
	root := xAllow("arn:aws:iam::"+customerAcct+":root", "kms:*", "*")
	for _, tc := range []struct {
		principal string
		ok        bool
	}{
		{"arn:aws:iam::" + vaultAcct + ":role/R", true},
		{"arn:aws:iam::" + vaultAcct + ":role/missing", false},
		{"arn:aws:iam::" + customerAcct + ":user/admin", true},
		{"arn:aws:iam::" + customerAcct + ":user/missing", false},
		{"arn:aws:iam::" + vaultAcct + ":root", true},
		{"arn:aws:iam::444444444444:role/outside-the-world", true},
	} {
		policy := xPolicy(root, xAllow(tc.principal, "kms:Encrypt", "*"))
		_, err := admin.PutKeyPolicy(context.Background(), &kms.PutKeyPolicyInput{KeyId: aws.String(keyARN), PolicyName: aws.String("default"), Policy: aws.String(policy)})
		if tc.ok {
			if err != nil {
				t.Errorf("PutKeyPolicy(%s) err = %v", tc.principal, err)
			}
			continue
		}
		wantCode(t, err, "MalformedPolicyDocumentException")
		_, err = admin.CreateKey(context.Background(), &kms.CreateKeyInput{Policy: aws.String(policy)})
		wantCode(t, err, "MalformedPolicyDocumentException")
	}
}
