package main

import (
	"context"
	"fmt"

	"github.com/byok-dev/byok/client"
)

const (
	tenantUsage = "byok tenant create|list|show|status|rename|restore|policy|offboard|receipt|verify-receipt [flags] [args]"
	keyUsage    = "byok key artifacts|attach|validate|enable|rotate|change|regions|add-region [flags] TENANT [args]"
	statusUsage = "byok status [--json] [TENANT]"
)

// subcommand dispatches "byok GROUP SUB ..." to a table of subcommands.
func subcommand(ctx context.Context, c *cli, group, usage string, args []string, subs map[string]func(context.Context, *cli, []string) error) error {
	if len(args) == 0 {
		return usageErr("%s needs a subcommand: %s", group, orList(sortedNames(subs)))
	}
	if args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		printGroupHelp(ctx, c.stdout, group, usage, subs)
		return nil
	}
	run, ok := subs[args[0]]
	if !ok {
		return usageErr("unknown %s command %q", group, args[0])
	}
	return run(ctx, c, args[1:])
}

func runTenant(ctx context.Context, c *cli, args []string) error {
	return subcommand(ctx, c, "tenant", tenantUsage, args, map[string]func(context.Context, *cli, []string) error{
		"create": runTenantCreate, "list": runTenantList, "show": runTenantShow,
		"rename": runTenantRename, "offboard": runTenantOffboard, "receipt": runTenantReceipt,
		"status": runTenantStatus, "restore": runTenantRestore, "verify-receipt": runTenantVerifyReceipt,
		"policy": runTenantPolicy,
	})
}

func runTenantCreate(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant create", "byok tenant create [--name NAME] [--external-id ID] [--json] TENANT")
	name := r.fs.String("name", "", "the tenant's display `name` (default: its id)")
	ext := r.fs.String("external-id", "", "the sts:ExternalId the customer's role checks (default: random)")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	if *name == "" {
		*name = tenant
	}
	t, err := cl.CreateTenant(ctx, client.CreateTenant{ID: tenant, Name: *name, ExternalID: *ext})
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, t)
	}
	return printTenant(c, t)
}

func printTenant(c *cli, t *client.Tenant) error {
	return table(c.stdout, [][]string{
		{"id:", t.ID}, {"name:", t.Name}, {"state:", t.State}, {"external id:", t.ExternalID},
		{"created:", fmtTime(t.CreatedAt)}, {"updated:", fmtTime(t.UpdatedAt)},
		{"key binding:", keyBindingPolicy(t)},
	})
}

// keyBindingPolicy says whether the tenant follows the platform's key
// binding or has its own.
func keyBindingPolicy(t *client.Tenant) string {
	if o := t.PolicyOverrides; o != nil && o.KeyBinding != "" {
		return o.KeyBinding + " (set for this tenant)"
	}
	return "as the platform's policy"
}

// runTenantPolicy sets where the platform's policy differs for a tenant.
func runTenantPolicy(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant policy", "byok tenant policy --key-binding immutable|changeable|platform [--json] TENANT")
	binding := r.fs.String("key-binding", "", "`immutable` or `changeable` for this tenant, or platform to follow the platform's policy")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	var o client.PolicyOverrides
	switch *binding {
	case "":
		return usageErr("--key-binding is required: immutable, changeable or platform")
	case "platform":
	default:
		o.KeyBinding = *binding
	}
	t, err := cl.SetPolicyOverrides(ctx, tenant, o)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, t)
	}
	return printTenant(c, t)
}

func runTenantList(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant list", "byok tenant list [--state STATE] [--json]")
	state := r.fs.String("state", "", "only tenants in this `state`")
	if _, err := r.parse(args, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	var all []*client.Tenant
	for cursor := ""; ; {
		p, err := cl.Tenants(ctx, client.ListOptions{State: *state, Cursor: cursor})
		if err != nil {
			return apiErr(err)
		}
		all = append(all, p.Tenants...)
		if cursor = p.Next; cursor == "" {
			break
		}
	}
	if r.json {
		return printJSON(c.stdout, map[string]any{"tenants": nonNilSlice(all)})
	}
	rows := [][]string{{"ID", "STATE", "NAME", "CREATED"}}
	for _, t := range all {
		rows = append(rows, []string{t.ID, t.State, t.Name, fmtTime(t.CreatedAt)})
	}
	return table(c.stdout, rows)
}

func nonNilSlice[T any](s []T) []T {
	if s == nil {
		return []T{}
	}
	return s
}

func runTenantShow(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant show", "byok tenant show [--json] TENANT")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	st, err := cl.State(ctx, tenant)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, st)
	}
	if err := printTenant(c, st.Tenant); err != nil {
		return err
	}
	return printKeys(c, st.Attachments)
}

func printKeys(c *cli, atts []*client.Attachment) error {
	if len(atts) == 0 {
		_, err := fmt.Fprintln(c.stdout, "\nno key attached")
		return err
	}
	rows := [][]string{{"REGION", "PATTERN", "KEY"}}
	for _, a := range atts {
		rows = append(rows, []string{a.Region, a.AccessPattern, a.KeyARN})
	}
	fmt.Fprintln(c.stdout)
	return table(c.stdout, rows)
}

// runStatus reports the server's liveness and readiness and, given a tenant,
// its state and latest key health.
func runStatus(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "status", statusUsage)
	pos, err := r.parseAny(args)
	switch {
	case err != nil:
		return err
	case len(pos) > 1:
		return usageErr("want at most one tenant id, got %d arguments", len(pos))
	case len(pos) == 1:
		return tenantStatus(ctx, c, r, pos[0])
	}
	return serverStatus(ctx, c, r)
}

func serverStatus(ctx context.Context, c *cli, r *remote) error {
	cl, err := r.client()
	if err != nil {
		return err
	}
	if err := cl.Healthz(ctx); err != nil {
		return apiErr(err)
	}
	ready := cl.Readyz(ctx)
	if r.json {
		err = printJSON(c.stdout, map[string]any{"url": r.url, "live": true, "ready": ready == nil})
	} else {
		err = table(c.stdout, [][]string{{"server:", r.url}, {"live:", "yes"}, {"ready:", readyText(ready)}})
	}
	if err == nil && ready != nil {
		// Scripts and probes branch on the exit code, not on the text.
		return apiErr(ready)
	}
	return err
}

func readyText(err error) string {
	if err != nil {
		return "no (" + client.Code(err) + ")"
	}
	return "yes"
}

func tenantStatus(ctx context.Context, c *cli, r *remote, id string) error {
	cl, err := r.client()
	if err != nil {
		return err
	}
	st, err := cl.State(ctx, id)
	if err != nil {
		return apiErr(err)
	}
	health, err := cl.Health(ctx, id, 5)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, map[string]any{"tenant": id, "state": st.State, "keys": nonNilSlice(st.Attachments),
			"keyring": st.Keyring, "health": nonNilSlice(health)})
	}
	if err := table(c.stdout, [][]string{{"tenant:", id}, {"state:", st.State}}); err != nil {
		return err
	}
	if err := printKeys(c, st.Attachments); err != nil {
		return err
	}
	return printHealth(c, health)
}

func printHealth(c *cli, health []*client.HealthRecord) error {
	if len(health) == 0 {
		_, err := fmt.Fprintln(c.stdout, "\nno key health probe yet")
		return err
	}
	rows := [][]string{{"PROBED", "OUTCOME", "CODE"}}
	for _, h := range health {
		rows = append(rows, []string{fmtTime(h.At), h.Outcome, h.Code})
	}
	fmt.Fprintln(c.stdout)
	return table(c.stdout, rows)
}
