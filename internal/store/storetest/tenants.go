package storetest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
)

func sortedKeys[V any](m map[string]V) []string {
	var ks []string
	for k := range m {
		ks = append(ks, k)
	}
	slices.Sort(ks)
	return ks
}

func testCreateGet(t *testing.T, s store.Store) {
	before := store.Now()
	in := newTenant("acme")
	in.KeyBinding = &tenant.KeyBinding{Regions: map[string]string{"eu-west-1": "arn:aws:kms:eu-west-1:222222222222:key/k"},
		Enabled: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	in.Regions = map[string]*tenant.Region{"eu-west-1": {Ready: true, Keys: []kms.KeyRef{{Provider: "aws-kms", ID: "k", Region: "eu-west-1"}}}}
	in.Outage = tenant.Outage{Reason: "key_disabled", Warned: time.Hour}
	got, err := s.CreateTenant(ctx, in)
	if err != nil {
		t.Fatalf("CreateTenant() err = %v", err)
	}
	if got.Revision != 1 || got.CreatedAt.Before(before) || !got.UpdatedAt.Equal(got.CreatedAt) || !got.StateSince.Equal(got.CreatedAt) {
		t.Fatalf("CreateTenant() = revision %d created %v updated %v, want revision 1 and fresh equal times",
			got.Revision, got.CreatedAt, got.UpdatedAt)
	}
	if in.Revision != 0 || !in.CreatedAt.IsZero() {
		t.Fatalf("CreateTenant() modified its argument: %+v", in)
	}
	want := in.Clone()
	want.Revision, want.CreatedAt, want.UpdatedAt, want.StateSince = 1, got.CreatedAt, got.UpdatedAt, got.CreatedAt
	diff(t, "CreateTenant()", got, want)
	read, err := s.GetTenant(ctx, "acme")
	if err != nil {
		t.Fatalf("GetTenant() err = %v", err)
	}
	diff(t, "GetTenant()", read, want)

	plain, err := s.CreateTenant(ctx, newTenant("plain"))
	if err != nil {
		t.Fatalf("CreateTenant(plain) err = %v", err)
	}
	if read, _ := s.GetTenant(ctx, "plain"); read.KeyBinding != nil || read.Regions != nil || read.Outage != (tenant.Outage{}) {
		t.Fatalf("GetTenant(plain) = %+v, want no key binding, regions or outage", read)
	}
	_ = plain
}

func testCreateConflicts(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	_, err := s.CreateTenant(ctx, newTenant("acme"))
	wantErr(t, "CreateTenant(duplicate id)", err, store.ErrConflict)

	other := newTenant("globex")
	other.ExternalID = newTenant("acme").ExternalID
	_, err = s.CreateTenant(ctx, other)
	wantErr(t, "CreateTenant(duplicate external id)", err, store.ErrConflict)
	if !strings.Contains(err.Error(), "external id") {
		t.Fatalf("CreateTenant(duplicate external id) err = %v, want it to name the external id", err)
	}
	if _, err := s.GetTenant(ctx, "globex"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("GetTenant(refused tenant) err = %v, want ErrNotFound", err)
	}
}

func testCreateInvalid(t *testing.T, s store.Store) {
	cases := map[string]func(*tenant.Tenant){
		"empty id":            func(tn *tenant.Tenant) { tn.ID = "" },
		"id with slash":       func(tn *tenant.Tenant) { tn.ID = "a/b" },
		"id too long":         func(tn *tenant.Tenant) { tn.ID = strings.Repeat("a", 300) },
		"empty name":          func(tn *tenant.Tenant) { tn.Name = "" },
		"name too long":       func(tn *tenant.Tenant) { tn.Name = strings.Repeat("n", store.MaxNameLen+1) },
		"name with control":   func(tn *tenant.Tenant) { tn.Name = "a\x00b" },
		"name not utf8":       func(tn *tenant.Tenant) { tn.Name = "a\xffb" },
		"external id short":   func(tn *tenant.Tenant) { tn.ExternalID = "short" },
		"external id long":    func(tn *tenant.Tenant) { tn.ExternalID = strings.Repeat("e", 129) },
		"external id charset": func(tn *tenant.Tenant) { tn.ExternalID = "ext id with spaces" },
		"empty state":         func(tn *tenant.Tenant) { tn.State = "" },
		"unknown state":       func(tn *tenant.Tenant) { tn.State = "enabled" },
		"record too large": func(tn *tenant.Tenant) {
			tn.KeyBinding = &tenant.KeyBinding{Regions: map[string]string{"r": strings.Repeat("x", tenant.MaxModelLen)}}
		},
	}
	for _, name := range sortedKeys(cases) {
		tn := newTenant("acme")
		cases[name](tn)
		_, err := s.CreateTenant(ctx, tn)
		wantErr(t, "CreateTenant("+name+")", err, store.ErrInvalid)
	}
	page, err := s.ListTenants(ctx, store.ListOptions{})
	if err != nil || len(page.Tenants) != 0 {
		t.Fatalf("ListTenants() after invalid creates = %v, %v; want nothing stored", page, err)
	}
}

func testGetErrors(t *testing.T, s store.Store) {
	_, err := s.GetTenant(ctx, "missing")
	wantErr(t, "GetTenant(missing)", err, store.ErrNotFound)
	_, err = s.GetTenant(ctx, "bad id")
	wantErr(t, "GetTenant(bad id)", err, store.ErrInvalid)
}

func testList(t *testing.T, s store.Store) {
	var ids []string
	for i := range 25 {
		id := fmt.Sprintf("t%03d", 24-i) // created out of order
		tn := newTenant(id)
		if i%3 == 0 {
			tn.State = tenant.StateActive
		}
		if _, err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	slices.Sort(ids)
	diff(t, "all pages", listAll(t, s, store.ListOptions{Limit: 10}, 3), ids)
	diff(t, "one page", listAll(t, s, store.ListOptions{}, 1), ids)
	active := listAll(t, s, store.ListOptions{State: tenant.StateActive, Limit: 4}, 3)
	if len(active) != 9 {
		t.Fatalf("ListTenants(active) = %v, want 9 tenants", active)
	}
	exact := listAll(t, s, store.ListOptions{Limit: 5}, 5)
	diff(t, "exact pages", exact, ids)
}

// listAll follows cursors and checks the number of pages.
func listAll(t *testing.T, s store.Store, opts store.ListOptions, wantPages int) []string {
	t.Helper()
	var ids []string
	pages := 0
	for {
		page, err := s.ListTenants(ctx, opts)
		if err != nil {
			t.Fatalf("ListTenants(%+v) err = %v", opts, err)
		}
		pages++
		for _, tn := range page.Tenants {
			if opts.State != "" && tn.State != opts.State {
				t.Fatalf("ListTenants(state %s) returned %s in state %s", opts.State, tn.ID, tn.State)
			}
			ids = append(ids, tn.ID)
		}
		if page.Next == "" {
			break
		}
		opts.Cursor = page.Next
	}
	if pages != wantPages {
		t.Fatalf("ListTenants(%+v) took %d pages, want %d", opts, pages, wantPages)
	}
	return ids
}

func testListErrors(t *testing.T, s store.Store) {
	cases := map[string]store.ListOptions{
		"negative limit":  {Limit: -1},
		"limit too large": {Limit: store.MaxPageSize + 1},
		"garbage cursor":  {Cursor: "not a cursor!"},
		"forged cursor":   {Cursor: "dDE6YSBi"}, // "t1:a b"
		"unknown state":   {State: "enabled"},
	}
	for _, name := range sortedKeys(cases) {
		_, err := s.ListTenants(ctx, cases[name])
		wantErr(t, "ListTenants("+name+")", err, store.ErrInvalid)
	}
}

func testUpdate(t *testing.T, s store.Store) {
	created := mustCreate(t, s, "acme")
	time.Sleep(2 * time.Millisecond)
	got, err := s.UpdateTenant(ctx, "acme", 1, func(tn *tenant.Tenant) error {
		tn.State, tn.Name, tn.ExternalID = tenant.StateActive, "Acme Corp", "new-external-id"
		tn.KeyChange = &tenant.KeyChange{Region: "eu-west-1", KeyARN: "arn", Started: time.Unix(1, 0).UTC()}
		return nil
	})
	if err != nil {
		t.Fatalf("UpdateTenant() err = %v", err)
	}
	want := created.Clone()
	want.State, want.Name, want.ExternalID, want.Revision = tenant.StateActive, "Acme Corp", "new-external-id", 2
	want.KeyChange = &tenant.KeyChange{Region: "eu-west-1", KeyARN: "arn", Started: time.Unix(1, 0).UTC()}
	want.UpdatedAt, want.StateSince = got.UpdatedAt, got.UpdatedAt
	diff(t, "UpdateTenant()", got, want)
	if got.StateSince.Equal(created.StateSince) {
		t.Fatalf("UpdateTenant(new state) StateSince = %v, want the update's time", got.StateSince)
	}
	same, err := s.UpdateTenant(ctx, "acme", 2, func(tn *tenant.Tenant) error { tn.Name = "Acme"; return nil })
	if err != nil || !same.StateSince.Equal(got.StateSince) {
		t.Fatalf("UpdateTenant(same state) StateSince = %v, %v; want it unchanged at %v", same.StateSince, err, got.StateSince)
	}
	if !got.UpdatedAt.After(created.UpdatedAt) {
		t.Fatalf("UpdateTenant() UpdatedAt = %v, want after %v", got.UpdatedAt, created.UpdatedAt)
	}
	read, _ := s.GetTenant(ctx, "acme")
	want.Name, want.Revision, want.UpdatedAt = "Acme", 3, same.UpdatedAt
	diff(t, "GetTenant() after update", read, want)
	other := newTenant("other")
	other.ExternalID = created.ExternalID // freed by the update
	if _, err := s.CreateTenant(ctx, other); err != nil {
		t.Fatalf("CreateTenant(reusing a released external id) err = %v", err)
	}
}

func testUpdateErrors(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "globex")
	noop := func(*tenant.Tenant) error { return nil }
	_, err := s.UpdateTenant(ctx, "acme", 2, noop)
	wantErr(t, "UpdateTenant(stale revision)", err, store.ErrConflict)
	if !errors.Is(err, tenant.ErrStale) {
		t.Fatalf("UpdateTenant(stale revision) err = %v, want tenant.ErrStale", err)
	}
	_, err = s.UpdateTenant(ctx, "missing", 1, noop)
	wantErr(t, "UpdateTenant(missing)", err, store.ErrNotFound)
	for name, rev := range map[string]int64{"zero revision": 0, "negative revision": -1} {
		_, err = s.UpdateTenant(ctx, "acme", rev, noop)
		wantErr(t, "UpdateTenant("+name+")", err, store.ErrInvalid)
	}
	_, err = s.UpdateTenant(ctx, "acme", 1, nil)
	wantErr(t, "UpdateTenant(nil mutate)", err, store.ErrInvalid)

	mutations := map[string]func(*tenant.Tenant){
		"change id":       func(tn *tenant.Tenant) { tn.ID = "other" },
		"change revision": func(tn *tenant.Tenant) { tn.Revision = 7 },
		"change created":  func(tn *tenant.Tenant) { tn.CreatedAt = tn.CreatedAt.Add(time.Hour) },
		"bad state":       func(tn *tenant.Tenant) { tn.State = "gone" },
		"change since":    func(tn *tenant.Tenant) { tn.StateSince = tn.StateSince.Add(time.Hour) },
	}
	for _, name := range sortedKeys(mutations) {
		m := mutations[name]
		_, err = s.UpdateTenant(ctx, "acme", 1, func(tn *tenant.Tenant) error { m(tn); return nil })
		wantErr(t, "UpdateTenant("+name+")", err, store.ErrInvalid)
	}
	_, err = s.UpdateTenant(ctx, "acme", 1, func(tn *tenant.Tenant) error {
		tn.ExternalID = newTenant("globex").ExternalID
		return nil
	})
	wantErr(t, "UpdateTenant(taken external id)", err, store.ErrConflict)

	refuse := errors.New("refused by caller")
	_, err = s.UpdateTenant(ctx, "acme", 1, func(tn *tenant.Tenant) error { tn.Name = "changed"; return refuse })
	if !errors.Is(err, refuse) {
		t.Fatalf("UpdateTenant(mutate fails) err = %v, want the mutate error", err)
	}
	got, _ := s.GetTenant(ctx, "acme")
	if got.Revision != 1 || got.Name != newTenant("acme").Name {
		t.Fatalf("tenant after refused updates = %+v, want it unchanged at revision 1", got)
	}
}

// testUpdateRace has many goroutines update the same revision: exactly one
// may win, as when two enablements run at once.
func testUpdateRace(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() {
			_, errs[i] = s.UpdateTenant(ctx, "acme", 1, func(tn *tenant.Tenant) error {
				tn.Name = fmt.Sprintf("winner %d", i)
				tn.State = tenant.StateActive
				return nil
			})
		})
	}
	wg.Wait()
	winner := checkOneWinner(t, errs, store.ErrConflict)
	got, _ := s.GetTenant(ctx, "acme")
	if got.Revision != 2 || got.Name != fmt.Sprintf("winner %d", winner) {
		t.Fatalf("tenant after race = revision %d name %q, want revision 2 by winner %d", got.Revision, got.Name, winner)
	}
}

// checkOneWinner checks that exactly one error is nil and the others match
// lose, and returns the winner's index.
func checkOneWinner(t *testing.T, errs []error, lose error) int {
	t.Helper()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("goroutines %d and %d both won", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, lose):
			t.Fatalf("goroutine %d err = %v, want %v", i, err, lose)
		}
	}
	if winner < 0 {
		t.Fatal("no goroutine won")
	}
	return winner
}

func testDelete(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "globex")
	if _, err := s.PutAttachment(ctx, attachment("acme", "eu-west-1")); err != nil {
		t.Fatal(err)
	}
	if err := s.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatalf("DeleteTenant() err = %v", err)
	}
	_, err := s.GetTenant(ctx, "acme")
	wantErr(t, "GetTenant(deleted)", err, store.ErrNotFound)
	_, err = s.Attachments(ctx, "acme")
	wantErr(t, "Attachments(deleted tenant)", err, store.ErrNotFound)
	wantErr(t, "DeleteTenant(again)", s.DeleteTenant(ctx, "acme"), store.ErrNotFound)
	wantErr(t, "DeleteTenant(bad id)", s.DeleteTenant(ctx, "a b"), store.ErrInvalid)
	if _, err := s.GetTenant(ctx, "globex"); err != nil {
		t.Fatalf("GetTenant(other tenant) err = %v", err)
	}
	// The id and external id are free again.
	mustCreate(t, s, "acme")
}

// testDeleteProtectsVersions checks that key versions, which data may still
// need, survive any attempt to delete their tenant until shredded on purpose.
func testDeleteProtectsVersions(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustAdd(t, s, version("acme", 1, 1, 2))
	mustAdd(t, s, version("acme", 2, 3))
	err := s.DeleteTenant(ctx, "acme")
	wantErr(t, "DeleteTenant(with key versions)", err, store.ErrConflict)
	if !strings.Contains(err.Error(), "ShredTenantKeys") {
		t.Fatalf("DeleteTenant(with key versions) err = %v, want it to say how to shred", err)
	}
	if vs, err := s.Versions(ctx, "acme"); err != nil || len(vs) != 2 {
		t.Fatalf("Versions() after refused delete = %d versions, %v; want 2", len(vs), err)
	}
	if n, err := s.ShredTenantKeys(ctx, "acme"); err != nil || n != 2 {
		t.Fatalf("ShredTenantKeys() = %d, %v; want 2, nil", n, err)
	}
	if err := s.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatalf("DeleteTenant(after shred) err = %v", err)
	}
}

func testShred(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "globex")
	mustAdd(t, s, version("acme", 1, 1, 2))
	mustAdd(t, s, version("globex", 1, 3))
	if n, err := s.ShredTenantKeys(ctx, "acme"); err != nil || n != 1 {
		t.Fatalf("ShredTenantKeys() = %d, %v; want 1, nil", n, err)
	}
	_, err := s.LatestVersion(ctx, "acme")
	wantNoKey(t, "LatestVersion(shredded)", err)
	if _, err := s.Version(ctx, "globex", 1); err != nil {
		t.Fatalf("Version(other tenant) after shred err = %v", err)
	}
	if n, err := s.ShredTenantKeys(ctx, "acme"); err != nil || n != 0 {
		t.Fatalf("ShredTenantKeys(again) = %d, %v; want 0, nil", n, err)
	}
	if _, err := s.GetTenant(ctx, "acme"); err != nil {
		t.Fatalf("GetTenant(shredded) err = %v; shredding keeps the tenant", err)
	}
	_, err = s.ShredTenantKeys(ctx, "missing")
	wantErr(t, "ShredTenantKeys(missing)", err, store.ErrNotFound)
	_, err = s.ShredTenantKeys(ctx, "")
	wantErr(t, "ShredTenantKeys(empty id)", err, store.ErrInvalid)
	// The version numbers are free again for a new key.
	mustAdd(t, s, version("acme", 1, 4))
}
