package awsemu_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

const tenantKeyARN = "arn:aws:kms:eu-west-1:222222222222:key/" + tenantKey

func TestCrossAccountAccess(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t, euWest1)
	blob := encrypt(t, e, admin, tenantKey, map[string]string{"tenant": "42"})
	ownKey := *createKey(t, e, admin, nil).Arn // default policy: the customer account only

	platform := e.kms(t, euWest1, platformAcct, "platform")
	nobody := e.kms(t, euWest1, platformAcct, "nobody")
	tests := []struct {
		name   string
		c      *kms.Client
		keyID  string
		reason string // "" = allowed
	}{
		{"key policy names account and identity policy allows", platform, tenantKeyARN, ""},
		{"no identity policy in the caller's account", nobody, tenantKeyARN, "because no identity-based policy allows the kms:Decrypt action"},
		{"key policy does not name the account", platform, ownKey, "because no resource-based policy allows the kms:Decrypt action"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := tt.c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"tenant": "42"}, KeyId: aws.String(tt.keyID)})
			if tt.keyID == ownKey {
				wantType[*types.IncorrectKeyException](t, err) // the blob is the tenant key's
				_, err = tt.c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(ownKey), Plaintext: []byte("x")})
				tt.reason = strings.ReplaceAll(tt.reason, "Decrypt", "Encrypt")
			}
			if tt.reason == "" {
				if err != nil {
					t.Fatalf("err = %v, want success", err)
				}
				return
			}
			wantCode(t, err, "AccessDeniedException")
			if !strings.HasSuffix(apiMessage(err), tt.reason) || !strings.HasPrefix(apiMessage(err), "User: arn:aws:iam::111111111111:user/") {
				t.Fatalf("message = %q, want it to end %q", apiMessage(err), tt.reason)
			}
		})
	}
	// Another account cannot reach a key by bare id or alias: those name the caller's own account.
	_, err := platform.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(tenantKey)})
	wantType[*types.NotFoundException](t, err)
}

func TestSameAccountAccess(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t, euWest1)
	// byok-access has an identity policy; the tenant key delegates to IAM.
	r := e.assume(t, euWest1, byokRole, "tenant-42")
	encrypt(t, e, r, tenantKey, nil)
	// open-role has no identity policy: root delegation alone is not enough...
	open := e.assume(t, euWest1, openRole, "")
	_, err := open.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(tenantKey), Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException")
	// ...but a key policy naming the role is, in the same account.
	k := createKey(t, e, admin, &kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"` + openRole + `"},"Action":"kms:Encrypt","Resource":"*",
	   "Condition":{"StringEquals":{"kms:CallerAccount":"222222222222"}}}]}`)})
	encrypt(t, e, open, *k.KeyId, nil)
	_, err = open.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: encrypt(t, e, admin, *k.KeyId, nil)})
	wantCode(t, err, "AccessDeniedException")
	// An explicit Deny in an identity policy beats the key policy's Allow.
	restricted := e.kms(t, euWest1, customerAcct, "restricted")
	blob := encrypt(t, e, restricted, tenantKey, nil)
	_, err = restricted.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantCode(t, err, "AccessDeniedException")
	if !strings.HasSuffix(apiMessage(err), "with an explicit deny in an identity-based policy") {
		t.Fatalf("message = %q", apiMessage(err))
	}
	// CreateKey is authorized by identity policies alone.
	_, err = open.CreateKey(e.ctx, &kms.CreateKeyInput{})
	wantCode(t, err, "AccessDeniedException")
}

func TestGrants(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t, euWest1)
	arn := *createKey(t, e, admin, nil).Arn
	platform := e.kms(t, euWest1, platformAcct, "nobody") // no identity policy at all
	ec := map[string]string{"tenant": "42"}
	_, err := platform.Encrypt(e.ctx, &kms.EncryptInput{KeyId: &arn, Plaintext: []byte("x"), EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException")

	g := must[*kms.CreateGrantOutput](t)(admin.CreateGrant(e.ctx, &kms.CreateGrantInput{
		KeyId: &arn, GranteePrincipal: aws.String("arn:aws:iam::111111111111:user/nobody"),
		RetiringPrincipal: aws.String("arn:aws:iam::111111111111:user/nobody"),
		Operations:        []types.GrantOperation{types.GrantOperationEncrypt, types.GrantOperationDecrypt},
		Constraints:       &types.GrantConstraints{EncryptionContextSubset: ec},
	}))
	blob := must[*kms.EncryptOutput](t)(platform.Encrypt(e.ctx, &kms.EncryptInput{KeyId: &arn, Plaintext: []byte("x"), EncryptionContext: ec})).CiphertextBlob
	must[*kms.DecryptOutput](t)(platform.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec}))
	_, err = platform.Encrypt(e.ctx, &kms.EncryptInput{KeyId: &arn, Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException") // the constraint needs tenant=42
	_, err = platform.GenerateDataKey(e.ctx, &kms.GenerateDataKeyInput{KeyId: &arn, KeySpec: types.DataKeySpecAes256, EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException") // not a granted operation

	list := must[*kms.ListGrantsOutput](t)(admin.ListGrants(e.ctx, &kms.ListGrantsInput{KeyId: &arn}))
	if len(list.Grants) != 1 || *list.Grants[0].GrantId != *g.GrantId || *list.Grants[0].IssuingAccount != "arn:aws:iam::222222222222:root" {
		t.Fatalf("ListGrants() = %+v", list.Grants)
	}
	must[*kms.RevokeGrantOutput](t)(admin.RevokeGrant(e.ctx, &kms.RevokeGrantInput{KeyId: &arn, GrantId: g.GrantId}))
	_, err = platform.Encrypt(e.ctx, &kms.EncryptInput{KeyId: &arn, Plaintext: []byte("x"), EncryptionContext: ec})
	wantCode(t, err, "AccessDeniedException")
	_, err = admin.RevokeGrant(e.ctx, &kms.RevokeGrantInput{KeyId: &arn, GrantId: g.GrantId})
	wantType[*types.NotFoundException](t, err)

	g2 := must[*kms.CreateGrantOutput](t)(admin.CreateGrant(e.ctx, &kms.CreateGrantInput{
		KeyId: &arn, GranteePrincipal: aws.String("arn:aws:iam::111111111111:user/nobody"),
		RetiringPrincipal: aws.String("arn:aws:iam::111111111111:user/nobody"),
		Operations:        []types.GrantOperation{types.GrantOperationDescribeKey},
	}))
	must[*kms.DescribeKeyOutput](t)(platform.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: &arn}))
	must[*kms.RetireGrantOutput](t)(platform.RetireGrant(e.ctx, &kms.RetireGrantInput{GrantToken: g2.GrantToken}))
	_, err = platform.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: &arn})
	wantCode(t, err, "AccessDeniedException")
	_, err = platform.RetireGrant(e.ctx, &kms.RetireGrantInput{GrantToken: g2.GrantToken})
	wantType[*types.InvalidGrantTokenException](t, err)
	_, err = admin.CreateGrant(e.ctx, &kms.CreateGrantInput{KeyId: &arn, GranteePrincipal: aws.String("bob"), Operations: []types.GrantOperation{"Decrypt"}})
	wantCode(t, err, "ValidationException")
}

// A platform may create grants on a customer key only for AWS resources; the
// emulator's callers are never AWS services, so kms:GrantIsForAWSResource is false.
func TestGrantIsForAWSResource(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t, euWest1)
	k := createKey(t, e, admin, &kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:CreateGrant","Resource":"*",
	   "Condition":{"Bool":{"kms:GrantIsForAWSResource":"true"}}}]}`)})
	platform := e.kms(t, euWest1, platformAcct, "platform")
	in := &kms.CreateGrantInput{KeyId: k.Arn, GranteePrincipal: aws.String("arn:aws:iam::111111111111:user/platform"), Operations: []types.GrantOperation{"Decrypt"}}
	_, err := platform.CreateGrant(e.ctx, in)
	wantCode(t, err, "AccessDeniedException")
	// Without the condition the same statement allows it.
	k2 := createKey(t, e, admin, &kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"kms:CreateGrant","Resource":"*"}]}`),
		BypassPolicyLockoutSafetyCheck: true})
	in.KeyId = k2.Arn
	must[*kms.CreateGrantOutput](t)(platform.CreateGrant(e.ctx, in))
}
