package storetest

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

func attachment(tenant, region string) *store.Attachment {
	return &store.Attachment{Tenant: tenant, Region: region, AccessPattern: store.AccessDirect,
		KeyARN: "arn:aws:kms:" + region + ":111122223333:key/mrk-0123"}
}

func testAttachments(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	if as, err := s.Attachments(ctx, "acme"); err != nil || len(as) != 0 {
		t.Fatalf("Attachments(none) = %v, %v; want empty", as, err)
	}
	west, east := attachment("acme", "eu-west-1"), attachment("acme", "eu-central-1")
	east.AccessPattern, east.RoleARN = store.AccessAssumeRole, "arn:aws:iam::111122223333:role/byok"
	var want []*store.Attachment
	for _, a := range []*store.Attachment{west, east} {
		got, err := s.PutAttachment(ctx, a)
		if err != nil {
			t.Fatalf("PutAttachment(%s) err = %v", a.Region, err)
		}
		if got.CreatedAt.IsZero() || !a.CreatedAt.IsZero() {
			t.Fatalf("PutAttachment() CreatedAt = %v (argument %v), want it set on the result only", got.CreatedAt, a.CreatedAt)
		}
		want = append([]*store.Attachment{got}, want...) // ordered by region: central before west
	}
	got, err := s.Attachments(ctx, "acme")
	if err != nil {
		t.Fatalf("Attachments() err = %v", err)
	}
	diff(t, "Attachments()", got, want)

	west.KeyARN = "arn:aws:kms:eu-west-1:111122223333:key/mrk-4567"
	replaced, err := s.PutAttachment(ctx, west)
	if err != nil {
		t.Fatalf("PutAttachment(replace) err = %v", err)
	}
	got, _ = s.Attachments(ctx, "acme")
	diff(t, "Attachments() after replace", got, []*store.Attachment{want[0], replaced})

	if err := s.DeleteAttachment(ctx, "acme", "eu-central-1"); err != nil {
		t.Fatalf("DeleteAttachment() err = %v", err)
	}
	got, _ = s.Attachments(ctx, "acme")
	diff(t, "Attachments() after delete", got, []*store.Attachment{replaced})
}

func testAttachmentErrors(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	_, err := s.PutAttachment(ctx, attachment("missing", "eu-west-1"))
	wantErr(t, "PutAttachment(unknown tenant)", err, store.ErrNotFound)
	_, err = s.Attachments(ctx, "missing")
	wantErr(t, "Attachments(unknown tenant)", err, store.ErrNotFound)
	_, err = s.Attachments(ctx, "bad id")
	wantErr(t, "Attachments(bad id)", err, store.ErrInvalid)
	wantErr(t, "DeleteAttachment(none)", s.DeleteAttachment(ctx, "acme", "eu-west-1"), store.ErrNotFound)
	wantErr(t, "DeleteAttachment(bad region)", s.DeleteAttachment(ctx, "acme", "EU WEST"), store.ErrInvalid)
}

func testAttachmentInvalid(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	cases := map[string]func(*store.Attachment){
		"bad tenant":          func(a *store.Attachment) { a.Tenant = "a b" },
		"empty region":        func(a *store.Attachment) { a.Region = "" },
		"region uppercase":    func(a *store.Attachment) { a.Region = "EU-WEST-1" },
		"region too long":     func(a *store.Attachment) { a.Region = strings.Repeat("a", store.MaxRegionLen+1) },
		"empty key":           func(a *store.Attachment) { a.KeyARN = "" },
		"key not arn":         func(a *store.Attachment) { a.KeyARN = "mrk-0123" },
		"key too long":        func(a *store.Attachment) { a.KeyARN = "arn:" + strings.Repeat("k", store.MaxARNLen) },
		"key with nul":        func(a *store.Attachment) { a.KeyARN = "arn:aws:kms\x00" },
		"unknown pattern":     func(a *store.Attachment) { a.AccessPattern = "grant" },
		"direct with role":    func(a *store.Attachment) { a.RoleARN = "arn:aws:iam::111122223333:role/byok" },
		"assume without role": func(a *store.Attachment) { a.AccessPattern = store.AccessAssumeRole },
	}
	for _, name := range sortedKeys(cases) {
		a := attachment("acme", "eu-west-1")
		cases[name](a)
		_, err := s.PutAttachment(ctx, a)
		wantErr(t, "PutAttachment("+name+")", err, store.ErrInvalid)
	}
}

func wantNoKey(t *testing.T, what string, err error) {
	t.Helper()
	if !errors.Is(err, keyring.ErrNoKey) {
		t.Fatalf("%s err = %v, want keyring.ErrNoKey", what, err)
	}
	wantErr(t, what, err, store.ErrNotFound)
}

func testVersions(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "globex")
	v1, v2, other := version("acme", 1, 1, 2, 3), version("acme", 2, 4), version("globex", 1, 5)
	v2.Created = time.Date(2026, 3, 2, 0, 0, 0, 999, time.FixedZone("CET", 3600)) // below µs, not UTC
	for _, v := range []*keyring.Version{v2, v1, other} {                         // out of order
		mustAdd(t, s, v)
	}
	v2.Created = v2.Created.UTC().Truncate(time.Microsecond)
	got, err := s.Version(ctx, "acme", 1)
	if err != nil {
		t.Fatalf("Version(1) err = %v", err)
	}
	diff(t, "Version(1)", got, v1)
	latest, err := s.LatestVersion(ctx, "acme")
	if err != nil {
		t.Fatalf("LatestVersion() err = %v", err)
	}
	diff(t, "LatestVersion()", latest, v2)
	all, err := s.Versions(ctx, "acme")
	if err != nil {
		t.Fatalf("Versions() err = %v", err)
	}
	diff(t, "Versions()", all, []*keyring.Version{v1, v2})

	// The store keeps no reference to the caller's wrappings.
	v1.Wrappings[0].Ciphertext[0] ^= 1
	again, _ := s.Version(ctx, "acme", 1)
	if again.Wrappings[0].Ciphertext[0] == v1.Wrappings[0].Ciphertext[0] {
		t.Fatal("Version() reflects a change to the caller's slice after AddVersion")
	}
}

func testNoKey(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	_, err := s.LatestVersion(ctx, "acme")
	wantNoKey(t, "LatestVersion(no versions)", err)
	_, err = s.LatestVersion(ctx, "missing")
	wantNoKey(t, "LatestVersion(unknown tenant)", err)
	mustAdd(t, s, version("acme", 1, 1))
	_, err = s.Version(ctx, "acme", 2)
	wantNoKey(t, "Version(2)", err)
	if vs, err := s.Versions(ctx, "missing"); err != nil || len(vs) != 0 {
		t.Fatalf("Versions(unknown tenant) = %v, %v; want none", vs, err)
	}
	_, err = s.Version(ctx, "acme", 0)
	wantErr(t, "Version(0)", err, store.ErrInvalid)
	_, err = s.LatestVersion(ctx, "bad id")
	wantErr(t, "LatestVersion(bad id)", err, store.ErrInvalid)
	_, err = s.Versions(ctx, "")
	wantErr(t, "Versions(empty id)", err, store.ErrInvalid)
}

func testVersionExists(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	v1 := version("acme", 1, 1)
	mustAdd(t, s, v1)
	err := s.AddVersion(ctx, version("acme", 1, 2, 3))
	if !errors.Is(err, keyring.ErrVersionExists) {
		t.Fatalf("AddVersion(duplicate) err = %v, want keyring.ErrVersionExists", err)
	}
	wantErr(t, "AddVersion(duplicate)", err, store.ErrConflict)
	got, _ := s.Version(ctx, "acme", 1)
	diff(t, "Version(1) after refused duplicate", got, v1)

	err = s.AddVersion(ctx, version("missing", 1, 1))
	wantErr(t, "AddVersion(unknown tenant)", err, store.ErrNotFound)
}

// testVersionRace has many goroutines add the same version, as instances
// creating a tenant's next key at once: one wins, the others learn it.
func testVersionRace(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.AddVersion(ctx, version("acme", 1, i)) })
	}
	wg.Wait()
	winner := checkOneWinner(t, errs, keyring.ErrVersionExists)
	got, err := s.Version(ctx, "acme", 1)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "Version(1) after race", got, version("acme", 1, winner))
}

func testVersionInvalid(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	cases := map[string]func(*keyring.Version){
		"bad tenant":         func(v *keyring.Version) { v.Tenant = "a b" },
		"version 0":          func(v *keyring.Version) { v.Version = 0 },
		"no wrappings":       func(v *keyring.Version) { v.Wrappings = nil },
		"too many wrappings": func(v *keyring.Version) { v.Wrappings = make([]kms.Wrapped, store.MaxWrappings+1) },
		"created out of range": func(v *keyring.Version) {
			v.Created = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC)
		},
	}
	for name, fn := range wrappingMutations() {
		cases["wrapping "+name] = func(v *keyring.Version) { fn(&v.Wrappings[0]) }
	}
	for _, name := range sortedKeys(cases) {
		v := version("acme", 1, 1)
		cases[name](v)
		err := s.AddVersion(ctx, v)
		wantErr(t, "AddVersion("+name+")", err, store.ErrInvalid)
	}
	_, err := s.LatestVersion(ctx, "acme")
	wantNoKey(t, "LatestVersion() after invalid adds", err)
}

// wrappingMutations make a valid wrapping invalid, one field at a time.
func wrappingMutations() map[string]func(*kms.Wrapped) {
	return map[string]func(*kms.Wrapped){
		"no provider":        func(w *kms.Wrapped) { w.Key.Provider = "" },
		"no key id":          func(w *kms.Wrapped) { w.Key.ID = "" },
		"key id too long":    func(w *kms.Wrapped) { w.Key.ID = strings.Repeat("k", store.MaxARNLen+1) },
		"key id with nul":    func(w *kms.Wrapped) { w.Key.ID = "k\x00" },
		"bad region":         func(w *kms.Wrapped) { w.Key.Region = "Eu West" },
		"bad failover":       func(w *kms.Wrapped) { w.Key.FailoverRegions = []string{"us-east-1", "a,b"} },
		"no algorithm":       func(w *kms.Wrapped) { w.Algorithm = "" },
		"no ciphertext":      func(w *kms.Wrapped) { w.Ciphertext = nil },
		"ciphertext large":   func(w *kms.Wrapped) { w.Ciphertext = make([]byte, store.MaxCiphertextLen+1) },
		"identity tag large": func(w *kms.Wrapped) { w.IdentityTag = make([]byte, store.MaxIdentityTagLen+1) },
		"request id utf8":    func(w *kms.Wrapped) { w.RequestID = "\xff" },
		"role not text":      func(w *kms.Wrapped) { w.Key.RoleARN = "arn:\x00" },
		"external id long":   func(w *kms.Wrapped) { w.Key.ExternalID = strings.Repeat("e", store.MaxWrapExternalID+1) },
	}
}

func testSetWrappings(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustAdd(t, s, version("acme", 1, 1, 2))
	mustAdd(t, s, version("acme", 2, 3))
	ws := []kms.Wrapped{wrapping(7), wrapping(8), wrapping(9)}
	if err := s.SetWrappings(ctx, "acme", 1, ws); err != nil {
		t.Fatalf("SetWrappings() err = %v", err)
	}
	got, _ := s.Version(ctx, "acme", 1)
	want := version("acme", 1, 7, 8, 9)
	diff(t, "Version(1) after SetWrappings", got, want)
	if err := s.SetWrappings(ctx, "acme", 1, ws[2:]); err != nil {
		t.Fatalf("SetWrappings(fewer) err = %v", err)
	}
	got, _ = s.Version(ctx, "acme", 1)
	diff(t, "Version(1) after SetWrappings(fewer)", got, version("acme", 1, 9))
	other, _ := s.Version(ctx, "acme", 2)
	diff(t, "Version(2) untouched", other, version("acme", 2, 3))
}

func testSetWrappingsErrors(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	v1 := version("acme", 1, 1)
	mustAdd(t, s, v1)
	wantNoKey(t, "SetWrappings(missing version)", s.SetWrappings(ctx, "acme", 2, v1.Wrappings))
	wantNoKey(t, "SetWrappings(missing tenant)", s.SetWrappings(ctx, "missing", 1, v1.Wrappings))
	// Dropping every wrapping would shred the version by accident.
	wantErr(t, "SetWrappings(none)", s.SetWrappings(ctx, "acme", 1, nil), store.ErrInvalid)
	wantErr(t, "SetWrappings(version 0)", s.SetWrappings(ctx, "acme", 0, v1.Wrappings), store.ErrInvalid)
	for name, fn := range wrappingMutations() {
		w := wrapping(2)
		fn(&w)
		err := s.SetWrappings(ctx, "acme", 1, []kms.Wrapped{wrapping(3), w})
		wantErr(t, "SetWrappings("+name+")", err, store.ErrInvalid)
	}
	got, _ := s.Version(ctx, "acme", 1)
	diff(t, "Version(1) after refused SetWrappings", got, v1)
}

func testVersionsByWriter(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "globex")
	mustAdd(t, s, version("globex", 1, 1))
	mustAdd(t, s, version("acme", 2, 1))
	mustAdd(t, s, version("acme", 1, 1))
	got, err := s.VersionsByWriter(ctx, WriterA)
	if err != nil {
		t.Fatalf("VersionsByWriter() err = %v", err)
	}
	diff(t, "VersionsByWriter()", got, []store.VersionRef{ref("acme", 1), ref("acme", 2), ref("globex", 1)})
	if got, err := s.VersionsByWriter(ctx, "byok v0.0.1-faulty"); err != nil || len(got) != 0 {
		t.Fatalf("VersionsByWriter(other) = %v, %v; want none", got, err)
	}
	_, err = s.VersionsByWriter(ctx, "")
	wantErr(t, "VersionsByWriter(empty)", err, store.ErrInvalid)
}

// testConcurrent mixes every kind of call from many goroutines; the race
// detector and the final counts check it.
func testConcurrent(t *testing.T, s store.Store) {
	const workers, each = 8, 5
	var wg sync.WaitGroup
	errs := make(chan error, workers*each*8)
	for w := range workers {
		wg.Go(func() {
			for i := range each {
				errs <- concurrentStep(s, fmt.Sprintf("w%d-t%d", w, i))
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
	page, err := s.ListTenants(ctx, store.ListOptions{Limit: store.MaxPageSize})
	if err != nil || len(page.Tenants) != workers*each {
		t.Fatalf("ListTenants() = %d tenants, %v; want %d", len(page.Tenants), err, workers*each)
	}
	for _, tn := range page.Tenants {
		if tn.Revision != 2 || tn.State != tenant.StateActive {
			t.Fatalf("tenant %s = revision %d state %s, want 2 active", tn.ID, tn.Revision, tn.State)
		}
	}
}

func concurrentStep(s store.Store, id string) error {
	if _, err := s.CreateTenant(ctx, newTenant(id)); err != nil {
		return err
	}
	if err := s.AddVersion(ctx, version(id, 1, 1, 2)); err != nil {
		return err
	}
	if _, err := s.PutAttachment(ctx, attachment(id, "eu-west-1")); err != nil {
		return err
	}
	if err := s.SetWrappings(ctx, id, 1, []kms.Wrapped{wrapping(3)}); err != nil {
		return err
	}
	if _, err := s.ListTenants(ctx, store.ListOptions{Limit: 3}); err != nil {
		return err
	}
	_, err := s.UpdateTenant(ctx, id, 1, func(tn *tenant.Tenant) error { tn.State = tenant.StateActive; return nil })
	if err != nil {
		return err
	}
	v, err := s.LatestVersion(ctx, id)
	if err == nil && len(v.Wrappings) != 1 {
		err = fmt.Errorf("tenant %s: %d wrappings, want 1", id, len(v.Wrappings))
	}
	return err
}

// testCanceled checks that a canceled context stops calls with its error.
func testCanceled(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	c, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := s.GetTenant(c, "acme"); !errors.Is(err, context.Canceled) {
		t.Fatalf("GetTenant(canceled) err = %v, want context.Canceled", err)
	}
	if err := s.AddVersion(c, version("acme", 1, 1)); !errors.Is(err, context.Canceled) {
		t.Fatalf("AddVersion(canceled) err = %v, want context.Canceled", err)
	}
	if _, err := s.LatestVersion(ctx, "acme"); !errors.Is(err, keyring.ErrNoKey) {
		t.Fatalf("LatestVersion() after canceled add err = %v, want ErrNoKey", err)
	}
}
