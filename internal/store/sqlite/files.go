package sqlite

import (
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
)

// fileMode is the mode of the database file and of the -wal and -shm files
// beside it: they hold the tenants' wrapped keys, token hashes and the
// audit log, which are no one else's to read.
const fileMode = 0o600

// createPrivate creates the database file with fileMode before SQLite opens
// it: SQLite would create it 0644 less the umask, and it gives the -wal and
// -shm files it creates the database file's mode. An existing database
// whose files the group or others may use is tightened, with a warning
// naming each file, so that a database written by an older release keeps
// opening; a file that cannot be tightened is only warned about.
func createPrivate(path string, log *slog.Logger) error {
	warnOpenDir(filepath.Dir(path), log)
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, fileMode)
	if err == nil {
		// The umask may have taken bits away; set the mode itself.
		return errors.Join(f.Chmod(fileMode), f.Close())
	}
	if !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("sqlite: create %s: %w", path, err)
	}
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		tighten(p, log)
	}
	return nil
}

// tighten sets fileMode on path if the group or others may use it.
func tighten(path string, log *slog.Logger) {
	fi, err := os.Stat(path)
	if err != nil || !fi.Mode().IsRegular() || runtime.GOOS == "windows" {
		return // missing -wal and -shm files are created by SQLite from the database's mode
	}
	perm := fi.Mode().Perm()
	if perm&0o077 == 0 {
		return
	}
	if err := os.Chmod(path, fileMode); err != nil {
		log.Warn("sqlite: database file is readable or writable by group or others and could not be tightened",
			"path", path, "mode", fmt.Sprintf("%04o", perm), "err", err)
		return
	}
	log.Warn("sqlite: database file was readable or writable by group or others; its mode is now 0600",
		"path", path, "was", fmt.Sprintf("%04o", perm))
}

// warnOpenDir warns when others may write the database's directory: they
// could replace or remove the database and its -wal file. The directory is
// the operator's, so it is not changed.
func warnOpenDir(dir string, log *slog.Logger) {
	fi, err := os.Stat(dir)
	if err != nil || runtime.GOOS == "windows" {
		return
	}
	if fi.Mode().Perm()&0o022 != 0 {
		log.Warn("sqlite: the database's directory may be written by group or others; make it 0700",
			"path", dir, "mode", fmt.Sprintf("%04o", fi.Mode().Perm()))
	}
}
