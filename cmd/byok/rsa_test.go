package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
)

// TestServeRSAKey: byok serve can use a customer's RSA key, whose wrappings
// carry an identity tag keyed from the root key file, and a restarted server
// (same root key file) still opens what the first one sealed.
func TestServeRSAKey(t *testing.T) {
	dir := t.TempDir()
	const (
		platformAcct = "111111111111"
		customerAcct = "222222222222"
		region       = "eu-west-1"
		keyID        = "0b0c0d0e-1111-2222-3333-444455556666"
	)
	keyARN := "arn:aws:kms:" + region + ":" + customerAcct + ":key/" + keyID
	platformYAML := "regions:\n  - name: " + region + "\n    platform_account_id: \"" + platformAcct + "\"\npolicy:\n  key_specs: [RSA_2048]\n"
	pcfg, err := platform.Parse(strings.NewReader(platformYAML), nil)
	if err != nil {
		t.Fatal(err)
	}
	m, err := onboarding.NewModel(pcfg, onboarding.Request{TenantID: "acme", Region: region,
		Pattern: platform.Direct, KeyARN: keyARN, KeySpec: platform.KeySpecRSA2048})
	if err != nil {
		t.Fatal(err)
	}
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`
	emu := awsemu.NewTestServer(t, &awsemu.World{Regions: []string{region}, Accounts: []awsemu.Account{
		{ID: platformAcct, Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001",
			SecretAccessKey: "platform-secret", Policies: map[string]string{"byok": all}}}},
		{ID: customerAcct, Keys: []awsemu.Key{{ID: keyID, Region: region, Spec: platform.KeySpecRSA2048,
			Policy: string(m.KeyPolicy().JSON())}}},
	}})
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPLATFORM00000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
	t.Setenv("AWS_REGION", region)

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
	api, _ := client.New(client.Config{URL: "http://" + addr, Token: token})

	var sealed []byte
	serveWhile(t, c, cfgPath, addr, &errs, func(ctx context.Context) {
		if _, err := api.CreateTenant(ctx, client.CreateTenant{ID: "acme", Name: "Acme"}); err != nil {
			t.Fatal(err)
		}
		if _, err := api.AttachKey(ctx, "acme", region, keyARN, ""); err != nil {
			t.Fatal(err)
		}
		if _, err := api.Enable(ctx, "acme"); err != nil {
			t.Fatalf("Enable with an RSA key: %v", err)
		}
		if sealed, err = api.Encrypt(ctx, "acme", []byte("rsa-wrapped"), nil); err != nil {
			t.Fatal(err)
		}
	})
	// A new process has no cached key: it unwraps through KMS, checking the
	// identity tag with a key derived again from the same root key file.
	serveWhile(t, c, cfgPath, addr, &errs, func(ctx context.Context) {
		pt, err := api.Decrypt(ctx, "acme", sealed, nil)
		if err != nil || string(pt) != "rsa-wrapped" {
			t.Fatalf("Decrypt after a restart = %q, %v", pt, err)
		}
	})
}

// serveWhile runs byok serve with cfgPath while f runs, then stops it.
func serveWhile(t *testing.T, c *cli, cfgPath, addr string, errs *lockedBuffer, f func(context.Context)) {
	t.Helper()
	ctx, stop := startServe(t, c, cfgPath, addr, errs)
	defer stop()
	f(ctx)
}
