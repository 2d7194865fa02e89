package sqlstore

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
)

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
	return s.insertToken(ctx, s.c.Write, store.CloneToken(t))
}

// CreateFirstToken implements store.Tokens.
func (s *Store) CreateFirstToken(ctx context.Context, t *store.Token, now time.Time) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx Tx) error {
		if err := s.lock(ctx, tx, "create first token", firstTokenLock); err != nil {
			return err
		}
		var live bool
		err := tx.QueryRow(ctx, `SELECT EXISTS (SELECT 1 FROM api_tokens
			WHERE role = $1 AND revoked_at IS NULL AND expires_at > $2)`, t.Role, s.d.Time(now)).Scan(&live)
		if err != nil {
			return s.dbErr("create first token", err)
		}
		if live {
			return store.Conflict("a live %s token already exists", t.Role)
		}
		return s.insertToken(ctx, tx, store.CloneToken(t))
	})
}

func (s *Store) insertToken(ctx context.Context, q Querier, t *store.Token) error {
	_, err := q.Exec(ctx, `INSERT INTO api_tokens (id, hash, role, tenant_id, name, created_at, expires_at, last_used, revoked_at)
		VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)`, t.ID, t.Hash, t.Role, nullIfEmpty(t.Tenant), t.Name,
		s.d.Time(t.CreatedAt), s.d.Time(t.ExpiresAt), s.nullTime(t.LastUsedAt), s.nullTime(t.RevokedAt))
	switch {
	case s.d.Unique(err, ""):
		return store.Conflict("token %s already exists", t.ID)
	case s.d.ForeignKey(err):
		return store.NotFound("tenant %s", t.Tenant)
	case err != nil:
		return s.dbErr("create token", err)
	}
	return nil
}

// GetToken implements store.Tokens.
func (s *Store) GetToken(ctx context.Context, id string) (*store.Token, error) {
	if !store.ValidTokenID(id) {
		return nil, store.Invalid("invalid token id %q", store.Clip(id))
	}
	t, err := scanToken(s.c.Read.QueryRow(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = $1`, id))
	if errors.Is(err, sql.ErrNoRows) {
		return nil, store.NotFound("token %s", id)
	}
	if err != nil {
		return nil, s.dbErr("get token", err)
	}
	return t, nil
}

// ListTokens implements store.Tokens.
func (s *Store) ListTokens(ctx context.Context, tenant string) ([]*store.Token, error) {
	if tenant != "" && !envelope.ValidTenantID(tenant) {
		return nil, store.BadTenantID(tenant)
	}
	rows, err := s.c.Read.Query(ctx, `SELECT `+tokenCols+` FROM api_tokens
		WHERE $1 = '' OR tenant_id = $1 ORDER BY created_at, id`, tenant)
	return collect(s, "list tokens", rows, err, scanToken)
}

// RevokeToken implements store.Tokens.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.updateToken(ctx, "revoke token", id, at,
		`UPDATE api_tokens SET revoked_at = coalesce(revoked_at, $1) WHERE id = $2`)
}

// TouchToken implements store.Tokens. The CASE keeps last_used from going
// back in time; neither database's two-argument maximum works in the other.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	return s.updateToken(ctx, "touch token", id, at,
		`UPDATE api_tokens SET last_used = CASE WHEN last_used IS NULL OR last_used < $1 THEN $1 ELSE last_used END
		WHERE id = $2`)
}

// updateToken runs query with (at, id) and reports a missing token.
func (s *Store) updateToken(ctx context.Context, op, id string, at time.Time, query string) error {
	if err := store.ValidateTokenTime(id, at); err != nil {
		return err
	}
	n, err := s.c.Write.Exec(ctx, query, s.d.Time(store.Trunc(at)), id)
	return s.affected(n, err, op, func() error { return store.NotFound("token %s", id) })
}

func scanToken(row Row) (*store.Token, error) {
	var t store.Token
	err := row.Scan(&t.ID, &t.Hash, &t.Role, &t.Tenant, &t.Name, timeAt(&t.CreatedAt), timeAt(&t.ExpiresAt),
		timeAt(&t.LastUsedAt), timeAt(&t.RevokedAt))
	if err != nil {
		return nil, err
	}
	return &t, nil
}
