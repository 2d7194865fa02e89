package control

import (
	"math/rand/v2"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// The crash child's environment: set by TestCrashDuringKeyChange for the
// process it starts and kills.
const (
	envCrashChild  = "BYOK_CRASH_CHILD"
	envCrashURL    = "BYOK_CRASH_EMULATOR_URL"
	envCrashDB     = "BYOK_CRASH_DB"
	envCrashTarget = "BYOK_CRASH_TARGET_KEY"
	envCrashAccess = "BYOK_CRASH_ACCESS_KEY"
	envCrashSecret = "BYOK_CRASH_SECRET_KEY"
)

// TestCrashChild is not a test of its own: it is the process that
// TestCrashDuringKeyChange starts, kills at a random point and starts again.
// It changes tenant acme's key in the parent's SQLite file through the
// parent's emulator.
func TestCrashChild(t *testing.T) {
	if os.Getenv(envCrashChild) != "1" {
		t.Skip("runs only as the child of TestCrashDuringKeyChange")
	}
	awsCfg := aws.Config{Region: home, BaseEndpoint: aws.String(os.Getenv(envCrashURL)), RetryMaxAttempts: 1,
		Credentials: credentials.NewStaticCredentialsProvider(os.Getenv(envCrashAccess), os.Getenv(envCrashSecret), "")}
	provider, err := awskms.New(ctx, awskms.Config{AWS: awsCfg, CallTimeout: 5 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	st, err := sqlite.Open(ctx, sqlite.Config{Path: os.Getenv(envCrashDB)})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	kr, err := keyring.New(keyring.Config{Providers: map[string]kms.Provider{awskms.ProviderName: provider}, Store: st, Region: home})
	if err != nil {
		t.Fatal(err)
	}
	plat, err := platform.Parse(strings.NewReader(changeableConfig), nil)
	if err != nil {
		t.Fatal(err)
	}
	svc, err := New(Config{Platform: plat, Store: st, Keyring: kr,
		Validator: &onboarding.Validator{Config: plat, AWS: awsCfg, CallTimeout: 5 * time.Second}})
	if err != nil {
		t.Fatal(err)
	}
	target := os.Getenv(envCrashTarget)
	if target == "" {
		return // the parent measures how long starting takes
	}
	if _, err := svc.ChangeKey(ctx, ChangeKey{Tenant: "acme", Region: home, KeyARN: target}); err != nil {
		t.Fatalf("ChangeKey() err = %v", err)
	}
}

// A key change killed with SIGKILL at random points, again and again, never
// leaves a record that does not open, and finishes when run once more. Half
// the kills come after a random number of the new wrappings, half at a
// random time; each completed change is followed by a change back, so kills
// keep landing in the middle of one.
func TestCrashDuringKeyChange(t *testing.T) {
	if os.Getenv(envCrashChild) != "" {
		t.Skip("the child does not start children")
	}
	// The child opens the database without the parent's shred keystore.
	e := newLifecycleEnvWith(t, envOptions{noShred: true})
	e.enable(t, "acme", home, mrkARN)
	recs := sealN(t, e.keyringIn(t, home), "acme", 1)
	for range 15 {
		if _, err := e.svc.RotateTenantKey(ctx, "acme"); err != nil {
			t.Fatal(err)
		}
		recs = append(recs, sealN(t, e.keyringIn(t, home), "acme", 1)...)
	}
	// Slow each wrap a little so that most of a child's life is the rewrap.
	if err := e.ts.SetFaults([]awsemu.Fault{{Kind: awsemu.FaultLatency, Operation: "Encrypt", Latency: 10 * time.Millisecond}}); err != nil {
		t.Fatal(err)
	}
	start := e.runChild(t, "", -1)
	full := e.runChild(t, e.crashTarget(t), -1)
	t.Logf("a child starts in %v; an uninterrupted key change takes %v", start, full)
	e.checkAfterCrash(t, recs)
	kills := 15
	if raceEnabled {
		kills = 5
	}
	interrupted := 0
	for i := range kills {
		target := e.crashTarget(t)
		if i%2 == 0 {
			e.killDuringWrap(t, target)
		} else {
			// Kill at any time between the end of the start and the end of a
			// full run: in validation, wrapping, dropping or binding.
			e.runChild(t, target, start+time.Duration(rand.Int64N(int64(max(full-start, time.Millisecond)))))
		}
		e.checkAfterCrash(t, recs)
		if st, _ := e.svc.KeyChangeStatus(ctx, "acme"); st.Running {
			interrupted++
		}
	}
	if interrupted == 0 {
		t.Fatal("no kill landed during a key change; the test proved nothing")
	}
	t.Logf("%d of %d kills interrupted a key change", interrupted, kills)
	target := e.crashTarget(t)
	e.runChild(t, target, -1)
	if st, _ := e.svc.KeyChangeStatus(ctx, "acme"); st.Running {
		t.Fatalf("the key change still runs after a complete run: %+v", st)
	}
	if keys := e.wrappingKeys(t, "acme"); keys[target] != len(recs) || len(keys) != 2 {
		t.Fatalf("wrappings = %v, want every version under %s only (two regions)", keys, target)
	}
	e.checkAfterCrash(t, recs)
}

// crashTarget is the key the next child changes to: the running change's,
// or the other key.
func (e *env) crashTarget(t *testing.T) string {
	t.Helper()
	st, err := e.svc.KeyChangeStatus(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	if st.Running {
		return st.To
	}
	tn, _ := e.svc.Tenant(ctx, "acme")
	if tn.KeyBinding.Regions[home] == mrkARN {
		return mrk2ARN
	}
	return mrkARN
}

// runChild runs the crash child to completion (kill < 0) or kills it after
// kill, and returns how long it ran.
func (e *env) runChild(t *testing.T, target string, kill time.Duration) time.Duration {
	t.Helper()
	cmd, out := e.startChild(t, target)
	start := time.Now()
	if kill < 0 {
		if err := cmd.Wait(); err != nil {
			t.Fatalf("crash child: %v\n%s", err, out.String())
		}
		return time.Since(start)
	}
	time.Sleep(kill)
	_ = cmd.Process.Kill() // SIGKILL: no deferred function or cleanup runs
	_ = cmd.Wait()
	return time.Since(start)
}

// killDuringWrap starts a child and kills it once it has made a random
// number of the wrappings under target it still has to make, but not all.
func (e *env) killDuringWrap(t *testing.T, target string) {
	t.Helper()
	before, total := e.wrappedUnder(t, target)
	if total-before < 2 {
		e.runChild(t, target, -1)
		return
	}
	goal := before + 1 + rand.IntN(total-before-1)
	cmd, _ := e.startChild(t, target)
	exited := make(chan struct{})
	go func() { _ = cmd.Wait(); close(exited) }()
	deadline := time.Now().Add(20 * time.Second)
	for n := before; n < goal && time.Now().Before(deadline); n, _ = e.wrappedUnder(t, target) {
		select {
		case <-exited:
			return
		case <-time.After(time.Millisecond):
		}
	}
	_ = cmd.Process.Kill()
	<-exited
}

// wrappedUnder counts the wrappings under target's key (in any region) and
// how many there are when every version has one per region.
func (e *env) wrappedUnder(t *testing.T, target string) (n, total int) {
	t.Helper()
	want, _ := awskms.ParseARN(target)
	vs, err := e.store.Versions(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		for _, w := range v.Wrappings {
			if got, err := awskms.ParseARN(w.Key.ID); err == nil && got.KeyID == want.KeyID {
				n++
			}
		}
	}
	return n, 2 * len(vs)
}

func (e *env) startChild(t *testing.T, target string) (*exec.Cmd, *strings.Builder) {
	t.Helper()
	creds := e.ts.Credentials(t, platformAcct, "platform")
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashChild$", "-test.count=1")
	cmd.Env = append(os.Environ(), envCrashChild+"=1", envCrashURL+"="+e.ts.URL, envCrashDB+"="+e.dbPath,
		envCrashTarget+"="+target, envCrashAccess+"="+creds.AccessKeyID, envCrashSecret+"="+creds.SecretAccessKey)
	out := &strings.Builder{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	return cmd, out
}

// checkAfterCrash opens every record with a fresh keyring and checks that
// each version is wrapped in both regions.
func (e *env) checkAfterCrash(t *testing.T, recs []sealed) {
	t.Helper()
	openAll(t, e.keyringIn(t, home), "acme", recs)
	vs, err := e.store.Versions(ctx, "acme")
	if err != nil {
		t.Fatal(err)
	}
	for _, v := range vs {
		regions := map[string]bool{}
		for _, w := range v.Wrappings {
			regions[w.Key.Region] = true
		}
		if !regions[home] || !regions[replica] {
			t.Fatalf("version %d is wrapped in %v only, want %s and %s", v.Version, regions, home, replica)
		}
	}
}
