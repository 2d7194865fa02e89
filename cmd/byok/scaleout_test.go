package main

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/jackc/pgx/v5"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/cluster"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
)

// Two byok serve instances on one PostgreSQL: only one runs the key health
// monitor (it holds the advisory lock), and when it sees the customer's key
// disabled the other instance refuses within a second, although its own
// cache would have served the key for minutes.
func TestScaleOut(t *testing.T) {
	url := pgtest.NewDatabase(t)
	world, err := devWorld()
	if err != nil {
		t.Fatal(err)
	}
	emu := awsemu.NewTestServer(t, world)
	t.Setenv("AWS_ACCESS_KEY_ID", devAccessKey)
	t.Setenv("AWS_SECRET_ACCESS_KEY", devSecretKey)
	t.Setenv("AWS_REGION", devRegion)
	cfg := scaleOutConfig(t, url, emu.URL)
	token := scaleOutSetup(t, cfg)

	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	clients := make([]*client.Client, 2)
	for i := range clients {
		c := *cfg
		c.Listen = freeAddr(t)
		clients[i] = startInstance(ctx, t, &wg, &c, token)
	}
	for _, c := range clients {
		if _, err := c.Encrypt(ctx, devTenant, []byte("record"), nil); err != nil {
			t.Fatalf("Encrypt() before the revocation err = %v", err)
		}
	}
	// The first pass of each monitor asks for the lock; one gets it, and
	// PostgreSQL never lets two hold it.
	for start := time.Now(); monitorLocks(t, url) != 1; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d instances hold the monitor's lock after 10 s, want 1", monitorLocks(t, url))
		}
	}
	if err := emu.SetKeyEnabled(devKeyARN, false); err != nil {
		t.Fatal(err)
	}
	refused := make([]time.Time, 2)
	deadline := time.Now().Add(30 * time.Second)
	for refused[0].IsZero() || refused[1].IsZero() {
		for i, c := range clients {
			if !refused[i].IsZero() {
				continue
			}
			if _, err := c.Encrypt(ctx, devTenant, []byte("record"), nil); client.Code(err) == "key_disabled" {
				refused[i] = time.Now()
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("not both instances refused within 30 s: %v", refused)
		}
		time.Sleep(20 * time.Millisecond)
	}
	gap := refused[1].Sub(refused[0]).Abs()
	t.Logf("the second instance refused %v after the first", gap.Round(time.Millisecond))
	if gap > time.Second {
		t.Fatalf("the second instance refused %v after the first, want within 1 s", gap)
	}
}

func scaleOutConfig(t *testing.T, url, emuURL string) *serveConfig {
	t.Helper()
	dir := t.TempDir()
	cfg := &serveConfig{Platform: filepath.Join(dir, "platform.yaml"), RootKeyFile: filepath.Join(dir, "root.key"), Region: devRegion}
	if err := os.WriteFile(cfg.Platform, []byte(devPlatformConfig), 0o600); err != nil {
		t.Fatal(err)
	}
	if err := devRootKey(cfg.RootKeyFile); err != nil {
		t.Fatal(err)
	}
	cfg.Database.Postgres = url
	// Instances on one database share one shred keystore.
	cfg.Shred.Keystore = filepath.Join(dir, "shred-keys")
	cfg.AWS.Endpoint = emuURL
	cfg.Monitor.Interval, cfg.Monitor.Jitter = 2*time.Second, 500*time.Millisecond
	cfg.LogLevel = "error"
	return cfg
}

// scaleOutSetup enables the demo tenant and returns an owner token.
func scaleOutSetup(t *testing.T, cfg *serveConfig) string {
	t.Helper()
	ctx := context.Background()
	st, err := postgres.Open(ctx, postgres.Config{URL: cfg.Database.Postgres})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	token, _, err := auth.NewTokens(st, nil).Bootstrap(ctx, "scale-out test")
	if err != nil {
		t.Fatal(err)
	}
	if err := devTenantReady(ctx, cfg, st); err != nil {
		t.Fatal(err)
	}
	return token
}

func startInstance(ctx context.Context, t *testing.T, wg *sync.WaitGroup, cfg *serveConfig, token string) *client.Client {
	t.Helper()
	st, err := postgres.Open(ctx, postgres.Config{URL: cfg.Database.Postgres})
	if err != nil {
		t.Fatal(err)
	}
	c := &cli{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: &syncBuffer{}}
	wg.Go(func() {
		defer st.Close()
		if err := serve(ctx, c, cfg, st, auth.NewTokens(st, nil)); err != nil && ctx.Err() == nil {
			t.Errorf("serve() err = %v", err)
		}
	})
	deadline := time.Now().Add(20 * time.Second)
	for {
		resp, err := http.Get("http://" + cfg.Listen + "/healthz")
		if err == nil {
			resp.Body.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("instance on %s did not come up", cfg.Listen)
		}
		time.Sleep(50 * time.Millisecond)
	}
	cl, err := client.New(client.Config{URL: "http://" + cfg.Listen, Token: token})
	if err != nil {
		t.Fatal(err)
	}
	return cl
}

// monitorLocks counts the sessions holding the monitor's advisory lock.
func monitorLocks(t *testing.T, url string) int {
	t.Helper()
	conn, err := pgx.Connect(context.Background(), url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(context.Background())
	var n int
	key := cluster.MonitorLock(devRegion)
	err = conn.QueryRow(context.Background(), `SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted
		AND classid = $1 AND objid = $2`, uint32(key>>32), uint32(key)).Scan(&n)
	if err != nil {
		t.Fatal(err)
	}
	return n
}
