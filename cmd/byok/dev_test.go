package main

import (
	"bytes"
	"context"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/monitor"
)

// syncBuffer lets the test read what byok dev prints while it runs.
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

type devRun struct {
	api, emu  string
	out, errs *syncBuffer
	stop      func()
}

func startDev(t *testing.T, dir string) *devRun {
	t.Helper()
	r := &devRun{api: freeAddr(t), emu: freeAddr(t), out: &syncBuffer{}, errs: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	c := &cli{stdin: strings.NewReader(""), stdout: r.out, stderr: r.errs}
	go func() { done <- run(ctx, c, []string{"dev", "--dir", dir, "--listen", r.api, "--emulator", r.emu}) }()
	var once sync.Once
	r.stop = func() {
		once.Do(func() {
			cancel()
			if code := <-done; code != exitOK {
				t.Errorf("byok dev exited %d; stdout:\n%s", code, r.out)
			}
		})
	}
	deadline := time.Now().Add(30 * time.Second)
	for {
		resp, err := http.Get("http://" + r.api + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			r.stop()
			t.Fatalf("byok dev did not come up; stdout:\n%s", r.out)
		}
		time.Sleep(50 * time.Millisecond)
	}
	return r
}

var (
	exportLine = regexp.MustCompile(`(?m)^  export (BYOK_[A-Z]+)=(\S+)$`)
	boundLine  = regexp.MustCompile(`probes each tenant's key every (\S+) \(plus up to (\S+)\);\n  a disabled or deleted key is refused within (\S+) \(the revocation bound\)`)
)

// env returns the variables the banner tells the user to export, failing
// the test unless it names both the URL and the token.
func (r *devRun) env(t *testing.T) map[string]string {
	t.Helper()
	env := map[string]string{}
	for _, m := range exportLine.FindAllStringSubmatch(r.out.String(), -1) {
		env[m[1]] = m[2]
	}
	if env["BYOK_URL"] == "" || env["BYOK_TOKEN"] == "" {
		r.stop()
		t.Fatalf("the banner does not export BYOK_URL and BYOK_TOKEN:\n%s", r.out)
	}
	return env
}

// client is a client as the banner's exports configure one.
func (r *devRun) client(t *testing.T) *client.Client {
	t.Helper()
	env := r.env(t)
	c, err := client.New(client.Config{URL: env["BYOK_URL"], Token: env["BYOK_TOKEN"]})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// byok dev starts with nothing installed, serves a demo tenant whose key is
// enabled, and a second run over the same folder resumes it.
func TestDev(t *testing.T) {
	dir := t.TempDir()
	r := startDev(t, dir)
	if got, want := r.env(t)["BYOK_URL"], "http://"+r.api; got != want {
		r.stop()
		t.Fatalf("the banner exports BYOK_URL=%s, want %s", got, want)
	}
	c := r.client(t)
	ctx := context.Background()
	ct, err := c.Encrypt(ctx, devTenant, []byte("hello, byok"), nil)
	if err != nil {
		r.stop()
		t.Fatalf("Encrypt() err = %v", err)
	}
	for _, want := range []string{"/v1/tenants/demo/encrypt", "_awsemu/keys/disable", devKeyARN} {
		if !strings.Contains(r.out.String(), want) {
			t.Errorf("the banner does not mention %s", want)
		}
	}
	bound := bannerBound(t, r)
	// The banner's second and third steps: the customer disables the key,
	// and the demo tenant is refused within the bound the banner states.
	setKey(t, r.emu, "disable")
	start := time.Now()
	waitRefused(t, c, r)
	refused := time.Since(start)
	t.Logf("refused %v after the key was disabled; the banner promises %v", refused.Round(time.Millisecond), bound)
	if refused > bound {
		t.Errorf("refused %v after the key was disabled, over the banner's %v", refused, bound)
	}
	setKey(t, r.emu, "enable")
	waitServed(t, c, r)
	r.stop()

	again := startDev(t, dir)
	defer again.stop()
	c = again.client(t)
	pt, err := c.Decrypt(ctx, devTenant, ct, nil)
	if err != nil || string(pt) != "hello, byok" {
		t.Fatalf("after a restart Decrypt() = %q, %v", pt, err)
	}
}

// bannerBound reads the probe timing the banner states, which must be that
// of the monitor byok dev runs: a probe every 5 s, up to 1 s later, and
// the revocation bound of that.
func bannerBound(t *testing.T, r *devRun) time.Duration {
	t.Helper()
	m := boundLine.FindStringSubmatch(r.out.String())
	if m == nil {
		r.stop()
		t.Fatalf("the banner states no probe interval and revocation bound:\n%s", r.out)
	}
	want := monitor.RevocationBound(monitor.Config{Interval: 5 * time.Second, Jitter: time.Second})
	if m[1] != "5s" || m[2] != "1s" || m[3] != want.String() {
		t.Errorf("the banner states probes every %s (+%s) and a bound of %s, want 5s (+1s) and %s", m[1], m[2], m[3], want)
	}
	bound, err := time.ParseDuration(m[3])
	if err != nil {
		t.Fatal(err)
	}
	return bound
}

// A restart reuses the owner token the first run issued, so restarts do not
// pile up 90-day owner tokens; once that token is revoked, the next run
// issues another and keeps it instead.
func TestDevTokenKept(t *testing.T) {
	dir := t.TempDir()
	ctx := context.Background()
	first := startDev(t, dir)
	tok := first.env(t)["BYOK_TOKEN"]
	first.stop()

	again := startDev(t, dir)
	if got := again.env(t)["BYOK_TOKEN"]; got != tok {
		again.stop()
		t.Fatalf("the second run prints token %s…, the first printed %s…", got[:21], tok[:21])
	}
	c := again.client(t)
	owners := liveOwnerTokens(t, c)
	if len(owners) != 1 {
		again.stop()
		t.Fatalf("after two runs there are %d live owner tokens, want 1", len(owners))
	}
	if fi, err := os.Stat(filepath.Join(dir, devTokenFile)); err != nil {
		t.Errorf("the kept token file: %v", err)
	} else if fi.Mode().Perm() != 0o600 {
		t.Errorf("the kept token file has mode %04o, want 0600", fi.Mode().Perm())
	}
	if err := c.RevokeToken(ctx, owners[0].ID); err != nil {
		t.Fatalf("RevokeToken() err = %v", err)
	}
	again.stop()

	third := startDev(t, dir)
	defer third.stop()
	fresh := third.env(t)["BYOK_TOKEN"]
	if fresh == tok {
		t.Fatal("the run after the kept token was revoked prints the revoked token")
	}
	if owners := liveOwnerTokens(t, third.client(t)); len(owners) != 1 {
		t.Errorf("after the revoked token was replaced there are %d live owner tokens, want 1", len(owners))
	}
	b, err := os.ReadFile(filepath.Join(dir, devTokenFile))
	if err != nil || strings.TrimSpace(string(b)) != fresh {
		t.Errorf("the token file holds %q (err %v), want the new token", b, err)
	}
}

func liveOwnerTokens(t *testing.T, c *client.Client) []*client.Token {
	t.Helper()
	all, err := c.Tokens(context.Background(), "")
	if err != nil {
		t.Fatalf("Tokens() err = %v", err)
	}
	var live []*client.Token
	for _, tok := range all {
		if tok.Role == "owner" && !tok.Revoked {
			live = append(live, tok)
		}
	}
	return live
}

func setKey(t *testing.T, emu, action string) {
	t.Helper()
	resp, err := http.Post("http://"+emu+"/_awsemu/keys/"+action, "application/json",
		strings.NewReader(`{"key_arn":"`+devKeyARN+`"}`))
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("keys/%s: status %d", action, resp.StatusCode)
	}
}

// waitRefused waits until data is refused with key_disabled and the
// monitor has recorded the tenant as key_unavailable: a refusal can come
// first from the evicted cache's next unwrap, and a test that moved on then
// would race the monitor's state change.
func waitRefused(t *testing.T, c *client.Client, r *devRun) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.Encrypt(context.Background(), devTenant, []byte("x"), nil)
		if client.Code(err) == "key_disabled" && tenantState(c) == "key_unavailable" {
			return
		}
		if time.Now().After(deadline) {
			r.stop()
			t.Fatalf("encrypt 30 s after the key was disabled: err = %v, want key_disabled", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// waitServed waits for the next probe to find the key back.
func waitServed(t *testing.T, c *client.Client, r *devRun) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		_, err := c.Encrypt(context.Background(), devTenant, []byte("x"), nil)
		if err == nil && tenantState(c) == "active" {
			return
		}
		if time.Now().After(deadline) {
			r.stop()
			t.Fatalf("encrypt 30 s after the key was enabled again: err = %v", err)
		}
		time.Sleep(200 * time.Millisecond)
	}
}

func tenantState(c *client.Client) string {
	st, err := c.State(context.Background(), devTenant)
	if err != nil {
		return ""
	}
	return st.State
}
