package main

import (
	"context"
	"encoding/hex"
	"fmt"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
)

// The platform of the regional tests: a service per hosting region on one
// database; the EU regions share the dev platform account, us-west-2 has
// its own, which the demo customer's key policy does not grant.
const (
	usRegion     = "us-west-2"
	usAccount    = "333333333333"
	usAccessKey  = "AKIABYOKDEVPLATFORMU"
	usSecretKey  = "byok-dev-us-platform-secret"
	replicaKeyID = devKeyID
)

var replicaKeyARN = "arn:aws:kms:" + devReplica + ":" + devCustomerAccount + ":key/" + replicaKeyID

const regionalPlatformConfig = `regions:
  - name: eu-west-1
    platform_account_id: "111111111111"
    replica_regions: [eu-central-1]
  - name: eu-central-1
    platform_account_id: "111111111111"
  - name: us-west-2
    platform_account_id: "333333333333"
policy:
  require_multi_region: true
  alias_arns: reject
  key_binding: changeable
`

// regionalWorld is the dev world with us-west-2 and its platform account.
func regionalWorld(t *testing.T) *awsemu.World {
	t.Helper()
	w, err := devWorld()
	if err != nil {
		t.Fatal(err)
	}
	all := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":["kms:*","sts:AssumeRole"],"Resource":"*"}]}`
	w.Regions = append(w.Regions, usRegion)
	w.Accounts = append(w.Accounts, awsemu.Account{ID: usAccount, Users: []awsemu.User{{Name: "platform",
		AccessKeyID: usAccessKey, SecretAccessKey: usSecretKey, Policies: map[string]string{"byok": all}}}})
	return w
}

// Two byok serve instances on one PostgreSQL, one per hosting region of
// the demo tenant's multi-Region key (eu-west-1 and its replica's
// eu-central-1), and a third for us-west-2, run as its own byok process
// with its own platform account. The customer disables the replica in
// eu-central-1: that region's instance refuses the tenant with
// key_disabled while eu-west-1's keeps serving; the status, through the
// API and 'byok tenant status', shows each region; the tenant's own state
// never changes, and the us-west-2 instance, which does not host the
// tenant, neither probes nor judges it.
func TestServeRegions(t *testing.T) {
	url := pgtest.NewDatabase(t)
	emu := awsemu.NewTestServer(t, regionalWorld(t))
	t.Setenv("AWS_ACCESS_KEY_ID", devAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", devSecretKey)
	t.Setenv("AWS_REGION", devRegion)
	cfg := scaleOutConfig(t, url, emu.URL)
	if err := os.WriteFile(cfg.Platform, []byte(regionalPlatformConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg.Monitor.Interval, cfg.Monitor.Jitter = time.Second, 200*time.Millisecond
	cfg.Webhooks.AllowHTTP, cfg.Webhooks.AllowPrivateNetworks = true, true
	token := scaleOutSetup(t, cfg)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	instances := map[string]*client.Client{}
	addrs := map[string]string{}
	for _, region := range []string{devRegion, devReplica} {
		c := *cfg
		c.Listen, c.Region = freeAddr(t), region
		addrs[region] = c.Listen
		instances[region] = startInstance(ctx, t, &wg, &c, token)
	}
	us := startUSInstance(ctx, t, cfg, token)
	west, central := instances[devRegion], instances[devReplica]
	rcv := subscribeRegions(ctx, t, west)

	// Each region's instance probes its own key first.
	waitRegions(t, west, map[string]string{devRegion: "active", devReplica: "active"})
	for region, c := range instances {
		if _, err := c.Encrypt(ctx, devTenant, []byte("record"), nil); err != nil {
			t.Fatalf("Encrypt() in %s err = %v", region, err)
		}
	}

	if err := emu.SetKeyEnabled(replicaKeyARN, false); err != nil {
		t.Fatal(err)
	}
	waitRefusedIn(t, central, devReplica)
	st := waitRegions(t, west, map[string]string{devRegion: "active", devReplica: "key_unavailable"})
	if h := st.Regions[devReplica].Health; h.Reason != "key_disabled" || h.Since.IsZero() || st.State != "active" {
		t.Fatalf("status = %s, %s's key %+v; want the tenant active and the replica key_unavailable for key_disabled since a time", st.State, devReplica, h)
	}
	// A few probe intervals later eu-west-1 still serves, and nobody has
	// changed the tenant's state: not eu-central-1's instance, and not the
	// us-west-2 one, whose account the customer's key does not grant.
	for end := time.Now().Add(4 * time.Second); time.Now().Before(end); time.Sleep(200 * time.Millisecond) {
		if _, err := west.Encrypt(ctx, devTenant, []byte("record"), nil); err != nil {
			t.Fatalf("Encrypt() in %s with only %s's key disabled err = %v", devRegion, devReplica, err)
		}
	}
	code, out, errOut := statusCLI(addrs[devRegion], token)
	for _, want := range []string{"state:              active",
		"eu-central-1  yes", "key_unavailable  key_disabled", "eu-west-1     yes"} {
		if code != exitOK || !strings.Contains(out, want) {
			t.Errorf("byok tenant status = %d\n%s%s\nwant %q", code, out, errOut, want)
		}
	}
	if st, err := us.Status(ctx, devTenant, 0); err != nil || !st.NextProbe.IsZero() {
		t.Errorf("status from the us-west-2 instance = %+v, %v; want no probe scheduled there", st, err)
	}
	if st, err := west.Status(ctx, devTenant, 0); err != nil || st.NextProbe.IsZero() {
		t.Errorf("status from the eu-west-1 instance = %+v, %v; want its next probe", st, err)
	}
	evs := rcv.all()
	if len(evs) != 1 || evs[0].Type != monitor.EventRegionStateChanged || evs[0].Region != devReplica ||
		evs[0].NewState != "key_unavailable" || evs[0].Reason != "key_disabled" {
		t.Fatalf("events = %+v, want one tenant.region_state_changed for %s and no state change", evs, devReplica)
	}

	if err := emu.SetKeyEnabled(replicaKeyARN, true); err != nil {
		t.Fatal(err)
	}
	waitRegions(t, west, map[string]string{devRegion: "active", devReplica: "active"})
	if _, err := central.Encrypt(ctx, devTenant, []byte("record"), nil); err != nil {
		t.Fatalf("Encrypt() in %s once its key is back err = %v", devReplica, err)
	}
}

// startUSInstance runs 'byok serve' for us-west-2 as its own process, with
// the us-west-2 platform account's credentials.
func startUSInstance(ctx context.Context, t *testing.T, base *serveConfig, token string) *client.Client {
	t.Helper()
	addr := freeAddr(t)
	path := filepath.Join(t.TempDir(), "byok.yaml")
	yaml := fmt.Sprintf(`listen: %s
database:
  postgres: %q
platform_config: %s
root_key_file: %s
shred:
  keystore: %s
region: us-west-2
aws:
  endpoint: %s
monitor:
  interval: 1s
  jitter: 200ms
log_level: error
`, addr, base.Database.Postgres, base.Platform, base.RootKeyFile, base.Shred.Keystore, base.AWS.Endpoint)
	if err := os.WriteFile(path, []byte(yaml), 0o600); err != nil {
		t.Fatal(err)
	}
	cmd := exec.CommandContext(ctx, os.Args[0], "serve", "--config", path)
	cmd.Args[0] = "byok" // TestMain runs the test binary as byok
	cmd.Env = append(os.Environ(), "AWS_ACCESS_KEY_ID="+usAccessKey, "AWS_SECRET_ACCESS_KEY="+usSecretKey, "AWS_REGION="+usRegion)
	var errs lockedBuffer
	cmd.Stderr = &errs
	cmd.Cancel = func() error { return cmd.Process.Signal(os.Interrupt) }
	cmd.WaitDelay = 20 * time.Second
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan int, 1)
	go func() {
		cmd.Wait()
		done <- cmd.ProcessState.ExitCode()
	}()
	t.Cleanup(func() {
		if cmd.Process.Signal(os.Interrupt) == nil {
			<-done
		}
	})
	waitHealthy(t, "http://"+addr, done, &errs)
	c, err := client.New(client.Config{URL: "http://" + addr, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// subscribeRegions has a receiver collect the demo tenant's events.
func subscribeRegions(ctx context.Context, t *testing.T, c *client.Client) *signedReceiver {
	t.Helper()
	rcv := &signedReceiver{}
	srv := httptest.NewServer(rcv)
	t.Cleanup(srv.Close)
	hook, err := c.CreateWebhook(ctx, devTenant, "regions", srv.URL+"/byok")
	if err != nil {
		t.Fatalf("CreateWebhook: %v", err)
	}
	secret, err := hex.DecodeString(hook.Secret)
	if err != nil {
		t.Fatal(err)
	}
	rcv.mu.Lock()
	rcv.secret = secret
	rcv.mu.Unlock()
	return rcv
}

func (r *signedReceiver) all() []monitor.Event {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]monitor.Event(nil), r.events...)
}

// waitRegions waits until the status shows each region's key in the state
// wanted, and returns it.
func waitRegions(t *testing.T, c *client.Client, want map[string]string) *client.TenantStatus {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		st, err := c.Status(context.Background(), devTenant, 0)
		if err == nil && regionStates(st, want) {
			return st
		}
		if time.Now().After(deadline) {
			t.Fatalf("status after 30 s = %+v, %v; want region key states %v", st, err, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func regionStates(st *client.TenantStatus, want map[string]string) bool {
	for region, state := range want {
		r := st.Regions[region]
		if r == nil || r.Health == nil || r.Health.State != state {
			return false
		}
	}
	return true
}

func waitRefusedIn(t *testing.T, c *client.Client, region string) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.Encrypt(context.Background(), devTenant, []byte("record"), nil)
		if client.Code(err) == "key_disabled" {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("Encrypt() in %s 30 s after its key was disabled err = %v, want key_disabled", region, err)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// statusCLI runs 'byok tenant status' against the instance at addr.
func statusCLI(addr, token string) (int, string, string) {
	var out, errOut lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errOut}
	code := run(context.Background(), c, []string{"tenant", "status", devTenant, "--url", "http://" + addr, "--token", token})
	return code, out.String(), errOut.String()
}
