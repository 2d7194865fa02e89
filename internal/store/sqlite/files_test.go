package sqlite_test

import (
	"bytes"
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/sqlite"
	"github.com/byok-dev/byok/internal/store/storetest"
)

// withUmask runs the test under a umask that would leave new files
// readable by everyone, as a shell's default does.
func withUmask(t *testing.T, mask int) {
	old := syscall.Umask(mask)
	t.Cleanup(func() { syscall.Umask(old) })
}

func wantMode(t *testing.T, path string, want os.FileMode) {
	t.Helper()
	fi, err := os.Stat(path)
	if err != nil {
		t.Fatalf("stat %s: %v", filepath.Base(path), err)
	}
	if got := fi.Mode().Perm(); got != want {
		t.Errorf("%s mode = %04o, want %04o", filepath.Base(path), got, want)
	}
}

// The database and the -wal and -shm files SQLite creates beside it are
// private to their owner whatever the umask.
func TestFilesPrivate(t *testing.T) {
	withUmask(t, 0o022)
	path := filepath.Join(t.TempDir(), "byok.db")
	s := open(t, path, storetest.WriterA)
	storetest.SeedKeys(t, s, "acme")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		wantMode(t, p, 0o600)
	}
}

// A database that an older release created 0644 is tightened when opened,
// with a warning naming each file.
func TestLooseFilesTightened(t *testing.T) {
	withUmask(t, 0o022)
	path := filepath.Join(t.TempDir(), "byok.db")
	s := open(t, path, storetest.WriterA)
	storetest.SeedKeys(t, s, "acme")
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		if err := os.Chmod(p, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	var logs bytes.Buffer
	again, err := sqlite.Open(context.Background(), sqlite.Config{Path: path, Logger: slog.New(slog.NewTextHandler(&logs, nil))})
	if err != nil {
		t.Fatalf("Open(loose database) err = %v", err)
	}
	defer again.Close()
	for _, p := range []string{path, path + "-wal", path + "-shm"} {
		wantMode(t, p, 0o600)
		if !strings.Contains(logs.String(), "path="+p+" ") {
			t.Errorf("no warning names %s:\n%s", p, logs.String())
		}
	}
	s.Close()
}

// A deleted webhook's secret is overwritten in the file, not left in a
// free page or in the unused space of its page (secure_delete).
func TestDeletedSecretGone(t *testing.T) {
	path := filepath.Join(t.TempDir(), "byok.db")
	s := open(t, path, storetest.WriterA)
	ctx := context.Background()
	secrets := map[string][]byte{}
	for i := range 20 {
		id := fmt.Sprintf("hook-%02d", i)
		secrets[id] = fmt.Appendf(nil, "deleted secret %02d 0123456789abcdef", i)
		w := &store.Webhook{ID: id, URL: "https://hooks.example.com/" + id, Secret: secrets[id]}
		if _, err := s.CreateWebhook(ctx, w); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 20; i += 2 {
		if err := s.DeleteWebhook(ctx, "", fmt.Sprintf("hook-%02d", i)); err != nil {
			t.Fatal(err)
		}
	}
	s.Close()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 20 {
		id := fmt.Sprintf("hook-%02d", i)
		if kept := i%2 == 1; bytes.Contains(b, secrets[id]) != kept {
			t.Errorf("the file holds the secret of %s: %v, want %v", id, !kept, kept)
		}
	}
}
