package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
)

// rotationInstance is one byok serve on the shared database, with its log.
type rotationInstance struct {
	api    *client.Client
	log    *syncBuffer
	cancel context.CancelFunc
	done   chan struct{}
}

func startRotationInstance(t *testing.T, cfg serveConfig, token string) *rotationInstance {
	t.Helper()
	cfg.Listen = freeAddr(t)
	ctx, cancel := context.WithCancel(context.Background())
	st, err := postgres.Open(ctx, postgres.Config{URL: cfg.Database.Postgres})
	if err != nil {
		t.Fatal(err)
	}
	in := &rotationInstance{log: &syncBuffer{}, cancel: cancel, done: make(chan struct{})}
	c := &cli{stdin: strings.NewReader(""), stdout: &syncBuffer{}, stderr: in.log}
	go func() {
		defer close(in.done)
		defer st.Close()
		if err := serve(ctx, c, &cfg, st, auth.NewTokens(st, nil)); err != nil && ctx.Err() == nil {
			t.Errorf("serve() err = %v", err)
		}
	}()
	t.Cleanup(in.stop)
	waitHealthy(t, "http://"+cfg.Listen, nil, &lockedBuffer{})
	if in.api, err = client.New(client.Config{URL: "http://" + cfg.Listen, Token: token}); err != nil {
		t.Fatal(err)
	}
	return in
}

func (in *rotationInstance) stop() {
	in.cancel()
	<-in.done
}

// pass is the debug line of each scheduled rotation pass.
const pass = `"msg":"scheduled rotation pass"`

func (in *rotationInstance) rotated(version string) bool {
	return strings.Contains(in.log.String(), `"msg":"scheduled rotation","tenant":"demo","version":`+version)
}

// Two instances on one PostgreSQL database: only the leader (the holder of
// scheduled rotation's advisory lock, cluster.LockRotation) rotates a tenant that is due, once;
// when it stops, the other instance takes the lock and rotates at the next
// period.
func TestScaleOutScheduledRotation(t *testing.T) {
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
	cfg.LogLevel = "debug"
	cfg.AWS.EmulatorClock = true
	cfg.Rotation.Period, cfg.Rotation.CheckEvery = 24*time.Hour, time.Second
	token := scaleOutSetup(t, cfg)

	ins := []*rotationInstance{startRotationInstance(t, *cfg, token), startRotationInstance(t, *cfg, token)}
	for start := time.Now(); monitorLocks(t, url) != 1; time.Sleep(50 * time.Millisecond) {
		if time.Since(start) > 10*time.Second {
			t.Fatalf("%d instances hold the lock after 10 s, want 1", monitorLocks(t, url))
		}
	}
	emu.Advance(25 * time.Hour)
	eventually(t, "a scheduled rotation to version 2", func() bool { return ins[0].rotated("2") || ins[1].rotated("2") })
	leader, other := ins[0], ins[1]
	if other.rotated("2") {
		leader, other = other, leader
	}
	// Both instances have been up for more than a check: only the leader's
	// rotation job has looked for tenants due.
	if !strings.Contains(leader.log.String(), pass) || strings.Contains(other.log.String(), pass) {
		t.Fatalf("the instance without the lock ran a rotation pass:\n%s", other.log.String())
	}

	leader.stop()
	emu.Advance(25 * time.Hour)
	eventually(t, "the other instance rotating to version 3 once it leads", func() bool { return other.rotated("3") })
	if !strings.Contains(other.log.String(), pass) {
		t.Error("the new leader logged no rotation pass")
	}

	var tail bytes.Buffer
	if err := other.api.AuditTail(context.Background(), devTenant, 0, &tail); err != nil {
		t.Fatal(err)
	}
	if n := strings.Count(tail.String(), `"actor":"system:rotation"`); n != 2 {
		t.Errorf("%d scheduled rotations in the audit chain, want 2:\n%s", n, tail.String())
	}
}
