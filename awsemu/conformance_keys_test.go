package awsemu_test

import (
	"bytes"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

const day = 24 * time.Hour

func describe(t *testing.T, e *env, c *kms.Client, id string) *types.KeyMetadata {
	t.Helper()
	out, err := c.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(id)})
	if err != nil {
		t.Fatalf("DescribeKey(%s) err = %v", id, err)
	}
	return out.KeyMetadata
}

func encrypt(t *testing.T, e *env, c *kms.Client, id string, ec map[string]string) []byte {
	t.Helper()
	out, err := c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(id), Plaintext: []byte("secret"), EncryptionContext: ec})
	if err != nil {
		t.Fatalf("Encrypt(%s) err = %v", id, err)
	}
	return out.CiphertextBlob
}

func createKey(t *testing.T, e *env, c *kms.Client, in *kms.CreateKeyInput) *types.KeyMetadata {
	t.Helper()
	if in == nil {
		in = &kms.CreateKeyInput{}
	}
	out, err := c.CreateKey(e.ctx, in)
	if err != nil {
		t.Fatalf("CreateKey() err = %v", err)
	}
	return out.KeyMetadata
}

func TestCreateDescribeListKeys(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	md := createKey(t, e, c, &kms.CreateKeyInput{Description: aws.String("d"), Tags: []types.Tag{{TagKey: aws.String("env"), TagValue: aws.String("test")}}})
	if md.KeyState != types.KeyStateEnabled || !md.Enabled || md.KeySpec != types.KeySpecSymmetricDefault ||
		md.KeyUsage != types.KeyUsageTypeEncryptDecrypt || *md.AWSAccountId != customerAcct || md.MultiRegion == nil || *md.MultiRegion {
		t.Fatalf("CreateKey() metadata = %+v", md)
	}
	if want := "arn:aws:kms:eu-west-1:222222222222:key/" + *md.KeyId; *md.Arn != want || len(*md.KeyId) != 36 {
		t.Fatalf("Arn = %s, want %s", *md.Arn, want)
	}
	if md.CreationDate == nil || time.Since(*md.CreationDate) > time.Minute {
		t.Fatalf("CreationDate = %v", md.CreationDate)
	}
	for _, ref := range []string{*md.KeyId, *md.Arn} {
		if got := describe(t, e, c, ref); *got.Arn != *md.Arn || *got.Description != "d" {
			t.Fatalf("DescribeKey(%s) = %s %q", ref, *got.Arn, *got.Description)
		}
	}
	for _, ref := range []string{"alias/tenant-42", "arn:aws:kms:eu-west-1:222222222222:alias/tenant-42"} {
		if got := describe(t, e, c, ref); *got.KeyId != tenantKey {
			t.Fatalf("DescribeKey(%s) = %s, want %s", ref, *got.KeyId, tenantKey)
		}
	}
	// Three keys in eu-west-1 now; page through them two at a time.
	var ids []string
	p := kms.NewListKeysPaginator(c, &kms.ListKeysInput{Limit: aws.Int32(2)})
	for p.HasMorePages() {
		out, err := p.NextPage(e.ctx)
		if err != nil {
			t.Fatalf("ListKeys() err = %v", err)
		}
		for _, k := range out.Keys {
			ids = append(ids, *k.KeyId)
		}
	}
	if len(ids) != 3 {
		t.Fatalf("ListKeys() = %v, want 3 keys", ids)
	}
	_, err := c.ListKeys(e.ctx, &kms.ListKeysInput{Marker: aws.String("bogus")})
	wantType[*types.InvalidMarkerException](t, err)
	other := must[*kms.ListKeysOutput](t)(e.admin(t, usEast1).ListKeys(e.ctx, &kms.ListKeysInput{}))
	if len(other.Keys) != 1 || *other.Keys[0].KeyId != mrkKey {
		t.Fatalf("ListKeys(us-east-1) = %v, want the replica only", other.Keys)
	}
}

func TestKeyNotFound(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	for _, ref := range []string{
		"11111111-2222-4333-8444-555555555555",
		"arn:aws:kms:eu-west-1:222222222222:key/11111111-2222-4333-8444-555555555555",
		"alias/none",
		"arn:aws:kms:us-east-1:222222222222:key/" + tenantKey, // ARN of another region
	} {
		_, err := c.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(ref)})
		wantType[*types.NotFoundException](t, err)
	}
	// Key management operations take no aliases.
	_, err := c.DisableKey(e.ctx, &kms.DisableKeyInput{KeyId: aws.String("alias/tenant-42")})
	wantType[*types.NotFoundException](t, err)
}

func TestKeyStateTransitions(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	id := *createKey(t, e, c, nil).KeyId
	blob := encrypt(t, e, c, id, nil)
	wantState := func(want types.KeyState) {
		t.Helper()
		if got := describe(t, e, c, id).KeyState; got != want {
			t.Fatalf("KeyState = %s, want %s", got, want)
		}
	}

	must[*kms.DisableKeyOutput](t)(c.DisableKey(e.ctx, &kms.DisableKeyInput{KeyId: &id}))
	wantState(types.KeyStateDisabled)
	_, err := c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: &id, Plaintext: []byte("x")})
	wantType[*types.DisabledException](t, err)
	_, err = c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantType[*types.DisabledException](t, err)

	must[*kms.EnableKeyOutput](t)(c.EnableKey(e.ctx, &kms.EnableKeyInput{KeyId: &id}))
	wantState(types.KeyStateEnabled)

	_, err = c.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(6)})
	wantCode(t, err, "ValidationException")
	_, err = c.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(31)})
	wantCode(t, err, "ValidationException")
	sd := must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(7)}))
	if sd.KeyState != types.KeyStatePendingDeletion || *sd.PendingWindowInDays != 7 || sd.DeletionDate.Sub(e.ts.Now()) < 7*day-time.Minute {
		t.Fatalf("ScheduleKeyDeletion() = %s %d %v", sd.KeyState, *sd.PendingWindowInDays, sd.DeletionDate)
	}
	wantState(types.KeyStatePendingDeletion)
	_, err = c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantType[*types.KMSInvalidStateException](t, err)
	_, err = c.EnableKey(e.ctx, &kms.EnableKeyInput{KeyId: &id})
	wantType[*types.KMSInvalidStateException](t, err)
	_, err = c.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id})
	wantType[*types.KMSInvalidStateException](t, err)

	must[*kms.CancelKeyDeletionOutput](t)(c.CancelKeyDeletion(e.ctx, &kms.CancelKeyDeletionInput{KeyId: &id}))
	wantState(types.KeyStateDisabled) // as on AWS, a cancelled key comes back disabled
	_, err = c.CancelKeyDeletion(e.ctx, &kms.CancelKeyDeletionInput{KeyId: &id})
	wantType[*types.KMSInvalidStateException](t, err)

	must[*kms.ScheduleKeyDeletionOutput](t)(c.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: &id, PendingWindowInDays: aws.Int32(7)}))
	e.ts.Advance(6 * day)
	wantState(types.KeyStatePendingDeletion)
	e.ts.Advance(day + time.Minute)
	_, err = c.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: &id})
	wantType[*types.NotFoundException](t, err)
	_, err = c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob})
	wantType[*types.NotFoundException](t, err)
}

func TestCryptoOperations(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	ec := map[string]string{"tenant": "42"}
	blob := encrypt(t, e, c, "alias/tenant-42", ec)

	dec := must[*kms.DecryptOutput](t)(c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec}))
	if string(dec.Plaintext) != "secret" || *dec.KeyId != "arn:aws:kms:eu-west-1:222222222222:key/"+tenantKey || dec.EncryptionAlgorithm != types.EncryptionAlgorithmSpecSymmetricDefault {
		t.Fatalf("Decrypt() = %q %s %s", dec.Plaintext, *dec.KeyId, dec.EncryptionAlgorithm)
	}
	for _, ref := range []string{tenantKey, "alias/tenant-42"} {
		if _, err := c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: aws.String(ref)}); err != nil {
			t.Fatalf("Decrypt(KeyId %s) err = %v", ref, err)
		}
	}
	other := *createKey(t, e, c, nil).KeyId
	_, err := c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: ec, KeyId: &other})
	wantType[*types.IncorrectKeyException](t, err)

	for name, in := range map[string]*kms.DecryptInput{
		"no context":     {CiphertextBlob: blob},
		"other context":  {CiphertextBlob: blob, EncryptionContext: map[string]string{"tenant": "43"}},
		"extra context":  {CiphertextBlob: blob, EncryptionContext: map[string]string{"tenant": "42", "x": "y"}},
		"flipped bit":    {CiphertextBlob: flip(blob, len(blob)-1), EncryptionContext: ec},
		"truncated":      {CiphertextBlob: blob[:len(blob)-1], EncryptionContext: ec},
		"not a blob":     {CiphertextBlob: []byte("garbage")},
		"flipped header": {CiphertextBlob: flip(blob, 0), EncryptionContext: ec},
	} {
		_, err := c.Decrypt(e.ctx, in)
		if name == "flipped header" {
			wantType[*types.InvalidCiphertextException](t, err)
			continue
		}
		if err == nil {
			t.Fatalf("Decrypt(%s) err = nil, want InvalidCiphertextException", name)
		}
		wantType[*types.InvalidCiphertextException](t, err)
	}

	_, err = c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(tenantKey), Plaintext: make([]byte, 4097)})
	wantCode(t, err, "ValidationException")
	if _, err := c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(tenantKey), Plaintext: make([]byte, 4096)}); err != nil {
		t.Fatalf("Encrypt(4096 bytes) err = %v", err)
	}
	_, err = c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(tenantKey), Plaintext: []byte("x"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantType[*types.InvalidKeyUsageException](t, err)

	re := must[*kms.ReEncryptOutput](t)(c.ReEncrypt(e.ctx, &kms.ReEncryptInput{
		CiphertextBlob: blob, SourceEncryptionContext: ec, DestinationKeyId: &other,
		DestinationEncryptionContext: map[string]string{"v": "2"},
	}))
	if *re.SourceKeyId != "arn:aws:kms:eu-west-1:222222222222:key/"+tenantKey || *re.KeyId != "arn:aws:kms:eu-west-1:222222222222:key/"+other {
		t.Fatalf("ReEncrypt() = %s -> %s", *re.SourceKeyId, *re.KeyId)
	}
	dec = must[*kms.DecryptOutput](t)(c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: re.CiphertextBlob, EncryptionContext: map[string]string{"v": "2"}}))
	if string(dec.Plaintext) != "secret" {
		t.Fatalf("Decrypt(ReEncrypt()) = %q", dec.Plaintext)
	}
}

func flip(b []byte, i int) []byte {
	out := bytes.Clone(b)
	out[i] ^= 1
	return out
}

func TestGenerateDataKey(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	ec := map[string]string{"purpose": "tk"}
	dk := must[*kms.GenerateDataKeyOutput](t)(c.GenerateDataKey(e.ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(tenantKey), KeySpec: types.DataKeySpecAes256, EncryptionContext: ec}))
	if len(dk.Plaintext) != 32 {
		t.Fatalf("GenerateDataKey() plaintext is %d bytes, want 32", len(dk.Plaintext))
	}
	dec := must[*kms.DecryptOutput](t)(c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: dk.CiphertextBlob, EncryptionContext: ec}))
	if !bytes.Equal(dec.Plaintext, dk.Plaintext) {
		t.Fatal("Decrypt(GenerateDataKey()) differs from its plaintext")
	}
	dk16 := must[*kms.GenerateDataKeyOutput](t)(c.GenerateDataKey(e.ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(tenantKey), KeySpec: types.DataKeySpecAes128}))
	dk7 := must[*kms.GenerateDataKeyOutput](t)(c.GenerateDataKey(e.ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(tenantKey), NumberOfBytes: aws.Int32(7)}))
	if len(dk16.Plaintext) != 16 || len(dk7.Plaintext) != 7 {
		t.Fatalf("data key sizes = %d, %d, want 16, 7", len(dk16.Plaintext), len(dk7.Plaintext))
	}
	for name, in := range map[string]*kms.GenerateDataKeyInput{
		"both":     {KeyId: aws.String(tenantKey), KeySpec: types.DataKeySpecAes256, NumberOfBytes: aws.Int32(32)},
		"neither":  {KeyId: aws.String(tenantKey)},
		"too many": {KeyId: aws.String(tenantKey), NumberOfBytes: aws.Int32(1025)},
	} {
		_, err := c.GenerateDataKey(e.ctx, in)
		if err == nil {
			t.Fatalf("GenerateDataKey(%s) err = nil", name)
		}
		wantCode(t, err, "ValidationException")
	}
	wp := must[*kms.GenerateDataKeyWithoutPlaintextOutput](t)(c.GenerateDataKeyWithoutPlaintext(e.ctx, &kms.GenerateDataKeyWithoutPlaintextInput{
		KeyId: aws.String("alias/tenant-42"), KeySpec: types.DataKeySpecAes256,
	}))
	dec = must[*kms.DecryptOutput](t)(c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: wp.CiphertextBlob}))
	if len(dec.Plaintext) != 32 {
		t.Fatalf("Decrypt(GenerateDataKeyWithoutPlaintext()) is %d bytes", len(dec.Plaintext))
	}
}
