package awsemu_test

import (
	"context"
	"errors"
	"os"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
	"github.com/aws/smithy-go"
	"github.com/byok-dev/byok/awsemu"
)

const (
	platformAcct = "111111111111"
	customerAcct = "222222222222"
	tenantKey    = "0a1b2c3d-1111-4222-8333-444455556666"
	mrkKey       = "mrk-0123456789abcdef0123456789abcdef"
	euWest1      = "eu-west-1"
	usEast1      = "us-east-1"
)

func loadWorld(t testing.TB) *awsemu.World {
	t.Helper()
	f, err := os.Open("testdata/world.yaml")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w, err := awsemu.ParseWorld(f)
	if err != nil {
		t.Fatal(err)
	}
	return w
}

// env is an emulator with SDK clients for the test world's users.
type env struct {
	ts  *awsemu.TestServer
	ctx context.Context
}

func newEnv(t testing.TB) *env {
	return &env{ts: awsemu.NewTestServer(t, loadWorld(t)), ctx: context.Background()}
}

func (e *env) kms(t testing.TB, region, acct, user string) *kms.Client {
	return kms.NewFromConfig(e.ts.Config(region, e.ts.Credentials(t, acct, user)))
}

func (e *env) sts(t testing.TB, region, acct, user string) *sts.Client {
	return sts.NewFromConfig(e.ts.Config(region, e.ts.Credentials(t, acct, user)))
}

// admin is the customer account's administrator, allowed kms:* by IAM.
func (e *env) admin(t testing.TB, region string) *kms.Client {
	return e.kms(t, region, customerAcct, "admin")
}

// assume returns a KMS client for a role session.
func (e *env) assume(t testing.TB, region, roleARN, externalID string) *kms.Client {
	t.Helper()
	in := &sts.AssumeRoleInput{RoleArn: aws.String(roleARN), RoleSessionName: aws.String("byok")}
	if externalID != "" {
		in.ExternalId = aws.String(externalID)
	}
	out, err := e.sts(t, region, platformAcct, "platform").AssumeRole(e.ctx, in)
	if err != nil {
		t.Fatalf("AssumeRole() err = %v", err)
	}
	c := out.Credentials
	creds := aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}
	return kms.NewFromConfig(e.ts.Config(region, creds))
}

// wantCode fails unless err is an API error with the given code.
func wantCode(t testing.TB, err error, code string) {
	t.Helper()
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		t.Fatalf("err = %v, want %s", err, code)
	}
	if ae.ErrorCode() != code {
		t.Fatalf("err = %v (code %s), want %s", err, ae.ErrorCode(), code)
	}
}

// wantType fails unless err is (or wraps) a *T, the SDK's typed error.
func wantType[T error](t testing.TB, err error) {
	t.Helper()
	var target T
	if !errors.As(err, &target) {
		t.Fatalf("err = %v (%T), want %T", err, err, target)
	}
}

func must[T any](t testing.TB) func(T, error) T {
	return func(v T, err error) T {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
		return v
	}
}

func apiMessage(err error) string {
	var ae smithy.APIError
	if errors.As(err, &ae) {
		return ae.ErrorMessage()
	}
	return ""
}
