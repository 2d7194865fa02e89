// Command byok is the single binary of the byok project: key files, sealing and
// opening data, and the AWS KMS emulator. It only parses flags and wires packages
// together; the behaviour lives in the packages it calls.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"syscall"
)

// Exit codes are stable so that scripts can branch on them.
const (
	exitOK      = 0
	exitError   = 1 // anything not classified below
	exitUsage   = 2 // bad flags or arguments
	exitDecrypt = 3 // the input does not open with the given key and context
	exitKeyFile = 4 // the key file is missing, unreadable, malformed or too open
	// 5: audit verify found a chain that does not verify (audit.go);
	// 6: the server refused the request, 7: the server did not answer (remote.go).
	exitInterrup = 130
)

// cli carries the process's streams so tests can run commands in-process.
type cli struct {
	stdin  io.Reader
	stdout io.Writer
	stderr io.Writer
	// help, when set, receives a command's flag set on -h instead of the
	// help being printed: a group's help lists its subcommands' flags so.
	help func(usage string, fs *flag.FlagSet)
}

type command struct {
	summary string
	usage   string
	run     func(ctx context.Context, c *cli, args []string) error
}

func commands() map[string]command {
	return map[string]command{
		"keygen": {summary: "create a key file", usage: keygenUsage, run: runKeygen},
		"seal":   {summary: "encrypt a file or stdin under a key file", usage: sealUsage, run: runSeal},
		"open":   {summary: "decrypt what seal produced", usage: openUsage, run: runOpen},
		"version": {summary: "print the version", usage: "byok version", run: func(_ context.Context, c *cli, _ []string) error {
			_, err := fmt.Fprintln(c.stdout, "byok", version())
			return err
		}},
		"kms-emulator": {summary: "run the AWS KMS + STS emulator", usage: kmsEmulatorUsage, run: runKMSEmulator},
		"serve":        {summary: "run the HTTP API", usage: serveUsage, run: runServe},
		"dev":          {summary: "run everything locally with a demo tenant (no cloud account)", usage: devUsage, run: runDev},
		"token":        {summary: "create, list and revoke API tokens; bootstrap the first", usage: tokenGroupUsage, run: runToken},
		"audit":        {summary: "tail or export the audit log; verify it from the database", usage: auditUsage, run: runAudit},
		"tenant":       {summary: "create, list, show, rename and offboard tenants", usage: tenantUsage, run: runTenant},
		"key":          {summary: "a tenant's customer keys: artifacts, attach, validate, enable, rotate, change, regions", usage: keyUsage, run: runKey},
		"encrypt":      {summary: "encrypt a file or stdin for a tenant through the server", usage: encryptUsage, run: runEncrypt},
		"decrypt":      {summary: "decrypt what encrypt produced", usage: decryptUsage, run: runDecrypt},
		"status":       {summary: "the server's health, or a tenant's state and key health", usage: statusUsage, run: runStatus},
		"webhook":      {summary: "subscribe URLs to key health events; list, remove, show deliveries", usage: webhookUsage, run: runWebhook},
	}
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	// The first signal cancels ctx so that commands clean up (remove partial
	// output files); it also restores the default handling, so a second signal
	// ends a command blocked on a read from a terminal.
	context.AfterFunc(ctx, stop)
	code := run(ctx, &cli{stdin: os.Stdin, stdout: os.Stdout, stderr: os.Stderr}, os.Args[1:])
	stop()
	os.Exit(code)
}

func run(ctx context.Context, c *cli, args []string) int {
	cmds := commands()
	if len(args) == 2 && args[0] == "help" && args[1] == "errors" {
		return report(c.stderr, "help", "byok help errors", printErrorCodes(c.stdout))
	}
	if len(args) == 0 || args[0] == "help" || args[0] == "-h" || args[0] == "--help" {
		printHelp(c.stdout, cmds)
		if len(args) == 0 {
			return exitUsage
		}
		return exitOK
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(c.stderr, "byok: error: unknown command %q\n", args[0])
		fmt.Fprintln(c.stderr, "byok: hint: run 'byok help' for the list of commands")
		return exitUsage
	}
	err := cmd.run(ctx, c, args[1:])
	return report(c.stderr, args[0], cmd.usage, err)
}

func printHelp(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "usage: byok <command> [flags] [args]")
	fmt.Fprintln(w, "\ncommands:")
	names := make([]string, 0, len(cmds))
	for n := range cmds {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		fmt.Fprintf(w, "  %-14s %s\n", n, cmds[n].summary)
	}
	fmt.Fprintln(w, "\nRun 'byok <command> -h' for a command's flags, 'byok help errors' for every error code.")
}

// cliError is an error with an exit code and an optional hint line.
type cliError struct {
	code int
	err  error
	hint string
}

func (e *cliError) Error() string { return e.err.Error() }
func (e *cliError) Unwrap() error { return e.err }

func usageErr(format string, a ...any) error {
	return &cliError{code: exitUsage, err: fmt.Errorf(format, a...)}
}

func withHint(code int, err error, hint string) error {
	return &cliError{code: code, err: err, hint: hint}
}

func report(w io.Writer, name, usage string, err error) int {
	if err == nil {
		return exitOK
	}
	if errors.Is(err, flag.ErrHelp) {
		return exitOK
	}
	if errors.Is(err, context.Canceled) {
		fmt.Fprintln(w, "byok: error: interrupted")
		return exitInterrup
	}
	fmt.Fprintf(w, "byok: error: %v\n", err)
	var ce *cliError
	if !errors.As(err, &ce) {
		return exitError
	}
	if ce.hint != "" {
		fmt.Fprintf(w, "byok: hint: %s\n", ce.hint)
	}
	if ce.code == exitUsage && usage != "" {
		fmt.Fprintf(w, "usage: %s\n", usage)
		fmt.Fprintf(w, "byok: hint: run 'byok %s -h' for its flags\n", name)
	}
	return ce.code
}

// newFlags returns a flag set that reports errors instead of exiting, and prints
// its help to stdout when asked for it.
func newFlags(c *cli, name, usage string) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.Usage = func() {
		if c.help != nil {
			c.help(usage, fs)
			return
		}
		fmt.Fprintf(c.stdout, "usage: %s\n\nflags:\n", usage)
		fs.SetOutput(c.stdout)
		fs.PrintDefaults()
		fs.SetOutput(io.Discard)
	}
	return fs
}

// parseFlags turns flag-package errors into usage errors. On -h the flag
// package has already printed the help through fs.Usage.
func parseFlags(fs *flag.FlagSet, args []string) error {
	err := fs.Parse(args)
	if err == nil || errors.Is(err, flag.ErrHelp) {
		return err
	}
	return usageErr("%v", err)
}
