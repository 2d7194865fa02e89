package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
)

// The customer side of TestServeMinimalPermissions: keys and a role granting
// the platform exactly what vendors' BYOK guides grant.
const (
	minPlatformAcct = "111111111111"
	minCustomerAcct = "222222222222"
	minRegion       = "eu-west-1"
	minSymOld       = "0c0d0e0f-1111-4222-8333-444455556666"
	minSymNew       = "0c0d0e0f-2222-4222-8333-444455556666"
	minRSAOld       = "0c0d0e0f-3333-4222-8333-444455556666"
	minRSANew       = "0c0d0e0f-4444-4222-8333-444455556666"
	minExternalID   = "ext-globex-0123456789"
)

func minKeyARN(id string) string {
	return "arn:aws:kms:" + minRegion + ":" + minCustomerAcct + ":key/" + id
}

var minRoleARN = "arn:aws:iam::" + minCustomerAcct + ":role/byok-globex"

// grantExactly is a policy allowing principal (none for a role's own
// policy) exactly actions, with no condition; a key policy also keeps the
// account root's kms:*.
func grantExactly(principal string, actions ...string) string {
	st := []map[string]any{{"Sid": "Vendor", "Effect": "Allow", "Action": actions, "Resource": "*"}}
	if principal != "" {
		st[0]["Principal"] = map[string]any{"AWS": principal}
		st = append(st, map[string]any{"Sid": "Root", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
			"Principal": map[string]any{"AWS": "arn:aws:iam::" + minCustomerAcct + ":root"}})
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": st})
	return string(b)
}

// minimalWorld: two symmetric keys whose policies grant the platform's
// account only Encrypt, Decrypt, GenerateDataKey* and DescribeKey; two RSA
// keys with KMS's default policy, reached through a role allowing only
// Encrypt, Decrypt, GetPublicKey and DescribeKey.
func minimalWorld() *awsemu.World {
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`
	sym := grantExactly("arn:aws:iam::"+minPlatformAcct+":root", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey")
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + minPlatformAcct + `:root"},
	  "Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"` + minExternalID + `"}}}]}`
	return &awsemu.World{Regions: []string{minRegion}, Accounts: []awsemu.Account{
		{ID: minPlatformAcct, Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001",
			SecretAccessKey: "platform-secret", Policies: map[string]string{"byok": all}}}},
		{ID: minCustomerAcct,
			Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIACUSTOMERADMIN001", SecretAccessKey: "admin-secret",
				Policies: map[string]string{"all": all}}},
			Keys: []awsemu.Key{
				{ID: minSymOld, Region: minRegion, Policy: sym}, {ID: minSymNew, Region: minRegion, Policy: sym},
				{ID: minRSAOld, Region: minRegion, Spec: "RSA_2048"}, {ID: minRSANew, Region: minRegion, Spec: "RSA_2048"},
			},
			Roles: []awsemu.Role{{Name: "byok-globex", TrustPolicy: trust,
				Policies: map[string]string{"vendor": grantExactly("", "kms:Encrypt", "kms:Decrypt", "kms:GetPublicKey", "kms:DescribeKey")}}},
		},
	}}
}

// runCLI runs the CLI with args against the server of BYOK_URL and returns
// its exit code and output.
func runCLI(ctx context.Context, args ...string) (int, string) {
	var out bytes.Buffer
	var errs lockedBuffer
	code := run(ctx, &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errs}, args)
	return code, out.String() + errs.String()
}

func mustCLI(t *testing.T, ctx context.Context, args ...string) string {
	t.Helper()
	code, out := runCLI(ctx, args...)
	if code != exitOK {
		t.Fatalf("byok %s exited %d:\n%s", strings.Join(args, " "), code, out)
	}
	return out
}

// TestServeMinimalPermissions: through byok serve and the CLI, a tenant
// whose key policy grants only Encrypt, Decrypt, GenerateDataKey* and
// DescribeKey validates with a warning, is enabled, and has its key
// changed without any ReEncrypt; so does an RSA tenant whose role allows
// only Encrypt, Decrypt, GetPublicKey and DescribeKey. With the old keys
// disabled, a restarted server opens what was sealed before the change.
func TestServeMinimalPermissions(t *testing.T) {
	dir := t.TempDir()
	emu := awsemu.NewTestServer(t, minimalWorld())
	platformYAML := "regions:\n  - name: " + minRegion + "\n    platform_account_id: \"" + minPlatformAcct + "\"\n" +
		"policy:\n  key_specs: [SYMMETRIC_DEFAULT, RSA_2048]\n  key_binding: changeable\n"
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPLATFORM00000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
	t.Setenv("AWS_REGION", minRegion)
	addr := freeAddr(t)
	db := filepath.Join(dir, "byok.db")
	cfgPath := writeServeFiles(t, dir, addr, db, emu.URL)
	if err := os.WriteFile(filepath.Join(dir, "platform.yaml"), []byte(platformYAML), 0o644); err != nil {
		t.Fatal(err)
	}
	var out, errs lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errs}
	if code := run(context.Background(), c, []string{"token", "bootstrap", "-db", db}); code != exitOK {
		t.Fatalf("token bootstrap exited %d: %s", code, errs.String())
	}
	token := strings.TrimSpace(out.String())
	t.Setenv("BYOK_URL", "http://"+addr)
	t.Setenv("BYOK_TOKEN", token)
	api, _ := client.New(client.Config{URL: "http://" + addr, Token: token})

	sealed := map[string][]byte{}
	serveWhile(t, c, cfgPath, addr, &errs, func(ctx context.Context) {
		sealed["acme"] = enableAndChange(t, ctx, api, emu, "acme", "", minKeyARN(minSymOld), minKeyARN(minSymNew))
		sealed["globex"] = enableAndChange(t, ctx, api, emu, "globex", minRoleARN, minKeyARN(minRSAOld), minKeyARN(minRSANew))
	})
	admin := kmsapi.NewFromConfig(emu.Config(minRegion, emu.Credentials(t, minCustomerAcct, "admin")))
	for _, id := range []string{minSymOld, minRSAOld} {
		if _, err := admin.DisableKey(context.Background(), &kmsapi.DisableKeyInput{KeyId: aws.String(id)}); err != nil {
			t.Fatal(err)
		}
	}
	// A new process has no cached tenant key: it unwraps from the new keys.
	serveWhile(t, c, cfgPath, addr, &errs, func(ctx context.Context) {
		for tenant, ct := range sealed {
			if pt, err := api.Decrypt(ctx, tenant, ct, nil); err != nil || string(pt) != "sealed before the change" {
				t.Errorf("Decrypt(%s) after the change, old key disabled = %q, %v", tenant, pt, err)
			}
		}
	})
}

// enableAndChange validates, enables and seals a record for tenant under
// oldARN (reached through role, when set), then changes its key to newARN
// with the CLI, and returns the record. The tenant with a role has the RSA
// keys, the other the symmetric ones.
func enableAndChange(t *testing.T, ctx context.Context, api *client.Client, emu *awsemu.TestServer, tenant, role, oldARN, newARN string) []byte {
	t.Helper()
	req, roleFlag := client.CreateTenant{ID: tenant, Name: tenant}, []string{}
	if role != "" {
		req.ExternalID, roleFlag = minExternalID, []string{"--role-arn", role}
	}
	if _, err := api.CreateTenant(ctx, req); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, ctx, append(append([]string{"key", "attach"}, roleFlag...), tenant, minRegion, oldARN)...)
	report := mustCLI(t, ctx, "key", "validate", tenant)
	wantReEncryptLine(t, report, role == "")
	mustCLI(t, ctx, "key", "enable", tenant)
	ct, err := api.Encrypt(ctx, tenant, []byte("sealed before the change"), nil)
	if err != nil {
		t.Fatal(err)
	}
	emu.ClearEvents()
	changed := mustCLI(t, ctx, append(append([]string{"key", "change"}, roleFlag...), tenant, minRegion, newARN)...)
	if !strings.Contains(changed, oldARN+" -> "+newARN) {
		t.Fatalf("byok key change printed %q, want %s -> %s", changed, oldARN, newARN)
	}
	wantNoReEncrypt(t, emu, newARN, role == "")
	return ct
}

// wantReEncryptLine checks validate's line for kms:ReEncrypt*: a warning
// saying what doing without costs on a symmetric key; not needed on RSA.
func wantReEncryptLine(t *testing.T, report string, symmetric bool) {
	t.Helper()
	mark, want := "i", "kms:ReEncrypt* is not needed with an RSA key"
	if symmetric {
		mark, want = "!", "kms:ReEncryptFrom is not allowed; it is optional: the platform rewraps tenant keys with kms:Decrypt and kms:Encrypt instead, two KMS calls per key version instead of one"
	}
	for _, line := range strings.Split(report, "\n") {
		if f := strings.Fields(line); len(f) > 2 && f[0] == mark && f[1] == "permission:kms:ReEncrypt" && strings.Contains(line, want) {
			return
		}
	}
	t.Fatalf("byok key validate printed\n%s\nwant a line %s permission:kms:ReEncrypt %s", report, mark, want)
}

// wantNoReEncrypt fails if the key change made a ReEncrypt other than the
// validation's denied probe of the new key, or did not wrap under newARN:
// Encrypt for a symmetric key, locally under the public key for RSA.
func wantNoReEncrypt(t *testing.T, emu *awsemu.TestServer, newARN string, symmetric bool) {
	t.Helper()
	wrap := "GetPublicKey"
	if symmetric {
		wrap = "Encrypt"
	}
	wrapped := 0
	for _, ev := range emu.Events() {
		if ev.EncryptionContext["byok:purpose"] == "validation" || strings.Contains(ev.UserIdentity.ARN, "/byok-validate-") {
			continue // the validation of the new key
		}
		if ev.EventName == "ReEncrypt" {
			t.Errorf("the key change made a ReEncrypt: %+v", ev)
		}
		if ev.EventName == wrap && ev.ErrorCode == "" && slices.Contains(ev.Resources, newARN) {
			wrapped++
		}
	}
	if wrapped == 0 {
		t.Errorf("the key change made no %s on %s: %+v", wrap, newARN, emu.Events())
	}
}
