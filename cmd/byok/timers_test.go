package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	awskmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/tenant"
)

// The demo customer's own IAM user, which may manage its keys (the key
// policy's EnableIAMUserPermissions statement lets the account's IAM
// decide), as the customer's administrators do in the AWS console.
const (
	demoCustomerKey    = "AKIABYOKDEVCUSTOMER1"
	demoCustomerSecret = "byok-dev-customer-secret"
)

// demoEnv is byok dev's demo world (its platform configuration, its
// customer's multi-Region key, its enabled demo tenant) on an emulator the
// test controls, with byok serve run over it from a byok.yaml.
type demoEnv struct {
	t     *testing.T
	emu   *awsemu.TestServer
	cfg   *serveConfig
	token string
}

// newDemoEnv onboards the demo tenant; policyExtra is added to the
// platform configuration's policy section.
func newDemoEnv(t *testing.T, policyExtra string) *demoEnv {
	t.Helper()
	world, err := devWorld()
	if err != nil {
		t.Fatal(err)
	}
	world.Accounts[1].Users = []awsemu.User{{Name: "admin", AccessKeyID: demoCustomerKey, SecretAccessKey: demoCustomerSecret,
		Policies: map[string]string{"kms": `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`}}}
	e := &demoEnv{t: t, emu: awsemu.NewTestServer(t, world)}
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": devAccessKey, "AWS_SECRET_ACCESS_KEY": devSecretKey, "AWS_REGION": devRegion, "AWS_SESSION_TOKEN": ""} {
		t.Setenv(k, v)
	}
	dir := t.TempDir()
	if err := os.WriteFile(filepath.Join(dir, "platform.yaml"), []byte(devPlatformConfig+policyExtra), 0o600); err != nil {
		t.Fatal(err)
	}
	if e.cfg, err = devServeConfig(&devFlags{dir: dir, listen: "127.0.0.1:0"}, e.emu.URL); err != nil {
		t.Fatal(err)
	}
	st, err := openServeStore(context.Background(), e.cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = devTenantReady(context.Background(), e.cfg, st)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	var out, errs lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errs}
	if code := run(context.Background(), c, []string{"token", "bootstrap", "-db", e.cfg.Database.SQLite}); code != exitOK {
		t.Fatalf("token bootstrap exited %d: %s", code, errs.String())
	}
	e.token = strings.TrimSpace(out.String())
	return e
}

// serve runs byok serve on a byok.yaml that follows the emulator's clock,
// with extra's sections added, until the returned stop.
func (e *demoEnv) serve(extra string) (*client.Client, *lockedBuffer, func()) {
	e.t.Helper()
	listen := freeAddr(e.t)
	yaml := fmt.Sprintf(`listen: %s
database:
  sqlite: %s
platform_config: %s
root_key_file: %s
region: %s
aws:
  endpoint: %s
  emulator_clock: true
log_level: info
webhooks:
  allow_http: true
  allow_private_networks: true
%s`, listen, e.cfg.Database.SQLite, e.cfg.Platform, e.cfg.RootKeyFile, devRegion, e.emu.URL, extra)
	path := filepath.Join(filepath.Dir(e.cfg.Database.SQLite), "byok.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		e.t.Fatal(err)
	}
	errs := &lockedBuffer{}
	c := &cli{stdin: strings.NewReader(""), stdout: &lockedBuffer{}, stderr: errs}
	_, stop := startServe(e.t, c, path, listen, errs)
	api, err := client.New(client.Config{URL: "http://" + listen, Token: e.token})
	if err != nil {
		e.t.Fatal(err)
	}
	return api, errs, stop
}

// advance moves the emulator's clock as a user would, through its control.
func (e *demoEnv) advance(d time.Duration) {
	e.t.Helper()
	resp, err := http.Post(e.emu.URL+"/_awsemu/clock/advance", "application/json", strings.NewReader(`{"duration":"`+d.String()+`"}`))
	if err != nil {
		e.t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		e.t.Fatalf("clock/advance %s answered %d", d, resp.StatusCode)
	}
}

// subscribe points a signed-event receiver at the demo tenant's events.
func subscribe(t *testing.T, api *client.Client) *signedReceiver {
	t.Helper()
	rcv := &signedReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	hook, err := api.CreateWebhook(context.Background(), devTenant, "timers", srv.URL)
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	rcv.mu.Lock()
	defer rcv.mu.Unlock()
	if rcv.secret, err = hex.DecodeString(hook.Secret); err != nil {
		t.Fatal(err)
	}
	return rcv
}

// find returns the first verified event that match accepts.
func (r *signedReceiver) find(match func(monitor.Event) bool) *monitor.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events {
		if match(ev) {
			return &ev
		}
	}
	return nil
}

// eventually polls cond until it holds, for at most 20 s.
func eventually(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); !cond(); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within 20 s", what)
		}
	}
}

func stateOf(api *client.Client) string {
	st, err := api.State(context.Background(), devTenant)
	if err != nil {
		return err.Error()
	}
	return st.State
}

// The suspension, archival and restore timers of byok.yaml drive the
// monitor on the emulator's clock: the customer disables the key, an hour
// passes on the emulator and the tenant is suspended (the default would
// wait 4 h), another and it is archived (not 7 days), restorable for the
// configured day.
func TestServeTenantTimers(t *testing.T) {
	e := newDemoEnv(t, "")
	api, errs, stop := e.serve(`monitor:
  interval: 1s
  jitter: 100ms
  suspend_after: 1h
  archive_after: 2h
  restore_window: 24h
`)
	defer stop()
	rcv := subscribe(t, api)
	disableDemoKey(t, e.emu.URL)
	eventually(t, "key_unavailable after the key was disabled", func() bool { return stateOf(api) == "key_unavailable" })

	e.advance(61 * time.Minute)
	eventually(t, "suspended 61 min after the outage began", func() bool { return stateOf(api) == "suspended" })
	suspended := func(ev monitor.Event) bool {
		return ev.Type == monitor.EventStateChanged && ev.NewState == tenant.StateSuspended
	}
	eventually(t, "the tenant.state_changed event to suspended", func() bool { return rcv.find(suspended) != nil })
	if ev := rcv.find(suspended); ev.OldState != tenant.StateKeyUnavailable || ev.Reason != "key_disabled" {
		t.Errorf("suspension event = %+v; want key_unavailable -> suspended for key_disabled", ev)
	}

	e.advance(61 * time.Minute)
	archived := func(ev monitor.Event) bool { return ev.Type == monitor.EventArchived }
	eventually(t, "the tenant.archived event 122 min after the outage began", func() bool { return rcv.find(archived) != nil })
	ev := rcv.find(archived)
	if got := ev.RestoreUntil.Sub(ev.Time); got != 24*time.Hour {
		t.Errorf("archived event restorable for %s after archival, want restore_window 24h: %+v", got, ev)
	}
	if ev.Time.Before(time.Now().Add(2 * time.Hour)) {
		t.Errorf("archived at %s: not on the emulator's clock, 2 h ahead", ev.Time)
	}
	if st := stateOf(api); st != "suspended" {
		t.Errorf("state after archival = %s, want suspended (archived tenants stay suspended)", st)
	}
	if _, err := api.Encrypt(context.Background(), devTenant, []byte("x"), nil); err == nil {
		t.Error("an archived tenant's data is served")
	}
	stop()
	if !strings.Contains(errs.String(), `"msg":"monitor: tenant.archived"`) {
		t.Errorf("the log lacks the archival:\n%s", errs.String())
	}
}

// keyVersion is the tenant key version a ciphertext of the API names.
func keyVersion(t *testing.T, api *client.Client) uint32 {
	t.Helper()
	ct, err := api.Encrypt(context.Background(), devTenant, []byte("record"), nil)
	if err != nil {
		t.Fatalf("Encrypt: %v", err)
	}
	h, err := envelope.ParseHeader(ct)
	if err != nil {
		t.Fatalf("ParseHeader: %v", err)
	}
	return h.KeyVersion
}

// With rotation.period set, the leader (the one SQLite instance) makes a
// tenant's next key version once its newest is older than the period on
// the service's clock, records it in the tenant's audit chain, and makes
// the next one only a period later: the new version's age counts on the
// same clock.
func TestServeScheduledRotation(t *testing.T) {
	e := newDemoEnv(t, "")
	api, _, stop := e.serve(`rotation:
  period: 24h
  check_every: 1s
`)
	defer stop()
	if v := keyVersion(t, api); v != 1 {
		t.Fatalf("the demo tenant seals with version %d, want 1", v)
	}
	e.advance(25 * time.Hour)
	eventually(t, "version 2 after a period passed", func() bool { return keyVersion(t, api) == 2 })

	// 23 h later version 2 is not due: no rotation over a few checks.
	e.advance(23 * time.Hour)
	time.Sleep(2500 * time.Millisecond)
	if v := keyVersion(t, api); v != 2 {
		t.Fatalf("after 23 h of version 2 the tenant seals with version %d, want 2", v)
	}
	e.advance(2 * time.Hour)
	eventually(t, "version 3 a period after version 2", func() bool { return keyVersion(t, api) == 3 })

	var tail bytes.Buffer
	if err := api.AuditTail(context.Background(), devTenant, 0, &tail); err != nil {
		t.Fatalf("AuditTail: %v", err)
	}
	var scheduled []string
	for _, line := range strings.Split(tail.String(), "\n") {
		if strings.Contains(line, `"actor":"system:rotation"`) && strings.Contains(line, `"action":"key.rotate"`) {
			scheduled = append(scheduled, line)
		}
	}
	if len(scheduled) != 2 || !strings.Contains(scheduled[0], `"version":"2"`) || !strings.Contains(scheduled[1], `"version":"3"`) {
		t.Errorf("scheduled rotations in the audit chain = %q; want versions 2 and 3", scheduled)
	}
}

// A per-tenant KMS budget in byok.yaml refuses a tenant's calls over it
// with kms_throttled: after a restart (an empty cache) each key version
// is a cold open, one KMS call each, and a budget of one call leaves the
// others refused while the tenant stays active.
func TestServeKMSBudget(t *testing.T) {
	e := newDemoEnv(t, "")
	api, _, stop := e.serve("")
	ctx := context.Background()
	var cts [][]byte
	for i := range 3 {
		if i > 0 {
			if _, err := api.Rotate(ctx, devTenant); err != nil {
				t.Fatalf("Rotate: %v", err)
			}
		}
		ct, err := api.Encrypt(ctx, devTenant, []byte("record"), nil)
		if err != nil {
			t.Fatalf("Encrypt: %v", err)
		}
		cts = append(cts, ct)
	}
	stop()

	api, _, stop = e.serve(`keyring:
  budget:
    rate: 0.0001
    burst: 1
`)
	defer stop()
	throttled := 0
	for _, ct := range cts {
		_, err := api.Decrypt(ctx, devTenant, ct, nil)
		switch code := client.Code(err); {
		case code == "kms_throttled":
			throttled++
		case err != nil:
			t.Errorf("Decrypt: %v, want success or kms_throttled", err)
		}
	}
	// One call fits the burst (a probe may have spent it): at least two of
	// the three opens are refused.
	if throttled < 2 {
		t.Errorf("%d of 3 cold opens throttled, want at least 2 under a budget of one call", throttled)
	}
	st, err := api.State(ctx, devTenant)
	if err != nil {
		t.Fatal(err)
	}
	if st.State != "active" || st.Keyring.Refused < 2 {
		t.Errorf("state %s, refused %d; want active with the refusals counted", st.State, st.Keyring.Refused)
	}
}

// The platform policy's deletion_warnings are the times the monitor warns
// at: with [3d] the customer's 7-day deletion of the demo key warns once,
// at 72 h before the deletion on the emulator's clock (the default would
// have warned at 168 h).
func TestServeDeletionWarnings(t *testing.T) {
	e := newDemoEnv(t, "  deletion_warnings: [3d]\n")
	api, _, stop := e.serve(`monitor:
  interval: 1s
  jitter: 100ms
`)
	defer stop()
	rcv := subscribe(t, api)
	// A multi-Region primary is deleted after its replicas: the replica's
	// waiting period runs first, then the primary's own 7 days.
	customer := e.emu.Config(devRegion, e.emu.Credentials(t, devCustomerAccount, "admin"))
	for _, region := range []string{devReplica, devRegion} {
		cfg := customer.Copy()
		cfg.Region = region
		_, err := awskmsapi.NewFromConfig(cfg).ScheduleKeyDeletion(context.Background(), &awskmsapi.ScheduleKeyDeletionInput{
			KeyId: aws.String("arn:aws:kms:" + region + ":" + devCustomerAccount + ":key/" + devKeyID), PendingWindowInDays: aws.Int32(7)})
		if err != nil {
			t.Fatalf("ScheduleKeyDeletion in %s: %v", region, err)
		}
	}
	eventually(t, "deletion_pending once the deletion is scheduled", func() bool { return stateOf(api) == "deletion_pending" })
	e.advance(7*24*time.Hour + time.Minute) // the replica is gone; the primary's 7 days start
	e.advance(4*24*time.Hour + time.Hour)
	warning := func(ev monitor.Event) bool { return ev.Type == monitor.EventDeletionWarning }
	eventually(t, "a deletion warning 71 h before the deletion", func() bool { return rcv.find(warning) != nil })
	if ev := rcv.find(warning); ev.Threshold != "72h0m0s" || ev.DeletionDate.IsZero() {
		t.Errorf("first warning = %+v; want the configured 72h threshold with the deletion date", ev)
	}
}

// byok dev follows its emulator's clock: with the default timers, a demo
// tenant whose key the customer disabled is suspended once the emulator's
// clock has moved 4 h, and comes back when the key is enabled again; 90
// days later dev's scheduled rotation makes its next key version.
func TestDevEmulatorClock(t *testing.T) {
	r := startDev(t, t.TempDir())
	defer r.stop()
	m := []string{"", r.env(t)["BYOK_TOKEN"]}
	api, _ := client.New(client.Config{URL: "http://" + r.api, Token: m[1]})
	setKey(t, r.emu, "disable")
	waitRefused(t, api, r)
	advance := func(d string) {
		resp, err := http.Post("http://"+r.emu+"/_awsemu/clock/advance", "application/json", strings.NewReader(`{"duration":"`+d+`"}`))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	advance("4h1m")
	eventually(t, "suspended 4 h after the outage began on the emulator's clock", func() bool { return stateOf(api) == "suspended" })
	setKey(t, r.emu, "enable")
	waitServed(t, api, r)
	advance("2160h")
	eventually(t, "a scheduled rotation 90 days on", func() bool { return keyVersion(t, api) == 2 })
}

// yamlAfter returns the first YAML block of doc after heading.
func yamlAfter(t *testing.T, doc, heading string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("..", "..", "docs", doc))
	if err != nil {
		t.Fatal(err)
	}
	_, rest, ok := strings.Cut(string(b), "\n"+heading+"\n")
	_, rest, ok2 := strings.Cut(rest, "```yaml\n")
	block, _, ok3 := strings.Cut(rest, "```")
	if !ok || !ok2 || !ok3 {
		t.Fatalf("%s has no YAML block under %q", doc, heading)
	}
	return block
}

// The byok.yaml that docs/api.md shows, and the service settings that
// docs/configuration.md lists, are what byok serve reads: unknown fields
// would be refused.
func TestServeConfigDocs(t *testing.T) {
	dir := t.TempDir()
	head := "listen: 127.0.0.1:8443\ndatabase:\n  sqlite: x.db\nplatform_config: p.yaml\n"
	for name, body := range map[string]string{
		"api.yaml":      yamlAfter(t, "api.md", "## Running"),
		"settings.yaml": head + yamlAfter(t, "configuration.md", "## Service settings"),
	} {
		path := filepath.Join(dir, name)
		if err := os.WriteFile(path, []byte(body), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := loadServeConfig(path)
		if err != nil {
			t.Errorf("%s: %v", name, err)
			continue
		}
		m, r, k := cfg.Monitor, cfg.Rotation, cfg.Keyring
		if m.Interval != monitor.DefaultInterval || m.SuspendAfter != monitor.DefaultSuspendAfter || m.ArchiveAfter != monitor.DefaultArchiveAfter ||
			m.RestoreWindow != monitor.DefaultRestoreWindow || m.ProbeTimeout != monitor.DefaultProbeTimeout || m.Jitter != monitor.DefaultJitter ||
			m.Rate != monitor.DefaultRate || m.Concurrency != monitor.DefaultConcurrency {
			t.Errorf("%s: monitor %+v; the documented values are the monitor's defaults", name, m)
		}
		if r.Period != 2160*time.Hour || r.CheckEvery != defaultRotationCheck || k.TTL != defaultKeyringTTL || k.RefreshWindow != defaultKeyringTTL/5 || k.Budget.Rate != 5 {
			t.Errorf("%s: rotation %+v, keyring %+v; not what the docs say", name, r, k)
		}
	}
}

// keyring.ttl in byok.yaml is how long an unwrapped key serves: with 1m,
// a minute on the emulator's clock sends the next encryption back to KMS
// (a cache miss), where the default 5 minutes would have served it.
func TestServeKeyCacheTTL(t *testing.T) {
	e := newDemoEnv(t, "")
	api, _, stop := e.serve(`keyring:
  ttl: 1m
  refresh_window: 10s
`)
	defer stop()
	ctx := context.Background()
	misses := func() uint64 {
		st, err := api.State(ctx, devTenant)
		if err != nil {
			t.Fatal(err)
		}
		return st.Keyring.CacheMisses
	}
	keyVersion(t, api)
	keyVersion(t, api)
	if m := misses(); m != 1 {
		t.Fatalf("%d cache misses after two encryptions, want 1 (the first)", m)
	}
	e.advance(61 * time.Second)
	eventually(t, "a cache miss once the TTL passed", func() bool {
		keyVersion(t, api)
		return misses() == 2
	})
}
