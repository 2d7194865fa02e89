package sqlstore

import (
	"context"
	"fmt"
	"io/fs"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/migrate"
)

// migrationLock is the advisory lock key that serializes migrations
// ("byokmig" in ASCII), so instances starting at once migrate exactly once.
const migrationLock = 0x62796f6b6d6967

// Migrate applies the migrations under fsys's "migrations" folder to s's
// database in one transaction, recording each in schema_migrations, which
// createTable creates if missing. It refuses a database migrated by a newer
// release with store.ErrSchemaTooNew. It is a function, not a method, so
// that the backends' stores do not export it.
func Migrate(ctx context.Context, s *Store, fsys fs.FS, createTable string) error {
	ms, err := migrate.Load(fsys, "migrations")
	if err != nil {
		return err
	}
	return s.tx(ctx, func(tx Tx) error {
		if err := s.lock(ctx, tx, "migrate", migrationLock); err != nil {
			return err
		}
		if _, err := tx.Exec(ctx, createTable); err != nil {
			return s.dbErr("migrate", err)
		}
		var current int
		if err := tx.QueryRow(ctx, `SELECT coalesce(max(version), 0) FROM schema_migrations`).Scan(&current); err != nil {
			return s.dbErr("migrate", err)
		}
		pending, err := migrate.Pending(ms, current)
		if err != nil {
			return err
		}
		for _, m := range pending {
			if err := s.apply(ctx, tx, m); err != nil {
				return err
			}
		}
		return nil
	})
}

func (s *Store) apply(ctx context.Context, tx Tx, m migrate.Migration) error {
	if _, err := tx.Exec(ctx, m.SQL); err != nil {
		return fmt.Errorf("%s: migration %s: %w", s.d.Name, m.Name, err)
	}
	_, err := tx.Exec(ctx, `INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)`,
		m.Version, m.Name, s.d.Time(store.Now()))
	if err != nil {
		return fmt.Errorf("%s: migration %s: %w", s.d.Name, m.Name, err)
	}
	return nil
}
