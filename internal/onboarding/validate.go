package onboarding

import (
	"context"
	"errors"
	"regexp"
	"strings"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/kms/types"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"

	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/kms/awskms"
)

// Validator checks a customer's key and role, for real, with the platform's
// own AWS access: every permission the platform needs is exercised by the
// call that needs it.
type Validator struct {
	Config *platform.Config
	// AWS is the platform's base SDK configuration (its credentials; its
	// BaseEndpoint for an emulator). Its Region is ignored: each call goes to
	// the region it concerns.
	AWS aws.Config
	// CallTimeout bounds each AWS call; default 10 seconds.
	CallTimeout time.Duration
}

// Target is what the customer handed over.
type Target struct {
	TenantID   string
	ExternalID string // the tenant's; required with RoleARN
	Region     string // the hosting region
	KeyARN     string
	// RoleARN selects the assumed-role pattern; empty means direct access.
	RoleARN string
	// CustomerAccount, when known, is the account the key must be in; the
	// role may be in another account of the customer's.
	CustomerAccount string
}

// validationContext marks validation calls in the customer's CloudTrail.
func validationContext(tenantID string) map[string]string {
	return map[string]string{"byok:tenant": tenantID, "byok:purpose": "validation"}
}

// Validate runs every check and returns the report. It returns no error:
// every failure, bad input included, is an entry of the report.
func (v *Validator) Validate(ctx context.Context, t Target) *Report {
	r := &run{v: v, t: t, rep: &Report{}}
	for _, step := range r.steps() {
		step(ctx)
	}
	return r.rep
}

// run is one validation: what earlier checks learnt, and why later ones
// cannot run.
type run struct {
	v   *Validator
	t   Target
	rep *Report

	region *platform.Region
	key    awskms.ARN // as given: may be an alias
	keyARN string     // the key ARN, alias resolved once described
	creds  aws.CredentialsProvider
	meta   *types.KeyMetadata
	spec   string // the key's spec: described, or assumed from the policy

	cipher []byte // from Encrypt or GenerateDataKey, for Decrypt and ReEncrypt

	role platform.RoleARN // the customer's role; its account may be another than the key's

	// Reasons later checks are skipped; "" means not blocked.
	noKey    string // the key ARN is unusable or unacceptable
	noAccess string // no credentials for the customer's key
	noUse    string // the key cannot be used (state, usage)
}

func (r *run) steps() []func(context.Context) {
	return []func(context.Context){
		r.checkRegion, r.checkKeyARN, r.checkAlias, r.checkKeyRegion, r.checkKeyAccount,
		r.checkRole, r.checkExternalID, r.checkConfusedDeputy,
		r.checkDescribe, r.checkSpec, r.checkState, r.checkMultiRegion,
		r.checkGenerateDataKey, r.checkEncrypt, r.checkDecrypt, r.checkReEncrypt, r.checkPublicKey, r.checkTenantBinding,
		r.checkReplicas, r.checkRotation, r.checkGrants,
	}
}

func (r *run) add(c *Check) *Check {
	r.rep.Checks = append(r.rep.Checks, c)
	return c
}

func (r *run) pass(id, msg string) *Check {
	return r.add(&Check{ID: id, Status: Pass, Code: "ok", Message: msg})
}

func (r *run) fail(id, code, msg, fix string) *Check {
	return r.add(&Check{ID: id, Status: Fail, Code: code, Message: msg, Fix: fix})
}

// skipped records id as skipped when one of reasons is set, and reports
// whether it did.
func (r *run) skipped(id string, reasons ...string) bool {
	for _, why := range reasons {
		if why != "" {
			r.add(&Check{ID: id, Status: Skipped, Code: "skipped", Message: "not checked: " + why})
			return true
		}
	}
	return false
}

func (r *run) timeout() time.Duration {
	if r.v.CallTimeout > 0 {
		return r.v.CallTimeout
	}
	return 10 * time.Second
}

// call runs one AWS call under the per-call timeout.
func call[T any](ctx context.Context, r *run, f func(context.Context) (T, error)) (T, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout())
	defer cancel()
	return f(ctx)
}

func (r *run) awsConfig(region string, creds aws.CredentialsProvider) aws.Config {
	cfg := r.v.AWS.Copy()
	cfg.Region = region
	cfg.Credentials = creds
	return cfg
}

func (r *run) kms(region string) *kms.Client {
	return kms.NewFromConfig(r.awsConfig(region, r.creds))
}

func (r *run) sts() *sts.Client {
	return sts.NewFromConfig(r.awsConfig(r.region.Name, r.v.AWS.Credentials))
}

// sessionCredentials turns AssumeRole's answer into a provider.
func sessionCredentials(out *sts.AssumeRoleOutput) aws.CredentialsProvider {
	c := out.Credentials
	return credentials.NewStaticCredentialsProvider(aws.ToString(c.AccessKeyId), aws.ToString(c.SecretAccessKey), aws.ToString(c.SessionToken))
}

// errorCode is the AWS error code of err, or "".
func errorCode(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorCode()
	}
	return ""
}

func requestID(err error) string {
	var re *awshttp.ResponseError
	if errors.As(err, &re) {
		return re.ServiceRequestID()
	}
	return ""
}

func isDenied(err error) bool {
	code := errorCode(err)
	return code == "AccessDeniedException" || code == "AccessDenied"
}

// deniedActionRe finds the action in AWS's denial message ("... is not
// authorized to perform: kms:ReEncryptFrom on resource: ...").
var deniedActionRe = regexp.MustCompile(`perform: ((?:kms|sts):[A-Za-z*]+)`)

// deniedAction is the action AWS says was refused, or fallback.
func deniedAction(err error, fallback string) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		if m := deniedActionRe.FindStringSubmatch(ae.ErrorMessage()); m != nil {
			return m[1]
		}
	}
	return fallback
}

// errorMessage is AWS's message for err, bounded.
func errorMessage(err error) string {
	var ae smithy.APIError
	msg := err.Error()
	if errors.As(err, &ae) {
		msg = ae.ErrorCode() + ": " + ae.ErrorMessage()
	}
	if len(msg) > 400 {
		msg = msg[:400] + "…"
	}
	return msg
}

// sessionName is the role session name of validation calls, which the
// customer's CloudTrail shows: byok-validate-<tenant>, within STS's rules.
func sessionName(tenantID string) string {
	n := "byok-validate-" + strings.Map(func(c rune) rune {
		if strings.ContainsRune("+=,.@-_", c) || ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9') {
			return c
		}
		return '-'
	}, tenantID)
	return n[:min(len(n), 64)]
}
