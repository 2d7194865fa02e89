package main

import (
	"runtime/debug"
	"strings"
)

// version describes the build from what the Go toolchain recorded in the
// binary: the module version (a release tag for `go install ...@vX`, a
// pseudo-version for a build from a checkout, "(devel)" when none was
// recorded) and the VCS revision, its commit time and whether the tree had
// uncommitted changes, which `go build` records in a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "(devel) (no build information recorded)"
	}
	return describeBuild(bi)
}

func describeBuild(bi *debug.BuildInfo) string {
	v := bi.Main.Version
	if v == "" {
		v = "(devel)"
	}
	vcs := map[string]string{}
	for _, s := range bi.Settings {
		vcs[s.Key] = s.Value
	}
	rev := vcs["vcs.revision"]
	if rev == "" {
		return v + " (no VCS revision recorded)"
	}
	parts := []string{vcs["vcs"] + " revision " + rev}
	if t := vcs["vcs.time"]; t != "" {
		parts = append(parts, "committed "+t)
	}
	if vcs["vcs.modified"] == "true" {
		parts = append(parts, "with uncommitted changes")
	}
	return v + " (" + strings.Join(parts, ", ") + ")"
}
