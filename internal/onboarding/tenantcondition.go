package onboarding

import (
	"context"
	"fmt"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
)

// CheckTenantCondition is the id of the check that the platform cannot use
// the key with another tenant's encryption context.
const CheckTenantCondition = "tenant_condition"

// Codes of the tenant condition check besides ok, skipped and
// check_inconclusive.
const (
	// CodeTenantConditionMissing warns that the key policy (or the role's
	// policy) lets the platform use the key for any tenant: the
	// kms:EncryptionContext:byok:tenant condition is missing. A warning, not
	// a failure, so that keys whose policies predate the condition keep
	// working.
	CodeTenantConditionMissing = "tenant_condition_missing"
	// CodeNoEncryptionContext says that an RSA key cannot be bound by a
	// policy condition, as KMS takes no encryption context with it.
	CodeNoEncryptionContext = "no_encryption_context"
)

// probeTenant is the tenant id the tenant condition check claims. It holds a '/',
// which tenant ids never do, so it never names a real tenant.
const probeTenant = "byok-validation/another-tenant"

func probeContext() map[string]string {
	return map[string]string{"byok:tenant": probeTenant, "byok:purpose": "validation"}
}

// probe is one cryptographic call made with another tenant's context. It
// reports whether KMS let the call through authorization: a Decrypt that
// gets as far as InvalidCiphertextException was authorized, it only failed
// because the ciphertext was made under the real tenant's context.
type probe struct {
	action string // the permission the call exercises, as AWS names it
	check  string // the permission check that must have passed first
	call   func(context.Context, *kms.Client) error
}

func (r *run) probes() []probe {
	key := aws.String(r.keyARN)
	right, other := validationContext(r.t.TenantID), probeContext()
	reEncrypt := func(src, dst map[string]string) func(context.Context, *kms.Client) error {
		return func(ctx context.Context, c *kms.Client) error {
			_, err := c.ReEncrypt(ctx, &kms.ReEncryptInput{CiphertextBlob: r.cipher, SourceKeyId: key, DestinationKeyId: key,
				SourceEncryptionContext: src, DestinationEncryptionContext: dst})
			return err
		}
	}
	return []probe{
		{"kms:GenerateDataKey", PermissionCheck("kms:GenerateDataKey"), func(ctx context.Context, c *kms.Client) error {
			out, err := c.GenerateDataKey(ctx, &kms.GenerateDataKeyInput{KeyId: key, KeySpec: types.DataKeySpecAes256, EncryptionContext: other})
			if err == nil {
				clear(out.Plaintext)
			}
			return err
		}},
		{"kms:Encrypt", PermissionCheck("kms:Encrypt"), func(ctx context.Context, c *kms.Client) error {
			_, err := c.Encrypt(ctx, &kms.EncryptInput{KeyId: key, Plaintext: []byte("probe"), EncryptionContext: other})
			return err
		}},
		{"kms:Decrypt", PermissionCheck("kms:Decrypt"), func(ctx context.Context, c *kms.Client) error {
			_, err := c.Decrypt(ctx, &kms.DecryptInput{KeyId: key, CiphertextBlob: r.cipher, EncryptionContext: other})
			return err
		}},
		{"kms:ReEncryptFrom", PermissionCheck("kms:ReEncrypt"), reEncrypt(other, right)},
		{"kms:ReEncryptTo", PermissionCheck("kms:ReEncrypt"), reEncrypt(right, other)},
	}
}

// checkTenantBinding makes each cryptographic call that succeeded for the
// tenant again with another tenant's encryption context: a key policy bound
// to the tenant (TenantCondition) denies them all. It is the policy-side
// guard against a confused deputy, a customer attaching another customer's
// key to their own tenant: the platform would call that key with the
// attaching tenant's id, which the key's policy refuses.
func (r *run) checkTenantBinding(ctx context.Context) {
	if r.skipped(CheckTenantCondition, append(r.noCrypto(), r.noCipher())...) {
		return
	}
	if r.isRSA() {
		r.add(&Check{ID: CheckTenantCondition, Status: Info, Code: CodeNoEncryptionContext,
			Message: "KMS takes no encryption context with an RSA key, so no key policy condition can bind its use to the tenant; the platform binds each RSA wrapping to its tenant with its own keyed tag"})
		return
	}
	var allowed, denied []string
	for _, p := range r.probes() {
		if c := r.rep.Check(p.check); c == nil || c.Status != Pass {
			continue // denied for the tenant too: proves nothing about the condition
		}
		err := r.probe(ctx, p)
		switch {
		case err == nil || errorCode(err) == "InvalidCiphertextException":
			allowed = append(allowed, p.action)
		case isDenied(err):
			denied = append(denied, p.action)
		default:
			r.add(&Check{ID: CheckTenantCondition, Status: Warn, Code: "check_inconclusive", RequestID: requestID(err),
				Message: "could not tell whether the key is bound to the tenant: " + errorMessage(err), Fix: "run the validation again"})
			return
		}
	}
	r.reportBinding(allowed, denied)
}

func (r *run) probe(ctx context.Context, p probe) error {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	return p.call(ctx, r.kms(r.region.Name))
}

func (r *run) reportBinding(allowed, denied []string) {
	switch {
	case len(allowed) > 0:
		r.add(&Check{ID: CheckTenantCondition, Status: Warn, Code: CodeTenantConditionMissing,
			Message: fmt.Sprintf("the platform can use the key with another tenant's encryption context (%s): nothing in the key's policies stops it from using this key for a tenant other than %s",
				strings.Join(allowed, ", "), r.t.TenantID),
			Fix: r.conditionFix()})
	case len(denied) == 0:
		r.skipped(CheckTenantCondition, "no cryptographic call succeeded for the tenant")
	default:
		r.pass(CheckTenantCondition, fmt.Sprintf("the key is bound to tenant %s: %s with another tenant's encryption context are denied",
			r.t.TenantID, strings.Join(denied, ", ")))
	}
}

func (r *run) conditionFix() string {
	where := "the key policy statement " + SidUse
	if r.t.RoleARN != "" {
		where += " and the role policy statement " + SidRoleUse
	}
	return fmt.Sprintf("add the condition %s to %s (every statement allowing %s kms:Encrypt, kms:Decrypt, kms:ReEncrypt* or kms:GenerateDataKey*); keep kms:DescribeKey and kms:GetKeyRotationStatus in a statement without it (%s), as those calls carry no encryption context",
		tenantConditionText(r.t.TenantID), where, r.grantee(), SidRead)
}
