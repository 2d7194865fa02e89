package main

import (
	"context"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// privateModes walks dir and reports every entry whose mode is not 0700
// for a folder or 0600 for a file.
func privateModes(t *testing.T, dir string) []string {
	t.Helper()
	var bad []string
	err := filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		fi, err := os.Lstat(path)
		if err != nil {
			return err
		}
		want := os.FileMode(0o600)
		if d.IsDir() {
			want = 0o700
		}
		if fi.Mode().Perm() != want {
			bad = append(bad, path+" "+fi.Mode().String())
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return bad
}

// byok dev keeps everything in its data folder private to its owner under
// a umask that leaves new files readable by everyone, and tightens a folder
// that an older release (or a user) left open, naming what it tightened.
func TestDevFilesPrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	dir := filepath.Join(t.TempDir(), "data")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	// An older release's platform.yaml, readable by everyone, and a file of
	// the user's, which is not byok's to change.
	loose := filepath.Join(dir, "platform.yaml")
	if err := os.WriteFile(loose, []byte(devPlatformConfig), 0o644); err != nil {
		t.Fatal(err)
	}
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("the user's"), 0o644); err != nil {
		t.Fatal(err)
	}
	r := startDev(t, dir)
	defer r.stop()
	c := r.client(t)
	if _, err := c.Encrypt(context.Background(), devTenant, []byte("hello"), nil); err != nil {
		t.Fatalf("Encrypt() err = %v", err)
	}
	for _, name := range []string{"byok.db", "byok.db-wal", "byok.db-shm", "root.key", devTokenFile, "platform.yaml", "emulator-state.json"} {
		if _, err := os.Stat(filepath.Join(dir, name)); err != nil {
			t.Errorf("byok dev wrote no %s: %v", name, err)
		}
	}
	if bad := privateModes(t, dir); len(bad) != 1 || !strings.HasPrefix(bad[0], notes+" ") {
		t.Errorf("data folder entries not 0600 files in 0700 folders (want only the user's notes.txt):\n%s", strings.Join(bad, "\n"))
	}
	for _, p := range []string{dir, loose} {
		if !strings.Contains(r.errs.String(), `"path":"`+p+`"`) {
			t.Errorf("no warning names %s; stderr:\n%s", p, r.errs)
		}
	}
}

// byok serve creates its SQLite database and the -wal and -shm files 0600
// under a umask that would leave them readable by everyone; a database an
// older release left 0644 is tightened at start with a warning naming it.
func TestServeDatabasePrivate(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	for _, existing := range []bool{false, true} {
		dir := t.TempDir()
		db := filepath.Join(dir, "byok.db")
		if existing {
			if err := os.WriteFile(db, nil, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		addr := freeAddr(t)
		cfg := writeServeFiles(t, dir, addr, db, "http://127.0.0.1:1")
		var errs lockedBuffer
		c := &cli{stdin: strings.NewReader(""), stdout: &lockedBuffer{}, stderr: &errs}
		_, stop := startServe(t, c, cfg, addr, &errs)
		for _, p := range []string{db, db + "-wal", db + "-shm"} {
			fi, err := os.Stat(p)
			if err != nil {
				t.Fatal(err)
			}
			if fi.Mode().Perm() != 0o600 {
				t.Errorf("existing=%v: %s mode %v, want 0600", existing, filepath.Base(p), fi.Mode())
			}
		}
		warned := strings.Contains(errs.String(), `"path":"`+db+`"`)
		if warned != existing {
			t.Errorf("existing=%v: a warning names the database: %v; logs:\n%s", existing, warned, errs.String())
		}
		stop()
	}
}
