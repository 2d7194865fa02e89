package sqlite

import (
	"context"
	"database/sql"
	"errors"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
)

type scanner interface{ Scan(...any) error }

const tokenCols = `id, hash, role, coalesce(tenant_id, ''), name, created_at, expires_at, last_used, revoked_at`

// CreateToken implements store.Tokens.
func (s *Store) CreateToken(ctx context.Context, t *store.Token) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return insertToken(ctx, s.w, store.CloneToken(t))
}

// CreateFirstToken implements store.Tokens. The single write connection
// and IMMEDIATE transactions serialize it with every other writer.
func (s *Store) CreateFirstToken(ctx context.Context, t *store.Token, now time.Time) error {
	if err := t.Validate(); err != nil {
		return err
	}
	return s.tx(ctx, func(tx *sql.Tx) error {
		var live bool
		err := tx.QueryRowContext(ctx, `SELECT EXISTS (SELECT 1 FROM api_tokens
			WHERE role = ? AND revoked_at IS NULL AND expires_at > ?)`, t.Role, micros(now)).Scan(&live)
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
	ExecContext(ctx context.Context, query string, args ...any) (sql.Result, error)
}

func insertToken(ctx context.Context, db execer, t *store.Token) error {
	_, err := db.ExecContext(ctx, `INSERT INTO api_tokens (id, hash, role, tenant_id, name, created_at, expires_at, last_used, revoked_at)
		VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)`, t.ID, t.Hash, t.Role, nullString(t.Tenant), t.Name,
		micros(t.CreatedAt), micros(t.ExpiresAt), nullMicros(t.LastUsedAt), nullMicros(t.RevokedAt))
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
	t, err := scanToken(s.r.QueryRowContext(ctx, `SELECT `+tokenCols+` FROM api_tokens WHERE id = ?`, id))
	if errors.Is(err, sql.ErrNoRows) {
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
	rows, err := s.r.QueryContext(ctx, `SELECT `+tokenCols+` FROM api_tokens
		WHERE ? = '' OR tenant_id = ? ORDER BY created_at, id`, tenant, tenant)
	if err != nil {
		return nil, dbErr("list tokens", err)
	}
	defer rows.Close()
	var out []*store.Token
	for rows.Next() {
		t, err := scanToken(rows)
		if err != nil {
			return nil, dbErr("list tokens", err)
		}
		out = append(out, t)
	}
	return out, wrapRowsErr("list tokens", rows.Err())
}

// RevokeToken implements store.Tokens.
func (s *Store) RevokeToken(ctx context.Context, id string, at time.Time) error {
	return s.updateToken(ctx, "revoke token", id, at,
		`UPDATE api_tokens SET revoked_at = coalesce(revoked_at, ?) WHERE id = ?`)
}

// TouchToken implements store.Tokens.
func (s *Store) TouchToken(ctx context.Context, id string, at time.Time) error {
	return s.updateToken(ctx, "touch token", id, at,
		`UPDATE api_tokens SET last_used = max(coalesce(last_used, 0), ?) WHERE id = ?`)
}

// updateToken runs query with (at, id) and reports a missing token.
func (s *Store) updateToken(ctx context.Context, op, id string, at time.Time, query string) error {
	if err := store.ValidateTokenTime(id, at); err != nil {
		return err
	}
	res, err := s.w.ExecContext(ctx, query, micros(store.Trunc(at)), id)
	if err != nil {
		return dbErr(op, err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return store.NotFound("token %s", id)
	}
	return nil
}

func scanToken(row scanner) (*store.Token, error) {
	var t store.Token
	var created, expires int64
	var used, revoked sql.NullInt64
	err := row.Scan(&t.ID, &t.Hash, &t.Role, &t.Tenant, &t.Name, &created, &expires, &used, &revoked)
	if err != nil {
		return nil, err
	}
	t.CreatedAt, t.ExpiresAt = fromMicros(created), fromMicros(expires)
	t.LastUsedAt, t.RevokedAt = fromNullMicros(used), fromNullMicros(revoked)
	return &t, nil
}

func nullMicros(t time.Time) sql.NullInt64 {
	return sql.NullInt64{Int64: micros(t), Valid: !t.IsZero()}
}

func fromNullMicros(n sql.NullInt64) time.Time {
	if !n.Valid {
		return time.Time{}
	}
	return fromMicros(n.Int64)
}

func nullString(s string) sql.NullString { return sql.NullString{String: s, Valid: s != ""} }

func wrapRowsErr(op string, err error) error {
	if err != nil && !errors.Is(err, sql.ErrNoRows) {
		return dbErr(op, err)
	}
	return nil
}
