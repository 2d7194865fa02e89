package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"time"

	"github.com/byok-dev/byok/client"
)

const (
	tokenCreateUsage = "byok token create --role ROLE [--tenant ID] [--name NAME] [--ttl DURATION] [--json]"
	tokenListUsage   = "byok token list [--tenant ID] [--json]"
	tokenRevokeUsage = "byok token revoke TOKEN_ID"
)

// runTokenCreate prints a new token on stdout (alone, so that it can be
// captured) and what it is on stderr.
func runTokenCreate(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "token create", tokenCreateUsage)
	var req client.CreateToken
	r.fs.StringVar(&req.Role, "role", "", "owner, super_admin, admin, member, auditor or service (required)")
	r.fs.StringVar(&req.Tenant, "tenant", "", "scope the token to this tenant (default: platform-wide)")
	r.fs.StringVar(&req.Name, "name", "cli", "what the token is for, shown in lists and audit records")
	r.fs.DurationVar(&req.TTL, "ttl", 0, "lifetime (default: the server's, 90 days)")
	if _, err := r.parse(args, 0, "no arguments"); err != nil {
		return err
	}
	if req.Role == "" {
		return usageErr("--role is required")
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	t, err := cl.CreateToken(ctx, req)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, t)
	}
	if _, err := fmt.Fprintln(c.stdout, t.Token); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "byok: created %s token %s (%q), expires %s\n", t.Role, t.ID, t.Name, t.Expires.Format(time.DateOnly))
	fmt.Fprintln(c.stderr, "byok: hint: store this token in a secret manager now: it is shown only once")
	return nil
}

func runTokenList(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "token list", tokenListUsage)
	tenant := r.fs.String("tenant", "", "only tokens scoped to this tenant")
	if _, err := r.parse(args, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	ts, err := cl.Tokens(ctx, *tenant)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, map[string]any{"tokens": nonNilSlice(ts)})
	}
	rows := [][]string{{"ID", "ROLE", "TENANT", "NAME", "EXPIRES", "STATUS"}}
	for _, t := range ts {
		rows = append(rows, []string{t.ID, t.Role, orDash(t.Tenant), t.Name, t.Expires.Format(time.DateOnly), tokenStatus(t)})
	}
	return table(c.stdout, rows)
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func tokenStatus(t *client.Token) string {
	switch {
	case t.Revoked:
		return "revoked"
	case time.Now().After(t.Expires):
		return "expired"
	}
	return "active"
}

func runTokenRevoke(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "token revoke", tokenRevokeUsage)
	pos, err := r.parse(args, 1, "one token id")
	if err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	if err := cl.RevokeToken(ctx, pos[0]); err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, map[string]any{"revoked": pos[0]})
	}
	_, err = fmt.Fprintf(c.stdout, "revoked token %s\n", pos[0])
	return err
}

// runAuditTail prints a chain's newest events through the server.
func runAuditTail(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "audit tail", auditTailUsage)
	n := r.fs.Int("n", 20, "how many of the newest events")
	pos, err := r.parseAny(args)
	if err != nil {
		return err
	}
	if len(pos) > 1 {
		return usageErr("want at most one tenant id (none for the platform chain), got %d arguments", len(pos))
	}
	tenant := ""
	if len(pos) == 1 {
		tenant = pos[0]
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	if r.json {
		return apiErrOrNil(cl.AuditTail(ctx, tenant, *n, c.stdout))
	}
	return printAuditLines(ctx, c, cl, tenant, *n)
}

func apiErrOrNil(err error) error {
	if err == nil {
		return nil
	}
	return apiErr(err)
}

const auditTailUsage = "byok audit tail [-n N] [--json] [TENANT]"

// printAuditLines shows the events as a table: time, actor, action, outcome.
func printAuditLines(ctx context.Context, c *cli, cl *client.Client, tenant string, n int) error {
	var buf bytes.Buffer
	if err := cl.AuditTail(ctx, tenant, n, &buf); err != nil {
		return apiErr(err)
	}
	rows := [][]string{{"SEQ", "TIME", "ACTOR", "ACTION", "OUTCOME", "COUNT"}}
	dec := json.NewDecoder(&buf)
	for dec.More() {
		var e struct {
			Seq     int64  `json:"seq"`
			Time    string `json:"time"`
			Actor   string `json:"actor"`
			Action  string `json:"action"`
			Outcome string `json:"outcome"`
			Count   uint64 `json:"count"`
		}
		if err := dec.Decode(&e); err != nil {
			return fmt.Errorf("reading the server's audit lines: %w", err)
		}
		rows = append(rows, []string{fmt.Sprint(e.Seq), e.Time, e.Actor, e.Action, e.Outcome, fmt.Sprint(e.Count)})
	}
	return table(c.stdout, rows)
}
