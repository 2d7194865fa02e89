package auth

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

// readCounter counts token reads, to tell cache hits from store reads.
type readCounter struct {
	store.Store
	mu    sync.Mutex
	reads int
}

func (c *readCounter) GetToken(ctx context.Context, id string) (*store.Token, error) {
	c.mu.Lock()
	c.reads++
	c.mu.Unlock()
	return c.Store.GetToken(ctx, id)
}

func (c *readCounter) count() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.reads
}

// cacheEnv is a SQLite env whose Tokens counts its store reads.
func cacheEnv(t *testing.T) (*env, *readCounter) {
	e := sqliteEnv(t)
	counter := &readCounter{Store: e.store}
	e.Tokens = NewTokens(counter, e.clock.Now)
	return e, counter
}

func mustAuthenticate(t *testing.T, e *env, plain string) {
	t.Helper()
	if _, err := e.Authenticate(ctx, plain); err != nil {
		t.Fatalf("Authenticate() err = %v", err)
	}
}

func wantReads(t *testing.T, what string, c *readCounter, want int) {
	t.Helper()
	if got := c.count(); got != want {
		t.Fatalf("%s: %d store reads, want %d", what, got, want)
	}
}

func TestCacheHitAndExpiry(t *testing.T) {
	e, reads := cacheEnv(t)
	plain, info := mustIssue(t, e, IssueRequest{Role: RoleMember, Tenant: "acme", Name: "app"})
	mustAuthenticate(t, e, plain)
	p, err := e.Authenticate(ctx, plain)
	if err != nil || p.TokenID != info.ID || p.Role != RoleMember || p.Tenant != "acme" {
		t.Fatalf("Authenticate() from cache = %+v, %v; want member of acme %s", p, err, info.ID)
	}
	wantReads(t, "second use", reads, 1)
	p.Tenant = "globex" // a caller's change must not reach the cache
	e.clock.Advance(DefaultCacheTTL - time.Microsecond)
	p, err = e.Authenticate(ctx, plain)
	if err != nil || p.Tenant != "acme" {
		t.Fatalf("Authenticate() after a caller edited its principal = %+v, %v; want tenant acme", p, err)
	}
	wantReads(t, "just before the TTL", reads, 1)
	e.clock.Advance(time.Microsecond)
	mustAuthenticate(t, e, plain)
	wantReads(t, "at the TTL", reads, 2)
}

// A revocation that bypasses this instance (another instance's, whose
// broadcast was lost) takes effect within the cache TTL.
func TestCacheRevokedElsewhereBoundedByTTL(t *testing.T) {
	e, _ := cacheEnv(t)
	plain, info := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest"})
	mustAuthenticate(t, e, plain)
	if err := e.store.RevokeToken(ctx, info.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	mustAuthenticate(t, e, plain)
	e.clock.Advance(DefaultCacheTTL)
	_, err := e.Authenticate(ctx, plain)
	wantCode(t, "Authenticate(revoked elsewhere, after the TTL)", err, ErrUnauthenticated)
}

func TestCacheForget(t *testing.T) {
	e, _ := cacheEnv(t)
	plain, info := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest"})
	mustAuthenticate(t, e, plain)
	if err := e.store.RevokeToken(ctx, info.ID, e.clock.Now()); err != nil {
		t.Fatal(err)
	}
	e.Forget(info.ID)
	_, err := e.Authenticate(ctx, plain)
	wantCode(t, "Authenticate(revoked elsewhere, forgotten)", err, ErrUnauthenticated)
}

func TestCacheRevokeClears(t *testing.T) {
	e, _ := cacheEnv(t)
	var announced []string
	e.OnRevoke(func(id string) { announced = append(announced, id) })
	plain, info := mustIssue(t, e, IssueRequest{Role: RoleAdmin, Tenant: "globex", Name: "console"})
	mustAuthenticate(t, e, plain)
	if err := e.Revoke(ctx, owner, info.ID); err != nil {
		t.Fatal(err)
	}
	_, err := e.Authenticate(ctx, plain)
	wantCode(t, "Authenticate(revoked here, within the TTL)", err, ErrUnauthenticated)
	if len(announced) != 1 || announced[0] != info.ID {
		t.Fatalf("OnRevoke saw %q, want [%s]", announced, info.ID)
	}
}

// A wrong secret for a cached id fails, without a store read, after one
// comparison through the constant-time equal.
func TestCacheWrongSecret(t *testing.T) {
	e, reads := cacheEnv(t)
	plain, _ := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest"})
	mustAuthenticate(t, e, plain)
	wrong := []byte(plain)
	// Another letter of the token alphabet, so the token still parses and
	// reaches the comparison.
	if wrong[len(wrong)-10] == 'a' {
		wrong[len(wrong)-10] = 'b'
	} else {
		wrong[len(wrong)-10] = 'a'
	}
	calls := 0
	e.equal = func(a, b []byte) bool { calls++; return constantTimeEqual(a, b) }
	_, err := e.Authenticate(ctx, string(wrong))
	wantCode(t, "Authenticate(wrong secret, cached id)", err, ErrUnauthenticated)
	if calls != 1 {
		t.Fatalf("wrong secret for a cached id: %d comparisons, want 1", calls)
	}
	wantReads(t, "wrong secret for a cached id", reads, 1)
	mustAuthenticate(t, e, plain)
}

func TestCacheHonoursExpiry(t *testing.T) {
	e, _ := cacheEnv(t)
	plain, _ := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest", TTL: MinTTL})
	e.clock.Advance(MinTTL - time.Second)
	mustAuthenticate(t, e, plain)
	e.clock.Advance(time.Second)
	_, err := e.Authenticate(ctx, plain)
	wantCode(t, "Authenticate(expired while cached)", err, ErrUnauthenticated)
}

func TestCacheOff(t *testing.T) {
	e, reads := cacheEnv(t)
	e.SetCacheTTL(0)
	plain, _ := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest"})
	mustAuthenticate(t, e, plain)
	mustAuthenticate(t, e, plain)
	wantReads(t, "cache off", reads, 2)
}
