package main

import (
	"bytes"
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// Every command group's -h lists each of its subcommands with what it does.
func TestGroupHelp(t *testing.T) {
	line := regexp.MustCompile(`^  (\S+)( +(.*))?$`)
	for _, group := range []string{"tenant", "key", "token", "audit", "webhook"} {
		var out bytes.Buffer
		c := &cli{stdin: strings.NewReader(""), stdout: &out, stderr: &out}
		if code := run(context.Background(), c, []string{group, "-h"}); code != exitOK {
			t.Fatalf("byok %s -h exited %d:\n%s", group, code, &out)
		}
		_, list, ok := strings.Cut(out.String(), "\ncommands:\n")
		list, _, _ = strings.Cut(list, "\n\n")
		if !ok || list == "" {
			t.Fatalf("byok %s -h lists no commands:\n%s", group, &out)
		}
		for _, l := range strings.Split(list, "\n") {
			if m := line.FindStringSubmatch(l); m == nil || m[3] == "" {
				t.Errorf("byok %s -h: %q says nothing of what the command does", group, l)
			}
		}
	}
}

// byok version names the VCS revision the binary was built from. The build
// runs in a fresh repository holding a copy of the module, because go build
// records VCS information only where .git is a directory, not in a Git
// worktree.
func TestVersionRevision(t *testing.T) {
	if testing.Short() {
		t.Skip("builds the binary")
	}
	gotool, err := exec.LookPath("go")
	if err != nil {
		t.Skip("no go command")
	}
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("no git command")
	}
	root := strings.TrimSpace(runIn(t, ".", gotool, "list", "-m", "-f", "{{.Dir}}"))
	files := runIn(t, root, "git", "ls-files", "-co", "--exclude-standard")
	if files == "" {
		t.Skip("the module is not in a Git checkout")
	}
	repo := t.TempDir()
	for _, f := range strings.Split(strings.TrimSpace(files), "\n") {
		copyFile(t, filepath.Join(root, f), filepath.Join(repo, f))
	}
	runIn(t, repo, "git", "init", "-q")
	runIn(t, repo, "git", "add", "-A")
	runIn(t, repo, "git", "-c", "user.name=byok", "-c", "user.email=byok@example.com", "commit", "-q", "-m", "snapshot")
	rev := strings.TrimSpace(runIn(t, repo, "git", "rev-parse", "HEAD"))
	bin := filepath.Join(t.TempDir(), "byok")
	// -trimpath keeps the build cache valid across temporary folders.
	runIn(t, repo, gotool, "build", "-trimpath", "-buildvcs=true", "-o", bin, "./cmd/byok")
	got := runIn(t, repo, bin, "version")
	want := "byok v0.0.0-20260102030405-" + rev[:12] + " (git revision " + rev + ", committed 2026-01-02T03:04:05Z)\n"
	if got != want {
		t.Fatalf("byok version = %q, want %q", got, want)
	}
}

func runIn(t *testing.T, dir, name string, args ...string) string {
	t.Helper()
	cmd := exec.Command(name, args...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GIT_COMMITTER_DATE=2026-01-02T03:04:05Z", "GIT_AUTHOR_DATE=2026-01-02T03:04:05Z")
	out, err := cmd.Output()
	if err != nil {
		var stderr []byte
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			stderr = ee.Stderr
		}
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, stderr)
	}
	return string(out)
}

func copyFile(t *testing.T, from, to string) {
	t.Helper()
	b, err := os.ReadFile(from)
	if errors.Is(err, fs.ErrNotExist) {
		return // deleted in the working tree, so not part of the build either
	}
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Dir(to), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(to, b, 0o644); err != nil {
		t.Fatal(err)
	}
}
