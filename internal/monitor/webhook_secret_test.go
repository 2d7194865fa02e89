package monitor_test

import (
	"bytes"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/rootseal"
	"github.com/byok-dev/byok/internal/store"
)

func secretSealer(t *testing.T) *rootseal.Sealer {
	t.Helper()
	k, err := envelope.GenerateTenantKey("platform-root", 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &keyfile.File{}
	if err := f.Append(keyfile.Entry{Key: k, Created: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	s, err := monitor.NewSecretSealer(f)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func sealing(t *testing.T, s store.Store, sealer *rootseal.Sealer) *monitor.Webhooks {
	t.Helper()
	cfg := testConfig(s)
	cfg.Secrets = sealer
	w := build(t, cfg)
	run(t, w)
	return w
}

func rawDB(t *testing.T, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite", path+"?_pragma=busy_timeout(5000)")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// With a root key, a subscription's secret is stored sealed: the caller
// gets it once, the row holds neither it nor anything in clear, and
// deliveries are signed with it.
func TestSecretSealed(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byok.db")
	s := openSQLite(t, path)
	w := sealing(t, s, secretSealer(t))
	r := newReceiver(t, 200)
	subscribe(t, w, "hook", "acme", r)
	if len(r.secret) != 32 {
		t.Fatalf("Subscribe() secret = %x, want 32 bytes", r.secret)
	}
	stored, err := s.Webhook(ctx, "acme", "hook")
	if err != nil {
		t.Fatal(err)
	}
	if stored.Secret != nil || len(stored.SealedSecret) == 0 || bytes.Contains(stored.SealedSecret, r.secret) {
		t.Fatalf("stored webhook = %+v, want a sealed secret only", stored)
	}
	ev := testEvent("evt_1")
	w.Notify(ev)
	if ds := waitDeliveries(t, w, "acme", "hook", 1); ds[0].Status != 200 {
		t.Fatalf("deliveries = %+v, want one verified 200", ds)
	}
	checkBodies(t, r, []monitor.Event{ev}, 1)
}

// A sealed secret copied into another subscription's row does not open
// there: the attempt fails with the reason and nothing is sent, while the
// subscription it was sealed for still delivers.
func TestSecretMovedDoesNotOpen(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byok.db")
	s := openSQLite(t, path)
	w := sealing(t, s, secretSealer(t))
	own, moved := newReceiver(t, 200), newReceiver(t, 200)
	subscribe(t, w, "own", "acme", own)
	subscribe(t, w, "moved", "acme", moved)
	if _, err := rawDB(t, path).Exec(`UPDATE webhooks SET sealed_secret = (SELECT sealed_secret FROM webhooks WHERE id = 'own')
		WHERE id = 'moved'`); err != nil {
		t.Fatal(err)
	}
	ev := testEvent("evt_1")
	w.Notify(ev)
	waitDeliveries(t, w, "acme", "own", 1)
	ds := waitDeliveries(t, w, "acme", "moved", 3)
	for _, d := range ds {
		if d.Status != 0 || !strings.Contains(d.Error, "signing secret does not open") {
			t.Fatalf("deliveries of the moved secret = %+v, want failures saying the secret does not open", ds)
		}
	}
	if n := moved.callCount(); n != 0 {
		t.Fatalf("the receiver of the moved secret got %d requests, want none", n)
	}
	checkBodies(t, own, []monitor.Event{ev}, 1)
}

// Secrets stored in clear (by an instance without a root key, or a release
// before sealing) are sealed by SealStoredSecrets, once, and deliveries
// still verify with the secrets their receivers were given.
func TestSealStoredSecrets(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byok.db")
	s := openSQLite(t, path)
	clear := build(t, testConfig(s))
	a, b := newReceiver(t, 200), newReceiver(t, 200)
	subscribe(t, clear, "a", "acme", a)
	subscribe(t, clear, "b", "", b)
	if n, err := clear.SealStoredSecrets(ctx); n != 0 || err != nil {
		t.Fatalf("SealStoredSecrets(no root key) = %d, %v; want 0", n, err)
	}
	w := sealing(t, s, secretSealer(t))
	if n, err := w.SealStoredSecrets(ctx); n != 2 || err != nil {
		t.Fatalf("SealStoredSecrets() = %d, %v; want 2", n, err)
	}
	if n, err := w.SealStoredSecrets(ctx); n != 0 || err != nil {
		t.Fatalf("SealStoredSecrets(again) = %d, %v; want 0", n, err)
	}
	for _, r := range []*receiver{a, b} {
		var n int
		if err := rawDB(t, path).QueryRow(`SELECT count(*) FROM webhooks WHERE instr(secret, ?) > 0 OR instr(sealed_secret, ?) > 0`,
			r.secret, r.secret).Scan(&n); err != nil || n != 0 {
			t.Fatalf("rows holding a secret in clear after sealing = %d, %v; want 0", n, err)
		}
	}
	ev := testEvent("evt_1")
	w.Notify(ev)
	waitDeliveries(t, w, "acme", "a", 1)
	waitDeliveries(t, w, "", "b", 1)
	checkBodies(t, a, []monitor.Event{ev}, 1)
	checkBodies(t, b, []monitor.Event{ev}, 1)
}

// Two tenants' webhooks of the same name are two subscriptions: each
// tenant's events go to its own receiver alone, signed with its own
// (sealed) secret, and each has its own delivery records.
func TestSameNameWebhooksOfTwoTenants(t *testing.T) {
	e := newEnv(t)
	e.tenant(t, "acme")
	e.tenant(t, "other")
	w := sealing(t, e.store, secretSealer(t))
	ra, rb := newReceiver(t, 200), newReceiver(t, 200)
	subscribe(t, w, "alerts", "acme", ra)
	subscribe(t, w, "alerts", "other", rb)
	for _, tn := range []string{"acme", "other"} {
		if err := w.Enqueue(ctx, monitor.Event{ID: "evt_" + tn, Type: monitor.EventStateChanged, Tenant: tn}); err != nil {
			t.Fatal(err)
		}
	}
	waitDeliveries(t, w, "acme", "alerts", 1)
	waitDeliveries(t, w, "other", "alerts", 1)
	waitOutbox(t, e.store, 0)
	for tn, r := range map[string]*receiver{"acme": ra, "other": rb} {
		got := r.events()
		if len(got) != 1 || got[0].Tenant != tn || r.callCount() != 1 {
			t.Errorf("%s's receiver got %+v in %d calls, want its own event only", tn, got, r.callCount())
		}
		ds, err := w.Deliveries(ctx, tn, "alerts", 0)
		if err != nil || len(ds) != 1 || ds[0].Event != "evt_"+tn || ds[0].Tenant != tn {
			t.Errorf("Deliveries(%s, alerts) = %+v, %v; want its own one", tn, ds, err)
		}
	}
}
