package storetest

import (
	"bytes"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/rootseal"
	"github.com/byok-dev/byok/internal/store"
)

// sealedWebhook is a webhook whose secret is sealed; the store keeps the
// sealed bytes as given.
func sealedWebhook(id, tenant string) *store.Webhook {
	w := webhook(id, tenant)
	w.Secret, w.SealedSecret = nil, []byte("\x01sealed secret of "+id)
	return w
}

// A sealed secret is stored and read back as given, with no clear secret;
// claimed entries carry it with the webhook's tenant.
func testSealedWebhooks(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	in := sealedWebhook("sealed", "acme")
	w, err := s.CreateWebhook(ctx, in)
	if err != nil {
		t.Fatalf("CreateWebhook(sealed) err = %v", err)
	}
	got, err := s.Webhook(ctx, "acme", "sealed")
	if err != nil {
		t.Fatalf("Webhook(sealed) err = %v", err)
	}
	diff(t, "Webhook(sealed)", []*store.Webhook{got}, []*store.Webhook{w})
	if got.Secret != nil || !bytes.Equal(got.SealedSecret, in.SealedSecret) {
		t.Fatalf("Webhook(sealed) = %+v, want the sealed secret only", got)
	}
	if clear, _ := s.ClearSecretWebhooks(ctx, "", "", 10); len(clear) != 0 {
		t.Fatalf("ClearSecretWebhooks() = %v, want none", clear)
	}
	mustEnqueue(t, s, event("evt_1", "acme", t0), 1)
	claimed := mustClaim(t, s, t0, 10)
	if len(claimed) != 1 || claimed[0].Secret != nil || !bytes.Equal(claimed[0].SealedSecret, in.SealedSecret) || claimed[0].Tenant != "acme" {
		t.Fatalf("ClaimOutbox() = %+v, want the sealed secret and tenant acme", claimed)
	}
	both := sealedWebhook("both", "")
	both.Secret = webhook("both", "").Secret
	_, err = s.CreateWebhook(ctx, both)
	wantErr(t, "CreateWebhook(clear and sealed)", err, store.ErrInvalid)
}

// Clear secrets are listed in id order, page by page, and each is replaced
// by its sealed form once, only while it still holds that clear secret.
func testSealClearSecrets(t *testing.T, s store.Store) {
	a, b := mustWebhook(t, s, "a", ""), mustWebhook(t, s, "b", "")
	if _, err := s.CreateWebhook(ctx, sealedWebhook("c", "")); err != nil {
		t.Fatal(err)
	}
	page, err := s.ClearSecretWebhooks(ctx, "", "", 1)
	if err != nil || len(page) != 1 || page[0].ID != "a" || !bytes.Equal(page[0].Secret, a.Secret) {
		t.Fatalf("ClearSecretWebhooks(first page) = %v, %v; want a with its secret", page, err)
	}
	if page, _ = s.ClearSecretWebhooks(ctx, "", "a", 10); len(page) != 1 || page[0].ID != "b" {
		t.Fatalf("ClearSecretWebhooks(after a) = %v, want b", page)
	}
	wantErr(t, "SealWebhookSecret(other clear secret)", s.SealWebhookSecret(ctx, "", "a", b.Secret, []byte("x")), store.ErrNotFound)
	if err := s.SealWebhookSecret(ctx, "", "a", a.Secret, []byte("sealed a")); err != nil {
		t.Fatalf("SealWebhookSecret(a) err = %v", err)
	}
	wantErr(t, "SealWebhookSecret(a again)", s.SealWebhookSecret(ctx, "", "a", a.Secret, []byte("sealed a")), store.ErrNotFound)
	wantErr(t, "SealWebhookSecret(missing)", s.SealWebhookSecret(ctx, "", "gone", a.Secret, []byte("x")), store.ErrNotFound)
	wantErr(t, "SealWebhookSecret(no sealed)", s.SealWebhookSecret(ctx, "", "b", b.Secret, nil), store.ErrInvalid)
	got, _ := s.Webhook(ctx, "", "a")
	if got.Secret != nil || string(got.SealedSecret) != "sealed a" {
		t.Fatalf("Webhook(a) after sealing = %+v, want the sealed secret only", got)
	}
	if page, _ = s.ClearSecretWebhooks(ctx, "", "", 10); len(page) != 1 || page[0].ID != "b" {
		t.Fatalf("ClearSecretWebhooks() after sealing a = %v, want b only", page)
	}
	_, err = s.ClearSecretWebhooks(ctx, "", "", 0)
	wantErr(t, "ClearSecretWebhooks(limit 0)", err, store.ErrInvalid)
}

// Schema5Webhook is a webhooks row as releases before sealing stored it,
// with its secret in clear.
type Schema5Webhook struct {
	ID, URL string
	Secret  []byte
}

// Schema5Webhooks returns platform-wide subscriptions to store in a
// database at schema version 5 before it is migrated.
func Schema5Webhooks() []Schema5Webhook {
	return []Schema5Webhook{
		{ID: "legacy-a", URL: "https://hooks.example.com/a", Secret: []byte("legacy secret a 0123456789abcdef")},
		{ID: "legacy-b", URL: "https://hooks.example.com/b", Secret: []byte("legacy secret b 0123456789abcdef")},
	}
}

// CheckSchema5Webhooks checks that byok serve's conversion seals the clear
// secrets of Schema5Webhooks in s, migrated from schema version 5, and that
// each still opens to the secret its receiver has. contains reports
// whether any row still holds the bytes given.
func CheckSchema5Webhooks(t *testing.T, s store.Store, contains func(b []byte) bool) {
	t.Helper()
	sealer := sealerForTest(t)
	w, err := monitor.NewWebhooks(monitor.WebhookConfig{Store: s, Secrets: sealer})
	if err != nil {
		t.Fatal(err)
	}
	if n, err := w.SealStoredSecrets(ctx); n != len(Schema5Webhooks()) || err != nil {
		t.Fatalf("SealStoredSecrets() after migration = %d, %v; want %d", n, err, len(Schema5Webhooks()))
	}
	for _, h := range Schema5Webhooks() {
		got, err := s.Webhook(ctx, "", h.ID)
		if err != nil {
			t.Fatal(err)
		}
		secret, err := sealer.Open(got.SealedSecret, h.ID, "")
		if err != nil || !bytes.Equal(secret, h.Secret) || got.Secret != nil {
			t.Fatalf("webhook %s after sealing = %+v (opens to %q, %v), want its secret sealed only", h.ID, got, secret, err)
		}
		if contains(h.Secret) {
			t.Fatalf("a webhooks row still holds the clear secret of %s", h.ID)
		}
	}
}

func sealerForTest(t *testing.T) *rootseal.Sealer {
	t.Helper()
	k, err := envelope.GenerateTenantKey("platform-root", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &keyfile.File{}
	if err := f.Append(keyfile.Entry{Key: k, Created: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	sealer, err := monitor.NewSecretSealer(f)
	if err != nil {
		t.Fatal(err)
	}
	return sealer
}

// Schema9Tenant is the tenant that Schema9Webhooks' tenant webhook
// belongs to; the backend's test stores its row.
const Schema9Tenant = "upg"

// Schema9Webhook is a webhooks row as the release at schema version 9
// stored it, whose names were unique across the platform: its secret
// sealed bound to its id and tenant, with one delivery record and one
// outbox entry.
type Schema9Webhook struct {
	ID, Tenant, URL string
	Secret, Sealed  []byte
}

// Schema9Fixture is what a backend's upgrade test stores at schema
// version 9, and the sealer its secrets open under.
type Schema9Fixture struct {
	Sealer *rootseal.Sealer
	Hooks  []Schema9Webhook
}

// Schema9Webhooks returns a platform-wide webhook and one of
// Schema9Tenant, sealed under a fresh root key.
func Schema9Webhooks(t *testing.T) *Schema9Fixture {
	t.Helper()
	f := &Schema9Fixture{Sealer: sealerForTest(t)}
	for _, h := range []Schema9Webhook{
		{ID: "alerts", Tenant: Schema9Tenant, URL: "https://hooks.example.com/upg", Secret: []byte("schema 9 secret t 0123456789abcd")},
		{ID: "ops", URL: "https://hooks.example.com/ops", Secret: []byte("schema 9 secret p 0123456789abcd")},
	} {
		sealed, err := f.Sealer.Seal(h.Secret, h.ID, h.Tenant)
		if err != nil {
			t.Fatal(err)
		}
		h.Sealed = sealed
		f.Hooks = append(f.Hooks, h)
	}
	return f
}

// CheckSchema9Webhooks checks that s, migrated from schema version 9 with
// f stored, keeps every webhook under its owner with its delivery record
// and outbox entry, that each sealed secret still opens to the receiver's
// secret, and that a name is now unique per owner only.
func CheckSchema9Webhooks(t *testing.T, s store.Store, f *Schema9Fixture) {
	t.Helper()
	for _, h := range f.Hooks {
		got, err := s.Webhook(ctx, h.Tenant, h.ID)
		if err != nil {
			t.Fatalf("Webhook(%q, %s) after migration: %v", h.Tenant, h.ID, err)
		}
		secret, err := f.Sealer.Open(got.SealedSecret, got.ID, got.Tenant)
		if err != nil || !bytes.Equal(secret, h.Secret) || got.Tenant != h.Tenant || got.URL != h.URL {
			t.Fatalf("webhook %s after migration = %+v (opens to %q, %v); want its sealed secret opening", h.ID, got, secret, err)
		}
		ds, err := s.Deliveries(ctx, h.Tenant, h.ID, 0)
		if err != nil || len(ds) != 1 || ds[0].Tenant != h.Tenant || ds[0].Event != "evt_"+h.ID {
			t.Fatalf("Deliveries(%q, %s) after migration = %+v, %v; want its record", h.Tenant, h.ID, ds, err)
		}
		if out, err := s.Outbox(ctx, h.Tenant, h.ID, 0); err != nil || len(out) != 1 || out[0].Tenant != h.Tenant {
			t.Fatalf("Outbox(%q, %s) after migration = %+v, %v; want its entry", h.Tenant, h.ID, out, err)
		}
	}
	claimed, err := s.ClaimOutbox(ctx, time.Now(), time.Minute, 10)
	if err != nil || len(claimed) != len(f.Hooks) {
		t.Fatalf("ClaimOutbox() after migration = %+v, %v; want %d entries", claimed, err, len(f.Hooks))
	}
	for _, o := range claimed {
		if _, err := f.Sealer.Open(o.SealedSecret, o.Webhook, o.Tenant); err != nil {
			t.Fatalf("claimed entry of %s (tenant %q): its secret does not open: %v", o.Webhook, o.Tenant, err)
		}
	}
	if _, err := s.CreateWebhook(ctx, webhook("alerts", "")); err != nil {
		t.Fatalf("CreateWebhook(platform-wide alerts) beside %s's after migration: %v", Schema9Tenant, err)
	}
	_, err = s.CreateWebhook(ctx, webhook("alerts", Schema9Tenant))
	wantErr(t, "CreateWebhook(alerts again for "+Schema9Tenant+")", err, store.ErrConflict)
}
