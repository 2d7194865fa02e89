package awsemu_test

import (
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// tenantKeyPolicy lets the platform account use a key for the cryptographic
// operations under one condition operator on kms:EncryptionContext:byok:tenant
// (written as conditionKey, to test its case), as a bring-your-own-key key
// policy binds a key to one tenant.
func tenantKeyPolicy(operator, conditionKey string) string {
	return `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},
	   "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*"],"Resource":"*",
	   "Condition":{"` + operator + `":{"` + conditionKey + `":"tenant-a"}}}]}`
}

func tenantCtx(id string) map[string]string {
	return map[string]string{"byok:tenant": id, "byok:key-version": "1", "byok:purpose": "tenant-key"}
}

// wantDenied fails unless err is an AccessDeniedException naming action.
func wantDenied(t *testing.T, err error, action string) {
	t.Helper()
	wantCode(t, err, "AccessDeniedException")
	if msg := apiMessage(err); !strings.Contains(msg, "perform: "+action+" ") {
		t.Fatalf("denial message %q does not name %s", msg, action)
	}
}

// kms:EncryptionContext:<key> is evaluated against the context of each
// operation: Encrypt, GenerateDataKey and GenerateDataKeyWithoutPlaintext
// against EncryptionContext; Decrypt before the ciphertext is opened, so a
// wrong context is a denial, not InvalidCiphertextException; ReEncrypt's
// kms:ReEncryptFrom against SourceEncryptionContext and kms:ReEncryptTo
// against DestinationEncryptionContext. The condition key's name is matched
// case-insensitively, as KMS documents.
func TestEncryptionContextCondition(t *testing.T) {
	for _, conditionKey := range []string{"kms:EncryptionContext:byok:tenant", "KMS:encryptioncontext:BYOK:Tenant"} {
		t.Run(conditionKey, func(t *testing.T) {
			e := newEnv(t)
			admin := e.admin(t, euWest1)
			id := createKey(t, e, admin, &kms.CreateKeyInput{Policy: aws.String(tenantKeyPolicy("StringEquals", conditionKey))}).Arn
			p := e.kms(t, euWest1, platformAcct, "platform")
			a, b := tenantCtx("tenant-a"), tenantCtx("tenant-b")

			blob := encrypt(t, e, p, *id, a)
			_, err := p.Encrypt(e.ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x"), EncryptionContext: b})
			wantDenied(t, err, "kms:Encrypt")
			_, err = p.Encrypt(e.ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x")})
			wantDenied(t, err, "kms:Encrypt")

			must[*kms.GenerateDataKeyOutput](t)(p.GenerateDataKey(e.ctx, &kms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256, EncryptionContext: a}))
			_, err = p.GenerateDataKey(e.ctx, &kms.GenerateDataKeyInput{KeyId: id, KeySpec: types.DataKeySpecAes256, EncryptionContext: b})
			wantDenied(t, err, "kms:GenerateDataKey")
			_, err = p.GenerateDataKeyWithoutPlaintext(e.ctx, &kms.GenerateDataKeyWithoutPlaintextInput{KeyId: id, KeySpec: types.DataKeySpecAes256, EncryptionContext: b})
			wantDenied(t, err, "kms:GenerateDataKeyWithoutPlaintext")

			must[*kms.DecryptOutput](t)(p.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: a}))
			_, err = p.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: b})
			wantDenied(t, err, "kms:Decrypt")

			reEncrypt := func(src, dst map[string]string) error {
				_, err := p.ReEncrypt(e.ctx, &kms.ReEncryptInput{CiphertextBlob: blob, SourceKeyId: id, DestinationKeyId: id,
					SourceEncryptionContext: src, DestinationEncryptionContext: dst})
				return err
			}
			if err := reEncrypt(a, a); err != nil {
				t.Fatalf("ReEncrypt(tenant-a to tenant-a) err = %v", err)
			}
			wantDenied(t, reEncrypt(a, b), "kms:ReEncryptTo")
			wantDenied(t, reEncrypt(b, a), "kms:ReEncryptFrom")
		})
	}
}

// KMS takes no encryption context with an asymmetric key, so the condition
// key is absent there: StringEquals refuses every RSA Decrypt, and
// StringEqualsIfExists always holds. On a symmetric key IfExists lets a call
// without context through, and still refuses another tenant's.
func TestEncryptionContextConditionIfExists(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t, euWest1)
	p := e.kms(t, euWest1, platformAcct, "platform")
	rsaKey := func(operator string) *string {
		return createKey(t, e, admin, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048, KeyUsage: types.KeyUsageTypeEncryptDecrypt,
			Policy: aws.String(tenantKeyPolicy(operator, "kms:EncryptionContext:byok:tenant"))}).Arn
	}
	rsaDecrypt := func(id *string) error {
		blob := must[*kms.EncryptOutput](t)(admin.Encrypt(e.ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x"),
			EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})).CiphertextBlob
		_, err := p.Decrypt(e.ctx, &kms.DecryptInput{KeyId: id, CiphertextBlob: blob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
		return err
	}
	wantDenied(t, rsaDecrypt(rsaKey("StringEquals")), "kms:Decrypt")
	if err := rsaDecrypt(rsaKey("StringEqualsIfExists")); err != nil {
		t.Fatalf("RSA Decrypt under StringEqualsIfExists err = %v", err)
	}

	sym := createKey(t, e, admin, &kms.CreateKeyInput{Policy: aws.String(tenantKeyPolicy("StringEqualsIfExists", "kms:EncryptionContext:byok:tenant"))}).Arn
	encrypt(t, e, p, *sym, nil)
	encrypt(t, e, p, *sym, tenantCtx("tenant-a"))
	_, err := p.Encrypt(e.ctx, &kms.EncryptInput{KeyId: sym, Plaintext: []byte("x"), EncryptionContext: tenantCtx("tenant-b")})
	wantDenied(t, err, "kms:Encrypt")
}
