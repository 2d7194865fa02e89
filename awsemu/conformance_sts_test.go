package awsemu_test

import (
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/aws/aws-sdk-go-v2/service/sts"
)

const (
	byokRole = "arn:aws:iam::222222222222:role/byok-access"
	openRole = "arn:aws:iam::222222222222:role/open-role"
)

func TestSTSGetCallerIdentity(t *testing.T) {
	e := newEnv(t)
	out := must[*sts.GetCallerIdentityOutput](t)(e.sts(t, usEast1, customerAcct, "admin").GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{}))
	if *out.Arn != "arn:aws:iam::222222222222:user/admin" || *out.Account != customerAcct || !strings.HasPrefix(*out.UserId, "AIDA") {
		t.Fatalf("GetCallerIdentity() = %s %s %s", *out.Arn, *out.Account, *out.UserId)
	}
	ar := must[*sts.AssumeRoleOutput](t)(e.sts(t, euWest1, platformAcct, "platform").AssumeRole(e.ctx, &sts.AssumeRoleInput{
		RoleArn: aws.String(openRole), RoleSessionName: aws.String("probe"),
	}))
	if got, want := *ar.AssumedRoleUser.Arn, "arn:aws:sts::222222222222:assumed-role/open-role/probe"; got != want {
		t.Fatalf("AssumedRoleUser.Arn = %s, want %s", got, want)
	}
	if !strings.HasPrefix(*ar.Credentials.AccessKeyId, "ASIA") || time.Until(*ar.Credentials.Expiration) < 59*time.Minute {
		t.Fatalf("Credentials = %s expiring %v", *ar.Credentials.AccessKeyId, ar.Credentials.Expiration)
	}
	c := ar.Credentials
	sc := sts.NewFromConfig(e.ts.Config(euWest1, aws.Credentials{AccessKeyID: *c.AccessKeyId, SecretAccessKey: *c.SecretAccessKey, SessionToken: *c.SessionToken}))
	who := must[*sts.GetCallerIdentityOutput](t)(sc.GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{}))
	if *who.Arn != *ar.AssumedRoleUser.Arn || *who.UserId != *ar.AssumedRoleUser.AssumedRoleId || *who.Account != customerAcct {
		t.Fatalf("GetCallerIdentity() as role = %s %s %s", *who.Arn, *who.UserId, *who.Account)
	}
}

func TestSTSAssumeRoleExternalID(t *testing.T) {
	e := newEnv(t)
	tests := []struct {
		name, user, role, externalID string
		wantCode                     string // "" = success
	}{
		{"external id matches", "platform", byokRole, "tenant-42", ""},
		{"wrong external id", "platform", byokRole, "tenant-43", "AccessDenied"},
		{"missing external id", "platform", byokRole, "", "AccessDenied"},
		{"no external id condition", "platform", openRole, "", ""},
		{"external id without condition", "platform", openRole, "anything", ""},
		{"cross-account caller without identity policy", "nobody", openRole, "", "AccessDenied"},
		{"unknown role", "platform", "arn:aws:iam::222222222222:role/none", "", "AccessDenied"},
		{"malformed role arn", "platform", "arn:aws:iam::2222:role/x", "", "ValidationError"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := &sts.AssumeRoleInput{RoleArn: aws.String(tt.role), RoleSessionName: aws.String("s1")}
			if tt.externalID != "" {
				in.ExternalId = aws.String(tt.externalID)
			}
			_, err := e.sts(t, euWest1, platformAcct, tt.user).AssumeRole(e.ctx, in)
			if tt.wantCode == "" {
				if err != nil {
					t.Fatalf("AssumeRole() err = %v, want success", err)
				}
				return
			}
			wantCode(t, err, tt.wantCode)
			if tt.wantCode == "AccessDenied" && !strings.Contains(err.Error(), "is not authorized to perform: sts:AssumeRole on resource: "+tt.role) {
				t.Fatalf("AssumeRole() err = %v, want AWS's AccessDenied message", err)
			}
		})
	}
}

func TestSTSAssumeRoleValidation(t *testing.T) {
	e := newEnv(t)
	c := e.sts(t, euWest1, platformAcct, "platform")
	for name, in := range map[string]*sts.AssumeRoleInput{
		"duration over max":  {RoleArn: aws.String(openRole), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(7200)},
		"duration too short": {RoleArn: aws.String(openRole), RoleSessionName: aws.String("s1"), DurationSeconds: aws.Int32(60)},
		"bad session name":   {RoleArn: aws.String(openRole), RoleSessionName: aws.String("a b")},
		"session policy":     {RoleArn: aws.String(openRole), RoleSessionName: aws.String("s1"), Policy: aws.String("{}")},
	} {
		t.Run(name, func(t *testing.T) {
			_, err := c.AssumeRole(e.ctx, in)
			wantCode(t, err, "ValidationError")
		})
	}
}

func TestSessionExpiry(t *testing.T) {
	e := newEnv(t)
	r := e.assume(t, euWest1, byokRole, "tenant-42")
	if _, err := r.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(tenantKey)}); err != nil {
		t.Fatalf("DescribeKey() err = %v", err)
	}
	e.ts.Advance(time.Hour + time.Second)
	_, err := r.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(tenantKey)})
	wantCode(t, err, "ExpiredTokenException")
	// However long ago it expired, as AWS's self-contained tokens do.
	for _, later := range []time.Duration{25 * time.Hour, 90 * 24 * time.Hour} {
		e.ts.Advance(later)
		_, err = r.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(tenantKey)})
		wantCode(t, err, "ExpiredTokenException")
	}
}

// A token altered, or presented with another session's access key, is not
// a session's: it is refused as unrecognized, expired or not.
func TestSessionTokenForged(t *testing.T) {
	e := newEnv(t)
	in := &sts.AssumeRoleInput{RoleArn: aws.String(byokRole), RoleSessionName: aws.String("byok"), ExternalId: aws.String("tenant-42")}
	st := e.sts(t, euWest1, platformAcct, "platform")
	a := must[*sts.AssumeRoleOutput](t)(st.AssumeRole(e.ctx, in)).Credentials
	b := must[*sts.AssumeRoleOutput](t)(st.AssumeRole(e.ctx, in)).Credentials
	tok := []byte(*a.SessionToken)
	tok[20] ^= 1
	for name, creds := range map[string]aws.Credentials{
		"altered token":       {AccessKeyID: *a.AccessKeyId, SecretAccessKey: *a.SecretAccessKey, SessionToken: string(tok)},
		"another key's token": {AccessKeyID: *a.AccessKeyId, SecretAccessKey: *a.SecretAccessKey, SessionToken: *b.SessionToken},
	} {
		for _, after := range []time.Duration{0, 30 * 24 * time.Hour} {
			e.ts.Advance(after)
			c := kms.NewFromConfig(e.ts.Config(euWest1, creds))
			_, err := c.DescribeKey(e.ctx, &kms.DescribeKeyInput{KeyId: aws.String(tenantKey)})
			t.Run(name, func(t *testing.T) { wantCode(t, err, "UnrecognizedClientException") })
		}
	}
}

func TestAuthenticationErrors(t *testing.T) {
	e := newEnv(t)
	good := e.ts.Credentials(t, customerAcct, "admin")
	tests := []struct {
		name     string
		region   string
		creds    aws.Credentials
		kmsCode  string
		stsCode  string
		tokenSet bool
	}{
		{"unknown access key", euWest1, aws.Credentials{AccessKeyID: "AKIAUNKNOWN000000000", SecretAccessKey: "x"}, "UnrecognizedClientException", "InvalidClientTokenId", false},
		{"wrong secret", euWest1, aws.Credentials{AccessKeyID: good.AccessKeyID, SecretAccessKey: "wrong"}, "InvalidSignatureException", "SignatureDoesNotMatch", false},
		{"unknown session token", euWest1, aws.Credentials{AccessKeyID: "ASIANOSUCHSESSION000", SecretAccessKey: "x", SessionToken: "t"}, "UnrecognizedClientException", "InvalidClientTokenId", true},
		{"region not served", "ap-south-1", good, "UnrecognizedClientException", "InvalidClientTokenId", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := e.ts.Config(tt.region, tt.creds)
			_, err := kms.NewFromConfig(cfg).ListKeys(e.ctx, &kms.ListKeysInput{})
			wantCode(t, err, tt.kmsCode)
			_, err = sts.NewFromConfig(cfg).GetCallerIdentity(e.ctx, &sts.GetCallerIdentityInput{})
			wantCode(t, err, tt.stsCode)
		})
	}
}
