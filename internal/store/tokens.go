package store

import (
	"context"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	"github.com/byok-dev/byok/envelope"
)

// API tokens are package auth's records: the store keeps what a token is
// (role, scope, times) and a hash of its secret, never the secret itself.
// Roles and token formats are auth's to judge; the store only bounds them.

// Tokens persists API tokens. [Store] includes it.
type Tokens interface {
	// CreateToken stores a new token. A duplicate ID is ErrConflict; an
	// unknown tenant ErrNotFound.
	CreateToken(ctx context.Context, t *Token) error
	// CreateFirstToken stores t unless a live token (neither revoked nor
	// expired at now) with t's role exists, in which case it returns
	// ErrConflict and writes nothing. The check and the insert are atomic
	// across instances.
	CreateFirstToken(ctx context.Context, t *Token, now time.Time) error
	// GetToken returns one token, or ErrNotFound.
	GetToken(ctx context.Context, id string) (*Token, error)
	// ListTokens returns the tenant's tokens, or every token when tenant is
	// "", ordered by creation time and ID.
	ListTokens(ctx context.Context, tenant string) ([]*Token, error)
	// RevokeToken marks a token revoked at at, or returns ErrNotFound.
	// Revoking a revoked token keeps the first time.
	RevokeToken(ctx context.Context, id string, at time.Time) error
	// TouchToken records a use of the token at at; it never moves LastUsed
	// back. ErrNotFound if the token does not exist.
	TouchToken(ctx context.Context, id string, at time.Time) error
}

// Token is a stored API token.
type Token struct {
	// ID is public: it names the token in lists, logs and audit records.
	ID string
	// Hash is the 32-byte hash of the token's secret.
	Hash []byte
	Role string
	// Tenant is the one tenant the token serves; "" means platform-wide.
	Tenant    string
	Name      string
	CreatedAt time.Time
	// ExpiresAt is after CreatedAt: every token expires.
	ExpiresAt time.Time
	// LastUsedAt and RevokedAt are zero until the token is used or revoked.
	LastUsedAt time.Time
	RevokedAt  time.Time
}

// Limits of stored tokens.
const (
	TokenHashLen    = 32
	MaxTokenIDLen   = 64
	MaxRoleLen      = 32
	MaxTokenNameLen = 128
	maxTokenYear    = 9999
)

// Live reports whether the token is neither revoked nor expired at now.
func (t *Token) Live(now time.Time) bool {
	return t.RevokedAt.IsZero() && now.Before(t.ExpiresAt)
}

// ValidTokenID reports whether id can name a token: 1 to MaxTokenIDLen
// characters of a-z 0-9.
func ValidTokenID(id string) bool {
	if id == "" || len(id) > MaxTokenIDLen {
		return false
	}
	return strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789") == ""
}

// ValidTokenName reports whether s can name a token: 1 to MaxTokenNameLen
// bytes of UTF-8 without control characters.
func ValidTokenName(s string) bool {
	if s == "" || len(s) > MaxTokenNameLen || !utf8.ValidString(s) {
		return false
	}
	return !strings.ContainsFunc(s, unicode.IsControl)
}

// Validate checks a token before it is stored.
func (t *Token) Validate() error {
	switch {
	case !ValidTokenID(t.ID):
		return Invalid("token id %q must be 1 to %d characters of a-z 0-9", Clip(t.ID), MaxTokenIDLen)
	case len(t.Hash) != TokenHashLen:
		return Invalid("token %s: hash must be %d bytes", t.ID, TokenHashLen)
	case t.Role == "" || len(t.Role) > MaxRoleLen || strings.Trim(t.Role, "abcdefghijklmnopqrstuvwxyz_") != "":
		return Invalid("token %s: role must be 1 to %d characters of a-z _", t.ID, MaxRoleLen)
	case t.Tenant != "" && !envelope.ValidTenantID(t.Tenant):
		return BadTenantID(t.Tenant)
	case !ValidTokenName(t.Name):
		return Invalid("token %s: name must be 1 to %d bytes of UTF-8 without control characters", t.ID, MaxTokenNameLen)
	case !tokenTime(t.CreatedAt) || !tokenTime(t.ExpiresAt) || !t.ExpiresAt.After(t.CreatedAt):
		return Invalid("token %s: creation and a later expiry time needed", t.ID)
	case !optionalTime(t.LastUsedAt) || !optionalTime(t.RevokedAt):
		return Invalid("token %s: last-used or revocation time out of range", t.ID)
	}
	return nil
}

func tokenTime(t time.Time) bool {
	return !t.IsZero() && t.Year() >= 1970 && t.Year() <= maxTokenYear
}

func optionalTime(t time.Time) bool { return t.IsZero() || tokenTime(t) }

// ValidateTokenTime checks a revocation or use time.
func ValidateTokenTime(id string, at time.Time) error {
	if !ValidTokenID(id) {
		return Invalid("invalid token id %q", Clip(id))
	}
	if !tokenTime(at) {
		return Invalid("token %s: time missing or out of range", id)
	}
	return nil
}

// CloneToken returns a deep copy of t with its times as stores keep them.
func CloneToken(t *Token) *Token {
	c := *t
	c.Hash = append([]byte(nil), t.Hash...)
	c.CreatedAt, c.ExpiresAt = Trunc(t.CreatedAt), Trunc(t.ExpiresAt)
	c.LastUsedAt, c.RevokedAt = truncOrZero(t.LastUsedAt), truncOrZero(t.RevokedAt)
	return &c
}

func truncOrZero(t time.Time) time.Time {
	if t.IsZero() {
		return t
	}
	return Trunc(t)
}
