package postgres

import (
	"context"
	"errors"
	"time"

	"github.com/jackc/pgx/v5"
	"github.com/jackc/pgx/v5/pgconn"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
)

type scanner interface{ Scan(...any) error }

const tokenCols = `id, hash, role, coalesce(tenant_id, ''), name, created_at, expires_at, last_used, revoked_at`

// firstTokenLock is the advisory lock key that serializes CreateFirstToken
// across instances ("byoktok" in ASCII): under READ COMMITTED, two
// transactions could otherwise both see no live token and both insert.
const firstTokenLock = 0x62796f6b746f6b

// CreateToken implements store.Tokens.
func (s *Store) CreateToken(ctx context.Context, t *store.Token) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return insertToken(ctx, s.pool, store.CloneToken(t))
}

// CreateFirstToken implements store.Tokens.
func (s *Store) CreateFirstToken(ctx context.Context, t *store.Token, now time.Time) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx pgx.Tx) error {
		if _, err := tx.Exec(ctx, `SELECT pg_advisory_xact_lock($1)`, int64(firstTokenLock)); err != nil {
			return dbErr("create first token", err)
		}
		var live bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_tokens
			WHERE role = $1 AND revoked_at IS NULL AND expires_at > $2)`, t.Role, now).Scan(&live)
		if err != nil {
			return dbErr("create first token", err)
		}
		if live {
			return store.Conflict("a live %s token already exists", t.Role)
		}
		return insertToken(ctx, tx, store.CloneToken(t))
	})
}

type execer interface {
	Exec(ctx context.Context, sql string, args ...any) (pgconn.CommandTag, error)
}

func insertToken(ctx context.Context, db execer, t *store.Token) error {
	_, err := db.Exec(ctx, `INSERT INTO api_tokens (id, hash, role, tenant_id, name, created_at, expires_at, last_used, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, t.ID, t.Hash, t.Role, nullIfEmpty(t.Tenant), t.Name,
		t.CreatedAt, t.ExpiresAt, nullTime(t.LastUsedAt), nullTime(t.RevokedAt))
	switch {
	case isUnique(err):
		return store.Conflict("token %s already exists", t.ID)
	case isForeignKey(err):
		return store.NotFound("tenant %s", t.Tenant)
	case err != nil:
		return dbErr("create token", err)
	}
	return nil
}

// GetToken implements store.Tokens.
func (s *Store) GetToken(ctx context.Context, id string) (*store.Token, error) {
	if !store.ValidTokenID(id) {
		return nil, store.Invalid("invalid token id %q", store.Clip(id))
	}
	t, err := scanToken(s.pool.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = $1`, id))
	if errors.Is(err, pgx.ErrNoRows) {
		return nil, store.NotFound("token %s", id)
	}
	if err != nil {
		return nil, dbErr("get token", err)
	}
	return t, nil
}

// ListTokens implements store.Tokens.
func (s *Store) ListTokens(ctx context.Context, tenant string) ([]*store.Token, error) {
	if tenant != "" && !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	rows, err := s.pool.Query(ctx, `SELECT `+tokenCols+` FROM api_tokens
		WHERE $1 = '' OR tenant_id = $1 ORDER BY created_at, id`, tenant)
	if err != nil {
		return nil, dbErr("list tokens", err)
	}
	out, err := pgx.CollectRows(rows, func(row pgx.CollectableRow) (*store.Token, error) { return scanToken(row) })
	if err != nil {
		return nil, dbErr("list tokens", err)
	}
	return out, nil
}

// RevokeToken implements store.Tokens.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.updateToken(ctx, "revoke token", id, at,
		`UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`)
}

// TouchToken implements store.Tokens.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	return s.updateToken(ctx, "touch token", id, at,
		`UPDATE api_tokens SET last_used = greatest(last_used, $1) WHERE id = $2`)
}

// updateToken runs query with (at, id) and reports a missing token.
func (s *Store) updateToken(ctx context.Context, op, id string, at time.Time, query string) error {
	if err := store.ValidateTokenTime(id, at); err != nil {
		return err
	}
	tag, err := s.pool.Exec(ctx, query, store.Trunc(at), id)
	if err != nil {
		return dbErr(op, err)
	}
	if tag.RowsAffected() == 0 {
		return store.NotFound("token %s", id)
	}
	return nil
}

func scanToken(row scanner) (*store.Token, error) {
	var t store.Token
	var used, revoked *time.Time
	err := row.Scan(&t.ID, &t.Hash, &t.Role, &t.Tenant, &t.Name, &t.CreatedAt, &t.ExpiresAt, &used, &revoked)
	if err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = t.CreatedAt.UTC(), t.ExpiresAt.UTC()
	t.LastUsedAt, t.RevokedAt = utcOrZero(used), utcOrZero(revoked)
	return &t, nil
}

func nullTime(t time.Time) *time.Time {
	if t.IsZero() {
		return nil
	}
	return &t
}

func utcOrZero(t *time.Time) time.Time {
	if t == nil {
		return time.Time{}
	}
	return t.UTC()
}

func nullIfEmpty(s string) *string {
	if s == "" {
		return nil
	}
	return &s
}
