package awskms_test

import (
	"context"
	"crypto/rand"
	"errors"
	"slices"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

const (
	platformAcct = "111111111111"
	customerAcct = "222222222222"
	euWest1      = "eu-west-1"
	usEast1      = "us-east-1"
	euCentral1   = "eu-central-1"

	symKey     = "0a1b2c3d-1111-4222-8333-444455556666"
	symKey2    = "0a1b2c3d-2222-4222-8333-444455556666"
	symKeyUS   = "0a1b2c3d-3333-4222-8333-444455556666"
	rsaKey     = "0a1b2c3d-4444-4222-8333-444455556666"
	rsaKey2    = "0a1b2c3d-5555-4222-8333-444455556666"
	roleKey    = "0a1b2c3d-6666-4222-8333-444455556666"
	missingKey = "0a1b2c3d-9999-4222-8333-444455556666"
	mrkKey     = "mrk-0123456789abcdef0123456789abcdef"
	rsaMRK     = "mrk-fedcba9876543210fedcba9876543210"

	tenantAlias = "alias/acme"
	roleName    = "byok-tenant"
	externalID  = "ext-acme-42"
)

var roleARN = "arn:aws:iam::" + customerAcct + ":role/" + roleName

// ownerStatement lets the customer account's IAM policies use the key.
const ownerStatement = `{"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"}`

// platformStatement is what the customer grants the platform's account.
const platformStatement = `{"Sid":"Platform","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},
  "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey","kms:GetPublicKey"],"Resource":"*"}`

func keyPolicy(statements ...string) string {
	doc := `{"Version":"2012-10-17","Statement":[`
	for i, s := range statements {
		if i > 0 {
			doc += ","
		}
		doc += s
	}
	return doc + "]}"
}

// world is the platform's account and one customer's, whose keys the
// platform may use directly (key policy) or through role byok-tenant with
// external id ext-acme-42. RSA keys are added only when asked for: their
// generation is the slow part of starting an emulator.
func world(withRSA bool) *awsemu.World {
	direct := keyPolicy(ownerStatement, platformStatement)
	keys := []awsemu.Key{
		{ID: symKey, Region: euWest1, Policy: direct, Aliases: []string{tenantAlias}},
		{ID: symKey2, Region: euWest1, Policy: direct},
		{ID: symKeyUS, Region: usEast1, Policy: direct},
		{ID: roleKey, Region: euWest1, Policy: keyPolicy(ownerStatement)},
		{ID: mrkKey, Region: euWest1, Policy: direct, MultiRegion: true, Replicas: []string{usEast1, euCentral1}},
	}
	if withRSA {
		keys = append(keys,
			awsemu.Key{ID: rsaKey, Region: euWest1, Spec: "RSA_2048", Policy: direct},
			awsemu.Key{ID: rsaKey2, Region: euWest1, Spec: "RSA_2048", Policy: direct},
			awsemu.Key{ID: rsaMRK, Region: euWest1, Spec: "RSA_2048", Policy: direct, MultiRegion: true, Replicas: []string{usEast1}},
		)
	}
	return &awsemu.World{
		Regions: []string{euWest1, usEast1, euCentral1},
		Accounts: []awsemu.Account{
			{ID: platformAcct, Users: []awsemu.User{{
				Name: "platform", AccessKeyID: "AKIAPLATFORM00000001", SecretAccessKey: "platform-secret",
				Policies: map[string]string{"byok": `{"Version":"2012-10-17","Statement":[
				  {"Effect":"Allow","Action":"sts:AssumeRole","Resource":"*"},
				  {"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`},
			}}},
			{ID: customerAcct, Keys: keys,
				Users: []awsemu.User{{
					Name: "admin", AccessKeyID: "AKIACUSTOMERADMIN001", SecretAccessKey: "admin-secret",
					Policies: map[string]string{"all": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`},
				}},
				Roles: []awsemu.Role{{
					Name: roleName,
					TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
					  "Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":"sts:AssumeRole",
					  "Condition":{"StringEquals":{"sts:ExternalId":"ext-acme-42"}}}]}`,
					Policies: map[string]string{"kms": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow",
					  "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey","kms:GetPublicKey"],"Resource":"*"}]}`},
				}},
			},
		},
	}
}

// env is an emulator and a provider using it as the platform.
type env struct {
	ts  *awsemu.TestServer
	p   *awskms.Provider
	cfg awskms.Config
}

var ctx = context.Background()

func newEnv(t testing.TB, withRSA bool, configure ...func(*awskms.Config)) *env {
	t.Helper()
	ts := awsemu.NewTestServer(t, world(withRSA))
	ikey := make([]byte, awskms.IntegrityKeySize)
	rand.Read(ikey)
	cfg := awskms.Config{
		AWS:          ts.Config(euWest1, ts.Credentials(t, platformAcct, "platform")),
		Retry:        awskms.RetryPolicy{MaxAttempts: 3, BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond},
		CallTimeout:  5 * time.Second,
		IntegrityKey: ikey,
		Clock:        ts.Now,
	}
	for _, f := range configure {
		f(&cfg)
	}
	p, err := awskms.New(ctx, cfg)
	if err != nil {
		t.Fatalf("New() err = %v", err)
	}
	return &env{ts: ts, p: p, cfg: cfg}
}

func keyARN(region, id string) string {
	return "arn:aws:kms:" + region + ":" + customerAcct + ":key/" + id
}

// ref is a direct reference to a customer key in eu-west-1.
func ref(id string) kms.KeyRef { return refIn(euWest1, id) }

func refIn(region, id string) kms.KeyRef {
	return kms.KeyRef{Provider: awskms.ProviderName, ID: keyARN(region, id)}
}

// viaRole is ref reached through the customer's role.
func viaRole(r kms.KeyRef, extID string) kms.KeyRef {
	r.RoleARN, r.ExternalID = roleARN, extID
	return r
}

func aliasRef() kms.KeyRef {
	return kms.KeyRef{Provider: awskms.ProviderName, ID: "arn:aws:kms:eu-west-1:" + customerAcct + ":" + tenantAlias}
}

func identity(tenant string, v uint32) kms.Identity {
	return kms.Identity{Tenant: tenant, Version: v, Purpose: kms.PurposeTenantKey}
}

// admin is a KMS client for the customer's administrator.
func (e *env) admin(t testing.TB, region string) *kmsapi.Client {
	return kmsapi.NewFromConfig(e.ts.Config(region, e.ts.Credentials(t, customerAcct, "admin")))
}

func (e *env) generate(t testing.TB, r kms.KeyRef, b kms.Identity) *kms.Wrapped {
	t.Helper()
	key, w, err := e.p.GenerateAndWrap(ctx, r, b)
	if err != nil {
		t.Fatalf("GenerateAndWrap(%v) err = %v", r, err)
	}
	key.Destroy()
	return w
}

func (e *env) setFaults(t testing.TB, rules ...awsemu.Fault) {
	t.Helper()
	if err := e.ts.SetFaults(rules); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.ts.SetFaults(nil) })
}

// events returns the logged requests named op ("" for all) in region ("" for
// all).
func (e *env) events(op, region string) []awsemu.Event {
	var out []awsemu.Event
	for _, ev := range e.ts.Events() {
		if (op == "" || ev.EventName == op) && (region == "" || ev.AWSRegion == region) {
			out = append(out, ev)
		}
	}
	return out
}

// wantClass fails unless err is a *kms.Error of class want whose request id,
// when wantID, is one the emulator logged.
func (e *env) wantClass(t testing.TB, err error, want kms.Class, wantID bool) *kms.Error {
	t.Helper()
	var ke *kms.Error
	if !errors.As(err, &ke) {
		t.Fatalf("err = %v (%T), want a *kms.Error of class %v", err, err, want)
	}
	if ke.Class != want {
		t.Fatalf("err = %v, want class %v", err, want)
	}
	if !wantID {
		return ke
	}
	logged := slices.ContainsFunc(e.ts.Events(), func(ev awsemu.Event) bool { return ev.RequestID == ke.RequestID })
	if ke.RequestID == "" || !logged {
		t.Fatalf("err = %v: request id %q is not one the emulator logged", err, ke.RequestID)
	}
	return ke
}

func mustDo[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

var _ = aws.String
