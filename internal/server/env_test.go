package server

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"encoding/base64"
	"errors"
	"log/slog"
	"net/http/httptest"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/prometheus/client_golang/prometheus"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
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
)

var (
	bg       = context.Background()
	mrkARN   = "arn:aws:kms:" + home + ":" + customerAcct + ":key/" + mrkID
	allowAll = `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`
)

// auditLog records events.
type auditLog struct {
	mu     sync.Mutex
	events []audit.Event
}

func (a *auditLog) Record(_ context.Context, e audit.Event) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	a.events = append(a.events, e)
	return nil
}

func (a *auditLog) find(action, tenant string) []audit.Event {
	a.mu.Lock()
	defer a.mu.Unlock()
	var out []audit.Event
	for _, e := range a.events {
		if e.Action == action && e.Tenant == tenant {
			out = append(out, e)
		}
	}
	return out
}

// syncBuffer is a log destination safe for concurrent writes.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// env is a platform served over HTTP (store, keyring, control, server) and a
// customer account in the emulator with a multi-Region key.
type env struct {
	t       testing.TB
	aws     *awsemu.TestServer
	store   store.Store
	keyring *keyring.Keyring
	root    *localkms.Provider
	rootKey *envelope.TenantKey
	server  *Server
	http    *httptest.Server
	logs    *syncBuffer
	audit   *auditLog
	reg     *prometheus.Registry
	tokens  *auth.Tokens
	// hooks delivers webhooks, retrying within milliseconds.
	hooks *monitor.Webhooks
	// receipts signs deletion receipts.
	receipts *control.ReceiptSigner
	// monitor probes on clock, which only the test moves (see probe).
	monitor   *monitor.Monitor
	clock     *testClock
	providers map[string]kms.Provider
	// owner is a platform owner's token; other a member token of tenant
	// "other"; members holds member tokens by tenant.
	owner, other string
	members      map[string]string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	e := &env{t: t, logs: &syncBuffer{}, audit: &auditLog{}, reg: prometheus.NewRegistry(), members: map[string]string{}}
	e.aws = awsemu.NewTestServer(t, world())
	platformAWS := e.aws.Config(home, e.aws.Credentials(t, platformAcct, "platform"))
	st, err := sqlite.Open(bg, sqlite.Config{Path: filepath.Join(t.TempDir(), "byok.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	e.store = st
	e.keyring = e.newKeyring(platformAWS)
	receipts, err := control.NewReceiptSigner(e.rootKey)
	if err != nil {
		t.Fatal(err)
	}
	e.receipts = receipts
	svc, err := control.New(control.Config{Platform: platformConfig(t), Store: st, Keyring: e.keyring,
		Validator:   &onboarding.Validator{Config: platformConfig(t), AWS: platformAWS, CallTimeout: 5 * time.Second},
		PlatformKey: e.root.KeyRef(), Receipts: receipts, ReceiptKeys: []ed25519.PublicKey{receipts.PublicKey()},
		Tenants: tenant.NewManager(st, -1)})
	if err != nil {
		t.Fatal(err)
	}
	e.issueTokens(svc)
	e.hooks = runWebhooks(t, st)
	e.monitor = e.newMonitor()
	e.server, err = New(Config{Control: svc, Keyring: e.keyring, Store: st, Auth: e.tokens, Audit: e.audit, Webhooks: e.hooks, Monitor: e.monitor,
		Logger: slog.New(slog.NewJSONHandler(e.logs, &slog.HandlerOptions{Level: slog.LevelDebug})), Registry: e.reg,
		MaxBatch: 100})
	if err != nil {
		t.Fatal(err)
	}
	e.http = httptest.NewServer(e.server.Handler())
	t.Cleanup(e.http.Close)
	return e
}

// runWebhooks delivers webhooks until the test ends; receivers are
// httptest servers on 127.0.0.1, so plain http and private networks are
// allowed.
func runWebhooks(t testing.TB, st store.Store) *monitor.Webhooks {
	t.Helper()
	hooks, err := monitor.NewWebhooks(monitor.WebhookConfig{Store: st, AllowHTTP: true, AllowPrivateNetworks: true, MaxAttempts: 3,
		BaseDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(bg)
	done := make(chan struct{})
	go func() {
		defer close(done)
		hooks.Run(ctx)
	}()
	t.Cleanup(func() {
		cancel()
		<-done
	})
	return hooks
}

// issueTokens bootstraps the owner token and a member token of tenant
// "other", which it creates.
func (e *env) issueTokens(svc *control.Service) {
	t := e.t
	e.tokens = auth.NewTokens(e.store.(auth.TokenStore), nil)
	var err error
	if e.owner, _, err = e.tokens.Bootstrap(bg, "test owner"); err != nil {
		t.Fatal(err)
	}
	if _, err := svc.CreateTenant(bg, control.CreateTenant{ID: "other", Name: "Other"}); err != nil {
		t.Fatal(err)
	}
	e.other = e.memberOf("other")
}

// memberOf issues (once) a member token of an existing tenant.
func (e *env) memberOf(tenant string) string {
	if tok, ok := e.members[tenant]; ok {
		return tok
	}
	p, err := e.tokens.Authenticate(bg, e.owner)
	if err != nil {
		e.t.Fatal(err)
	}
	tok, _, err := e.tokens.Issue(bg, p, auth.IssueRequest{Role: auth.RoleMember, Tenant: tenant, Name: tenant + " app"})
	if err != nil {
		e.t.Fatal(err)
	}
	e.members[tenant] = tok
	return tok
}

func world() *awsemu.World {
	return &awsemu.World{
		Regions: []string{home, replica},
		Accounts: []awsemu.Account{
			{ID: platformAcct, Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001",
				SecretAccessKey: "platform-secret", Policies: map[string]string{"all": allowAll}}}},
			{ID: customerAcct,
				Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIACUSTOMERADMIN001", SecretAccessKey: "admin-secret",
					Policies: map[string]string{"all": allowAll}}},
				Keys: []awsemu.Key{{ID: mrkID, Region: home, MultiRegion: true, Replicas: []string{replica}, Rotation: true}}},
		},
	}
}

func (e *env) newKeyring(platformAWS aws.Config) *keyring.Keyring {
	t := e.t
	m, err := NewKMSMetrics(e.reg)
	if err != nil {
		t.Fatal(err)
	}
	provider, err := awskms.New(bg, awskms.Config{AWS: platformAWS, CallTimeout: 5 * time.Second,
		Retry: awskms.RetryPolicy{MaxAttempts: 2, BaseDelay: time.Millisecond, MaxDelay: 2 * time.Millisecond}})
	if err != nil {
		t.Fatal(err)
	}
	e.root, e.rootKey = rootKey(t)
	e.providers = map[string]kms.Provider{
		awskms.ProviderName:   m.Instrument(awskms.ProviderName, provider),
		localkms.ProviderName: m.Instrument(localkms.ProviderName, e.root)}
	kr, err := keyring.New(keyring.Config{Store: e.store, Region: home, Admit: control.RegionGate(tenant.NewManager(e.store, -1), home), Providers: e.providers})
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func platformConfig(t testing.TB) *platform.Config {
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

func rootKey(t testing.TB) (*localkms.Provider, *envelope.TenantKey) {
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

func (e *env) client(token string) *client.Client {
	c, err := client.New(client.Config{URL: e.http.URL, Token: token})
	if err != nil {
		e.t.Fatal(err)
	}
	return c
}

// customer returns the customer admin's KMS client in region.
func (e *env) customer(region string) *kmsapi.Client {
	return kmsapi.NewFromConfig(e.aws.Config(region, e.aws.Credentials(e.t, customerAcct, "admin")))
}

// grant puts a key policy on the customer's key and its replica, as the
// customer's admin would after downloading it.
func (e *env) grant(policy []byte) {
	for _, region := range []string{home, replica} {
		_, err := e.customer(region).PutKeyPolicy(bg, &kmsapi.PutKeyPolicyInput{KeyId: aws.String(mrkID),
			PolicyName: aws.String("default"), Policy: aws.String(string(policy))})
		if err != nil {
			e.t.Fatal(err)
		}
	}
}

// onboard creates, grants, attaches and enables tenant id through the API.
func (e *env) onboard(id string) {
	t := e.t
	c := e.client(e.owner)
	if _, err := c.CreateTenant(bg, client.CreateTenant{ID: id, Name: id + " Corp"}); err != nil {
		t.Fatal(err)
	}
	policy, err := c.Artifact(bg, id, client.FormatKeyPolicy, client.ArtifactRequest{Region: home, KeyARN: mrkARN})
	if err != nil {
		t.Fatal(err)
	}
	e.grant(policy)
	if _, err := c.AttachKey(bg, id, home, mrkARN, ""); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Enable(bg, id); err != nil {
		t.Fatal(err)
	}
}

func wantCode(t *testing.T, err error, code string, status int) {
	t.Helper()
	var ce *client.Error
	if !asClientErr(err, &ce) || ce.Code != code || ce.Status != status {
		t.Fatalf("err = %v, want code %s with status %d", err, code, status)
	}
}

func asClientErr(err error, target **client.Error) bool {
	return errors.As(err, target)
}

func b64(b []byte) string { return base64.StdEncoding.EncodeToString(b) }

func itoa(n int) string { return strconv.Itoa(n) }

// testClock is the monitor's clock in tests: the time the test set.
type testClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *testClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *testClock) advance(d time.Duration) {
	c.mu.Lock()
	c.now = c.now.Add(d)
	c.mu.Unlock()
}

// newMonitor returns the key health monitor with its default timers on the
// test's clock; it runs only when a test calls probe.
func (e *env) newMonitor() *monitor.Monitor {
	e.clock = &testClock{now: time.Now().UTC()}
	m, err := monitor.New(monitor.Config{Store: e.store, Keyring: e.keyring, Providers: e.providers, Notifier: e.hooks,
		Now: e.clock.Now, Logger: slog.New(slog.DiscardHandler)})
	if err != nil {
		e.t.Fatal(err)
	}
	return m
}

// probe moves the monitor's clock by d and runs one scheduling pass,
// waiting for its probes. A d of at least monitor.DefaultInterval plus
// its jitter makes every monitored tenant's probe due.
func (e *env) probe(d time.Duration) {
	e.clock.advance(d)
	e.monitor.RunOnce(bg)
}
