package main

import (
	"bytes"
	"context"
	"net/http"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/client"
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
	api, emu string
	out      *syncBuffer
	stop     func()
}

func startDev(t *testing.T, dir string) *devRun {
	t.Helper()
	r := &devRun{api: freeAddr(t), emu: freeAddr(t), out: &syncBuffer{}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int)
	c := &cli{stdin: strings.NewReader(""), stdout: r.out, stderr: &syncBuffer{}}
	go func() { done <- run(ctx, c, []string{"dev", "--dir", dir, "--listen", r.api, "--emulator", r.emu}) }()
	r.stop = func() {
		cancel()
		if code := <-done; code != exitOK {
			t.Errorf("byok dev exited %d; stdout:\n%s", code, r.out)
		}
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

var tokenLine = regexp.MustCompile(`export BYOK_TOKEN=(\S+)`)

// byok dev starts with nothing installed, serves a demo tenant whose key is
// enabled, and a second run over the same folder resumes it.
func TestDev(t *testing.T) {
	dir := t.TempDir()
	r := startDev(t, dir)
	m := tokenLine.FindStringSubmatch(r.out.String())
	if m == nil {
		r.stop()
		t.Fatalf("no token printed:\n%s", r.out)
	}
	c, err := client.New(client.Config{URL: "http://" + r.api, Token: m[1]})
	if err != nil {
		t.Fatal(err)
	}
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
	// The banner's second and third steps: the customer disables the key,
	// and the demo tenant is refused within seconds.
	setKey(t, r.emu, "disable")
	start := time.Now()
	waitRefused(t, c, r)
	t.Logf("refused %v after the key was disabled", time.Since(start).Round(time.Millisecond))
	setKey(t, r.emu, "enable")
	waitServed(t, c, r)
	r.stop()

	again := startDev(t, dir)
	defer again.stop()
	m = tokenLine.FindStringSubmatch(again.out.String())
	c, _ = client.New(client.Config{URL: "http://" + again.api, Token: m[1]})
	pt, err := c.Decrypt(ctx, devTenant, ct, nil)
	if err != nil || string(pt) != "hello, byok" {
		t.Fatalf("after a restart Decrypt() = %q, %v", pt, err)
	}
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
