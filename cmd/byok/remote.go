package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/errcode"
)

// Exit codes of the commands that call the server.
const (
	exitRefused     = errcode.ExitRefused // the server answered an error (its code is on the error line)
	exitUnreachable = 7                   // no answer from the server
)

// remote holds the flags every server-backed command shares.
type remote struct {
	fs    *flag.FlagSet
	url   string
	token string
	json  bool
}

func newRemote(c *cli, name, usage string) *remote {
	r := newRemoteRaw(c, name, usage)
	r.fs.BoolVar(&r.json, "json", false, "print JSON for scripts instead of text for people")
	return r
}

// newRemoteRaw is newRemote without --json, for commands whose output is
// data (encrypt, decrypt).
func newRemoteRaw(c *cli, name, usage string) *remote {
	r := &remote{fs: newFlags(c, name, usage)}
	r.fs.StringVar(&r.url, "url", "", "the server's `URL` (default $BYOK_URL)")
	r.fs.StringVar(&r.token, "token", "", "the API `token` (default $BYOK_TOKEN; prefer the variable: flags show in ps)")
	return r
}

// parse parses flags and arguments in any order, so that
// "byok tenant show acme --json" works, and checks the argument count.
func (r *remote) parse(args []string, nargs int, what string) ([]string, error) {
	pos, err := r.parseAny(args)
	if err == nil && len(pos) != nargs {
		return nil, usageErr("want %s, got %d argument(s)", what, len(pos))
	}
	return pos, err
}

// parseAny parses flags and returns the arguments among them.
// forTenant parses a command whose one argument is a tenant id and returns
// it with a client.
func (r *remote) forTenant(args []string) (string, *client.Client, error) {
	pos, err := r.parse(args, 1, "one tenant id")
	if err != nil {
		return "", nil, err
	}
	cl, err := r.client()
	if err != nil {
		return "", nil, err
	}
	return pos[0], cl, nil
}

func (r *remote) parseAny(args []string) ([]string, error) {
	var pos []string
	for {
		if err := parseFlags(r.fs, args); err != nil {
			return nil, err
		}
		args = r.fs.Args()
		if len(args) == 0 {
			return pos, nil
		}
		pos, args = append(pos, args[0]), args[1:]
	}
}

// client returns the API client; the token comes from --token or BYOK_TOKEN
// and is never printed.
func (r *remote) client() (*client.Client, error) {
	if r.url == "" {
		r.url = os.Getenv("BYOK_URL")
	}
	if r.url == "" {
		return nil, withHint(exitUsage, errors.New("no server URL"), "set BYOK_URL or pass --url (byok dev prints it)")
	}
	tok := r.token
	if tok == "" {
		tok = os.Getenv("BYOK_TOKEN")
	}
	if tok == "" {
		return nil, withHint(exitUsage, errors.New("no API token"), "set BYOK_TOKEN (byok dev prints one; byok token create makes more)")
	}
	return client.New(client.Config{URL: r.url, Token: tok, HTTPClient: &http.Client{}})
}

// apiErr turns a client error into the CLI's error line, exit code and hint.
func apiErr(err error) error {
	var cli *cliError
	if errors.As(err, &cli) {
		return err
	}
	var ce *client.Error
	if !errors.As(err, &ce) {
		if errors.Is(err, context.Canceled) {
			return err
		}
		return withHint(exitUnreachable, err, "is the server running at BYOK_URL?")
	}
	msg := fmt.Errorf("%s: %s", ce.Code, ce.Message)
	return withHint(exitFor(ce.Code), msg, ce.Hint())
}

// exitFor is the registry's exit code of an API error code; a code the
// registry does not know (a proxy's http_502) is a refusal all the same.
func exitFor(code string) int {
	if e, ok := errcode.Lookup(code); ok {
		return e.Exit
	}
	return exitRefused
}

// printJSON writes v as indented JSON.
func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// table writes aligned columns: rows of cells, the first row the header.
func table(w io.Writer, rows [][]string) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	for _, r := range rows {
		fmt.Fprintln(tw, strings.Join(r, "\t"))
	}
	return tw.Flush()
}

func fmtTime(t time.Time) string {
	if t.IsZero() {
		return "-"
	}
	return t.UTC().Format(time.RFC3339)
}
