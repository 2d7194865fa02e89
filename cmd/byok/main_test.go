package main

import (
	"errors"
	"io/fs"
	"math/rand/v2"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/byok-dev/byok/internal/store/postgres/pgtest"
)

// TestMain lets the scripts run this test binary as the byok command.
func TestMain(m *testing.M) {
	testscript.Main(withPostgres{m}, map[string]func(){"byok": main})
}

// withPostgres stops the throwaway PostgreSQL cluster, if a test started
// one, after the tests ran.
type withPostgres struct{ m *testing.M }

func (w withPostgres) Run() int { return pgtest.Main(w.m) }

// TestScripts runs the golden scripts in testdata/script; each names the exit
// code and the exact stderr it expects.
func TestScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/script",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":    cmdExits,
			"genfile":  cmdGenfile,
			"flipbit":  cmdFlipbit,
			"truncate": cmdTruncate,
			"mode":     cmdMode,
			"notemp":   cmdNotemp,
			"listen":   cmdListen,
			"freeport": cmdFreeport,
		},
	})
}

// exits CODE PROGRAM [ARGS...] runs a program and checks its exit code;
// stdout and stderr are then available to the stdout/stderr/cmp commands.
func cmdExits(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) < 2 {
		ts.Fatalf("usage: exits CODE PROGRAM [ARGS...]")
	}
	want, err := strconv.Atoi(args[0])
	ts.Check(err)
	got := 0
	var ee *exec.ExitError
	if err := ts.Exec(args[1], args[2:]...); errors.As(err, &ee) {
		got = ee.ExitCode()
	} else {
		ts.Check(err)
	}
	if got != want {
		ts.Fatalf("%s exited with %d, want %d", args[1], got, want)
	}
}

// genfile NAME SIZE writes SIZE bytes that are the same on every run.
func cmdGenfile(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: genfile NAME SIZE")
	}
	n, err := strconv.Atoi(args[1])
	ts.Check(err)
	b := make([]byte, n)
	r := rand.NewChaCha8([32]byte{'b', 'y', 'o', 'k'})
	_, _ = r.Read(b)
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// offset resolves a byte offset in a file of size n; negative counts from the end.
func offset(ts *testscript.TestScript, s string, n int) int {
	off, err := strconv.Atoi(s)
	ts.Check(err)
	if off < 0 {
		off += n
	}
	if off < 0 || off > n {
		ts.Fatalf("offset %s is outside a file of %d bytes", s, n)
	}
	return off
}

// flipbit FILE OFFSET flips the low bit of one byte.
func cmdFlipbit(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: flipbit FILE OFFSET")
	}
	b, err := os.ReadFile(ts.MkAbs(args[0]))
	ts.Check(err)
	off := offset(ts, args[1], len(b)-1)
	b[off] ^= 1
	ts.Check(os.WriteFile(ts.MkAbs(args[0]), b, 0o644))
}

// truncate FILE SIZE cuts a file; a negative SIZE removes that many bytes.
func cmdTruncate(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: truncate FILE SIZE")
	}
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	ts.Check(os.Truncate(ts.MkAbs(args[0]), int64(offset(ts, args[1], int(fi.Size())))))
}

// mode FILE PERM checks a file's permission bits.
func cmdMode(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: mode FILE PERM")
	}
	want, err := strconv.ParseUint(args[1], 8, 32)
	ts.Check(err)
	fi, err := os.Stat(ts.MkAbs(args[0]))
	ts.Check(err)
	if got := fi.Mode().Perm(); got != fs.FileMode(want) {
		ts.Fatalf("%s has mode %04o, want %04o", args[0], got, want)
	}
}

// notemp checks that no temporary output file was left in the directory.
func cmdNotemp(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 0 {
		ts.Fatalf("usage: notemp")
	}
	left, err := filepath.Glob(ts.MkAbs(".*.byok-*.tmp"))
	ts.Check(err)
	if len(left) > 0 {
		ts.Fatalf("temporary files left behind: %v", left)
	}
}

// listen VAR holds a loopback port for the rest of the script and sets VAR
// to its address, for a command that must find the port busy.
func cmdListen(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: listen VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Defer(func() { ln.Close() })
	ts.Setenv(args[0], ln.Addr().String())
}

// freeport VAR sets VAR to a loopback address that was free a moment ago.
func cmdFreeport(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 1 {
		ts.Fatalf("usage: freeport VAR")
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	ts.Check(err)
	ts.Setenv(args[0], ln.Addr().String())
	ts.Check(ln.Close())
}
