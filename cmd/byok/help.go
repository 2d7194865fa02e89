package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"sort"
	"strconv"
	"strings"

	"github.com/byok-dev/byok/internal/errcode"
)

// subSummaries are the one-line descriptions a group's -h shows next to
// each of its subcommands, by "GROUP SUB".
var subSummaries = map[string]string{
	"tenant create":         "create a tenant (state pending)",
	"tenant list":           "every tenant, page after page",
	"tenant show":           "the tenant, its state and attached keys",
	"tenant rename":         "rename a tenant, refused if it changed since it was read",
	"tenant offboard":       "crypto-shred a tenant (irreversible) and print its deletion receipt",
	"tenant receipt":        "the signed deletion receipt of an offboarded tenant",
	"tenant status":         "a tenant's state and why, its key versions, regions and key health",
	"tenant restore":        "bring an archived tenant back once its key is usable",
	"tenant policy":         "where the platform's policy differs for a tenant (its key binding)",
	"tenant verify-receipt": "check a kept deletion receipt's signature",
	"key artifacts":         "the onboarding artifacts to hand the customer: key policy, role, templates",
	"key attach":            "attach the customer's key for a hosting region",
	"key validate":          "validate every attached key, check by check",
	"key enable":            "validate and enable the tenant",
	"key rotate":            "make the tenant's next key version",
	"key change":            "move the tenant to another customer key, rewrapping every key version",
	"key regions":           "the hosting regions serving the tenant and the keys behind each",
	"key add-region":        "serve the tenant in another hosting region",
	"token bootstrap":       "make the first owner token straight in the database (no server needed)",
	"token create":          "issue a token; it alone goes to stdout, shown once",
	"token list":            "tokens, without their secrets",
	"token revoke":          "revoke a token at once",
	"audit verify":          "verify the audit chains straight from the database",
	"audit export":          "a chain as JSON lines, through the server or from the database",
	"audit tail":            "the newest events of a tenant's chain or of the platform chain",
	"webhook add":           "subscribe a URL to key health events; prints its signing secret once",
	"webhook list":          "the platform-wide webhooks, or a tenant's own",
	"webhook remove":        "remove a webhook and its delivery records",
	"webhook deliveries":    "the newest delivery attempts of a webhook",
	"webhook verify":        "check a delivery's signature as a receiver must",
}

type subcommands = map[string]func(context.Context, *cli, []string) error

// flagHelp is what a subcommand's -h would print: its usage line and flags.
type flagHelp struct {
	usage string
	fs    *flag.FlagSet
}

// helpOf runs a subcommand with -h and catches its flag set rather than
// letting it print, so that a group's help shows the very flags the
// subcommand parses. ok is false for one that does not parse flags.
func helpOf(ctx context.Context, run func(context.Context, *cli, []string) error) (h flagHelp, ok bool) {
	c := &cli{stdin: strings.NewReader(""), stdout: io.Discard, stderr: io.Discard}
	c.help = func(usage string, fs *flag.FlagSet) { h, ok = flagHelp{usage, fs}, true }
	_ = run(ctx, c, []string{"-h"})
	return h, ok
}

// printGroupHelp lists a group's subcommands with what each does, then each
// one's usage and own flags, then the flags they all share.
func printGroupHelp(ctx context.Context, w io.Writer, group, usage string, subs subcommands) {
	names := sortedNames(subs)
	fmt.Fprintf(w, "usage: %s\n\ncommands:\n", usage)
	for _, n := range names {
		fmt.Fprintf(w, "  %-12s %s\n", n, subSummaries[group+" "+n])
	}
	helps := make([]flagHelp, 0, len(names))
	for _, n := range names {
		if h, ok := helpOf(ctx, subs[n]); ok {
			helps = append(helps, h)
		}
	}
	shared := sharedFlags(helps)
	for _, h := range helps {
		fmt.Fprintf(w, "\n%s\n", h.usage)
		printFlags(w, h.fs, func(f *flag.Flag) bool { return shared[f.Name] == nil })
	}
	if len(shared) > 0 {
		fmt.Fprintln(w, "\nflags of every command above:")
		printFlags(w, helps[0].fs, func(f *flag.Flag) bool { return shared[f.Name] != nil })
	}
	fmt.Fprintf(w, "\nRun 'byok %s COMMAND -h' for one command's flags.\n", group)
}

func sortedNames(subs subcommands) []string {
	names := make([]string, 0, len(subs))
	for n := range subs {
		names = append(names, n)
	}
	sort.Strings(names)
	return names
}

// orList joins names as "a, b or c".
func orList(names []string) string {
	if len(names) < 2 {
		return strings.Join(names, "")
	}
	return strings.Join(names[:len(names)-1], ", ") + " or " + names[len(names)-1]
}

// sharedFlags are the flags every subcommand defines with the same meaning;
// the help lists them once.
func sharedFlags(helps []flagHelp) map[string]*flag.Flag {
	if len(helps) < 2 {
		return nil
	}
	shared := map[string]*flag.Flag{}
	helps[0].fs.VisitAll(func(f *flag.Flag) { shared[f.Name] = f })
	for _, h := range helps[1:] {
		for name, f := range shared {
			g := h.fs.Lookup(name)
			if g == nil || g.Usage != f.Usage || g.DefValue != f.DefValue {
				delete(shared, name)
			}
		}
	}
	return shared
}

// printFlags prints the flags of fs that keep selects, as fs.PrintDefaults
// formats them.
func printFlags(w io.Writer, fs *flag.FlagSet, keep func(*flag.Flag) bool) {
	sel := flag.NewFlagSet("", flag.ContinueOnError)
	fs.VisitAll(func(f *flag.Flag) {
		if keep(f) {
			sel.Var(f.Value, f.Name, f.Usage)
		}
	})
	sel.SetOutput(w)
	sel.PrintDefaults()
}

// printErrorCodes lists every stable error code the server and the CLI
// answer with: its HTTP status, the CLI's exit code, what it means and what
// to do (the registry docs/api.md's table is written from).
func printErrorCodes(w io.Writer) error {
	rows := [][]string{{"CODE", "STATUS", "EXIT", "MEANING"}}
	for _, e := range errcode.All() {
		meaning := e.Meaning
		if e.Hint != "" {
			meaning += "; " + e.Hint
		}
		rows = append(rows, []string{e.Code, strconv.Itoa(e.Status), strconv.Itoa(e.Exit), meaning})
	}
	return table(w, rows)
}
