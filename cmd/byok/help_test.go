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
	"runtime/debug"
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
//
// It builds the binary and its dependencies from scratch (minutes on a cold
// cache), so it runs only with BYOK_BUILD_TESTS=1; TestDescribeBuild covers
// the same output from recorded build information on every run.
func TestVersionRevision(t *testing.T) {
	if testing.Short() || os.Getenv("BYOK_BUILD_TESTS") != "1" {
		t.Skip("builds the binary from a fresh copy: set BYOK_BUILD_TESTS=1")
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

// TestDescribeBuild: what byok version prints for the build information a
// release, a checkout with uncommitted changes and go run record.
func TestDescribeBuild(t *testing.T) {
	vcs := func(kv ...string) []debug.BuildSetting {
		var out []debug.BuildSetting
		for i := 0; i < len(kv); i += 2 {
			out = append(out, debug.BuildSetting{Key: kv[i], Value: kv[i+1]})
		}
		return out
	}
	cases := []struct {
		bi   debug.BuildInfo
		want string
	}{
		{debug.BuildInfo{Main: debug.Module{Version: "v1.2.3"}}, "v1.2.3 (no VCS revision recorded)"},
		{debug.BuildInfo{}, "(devel) (no VCS revision recorded)"},
		{debug.BuildInfo{Main: debug.Module{Version: "v0.0.0-20260102030405-abcdef012345"},
			Settings: vcs("vcs", "git", "vcs.revision", "abcdef0123456789", "vcs.time", "2026-01-02T03:04:05Z", "vcs.modified", "true")},
			"v0.0.0-20260102030405-abcdef012345 (git revision abcdef0123456789, committed 2026-01-02T03:04:05Z, with uncommitted changes)"},
	}
	for _, c := range cases {
		if got := describeBuild(&c.bi); got != c.want {
			t.Errorf("describeBuild(%+v) = %q, want %q", c.bi, got, c.want)
		}
	}
}
