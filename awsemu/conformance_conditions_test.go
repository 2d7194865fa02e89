package awsemu_test

import (
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// aws:PrincipalArn of a role session is the role's ARN, so a key policy can
// name a role through a condition.
func TestPrincipalArnCondition(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t, euWest1)
	k := createKey(t, e, admin, &kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*",
	   "Condition":{"ArnLike":{"aws:PrincipalArn":"arn:aws:iam::222222222222:role/byok-*"}}}]}`), BypassPolicyLockoutSafetyCheck: true})
	encrypt(t, e, e.assume(t, euWest1, byokRole, "tenant-42"), *k.KeyId, nil)
	_, err := e.assume(t, euWest1, openRole, "").Encrypt(e.ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x")})
	wantCode(t, err, "AccessDeniedException")
}

// ForAnyValue over kms:EncryptionContextKeys: a Deny when any context key is
// not "tenant"; with no context there is no value, so the Deny does not apply.
func TestEncryptionContextKeysCondition(t *testing.T) {
	e := newEnv(t)
	admin := e.admin(t, euWest1)
	k := createKey(t, e, admin, &kms.CreateKeyInput{Policy: aws.String(`{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Deny","Principal":{"AWS":"*"},"Action":"kms:Encrypt","Resource":"*",
	   "Condition":{"ForAnyValue:StringNotEquals":{"kms:EncryptionContextKeys":["tenant"]}}}]}`)})
	encrypt(t, e, admin, *k.KeyId, map[string]string{"tenant": "1"})
	encrypt(t, e, admin, *k.KeyId, nil)
	_, err := admin.Encrypt(e.ctx, &kms.EncryptInput{KeyId: k.KeyId, Plaintext: []byte("x"), EncryptionContext: map[string]string{"tenant": "1", "other": "2"}})
	wantCode(t, err, "AccessDeniedException")
}

func TestMoreKeyStateTransitions(t *testing.T) {
	e := newEnv(t)
	eu := e.admin(t, euWest1)
	// Disabled -> PendingDeletion -> (cancel) Disabled.
	id := createKey(t, e, eu, nil).KeyId
	must[*kms.DisableKeyOutput](t)(eu.DisableKey(e.ctx, &kms.DisableKeyInput{KeyId: id}))
	must[*kms.ScheduleKeyDeletionOutput](t)(eu.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: id}))
	// AWS reports the window of a PendingDeletion key in DeletionDate only.
	if got := describe(t, e, eu, *id); got.KeyState != types.KeyStatePendingDeletion || got.PendingDeletionWindowInDays != nil ||
		got.DeletionDate == nil || got.DeletionDate.Sub(e.ts.Now()) < 30*day-time.Minute {
		t.Fatalf("KeyState = %s window %v deletion %v, want PendingDeletion, no window, in 30 days", got.KeyState, got.PendingDeletionWindowInDays, got.DeletionDate)
	}
	_, err := eu.DisableKey(e.ctx, &kms.DisableKeyInput{KeyId: id})
	wantType[*types.KMSInvalidStateException](t, err)
	// PendingReplicaDeletion -> (cancel) Disabled.
	must[*kms.ScheduleKeyDeletionOutput](t)(eu.ScheduleKeyDeletion(e.ctx, &kms.ScheduleKeyDeletionInput{KeyId: aws.String(mrkKey)}))
	// Only a PendingReplicaDeletion key reports its window, and no date yet.
	if got := describe(t, e, eu, mrkKey); got.KeyState != types.KeyStatePendingReplicaDeletion || got.PendingDeletionWindowInDays == nil ||
		*got.PendingDeletionWindowInDays != 30 || got.DeletionDate != nil {
		t.Fatalf("KeyState = %s window %v deletion %v, want PendingReplicaDeletion, 30, no date", got.KeyState, got.PendingDeletionWindowInDays, got.DeletionDate)
	}
	must[*kms.CancelKeyDeletionOutput](t)(eu.CancelKeyDeletion(e.ctx, &kms.CancelKeyDeletionInput{KeyId: aws.String(mrkKey)}))
	if got := describe(t, e, eu, mrkKey).KeyState; got != types.KeyStateDisabled {
		t.Fatalf("KeyState after cancelling PendingReplicaDeletion = %s, want Disabled", got)
	}
	// A disabled key's aliases and tags can still be managed; a pending one's tags cannot.
	must[*kms.CreateAliasOutput](t)(eu.CreateAlias(e.ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/off"), TargetKeyId: aws.String(mrkKey)}))
	_, err = eu.TagResource(e.ctx, &kms.TagResourceInput{KeyId: id, Tags: []types.Tag{{TagKey: aws.String("k"), TagValue: aws.String("v")}}})
	wantType[*types.KMSInvalidStateException](t, err)
	_, err = eu.CreateAlias(e.ctx, &kms.CreateAliasInput{AliasName: aws.String("alias/pending"), TargetKeyId: id})
	wantType[*types.KMSInvalidStateException](t, err)
}
