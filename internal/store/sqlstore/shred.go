package sqlstore

import (
	"context"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/internal/store"
)

// Sealer seals wrappings' ciphertexts under a per-tenant key kept outside
// the database (internal/shred), so that destroying that key makes every
// copy of the rows useless. Open fails with an error matching
// store.ErrShredded once the tenant's key is destroyed.
type Sealer interface {
	Seal(ctx context.Context, tenant string, version uint32, blob []byte) ([]byte, error)
	Open(ctx context.Context, tenant string, version uint32, sealed []byte) ([]byte, error)
}

// Shred layers of a wrappings row (its shred_layer column).
const (
	layerNone = 0 // the ciphertext as the provider returned it
	layerV1   = 1 // sealed by the Sealer
)

// SetSealer makes the store seal every wrapping it writes with x and open
// sealed ones with it. Call it before the store is used.
func (s *Store) SetSealer(x Sealer) { s.sealer = x }

func (s *Store) sealLayer(ctx context.Context, tenant string, version uint32, blob []byte) ([]byte, int, error) {
	if s.sealer == nil {
		return blob, layerNone, nil
	}
	sealed, err := s.sealer.Seal(ctx, tenant, version, blob)
	if err != nil {
		return nil, 0, fmt.Errorf("%s: seal wrapping of tenant %s version %d: %w", s.d.Name, tenant, version, err)
	}
	return sealed, layerV1, nil
}

func (s *Store) openLayer(ctx context.Context, tenant string, version uint32, layer int, b []byte) ([]byte, error) {
	switch {
	case layer == layerNone:
		return b, nil
	case layer != layerV1:
		return nil, store.Corrupt(fmt.Errorf("tenant %s version %d: unknown shred layer %d", tenant, version, layer))
	case s.sealer == nil:
		return nil, store.ShredKeyMissing("tenant %s version %d is sealed under a shred key, and no shred keystore is configured", tenant, version)
	}
	return s.sealer.Open(ctx, tenant, version, b)
}

// HasSealed reports whether any wrapping is sealed under a shred key: such
// a database is unreadable without the keystore it was written with.
func (s *Store) HasSealed(ctx context.Context) (bool, error) {
	var n int
	err := s.c.Read.QueryRow(ctx, `SELECT count(*) FROM (SELECT 1 FROM wrappings WHERE shred_layer <> 0 LIMIT 1) AS x`).Scan(&n)
	if err != nil {
		return false, s.dbErr("count sealed wrappings", err)
	}
	return n > 0, nil
}

// legacyBatch is how many rows SealLegacy converts per transaction.
const legacyBatch = 100

type legacyRow struct {
	tenant   string
	version  uint32
	position int
	blob     []byte
}

// SealLegacy seals every wrapping written before the shred layer (or by a
// store without a Sealer), in transactions of legacyBatch rows, and returns
// how many it sealed. It needs no KMS call: it seals the stored ciphertext
// as it is. An interrupted run resumes where it stopped; rows of a tenant
// whose shred key is destroyed (an offboarding under way) are left for the
// offboarding to delete.
func (s *Store) SealLegacy(ctx context.Context) (int, error) {
	if s.sealer == nil {
		return 0, errors.New("sqlstore: seal legacy wrappings: no sealer is set")
	}
	total, after := 0, legacyRow{}
	for {
		rows, err := s.legacyRows(ctx, after)
		if err != nil || len(rows) == 0 {
			return total, err
		}
		n, err := s.sealRows(ctx, rows)
		total += n
		if err != nil {
			return total, err
		}
		after = rows[len(rows)-1]
	}
}

func (s *Store) legacyRows(ctx context.Context, after legacyRow) ([]legacyRow, error) {
	rows, err := s.c.Read.Query(ctx, `SELECT tenant_id, version, position, ciphertext FROM wrappings
		WHERE shred_layer = 0 AND (tenant_id, version, position) > ($1, $2, $3)
		ORDER BY tenant_id, version, position LIMIT `+fmt.Sprint(legacyBatch), after.tenant, after.version, after.position)
	return collect(s, "read legacy wrappings", rows, err, func(row Row) (legacyRow, error) {
		var r legacyRow
		err := row.Scan(&r.tenant, &r.version, &r.position, &r.blob)
		return r, err
	})
}

func (s *Store) sealRows(ctx context.Context, rows []legacyRow) (int, error) {
	var n int64
	err := s.tx(ctx, func(tx Tx) error {
		n = 0
		for _, r := range rows {
			sealed, err := s.sealer.Seal(ctx, r.tenant, r.version, r.blob)
			if errors.Is(err, store.ErrShredded) {
				continue
			}
			if err != nil {
				return fmt.Errorf("%s: seal wrapping of tenant %s version %d: %w", s.d.Name, r.tenant, r.version, err)
			}
			// The old bytes in the condition skip a row rewritten since it
			// was read.
			m, err := tx.Exec(ctx, `UPDATE wrappings SET ciphertext = $4, shred_layer = 1
				WHERE tenant_id = $1 AND version = $2 AND position = $3 AND shred_layer = 0 AND ciphertext = $5`,
				r.tenant, r.version, r.position, sealed, r.blob)
			if err != nil {
				return s.dbErr("seal legacy wrappings", err)
			}
			n += m
		}
		return nil
	})
	return int(n), err
}

// ReclaimDeleted removes the bytes of deleted rows from files beside the
// database where the dialect has such files: SQLite's WAL is checkpointed
// into the database (whose secure_delete has zeroed them) and truncated.
func (s *Store) ReclaimDeleted(ctx context.Context) error {
	if s.d.Reclaim == "" {
		return nil
	}
	var busy, log, done int64
	if err := s.c.Write.QueryRow(ctx, s.d.Reclaim).Scan(&busy, &log, &done); err != nil {
		return s.dbErr("reclaim deleted rows", err)
	}
	if busy != 0 {
		return s.dbErr("reclaim deleted rows", errors.New("the WAL checkpoint could not finish: readers held it; try again"))
	}
	return nil
}
