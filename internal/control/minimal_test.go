package control

import (
	"crypto/rand"
	"encoding/json"
	"maps"
	"testing"
	"time"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms/awskms"
)

// vendorPolicy is a policy as vendors' BYOK guides write it: the account
// root keeps kms:*, and principal (when set) gets exactly actions, with no
// condition.
func vendorPolicy(principal string, actions ...string) string {
	st := []map[string]any{{"Sid": "VendorAccess", "Effect": "Allow", "Action": actions, "Resource": "*"}}
	if principal != "" {
		st[0]["Principal"] = map[string]any{"AWS": principal}
		st = append(st, map[string]any{"Sid": "Root", "Effect": "Allow", "Action": "kms:*", "Resource": "*",
			"Principal": map[string]any{"AWS": "arn:aws:iam::" + customerAcct + ":root"}})
	}
	b, _ := json.Marshal(map[string]any{"Version": "2012-10-17", "Statement": st})
	return string(b)
}

// kmsOps counts the successful KMS requests of the emulator's log by name.
func kmsOps(ts *awsemu.TestServer) map[string]int {
	out := map[string]int{}
	for _, ev := range ts.Events() {
		if ev.EventSource == "kms.amazonaws.com" && ev.ErrorCode == "" {
			out[ev.EventName]++
		}
	}
	return out
}

// A symmetric tenant whose keys grant only Encrypt, Decrypt,
// GenerateDataKey* and DescribeKey is enabled, and its key changed with
// Decrypt and Encrypt: no ReEncrypt is made, and every record opens from
// the new key alone.
func TestMinimalPolicyEnableAndChangeKey(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	minimal := vendorPolicy("arn:aws:iam::"+platformAcct+":root", "kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey*", "kms:DescribeKey")
	for _, id := range []string{mrkID, mrk2ID} {
		e.putPolicy(t, customerAcct, id, minimal, home, replica, usEast, apSouth)
	}
	e.enable(t, "acme", home, mrkARN)
	recs := sealN(t, e.keyringIn(t, home), "acme", 2)
	if _, err := e.svc.RotateTenantKey(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	recs = append(recs, sealN(t, e.keyringIn(t, home), "acme", 1)...)

	e.ts.ClearEvents()
	res, err := e.svc.ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: mrk2ARN})
	if err != nil {
		t.Fatalf("ChangeKey() with a minimal key policy err = %v", err)
	}
	if res.Wrapped != 4 || res.Dropped != 2 {
		t.Fatalf("ChangeKey() = %+v; want 2 versions x 2 regions wrapped, 2 dropped", res)
	}
	wantWarning(t, res.Reports[0].Report.Check("permission:kms:ReEncrypt"))
	ops := kmsOps(e.ts)
	if ops["ReEncrypt"] != 0 || ops["Encrypt"] < 4 {
		t.Fatalf("KMS requests of the key change = %v; want no ReEncrypt, an Encrypt per version and region", ops)
	}
	disable(t, e, customerAcct, mrkID, home, replica)
	openAll(t, e.keyringIn(t, home), "acme", recs)
}

func wantWarning(t *testing.T, c *onboarding.Check) {
	t.Helper()
	if c == nil || c.Status != onboarding.Warn || c.Code != onboarding.CodeOptionalPermissionMissing || c.Action != "kms:ReEncryptFrom" {
		t.Fatalf("ReEncrypt check = %+v, want a warning naming kms:ReEncryptFrom", c)
	}
}

const (
	rsaOldID      = "0b0c0d0e-1111-4222-8333-444455556666"
	rsaNewID      = "0b0c0d0e-2222-4222-8333-444455556666"
	rsaExternalID = "ext-acme-rsa-0123456789"
)

var rsaRoleARN = "arn:aws:iam::" + customerAcct + ":role/byok-acme"

const rsaConfig = `regions:
  - name: eu-west-1
    platform_account_id: "111111111111"
policy:
  key_specs: [RSA_2048]
  key_binding: changeable
`

// rsaWorld has two RSA keys with KMS's default policy and a role whose
// policy allows exactly Encrypt, Decrypt, GetPublicKey and DescribeKey.
func rsaWorld() *awsemu.World {
	w := defaultWorld()
	w.Regions = []string{home}
	c := &w.Accounts[1]
	c.Keys = []awsemu.Key{{ID: rsaOldID, Region: home, Spec: "RSA_2048"}, {ID: rsaNewID, Region: home, Spec: "RSA_2048"}}
	c.Roles = []awsemu.Role{{Name: "byok-acme",
		TrustPolicy: `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::` + platformAcct + `:root"},
		  "Action":"sts:AssumeRole","Condition":{"StringEquals":{"sts:ExternalId":"` + rsaExternalID + `"}}}]}`,
		Policies: map[string]string{"vendor": vendorPolicy("", "kms:Encrypt", "kms:Decrypt", "kms:GetPublicKey", "kms:DescribeKey")}}}
	return w
}

// withIntegrityKey gives e an AWS provider that can wrap under RSA keys.
func (e *env) withIntegrityKey(t *testing.T) {
	t.Helper()
	ikey := make([]byte, awskms.IntegrityKeySize)
	rand.Read(ikey)
	p, err := awskms.New(ctx, awskms.Config{AWS: e.ts.Config(home, e.ts.Credentials(t, platformAcct, "platform")),
		CallTimeout: 5 * time.Second, IntegrityKey: ikey})
	if err != nil {
		t.Fatal(err)
	}
	e.cfg.Providers = maps.Clone(e.cfg.Providers)
	e.cfg.Providers[awskms.ProviderName] = p
	if e.svcCfg.Keyring, err = keyring.New(e.cfg); err != nil {
		t.Fatal(err)
	}
	if e.svc, err = New(e.svcCfg); err != nil {
		t.Fatal(err)
	}
}

// An RSA tenant whose role allows exactly Encrypt, Decrypt, GetPublicKey
// and DescribeKey is enabled and its key changed; records sealed before the
// change open from the new key alone.
func TestMinimalRSARoleEnableAndChangeKey(t *testing.T) {
	e := newEnvWith(t, envOptions{config: rsaConfig, world: rsaWorld()})
	e.withIntegrityKey(t)
	oldARN, newARN := "arn:aws:kms:"+home+":"+customerAcct+":key/"+rsaOldID, "arn:aws:kms:"+home+":"+customerAcct+":key/"+rsaNewID
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "acme", Name: "Acme", ExternalID: rsaExternalID}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AttachKey(ctx, Attach{Tenant: "acme", Region: home, KeyARN: oldARN, RoleARN: rsaRoleARN}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Enable(ctx, "acme"); err != nil {
		t.Fatalf("Enable() with a minimal RSA role err = %v", err)
	}
	recs := sealN(t, e.keyringIn(t, home), "acme", 2)
	e.ts.ClearEvents()
	res, err := e.svc.ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: newARN, RoleARN: rsaRoleARN})
	if err != nil {
		t.Fatalf("ChangeKey() with a minimal RSA role err = %v", err)
	}
	if res.Wrapped != 1 || res.Dropped != 1 || res.To != newARN {
		t.Fatalf("ChangeKey() = %+v; want the one version moved to %s", res, newARN)
	}
	if c := res.Reports[0].Report.Check("permission:kms:ReEncrypt"); c == nil || c.Status != onboarding.Info || c.Code != onboarding.CodeNotNeeded {
		t.Fatalf("ReEncrypt check = %+v, want info not_needed", c)
	}
	if ops := kmsOps(e.ts); ops["ReEncrypt"] != 0 {
		t.Fatalf("KMS requests of the key change = %v; want no ReEncrypt", ops)
	}
	disable(t, e, customerAcct, rsaOldID, home)
	openAll(t, e.keyringIn(t, home), "acme", recs)
}
