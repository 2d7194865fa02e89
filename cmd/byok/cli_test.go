package main

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestCLIScripts runs the golden scripts of the server-backed commands in
// testdata/cli against one byok dev (in-process server, SQLite, AWS
// emulator and the enabled demo tenant), with the BYOK_URL and owner
// BYOK_TOKEN its banner exports in each script's environment. Scripts
// share the server, so each uses its own tenant ids.
func TestCLIScripts(t *testing.T) {
	r := startDev(t, t.TempDir())
	// The scripts run in parallel after this function returns; stop after them.
	t.Cleanup(r.stop)
	// The scripts' environment is what the banner says to export, so they
	// also show that the banner's variables work as pasted.
	env := r.env(t)
	testscript.Run(t, testscript.Params{
		Dir: "testdata/cli",
		Setup: func(e *testscript.Env) error {
			for k, v := range env {
				e.Setenv(k, v)
			}
			return nil
		},
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":   cmdExits,
			"genfile": cmdGenfile,
			"envfile": cmdEnvfile,
			"tokenid": cmdTokenID,
			"flipbit": cmdFlipbit,
		},
	})
}

// envfile VAR FILE sets VAR to the first line of FILE, e.g. a token that
// byok token create printed.
func cmdEnvfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: envfile VAR FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	line, _, _ := strings.Cut(string(b), "\n")
	ts.Setenv(args[0], line)
}

// tokenid VAR FILE sets VAR to the id of the token in FILE
// (byok_<id>_<secret>), as byok token list shows it.
func cmdTokenID(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: tokenid VAR FILE")
	}
	b, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	parts := strings.Split(strings.TrimSpace(string(b)), "_")
	if len(parts) != 3 {
		ts.Fatalf("%s does not hold a token", args[1])
	}
	ts.Setenv(args[0], parts[1])
}
