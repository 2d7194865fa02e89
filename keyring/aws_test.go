package keyring_test

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
	"github.com/byok-dev/byok/kms/localkms"
)

const (
	platformAcct = "111111111111"
	customerAcct = "222222222222"
	region       = "eu-west-1"
	keyID        = "1b2c3d4e-1111-4222-8333-444455556666"
)

var keyARN = "arn:aws:kms:" + region + ":" + customerAcct + ":key/" + keyID

func awsWorld() *awsemu.World {
	policy := `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"Platform","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},
	   "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}]}`
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	return &awsemu.World{
		Regions: []string{region},
		Accounts: []awsemu.Account{
			{ID: platformAcct, Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001",
				SecretAccessKey: "platform-secret", Policies: map[string]string{"kms": all}}}},
			{ID: customerAcct, Keys: []awsemu.Key{{ID: keyID, Region: region, Policy: policy}},
				Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIACUSTOMERADMIN001",
					SecretAccessKey: "admin-secret", Policies: map[string]string{"kms": all}}}},
		},
	}
}

type awsEnv struct {
	ts       *awsemu.TestServer
	store    *keyring.MemStore
	cfg      keyring.Config
	customer *kmsapi.Client
	local    *localkms.Provider
}

func newAWSEnv(t *testing.T) *awsEnv {
	t.Helper()
	ts := awsemu.NewTestServer(t, awsWorld())
	p, err := awskms.New(context.Background(), awskms.Config{
		AWS:         ts.Config(region, ts.Credentials(t, platformAcct, "platform")),
		Retry:       awskms.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond},
		CallTimeout: 5 * time.Second,
		Clock:       ts.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	rootKey, _ := envelope.GenerateTenantKey("platform-root", 1, nil)
	root := &keyfile.File{}
	if err := root.Append(keyfile.Entry{Key: rootKey, Created: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	local, err := localkms.New(root)
	if err != nil {
		t.Fatal(err)
	}
	e := &awsEnv{ts: ts, store: keyring.NewMemStore(), local: local,
		customer: kmsapi.NewFromConfig(ts.Config(region, ts.Credentials(t, customerAcct, "admin")))}
	e.cfg = keyring.Config{
		Providers: map[string]kms.Provider{awskms.ProviderName: p, localkms.ProviderName: local},
		Store:     e.store, Region: region, TTL: time.Minute, Now: ts.Now,
	}
	return e
}

func (e *awsEnv) keyring(t *testing.T) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func (e *awsEnv) count(name string) int {
	n := 0
	for _, ev := range e.ts.Events() {
		if ev.EventName == name && ev.ErrorCode == "" {
			n++
		}
	}
	return n
}

var customerKey = kms.KeyRef{Provider: awskms.ProviderName, ID: keyARN}

// The customer's KMS is called once per tenant per cache window, never per
// record, and a disabled key stops data operations once the cache runs out.
func TestKeyringOverAWSKMS(t *testing.T) {
	e := newAWSEnv(t)
	ctx := context.Background()
	kr := e.keyring(t)
	if _, err := kr.CreateVersion(ctx, "acme", []kms.KeyRef{customerKey}); err != nil {
		t.Fatal(err)
	}
	ec := envelope.Context{"row": "1"}
	var cts [][]byte
	for range 100 {
		ct, err := kr.Seal(ctx, "acme", []byte("record"), ec)
		if err != nil {
			t.Fatal(err)
		}
		cts = append(cts, ct)
	}
	if n := e.count("GenerateDataKey"); n != 1 {
		t.Fatalf("100 seals made %d GenerateDataKey calls, want 1", n)
	}
	reader := e.keyring(t)
	for _, ct := range cts {
		if _, err := reader.Open(ctx, "acme", ct, ec); err != nil {
			t.Fatal(err)
		}
	}
	if n := e.count("Decrypt"); n != 1 {
		t.Fatalf("100 opens on a fresh instance made %d Decrypt calls, want 1", n)
	}
	for _, ev := range e.ts.Events() {
		if ev.EventName == "Decrypt" && ev.EncryptionContext["byok:tenant"] != "acme" {
			t.Fatalf("Decrypt event context = %v, want the tenant bound", ev.EncryptionContext)
		}
	}

	if _, err := e.customer.DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Open(ctx, "acme", cts[0], ec); err != nil {
		t.Fatalf("within the TTL the cached key still serves: %v", err)
	}
	e.ts.Advance(61 * time.Second)
	_, err := reader.Open(ctx, "acme", cts[0], ec)
	if !errors.Is(err, kms.ErrDisabled) || kms.RequestIDOf(err) == "" {
		t.Fatalf("Open() after the TTL with the key disabled err = %v, want kms.ErrDisabled with a request id", err)
	}
	if _, err := e.customer.EnableKey(ctx, &kmsapi.EnableKeyInput{KeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := reader.Open(ctx, "acme", cts[0], ec); err != nil {
		t.Fatalf("Open() after the key was enabled again err = %v", err)
	}
}

// Enabling BYOK for a tenant with data under the platform key rewraps its
// versions, so the old data is protected by the customer's key at once.
func TestEnableBYOKRewrapsPlatformKeyData(t *testing.T) {
	e := newAWSEnv(t)
	ctx := context.Background()
	kr := e.keyring(t)
	for range 2 {
		if _, err := kr.CreateVersion(ctx, "acme", []kms.KeyRef{e.local.KeyRef()}); err != nil {
			t.Fatal(err)
		}
	}
	old, _ := kr.Seal(ctx, "acme", []byte("before byok"), nil)
	res, err := kr.Rewrap(ctx, "acme", e.local.KeyRef(), customerKey)
	if err != nil || res.Rewrapped != 2 {
		t.Fatalf("Rewrap() = %+v, %v; want 2 versions moved", res, err)
	}
	if n := e.count("Encrypt"); n != 2 {
		t.Fatalf("rewrap made %d Encrypt calls, want one per version", n)
	}
	vs, _ := e.store.Versions(ctx, "acme")
	for _, v := range vs {
		if len(v.Wrappings) != 1 || v.Wrappings[0].Key.Provider != awskms.ProviderName {
			t.Fatalf("version %d wrappings = %+v, want only the customer's key", v.Version, v.Wrappings)
		}
	}
	if _, err := e.customer.DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.keyring(t).Open(ctx, "acme", old, nil); !errors.Is(err, kms.ErrDisabled) {
		t.Fatalf("old data with the customer key disabled: err = %v, want kms.ErrDisabled", err)
	}
}
