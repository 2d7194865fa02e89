package main

import (
	"os"
	"strings"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"
)

// TestCLIScripts runs the golden scripts of the server-backed commands in
// testdata/cli against one byok dev (in-process server, SQLite, AWS
// emulator and the enabled demo tenant), with BYOK_URL and an owner
// BYOK_TOKEN in each script's environment. Scripts share the server, so each
// uses its own tenant ids.
func TestCLIScripts(t *testing.T) {
	r := startDev(t, t.TempDir())
	// The scripts run in parallel after this function returns; stop after them.
	t.Cleanup(r.stop)
	m := tokenLine.FindStringSubmatch(r.out.String())
	if m == nil {
		t.Fatalf("no token printed:\n%s", r.out)
	}
	testscript.Run(t, testscript.Params{
		Dir: "testdata/cli",
		Setup: func(env *testscript.Env) error {
			env.Setenv("BYOK_URL", "http://"+r.api)
			env.Setenv("BYOK_TOKEN", m[1])
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
