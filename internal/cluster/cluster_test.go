package cluster

import (
	"context"
	"errors"
	"os"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/jackc/pgx/v5"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var ctx = context.Background()

func waitFor(t *testing.T, within time.Duration, cond func() bool) time.Duration {
	t.Helper()
	start := time.Now()
	for !cond() {
		if time.Since(start) > within {
			t.Fatalf("condition not met within %v", within)
		}
		time.Sleep(5 * time.Millisecond)
	}
	return time.Since(start)
}

func TestMemoryBus(t *testing.T) {
	var m Memory
	var got []string
	stop := m.Subscribe("t", func(s string) { got = append(got, s) })
	m.Publish(ctx, "t", "a")
	m.Publish(ctx, "other", "x")
	stop()
	m.Publish(ctx, "t", "b")
	if len(got) != 1 || got[0] != "a" {
		t.Fatalf("received %v, want [a]", got)
	}
}

func TestPostgresBus(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, err := NewPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := NewPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	var got atomic.Value
	b.Subscribe(TopicEvict, func(s string) { got.Store(s) })
	if err := a.Publish(ctx, TopicEvict, "acme"); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, time.Second, func() bool { return got.Load() == "acme" })
	t.Logf("delivered in %v", d)

	// Kill b's listening connection: it reconnects and hears the next message.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_stat_activity
		WHERE query LIKE 'LISTEN%' AND pid <> pg_backend_pid()`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return !b.Listening() })
	waitFor(t, 10*time.Second, b.Listening)
	waitFor(t, 10*time.Second, func() bool {
		a.Publish(ctx, TopicEvict, "globex")
		time.Sleep(20 * time.Millisecond)
		return got.Load() == "globex"
	})
	if err := a.Publish(ctx, TopicEvict, string(make([]byte, 8000))); err == nil {
		t.Fatal("an oversized message was published")
	}
}

func TestLeader(t *testing.T) {
	url := pgtest.NewDatabase(t)
	a, b := NewLeader(url, LockMonitor), NewLeader(url, LockMonitor)
	if !a.IsLeader(ctx) || b.IsLeader(ctx) {
		t.Fatal("want a to lead and b not")
	}
	if !a.IsLeader(ctx) {
		t.Fatal("a lost the lead it holds")
	}
	if err := a.Resign(ctx); err != nil {
		t.Fatal(err)
	}
	if !b.IsLeader(ctx) || a.IsLeader(ctx) {
		t.Fatal("after a resigned, want b to lead and a not")
	}
	// b's connection dies: the server releases the lock, a takes over.
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	if _, err := conn.Exec(ctx, `SELECT pg_terminate_backend(pid) FROM pg_locks WHERE locktype = 'advisory'`); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 5*time.Second, func() bool { return a.IsLeader(ctx) })
	if b.IsLeader(ctx) {
		t.Fatal("b still leads after its connection died and a took over")
	}
	a.Resign(ctx)
	b.Resign(ctx)
}

// Two instances on one PostgreSQL: the first sees the customer's key
// disabled and evicts; the broadcast makes the second refuse within 1 s,
// although its cache would have served for minutes.
func TestRevocationReachesOtherInstance(t *testing.T) {
	url := pgtest.NewDatabase(t)
	ts, keyARN := emulator(t)
	instances := make([]*instance, 2)
	for i := range instances {
		instances[i] = newInstance(t, url, ts)
	}
	a, b := instances[0], instances[1]
	if _, err := a.st.CreateTenant(ctx, &tenant.Tenant{ID: "acme", Name: "Acme", ExternalID: "ext-id-acme-0001", State: tenant.StateActive}); err != nil {
		t.Fatal(err)
	}
	if _, err := a.kr.CreateVersion(ctx, "acme", []kms.KeyRef{{Provider: awskms.ProviderName, ID: keyARN}}); err != nil {
		t.Fatal(err)
	}
	ct, err := a.kr.Seal(ctx, "acme", []byte("record"), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.kr.Open(ctx, "acme", ct, nil); err != nil {
		t.Fatal(err)
	}
	admin := kmsapi.NewFromConfig(ts.Config("eu-west-1", ts.Credentials(t, "222222222222", "admin")))
	if _, err := admin.DisableKey(ctx, &kmsapi.DisableKeyInput{KeyId: aws.String(keyARN)}); err != nil {
		t.Fatal(err)
	}
	if _, err := b.kr.Open(ctx, "acme", ct, nil); err != nil {
		t.Fatalf("before any probe, b's cache serves: %v", err)
	}
	res, err := a.kr.Probe(ctx, "acme")
	if err != nil || res.Class != kms.Disabled {
		t.Fatalf("a's probe = %+v, %v; want class Disabled", res, err)
	}
	d := waitFor(t, time.Second, func() bool {
		_, err := b.kr.Open(ctx, "acme", ct, nil)
		return errors.Is(err, kms.ErrDisabled)
	})
	t.Logf("the other instance refused %v after the probe", d)
}

type instance struct {
	kr  *keyring.Keyring
	bus *Postgres
	st  *postgres.Store
}

func newInstance(t *testing.T, url string, ts *awsemu.TestServer) *instance {
	t.Helper()
	st, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	p, err := awskms.New(ctx, awskms.Config{AWS: ts.Config("eu-west-1", ts.Credentials(t, "111111111111", "platform")),
		CallTimeout: 5 * time.Second, Retry: awskms.RetryPolicy{MaxAttempts: 1}})
	if err != nil {
		t.Fatal(err)
	}
	bus, err := NewPostgres(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(bus.Close)
	var rev *Relay
	kr, err := keyring.New(keyring.Config{Providers: map[string]kms.Provider{awskms.ProviderName: p}, Store: st,
		Region: "eu-west-1", TTL: 5 * time.Minute, Evicted: func(t string) { rev.Announce(t) }})
	if err != nil {
		t.Fatal(err)
	}
	rev = NewRevocations(bus, kr)
	t.Cleanup(rev.Stop)
	return &instance{kr: kr, bus: bus, st: st}
}

func emulator(t *testing.T) (*awsemu.TestServer, string) {
	t.Helper()
	const id = "1b2c3d4e-1111-4222-8333-444455556666"
	allow := `{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}`
	policy := `{"Version":"2012-10-17","Statement":[
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
	  {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},"Action":["kms:Encrypt","kms:Decrypt","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}]}`
	ts := awsemu.NewTestServer(t, &awsemu.World{Regions: []string{"eu-west-1"}, Accounts: []awsemu.Account{
		{ID: "111111111111", Users: []awsemu.User{{Name: "platform", AccessKeyID: "AKIAPLATFORM00000001", SecretAccessKey: "p", Policies: map[string]string{"a": allow}}}},
		{ID: "222222222222", Users: []awsemu.User{{Name: "admin", AccessKeyID: "AKIACUSTOMERADMIN001", SecretAccessKey: "a", Policies: map[string]string{"a": allow}}},
			Keys: []awsemu.Key{{ID: id, Region: "eu-west-1", Policy: policy}}},
	}})
	return ts, "arn:aws:kms:eu-west-1:222222222222:key/" + id
}

// Two instances on one PostgreSQL: a token revoked through the first stops
// working on the second within 1 s, although its authentication cache would
// have admitted it for an hour.
func TestTokenRevocationReachesOtherInstance(t *testing.T) {
	url := pgtest.NewDatabase(t)
	tokens := make([]*auth.Tokens, 2)
	for i := range tokens {
		st, err := postgres.Open(ctx, postgres.Config{URL: url})
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		bus, err := NewPostgres(ctx, url)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(bus.Close)
		tokens[i] = auth.NewTokens(st, nil)
		tokens[i].SetCacheTTL(time.Hour)
		rev := NewTokenRevocations(bus, tokens[i])
		t.Cleanup(rev.Stop)
		tokens[i].OnRevoke(rev.Announce)
	}
	a, b := tokens[0], tokens[1]
	owner := &auth.Principal{TokenID: "o", Role: auth.RoleOwner}
	plain, info, err := a.Issue(ctx, owner, auth.IssueRequest{Role: auth.RoleService, Name: "ingest"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := b.Authenticate(ctx, plain); err != nil {
		t.Fatal(err)
	}
	if err := a.Revoke(ctx, owner, info.ID); err != nil {
		t.Fatal(err)
	}
	d := waitFor(t, time.Second, func() bool {
		_, err := b.Authenticate(ctx, plain)
		return errors.Is(err, auth.ErrUnauthenticated)
	})
	t.Logf("the other instance refused the token %v after the revocation", d)
}
