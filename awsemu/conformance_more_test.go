package awsemu_test

import (
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha1"
	"crypto/sha256"
	"crypto/x509"
	"hash"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

func TestRotation(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	id := *createKey(t, e, c, nil).KeyId
	st := must[*kms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(e.ctx, &kms.GetKeyRotationStatusInput{KeyId: &id}))
	if st.KeyRotationEnabled {
		t.Fatal("new key has rotation enabled")
	}
	_, err := c.EnableKeyRotation(e.ctx, &kms.EnableKeyRotationInput{KeyId: &id, RotationPeriodInDays: aws.Int32(89)})
	wantCode(t, err, "ValidationException")
	must[*kms.EnableKeyRotationOutput](t)(c.EnableKeyRotation(e.ctx, &kms.EnableKeyRotationInput{KeyId: &id, RotationPeriodInDays: aws.Int32(90)}))
	st = must[*kms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(e.ctx, &kms.GetKeyRotationStatusInput{KeyId: &id}))
	if !st.KeyRotationEnabled || *st.RotationPeriodInDays != 90 || st.NextRotationDate.Sub(e.ts.Now()) < 89*day {
		t.Fatalf("GetKeyRotationStatus() = %v %v %v", st.KeyRotationEnabled, st.RotationPeriodInDays, st.NextRotationDate)
	}
	before := encrypt(t, e, c, id, nil)
	must[*kms.RotateKeyOnDemandOutput](t)(c.RotateKeyOnDemand(e.ctx, &kms.RotateKeyOnDemandInput{KeyId: &id}))
	after := encrypt(t, e, c, id, nil)
	e.ts.Advance(91 * day)
	automatic := encrypt(t, e, c, id, nil)
	rot := must[*kms.ListKeyRotationsOutput](t)(c.ListKeyRotations(e.ctx, &kms.ListKeyRotationsInput{KeyId: &id}))
	var kinds []types.RotationType
	for _, r := range rot.Rotations {
		kinds = append(kinds, r.RotationType)
	}
	if !slices.Equal(kinds, []types.RotationType{types.RotationTypeOnDemand, types.RotationTypeAutomatic}) {
		t.Fatalf("ListKeyRotations() = %v, want [ON_DEMAND AUTOMATIC]", kinds)
	}
	for i, blob := range [][]byte{before, after, automatic} {
		if _, err := c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob}); err != nil {
			t.Fatalf("Decrypt(ciphertext %d) after rotations err = %v", i, err)
		}
	}
	must[*kms.DisableKeyRotationOutput](t)(c.DisableKeyRotation(e.ctx, &kms.DisableKeyRotationInput{KeyId: &id}))
	st = must[*kms.GetKeyRotationStatusOutput](t)(c.GetKeyRotationStatus(e.ctx, &kms.GetKeyRotationStatusInput{KeyId: &id}))
	if st.KeyRotationEnabled {
		t.Fatal("rotation still enabled after DisableKeyRotation")
	}
}

func TestMultiRegionKeys(t *testing.T) {
	e := newEnv(t)
	eu, us := e.admin(t, euWest1), e.admin(t, usEast1)
	md := describe(t, e, eu, mrkKey)
	cfg := md.MultiRegionConfiguration
	if !*md.MultiRegion || cfg.MultiRegionKeyType != types.MultiRegionKeyTypePrimary || len(cfg.ReplicaKeys) != 1 || *cfg.ReplicaKeys[0].Region != usEast1 {
		t.Fatalf("DescribeKey(primary) = %+v", cfg)
	}
	if got := describe(t, e, us, mrkKey).MultiRegionConfiguration.MultiRegionKeyType; got != types.MultiRegionKeyTypeReplica {
		t.Fatalf("replica type = %s", got)
	}
	blob := encrypt(t, e, eu, mrkKey, map[string]string{"a": "b"})
	dec := must[*kms.DecryptOutput](t)(us.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: blob, EncryptionContext: map[string]string{"a": "b"}}))
	if *dec.KeyId != "arn:aws:kms:us-east-1:222222222222:key/"+mrkKey {
		t.Fatalf("Decrypt at replica KeyId = %s", *dec.KeyId)
	}

	// A new multi-Region key, replicated through the API.
	nk := createKey(t, e, eu, &kms.CreateKeyInput{MultiRegion: aws.Bool(true)})
	if (*nk.KeyId)[:4] != "mrk-" {
		t.Fatalf("multi-Region key id = %s", *nk.KeyId)
	}
	rep := must[*kms.ReplicateKeyOutput](t)(eu.ReplicateKey(e.ctx, &kms.ReplicateKeyInput{KeyId: nk.KeyId, ReplicaRegion: aws.String(usEast1)}))
	if *rep.ReplicaKeyMetadata.Arn != "arn:aws:kms:us-east-1:222222222222:key/"+*nk.KeyId {
		t.Fatalf("ReplicateKey() = %s", *rep.ReplicaKeyMetadata.Arn)
	}
	_, err := eu.ReplicateKey(e.ctx, &kms.ReplicateKeyInput{KeyId: nk.KeyId, ReplicaRegion: aws.String(usEast1)})
	wantType[*types.AlreadyExistsException](t, err)
	_, err = eu.ReplicateKey(e.ctx, &kms.ReplicateKeyInput{KeyId: aws.String(tenantKey), ReplicaRegion: aws.String(usEast1)})
	wantType[*types.UnsupportedOperationException](t, err)
	usBlob := encrypt(t, e, us, *nk.KeyId, nil)
	if _, err := eu.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: usBlob}); err != nil {
		t.Fatalf("Decrypt at primary of replica ciphertext err = %v", err)
	}

	must[*kms.UpdatePrimaryRegionOutput](t)(eu.UpdatePrimaryRegion(e.ctx, &kms.UpdatePrimaryRegionInput{KeyId: nk.KeyId, PrimaryRegion: aws.String(usEast1)}))
	if got := describe(t, e, us, *nk.KeyId).MultiRegionConfiguration.MultiRegionKeyType; got != types.MultiRegionKeyTypePrimary {
		t.Fatalf("after UpdatePrimaryRegion us-east-1 is %s", got)
	}
	_, err = eu.EnableKeyRotation(e.ctx, &kms.EnableKeyRotationInput{KeyId: nk.KeyId})
	wantType[*types.UnsupportedOperationException](t, err) // eu-west-1 is now a replica

	// A single-Region key's ciphertext does not open in another region.
	single := encrypt(t, e, eu, tenantKey, nil)
	_, err = us.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: single})
	wantType[*types.NotFoundException](t, err)
}

func TestMultiRegionDeletion(t *testing.T) {
	e := newEnv(t)
	eu, us := e.admin(t, euWest1), e.admin(t, usEast1)
	sd := must[*kms.ScheduleKeyDeletionOutput](t)(eu.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(mrkKey), PendingWindowInDays: aws.Int32(7)}))
	if sd.KeyState != types.KeyStatePendingReplicaDeletion {
		t.Fatalf("primary with replicas: KeyState = %s, want PendingReplicaDeletion", sd.KeyState)
	}
	_, err := eu.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(mrkKey), Plaintext: []byte("x")})
	wantType[*types.KMSInvalidStateException](t, err)
	must[*kms.ScheduleKeyDeletionOutput](t)(us.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(mrkKey), PendingWindowInDays: aws.Int32(7)}))
	e.ts.Advance(7*day + time.Minute)
	_, err = us.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(mrkKey)})
	wantType[*types.NotFoundException](t, err)
	if got := describe(t, e, eu, mrkKey).KeyState; got != types.KeyStatePendingDeletion {
		t.Fatalf("primary after replica deletion: KeyState = %s, want PendingDeletion", got)
	}
	e.ts.Advance(7*day + time.Minute)
	_, err = eu.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(mrkKey)})
	wantType[*types.NotFoundException](t, err)
}

func TestRSAKeys(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	specs := []types.KeySpec{types.KeySpecRsa2048, types.KeySpecRsa3072}
	if !testing.Short() {
		specs = append(specs, types.KeySpecRsa4096)
	}
	for _, spec := range specs {
		md := createKey(t, e, c, &kms.CreateKeyInput{KeySpec: spec, KeyUsage: types.KeyUsageTypeEncryptDecrypt})
		if md.KeySpec != spec || !slices.Contains(md.EncryptionAlgorithms, types.EncryptionAlgorithmSpecRsaesOaepSha256) {
			t.Fatalf("CreateKey(%s) = %+v", spec, md)
		}
		pk := must[*kms.GetPublicKeyOutput](t)(c.GetPublicKey(e.ctx, &kms.GetPublicKeyInput{KeyId: md.KeyId}))
		pub, err := x509.ParsePKIXPublicKey(pk.PublicKey)
		if err != nil {
			t.Fatalf("GetPublicKey() is not a SubjectPublicKeyInfo: %v", err)
		}
		for _, alg := range []types.EncryptionAlgorithmSpec{types.EncryptionAlgorithmSpecRsaesOaepSha1, types.EncryptionAlgorithmSpecRsaesOaepSha256} {
			local, err := rsa.EncryptOAEP(oaepHash(alg), rand.Reader, pub.(*rsa.PublicKey), []byte("made locally"), nil)
			if err != nil {
				t.Fatal(err)
			}
			dec := must[*kms.DecryptOutput](t)(c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: local, KeyId: md.KeyId, EncryptionAlgorithm: alg}))
			if string(dec.Plaintext) != "made locally" || dec.EncryptionAlgorithm != alg {
				t.Fatalf("Decrypt(%s, %s) = %q", spec, alg, dec.Plaintext)
			}
		}
	}
	md := createKey(t, e, c, &kms.CreateKeyInput{KeySpec: types.KeySpecRsa2048})
	enc := must[*kms.EncryptOutput](t)(c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("p"), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256}))
	_, err := c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantCode(t, err, "ValidationException") // asymmetric decrypt needs the KeyId
	_, err = c.Decrypt(e.ctx, &kms.DecryptInput{CiphertextBlob: enc.CiphertextBlob, KeyId: md.KeyId, EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha1})
	wantType[*types.InvalidCiphertextException](t, err)
	_, err = c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: make([]byte, 191), EncryptionAlgorithm: types.EncryptionAlgorithmSpecRsaesOaepSha256})
	wantCode(t, err, "ValidationException") // 190 bytes is the OAEP-SHA-256 limit of RSA_2048
	_, err = c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: md.KeyId, Plaintext: []byte("p")})
	wantType[*types.InvalidKeyUsageException](t, err)
	_, err = c.GenerateDataKey(e.ctx, &kms.GenerateDataKeyInput{KeyId: md.KeyId, KeySpec: types.DataKeySpecAes256})
	wantType[*types.InvalidKeyUsageException](t, err)
	_, err = c.GetPublicKey(e.ctx, &kms.GetPublicKeyInput{KeyId: aws.String(tenantKey)})
	wantType[*types.UnsupportedOperationException](t, err)
	_, err = c.EnableKeyRotation(e.ctx, &kms.EnableKeyRotationInput{KeyId: md.KeyId})
	wantType[*types.UnsupportedOperationException](t, err)
}

func oaepHash(alg types.EncryptionAlgorithmSpec) hash.Hash {
	if alg == types.EncryptionAlgorithmSpecRsaesOaepSha1 {
		return sha1.New()
	}
	return sha256.New()
}

func TestAliases(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	a, b := *createKey(t, e, c, nil).KeyId, *createKey(t, e, c, nil).KeyId
	must[*kms.CreateAliasOutput](t)(c.CreateAlias(e.ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: &a}))
	_, err := c.CreateAlias(e.ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: &b})
	wantType[*types.AlreadyExistsException](t, err)
	_, err = c.CreateAlias(e.ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/aws/ebs"), TargetKeyId: &b})
	wantType[*types.InvalidAliasNameException](t, err)
	_, err = c.CreateAlias(e.ctx, &kms.CreateAliasInput{AliasName: aws.String("app"), TargetKeyId: &b})
	wantCode(t, err, "ValidationException")
	if got := *describe(t, e, c, "alias/app").KeyId; got != a {
		t.Fatalf("alias/app -> %s, want %s", got, a)
	}
	must[*kms.UpdateAliasOutput](t)(c.UpdateAlias(e.ctx, &kms.UpdateAliasInput{AliasName: aws.String("alias/app"), TargetKeyId: &b}))
	if got := *describe(t, e, c, "arn:aws:kms:eu-west-1:222222222222:alias/app").KeyId; got != b {
		t.Fatalf("after UpdateAlias alias/app -> %s, want %s", got, b)
	}
	all := must[*kms.ListAliasesOutput](t)(c.ListAliases(e.ctx, &kms.ListAliasesInput{}))
	byKey := must[*kms.ListAliasesOutput](t)(c.ListAliases(e.ctx, &kms.ListAliasesInput{KeyId: &b}))
	if len(all.Aliases) != 2 || len(byKey.Aliases) != 1 || *byKey.Aliases[0].AliasArn != "arn:aws:kms:eu-west-1:222222222222:alias/app" {
		t.Fatalf("ListAliases() = %d aliases, by key %v", len(all.Aliases), byKey.Aliases)
	}
	must[*kms.DeleteAliasOutput](t)(c.DeleteAlias(e.ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")}))
	_, err = c.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/app")})
	wantType[*types.NotFoundException](t, err)
	_, err = c.DeleteAlias(e.ctx, &kms.DeleteAliasInput{AliasName: aws.String("alias/app")})
	wantType[*types.NotFoundException](t, err)
	// Aliases are per region: the same name resolves to nothing elsewhere.
	_, err = e.admin(t, usEast1).DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String("alias/tenant-42")})
	wantType[*types.NotFoundException](t, err)
}

func TestTags(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	id := createKey(t, e, c, &kms.CreateKeyInput{Tags: []types.Tag{{TagKey: aws.String("a"), TagValue: aws.String("1")}}}).KeyId
	must[*kms.TagResourceOutput](t)(c.TagResource(e.ctx, &kms.TagResourceInput{KeyId: id, Tags: []types.Tag{{TagKey: aws.String("b"), TagValue: aws.String("2")}}}))
	must[*kms.UntagResourceOutput](t)(c.UntagResource(e.ctx, &kms.UntagResourceInput{KeyId: id, TagKeys: []string{"a"}}))
	out := must[*kms.ListResourceTagsOutput](t)(c.ListResourceTags(e.ctx, &kms.ListResourceTagsInput{KeyId: id}))
	if len(out.Tags) != 1 || *out.Tags[0].TagKey != "b" || *out.Tags[0].TagValue != "2" {
		t.Fatalf("ListResourceTags() = %v", out.Tags)
	}
	_, err := c.TagResource(e.ctx, &kms.TagResourceInput{KeyId: id, Tags: []types.Tag{{TagKey: aws.String(""), TagValue: aws.String("x")}}})
	wantType[*types.TagException](t, err)
}

func TestKeyPolicies(t *testing.T) {
	e := newEnv(t)
	c := e.admin(t, euWest1)
	id := createKey(t, e, c, nil).KeyId
	pol := must[*kms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(e.ctx, &kms.GetKeyPolicyInput{KeyId: id}))
	if *pol.PolicyName != "default" || !slices.Contains([]byte(*pol.Policy), '{') {
		t.Fatalf("GetKeyPolicy() = %s %s", *pol.PolicyName, *pol.Policy)
	}
	_, err := c.PutKeyPolicy(e.ctx, &kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(`{"Version":"2012-10-17","Statement":[{"Effect":"Allow"}]}`)})
	wantType[*types.MalformedPolicyDocumentException](t, err)
	_, err = c.CreateKey(e.ctx, &kms.CreateKeyInput{Policy: aws.String("not json")})
	wantType[*types.MalformedPolicyDocumentException](t, err)
	_, err = c.GetKeyPolicy(e.ctx, &kms.GetKeyPolicyInput{KeyId: id, PolicyName: aws.String("other")})
	wantType[*types.NotFoundException](t, err)
	deny := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*","Condition":{"StringNotEquals":{"kms:EncryptionContext:tenant":"42"}}}]}`
	must[*kms.PutKeyPolicyOutput](t)(c.PutKeyPolicy(e.ctx, &kms.PutKeyPolicyInput{KeyId: id, Policy: aws.String(deny)}))
	got := must[*kms.GetKeyPolicyOutput](t)(c.GetKeyPolicy(e.ctx, &kms.GetKeyPolicyInput{KeyId: id}))
	if *got.Policy != deny {
		t.Fatal("GetKeyPolicy() does not return the policy put")
	}
	encrypt(t, e, c, *id, map[string]string{"tenant": "42"})
	_, err = c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: id, Plaintext: []byte("x"), EncryptionContext: map[string]string{"tenant": "43"}})
	wantCode(t, err, "AccessDeniedException")
	want := "User: arn:aws:iam::222222222222:user/admin is not authorized to perform: kms:Encrypt on resource: arn:aws:kms:eu-west-1:222222222222:key/" + *id + " with an explicit deny in a resource-based policy"
	if msg := apiMessage(err); msg != want {
		t.Fatalf("message = %q\nwant      %q", msg, want)
	}
}
