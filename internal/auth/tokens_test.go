package auth

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/jackc/pgx/v5"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/tenant"
)

func TestMain(m *testing.M) { os.Exit(pgtest.Main(m)) }

var (
	ctx   = context.Background()
	t0    = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	owner = &Principal{TokenID: "owner", Role: RoleOwner}
	tokRe = regexp.MustCompile(`^byok_[a-z2-7]{16}_[a-z2-7]{52}$`)
)

// fakeClock is a settable clock.
type fakeClock struct {
	mu  sync.Mutex
	now time.Time
}

func (c *fakeClock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.now
}

func (c *fakeClock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.now = c.now.Add(d)
}

// env is Tokens on a real store with tenants acme and globex.
type env struct {
	*Tokens
	store store.Store
	clock *fakeClock
	// dump returns every stored byte that could hold a secret.
	dump func(t *testing.T) []byte
}

func newEnv(t *testing.T, s store.Store, dump func(*testing.T) []byte) *env {
	t.Helper()
	for _, id := range []string{"acme", "globex"} {
		tn := &tenant.Tenant{ID: id, Name: id, ExternalID: "ext-" + id + "-0000", State: tenant.StateActive}
		if _, err := s.CreateTenant(ctx, tn); err != nil {
			t.Fatal(err)
		}
	}
	c := &fakeClock{now: t0}
	return &env{Tokens: NewTokens(s, c.Now), store: s, clock: c, dump: dump}
}

func sqliteEnv(t *testing.T) *env {
	dir := t.TempDir()
	s, err := sqlite.Open(ctx, sqlite.Config{Path: filepath.Join(dir, "byok.db")})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return newEnv(t, s, func(t *testing.T) []byte {
		s.Close() // checkpoints the WAL into the file; the files are read as they are
		return readDir(t, dir)
	})
}

func readDir(t *testing.T, dir string) []byte {
	t.Helper()
	var all []byte
	es, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range es {
		b, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			t.Fatal(err)
		}
		all = append(all, b...)
	}
	return all
}

func postgresEnv(t *testing.T) *env {
	url := pgtest.NewDatabase(t)
	s, err := postgres.Open(ctx, postgres.Config{URL: url})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return newEnv(t, s, func(t *testing.T) []byte { return dumpPostgres(t, url) })
}

// dumpPostgres renders every token row as PostgreSQL's text.
func dumpPostgres(t *testing.T, url string) []byte {
	t.Helper()
	conn, err := pgx.Connect(ctx, url)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close(ctx)
	rows, err := conn.Query(ctx, `SELECT t::text FROM api_tokens t`)
	if err != nil {
		t.Fatal(err)
	}
	texts, err := pgx.CollectRows(rows, pgx.RowTo[string])
	if err != nil {
		t.Fatal(err)
	}
	return []byte(strings.Join(texts, "\n"))
}

// forEachStore runs fn on Tokens over each store implementation.
func forEachStore(t *testing.T, fn func(t *testing.T, e *env)) {
	t.Run("sqlite", func(t *testing.T) { t.Parallel(); fn(t, sqliteEnv(t)) })
	t.Run("postgres", func(t *testing.T) { t.Parallel(); fn(t, postgresEnv(t)) })
}

func mustIssue(t *testing.T, e *env, req IssueRequest) (string, *TokenInfo) {
	t.Helper()
	plain, info, err := e.Issue(ctx, owner, req)
	if err != nil {
		t.Fatalf("Issue(%+v) err = %v", req, err)
	}
	return plain, info
}

func wantCode(t *testing.T, what string, err error, want *Error) {
	t.Helper()
	if !errors.Is(err, want) || Code(err) != want.Code {
		t.Fatalf("%s err = %v (code %q), want %s", what, err, Code(err), want.Code)
	}
}

func TestIssueAuthenticate(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		plain, info := mustIssue(t, e, IssueRequest{Role: RoleMember, Tenant: "acme", Name: "billing app", TTL: time.Hour})
		if !tokRe.MatchString(plain) {
			t.Fatalf("Issue() token %q does not match %v", Redact(plain), tokRe)
		}
		want := &TokenInfo{ID: info.ID, Role: RoleMember, Tenant: "acme", Name: "billing app", Created: t0, Expires: t0.Add(time.Hour)}
		if d := cmp.Diff(want, info); d != "" {
			t.Fatalf("Issue() info mismatch (-want +got):\n%s", d)
		}
		if !strings.Contains(plain, "_"+info.ID+"_") {
			t.Fatalf("the token does not carry its id %s", info.ID)
		}
		p, err := e.Authenticate(ctx, plain)
		if err != nil {
			t.Fatalf("Authenticate() err = %v", err)
		}
		wantP := &Principal{TokenID: info.ID, Role: RoleMember, Tenant: "acme", Name: "billing app"}
		if d := cmp.Diff(wantP, p); d != "" {
			t.Fatalf("Authenticate() mismatch (-want +got):\n%s", d)
		}
		other, _ := mustIssue(t, e, IssueRequest{Role: RoleMember, Tenant: "acme", Name: "billing app"})
		if other == plain || other[:22] == plain[:22] {
			t.Fatal("two tokens share their id or secret")
		}
	})
}

func TestAuthenticateRejects(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		plain, info := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest", TTL: time.Hour})
		wrong := []byte(plain)
		wrong[len(wrong)-10] ^= 'a' ^ 'b'
		unknown := strings.Replace(plain, info.ID, strings.Repeat("a", idLen), 1)
		bad := map[string]string{
			"empty":        "",
			"wrong secret": string(wrong),
			"unknown id":   unknown,
			"upper case":   strings.ToUpper(plain),
			"space":        plain + " ",
			"bearer":       "Bearer " + plain,
			"truncated":    plain[:len(plain)-1],
			"other prefix": "kyob" + plain[4:],
		}
		for name, s := range bad {
			_, err := e.Authenticate(ctx, s)
			wantCode(t, "Authenticate("+name+")", err, ErrUnauthenticated)
		}
		e.clock.Advance(time.Hour - time.Microsecond)
		if _, err := e.Authenticate(ctx, plain); err != nil {
			t.Fatalf("Authenticate() just before expiry err = %v", err)
		}
		e.clock.Advance(time.Microsecond)
		_, err := e.Authenticate(ctx, plain)
		wantCode(t, "Authenticate(expired)", err, ErrUnauthenticated)
	})
}

func TestAuthenticateStoreFailure(t *testing.T) {
	e := sqliteEnv(t)
	plain, _ := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest"})
	e.store.Close()
	_, err := e.Authenticate(ctx, plain)
	if err == nil || errors.Is(err, ErrUnauthenticated) {
		t.Fatalf("Authenticate(store closed) err = %v, want a store error, not ErrUnauthenticated", err)
	}
}

func TestRevoke(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		plain, info := mustIssue(t, e, IssueRequest{Role: RoleAdmin, Tenant: "globex", Name: "console"})
		if _, err := e.Authenticate(ctx, plain); err != nil {
			t.Fatal(err)
		}
		for range 2 {
			if err := e.Revoke(ctx, owner, info.ID); err != nil {
				t.Fatalf("Revoke() err = %v", err)
			}
		}
		_, err := e.Authenticate(ctx, plain)
		wantCode(t, "Authenticate(revoked)", err, ErrUnauthenticated)
		list, err := e.List(ctx, owner, "globex")
		if err != nil || len(list) != 1 || !list[0].Revoked {
			t.Fatalf("List() after Revoke = %+v, %v; want the one token, revoked", list, err)
		}
		wantCode(t, "Revoke(unknown)", e.Revoke(ctx, owner, strings.Repeat("a", idLen)), ErrNotFound)
		wantCode(t, "Revoke(bad id)", e.Revoke(ctx, owner, "A;"), ErrInvalid)
	})
}

func TestRevokePermissions(t *testing.T) {
	e := sqliteEnv(t)
	_, own := mustIssue(t, e, IssueRequest{Role: RoleOwner, Name: "second owner"})
	e.clock.Advance(time.Second)
	_, svc := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest"})
	super := &Principal{TokenID: "s", Role: RoleSuperAdmin}
	wantCode(t, "super_admin Revoke(owner token)", e.Revoke(ctx, super, own.ID), ErrForbidden)
	wantCode(t, "admin Revoke(service token)", e.Revoke(ctx, &Principal{Role: RoleAdmin}, svc.ID), ErrForbidden)
	wantCode(t, "scoped owner Revoke()", e.Revoke(ctx, &Principal{Role: RoleOwner, Tenant: "acme"}, svc.ID), ErrForbidden)
	wantCode(t, "nil Revoke()", e.Revoke(ctx, nil, svc.ID), ErrUnauthenticated)
	if err := e.Revoke(ctx, super, svc.ID); err != nil {
		t.Fatalf("super_admin Revoke(service token) err = %v", err)
	}
	list, _ := e.List(ctx, owner, "")
	if list[0].Revoked || !list[1].Revoked {
		t.Fatalf("List() = %+v; want only the service token revoked", list)
	}
}

func TestDefaultTTL(t *testing.T) {
	e := sqliteEnv(t)
	plain, info := mustIssue(t, e, IssueRequest{Role: RoleAuditor, Name: "soc"})
	if !info.Expires.Equal(t0.Add(DefaultTTL)) {
		t.Fatalf("Issue(TTL 0).Expires = %v, want %v", info.Expires, t0.Add(DefaultTTL))
	}
	e.clock.Advance(DefaultTTL)
	_, err := e.Authenticate(ctx, plain)
	wantCode(t, "Authenticate(after DefaultTTL)", err, ErrUnauthenticated)
}

// touchCounter counts last-used writes.
type touchCounter struct {
	store.Store
	mu      sync.Mutex
	touches int
}

func (c *touchCounter) TouchToken(ctx context.Context, id string, at time.Time) error {
	c.mu.Lock()
	c.touches++
	c.mu.Unlock()
	return c.Store.TouchToken(ctx, id, at)
}

func TestLastUsedThrottled(t *testing.T) {
	e := sqliteEnv(t)
	counter := &touchCounter{Store: e.store}
	e.Tokens = NewTokens(counter, e.clock.Now)
	plain, _ := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "ingest"})
	steps := []struct {
		advance     time.Duration
		wantTouches int
		wantUsed    time.Time
	}{
		{0, 1, t0},
		{30 * time.Second, 1, t0},
		{LastUsedInterval - 30*time.Second - time.Microsecond, 1, t0},
		{time.Microsecond, 2, t0.Add(LastUsedInterval)},
		{time.Second, 2, t0.Add(LastUsedInterval)},
	}
	for i, s := range steps {
		e.clock.Advance(s.advance)
		for range 3 {
			if _, err := e.Authenticate(ctx, plain); err != nil {
				t.Fatal(err)
			}
		}
		list, _ := e.List(ctx, owner, "")
		if counter.touches != s.wantTouches || !list[0].LastUsed.Equal(s.wantUsed) {
			t.Fatalf("step %d: %d writes, last used %v; want %d writes, last used %v",
				i, counter.touches, list[0].LastUsed, s.wantTouches, s.wantUsed)
		}
	}
}

func TestIssuePermissions(t *testing.T) {
	e := sqliteEnv(t)
	for _, byRole := range Roles {
		for _, byTenant := range []string{"", "acme"} {
			by := &Principal{TokenID: "by", Role: byRole, Tenant: byTenant}
			for _, role := range Roles {
				for _, tenant := range []string{"", "acme", "globex"} {
					checkIssue(t, e, by, role, tenant)
				}
			}
		}
	}
	_, _, err := e.Issue(ctx, nil, IssueRequest{Role: RoleMember, Name: "x"})
	wantCode(t, "Issue(nil principal)", err, ErrUnauthenticated)
}

// checkIssue issues one token and checks the outcome against the rules:
// only platform-wide owners and super_admins issue, only owners issue
// owner tokens, and owner, super_admin and service tokens are
// platform-wide.
func checkIssue(t *testing.T, e *env, by *Principal, role Role, tenant string) {
	t.Helper()
	what := string(by.Role) + "@" + by.Tenant + " issues " + string(role) + "@" + tenant
	mayIssue := by.PlatformWide() && (by.Role == RoleOwner || by.Role == RoleSuperAdmin) &&
		(role != RoleOwner || by.Role == RoleOwner)
	scopeOK := tenant == "" || !platformOnly(role)
	plain, info, err := e.Issue(ctx, by, IssueRequest{Role: role, Tenant: tenant, Name: "matrix"})
	switch {
	case !mayIssue:
		wantCode(t, what, err, ErrForbidden)
	case !scopeOK:
		wantCode(t, what, err, ErrInvalid)
	case err != nil:
		t.Fatalf("%s: err = %v", what, err)
	default:
		p, err := e.Authenticate(ctx, plain)
		if err != nil || p.Role != role || p.Tenant != tenant || info.Tenant != tenant {
			t.Fatalf("%s: Authenticate() = %+v, %v", what, p, err)
		}
	}
}

func TestIssueInvalid(t *testing.T) {
	e := sqliteEnv(t)
	cases := map[string]IssueRequest{
		"unknown role":        {Role: "root", Name: "x"},
		"empty role":          {Name: "x"},
		"service with tenant": {Role: RoleService, Tenant: "acme", Name: "x"},
		"owner with tenant":   {Role: RoleOwner, Tenant: "acme", Name: "x"},
		"super with tenant":   {Role: RoleSuperAdmin, Tenant: "acme", Name: "x"},
		"bad tenant":          {Role: RoleMember, Tenant: "ac me", Name: "x"},
		"no name":             {Role: RoleMember},
		"long name":           {Role: RoleMember, Name: strings.Repeat("n", MaxNameLen+1)},
		"control in name":     {Role: RoleMember, Name: "a\x1b[31m"},
		"negative ttl":        {Role: RoleMember, Name: "x", TTL: -time.Hour},
		"tiny ttl":            {Role: RoleMember, Name: "x", TTL: 3600},
		"huge ttl":            {Role: RoleMember, Name: "x", TTL: MaxTTL + time.Second},
	}
	for name, req := range cases {
		_, _, err := e.Issue(ctx, owner, req)
		wantCode(t, "Issue("+name+")", err, ErrInvalid)
	}
	_, _, err := e.Issue(ctx, owner, IssueRequest{Role: RoleMember, Tenant: "nobody", Name: "x"})
	wantCode(t, "Issue(unknown tenant)", err, ErrNotFound)
	if list, _ := e.List(ctx, owner, ""); len(list) != 0 {
		t.Fatalf("refused requests stored tokens: %+v", list)
	}
	_, info := mustIssue(t, e, IssueRequest{Role: RoleMember, Name: strings.Repeat("n", MaxNameLen), TTL: MaxTTL})
	if !info.Expires.Equal(t0.Add(MaxTTL)) {
		t.Fatalf("Issue(MaxTTL).Expires = %v", info.Expires)
	}
}

func TestList(t *testing.T) {
	e := sqliteEnv(t)
	_, a := mustIssue(t, e, IssueRequest{Role: RoleMember, Tenant: "acme", Name: "a"})
	e.clock.Advance(time.Second)
	_, g := mustIssue(t, e, IssueRequest{Role: RoleAdmin, Tenant: "globex", Name: "g"})
	e.clock.Advance(time.Second)
	_, p := mustIssue(t, e, IssueRequest{Role: RoleService, Name: "p"})
	all, err := e.List(ctx, owner, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff([]*TokenInfo{a, g, p}, all); d != "" {
		t.Fatalf("List(all) mismatch (-want +got):\n%s", d)
	}
	acme, _ := e.List(ctx, &Principal{Role: RoleSuperAdmin}, "acme")
	if d := cmp.Diff([]*TokenInfo{a}, acme); d != "" {
		t.Fatalf("List(acme) mismatch (-want +got):\n%s", d)
	}
	_, err = e.List(ctx, &Principal{Role: RoleOwner, Tenant: "acme"}, "acme")
	wantCode(t, "List(scoped owner)", err, ErrForbidden)
	_, err = e.List(ctx, &Principal{Role: RoleAuditor}, "")
	wantCode(t, "List(auditor)", err, ErrForbidden)
	_, err = e.List(ctx, owner, "bad tenant")
	wantCode(t, "List(bad tenant)", err, ErrInvalid)
}

func TestBootstrap(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		plain, info, err := e.Bootstrap(ctx, "first owner")
		if err != nil {
			t.Fatalf("Bootstrap() err = %v", err)
		}
		if info.Role != RoleOwner || info.Tenant != "" || !info.Expires.Equal(t0.Add(DefaultTTL)) {
			t.Fatalf("Bootstrap() info = %+v", info)
		}
		p, err := e.Authenticate(ctx, plain)
		if err != nil || p.Role != RoleOwner || !p.PlatformWide() {
			t.Fatalf("Authenticate(bootstrap token) = %+v, %v", p, err)
		}
		_, _, err = e.Bootstrap(ctx, "again")
		wantCode(t, "Bootstrap(again)", err, ErrConflict)
		if err := e.Revoke(ctx, p, info.ID); err != nil {
			t.Fatal(err)
		}
		if _, _, err := e.Bootstrap(ctx, "recovery"); err != nil {
			t.Fatalf("Bootstrap(every owner token revoked) err = %v", err)
		}
		_, _, err = e.Bootstrap(ctx, "")
		wantCode(t, "Bootstrap(no name)", err, ErrInvalid)
	})
}

// TestPlaintextNeverStored scans everything the store wrote, after tokens
// were issued and used, for their plaintexts and secrets.
func TestPlaintextNeverStored(t *testing.T) {
	forEachStore(t, func(t *testing.T, e *env) {
		var plains []string
		for _, role := range []Role{RoleSuperAdmin, RoleService, RoleMember} {
			plain, _ := mustIssue(t, e, IssueRequest{Role: role, Name: "scan " + string(role)})
			plains = append(plains, plain)
		}
		boot, _, err := e.Bootstrap(ctx, "scan bootstrap")
		if err != nil {
			t.Fatal(err)
		}
		for _, plain := range append(plains, boot) {
			if _, err := e.Authenticate(ctx, plain); err != nil {
				t.Fatal(err)
			}
		}
		dump := string(e.dump(t))
		if !strings.Contains(dump, "scan bootstrap") {
			t.Fatal("the store dump does not hold the token rows")
		}
		for _, plain := range append(plains, boot) {
			secret := plain[len(plain)-secretLen:]
			raw, _ := b32.DecodeString(secret)
			if strings.Contains(dump, secret) || strings.Contains(dump, string(raw)) {
				t.Fatalf("the store holds the secret of %s", Redact(plain))
			}
		}
	})
}
