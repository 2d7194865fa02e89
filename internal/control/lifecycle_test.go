package control

import (
	"context"
	"errors"
	"slices"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// The lifecycle world: a customer with two multi-Region keys replicated to
// every region, two other multi-Region keys behind the same alias in two
// regions,
// and a separate vault account.
const (
	usEast     = "us-east-1"
	apSouth    = "ap-southeast-2"
	vaultAcct  = "333333333333"
	mrk2ID     = "mrk-fedcba9876543210fedcba9876543210"
	usPlainID  = "mrk-11111111111111111111111111111111"
	apPlainID  = "mrk-22222222222222222222222222222222"
	vaultKeyID = "mrk-33333333333333333333333333333333"
)

var (
	mrk2ARN  = "arn:aws:kms:" + home + ":" + customerAcct + ":key/" + mrk2ID
	vaultARN = "arn:aws:kms:" + usEast + ":" + vaultAcct + ":key/" + vaultKeyID
	usAlias  = "arn:aws:kms:" + usEast + ":" + customerAcct + ":alias/globex"
)

const changeableConfig = `regions:
  - name: eu-west-1
    platform_account_id: "111111111111"
    replica_regions: [eu-central-1]
  - name: us-east-1
    platform_account_id: "111111111111"
  - name: ap-southeast-2
    platform_account_id: "111111111111"
policy:
  require_multi_region: true
  alias_arns: resolve
  key_binding: changeable
`

func lifecycleWorld() *awsemu.World {
	w := defaultWorld()
	w.Regions = []string{home, replica, usEast, apSouth}
	all := []string{replica, usEast, apSouth}
	c := &w.Accounts[1]
	c.Keys = []awsemu.Key{
		{ID: mrkID, Region: home, MultiRegion: true, Replicas: all, Rotation: true},
		{ID: mrk2ID, Region: home, MultiRegion: true, Replicas: all},
		{ID: usPlainID, Region: usEast, MultiRegion: true, Aliases: []string{"alias/globex"}},
		{ID: apPlainID, Region: apSouth, MultiRegion: true, Aliases: []string{"alias/globex"}},
	}
	w.Accounts = append(w.Accounts, awsemu.Account{ID: vaultAcct,
		Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIAVAULTADMIN000001", SecretAccessKey: "vault-secret",
			Policies: map[string]string{"all": allowAll}}},
		Keys: []awsemu.Key{{ID: vaultKeyID, Region: usEast, MultiRegion: true}}})
	return w
}

func newLifecycleEnv(t *testing.T, now func() time.Time) *env {
	t.Helper()
	return newLifecycleEnvWith(t, envOptions{now: now})
}

// newLifecycleEnvWith is newLifecycleEnv with o's clock and shred layer.
func newLifecycleEnvWith(t *testing.T, o envOptions) *env {
	t.Helper()
	o.config, o.world = changeableConfig, lifecycleWorld()
	e := newEnvWith(t, o)
	for _, k := range []struct {
		acct, id string
		regions  []string
	}{
		{customerAcct, mrkID, []string{home, replica, usEast, apSouth}},
		{customerAcct, mrk2ID, []string{home, replica, usEast, apSouth}},
		{customerAcct, usPlainID, []string{usEast}},
		{customerAcct, apPlainID, []string{apSouth}},
		{vaultAcct, vaultKeyID, []string{usEast}},
	} {
		e.putPolicy(t, k.acct, k.id, e.policy(t, k.acct), k.regions...)
	}
	return e
}

// lifecycleTenants are the tenants the lifecycle tests enable.
var lifecycleTenants = []string{"acme", "globex", "initech"}

// policy is the generated key policy for keys of acct, bound to every
// tenant of lifecycleTenants; it names the customer's account and the
// platform's, so one serves every key there.
func (e *env) policy(t *testing.T, acct string) string {
	t.Helper()
	m, err := onboarding.NewModel(e.svcCfg.Platform, onboarding.Request{TenantID: lifecycleTenants[0], Region: home, Pattern: platform.Direct, CustomerAccount: acct})
	if err != nil {
		t.Fatal(err)
	}
	return string(m.KeyPolicy().ForTenants(lifecycleTenants...).JSON())
}

func (e *env) putPolicy(t *testing.T, acct, keyID, policy string, regions ...string) {
	t.Helper()
	for _, region := range regions {
		c := kmsapi.NewFromConfig(e.ts.Config(region, e.ts.Credentials(t, acct, "admin")))
		if _, err := c.PutKeyPolicy(ctx, &kmsapi.PutKeyPolicyInput{KeyId: aws.String(keyID),
			PolicyName: aws.String("default"), Policy: aws.String(policy)}); err != nil {
			t.Fatalf("put the policy of %s in %s: %v", keyID, region, err)
		}
	}
}

// enable creates tenant id bound to keyARN in region and enables it.
func (e *env) enable(t *testing.T, id, region, keyARN string) {
	t.Helper()
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: id, Name: id}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.AttachKey(ctx, Attach{Tenant: id, Region: region, KeyARN: keyARN}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.svc.Enable(ctx, id); err != nil {
		t.Fatalf("Enable(%s) err = %v", id, err)
	}
}

// keyringIn is a fresh keyring (another instance) serving region, with
// the region gate.
func (e *env) keyringIn(t *testing.T, region string) *keyring.Keyring {
	t.Helper()
	cfg := e.cfg
	cfg.Region, cfg.Admit = region, RegionGate(tenant.NewManager(e.store, -1), region)
	kr, err := keyring.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

type sealed struct {
	ct []byte
	pt string
}

func sealN(t *testing.T, kr *keyring.Keyring, id string, n int) []sealed {
	t.Helper()
	var out []sealed
	for i := range n {
		pt := id + " record " + string(rune('a'+i))
		ct, err := kr.Seal(ctx, id, []byte(pt), envelope.Context{"row": pt})
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, sealed{ct, pt})
	}
	return out
}

func openAll(t *testing.T, kr *keyring.Keyring, id string, recs []sealed) {
	t.Helper()
	for _, r := range recs {
		pt, err := kr.Open(ctx, id, r.ct, envelope.Context{"row": r.pt})
		if err != nil || string(pt) != r.pt {
			t.Fatalf("Open(%q) = %q, %v", r.pt, pt, err)
		}
	}
}

func (e *env) wrappingKeys(t *testing.T, id string) map[string]int {
	t.Helper()
	vs, err := e.store.Versions(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]int{}
	for _, v := range vs {
		for _, w := range v.Wrappings {
			out[w.Key.ID]++
		}
	}
	return out
}

// The customer's automatic rotation (and an on-demand one) changes nothing
// for the platform: old data opens, new data seals.
func TestCustomerRotationIsTransparent(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	kr := e.keyringIn(t, home)
	before := sealN(t, kr, "acme", 3)
	if _, err := e.admin.EnableKeyRotation(ctx, &kmsapi.EnableKeyRotationInput{KeyId: aws.String(mrkID)}); err != nil {
		t.Fatal(err)
	}
	if _, err := e.admin.RotateKeyOnDemand(ctx, &kmsapi.RotateKeyOnDemandInput{KeyId: aws.String(mrkID)}); err != nil {
		t.Fatal(err)
	}
	e.ts.Advance(366 * 24 * time.Hour) // past an automatic rotation too
	if _, err := e.svc.RotateTenantKey(ctx, "acme"); err != nil {
		t.Fatalf("RotateTenantKey() after the customer rotated err = %v", err)
	}
	fresh := e.keyringIn(t, home)
	openAll(t, fresh, "acme", before)
	after := sealN(t, fresh, "acme", 2)
	openAll(t, e.keyringIn(t, home), "acme", append(before, after...))
}

// Tenant key rotation: a new version for new writes, the old ones kept for
// reads, on demand and on a schedule driven by the clock.
func TestRotateTenantKey(t *testing.T) {
	var clock atomic.Int64
	clock.Store(time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC).UnixNano())
	now := func() time.Time { return time.Unix(0, clock.Load()) }
	e := newLifecycleEnv(t, now)
	e.svc.cfg.RotationPeriod = 90 * 24 * time.Hour
	e.enable(t, "acme", home, mrkARN)
	kr := e.keyringIn(t, home)
	v1 := sealN(t, kr, "acme", 2)
	v, err := e.svc.RotateTenantKey(ctx, "acme")
	if err != nil || v.Version != 2 || len(v.Wrappings) != 2 {
		t.Fatalf("RotateTenantKey() = %+v, %v; want version 2 wrapped in both regions", v, err)
	}
	v2 := sealN(t, e.keyringIn(t, home), "acme", 2)
	if h, _ := envelope.ParseHeader(v2[0].ct); h.KeyVersion != 2 {
		t.Fatalf("new data sealed with version %d, want 2", h.KeyVersion)
	}
	openAll(t, e.keyringIn(t, home), "acme", append(v1, v2...))

	if got, err := e.svc.RotateDue(ctx); err != nil || len(got) != 0 {
		t.Fatalf("RotateDue() with nothing due = %+v, %v", got, err)
	}
	clock.Add(int64(91 * 24 * time.Hour))
	got, err := e.svc.RotateDue(ctx)
	if err != nil || len(got) != 1 || got[0].Tenant != "acme" || got[0].Version != 3 || got[0].Err != nil {
		t.Fatalf("RotateDue() after 91 days = %+v, %v; want acme rotated to version 3", got, err)
	}
	if got, _ := e.svc.RotateDue(ctx); len(got) != 0 {
		t.Fatalf("RotateDue() right after a rotation = %+v, want nothing due", got)
	}
	openAll(t, e.keyringIn(t, home), "acme", append(v1, v2...))
}

func TestRotateTenantKeyErrors(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.RotateTenantKey(ctx, "acme")
	wantCode(t, err, CodeNoKeyVersion)
	_, err = e.svc.RotateTenantKey(ctx, "nobody")
	wantCode(t, err, CodeNotFound)
	if got, err := e.svc.RotateDue(ctx); got != nil || err != nil {
		t.Fatalf("RotateDue() without a period = %+v, %v; want nothing", got, err)
	}
}

// A key change moves every version to the new key in every required
// region, drops the old wrappings, binds the new key, and the old key can
// then be retired: all data opens with the old key disabled.
func TestChangeKey(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	kr := e.keyringIn(t, home)
	recs := sealN(t, kr, "acme", 2)
	for range 2 {
		if _, err := e.svc.RotateTenantKey(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, sealN(t, e.keyringIn(t, home), "acme", 1)...)
	}
	wantCode(t, e.svc.CheckRetire(ctx, "acme", mrkARN), CodeKeyInUse)
	res, err := e.svc.ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: mrk2ARN})
	if err != nil {
		t.Fatalf("ChangeKey() err = %v", err)
	}
	if res.Wrapped != 6 || res.Dropped != 3 || res.To != mrk2ARN || res.From != mrkARN || res.Resumed {
		t.Fatalf("ChangeKey() = %+v; want 3 versions x 2 regions wrapped, 3 dropped", res)
	}
	keys := e.wrappingKeys(t, "acme")
	replica2, _ := awskms.ParseARN(mrk2ARN)
	replica2, _ = replica2.InRegion(replica)
	if len(keys) != 2 || keys[mrk2ARN] != 3 || keys[replica2.String()] != 3 {
		t.Fatalf("wrappings after the change = %v, want only the new key's, in both regions", keys)
	}
	if err := e.svc.CheckRetire(ctx, "acme", mrkARN); err != nil {
		t.Fatalf("CheckRetire(old key) err = %v, want retirable", err)
	}
	wantCode(t, e.svc.CheckRetire(ctx, "acme", mrk2ARN), CodeKeyInUse)
	inv, _ := e.svc.Inventory(ctx, "acme")
	if len(inv) != 2 || !slices.Equal(inv[0].Versions, []uint32{1, 2, 3}) {
		t.Fatalf("Inventory() = %+v, want the new key in two regions for versions 1-3", inv)
	}
	tn, _ := e.svc.Tenant(ctx, "acme")
	if b := tn.KeyBinding; b.Regions[home] != mrk2ARN {
		t.Fatalf("binding after the change = %+v, want %s", b, mrk2ARN)
	}
	if st, _ := e.svc.KeyChangeStatus(ctx, "acme"); st.Running {
		t.Fatalf("KeyChangeStatus() after the change = %+v, want none running", st)
	}
	disable(t, e, customerAcct, mrkID, home, replica)
	openAll(t, e.keyringIn(t, home), "acme", recs)
	openAll(t, e.keyringIn(t, home), "acme", sealN(t, e.keyringIn(t, home), "acme", 1))
	_, err = e.svc.ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: mrk2ARN})
	wantCode(t, err, CodeSameKey)
}

func disable(t *testing.T, e *env, acct, keyID string, regions ...string) {
	t.Helper()
	for _, region := range regions {
		c := kmsapi.NewFromConfig(e.ts.Config(region, e.ts.Credentials(t, acct, "admin")))
		if _, err := c.DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: aws.String(keyID)}); err != nil {
			t.Fatal(err)
		}
	}
}

// failingStore fails SetWrappings once armed, as a crash between two
// versions would leave things.
type failingStore struct {
	store.Store
	after atomic.Int64 // SetWrappings calls left before failing; <0 never fails
}

var errInjected = errors.New("injected store failure")

func (f *failingStore) SetWrappings(ctx context.Context, tenant string, version uint32, ws []kms.Wrapped) error {
	if f.after.Add(-1) == -1 {
		return errInjected
	}
	return f.Store.SetWrappings(ctx, tenant, version, ws)
}

// withStore returns a service (and its keyring) over st, as a restarted
// process would have.
func (e *env) withStore(t *testing.T, st store.Store) *Service {
	t.Helper()
	kcfg := e.cfg
	kcfg.Store = st
	kr, err := keyring.New(kcfg)
	if err != nil {
		t.Fatal(err)
	}
	cfg := e.svcCfg
	cfg.Store, cfg.Keyring = st, kr
	svc, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return svc
}

// An interrupted key change shows its progress, refuses another change, and
// finishes when called again from a new process.
func TestChangeKeyResumes(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	for range 2 {
		if _, err := e.svc.RotateTenantKey(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
	}
	recs := sealN(t, e.keyringIn(t, home), "acme", 3)
	fs := &failingStore{Store: e.store}
	fs.after.Store(4) // the 5th of 6 wrappings under the new key fails
	_, err := e.withStore(t, fs).ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: mrk2ARN})
	if !errors.Is(err, errInjected) {
		t.Fatalf("ChangeKey() with a failing store err = %v, want the injected failure", err)
	}
	st, err := e.svc.KeyChangeStatus(ctx, "acme")
	if err != nil || !st.Running || len(st.Regions) != 2 {
		t.Fatalf("KeyChangeStatus() = %+v, %v; want a change running in 2 regions", st, err)
	}
	if p := st.Regions[0]; p.Total != 3 || p.Done == p.Total && p.Old == 0 {
		t.Fatalf("progress = %+v, want part done", p)
	}
	openAll(t, e.keyringIn(t, home), "acme", recs)
	_, err = e.svc.ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: "arn:aws:kms:eu-west-1:222222222222:key/" + mrkID})
	wantCode(t, err, CodeKeyChangeInProgress)
	_, err = e.svc.AddRegion(ctx, AddRegion{Tenant: "acme", Region: usEast})
	wantCode(t, err, CodeKeyChangeInProgress)
	// A rotation meanwhile wraps the new version under both keys, so the
	// change has nothing to catch up on and drops the old wrappings.
	v4, err := e.svc.RotateTenantKey(ctx, "acme")
	if err != nil || len(v4.Wrappings) != 4 {
		t.Fatalf("RotateTenantKey() during a key change = %+v, %v; want 4 wrappings (2 keys x 2 regions)", v4, err)
	}
	recs = append(recs, sealN(t, e.keyringIn(t, home), "acme", 1)...)
	res, err := e.withStore(t, e.store).ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: mrk2ARN})
	if err != nil || !res.Resumed {
		t.Fatalf("ChangeKey() again = %+v, %v; want the change resumed", res, err)
	}
	if keys := e.wrappingKeys(t, "acme"); len(keys) != 2 || keys[mrk2ARN] != 4 {
		t.Fatalf("wrappings after resuming = %v, want the new key's only", keys)
	}
	disable(t, e, customerAcct, mrkID, home, replica)
	openAll(t, e.keyringIn(t, home), "acme", recs)
}

func TestChangeKeyErrors(t *testing.T) {
	e := newLifecycleEnv(t, nil)
	e.enable(t, "acme", home, mrkARN)
	if _, err := e.svc.CreateTenant(ctx, CreateTenant{ID: "pending", Name: "p"}); err != nil {
		t.Fatal(err)
	}
	disable(t, e, customerAcct, mrk2ID, home)
	for _, tc := range []struct {
		name string
		req  ChangeKey
		code string
	}{
		{"unknown tenant", ChangeKey{Tenant: "nobody", Region: home, KeyARN: mrk2ARN}, CodeNotFound},
		{"pending tenant", ChangeKey{Tenant: "pending", Region: home, KeyARN: mrk2ARN}, CodeWrongState},
		{"malformed ARN", ChangeKey{Tenant: "acme", Region: home, KeyARN: "arn:aws:kms:x"}, "invalid_key_arn"},
		{"unknown region", ChangeKey{Tenant: "acme", Region: "mars-north-1", KeyARN: mrk2ARN}, "unknown_region"},
		{"region not bound", ChangeKey{Tenant: "acme", Region: usEast, KeyARN: usAlias}, CodeRegionNotReady},
		{"new key disabled", ChangeKey{Tenant: "acme", Region: home, KeyARN: mrk2ARN}, CodeValidationFailed},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := e.svc.ChangeKey(ctx, tc.req)
			wantCode(t, err, tc.code)
		})
	}
	if st, _ := e.svc.KeyChangeStatus(ctx, "acme"); st.Running {
		t.Fatal("a refused key change left a change running")
	}
	wantCode(t, e.svc.CheckRetire(ctx, "acme", "arn:aws:kms:eu-west-1:222222222222:alias/x"), CodeInvalid)
}

// With the immutable binding of the default platform configuration a key
// change is refused.
func TestChangeKeyImmutable(t *testing.T) {
	e := newEnv(t, false)
	e.onboard(t, "acme")
	if _, err := e.svc.Enable(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	_, err := e.svc.ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: "arn:aws:kms:eu-west-1:222222222222:key/" + plainID})
	wantCode(t, err, CodeBindingImmutable)
}
