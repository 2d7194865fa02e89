package main

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
)

// lockedBuffer collects a command's output while it runs.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// TestServe runs 'byok serve' on a configuration file with the emulator as
// AWS, drives it with a bootstrapped token, and stops it with the context
// as a signal would.
func TestServe(t *testing.T) {
	dir := t.TempDir()
	emu := awsemu.NewTestServer(t, &awsemu.World{Regions: []string{"eu-west-1"},
		Accounts: []awsemu.Account{{ID: "111111111111", Users: []awsemu.User{{Name: "platform",
			AccessKeyID: "AKIAPLATFORM00000001", SecretAccessKey: "platform-secret"}}}}})
	t.Setenv("AWS_ACCESS_KEY_ID", "AKIAPLATFORM00000001")
	t.Setenv("AWS_SECRET_ACCESS_KEY", "platform-secret")
	t.Setenv("AWS_REGION", "eu-west-1")
	addr := freeAddr(t)
	db := filepath.Join(dir, "byok.db")
	cfgPath := writeServeFiles(t, dir, addr, db, emu.URL)

	var out, errs lockedBuffer
	c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &errs}
	if code := run(context.Background(), c, []string{"token", "bootstrap", "-db", db}); code != exitOK {
		t.Fatalf("token bootstrap exited %d: %s", code, errs.String())
	}
	token := strings.TrimSpace(out.String())

	ctx, stop := startServe(t, c, cfgPath, addr, &errs)
	api, _ := client.New(client.Config{URL: "http://" + addr, Token: token})
	if _, err := api.CreateTenant(ctx, client.CreateTenant{ID: "acme", Name: "Acme"}); err != nil {
		t.Fatalf("CreateTenant: %v", err)
	}
	if st, err := api.State(ctx, "acme"); err != nil || st.State != "pending" {
		t.Fatalf("State = %+v, %v", st, err)
	}
	if sr, err := api.Offboard(ctx, "acme"); err != nil || len(sr.Signature) == 0 {
		t.Fatalf("Offboard = %+v, %v; want a signed receipt (the root key signs them)", sr, err)
	}
	stop()
	// What the service did is in the audit log, and the chain verifies.
	out.b.Reset()
	if code := run(context.Background(), c, []string{"audit", "export", "--db", db, "--tenant", "acme"}); code != exitOK {
		t.Fatalf("audit export exited %d: %s", code, errs.String())
	}
	for _, action := range []string{`"tenant.create"`, `"tenant.offboard"`} {
		if !strings.Contains(out.String(), action) {
			t.Errorf("the audit log of acme lacks %s:\n%s", action, out.String())
		}
	}
	if code := run(context.Background(), c, []string{"audit", "verify", "--db", db, "--key", filepath.Join(dir, "root.key"), "--tenant", "acme"}); code != exitOK {
		t.Fatalf("audit verify exited %d: %s", code, errs.String())
	}
	logs := errs.String()
	if !strings.Contains(logs, `"msg":"serving"`) || !strings.Contains(logs, `"route":"/v1/tenants"`) {
		t.Errorf("logs lack the start line or the access log:\n%s", logs)
	}
	if strings.Contains(logs, token) || strings.Contains(out.String(), token) {
		t.Error("the token appears in serve's output")
	}
}

// startServe runs byok serve with cfgPath until the returned stop (also
// called at cleanup), which requires it to exit cleanly.
func startServe(t *testing.T, c *cli, cfgPath, addr string, errs *lockedBuffer) (context.Context, func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan int, 1)
	go func() { done <- run(ctx, c, []string{"serve", "--config", cfgPath}) }()
	var once sync.Once
	stop := func() {
		once.Do(func() {
			cancel()
			select {
			case code := <-done:
				if code != exitOK {
					t.Errorf("serve exited %d after cancel: %s", code, errs.String())
				}
			case <-time.After(20 * time.Second):
				t.Error("serve did not stop after cancel")
			}
		})
	}
	t.Cleanup(stop)
	waitHealthy(t, "http://"+addr, done, errs)
	return ctx, stop
}

func freeAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

func writeServeFiles(t *testing.T, dir, addr, db, endpoint string) string {
	t.Helper()
	k, _ := envelope.GenerateTenantKey("platform-root", 1, nil)
	f := &keyfile.File{}
	if err := f.Append(keyfile.Entry{Key: k, Created: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	kb, _ := keyfile.Marshal(f)
	write := func(name, content string, mode os.FileMode) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte(content), mode); err != nil {
			t.Fatal(err)
		}
		return p
	}
	root := write("root.key", string(kb), 0o600)
	platform := write("platform.yaml", "regions:\n  - name: eu-west-1\n    platform_account_id: \"111111111111\"\n", 0o644)
	return write("byok.yaml", fmt.Sprintf(`listen: %s
database:
  sqlite: %s
platform_config: %s
root_key_file: %s
aws:
  endpoint: %s
log_level: info
`, addr, db, platform, root, endpoint), 0o644)
}

func waitHealthy(t *testing.T, url string, done <-chan int, errs *lockedBuffer) {
	t.Helper()
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(20 * time.Millisecond) {
		select {
		case code := <-done:
			t.Fatalf("serve exited %d: %s", code, errs.String())
		default:
		}
		if resp, err := http.Get(url + "/readyz"); err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
		}
	}
	t.Fatal("serve did not become ready")
}
