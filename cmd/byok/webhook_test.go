package main

import (
	"bytes"
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/monitor"
)

// signedReceiver keeps the events whose signature verifies under secret.
type signedReceiver struct {
	mu     sync.Mutex
	secret []byte
	events []monitor.Event
	bad    []string
	// body and header are the last verified delivery's, as received.
	body, header []byte
}

func (r *signedReceiver) ServeHTTP(w http.ResponseWriter, req *http.Request) {
	body, _ := io.ReadAll(req.Body)
	r.mu.Lock()
	defer r.mu.Unlock()
	var ev monitor.Event
	if err := monitor.Verify(r.secret, req.Header.Get(monitor.SignatureHeader), body, time.Now(), 0); err != nil {
		r.bad = append(r.bad, err.Error())
		w.WriteHeader(http.StatusUnauthorized)
		return
	}
	if err := json.Unmarshal(body, &ev); err != nil || ev.ID != req.Header.Get(monitor.EventIDHeader) {
		r.bad = append(r.bad, fmt.Sprintf("body %s: %v", body, err))
		w.WriteHeader(http.StatusBadRequest)
		return
	}
	r.events = append(r.events, ev)
	r.body, r.header = body, []byte(req.Header.Get(monitor.SignatureHeader))
}

// unavailable returns the verified event saying tenant's key became
// unavailable, if one came, and the deliveries refused so far.
func (r *signedReceiver) unavailable(tenant string) (*monitor.Event, []string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range r.events {
		if ev.Tenant == tenant && ev.Type == monitor.EventStateChanged && ev.NewState == "key_unavailable" {
			return &ev, r.bad
		}
	}
	return nil, r.bad
}

// TestServeWebhook runs 'byok serve' over the demo world of byok dev (its
// emulator, its enabled demo tenant), subscribes a receiver to the demo
// tenant through the API, has the customer disable the key in the emulator,
// and checks that the monitor's event arrives signed with the secret the
// subscription answered, and that the delivery is listed.
func TestServeWebhook(t *testing.T) {
	for k, v := range map[string]string{"AWS_ACCESS_KEY_ID": devAccessKey, "AWS_SECRET_ACCESS_KEY": devSecretKey, "AWS_REGION": devRegion, "AWS_SESSION_TOKEN": ""} {
		t.Setenv(k, v) // restored after the test; the emulator sets them again
	}
	dir := t.TempDir()
	f := &devFlags{dir: dir, listen: freeAddr(t), emulator: freeAddr(t)}
	emuURL, stopEmu, err := startDevEmulator(f)
	if err != nil {
		t.Fatal(err)
	}
	defer stopEmu()
	cfgPath, db := demoServeConfig(t, f, emuURL)

	var out, errs lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errs}
	if code := run(context.Background(), c, []string{"token", "bootstrap", "-db", db}); code != exitOK {
		t.Fatalf("token bootstrap exited %d: %s", code, errs.String())
	}
	api, _ := client.New(client.Config{URL: "http://" + f.listen, Token: strings.TrimSpace(out.String())})
	ctx, stop := startServe(t, c, cfgPath, f.listen, &errs)

	rcv := &signedReceiver{}
	srv := httptest.NewServer(rcv)
	defer srv.Close()
	hook, err := api.CreateWebhook(ctx, devTenant, "e2e", srv.URL+"/byok")
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	rcv.mu.Lock()
	rcv.secret, err = hex.DecodeString(hook.Secret)
	rcv.mu.Unlock()
	if err != nil {
		t.Fatalf("secret %q: %v", hook.Secret, err)
	}
	disableDemoKey(t, emuURL)

	ev := waitUnavailable(t, rcv)
	if ev.Reason != "key_disabled" || ev.OldState != "active" || ev.Key != devKeyARN {
		t.Errorf("event = %+v; want active -> key_unavailable for key_disabled of the demo key", ev)
	}
	verifyWithCLI(t, rcv, hook.Secret)
	// The attempt is recorded once the receiver's answer is back, just
	// after the receiver saw the event.
	var ds []*client.Delivery
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		ds, err = api.WebhookDeliveries(ctx, devTenant, "e2e", 0)
		if err == nil && delivered(ds, ev.ID) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("WebhookDeliveries(e2e) = %+v, %v; want %s delivered with 200", ds, err, ev.ID)
		}
	}
	stop()
}

// demoServeConfig onboards byok dev's demo tenant into a database in f.dir
// and writes a byok.yaml over it that probes every second and allows the
// receiver's plain http URL.
func demoServeConfig(t *testing.T, f *devFlags, emuURL string) (path, db string) {
	t.Helper()
	cfg, err := devServeConfig(f, emuURL)
	if err != nil {
		t.Fatal(err)
	}
	st, err := openServeStore(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	err = devTenantReady(context.Background(), cfg, st)
	st.Close()
	if err != nil {
		t.Fatal(err)
	}
	yaml := fmt.Sprintf(`listen: %s
database:
  sqlite: %s
platform_config: %s
root_key_file: %s
region: %s
aws:
  endpoint: %s
log_level: warn
monitor:
  interval: 1s
  jitter: 100ms
webhooks:
  allow_http: true
  allow_private_networks: true
`, cfg.Listen, cfg.Database.SQLite, cfg.Platform, cfg.RootKeyFile, devRegion, emuURL)
	path = filepath.Join(f.dir, "byok.yaml")
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	return path, cfg.Database.SQLite
}

// disableDemoKey disables the demo key as its owner would, through the
// emulator's control endpoint.
func disableDemoKey(t *testing.T, emuURL string) {
	t.Helper()
	resp, err := http.Post(emuURL+"/_awsemu/keys/disable", "application/json", strings.NewReader(`{"key_arn":"`+devKeyARN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode/100 != 2 {
		t.Fatalf("disabling the demo key answered %d", resp.StatusCode)
	}
}

func waitUnavailable(t *testing.T, rcv *signedReceiver) *monitor.Event {
	t.Helper()
	for deadline := time.Now().Add(20 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		ev, bad := rcv.unavailable(devTenant)
		if len(bad) > 0 {
			t.Fatalf("deliveries refused by the receiver: %v", bad)
		}
		if ev != nil {
			return ev
		}
	}
	t.Fatal("no signed key_unavailable event for the demo tenant within 20 s")
	return nil
}

func delivered(ds []*client.Delivery, event string) bool {
	for _, d := range ds {
		if d.Event == event && d.Status == http.StatusOK && d.Error == "" {
			return true
		}
	}
	return false
}

// verifyWithCLI checks the receiver's last delivery with 'byok webhook
// verify', as a receiver's developer would, and that a body changed by one
// byte is refused.
func verifyWithCLI(t *testing.T, rcv *signedReceiver, secret string) {
	t.Helper()
	dir := t.TempDir()
	rcv.mu.Lock()
	body, header := rcv.body, string(rcv.header)
	rcv.mu.Unlock()
	secretFile := filepath.Join(dir, "secret")
	if err := os.WriteFile(secretFile, []byte(secret+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	verify := func(b []byte) (int, string, string) {
		var out, errOut bytes.Buffer
		c := &cli{stdin: bytes.NewReader(b), stdout: &out, stderr: &errOut}
		return run(context.Background(), c, []string{"webhook", "verify", "--secret-file", secretFile, "--signature", header}), out.String(), errOut.String()
	}
	if code, out, errOut := verify(body); code != exitOK || out != "signature valid\n" {
		t.Errorf("byok webhook verify (the delivery) = %d, %q, %q; want exit 0 and signature valid", code, out, errOut)
	}
	tampered := bytes.Replace(body, []byte("key_disabled"), []byte("key_enabled!"), 1)
	if code, _, errOut := verify(tampered); code != exitDecrypt || !strings.Contains(errOut, "byok: error: invalid_signature: no v1 signature matches") {
		t.Errorf("byok webhook verify (tampered) = %d, %q; want exit %d and invalid_signature", code, errOut, exitDecrypt)
	}
}
