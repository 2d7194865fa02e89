package keyring

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/localkms"
)

var bg = context.Background()

// faulty wraps a real provider and lets a test count calls, hold them, or
// make them fail with a given class. It sits below the kms.Provider seam.
type faulty struct {
	kms.Provider
	unwraps atomic.Int64
	mu      sync.Mutex
	fail    kms.Class
	gate    chan struct{} // when set, unwraps wait for it to close
}

func (f *faulty) setFail(c kms.Class) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.fail = c
}

func (f *faulty) Unwrap(ctx context.Context, w *kms.Wrapped, b kms.Identity) (*envelope.TenantKey, error) {
	f.unwraps.Add(1)
	f.mu.Lock()
	fail, gate := f.fail, f.gate
	f.mu.Unlock()
	if gate != nil {
		<-gate
	}
	if fail != 0 {
		return nil, &kms.Error{Class: fail, Op: "unwrap", Key: w.Key.ID, RequestID: "req-test"}
	}
	return f.Provider.Unwrap(ctx, w, b)
}

func (f *faulty) Probe(ctx context.Context, w *kms.Wrapped, b kms.Identity) error {
	key, err := f.Unwrap(ctx, w, b)
	if err == nil {
		key.Destroy()
	}
	return err
}

func rootFile(t testing.TB, name string) *keyfile.File {
	t.Helper()
	k, err := envelope.GenerateTenantKey(name, 1, nil)
	if err != nil {
		t.Fatal(err)
	}
	f := &keyfile.File{}
	if err := f.Append(keyfile.Entry{Key: k, Created: time.Unix(0, 0).UTC()}); err != nil {
		t.Fatal(err)
	}
	return f
}

type clock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

type fixture struct {
	kr    *Keyring
	p     *faulty
	store *MemStore
	clock *clock
	root  kms.KeyRef
	other kms.KeyRef
}

func newFixture(t testing.TB, tweak func(*Config)) *fixture {
	t.Helper()
	lp, err := localkms.New(rootFile(t, "root-a"), rootFile(t, "root-b"))
	if err != nil {
		t.Fatal(err)
	}
	f := &fixture{p: &faulty{Provider: lp}, store: NewMemStore(), clock: &clock{now: time.Unix(1_800_000_000, 0)},
		root: localkms.RootRef("root-a"), other: localkms.RootRef("root-b")}
	cfg := Config{
		Providers: map[string]kms.Provider{localkms.ProviderName: f.p},
		Store:     f.store, TTL: time.Minute, RefreshWindow: 10 * time.Second, Now: f.clock.Now,
	}
	if tweak != nil {
		tweak(&cfg)
	}
	if f.kr, err = New(cfg); err != nil {
		t.Fatal(err)
	}
	return f
}

func (f *fixture) create(t testing.TB, tenant string) *Version {
	t.Helper()
	v, err := f.kr.CreateVersion(bg, tenant, []kms.KeyRef{f.root})
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// fresh returns a keyring over the same store and provider with an empty
// cache, as another instance would be.
func (f *fixture) fresh(t testing.TB) *Keyring {
	kr, err := New(f.kr.cfg)
	if err != nil {
		t.Fatal(err)
	}
	return kr
}

func TestSealOpenAcrossInstances(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	ec := envelope.Context{"row": "1"}
	ct, err := f.kr.Seal(bg, "acme", []byte("hello"), ec)
	if err != nil {
		t.Fatal(err)
	}
	other := f.fresh(t)
	pt, err := other.Open(bg, "acme", ct, ec)
	if err != nil || string(pt) != "hello" {
		t.Fatalf("Open() on another instance = %q, %v", pt, err)
	}
	f.create(t, "globex")
	if _, err := other.Open(bg, "globex", ct, ec); !errors.Is(err, ErrWrongTenant) {
		t.Fatalf("Open(acme's record as globex) err = %v, want ErrWrongTenant", err)
	}
	if _, err := f.kr.Seal(bg, "nobody", []byte("x"), nil); !errors.Is(err, ErrNoKey) {
		t.Fatalf("Seal(tenant without key) err = %v, want ErrNoKey", err)
	}
}

// A record naming a version the tenant lacks fails as envelope.KeyLookup
// promises, and still matches ErrNoKey.
func TestOpenUnknownVersion(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	ct, err := f.kr.Seal(bg, "acme", []byte("hello"), nil)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(ct[8+len("acme"):], 7)
	_, err = f.kr.Open(bg, "acme", ct, nil)
	if !errors.Is(err, envelope.ErrKeyVersionUnknown) || !errors.Is(err, ErrNoKey) {
		t.Fatalf("Open(version 7 of a tenant with 1) err = %v, want ErrKeyVersionUnknown and ErrNoKey", err)
	}
}

func TestNewVersionForNewWritesOldStillOpen(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	old, _ := f.kr.Seal(bg, "acme", []byte("v1 data"), nil)
	v2 := f.create(t, "acme")
	if v2.Version != 2 {
		t.Fatalf("second version = %d, want 2", v2.Version)
	}
	ct, _ := f.kr.Seal(bg, "acme", []byte("v2 data"), nil)
	if h, _ := envelope.ParseHeader(ct); h.KeyVersion != 2 {
		t.Fatalf("new data sealed with version %d, want 2", h.KeyVersion)
	}
	other := f.fresh(t)
	for _, c := range [][]byte{old, ct} {
		if _, err := other.Open(bg, "acme", c, nil); err != nil {
			t.Fatalf("Open() err = %v", err)
		}
	}
}

func TestCacheHitMakesNoProviderCall(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	kr := f.fresh(t)
	for range 100 {
		if _, err := kr.TenantKey(bg, "acme", 1); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.p.unwraps.Load(); n != 1 {
		t.Fatalf("100 lookups made %d unwraps, want 1", n)
	}
	s := kr.Stats("acme")
	if s.KMSCalls != 1 || s.CacheHits != 99 || s.CacheMiss != 1 || s.CachedKeys != 1 {
		t.Fatalf("Stats() = %+v, want 1 call, 99 hits, 1 miss, 1 key", s)
	}
}

func TestSingleFlight(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	kr := f.fresh(t)
	gate := make(chan struct{})
	f.p.mu.Lock()
	f.p.gate = gate
	f.p.mu.Unlock()
	var wg sync.WaitGroup
	keys := make([]*envelope.TenantKey, 50)
	for i := range keys {
		wg.Go(func() {
			k, err := kr.TenantKey(bg, "acme", 1)
			if err != nil {
				t.Error(err)
			}
			keys[i] = k
		})
	}
	for f.p.unwraps.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	time.Sleep(20 * time.Millisecond) // let the other callers pile up
	close(gate)
	wg.Wait()
	if n := f.p.unwraps.Load(); n != 1 {
		t.Fatalf("50 concurrent cold lookups made %d unwraps, want 1", n)
	}
	for _, k := range keys[1:] {
		if k != keys[0] {
			t.Fatal("callers got different key objects")
		}
	}
}

func TestCallerCancelDoesNotFailOthers(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	kr := f.fresh(t)
	gate := make(chan struct{})
	f.p.mu.Lock()
	f.p.gate = gate
	f.p.mu.Unlock()
	ctx, cancel := context.WithCancel(bg)
	errc := make(chan error)
	go func() { _, err := kr.TenantKey(ctx, "acme", 1); errc <- err }()
	for f.p.unwraps.Load() == 0 {
		time.Sleep(time.Millisecond)
	}
	done := make(chan error)
	go func() { _, err := kr.TenantKey(bg, "acme", 1); done <- err }()
	cancel()
	if err := <-errc; !errors.Is(err, context.Canceled) {
		t.Fatalf("canceled caller err = %v, want context.Canceled", err)
	}
	close(gate)
	if err := <-done; err != nil {
		t.Fatalf("the other caller err = %v, want success", err)
	}
}

func TestTTLForcesNewUnwrap(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	kr := f.fresh(t)
	kr.TenantKey(bg, "acme", 1)
	f.clock.Advance(61 * time.Second)
	if _, err := kr.TenantKey(bg, "acme", 1); err != nil {
		t.Fatal(err)
	}
	if n := f.p.unwraps.Load(); n != 2 {
		t.Fatalf("unwraps after the TTL ran out = %d, want 2", n)
	}
}

func TestRefreshAhead(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	kr := f.fresh(t)
	first, _ := kr.TenantKey(bg, "acme", 1)
	f.clock.Advance(55 * time.Second) // inside the 10 s refresh window
	var wg sync.WaitGroup
	for range 20 {
		wg.Go(func() {
			if k, err := kr.TenantKey(bg, "acme", 1); err != nil || k != first {
				t.Errorf("lookup during refresh = %v, %v; want the cached key", k, err)
			}
		})
	}
	wg.Wait()
	waitFor(t, func() bool { return f.p.unwraps.Load() == 2 && !kr.cache.get("acme", 1).refreshing.Load() })
	f.clock.Advance(30 * time.Second) // past the first TTL, within the refreshed one
	if k, err := kr.TenantKey(bg, "acme", 1); err != nil || k != first {
		t.Fatalf("lookup after refresh = %v, %v; want the same key, renewed", k, err)
	}
	if n := f.p.unwraps.Load(); n != 2 {
		t.Fatalf("unwraps = %d, want 2 (one load, one refresh)", n)
	}
}

func waitFor(t *testing.T, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatal("condition not met in 5 s")
		}
		time.Sleep(time.Millisecond)
	}
}

func TestDefinitiveFailureEvicts(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	kr := f.fresh(t)
	key, _ := kr.TenantKey(bg, "acme", 1)
	f.p.setFail(kms.Disabled)
	f.clock.Advance(55 * time.Second)
	kr.TenantKey(bg, "acme", 1) // starts the refresh, which sees the key disabled
	waitFor(t, func() bool { return kr.cache.get("acme", 1) == nil })
	_, err := kr.TenantKey(bg, "acme", 1)
	if !errors.Is(err, kms.ErrDisabled) || kms.RequestIDOf(err) != "req-test" {
		t.Fatalf("lookup after the key was disabled err = %v, want kms.ErrDisabled with the request id", err)
	}
	if _, err := envelope.Seal(key, nil, nil); !errors.Is(err, envelope.ErrInvalidKey) {
		t.Fatalf("the evicted key still seals: err = %v", err)
	}
	f.p.setFail(0)
	if _, err := kr.TenantKey(bg, "acme", 1); err != nil {
		t.Fatalf("lookup after the key came back err = %v", err)
	}
}

func TestTransientFailureServesUntilMaxAge(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxAge = 5 * time.Minute })
	f.create(t, "acme")
	kr := f.fresh(t)
	key, _ := kr.TenantKey(bg, "acme", 1)
	f.p.setFail(kms.Unavailable)
	f.clock.Advance(2 * time.Minute)
	if k, err := kr.TenantKey(bg, "acme", 1); err != nil || k != key {
		t.Fatalf("lookup during an outage within MaxAge = %v, %v; want the cached key", k, err)
	}
	f.clock.Advance(4 * time.Minute)
	if _, err := kr.TenantKey(bg, "acme", 1); !errors.Is(err, kms.ErrUnavailable) {
		t.Fatalf("lookup past MaxAge err = %v, want kms.ErrUnavailable", err)
	}
}

func TestEvict(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	f.create(t, "acme")
	key, _ := f.kr.Current(bg, "acme")
	f.kr.Evict("acme")
	if n := f.kr.Stats("acme").CachedKeys; n != 0 {
		t.Fatalf("cached keys after Evict = %d, want 0", n)
	}
	if _, err := envelope.Seal(key, nil, nil); !errors.Is(err, envelope.ErrInvalidKey) {
		t.Fatal("an evicted key still seals")
	}
	before := f.p.unwraps.Load()
	if _, err := f.kr.Seal(bg, "acme", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	if f.p.unwraps.Load() != before+1 {
		t.Fatal("Seal after Evict did not unwrap again")
	}
}

func TestMaxEntries(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxEntries = 32 })
	for i := range 200 {
		tenant := "t" + string(rune('a'+i%26)) + string(rune('a'+i/26))
		f.create(t, tenant)
		if _, err := f.kr.Seal(bg, tenant, []byte("x"), nil); err != nil {
			t.Fatal(err)
		}
	}
	if n := f.kr.CachedKeys(); n > 32+shardCount {
		t.Fatalf("cache holds %d keys, want at most about 32", n)
	}
}

func TestBudget(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Budget = Budget{Rate: 0.001, Burst: 2} })
	f.create(t, "acme") // spends one token
	f.create(t, "globex")
	kr := f.kr
	kr.Evict("acme")
	if _, err := kr.TenantKey(bg, "acme", 1); err != nil { // second token
		t.Fatal(err)
	}
	kr.Evict("acme")
	_, err := kr.TenantKey(bg, "acme", 1)
	if !errors.Is(err, kms.ErrThrottled) {
		t.Fatalf("third call within the budget window err = %v, want kms.ErrThrottled", err)
	}
	if s := kr.Stats("acme"); s.Refused != 1 || s.KMSCalls != 2 {
		t.Fatalf("Stats(acme) = %+v, want 2 calls and 1 refused", s)
	}
	kr.Evict("globex")
	if _, err := kr.TenantKey(bg, "globex", 1); err != nil {
		t.Fatalf("another tenant is starved: %v", err)
	}
}

func TestBudgetWaits(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.Budget = Budget{Rate: 50, Burst: 1, MaxWait: time.Second} })
	f.create(t, "acme")
	f.kr.Evict("acme")
	start := time.Now()
	if _, err := f.kr.TenantKey(bg, "acme", 1); err != nil {
		t.Fatalf("call over budget with MaxWait err = %v, want it to wait and succeed", err)
	}
	if time.Since(start) < 5*time.Millisecond {
		t.Fatal("the call did not wait for its turn")
	}
}

func TestRewrapMovesEveryVersion(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	f.create(t, "acme")
	old, _ := f.kr.Seal(bg, "acme", []byte("data"), nil)
	res, err := f.kr.Rewrap(bg, "acme", f.root, f.other)
	if err != nil || res.Rewrapped != 2 || res.Versions != 2 {
		t.Fatalf("Rewrap() = %+v, %v; want 2 of 2 versions rewrapped", res, err)
	}
	vs, _ := f.store.Versions(bg, "acme")
	for _, v := range vs {
		if len(v.Wrappings) != 1 || !SameKey(v.Wrappings[0].Key, f.other) {
			t.Fatalf("version %d wrappings = %+v, want one under %v", v.Version, v.Wrappings, f.other)
		}
	}
	again, err := f.kr.Rewrap(bg, "acme", f.root, f.other)
	if err != nil || again.Rewrapped != 0 || again.Skipped != 2 {
		t.Fatalf("second Rewrap() = %+v, %v; want nothing left to do", again, err)
	}
	if pt, err := f.fresh(t).Open(bg, "acme", old, nil); err != nil || string(pt) != "data" {
		t.Fatalf("Open() after rewrap = %q, %v", pt, err)
	}
}

func TestRewrapAcrossProviders(t *testing.T) {
	f := newFixture(t, nil)
	target, err := localkms.New(rootFile(t, "customer"))
	if err != nil {
		t.Fatal(err)
	}
	_ = target
	f.create(t, "acme")
	if _, err := f.kr.Rewrap(bg, "acme", f.root, kms.KeyRef{Provider: "aws-kms", ID: "arn"}); kms.ClassOf(err) != kms.Misconfigured {
		t.Fatalf("Rewrap to an unconfigured provider err = %v, want class Misconfigured", err)
	}
}

func TestAddWrapping(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	f.create(t, "acme")
	n, err := f.kr.AddWrapping(bg, "acme", f.other)
	if err != nil || n != 2 {
		t.Fatalf("AddWrapping() = %d, %v; want 2", n, err)
	}
	if n, _ := f.kr.AddWrapping(bg, "acme", f.other); n != 0 {
		t.Fatalf("second AddWrapping() = %d, want 0", n)
	}
	f.p.setFail(0)
	vs, _ := f.store.Versions(bg, "acme")
	for _, v := range vs {
		if len(v.Wrappings) != 2 {
			t.Fatalf("version %d has %d wrappings, want 2", v.Version, len(v.Wrappings))
		}
	}
}

// With several wrappings, a transient failure of this region's provider
// falls back to another wrapping; a definitive one does not.
func TestFallbackToOtherWrapping(t *testing.T) {
	lp, _ := localkms.New(rootFile(t, "root-a"))
	down := &faulty{Provider: lp, fail: kms.Unavailable}
	lp2, _ := localkms.New(rootFile(t, "root-a"))
	_ = lp2
	store := NewMemStore()
	up, _ := localkms.New(rootFile(t, "root-b"))
	kr, err := New(Config{Providers: map[string]kms.Provider{localkms.ProviderName: &routing{"root-a": down, "root-b": up}}, Store: store, Region: "eu-west-1"})
	if err != nil {
		t.Fatal(err)
	}
	a := localkms.RootRef("root-a")
	a.Region = "eu-west-1"
	b := localkms.RootRef("root-b")
	down.setFail(0)
	if _, err := kr.CreateVersion(bg, "acme", []kms.KeyRef{a, b}); err != nil {
		t.Fatal(err)
	}
	down.setFail(kms.Unavailable)
	kr.Evict("acme")
	if _, err := kr.TenantKey(bg, "acme", 1); err != nil {
		t.Fatalf("lookup with this region down err = %v, want the other wrapping to serve", err)
	}
	down.setFail(kms.Denied)
	kr.Evict("acme")
	if _, err := kr.TenantKey(bg, "acme", 1); !errors.Is(err, kms.ErrDenied) {
		t.Fatalf("lookup with this region denied err = %v, want kms.ErrDenied", err)
	}
}

// routing sends each call to the provider of the key it names.
type routing map[string]kms.Provider

func (r routing) GenerateAndWrap(ctx context.Context, ref kms.KeyRef, b kms.Identity) (*envelope.TenantKey, *kms.Wrapped, error) {
	return r[ref.ID].GenerateAndWrap(ctx, ref, b)
}
func (r routing) Wrap(ctx context.Context, ref kms.KeyRef, k *envelope.TenantKey, b kms.Identity) (*kms.Wrapped, error) {
	w, err := r[ref.ID].Wrap(ctx, ref, k, b)
	if w != nil {
		w.Key.Region = ref.Region
	}
	return w, err
}
func (r routing) Unwrap(ctx context.Context, w *kms.Wrapped, b kms.Identity) (*envelope.TenantKey, error) {
	return r[w.Key.ID].Unwrap(ctx, w, b)
}
func (r routing) Rewrap(ctx context.Context, w *kms.Wrapped, to kms.KeyRef, b kms.Identity) (*kms.Wrapped, error) {
	return r[w.Key.ID].Rewrap(ctx, w, to, b)
}
func (r routing) Describe(ctx context.Context, ref kms.KeyRef, tenant string) (*kms.KeyInfo, error) {
	return r[ref.ID].Describe(ctx, ref, tenant)
}
func (r routing) Probe(ctx context.Context, w *kms.Wrapped, b kms.Identity) error {
	return r[w.Key.ID].Probe(ctx, w, b)
}

func TestConfigErrors(t *testing.T) {
	for _, cfg := range []Config{
		{},
		{Providers: map[string]kms.Provider{"x": nil}},
		{Providers: map[string]kms.Provider{"x": nil}, Store: NewMemStore(), TTL: -1},
		{Providers: map[string]kms.Provider{"x": nil}, Store: NewMemStore(), TTL: time.Second, RefreshWindow: time.Second},
		{Providers: map[string]kms.Provider{"x": nil}, Store: NewMemStore(), Budget: Budget{Rate: 1}},
	} {
		if _, err := New(cfg); err == nil {
			t.Errorf("New(%+v) accepted an invalid config", cfg)
		}
	}
}

// Sealing and opening from many goroutines with a cache too small for the
// tenants in use: the size bound alone never fails an operation.
func TestConcurrentUseUnderSizeBound(t *testing.T) {
	f := newFixture(t, func(c *Config) { c.MaxEntries = 2 })
	tenants := []string{"a", "b", "c", "d", "e", "f"}
	for _, tn := range tenants {
		f.create(t, tn)
	}
	var wg sync.WaitGroup
	for i := range 8 {
		wg.Go(func() {
			for j := range 300 {
				tn := tenants[(i+j)%len(tenants)]
				if err := sealOpen(f.kr, tn, j); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

// Sealing and opening race with revocations (Evict): every result is right,
// and the only failure allowed is an operation whose key was revoked under it
// on every attempt.
func TestConcurrentUseWithRevocations(t *testing.T) {
	f := newFixture(t, nil)
	tenants := []string{"a", "b", "c", "d", "e", "f"}
	for _, tn := range tenants {
		f.create(t, tn)
	}
	stop := make(chan struct{})
	evictor := make(chan struct{})
	go func() {
		defer close(evictor)
		for i := 0; ; i++ {
			select {
			case <-stop:
				return
			case <-time.After(time.Millisecond):
				f.kr.Evict(tenants[i%len(tenants)])
			}
		}
	}()
	var wg sync.WaitGroup
	var ok atomic.Int64
	for i := range 8 {
		wg.Go(func() {
			for j := range 300 {
				err := sealOpen(f.kr, tenants[(i+j)%len(tenants)], j)
				if err == nil {
					ok.Add(1)
				} else if !errors.Is(err, errEvicted) {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	close(stop)
	<-evictor
	if ok.Load() == 0 {
		t.Fatal("no operation succeeded")
	}
}

func sealOpen(kr *Keyring, tenant string, j int) error {
	msg := []byte(tenant + "/" + string(rune('a'+j%26)))
	ct, err := kr.Seal(bg, tenant, msg, nil)
	if err != nil {
		return err
	}
	pt, err := kr.Open(bg, tenant, ct, nil)
	if err == nil && string(pt) != string(msg) {
		return fmt.Errorf("Open() = %q, want %q", pt, msg)
	}
	return err
}

// Admit refuses a tenant before any unwrap; its error reaches the caller.
func TestAdmit(t *testing.T) {
	errRefused := errors.New("region not ready")
	var refuse atomic.Bool
	f := newFixture(t, func(c *Config) {
		c.Admit = func(_ context.Context, tenant string) error {
			if refuse.Load() && tenant == "acme" {
				return errRefused
			}
			return nil
		}
	})
	f.create(t, "acme")
	ct, err := f.kr.Seal(bg, "acme", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	refuse.Store(true)
	other := f.fresh(t)
	before := f.p.unwraps.Load()
	if _, err := other.Open(bg, "acme", ct, nil); !errors.Is(err, errRefused) {
		t.Fatalf("Open() of a refused tenant err = %v, want the Admit error", err)
	}
	if _, err := other.Seal(bg, "acme", []byte("x"), nil); !errors.Is(err, errRefused) {
		t.Fatalf("Seal() of a refused tenant err = %v, want the Admit error", err)
	}
	if f.p.unwraps.Load() != before {
		t.Fatal("a refused tenant's key was unwrapped")
	}
}

// WrapCopy gives a wrapping under another key that opens the same key, and
// stores nothing.
func TestWrapCopy(t *testing.T) {
	f := newFixture(t, nil)
	v := f.create(t, "acme")
	ct, _ := f.kr.Seal(bg, "acme", []byte("x"), nil)
	w, err := f.kr.WrapCopy(bg, v, f.other)
	if err != nil || !SameKey(w.Key, f.other) {
		t.Fatalf("WrapCopy() = %+v, %v; want a wrapping under %v", w, err, f.other)
	}
	if got, _ := f.store.Version(bg, "acme", 1); len(got.Wrappings) != 1 {
		t.Fatalf("WrapCopy stored %d wrappings, want the original 1", len(got.Wrappings))
	}
	vault := NewMemStore()
	_ = vault.AddVersion(bg, &Version{Tenant: "acme", Version: 1, Wrappings: []kms.Wrapped{*w}})
	cfg := f.kr.cfg
	cfg.Store = vault
	kr, _ := New(cfg)
	if _, err := kr.Open(bg, "acme", ct, nil); err != nil {
		t.Fatalf("Open() through the copy err = %v", err)
	}
	if _, err := f.kr.WrapCopy(bg, &Version{Tenant: "acme", Version: 1}, f.other); kms.ClassOf(err) != kms.Misconfigured {
		t.Fatalf("WrapCopy(no wrappings) err = %v, want misconfigured", err)
	}
}

func TestEvictedHook(t *testing.T) {
	var told []string
	f := newFixture(t, func(c *Config) { c.Evicted = func(tenant string) { told = append(told, tenant) } })
	f.create(t, "acme")
	f.kr.EvictLocal("acme")
	if len(told) != 0 || f.kr.Stats("acme").CachedKeys != 0 {
		t.Fatalf("EvictLocal told %v and left %d keys; want nothing told and none left", told, f.kr.Stats("acme").CachedKeys)
	}
	f.kr.TenantKey(bg, "acme", 1)
	f.p.setFail(kms.Disabled)
	f.kr.Probe(bg, "acme")
	if len(told) != 1 || told[0] != "acme" {
		t.Fatalf("a definitive probe failure told %v, want [acme]", told)
	}
}

func TestCreateFirstVersionOnce(t *testing.T) {
	f := newFixture(t, nil)
	if _, err := f.kr.CreateFirstVersion(bg, "acme", []kms.KeyRef{f.root}); err != nil {
		t.Fatal(err)
	}
	if _, err := f.kr.CreateFirstVersion(bg, "acme", []kms.KeyRef{f.root}); !errors.Is(err, ErrVersionExists) {
		t.Fatalf("second CreateFirstVersion() err = %v, want ErrVersionExists", err)
	}
	if vs, _ := f.store.Versions(bg, "acme"); len(vs) != 1 {
		t.Fatalf("%d versions, want 1", len(vs))
	}
}
