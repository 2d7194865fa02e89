// Package migrate reads a store's embedded, versioned SQL migrations and
// decides which of them a database still needs.
//
// # Files
//
// Migrations are files named NNNN_description.sql, numbered from 0001 with
// no gaps; each is applied once, in order, and recorded in the database's
// schema_migrations table by the store that runs it. A migration is never
// edited once released: a change is a new file.
//
// # Newer databases
//
// A database whose highest recorded version is above the highest file this
// release carries was migrated by a newer release; [Pending] refuses it with
// [store.ErrSchemaTooNew] rather than let an old release misread it.
package migrate

import (
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/byok-dev/byok/internal/store"
)

// Migration is one versioned schema change.
type Migration struct {
	Version int
	Name    string // the file name
	SQL     string
}

// Load returns the migrations in dir of fsys, in order.
func Load(fsys fs.FS, dir string) ([]Migration, error) {
	entries, err := fs.ReadDir(fsys, dir)
	if err != nil {
		return nil, fmt.Errorf("migrate: %w", err)
	}
	var ms []Migration
	for _, e := range entries {
		m, err := load(fsys, dir, e.Name())
		if err != nil {
			return nil, err
		}
		ms = append(ms, m)
	}
	slices.SortFunc(ms, func(a, b Migration) int { return a.Version - b.Version })
	for i, m := range ms {
		if m.Version != i+1 {
			return nil, fmt.Errorf("migrate: migration %s: versions must run from 1 without gaps", m.Name)
		}
	}
	return ms, nil
}

func load(fsys fs.FS, dir, name string) (Migration, error) {
	num, _, ok := strings.Cut(name, "_")
	v, err := strconv.Atoi(num)
	if !ok || err != nil || len(num) != 4 || !strings.HasSuffix(name, ".sql") {
		return Migration{}, fmt.Errorf("migrate: %s is not named NNNN_description.sql", name)
	}
	b, err := fs.ReadFile(fsys, path.Join(dir, name))
	if err != nil {
		return Migration{}, fmt.Errorf("migrate: %w", err)
	}
	return Migration{Version: v, Name: name, SQL: string(b)}, nil
}

// Pending returns the migrations after current, the highest version the
// database has applied (0 for a new database).
func Pending(ms []Migration, current int) ([]Migration, error) {
	latest := len(ms)
	if current > latest {
		return nil, fmt.Errorf("%w: the database is at schema version %d, this release knows up to %d; run a newer byok release",
			store.ErrSchemaTooNew, current, latest)
	}
	if current < 0 {
		return nil, errors.New("migrate: negative schema version recorded")
	}
	return ms[current:], nil
}
