package auth

import (
	"context"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
)

// Token lifetimes. Every token expires: a TTL of 0 asks for DefaultTTL, and
// a forgotten token stops working on its own. The minimum catches a TTL
// given in the wrong unit (3600 nanoseconds for an hour).
const (
	DefaultTTL = 90 * 24 * time.Hour
	MinTTL     = time.Minute
	MaxTTL     = 366 * 24 * time.Hour
	// LastUsedInterval bounds how often a token's last-used time is
	// written: at most once per interval, not once per request.
	LastUsedInterval = time.Minute
	// MaxNameLen bounds a token's name, in bytes.
	MaxNameLen = store.MaxTokenNameLen
)

// More sentinels, for token management.
var (
	ErrInvalid  = &Error{Code: "invalid_argument", Msg: "invalid token request"}
	ErrNotFound = &Error{Code: "not_found", Msg: "not found"}
	ErrConflict = &Error{Code: "conflict", Msg: "conflict"}
)

// TokenStore keeps tokens; internal/store's stores implement it.
type TokenStore interface {
	CreateToken(ctx context.Context, t *store.Token) error
	CreateFirstToken(ctx context.Context, t *store.Token, now time.Time) error
	GetToken(ctx context.Context, id string) (*store.Token, error)
	ListTokens(ctx context.Context, tenant string) ([]*store.Token, error)
	RevokeToken(ctx context.Context, id string, at time.Time) error
	TouchToken(ctx context.Context, id string, at time.Time) error
}

var _ TokenStore = store.Store(nil)

// IssueRequest describes a token to issue.
type IssueRequest struct {
	Role Role
	// Tenant scopes the token to one tenant; "" makes it platform-wide.
	// Owner, super_admin and service tokens are always platform-wide.
	Tenant string
	// Name says what the token is for: 1 to MaxNameLen bytes of text.
	Name string
	// TTL is the token's lifetime: 0 means DefaultTTL; MinTTL to MaxTTL.
	TTL time.Duration
}

// TokenInfo describes a token. It never holds the secret nor its hash.
type TokenInfo struct {
	ID      string
	Role    Role
	Tenant  string
	Name    string
	Created time.Time
	Expires time.Time
	// LastUsed is zero until the token authenticates; it lags by up to
	// LastUsedInterval.
	LastUsed time.Time
	Revoked  bool
}

// Tokens issues, authenticates, lists and revokes API tokens.
type Tokens struct {
	store TokenStore
	now   func() time.Time
	rand  io.Reader
	// equal compares hashes; always constant-time outside tests, which
	// count its calls.
	equal func(a, b []byte) bool

	cache    tokenCache
	cacheTTL time.Duration
	revoked  func(id string) // see OnRevoke
}

// NewTokens returns token management on s. now is the clock (nil means
// time.Now); tests pass a fake one.
func NewTokens(s TokenStore, now func() time.Time) *Tokens {
	if now == nil {
		now = time.Now
	}
	return &Tokens{store: s, now: now, rand: rand.Reader, equal: constantTimeEqual, cacheTTL: DefaultCacheTTL}
}

func constantTimeEqual(a, b []byte) bool { return subtle.ConstantTimeCompare(a, b) == 1 }

// dummyHash stands in for the stored hash of an unknown id, so that every
// bearer string of the right shape costs one hash and one comparison.
var dummyHash = make([]byte, sha256.Size)

var errUnknownToken = fmt.Errorf("%w: unknown token", ErrUnauthenticated)

func (t *Tokens) clock() time.Time { return store.Trunc(t.now()) }

// Issue creates a token for req and returns its plaintext, shown to the
// caller once and never again, with its description. by must be allowed to
// manage tokens of req.Role (see [CanIssue]).
func (t *Tokens) Issue(ctx context.Context, by *Principal, req IssueRequest) (string, *TokenInfo, error) {
	if err := CanIssue(by, req.Role); err != nil {
		return "", nil, err
	}
	ttl, err := req.validate()
	if err != nil {
		return "", nil, err
	}
	return t.create(ctx, req, ttl, t.store.CreateToken)
}

// Bootstrap issues the first platform-wide owner token, named name, with
// DefaultTTL. It is refused with [ErrConflict] while a live owner token
// exists. Whoever can call it can already write the database, so it is
// also the way back in when every owner token is lost, expired or revoked.
func (t *Tokens) Bootstrap(ctx context.Context, name string) (string, *TokenInfo, error) {
	req := IssueRequest{Role: RoleOwner, Name: name}
	ttl, err := req.validate()
	if err != nil {
		return "", nil, err
	}
	now := t.clock()
	first := func(ctx context.Context, rec *store.Token) error { return t.store.CreateFirstToken(ctx, rec, now) }
	plain, info, err := t.create(ctx, req, ttl, first)
	if errors.Is(err, store.ErrConflict) {
		return "", nil, fmt.Errorf("%w: an owner token already exists; issue further tokens with it", ErrConflict)
	}
	return plain, info, err
}

func (t *Tokens) create(ctx context.Context, req IssueRequest, ttl time.Duration,
	insert func(context.Context, *store.Token) error) (string, *TokenInfo, error) {
	tok, err := t.generate()
	if err != nil {
		return "", nil, err
	}
	now := t.clock()
	rec := &store.Token{ID: tok.id, Hash: tok.hash(), Role: string(req.Role), Tenant: req.Tenant,
		Name: req.Name, CreatedAt: now, ExpiresAt: now.Add(ttl)}
	err = insert(ctx, rec)
	if errors.Is(err, store.ErrNotFound) {
		return "", nil, fmt.Errorf("%w: tenant %s", ErrNotFound, req.Tenant)
	}
	if err != nil {
		return "", nil, fmt.Errorf("auth: issue token: %w", err)
	}
	return tok.plaintext(), infoOf(rec), nil
}

func (t *Tokens) generate() (token, error) {
	var b [idBytes + secretBytes]byte
	if _, err := io.ReadFull(t.rand, b[:]); err != nil {
		return token{}, fmt.Errorf("auth: issue token: %w", err)
	}
	return token{id: b32.EncodeToString(b[:idBytes]), secret: b32.EncodeToString(b[idBytes:])}, nil
}

// validate checks the request and returns the token's lifetime.
func (r *IssueRequest) validate() (time.Duration, error) {
	switch {
	case !r.Role.Valid():
		return 0, fmt.Errorf("%w: unknown role %q", ErrInvalid, store.Clip(string(r.Role)))
	case r.Tenant != "" && !envelope.ValidTenantID(r.Tenant):
		return 0, fmt.Errorf("%w: invalid tenant id %q", ErrInvalid, store.Clip(r.Tenant))
	case r.Tenant != "" && platformOnly(r.Role):
		return 0, fmt.Errorf("%w: %s tokens are platform-wide and take no tenant", ErrInvalid, r.Role)
	case !store.ValidTokenName(r.Name):
		return 0, fmt.Errorf("%w: name must be 1 to %d bytes of text without control characters", ErrInvalid, MaxNameLen)
	case r.TTL == 0:
		return DefaultTTL, nil
	case r.TTL < MinTTL || r.TTL > MaxTTL:
		return 0, fmt.Errorf("%w: lifetime must be %v to %v, or 0 for %v", ErrInvalid, MinTTL, MaxTTL, DefaultTTL)
	}
	return r.TTL, nil
}

// platformOnly roles act across tenants by design, so a tenant scope on
// them would be meaningless or misleading.
func platformOnly(r Role) bool {
	return r == RoleOwner || r == RoleSuperAdmin || r == RoleService
}

// Authenticate returns the principal of a bearer token. Anything wrong with
// the token (malformed, unknown, wrong secret, expired, revoked) is
// [ErrUnauthenticated]; a store failure is returned as such, so that an
// outage does not look like a bad token.
//
// The secret is checked before anything else about the token, with a
// constant-time comparison of hashes, and an unknown id costs the same hash
// and comparison: without the secret, a caller learns nothing about a
// token's state.
//
// A token that was admitted is cached by id with its hash for the cache TTL
// ([DefaultCacheTTL]), so that most requests do not read the store: a hit
// still hashes the secret and compares it in constant time, and checks the
// expiry. Revocation through t drops the entry at once; a revocation on
// another instance does when its broadcast calls [Tokens.Forget], and within
// the TTL otherwise.
func (t *Tokens) Authenticate(ctx context.Context, bearer string) (*Principal, error) {
	tok, err := parseToken(bearer)
	if err != nil {
		return nil, err
	}
	sum := tok.hash()
	if p, ok, err := t.authenticateCached(ctx, tok.id, sum); ok {
		return p, err
	}
	rec, err := t.store.GetToken(ctx, tok.id)
	if errors.Is(err, store.ErrNotFound) {
		t.equal(sum, dummyHash)
		return nil, errUnknownToken
	}
	if err != nil {
		return nil, fmt.Errorf("auth: authenticate: %w", err)
	}
	if !t.equal(sum, rec.Hash) {
		return nil, errUnknownToken
	}
	return t.admit(ctx, rec)
}

// admit checks the state of a token whose secret matched, and caches it.
func (t *Tokens) admit(ctx context.Context, rec *store.Token) (*Principal, error) {
	now := t.clock()
	if !rec.RevokedAt.IsZero() {
		return nil, fmt.Errorf("%w: token %s was revoked", ErrUnauthenticated, rec.ID)
	}
	if !now.Before(rec.ExpiresAt) {
		return nil, fmt.Errorf("%w: token %s expired", ErrUnauthenticated, rec.ID)
	}
	lastUsed := rec.LastUsedAt
	if lastUsed.IsZero() || now.Sub(lastUsed) >= LastUsedInterval {
		// Last-used is bookkeeping: a failed write must not refuse a
		// valid token, and the next request after the interval retries.
		_ = t.store.TouchToken(ctx, rec.ID, now)
		lastUsed = now
	}
	p := &Principal{TokenID: rec.ID, Role: Role(rec.Role), Tenant: rec.Tenant, Name: rec.Name}
	if t.cacheTTL > 0 {
		t.cache.put(rec.ID, newCached(rec, p, now.Add(t.cacheTTL), lastUsed), now)
	}
	return p, nil
}

// Revoke revokes the token with the given id at once; revoking a revoked
// token is not an error. by must be allowed to manage tokens of its role.
func (t *Tokens) Revoke(ctx context.Context, by *Principal, id string) error {
	if err := Allowed(by, TokenManage, ""); err != nil {
		return err
	}
	if !store.ValidTokenID(id) {
		return fmt.Errorf("%w: malformed token id %q", ErrInvalid, store.Clip(id))
	}
	rec, err := t.get(ctx, id)
	if err != nil {
		return err
	}
	if err := CanIssue(by, Role(rec.Role)); err != nil {
		return err
	}
	if err := t.store.RevokeToken(ctx, id, t.clock()); err != nil {
		return fmt.Errorf("auth: revoke token %s: %w", id, err)
	}
	t.Forget(id)
	if t.revoked != nil {
		t.revoked(id)
	}
	return nil
}

func (t *Tokens) get(ctx context.Context, id string) (*store.Token, error) {
	rec, err := t.store.GetToken(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, fmt.Errorf("%w: token %s", ErrNotFound, id)
	}
	if err != nil {
		return nil, fmt.Errorf("auth: token %s: %w", id, err)
	}
	return rec, nil
}

// List describes the tokens of tenant, or every token when tenant is "",
// oldest first. by must be allowed to manage tokens, and sees only the
// tokens it may revoke (see CanIssue): a super_admin, which may not touch
// owner tokens, does not learn their ids, names or last use either.
func (t *Tokens) List(ctx context.Context, by *Principal, tenant string) ([]*TokenInfo, error) {
	if err := Allowed(by, TokenManage, ""); err != nil {
		return nil, err
	}
	if tenant != "" && !envelope.ValidTenantID(tenant) {
		return nil, fmt.Errorf("%w: invalid tenant id %q", ErrInvalid, store.Clip(tenant))
	}
	recs, err := t.store.ListTokens(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("auth: list tokens: %w", err)
	}
	out := make([]*TokenInfo, 0, len(recs))
	for _, rec := range recs {
		if CanIssue(by, Role(rec.Role)) == nil {
			out = append(out, infoOf(rec))
		}
	}
	return out, nil
}

func infoOf(rec *store.Token) *TokenInfo {
	return &TokenInfo{ID: rec.ID, Role: Role(rec.Role), Tenant: rec.Tenant, Name: rec.Name,
		Created: rec.CreatedAt, Expires: rec.ExpiresAt, LastUsed: rec.LastUsedAt, Revoked: !rec.RevokedAt.IsZero()}
}
