package control

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/shred"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
	"github.com/byok-dev/byok/kms/localkms"
)

const (
	platformAcct = "111111111111"
	customerAcct = "222222222222"
	home         = "eu-west-1"
	replica      = "eu-central-1"
	mrkID        = "mrk-0123456789abcdef0123456789abcdef"
	plainID      = "0a1b2c3d-1111-4222-8333-444455556666"
)

var (
	ctx      = context.Background()
	mrkARN   = "arn:aws:kms:" + home + ":" + customerAcct + ":key/" + mrkID
	allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`
)

func platformConfig(t *testing.T) *platform.Config {
	t.Helper()
	cfg, err := platform.Parse(strings.NewReader(`regions:
  - name: eu-west-1
    platform_account_id: "111111111111"
    replica_regions: [eu-central-1]
policy:
  require_multi_region: true
  alias_arns: reject
  key_binding: immutable
`), nil)
	if err != nil {
		t.Fatal(err)
	}
	return cfg
}

// env is a platform (store, keyring, validator, service) and a customer
// account in the emulator with a multi-Region key and a plain key, whose
// policies the test puts from the generated artifacts.
type env struct {
	ts     *awsemu.TestServer
	svc    *Service
	store  store.Store
	cfg    keyring.Config
	svcCfg Config
	admin  *kmsapi.Client
	dbPath string // the SQLite file behind store
	// shredKeys is the keystore of the store's shred layer.
	shredKeys *shred.Keystore
}

func newEnv(t *testing.T, withPlatformKey bool) *env {
	t.Helper()
	return newEnvWith(t, envOptions{platformKey: withPlatformKey})
}

// envOptions vary the platform: its configuration, the emulator's world,
// the clock.
type envOptions struct {
	platformKey bool
	config      string        // platform configuration YAML; "" means platformConfig's
	world       *awsemu.World // "" means the one-customer world of newEnv
	now         func() time.Time
	// noShred leaves the store without the shred layer.
	noShred bool
}

func defaultWorld() *awsemu.World {
	return &awsemu.World{
		Regions: []string{home, replica},
		Accounts: []awsemu.Account{
			{ID: platformAcct, Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001",
				SecretAccessKey: "platform-secret", Policies: map[string]string{"all": allowAll}}}},
			{ID: customerAcct,
				Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIACUSTOMERADMIN001", SecretAccessKey: "admin-secret",
					Policies: map[string]string{"all": allowAll}}},
				Keys: []awsemu.Key{
					{ID: mrkID, Region: home, MultiRegion: true, Replicas: []string{replica}, Rotation: true},
					{ID: plainID, Region: home, Rotation: true},
				}},
		},
	}
}

func newEnvWith(t *testing.T, o envOptions) *env {
	t.Helper()
	if o.world == nil {
		o.world = defaultWorld()
	}
	ts := awsemu.NewTestServer(t, o.world)
	platformAWS := ts.Config(home, ts.Credentials(t, platformAcct, "platform"))
	aws, err := awskms.New(ctx, awskms.Config{AWS: platformAWS, CallTimeout: 5 * time.Second,
		Retry: awskms.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	root, rootTK := rootKey(t)
	dbPath := filepath.Join(t.TempDir(), "byok.db")
	st, err := sqlite.Open(ctx, sqlite.Config{Path: dbPath})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e := &env{ts: ts, store: st, dbPath: dbPath, admin: kmsapi.NewFromConfig(ts.Config(home, ts.Credentials(t, customerAcct, "admin")))}
	e.cfg = keyring.Config{Providers: map[string]kms.Provider{awskms.ProviderName: aws, localkms.ProviderName: root},
		Store: st, Region: home, Now: o.now}
	kr, err := keyring.New(e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	plat := platformConfig(t)
	if o.config != "" {
		if plat, err = platform.Parse(strings.NewReader(o.config), nil); err != nil {
			t.Fatal(err)
		}
	}
	cfg := Config{Platform: plat, Store: st, Keyring: kr, Now: o.now, Providers: e.cfg.Providers,
		Validator: &onboarding.Validator{Config: plat, AWS: platformAWS, CallTimeout: 5 * time.Second}}
	if !o.noShred {
		e.shredKeys = shredKeys(t, root)
		st.SetSealer(shred.NewLayer(e.shredKeys))
		cfg.Shred = e.shredKeys
	}
	if o.platformKey {
		cfg.PlatformKey = root.KeyRef()
	}
	if cfg.Receipts, err = NewReceiptSigner(rootTK); err != nil {
		t.Fatal(err)
	}
	e.svcCfg = cfg
	if e.svc, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return e
}

func shredKeys(t *testing.T, root *localkms.Provider) *shred.Keystore {
	t.Helper()
	ks, err := shred.Open(shred.Config{Dir: filepath.Join(t.TempDir(), "shred-keys"), Root: root, RootRef: root.KeyRef()})
	if err != nil {
		t.Fatal(err)
	}
	return ks
}

func rootKey(t *testing.T) (*localkms.Provider, *envelope.TenantKey) {
	t.Helper()
	k, _ := envelope.GenerateTenantKey("platform-root", 1, nil)
	f := &keyfile.File{}
	if err := f.Append(keyfile.Entry{Key: k, Created: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	p, err := localkms.New(f)
	if err != nil {
		t.Fatal(err)
	}
	return p, k
}

// grant puts the generated key policy on the key (and its replicas), as the
// customer's admin would.
func (e *env) grant(t *testing.T, tenantID, keyARN string) {
	t.Helper()
	m, err := e.svc.Artifacts(ctx, tenantID, onboarding.Request{Region: home, Pattern: platform.Direct, KeyARN: keyARN})
	if err != nil {
		t.Fatal(err)
	}
	policy := m.KeyPolicy()
	regions := append([]string{home}, m.ReplicaRegions...)
	for _, region := range regions {
		c := kmsapi.NewFromConfig(e.ts.Config(region, e.ts.Credentials(t, customerAcct, "admin")))
		_, err := c.PutKeyPolicy(ctx, &kmsapi.PutKeyPolicyInput{KeyId: aws.String(m.Key.KeyID),
			PolicyName: aws.String("default"), Policy: aws.String(string(policy.JSON()))})
		if err != nil {
			t.Fatal(err)
		}
	}
}

func (e *env) onboard(t *testing.T, id string) {
	t.Helper()
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: id, Name: "Acme Corp"}); err != nil {
		t.Fatal(err)
	}
	e.grant(t, id, mrkARN)
	if _, err := e.svc.AttachKey(ctx, Attach{Tenant: id, Region: home, KeyARN: mrkARN}); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string) {
	t.Helper()
	if Code(err) != code {
		t.Fatalf("err = %v (code %q), want code %s", err, Code(err), code)
	}
}

// A new tenant is enabled with version 1 wrapped under the customer's key in
// its home region and in the required replica region.
func TestEnableNewTenant(t *testing.T) {
	e := newEnv(t, false)
	e.onboard(t, "acme")
	res, err := e.svc.Enable(ctx, "acme")
	if err != nil {
		t.Fatalf("Enable() err = %v", err)
	}
	if res.Tenant.State != tenant.StateActive || res.Created != 1 {
		t.Fatalf("Enable() = state %s, created %d; want active, version 1", res.Tenant.State, res.Created)
	}
	v, err := e.store.Version(ctx, "acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	regions := map[string]bool{}
	for _, w := range v.Wrappings {
		if w.Key.Provider != awskms.ProviderName {
			t.Fatalf("version 1 is wrapped under %v, want only the customer's key", w.Key)
		}
		regions[w.Key.Region] = true
	}
	if !regions[home] || !regions[replica] || len(v.Wrappings) != 2 {
		t.Fatalf("version 1 wrappings = %+v, want one in %s and one in %s", v.Wrappings, home, replica)
	}
	if b := res.Tenant.KeyBinding; b == nil || b.Regions[home] != mrkARN {
		t.Fatalf("key binding = %+v, want %s recorded", b, mrkARN)
	}
	if _, err := e.svc.Enable(ctx, "acme"); Code(err) != CodeAlreadyEnabled {
		t.Fatalf("second Enable() err = %v, want already_enabled", err)
	}
}

// A tenant with data under the platform key gets its versions rewrapped:
// the old data then depends on the customer's key alone.
func TestEnableRewrapsPlatformKeyData(t *testing.T) {
	e := newEnv(t, true)
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	kr, _ := keyring.New(e.cfg)
	old, err := kr.Seal(ctx, "acme", []byte("sealed before byok"), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.grant(t, "acme", mrkARN)
	if _, err := e.svc.AttachKey(ctx, Attach{Tenant: "acme", Region: home, KeyARN: mrkARN}); err != nil {
		t.Fatal(err)
	}
	res, err := e.svc.Enable(ctx, "acme")
	if err != nil || res.Rewrapped != 1 || res.Created != 0 {
		t.Fatalf("Enable() = %+v, %v; want 1 version rewrapped", res, err)
	}
	vs, _ := e.store.Versions(ctx, "acme")
	for _, w := range vs[0].Wrappings {
		if w.Key.Provider == localkms.ProviderName {
			t.Fatal("the platform key still wraps the tenant's old version")
		}
	}
	fresh, _ := keyring.New(e.cfg)
	if pt, err := fresh.Open(ctx, "acme", old, nil); err != nil || string(pt) != "sealed before byok" {
		t.Fatalf("old data after enabling = %q, %v", pt, err)
	}
	if _, err := e.admin.DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: aws.String(mrkID)}); err != nil {
		t.Fatal(err)
	}
	fresh, _ = keyring.New(e.cfg)
	if _, err := fresh.Open(ctx, "acme", old, nil); !errors.Is(err, kms.ErrDisabled) {
		t.Fatalf("old data with the customer key disabled: err = %v, want kms.ErrDisabled", err)
	}
}

func TestEnableRefusedWhenValidationFails(t *testing.T) {
	e := newEnv(t, false)
	e.onboard(t, "acme")
	if _, err := e.admin.DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: aws.String(mrkID)}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Enable(ctx, "acme")
	wantCode(t, err, CodeValidationFailed)
	var ce *Error
	if !errors.As(err, &ce) || len(ce.Reports) != 1 || ce.Reports[0].Report.OK() {
		t.Fatalf("Enable() err = %#v, want the failing report", err)
	}
	if t2, _ := e.svc.Tenant(ctx, "acme"); t2.State != tenant.StatePending {
		t.Fatalf("state after a failed enable = %s, want pending", t2.State)
	}
	if vs, _ := e.store.Versions(ctx, "acme"); len(vs) != 0 {
		t.Fatal("a failed enable left key versions behind")
	}
}

// Two enables at once: exactly one wins, the other gets a conflict.
func TestConcurrentEnable(t *testing.T) {
	e := newEnv(t, false)
	e.onboard(t, "acme")
	var wg sync.WaitGroup
	errs := make([]error, 2)
	for i := range errs {
		wg.Go(func() { _, errs[i] = e.svc.Enable(ctx, "acme") })
	}
	wg.Wait()
	wins, conflicts := 0, 0
	for _, err := range errs {
		switch {
		case err == nil:
			wins++
		case Code(err) == CodeConflict || Code(err) == CodeAlreadyEnabled:
			conflicts++
		default:
			t.Fatalf("Enable() err = %v", err)
		}
	}
	if wins != 1 || conflicts != 1 {
		t.Fatalf("two concurrent enables: %d won, %d conflicted; want 1 and 1 (%v)", wins, conflicts, errs)
	}
	if vs, _ := e.store.Versions(ctx, "acme"); len(vs) != 1 {
		t.Fatalf("%d key versions after two enables, want 1", len(vs))
	}
}

func TestAttachKeyErrors(t *testing.T) {
	e := newEnv(t, false)
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		name string
		req  Attach
		code string
	}{
		{"unknown tenant", Attach{Tenant: "nobody", Region: home, KeyARN: mrkARN}, CodeNotFound},
		{"unknown region", Attach{Tenant: "acme", Region: "mars-north-1", KeyARN: mrkARN}, "unknown_region"},
		{"malformed ARN", Attach{Tenant: "acme", Region: home, KeyARN: "arn:aws:kms:eu-west-1:2222:key/x"}, "invalid_key_arn"},
		{"bare key id", Attach{Tenant: "acme", Region: home, KeyARN: plainID}, "invalid_key_arn"},
		{"alias when rejected", Attach{Tenant: "acme", Region: home, KeyARN: "arn:aws:kms:eu-west-1:222222222222:alias/acme"}, CodeAliasRejected},
		{"malformed role", Attach{Tenant: "acme", Region: home, KeyARN: mrkARN, RoleARN: "role/x"}, "invalid_role_arn"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.AttachKey(ctx, tc.req)
			wantCode(t, err, tc.code)
		})
	}
}

func TestEnableNeedsAKey(t *testing.T) {
	e := newEnv(t, false)
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.Enable(ctx, "acme")
	wantCode(t, err, CodeNoKeyAttached)
	_, err = e.svc.Enable(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
}

func TestImmutableBinding(t *testing.T) {
	e := newEnv(t, false)
	e.onboard(t, "acme")
	if _, err := e.svc.Enable(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.AttachKey(ctx, Attach{Tenant: "acme", Region: home, KeyARN: "arn:aws:kms:eu-west-1:222222222222:key/" + plainID})
	wantCode(t, err, CodeBindingImmutable)
}

func TestCreateTenant(t *testing.T) {
	e := newEnv(t, false)
	tn, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "acme", Name: "Acme"})
	if err != nil {
		t.Fatal(err)
	}
	if tn.State != tenant.StatePending || platform.CheckExternalID(tn.ExternalID) != nil || len(tn.ExternalID) < 32 {
		t.Fatalf("CreateTenant() = %+v, want pending with a random external id", tn)
	}
	_, err = e.svc.CreateTenant(ctx, CreateTenant{ID: "acme", Name: "Again"})
	wantCode(t, err, CodeTenantExists)
	_, err = e.svc.CreateTenant(ctx, CreateTenant{ID: "bad id", Name: "x"})
	wantCode(t, err, "invalid_tenant_id")
	_, err = e.svc.CreateTenant(ctx, CreateTenant{ID: "globex", Name: "x", ExternalID: "short"})
	wantCode(t, err, "invalid_external_id")
	_, err = e.svc.CreateTenant(ctx, CreateTenant{ID: "globex", Name: "x", ExternalID: tn.ExternalID})
	wantCode(t, err, CodeExternalIDInUse)
	renamed, err := e.svc.RenameTenant(ctx, "acme", "Acme Inc", tn.Revision)
	if err != nil || renamed.Name != "Acme Inc" {
		t.Fatalf("RenameTenant() = %+v, %v", renamed, err)
	}
	_, err = e.svc.RenameTenant(ctx, "acme", "Stale", tn.Revision)
	wantCode(t, err, CodeConflict)
}
