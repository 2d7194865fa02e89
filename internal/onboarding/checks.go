package onboarding

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/sha256"
	"crypto/x509"
	"fmt"
	"slices"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"

	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/kms/awskms"
)

// Check ids.
const (
	CheckRegion         = "hosting_region"
	CheckKeyARN         = "key_arn"
	CheckAlias          = "alias_policy"
	CheckKeyRegion      = "key_region"
	CheckKeyAccount     = "key_account"
	CheckRoleARN        = "role_arn"
	CheckExternalID     = "role_external_id"
	CheckConfusedDeputy = "role_requires_external_id"
	CheckKeySpec        = "key_spec"
	CheckKeyState       = "key_state"
	CheckMultiRegion    = "multi_region"
	CheckRotation       = "rotation"
	CheckGrants         = "persistent_resource_grants"
)

// PermissionCheck is the id of the check exercising action, e.g.
// permission:kms:Decrypt.
func PermissionCheck(action string) string { return "permission:" + action }

// ReplicaCheck is the id of the check of the replica in region.
func ReplicaCheck(region string) string { return "replica:" + region }

func (r *run) checkRegion(context.Context) {
	region, err := r.v.Config.Region(r.t.Region)
	if err != nil {
		r.noKey = "the hosting region is unknown"
		r.fail(CheckRegion, string(platform.CodeUnknownRegion), err.(*platform.Error).Reason, "use one of the platform's hosting regions")
		return
	}
	r.region = region
	r.pass(CheckRegion, region.Name+" is a hosting region")
}

func (r *run) checkKeyARN(context.Context) {
	if r.skipped(CheckKeyARN, r.noKey) {
		return
	}
	a, err := platform.ParseKeyARN("key_arn", r.t.KeyARN)
	if err != nil {
		r.noKey = "the key ARN is not valid"
		e := err.(*platform.Error)
		r.fail(CheckKeyARN, string(e.Code), e.Reason, "copy the key ARN from the KMS console: arn:aws:kms:<region>:<account>:key/<key id>")
		return
	}
	r.key, r.keyARN = a, a.String()
	r.pass(CheckKeyARN, "well-formed "+kindName(a))
}

func kindName(a awskms.ARN) string {
	switch {
	case a.Kind == awskms.AliasARN:
		return "alias ARN"
	case a.MultiRegion():
		return "multi-Region key ARN"
	}
	return "key ARN"
}

func (r *run) checkAlias(context.Context) {
	if r.skipped(CheckAlias, r.noKey) {
		return
	}
	switch {
	case r.key.Kind != awskms.AliasARN:
		r.pass(CheckAlias, "not an alias")
	case r.v.Config.Policy.AliasARNs == platform.AliasResolve:
		r.add(&Check{ID: CheckAlias, Status: Info, Code: "alias_resolved",
			Message: r.key.Alias + " is resolved in each region to the key it names; the resolved key ARN is recorded, so moving the alias later does not change the tenant's key"})
	default:
		r.noKey = "alias ARNs are not accepted"
		r.fail(CheckAlias, "alias_rejected", "the platform does not accept alias ARNs: an alias can be moved to another key at any time",
			"give the key ARN the alias names (aws kms describe-key --key-id "+r.key.String()+" shows it)")
	}
}

func (r *run) checkKeyRegion(context.Context) {
	if r.skipped(CheckKeyRegion, r.noKey) {
		return
	}
	if r.key.Region != r.region.Name {
		r.noKey = "the key is in another region"
		r.fail(CheckKeyRegion, "key_wrong_region", fmt.Sprintf("the key is in %s, the tenant is hosted in %s", r.key.Region, r.region.Name),
			"use a key in "+r.region.Name+" (for a multi-Region key, its replica there)")
		return
	}
	r.pass(CheckKeyRegion, "the key is in the hosting region "+r.region.Name)
}

func (r *run) checkKeyAccount(context.Context) {
	if r.skipped(CheckKeyAccount, r.noKey) {
		return
	}
	switch acct := r.key.Account; {
	case r.t.CustomerAccount != "" && acct != r.t.CustomerAccount:
		r.noKey = "the key is in another account"
		r.fail(CheckKeyAccount, "key_wrong_account", fmt.Sprintf("the key is in account %s, the customer's account is %s", acct, r.t.CustomerAccount),
			"use a key of account "+r.t.CustomerAccount)
	case acct == r.region.PlatformAccount():
		r.noKey = "the key is in the platform's account"
		r.fail(CheckKeyAccount, "key_in_platform_account", "the key is in the platform's own account "+acct+", so the customer would not control it",
			"create the key in the customer's own AWS account")
	default:
		r.pass(CheckKeyAccount, "the key is in the customer's account "+acct)
	}
}

func (r *run) checkRole(context.Context) {
	if r.t.RoleARN == "" {
		r.creds = r.v.AWS.Credentials
		r.add(&Check{ID: CheckRoleARN, Status: Info, Code: "direct_access",
			Message: "no role: the platform calls the key with its own credentials, so the key policy must name " + r.principal()})
		return
	}
	if r.skipped(CheckRoleARN, r.noKey) {
		return
	}
	role, err := platform.ParseRoleARN("role_arn", r.t.RoleARN)
	if err != nil {
		r.noAccess = "the role ARN is not valid"
		r.fail(CheckRoleARN, string(platform.CodeInvalidRoleARN), err.(*platform.Error).Reason, "copy the role ARN from the IAM console: arn:aws:iam::<account>:role/<name>")
		return
	}
	r.role = role
	switch acct := role.Account; {
	case acct == r.region.PlatformAccount():
		r.noAccess = "the role is in the platform's account"
		r.fail(CheckRoleARN, "role_in_platform_account", "the role is in the platform's own account "+acct+", so the customer would not control who may assume it",
			"create the role in an account of the customer's")
	case acct != r.key.Account:
		r.pass(CheckRoleARN, fmt.Sprintf("well-formed role ARN in account %s, another account than the key's %s: the key policy (account %s) must allow the role "+
			"or its account, and the role's policy (account %s) must allow the key", acct, r.key.Account, r.key.Account, acct))
	default:
		r.pass(CheckRoleARN, "well-formed role ARN in the key's account")
	}
}

func (r *run) principal() string {
	if r.region == nil {
		return "the platform"
	}
	return r.region.PlatformPrincipal()
}

func (r *run) assume(ctx context.Context, externalID string) (*sts.AssumeRoleOutput, error) {
	in := &sts.AssumeRoleInput{RoleArn: aws.String(r.t.RoleARN), RoleSessionName: aws.String(sessionName(r.t.TenantID)), DurationSeconds: aws.Int32(900)}
	if externalID != "" {
		in.ExternalId = aws.String(externalID)
	}
	return call(ctx, r, func(ctx context.Context) (*sts.AssumeRoleOutput, error) { return r.sts().AssumeRole(ctx, in) })
}

func (r *run) checkExternalID(ctx context.Context) {
	if r.t.RoleARN == "" || r.skipped(CheckExternalID, r.noKey, r.noAccess) {
		return
	}
	if err := platform.CheckExternalID(r.t.ExternalID); err != nil {
		r.noAccess = "the tenant's External ID is not valid"
		r.fail(CheckExternalID, string(platform.CodeInvalidExternalID), err.(*platform.Error).Reason, "give the tenant a new External ID")
		return
	}
	out, err := r.assume(ctx, r.t.ExternalID)
	if err != nil {
		r.noAccess = "the role cannot be assumed"
		c := r.fail(CheckExternalID, "role_not_assumable", "the platform cannot assume the role with the tenant's External ID: "+errorMessage(err),
			"set the role's trust policy to the one the platform generated: principal "+r.principal()+", condition sts:ExternalId = "+r.t.ExternalID)
		c.RequestID, c.Action = requestID(err), "sts:AssumeRole"
		return
	}
	r.creds = sessionCredentials(out)
	r.pass(CheckExternalID, "the platform assumes the role with the tenant's External ID")
}

// checkConfusedDeputy makes sure the role cannot be assumed without the
// External ID: otherwise any other customer of the platform could name this
// role as theirs and have the platform use this customer's key for them.
func (r *run) checkConfusedDeputy(ctx context.Context) {
	if r.t.RoleARN == "" || r.skipped(CheckConfusedDeputy, r.noKey, r.noAccess) {
		return
	}
	_, err := r.assume(ctx, "")
	switch {
	case err == nil:
		r.fail(CheckConfusedDeputy, "role_assumable_without_external_id", "the role can be assumed without an External ID, so another customer of the platform could use it",
			`add the condition "StringEquals": {"sts:ExternalId": "`+r.t.ExternalID+`"} to the trust policy statement naming the platform`)
	case isDenied(err):
		c := r.pass(CheckConfusedDeputy, "the role cannot be assumed without the External ID")
		c.RequestID = requestID(err)
	default:
		r.add(&Check{ID: CheckConfusedDeputy, Status: Warn, Code: "check_inconclusive", RequestID: requestID(err),
			Message: "could not tell whether the role requires the External ID: " + errorMessage(err), Fix: "run the validation again"})
	}
}

// missing records a denied call as a missing permission, naming the
// policy that lacks it (see doctor.go).
func (r *run) missing(id, region string, err error, fallback string) *Check {
	action := deniedAction(err, fallback)
	policy, fix := r.grantFix(action, denialOf(err))
	c := r.fail(id, "missing_permission", fmt.Sprintf("%s is not allowed: %s", action, errorMessage(err)), fix)
	c.Action, c.Region, c.RequestID, c.Policy = action, region, requestID(err), policy
	return c
}

func (r *run) grantee() string {
	if r.t.RoleARN != "" {
		return r.t.RoleARN
	}
	return r.principal()
}

// callFailed records a KMS failure of the check id: a missing permission,
// or the key's own problem.
func (r *run) callFailed(id, region, action string, err error) *Check {
	if isDenied(err) {
		return r.missing(id, region, err, action)
	}
	code, fix := kmsFailure(err)
	c := r.fail(id, code, action+" failed: "+errorMessage(err), fix)
	c.Region, c.RequestID = region, requestID(err)
	return c
}

// statementFix says which generated statement grants action: a
// cryptographic action is granted only with the tenant's encryption
// context, so a condition naming another tenant is denied like a missing
// action.
func (r *run) statementFix(action string) string {
	if !isCryptoAction(action) {
		return "the statement " + SidRead + " of the generated policies has it"
	}
	if r.isRSA() {
		return "the statement " + SidUse + " of the generated policies has it"
	}
	return fmt.Sprintf("the statement %s of the generated policies has it, with the condition %s", SidUse, tenantConditionText(r.t.TenantID))
}

// isCryptoAction reports whether action is one of the cryptographic actions,
// named as AWS names them in a denial (kms:ReEncryptFrom, kms:GenerateDataKey).
func isCryptoAction(action string) bool {
	for _, a := range CryptoActions(platform.KeySpecSymmetric) {
		if a == action || (strings.HasSuffix(a, "*") && strings.HasPrefix(action, strings.TrimSuffix(a, "*"))) {
			return true
		}
	}
	return false
}

func tenantConditionText(tenantID string) string {
	return `"StringEquals": {"` + TenantConditionKey + `": "` + tenantID + `"}`
}

func kmsFailure(err error) (code, fix string) {
	switch errorCode(err) {
	case "NotFoundException":
		return "key_not_found", "check the key ARN: the key does not exist in that account and region, or has been deleted"
	case "DisabledException":
		return "key_disabled", "enable the key (aws kms enable-key)"
	case "KMSInvalidStateException":
		return "key_invalid_state", "cancel the key's deletion (aws kms cancel-key-deletion) and enable it"
	case "InvalidKeyUsageException", "UnsupportedOperationException":
		return "key_usage_not_allowed", "use a key with key usage ENCRYPT_DECRYPT"
	}
	return "kms_error", "run the validation again; if it persists, contact the platform with the request id"
}

func (r *run) checkDescribe(ctx context.Context) {
	id := PermissionCheck("kms:DescribeKey")
	if r.skipped(id, r.noKey, r.noAccess) {
		return
	}
	out, err := call(ctx, r, func(ctx context.Context) (*kms.DescribeKeyOutput, error) {
		return r.kms(r.region.Name).DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(r.key.String())})
	})
	if err != nil {
		if !isDenied(err) {
			r.noUse = "the key cannot be described"
		}
		r.callFailed(id, r.region.Name, "kms:DescribeKey", err)
		r.spec = r.guessSpec(ctx)
		return
	}
	r.meta, r.spec = out.KeyMetadata, string(out.KeyMetadata.KeySpec)
	r.keyARN = aws.ToString(out.KeyMetadata.Arn)
	r.rep.KeyARN = r.keyARN
	r.pass(id, "the platform can describe "+r.keyARN)
}

// guessSpec finds the key's spec without DescribeKey, so that the other
// permissions are still exercised with the right operations: the policy may
// allow only one kind, and an RSA key answers GetPublicKey with its spec.
func (r *run) guessSpec(ctx context.Context) string {
	specs := r.v.Config.Policy.KeySpecs
	if !slices.ContainsFunc(specs, platform.IsRSA) || !slices.Contains(specs, platform.KeySpecSymmetric) {
		return specs[0]
	}
	out, err := call(ctx, r, func(ctx context.Context) (*kms.GetPublicKeyOutput, error) {
		return r.kms(r.region.Name).GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(r.key.String())})
	})
	if err == nil {
		return string(out.KeySpec)
	}
	return platform.KeySpecSymmetric
}

func (r *run) noMeta() string {
	if r.meta == nil {
		return "kms:DescribeKey did not succeed"
	}
	return ""
}

func (r *run) checkSpec(context.Context) {
	if r.skipped(CheckKeySpec, r.noKey, r.noAccess, r.noMeta()) {
		return
	}
	spec, usage := string(r.meta.KeySpec), r.meta.KeyUsage
	if usage != types.KeyUsageTypeEncryptDecrypt {
		r.noUse = "the key's usage is not ENCRYPT_DECRYPT"
		r.fail(CheckKeySpec, "key_usage_not_allowed", fmt.Sprintf("the key's usage is %s", usage), "create a key with key usage ENCRYPT_DECRYPT")
		return
	}
	if !r.v.Config.Policy.AllowsKeySpec(spec) {
		r.fail(CheckKeySpec, "key_spec_not_allowed", fmt.Sprintf("key spec %s is not allowed here", spec),
			"create a key of spec "+strings.Join(r.v.Config.Policy.KeySpecs, " or "))
		return
	}
	r.pass(CheckKeySpec, fmt.Sprintf("key spec %s, usage %s", spec, usage))
}

func (r *run) checkState(context.Context) {
	if r.skipped(CheckKeyState, r.noKey, r.noAccess, r.noMeta()) {
		return
	}
	state := r.meta.KeyState
	switch state {
	case types.KeyStateEnabled:
		r.pass(CheckKeyState, "the key is enabled")
		return
	case types.KeyStateDisabled:
		r.fail(CheckKeyState, "key_disabled", "the key is disabled", "enable the key (aws kms enable-key --key-id "+r.keyARN+")")
	case types.KeyStatePendingDeletion, types.KeyStatePendingReplicaDeletion:
		r.fail(CheckKeyState, "key_pending_deletion", "the key is scheduled for deletion"+deletionDate(r.meta),
			"cancel the deletion (aws kms cancel-key-deletion --key-id "+r.keyARN+"), then enable the key")
	default:
		r.fail(CheckKeyState, "key_unavailable", "the key is "+string(state), "wait until the key is Enabled, then validate again")
	}
	r.noUse = "the key is " + string(state)
}

func deletionDate(m *types.KeyMetadata) string {
	if m.DeletionDate == nil {
		return ""
	}
	return " on " + m.DeletionDate.UTC().Format("2006-01-02 15:04 UTC")
}

func (r *run) checkMultiRegion(context.Context) {
	if r.skipped(CheckMultiRegion, r.noKey, r.noAccess, r.noMeta()) {
		return
	}
	mrk := aws.ToBool(r.meta.MultiRegion)
	switch {
	case mrk:
		r.pass(CheckMultiRegion, "the key is a multi-Region key")
	case r.v.Config.Policy.RequireMultiRegion:
		r.fail(CheckMultiRegion, "key_not_multi_region", "the key is a single-Region key; the platform requires a multi-Region key",
			"create a multi-Region key (aws kms create-key --multi-region) and its replicas, and give its ARN (key/mrk-…)")
	default:
		r.add(&Check{ID: CheckMultiRegion, Status: Info, Code: "single_region", Message: "single-Region key; the platform does not require a multi-Region key"})
	}
}

func (r *run) noCrypto() []string {
	return []string{r.noKey, r.noAccess, r.noUse}
}

func (r *run) isRSA() bool { return platform.IsRSA(r.spec) }

func (r *run) checkGenerateDataKey(ctx context.Context) {
	id := PermissionCheck("kms:GenerateDataKey")
	if r.isRSA() || r.skipped(id, r.noCrypto()...) {
		return
	}
	out, err := call(ctx, r, func(ctx context.Context) (*kms.GenerateDataKeyOutput, error) {
		return r.kms(r.region.Name).GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: aws.String(r.keyARN),
			KeySpec: types.DataKeySpecAes256, EncryptionContext: validationContext(r.t.TenantID)})
	})
	if err != nil {
		r.callFailed(id, r.region.Name, "kms:GenerateDataKey", err)
		return
	}
	clear(out.Plaintext)
	r.cipher = out.CiphertextBlob
	r.pass(id, "the platform can generate data keys")
}

func (r *run) encryptInput(plaintext []byte) *kms.EncryptInput {
	in := &kms.EncryptInput{KeyId: aws.String(r.keyARN), Plaintext: plaintext}
	if r.isRSA() {
		in.EncryptionAlgorithm = types.EncryptionAlgorithmSpecRsaesOaepSha256
	} else {
		in.EncryptionContext = validationContext(r.t.TenantID)
	}
	return in
}

// checkEncrypt exercises kms:Encrypt, which wraps tenant keys under a
// symmetric key. Under an RSA key the platform wraps locally with the
// public key, so the validation does the same to get its ciphertext, and
// calls kms:Encrypt only when the public key cannot be had.
func (r *run) checkEncrypt(ctx context.Context) {
	id := PermissionCheck("kms:Encrypt")
	if r.skipped(id, r.noCrypto()...) {
		return
	}
	if r.isRSA() && r.encryptLocally(ctx) {
		r.add(&Check{ID: id, Status: Info, Code: CodeNotNeeded,
			Message: "kms:Encrypt is not needed with an RSA key: the platform wraps under the public key, as this validation did"})
		return
	}
	out, err := call(ctx, r, func(ctx context.Context) (*kms.EncryptOutput, error) {
		return r.kms(r.region.Name).Encrypt(ctx, r.encryptInput([]byte(rand.Text())))
	})
	if err != nil {
		r.callFailed(id, r.region.Name, "kms:Encrypt", err)
		return
	}
	r.cipher = out.CiphertextBlob
	r.pass(id, "the platform can encrypt")
}

// encryptLocally sets the ciphertext by encrypting under the key's public
// key with RSAES_OAEP_SHA_256, as the platform wraps; false when the public
// key cannot be had (checkPublicKey reports why).
func (r *run) encryptLocally(ctx context.Context) bool {
	out, err := call(ctx, r, func(ctx context.Context) (*kms.GetPublicKeyOutput, error) {
		return r.kms(r.region.Name).GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(r.keyARN)})
	})
	if err != nil {
		return false
	}
	pub, err := x509.ParsePKIXPublicKey(out.PublicKey)
	rsaPub, ok := pub.(*rsa.PublicKey)
	if err != nil || !ok {
		return false
	}
	ct, err := rsa.EncryptOAEP(sha256.New(), rand.Reader, rsaPub, []byte(rand.Text()), nil)
	if err != nil {
		return false
	}
	r.cipher = ct
	return true
}

func (r *run) decryptInput(region string) *kms.DecryptInput {
	keyARN := r.keyARN
	if region != r.region.Name {
		keyARN = replicaARN(keyARN, region)
	}
	in := &kms.DecryptInput{KeyId: aws.String(keyARN), CiphertextBlob: r.cipher}
	if r.isRSA() {
		in.EncryptionAlgorithm = types.EncryptionAlgorithmSpecRsaesOaepSha256
	} else {
		in.EncryptionContext = validationContext(r.t.TenantID)
	}
	return in
}

func (r *run) noCipher() string {
	if r.cipher == nil {
		return "there is no ciphertext to work on, as kms:Encrypt and kms:GenerateDataKey did not succeed"
	}
	return ""
}

func (r *run) checkDecrypt(ctx context.Context) {
	id := PermissionCheck("kms:Decrypt")
	if r.skipped(id, append(r.noCrypto(), r.noCipher())...) {
		return
	}
	out, err := call(ctx, r, func(ctx context.Context) (*kms.DecryptOutput, error) {
		return r.kms(r.region.Name).Decrypt(ctx, r.decryptInput(r.region.Name))
	})
	if err != nil {
		r.callFailed(id, r.region.Name, "kms:Decrypt", err)
		return
	}
	clear(out.Plaintext)
	r.pass(id, "the platform can decrypt")
}

// Codes of permission checks besides ok, skipped and missing_permission.
const (
	// CodeOptionalPermissionMissing warns that a permission the platform
	// can do without is denied; the message says what doing without costs.
	CodeOptionalPermissionMissing = "optional_permission_missing"
	// CodeNotNeeded says that the key's spec makes the platform never call
	// the action, so it is not exercised.
	CodeNotNeeded = "not_needed"
)

// reEncryptCost is what a key without kms:ReEncrypt* costs: kms/awskms
// rewraps with Decrypt then Encrypt when ReEncrypt is denied.
const reEncryptCost = "the platform rewraps tenant keys with kms:Decrypt and kms:Encrypt instead, two KMS calls per key version instead of one, " +
	"and the tenant key passes through the platform's memory on the way (as it does whenever the platform serves the tenant's data)"

// checkReEncrypt exercises kms:ReEncrypt*, which is optional: a denial is a
// warning saying what it costs. The platform never re-encrypts under an
// RSA key, so the action is not exercised there.
func (r *run) checkReEncrypt(ctx context.Context) {
	id := PermissionCheck("kms:ReEncrypt")
	if r.isRSA() {
		r.add(&Check{ID: id, Status: Info, Code: CodeNotNeeded,
			Message: "kms:ReEncrypt* is not needed with an RSA key: the platform wraps under the public key, and rewraps with kms:Decrypt"})
		return
	}
	if r.skipped(id, append(r.noCrypto(), r.noCipher())...) {
		return
	}
	ec := validationContext(r.t.TenantID)
	in := &kms.ReEncryptInput{CiphertextBlob: r.cipher, SourceKeyId: aws.String(r.keyARN), DestinationKeyId: aws.String(r.keyARN),
		SourceEncryptionContext: ec, DestinationEncryptionContext: ec}
	_, err := call(ctx, r, func(ctx context.Context) (*kms.ReEncryptOutput, error) {
		return r.kms(r.region.Name).ReEncrypt(ctx, in)
	})
	if err != nil {
		r.add(r.optionalFailed(id, "kms:ReEncryptFrom", "kms:ReEncrypt*", reEncryptCost, err))
		return
	}
	r.pass(id, "the platform can re-encrypt (kms:ReEncryptFrom and kms:ReEncryptTo)")
}

// optionalFailed is the warning for a failed call exercising an optional
// permission: missing, with what that costs, or inconclusive.
func (r *run) optionalFailed(id, action, grant, cost string, err error) *Check {
	c := &Check{ID: id, Status: Warn, Region: r.region.Name, RequestID: requestID(err)}
	if !isDenied(err) {
		c.Code, c.Fix = "check_inconclusive", "run the validation again"
		c.Message = "could not tell whether " + grant + " is allowed: " + errorMessage(err)
		return c
	}
	c.Code, c.Action = CodeOptionalPermissionMissing, deniedAction(err, action)
	c.Message = fmt.Sprintf("%s is not allowed; it is optional: %s", c.Action, cost)
	policy, fix := r.grantFix(grant, denialOf(err))
	c.Policy = policy
	c.Fix = "nothing is required; to have rewraps stay inside KMS: " + fix
	return c
}

func (r *run) checkPublicKey(ctx context.Context) {
	id := PermissionCheck("kms:GetPublicKey")
	if !r.isRSA() || r.skipped(id, r.noCrypto()...) {
		return
	}
	_, err := call(ctx, r, func(ctx context.Context) (*kms.GetPublicKeyOutput, error) {
		return r.kms(r.region.Name).GetPublicKey(ctx, &kms.GetPublicKeyInput{KeyId: aws.String(r.keyARN)})
	})
	if err != nil {
		r.callFailed(id, r.region.Name, "kms:GetPublicKey", err)
		return
	}
	r.pass(id, "the platform can read the public key, to wrap tenant keys without a KMS call")
}

// replicaARN is arn with its region replaced: for a multi-Region key, the
// replica there.
func replicaARN(arn, region string) string {
	a, err := awskms.ParseARN(arn)
	if err != nil {
		return arn
	}
	a.Region = region
	return a.String()
}

func (r *run) checkReplicas(ctx context.Context) {
	if r.region == nil {
		return
	}
	for _, region := range r.region.ReplicaRegions {
		r.checkReplica(ctx, region)
	}
}

func (r *run) checkReplica(ctx context.Context, region string) {
	id := ReplicaCheck(region)
	if r.skipped(id, r.noKey, r.noAccess, r.noMeta()) {
		return
	}
	if !aws.ToBool(r.meta.MultiRegion) {
		r.fail(id, "replica_missing", "a single-Region key has no replica in "+region, "use a multi-Region key with a replica in "+region)
		return
	}
	if !slices.Contains(replicaRegions(r.meta), region) {
		r.fail(id, "replica_missing", "the key has no replica in "+region,
			fmt.Sprintf("aws kms replicate-key --key-id %s --replica-region %s", r.keyARN, region))
		return
	}
	r.exerciseReplica(ctx, id, region)
}

// replicaRegions lists every region of a multi-Region key: primary and
// replicas.
func replicaRegions(m *types.KeyMetadata) []string {
	c := m.MultiRegionConfiguration
	if c == nil {
		return nil
	}
	var out []string
	if c.PrimaryKey != nil {
		out = append(out, aws.ToString(c.PrimaryKey.Region))
	}
	for _, k := range c.ReplicaKeys {
		out = append(out, aws.ToString(k.Region))
	}
	return out
}

// exerciseReplica proves the platform can fail over to the replica:
// described there and, when a ciphertext exists, decrypting it there.
func (r *run) exerciseReplica(ctx context.Context, id, region string) {
	client, arn := r.kms(region), replicaARN(r.keyARN, region)
	out, err := call(ctx, r, func(ctx context.Context) (*kms.DescribeKeyOutput, error) {
		return client.DescribeKey(ctx, &kms.DescribeKeyInput{KeyId: aws.String(arn)})
	})
	if err != nil {
		r.callFailed(id, region, "kms:DescribeKey", err)
		return
	}
	if st := out.KeyMetadata.KeyState; st != types.KeyStateEnabled {
		r.fail(id, "replica_unavailable", "the replica in "+region+" is "+string(st), "enable the replica "+arn)
		return
	}
	if r.cipher != nil && r.noUse == "" {
		if _, err := call(ctx, r, func(ctx context.Context) (*kms.DecryptOutput, error) {
			return client.Decrypt(ctx, r.decryptInput(region))
		}); err != nil {
			r.callFailed(id, region, "kms:Decrypt", err)
			return
		}
	}
	c := r.pass(id, "the replica "+arn+" is enabled and usable by the platform")
	c.Region = region
}

func (r *run) checkRotation(ctx context.Context) {
	if r.skipped(CheckRotation, r.noKey, r.noAccess, r.noMeta()) {
		return
	}
	if r.isRSA() {
		r.add(&Check{ID: CheckRotation, Status: Info, Code: "rotation_not_supported",
			Message: "KMS does not rotate RSA keys automatically; rotate by creating a new key and changing the tenant's key"})
		return
	}
	out, err := call(ctx, r, func(ctx context.Context) (*kms.GetKeyRotationStatusOutput, error) {
		return r.kms(r.region.Name).GetKeyRotationStatus(ctx, &kms.GetKeyRotationStatusInput{KeyId: aws.String(r.keyARN)})
	})
	r.add(rotationCheck(out, err))
}

func rotationCheck(out *kms.GetKeyRotationStatusOutput, err error) *Check {
	c := &Check{ID: CheckRotation, Status: Info}
	switch {
	case isDenied(err):
		c.Code, c.Action = "rotation_status_unknown", deniedAction(err, "kms:GetKeyRotationStatus")
		c.Message = c.Action + " is not allowed, so the platform cannot show the rotation status"
		c.Fix = "allow " + c.Action + " (optional)"
	case err != nil:
		c.Code, c.Message = "rotation_status_unknown", "could not read the rotation status: "+errorMessage(err)
	case out.KeyRotationEnabled:
		c.Code, c.Message = "rotation_enabled", fmt.Sprintf("automatic rotation is on, every %d days; it is transparent to the platform", aws.ToInt32(out.RotationPeriodInDays))
	default:
		c.Code, c.Message, c.Fix = "rotation_disabled", "automatic rotation is off", "turn it on (aws kms enable-key-rotation) if your policies ask for it"
	}
	c.RequestID = requestID(err)
	return c
}

// checkGrants explains what is not exercised: grants for persistent
// resources can only be created by AWS services (kms:GrantIsForAWSResource),
// never by the platform's own calls, so no call can prove them.
func (r *run) checkGrants(context.Context) {
	r.add(&Check{ID: CheckGrants, Status: Info, Code: "not_exercised",
		Message: "kms:CreateGrant, kms:ListGrants and kms:RevokeGrant for AWS services (kms:GrantIsForAWSResource) cannot be exercised by the platform; keep the " + SidAttach + " statement so that services attaching storage can use the key"})
}
