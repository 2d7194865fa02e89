package awsemu_test

import (
	"bytes"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

func TestSmoke(t *testing.T) {
	e := newEnv(t)
	id, err := e.sts(t, euWest1, platformAcct, "platform").GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})
	if err != nil {
		t.Fatal(err)
	}
	if *id.Arn != "arn:aws:iam::111111111111:user/platform" || *id.Account != platformAcct {
		t.Fatalf("GetCallerIdentity() = %s %s", *id.Arn, *id.Account)
	}
	c := e.admin(t, euWest1)
	k, err := c.CreateKey(e.ctx, &kms.CreateKeyInput{Description: aws.String("x")})
	if err != nil {
		t.Fatal(err)
	}
	enc, err := c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: k.KeyMetadata.KeyId, Plaintext: []byte("hi"), EncryptionContext: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	dec, err := c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"a": "b"}})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(dec.Plaintext, []byte("hi")) {
		t.Fatalf("Decrypt() = %q", dec.Plaintext)
	}
	_, err = c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob})
	wantCode(t, err, "InvalidCiphertextException")
	r := e.assume(t, euWest1, "arn:aws:iam::222222222222:role/byok-access", "tenant-42")
	if _, err := r.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String("arn:aws:kms:eu-west-1:222222222222:alias/tenant-42")}); err != nil {
		t.Fatal(err)
	}
}
