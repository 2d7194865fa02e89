package monitor_test

import (
	"errors"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"path/filepath"
	"testing"
	"time"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// The regional world: the platform runs a service per hosting region, each
// with its own account (EU, US); the customer has a multi-Region key in
// eu-west-1 with a replica in eu-central-1, granted to the EU account, and
// a key in us-west-2 granted to the US account only.
const (
	central    = "eu-central-1"
	usWest     = "us-west-2"
	usAcct     = "333333333333"
	mrkID      = "mrk-0d0e0f00112233445566778899aabbcc"
	westARN    = "arn:aws:kms:" + region + ":" + customerAcct + ":key/" + mrkID
	centralARN = "arn:aws:kms:" + central + ":" + customerAcct + ":key/" + mrkID
	usKeyID    = "2b2c3d4e-1111-4222-8333-444455556666"
	usKeyARN   = "arn:aws:kms:" + usWest + ":" + customerAcct + ":key/" + usKeyID
	grantUS    = `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"Platform","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::333333333333:root"},
	   "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}]}`
)

func regionalWorld() *awsemu.World {
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	platform := func(id string) awsemu.Account {
		return awsemu.Account{ID: id, Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM" + id[:8],
			SecretAccessKey: "platform-secret-" + id, Policies: map[string]string{"kms": all}}}}
	}
	return &awsemu.World{
		Regions: []string{region, central, usWest},
		Accounts: []awsemu.Account{platform(platformAcct), platform(usAcct),
			{ID: customerAcct, Keys: []awsemu.Key{
				{ID: mrkID, Region: region, MultiRegion: true, Replicas: []string{central}, Policy: grantAll},
				{ID: usKeyID, Region: usWest, Policy: grantUS},
			}, Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIACUSTOMERADMIN001",
				SecretAccessKey: "admin-secret", Policies: map[string]string{"kms": all}}}}},
	}
}

// regional is a platform of per-region instances on one database.
type regional struct {
	ts     *awsemu.TestServer
	store  store.Store
	events *recorder
}

func newRegional(t *testing.T) *regional {
	t.Helper()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "byok.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return &regional{ts: awsemu.NewTestServer(t, regionalWorld()), store: s, events: &recorder{}}
}

// instance is one hosting region's service: its account's credentials,
// its keyring and its monitor (regionless when hosting is "").
type instance struct {
	kr  *keyring.Keyring
	mon *monitor.Monitor
}

func (p *regional) instance(t *testing.T, hosting, account string) *instance {
	t.Helper()
	sdkRegion := hosting
	if sdkRegion == "" {
		sdkRegion = region
	}
	prov, err := awskms.New(ctx, awskms.Config{
		AWS:   p.ts.Config(sdkRegion, p.ts.Credentials(t, account, "platform")),
		Retry: awskms.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}, Clock: p.ts.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	providers := map[string]kms.Provider{awskms.ProviderName: prov}
	kr, err := keyring.New(keyring.Config{Providers: providers, Store: p.store, Region: hosting, Now: p.ts.Now})
	if err != nil {
		t.Fatal(err)
	}
	mon, err := monitor.New(monitor.Config{Store: p.store, Keyring: kr, Region: hosting, Providers: providers,
		Notifier: p.events, Now: p.ts.Now, Logger: quiet})
	if err != nil {
		t.Fatal(err)
	}
	return &instance{kr: kr, mon: mon}
}

// tenant creates an active tenant served in each region of keys, with
// one key version wrapped under every key, as enablement leaves it.
func (p *regional) tenant(t *testing.T, id string, kr *keyring.Keyring, keys map[string]string) {
	t.Helper()
	var refs []kms.KeyRef
	regions := map[string]*tenant.Region{}
	for r, arn := range keys {
		ref := kms.KeyRef{Provider: awskms.ProviderName, ID: arn, Region: r}
		refs = append(refs, ref)
		regions[r] = &tenant.Region{Ready: true, Keys: []kms.KeyRef{ref}, Since: p.ts.Now()}
	}
	tn, err := p.store.CreateTenant(ctx, &tenant.Tenant{ID: id, Name: id, ExternalID: "ext-" + id + "-0000", State: tenant.StatePending})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := kr.CreateVersion(ctx, id, refs); err != nil {
		t.Fatal(err)
	}
	_, err = p.store.UpdateTenant(ctx, id, tn.Revision, func(t *tenant.Tenant) error {
		t.State, t.Regions = tenant.StateActive, regions
		t.KeyBinding = &tenant.KeyBinding{Regions: keys}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

// step advances the clock a second at a time for d, each instance's
// monitor running a pass per second.
func (p *regional) step(d time.Duration, is ...*instance) {
	for end := p.ts.Now().Add(d); p.ts.Now().Before(end); {
		p.ts.Advance(time.Second)
		for _, in := range is {
			in.mon.RunOnce(ctx)
		}
	}
}

func (p *regional) get(t *testing.T, id string) *tenant.Tenant {
	t.Helper()
	tn, err := p.store.GetTenant(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return tn
}

// health returns the state of each region's key, "" for one never probed.
func (p *regional) health(t *testing.T, id string) map[string]tenant.State {
	t.Helper()
	out := map[string]tenant.State{}
	for name, r := range p.get(t, id).Regions {
		if r.Health != nil {
			out[name] = r.Health.State
		} else {
			out[name] = ""
		}
	}
	return out
}

func (p *regional) setEnabled(t *testing.T, arn string, on bool) {
	t.Helper()
	if err := p.ts.SetKeyEnabled(arn, on); err != nil {
		t.Fatal(err)
	}
}

// A multi-Region key served from two hosting regions: the replica disabled
// in one region fails that region alone, the tenant stays active and the
// other region keeps serving; only with both keys unusable is the tenant
// key_unavailable, and either key back makes it active again.
func TestRegionOutage(t *testing.T) {
	p := newRegional(t)
	west, cent := p.instance(t, region, platformAcct), p.instance(t, central, platformAcct)
	p.tenant(t, "acme", west.kr, map[string]string{region: westARN, central: centralARN})
	ct, err := west.kr.Seal(ctx, "acme", []byte("record"), nil)
	if err != nil {
		t.Fatal(err)
	}
	p.step(time.Minute, west, cent)
	if h := p.health(t, "acme"); h[region] != tenant.StateActive || h[central] != tenant.StateActive {
		t.Fatalf("region health after probes passed = %v, want both active", h)
	}
	if evs := p.events.all(); len(evs) != 0 {
		t.Fatalf("events while every key serves = %+v, want none", evs)
	}

	p.setEnabled(t, centralARN, false)
	p.step(time.Minute, west, cent)
	tn := p.get(t, "acme")
	if h := tn.HealthIn(central); tn.State != tenant.StateActive || h == nil || h.State != tenant.StateKeyUnavailable ||
		h.Reason != "key_disabled" || h.Since.IsZero() || tn.HealthIn(region).State != tenant.StateActive {
		t.Fatalf("tenant with eu-central-1's replica disabled = state %s, regions %v / %+v; want active, eu-central-1 key_unavailable (key_disabled)",
			tn.State, p.health(t, "acme"), h)
	}
	if _, err := cent.kr.Open(ctx, "acme", ct, nil); !errors.Is(err, kms.ErrDisabled) {
		t.Fatalf("Open() in eu-central-1 err = %v, want key_disabled", err)
	}
	if _, err := west.kr.Open(ctx, "acme", ct, nil); err != nil {
		t.Fatalf("Open() in eu-west-1 with only eu-central-1's key disabled err = %v", err)
	}
	evs := p.events.all()
	if len(evs) != 1 || evs[0].Type != monitor.EventRegionStateChanged || evs[0].Region != central ||
		evs[0].OldState != tenant.StateActive || evs[0].NewState != tenant.StateKeyUnavailable || evs[0].Reason != "key_disabled" || evs[0].Key != centralARN {
		t.Fatalf("events = %+v, want one region_state_changed for eu-central-1", evs)
	}

	p.setEnabled(t, westARN, false)
	p.step(time.Minute, west, cent)
	tn = p.get(t, "acme")
	if tn.State != tenant.StateKeyUnavailable || tn.Outage.Reason != "key_disabled" {
		t.Fatalf("tenant with both keys disabled = %s (%+v), want key_unavailable for key_disabled", tn.State, tn.Outage)
	}
	changes := p.events.ofType(monitor.EventStateChanged)
	if len(changes) != 1 || changes[0].Region != region || changes[0].NewState != tenant.StateKeyUnavailable {
		t.Fatalf("state changes = %+v, want one to key_unavailable raised by eu-west-1", changes)
	}

	p.setEnabled(t, centralARN, true)
	p.step(time.Minute, west, cent)
	if h := p.health(t, "acme"); p.get(t, "acme").State != tenant.StateActive || h[central] != tenant.StateActive || h[region] != tenant.StateKeyUnavailable {
		t.Fatalf("tenant with eu-central-1's key back = %s, regions %v; want active with eu-west-1 still unavailable", p.get(t, "acme").State, h)
	}
	if _, err := cent.kr.Open(ctx, "acme", ct, nil); err != nil {
		t.Fatalf("Open() in eu-central-1 once its key is back err = %v", err)
	}
	changes = p.events.ofType(monitor.EventStateChanged)
	if len(changes) != 2 || changes[1].Region != central || changes[1].NewState != tenant.StateActive || changes[1].Reason != "key_available" {
		t.Fatalf("state changes = %+v, want the second back to active, raised by eu-central-1", changes)
	}
}

// A tenant whose key stays unusable in every region it serves is
// suspended on the usual timer; one whose other region serves never is.
func TestRegionOutageDoesNotSuspend(t *testing.T) {
	p := newRegional(t)
	west, cent := p.instance(t, region, platformAcct), p.instance(t, central, platformAcct)
	p.tenant(t, "acme", west.kr, map[string]string{region: westARN, central: centralARN})
	p.step(time.Minute, west, cent)
	p.setEnabled(t, centralARN, false)
	p.step(time.Minute, west, cent)
	p.ts.Advance(monitor.DefaultSuspendAfter)
	p.step(time.Minute, west, cent)
	if tn := p.get(t, "acme"); tn.State != tenant.StateActive {
		t.Fatalf("tenant %s after eu-central-1's key was unusable for %s, want active: eu-west-1 serves", tn.State, monitor.DefaultSuspendAfter)
	}
	p.setEnabled(t, westARN, false)
	p.step(time.Minute, west, cent)
	p.ts.Advance(monitor.DefaultSuspendAfter)
	p.step(time.Minute, west, cent)
	if tn := p.get(t, "acme"); tn.State != tenant.StateSuspended {
		t.Fatalf("tenant %s after both keys were unusable for %s, want suspended", tn.State, monitor.DefaultSuspendAfter)
	}
	// Archived, it is restored through the region whose key is back.
	p.ts.Advance(monitor.DefaultArchiveAfter)
	p.step(time.Minute, west, cent)
	p.setEnabled(t, centralARN, true)
	if err := cent.mon.Restore(ctx, "acme"); err != nil {
		t.Fatalf("Restore() through %s err = %v", central, err)
	}
	tn := p.get(t, "acme")
	if h := p.health(t, "acme"); tn.State != tenant.StateActive || !tn.Outage.ArchivedAt.IsZero() || h[central] != tenant.StateActive || h[region] != tenant.StateKeyUnavailable {
		t.Fatalf("tenant after Restore() = %s (%+v), regions %v; want active, %s active, %s still unavailable", tn.State, tn.Outage, h, central, region)
	}
	if evs := p.events.ofType(monitor.EventRestored); len(evs) != 1 || evs[0].Region != central {
		t.Fatalf("restore events = %+v, want one, through %s", evs, central)
	}
}

// Several hosting regions on one database: the eu-west-1 instance, whose
// account the us-west-2 tenant's key does not grant, neither probes nor
// judges that tenant, while the us-west-2 instance does. A monitor that
// judged every tenant would flip it on its AccessDenied.
func TestRegionNotHosted(t *testing.T) {
	p := newRegional(t)
	eu, us := p.instance(t, region, platformAcct), p.instance(t, usWest, usAcct)
	p.tenant(t, "usco", us.kr, map[string]string{usWest: usKeyARN})
	p.step(2*time.Minute, eu, us)
	if s := eu.mon.Stats(); s.Tenants != 0 || s.Probes != 0 {
		t.Fatalf("eu-west-1 monitor stats = %+v, want the us-west-2 tenant neither scheduled nor probed", s)
	}
	if _, ok := eu.mon.NextProbe("usco"); ok {
		t.Fatal("eu-west-1 shows a probe scheduled for a tenant it does not host")
	}
	if s := us.mon.Stats(); s.Probes == 0 {
		t.Fatalf("us-west-2 monitor stats = %+v, want its tenant probed", s)
	}
	if tn := p.get(t, "usco"); tn.State != tenant.StateActive || tn.HealthIn(usWest) == nil || tn.HealthIn(usWest).State != tenant.StateActive {
		t.Fatalf("us-west-2 tenant = %s, health %+v; want active, probed by its region", tn.State, tn.HealthIn(usWest))
	}
	if evs := p.events.all(); len(evs) != 0 {
		t.Fatalf("events = %+v, want none", evs)
	}
	if err := eu.mon.Restore(ctx, "usco"); !errors.Is(err, monitor.ErrRegionNotServed) || monitor.Code(err) != "region_not_ready" {
		t.Fatalf("Restore() through eu-west-1 of a us-west-2 tenant err = %v, want region_not_ready", err)
	}

	// What the regionless monitor, with the EU account, makes of it.
	whole := p.instance(t, "", platformAcct)
	p.step(time.Minute, whole)
	if tn := p.get(t, "usco"); tn.State != tenant.StateKeyUnavailable || tn.Outage.Reason != "key_access_denied" {
		t.Fatalf("regionless monitor with the EU account left the tenant %s (%+v), want key_unavailable for key_access_denied", tn.State, tn.Outage)
	}
}

// A regional monitor still judges a tenant without regions (on the
// platform key, or recorded before regions) as a whole.
func TestRegionalMonitorTenantWithoutRegions(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	m := e.monitor(t, func(c *monitor.Config) { c.Region = region })
	e.step(m, time.Minute)
	e.disable(t)
	e.step(m, time.Minute)
	e.wantState(t, "acme", tenant.StateKeyUnavailable)
	if evs := e.events.ofType(monitor.EventStateChanged); len(evs) != 1 || evs[0].Region != "" {
		t.Fatalf("state changes = %+v, want one, of no region", evs)
	}
}

// A replica scheduled for deletion makes its region deletion_pending, with
// the date, while the tenant stays active; once every region's key is
// scheduled the tenant is deletion_pending, and once every one is gone,
// destroyed.
func TestRegionDeletion(t *testing.T) {
	p := newRegional(t)
	west, cent := p.instance(t, region, platformAcct), p.instance(t, central, platformAcct)
	p.tenant(t, "acme", west.kr, map[string]string{region: westARN, central: centralARN})
	p.step(time.Minute, west, cent)
	schedule := func(r string) {
		c := kmsapi.NewFromConfig(p.ts.Config(r, p.ts.Credentials(t, customerAcct, "admin")))
		_, err := c.ScheduleKeyDeletion(ctx, &kmsapi.ScheduleKeyDeletionInput{KeyId: aws.String(mrkID), PendingWindowInDays: aws.Int32(7)})
		if err != nil {
			t.Fatal(err)
		}
	}
	schedule(central)
	p.step(time.Minute, west, cent)
	tn := p.get(t, "acme")
	h := tn.HealthIn(central)
	if tn.State != tenant.StateActive || h == nil || h.State != tenant.StateDeletionPending || h.DeletionDate.IsZero() {
		t.Fatalf("tenant with its replica scheduled for deletion = %s, %s health %+v; want active, the replica deletion_pending with a date", tn.State, central, h)
	}
	evs := p.events.ofType(monitor.EventRegionStateChanged)
	if len(evs) != 1 || evs[0].NewState != tenant.StateDeletionPending || !evs[0].DeletionDate.Equal(h.DeletionDate) {
		t.Fatalf("region events = %+v, want one to deletion_pending with the date", evs)
	}
	schedule(region)
	p.step(time.Minute, west, cent)
	if tn := p.get(t, "acme"); tn.State != tenant.StateDeletionPending || tn.Outage.DeletionDate.IsZero() {
		t.Fatalf("tenant with both keys scheduled = %s (%+v), want deletion_pending with a date", tn.State, tn.Outage)
	}
	// KMS deletes the replica after its window, and only then begins the
	// primary's.
	p.ts.Advance(8 * 24 * time.Hour)
	p.step(time.Minute, west, cent)
	if tn := p.get(t, "acme"); tn.State != tenant.StateDeletionPending || tn.HealthIn(central).State != tenant.StateDestroyed {
		t.Fatalf("tenant with the replica deleted = %s, regions %v; want deletion_pending, the replica destroyed", tn.State, p.health(t, "acme"))
	}
	p.ts.Advance(8 * 24 * time.Hour)
	p.step(time.Minute, west, cent)
	if tn := p.get(t, "acme"); tn.State != tenant.StateDestroyed {
		t.Fatalf("tenant after both keys were deleted = %s, regions %v; want destroyed", tn.State, p.health(t, "acme"))
	}
}
