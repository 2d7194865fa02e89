package onboarding

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// lintTool is the path of a linter, or skips the test when the machine has
// none: the checks of golden_test.go still run.
func lintTool(t *testing.T, name string) string {
	t.Helper()
	path, err := exec.LookPath(name)
	if err != nil {
		t.Skipf("%s is not installed", name)
	}
	return path
}

// writeArtifacts writes every golden model's artifacts with ext under one
// folder and returns their paths.
func writeArtifacts(t *testing.T, ext string) []string {
	t.Helper()
	dir, paths := t.TempDir(), []string{}
	for name, m := range goldenModels(t) {
		for _, a := range m.Artifacts() {
			if filepath.Ext(a.Name) != ext {
				continue
			}
			p := filepath.Join(dir, name, a.Name)
			if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(p, a.Content, 0o644); err != nil {
				t.Fatal(err)
			}
			paths = append(paths, p)
		}
	}
	return paths
}

// Every generated template passes cfn-lint, the role account's included.
func TestCloudFormationLint(t *testing.T) {
	tool := lintTool(t, "cfn-lint")
	paths := writeArtifacts(t, ".yaml")
	if out, err := exec.Command(tool, append([]string{"--"}, paths...)...).CombinedOutput(); err != nil {
		t.Fatalf("cfn-lint: %v\n%s", err, out)
	}
}

// Every generated configuration is as terraform fmt writes it.
func TestTerraformFmt(t *testing.T) {
	tool := lintTool(t, "terraform")
	for _, p := range writeArtifacts(t, ".tf") {
		if out, err := exec.Command(tool, "fmt", "-check", "-diff", p).CombinedOutput(); err != nil {
			t.Errorf("terraform fmt -check %s: %v\n%s", strings.TrimPrefix(p, os.TempDir()), err, out)
		}
	}
}
