package tenant_test

import (
	"context"
	"errors"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
)

var ctx = context.Background()

func full() *tenant.Tenant {
	at := time.Date(2026, 12, 3, 13, 37, 21, 0, time.UTC)
	ref := kms.KeyRef{Provider: "aws-kms", ID: "arn:aws:kms:eu-west-1:222222222222:key/k", Region: "eu-west-1"}
	return &tenant.Tenant{ID: "acme", Name: "Acme", ExternalID: "external-id-0001", State: tenant.StateActive,
		KeyBinding: &tenant.KeyBinding{Regions: map[string]string{"eu-west-1": ref.ID}, Enabled: at},
		Regions: map[string]*tenant.Region{"eu-west-1": {Ready: true, Keys: []kms.KeyRef{ref}, Since: at,
			Health: &tenant.RegionHealth{State: tenant.StateKeyUnavailable, Since: at, Reason: "key_disabled", DeletionDate: at}}},
		KeyChange: &tenant.KeyChange{Region: "eu-west-1", KeyARN: "a", Resolved: "b", From: []kms.KeyRef{ref}, To: []kms.KeyRef{ref}, Started: at},
		Outage:    tenant.Outage{Since: at, Reason: "key_disabled", DeletionDate: at, Warned: time.Hour, ArchivedAt: at},
		Offboarding: &tenant.Offboarding{Requested: at, Versions: []tenant.DestroyedVersion{{Version: 1, Created: at, Wrappings: 2}},
			Keys: []tenant.DestroyedKey{{Provider: "aws-kms", ID: ref.ID, Region: "eu-west-1", Versions: 1}}},
		Receipt:   &tenant.SignedReceipt{Receipt: []byte(`{"format":"x"}`), Signature: []byte{1, 2}},
		Vaults:    map[string]*tenant.Vault{"backup": {Name: "backup", Region: "eu-central-1", KeyARN: "v", Default: true, Added: at}},
		Overrides: tenant.Overrides{KeyBinding: platform.BindingChangeable},
	}
}

// TestModelRoundTrip: every typed member survives the stored document.
func TestModelRoundTrip(t *testing.T) {
	in := full()
	b, err := tenant.MarshalModel(in)
	if err != nil {
		t.Fatal(err)
	}
	out := &tenant.Tenant{ID: in.ID, Name: in.Name, ExternalID: in.ExternalID, State: in.State}
	if err := tenant.UnmarshalModel(b, out); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, out); d != "" {
		t.Fatalf("UnmarshalModel(MarshalModel(t)) differs (-in +out):\n%s", d)
	}
	if d := cmp.Diff(in, in.Clone()); d != "" {
		t.Fatalf("Clone() differs:\n%s", d)
	}
	c := in.Clone()
	c.KeyBinding.Regions["eu-west-1"], c.Regions["eu-west-1"].Keys[0].ID, c.Vaults["backup"].Default = "x", "y", false
	c.Regions["eu-west-1"].Health.State = tenant.StateActive
	if in.KeyBinding.Regions["eu-west-1"] == "x" || in.Regions["eu-west-1"].Keys[0].ID == "y" || !in.Vaults["backup"].Default ||
		in.Regions["eu-west-1"].Health.State != tenant.StateKeyUnavailable {
		t.Fatal("Clone() shares memory with the original")
	}
}

// TestModelReadsRegionsWithoutHealth: a record written before regions kept
// their own health reads as it was: the region serves, and nothing says
// its key failed.
func TestModelReadsRegionsWithoutHealth(t *testing.T) {
	doc := `{"v":2,"regions":{"eu-west-1":{"ready":true,"keys":[{"provider":"aws-kms","id":"k","region":"eu-west-1"}],"since":"2026-12-01T10:00:00Z"}},` +
		`"outage":{"unavailable_since":"2026-12-02T10:00:00Z","reason":"key_disabled"}}`
	tn := tenant.Tenant{ID: "acme", State: tenant.StateKeyUnavailable}
	if err := tenant.UnmarshalModel([]byte(doc), &tn); err != nil {
		t.Fatal(err)
	}
	if !tn.ReadyIn("eu-west-1") || tn.HealthIn("eu-west-1") != nil || tn.HealthIn("eu-central-1") != nil || tn.Outage.Reason != "key_disabled" {
		t.Fatalf("tenant read from an earlier record = %+v, want eu-west-1 ready without health and the outage kept", tn)
	}
}

// TestModelRefusesOtherVersions: a document from a newer release, or one
// never migrated, is not misread.
func TestModelRefusesOtherVersions(t *testing.T) {
	for _, doc := range []string{`{"v":3,"key_binding":{}}`, `{}`, `{"monitor":{"reason":"key_disabled"}}`, `[1]`, `{"v":2`} {
		var tn tenant.Tenant
		err := tenant.UnmarshalModel([]byte(doc), &tn)
		var me *tenant.ModelError
		if !errors.As(err, &me) {
			t.Errorf("UnmarshalModel(%s) err = %v, want a *ModelError", doc, err)
		}
	}
	big := full()
	big.KeyBinding.Regions["x"] = strings.Repeat("a", tenant.MaxModelLen)
	if _, err := tenant.MarshalModel(big); err == nil {
		t.Fatal("MarshalModel(oversized) err = nil")
	}
}

func newManager(t *testing.T, ttl time.Duration) (*tenant.Manager, *sqlite.Store) {
	t.Helper()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "byok.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := st.CreateTenant(ctx, &tenant.Tenant{ID: "acme", Name: "Acme", ExternalID: "external-id-0001", State: tenant.StatePending}); err != nil {
		t.Fatal(err)
	}
	return tenant.NewManager(st, ttl), st
}

// TestManagerUpdateRetries: concurrent updates all land, none lost to a
// stale revision.
func TestManagerUpdateRetries(t *testing.T) {
	m, _ := newManager(t, 0)
	var wg sync.WaitGroup
	errs := make(chan error, 4)
	for i := range 4 {
		wg.Go(func() {
			_, err := m.Update(ctx, "acme", func(tn *tenant.Tenant) error {
				if tn.Vaults == nil {
					tn.Vaults = map[string]*tenant.Vault{}
				}
				name := string(rune('a' + i))
				tn.Vaults[name] = &tenant.Vault{Name: name}
				return nil
			})
			errs <- err
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatalf("Update() err = %v", err)
		}
	}
	got, _ := m.Get(ctx, "acme")
	if len(got.Vaults) != 4 || got.Revision != 5 {
		t.Fatalf("after 4 concurrent updates: %d vaults at revision %d, want 4 at revision 5", len(got.Vaults), got.Revision)
	}
	refuse := errors.New("refused")
	if _, err := m.Update(ctx, "acme", func(*tenant.Tenant) error { return refuse }); !errors.Is(err, refuse) {
		t.Fatalf("Update(refusing mutate) err = %v, want its error", err)
	}
}

// TestManagerCache: Cached serves what this process wrote at once, and a
// change made elsewhere once the TTL has passed.
func TestManagerCache(t *testing.T) {
	m, st := newManager(t, 200*time.Millisecond)
	if _, err := m.Cached(ctx, "acme"); err != nil {
		t.Fatal(err)
	}
	if _, err := m.Update(ctx, "acme", func(tn *tenant.Tenant) error { tn.State = tenant.StateActive; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Cached(ctx, "acme"); got.State != tenant.StateActive {
		t.Fatalf("Cached() after Update = %s, want active at once", got.State)
	}
	cur, _ := st.GetTenant(ctx, "acme")
	if _, err := st.UpdateTenant(ctx, "acme", cur.Revision, func(tn *tenant.Tenant) error { tn.State = tenant.StateSuspended; return nil }); err != nil {
		t.Fatal(err)
	}
	if got, _ := m.Cached(ctx, "acme"); got.State != tenant.StateActive {
		t.Fatalf("Cached() right after another writer's change = %s, want the cached active", got.State)
	}
	time.Sleep(250 * time.Millisecond)
	if got, _ := m.Cached(ctx, "acme"); got.State != tenant.StateSuspended {
		t.Fatalf("Cached() after the TTL = %s, want suspended", got.State)
	}
	older := cur.Clone()
	m.Observe(older) // a read that lost a race with a write must not win
	if got, _ := m.Cached(ctx, "acme"); got.State != tenant.StateSuspended {
		t.Fatalf("Cached() after observing an older revision = %s, want suspended", got.State)
	}
	if _, err := m.Cached(ctx, "nobody"); err == nil {
		t.Fatal("Cached(missing) err = nil")
	}
}
