package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"github.com/byok-dev/byok/internal/shred"
)

// shredConfig is byok.yaml's shred section: where the tenants' shred keys
// live, outside the database (docs/configuration.md).
type shredConfig struct {
	// Keystore is the keystore directory; default, on SQLite, shred-keys
	// beside the database file. On PostgreSQL every instance must name the
	// same directory on a shared file system.
	Keystore string `yaml:"keystore"`
}

const shredHint = "every instance must use the directory the database was written with; restore it from its backup if it was lost"

func (c *serveConfig) checkShred() error {
	if c.Database.Postgres != "" && c.RootKeyFile != "" && c.Shred.Keystore == "" {
		return configErr("shred.keystore", "required with database.postgres and a root_key_file",
			"set shred.keystore to a directory on a file system every instance shares, backed up apart from the database")
	}
	return nil
}

// shredDir is the keystore directory serve uses.
func (c *serveConfig) shredDir() string {
	if c.Shred.Keystore != "" || c.Database.SQLite == "" {
		return c.Shred.Keystore
	}
	return filepath.Join(filepath.Dir(c.Database.SQLite), "shred-keys")
}

// openShred puts the store's wrappings under the shred layer: it opens the
// keystore, sets the store's sealer and seals the wrappings written
// before, returning the keystore and how many it sealed. Without a root key
// there is no layer. A database with sealed wrappings and no keystore (or
// an empty one) is refused: with the wrong directory every tenant's data
// would be unreadable.
func openShred(ctx context.Context, cfg *serveConfig, st serveStore, root *rootKey) (*shred.Keystore, int, error) {
	sealed, err := st.HasSealed(ctx)
	if err != nil {
		return nil, 0, err
	}
	if root == nil {
		if sealed {
			return nil, 0, withHint(exitError, errors.New("shred_key_missing: the database's wrappings are sealed under shred keys, and byok.yaml names no root_key_file to open them"),
				"set root_key_file to the platform root key the database was written with")
		}
		return nil, 0, nil
	}
	dir := cfg.shredDir()
	if dir == "" {
		return nil, 0, configErr("shred.keystore", "required with database.postgres and a root_key_file",
			"set shred.keystore to a directory on a file system every instance shares, backed up apart from the database")
	}
	if sealed {
		if err := keystoreInUse(dir); err != nil {
			return nil, 0, err
		}
	}
	ks, err := shred.Open(shred.Config{Dir: dir, Root: root.provider, RootRef: root.provider.KeyRef()})
	if err != nil {
		return nil, 0, withHint(exitError, err, "set shred.keystore in byok.yaml to a directory the service may create and write")
	}
	st.SetSealer(shred.NewLayer(ks))
	n, err := st.SealLegacy(ctx)
	if err != nil {
		return nil, n, fmt.Errorf("seal the wrappings written before the shred layer (%d sealed; starting again resumes): %w", n, err)
	}
	return ks, n, nil
}

// keystoreInUse refuses a keystore directory that is missing or holds no
// key, for a database whose wrappings are sealed.
func keystoreInUse(dir string) error {
	_, err := os.Stat(dir)
	if errors.Is(err, fs.ErrNotExist) {
		return withHint(exitError, fmt.Errorf("shred_key_missing: the shred keystore %s does not exist, and the database's wrappings are sealed under its keys", dir), shredHint)
	}
	if err != nil {
		return fmt.Errorf("shred keystore: %w", err)
	}
	has, err := shred.HasKeys(dir)
	if err != nil {
		return err
	}
	if !has {
		return withHint(exitError, fmt.Errorf("shred_key_missing: the shred keystore %s is empty, and the database's wrappings are sealed under its keys", dir), shredHint)
	}
	return nil
}
