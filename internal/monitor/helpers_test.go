package monitor_test

import (
	"context"
	"log/slog"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

var (
	ctx   = context.Background()
	quiet = slog.New(slog.DiscardHandler)
)

const (
	platformAcct = "111111111111"
	customerAcct = "222222222222"
	region       = "eu-west-1"
	keyID        = "1b2c3d4e-1111-4222-8333-444455556666"
	keyARN       = "arn:aws:kms:" + region + ":" + customerAcct + ":key/" + keyID
	// grantAll is the customer's key policy: the platform may use the key.
	grantAll = `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
	  {"Sid":"Platform","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},
	   "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}]}`
	// ownerOnly is the policy after the customer removed the platform.
	ownerOnly = `{"Version":"2012-10-17","Statement":[
	  {"Sid":"Owner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"}]}`
)

func world() *awsemu.World {
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	return &awsemu.World{
		Regions: []string{region},
		Accounts: []awsemu.Account{
			{ID: platformAcct, Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001",
				SecretAccessKey: "platform-secret", Policies: map[string]string{"kms": all}}}},
			{ID: customerAcct, Keys: []awsemu.Key{{ID: keyID, Region: region, Policy: grantAll}},
				Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIACUSTOMERADMIN001",
					SecretAccessKey: "admin-secret", Policies: map[string]string{"kms": all}}}},
		},
	}
}

// env is one platform instance's parts against an emulated customer
// account: the real SDK through the AWS provider, a SQLite store, a keyring
// with the default cache TTL, all on the emulator's clock.
type env struct {
	ts       *awsemu.TestServer
	store    store.Store
	provider *awskms.Provider
	kr       *keyring.Keyring
	customer *kmsapi.Client
	events   *recorder
}

func newEnv(t *testing.T) *env {
	t.Helper()
	ts := awsemu.NewTestServer(t, world())
	p, err := awskms.New(ctx, awskms.Config{
		AWS:         ts.Config(region, ts.Credentials(t, platformAcct, "platform")),
		Retry:       awskms.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond},
		CallTimeout: 5 * time.Second,
		Clock:       ts.Now,
	})
	if err != nil {
		t.Fatal(err)
	}
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(t.TempDir(), "byok.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	e := &env{ts: ts, store: s, provider: p, events: &recorder{},
		customer: kmsapi.NewFromConfig(ts.Config(region, ts.Credentials(t, customerAcct, "admin")))}
	e.kr = e.keyring(t)
	return e
}

// keyring returns a keyring with the default TTL (5 minutes) on the store.
func (e *env) keyring(t *testing.T) *keyring.Keyring {
	t.Helper()
	kr, err := keyring.New(keyring.Config{Providers: map[string]kms.Provider{awskms.ProviderName: e.provider},
		Store: e.store, Region: region, Now: e.ts.Now})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

// monitor returns a monitor with the default timers on the emulator clock;
// edit adjusts the configuration.
func (e *env) monitor(t *testing.T, edit func(*monitor.Config)) *monitor.Monitor {
	t.Helper()
	cfg := monitor.Config{Store: e.store, Keyring: e.kr, Notifier: e.events, Now: e.ts.Now, Logger: quiet,
		Providers: map[string]kms.Provider{awskms.ProviderName: e.provider}}
	if edit != nil {
		edit(&cfg)
	}
	m, err := monitor.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// tenant creates an active tenant with one key version under the
// customer's key.
func (e *env) tenant(t *testing.T, id string) {
	t.Helper()
	tn, err := e.store.CreateTenant(ctx, &tenant.Tenant{ID: id, Name: id, ExternalID: "ext-" + id + "-0000",
		State: tenant.StatePending, KeyBinding: &tenant.KeyBinding{Regions: map[string]string{region: keyARN}}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.kr.CreateVersion(ctx, id, []kms.KeyRef{{Provider: awskms.ProviderName, ID: keyARN}}); err != nil {
		t.Fatal(err)
	}
	_, err = e.store.UpdateTenant(ctx, id, tn.Revision, func(t *tenant.Tenant) error {
		t.State = tenant.StateActive
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
}

func (e *env) state(t *testing.T, id string) tenant.State {
	t.Helper()
	tn, err := e.store.GetTenant(ctx, id)
	if err != nil {
		t.Fatal(err)
	}
	return tn.State
}

func (e *env) wantState(t *testing.T, id string, want tenant.State) {
	t.Helper()
	if got := e.state(t, id); got != want {
		t.Fatalf("tenant %s state = %s, want %s (events %+v)", id, got, want, e.events.all())
	}
}

func (e *env) disable(t *testing.T) {
	t.Helper()
	if _, err := e.customer.DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) enable(t *testing.T) {
	t.Helper()
	if _, err := e.customer.EnableKey(ctx, &kmsapi.EnableKeyInput{KeyId: aws.String(keyID)}); err != nil {
		t.Fatal(err)
	}
}

func (e *env) policy(t *testing.T, p string) {
	t.Helper()
	_, err := e.customer.PutKeyPolicy(ctx, &kmsapi.PutKeyPolicyInput{KeyId: aws.String(keyID), Policy: aws.String(p)})
	if err != nil {
		t.Fatal(err)
	}
}

// step advances the emulator clock by d in steps of one Tick (one second),
// running one monitor pass per step as Run would.
func (e *env) step(m *monitor.Monitor, d time.Duration) {
	for end := e.ts.Now().Add(d); e.ts.Now().Before(end); {
		e.ts.Advance(time.Second)
		m.RunOnce(ctx)
	}
}

// jump advances the clock by d at once and runs one pass.
func (e *env) jump(m *monitor.Monitor, d time.Duration) {
	e.ts.Advance(d)
	m.RunOnce(ctx)
}

// recorder is a Notifier that keeps the events.
type recorder struct {
	mu     sync.Mutex
	events []monitor.Event
}

func (r *recorder) Notify(ev monitor.Event) {
	r.mu.Lock()
	r.events = append(r.events, ev)
	r.mu.Unlock()
}

func (r *recorder) all() []monitor.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]monitor.Event(nil), r.events...)
}

// ofType returns the events of one type.
func (r *recorder) ofType(typ string) []monitor.Event {
	var out []monitor.Event
	for _, ev := range r.all() {
		if ev.Type == typ {
			out = append(out, ev)
		}
	}
	return out
}
