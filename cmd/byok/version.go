package main

import "runtime/debug"

// version returns the module version the binary was built from: a release tag
// for `go install ...@vX`, "(devel)" for a build from a checkout.
func version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok || bi.Main.Version == "" {
		return "(devel)"
	}
	return bi.Main.Version
}
