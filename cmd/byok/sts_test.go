package main

import (
	"context"
	"errors"
	"net/http"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
)

// The customer of TestServeColdTenantAfterSTSOutage: a key reached only
// through a role assumed with an external id, and a key whose policy names
// the platform's account.
const (
	stsRoleName   = "byok-initech"
	stsExternalID = "ext-initech-0123456789"
	stsRoleKey    = "0c0d0e0f-5555-4222-8333-444455556666"
	stsDirectKey  = "0c0d0e0f-6666-4222-8333-444455556666"
)

var stsRoleARN = "arn:aws:iam::" + minCustomerAcct + ":role/" + stsRoleName

func roleWorld() *awsemu.World {
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`
	trust := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + minPlatformAcct + `:root"},
	  "Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"` + stsExternalID + `"}}}]}`
	direct := grantExactly("arn:aws:iam::"+minPlatformAcct+":root", "kms:*")
	return &awsemu.World{Regions: []string{minRegion}, Accounts: []awsemu.Account{
		{ID: minPlatformAcct, Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001",
			SecretAccessKey: "platform-secret", Policies: map[string]string{"byok": all}}}},
		{ID: minCustomerAcct,
			Keys:  []awsemu.Key{{ID: stsRoleKey, Region: minRegion}, {ID: stsDirectKey, Region: minRegion, Policy: direct}},
			Roles: []awsemu.Role{{Name: stsRoleName, TrustPolicy: trust, Policies: map[string]string{"kms": grantExactly("", "kms:*")}}},
		},
	}}
}

// TestServeColdTenantAfterSTSOutage: through byok serve and the client, a
// tenant reached through a role whose key is not cached (a new process)
// fails with 503 kms_unreachable or 429 kms_throttled while STS is down or
// throttling, a tenant reaching its key directly in the same region is
// served meanwhile, and the role tenant's first request once STS is back
// succeeds. Before, STS's failures opened the region's circuit breaker,
// and every cold tenant of the region got 503s for its 30 s cool-down.
func TestServeColdTenantAfterSTSOutage(t *testing.T) {
	dir := t.TempDir()
	emu := awsemu.NewTestServer(t, roleWorld())
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPLATFORM00000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
	t.Setenv("AWS_REGION", minRegion)
	addr := freeAddr(t)
	db := filepath.Join(dir, "byok.db")
	cfgPath := writeServeFiles(t, dir, addr, db, emu.URL)
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
		sealed["initech"] = onboard(t, ctx, api, "initech", stsRoleARN, minKeyARN(stsRoleKey))
		sealed["hooli"] = onboard(t, ctx, api, "hooli", "", minKeyARN(stsDirectKey))
	})
	for _, fault := range []struct {
		kind   awsemu.FaultKind
		status int
		code   string
	}{
		{awsemu.FaultUnavailable, http.StatusServiceUnavailable, "kms_unreachable"},
		{awsemu.FaultThrottle, http.StatusTooManyRequests, "kms_throttled"},
	} {
		// Each time a new process: no tenant key and no role session cached.
		serveWhile(t, c, cfgPath, addr, &errs, func(ctx context.Context) {
			if err := emu.SetFaults([]awsemu.Fault{{Kind: fault.kind, Operation: "AssumeRole"}}); err != nil {
				t.Fatal(err)
			}
			for range 8 { // more than the breaker's 5 failures in a row
				_, err := api.Decrypt(ctx, "initech", sealed["initech"], nil)
				var ce *client.Error
				if !errors.As(err, &ce) || ce.Status != fault.status || ce.Code != fault.code {
					t.Fatalf("STS %s: Decrypt = %v, want %d %s", fault.kind, err, fault.status, fault.code)
				}
			}
			if pt, err := api.Decrypt(ctx, "hooli", sealed["hooli"], nil); err != nil || string(pt) != "sealed" {
				t.Fatalf("STS %s: the direct tenant's Decrypt = %q, %v; want it served", fault.kind, pt, err)
			}
			if err := emu.SetFaults(nil); err != nil {
				t.Fatal(err)
			}
			if pt, err := api.Decrypt(ctx, "initech", sealed["initech"], nil); err != nil || string(pt) != "sealed" {
				t.Fatalf("STS %s, then back: the first Decrypt = %q, %v; want it served", fault.kind, pt, err)
			}
		})
	}
}

// onboard creates tenant with its key (through role, when set), enables
// it and returns a record sealed under it.
func onboard(t *testing.T, ctx context.Context, api *client.Client, tenant, role, keyARN string) []byte {
	t.Helper()
	req, attach := client.CreateTenant{ID: tenant, Name: tenant}, []string{"key", "attach"}
	if role != "" {
		req.ExternalID, attach = stsExternalID, append(attach, "--role-arn", role)
	}
	if _, err := api.CreateTenant(ctx, req); err != nil {
		t.Fatal(err)
	}
	mustCLI(t, ctx, append(attach, tenant, minRegion, keyARN)...)
	mustCLI(t, ctx, "key", "enable", tenant)
	ct, err := api.Encrypt(ctx, tenant, []byte("sealed"), nil)
	if err != nil {
		t.Fatal(err)
	}
	return ct
}
