package main

import (
	"context"
	"fmt"
	"strconv"
)

const (
	webhookUsage           = "byok webhook add|list|remove|deliveries|verify [flags] [args]"
	webhookAddUsage        = "byok webhook add [--tenant ID] [--json] NAME URL"
	webhookListUsage       = "byok webhook list [--tenant ID] [--json]"
	webhookRemoveUsage     = "byok webhook remove [--tenant ID] [--json] NAME"
	webhookDeliveriesUsage = "byok webhook deliveries [--tenant ID] [-n N] [--json] NAME"
)

func runWebhook(ctx context.Context, c *cli, args []string) error {
	return subcommand(ctx, c, "webhook", webhookUsage, args, map[string]func(context.Context, *cli, []string) error{
		"add": runWebhookAdd, "list": runWebhookList, "remove": runWebhookRemove, "deliveries": runWebhookDeliveries,
		"verify": runWebhookVerify,
	})
}

// runWebhookAdd prints the new webhook's signing secret on stdout (alone, so
// that it can be captured) and what was created on stderr.
func runWebhookAdd(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "webhook add", webhookAddUsage)
	tenant := r.fs.String("tenant", "", "send this tenant's events only (default: every tenant's, platform-wide)")
	pos, err := r.parse(args, 2, "a webhook name and a URL")
	if err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	h, err := cl.CreateWebhook(ctx, *tenant, pos[0], pos[1])
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, h)
	}
	if _, err := fmt.Fprintln(c.stdout, h.Secret); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "byok: created webhook %s for %s: %s\n", h.ID, hookScope(h.Tenant), h.URL)
	fmt.Fprintln(c.stderr, "byok: hint: give the receiver this signing secret (hex) now: it is shown only once")
	return nil
}

// hookTenantFlag explains --tenant where it names an existing webhook:
// names are unique per tenant, so the tenant says whose.
const hookTenantFlag = "the webhook of this tenant (default: the platform-wide one, or a tenant-scoped token's own tenant's)"

func hookScope(tenant string) string {
	if tenant == "" {
		return "every tenant"
	}
	return "tenant " + tenant
}

func runWebhookList(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "webhook list", webhookListUsage)
	tenant := r.fs.String("tenant", "", "this tenant's webhooks (default: the platform-wide ones)")
	if _, err := r.parse(args, 0, "no arguments"); err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	hs, err := cl.Webhooks(ctx, *tenant)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, map[string]any{"webhooks": nonNilSlice(hs)})
	}
	rows := [][]string{{"NAME", "TENANT", "URL", "CREATED"}}
	for _, h := range hs {
		rows = append(rows, []string{h.ID, orDash(h.Tenant), h.URL, fmtTime(h.Created)})
	}
	return table(c.stdout, rows)
}

func runWebhookRemove(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "webhook remove", webhookRemoveUsage)
	tenant := r.fs.String("tenant", "", hookTenantFlag)
	pos, err := r.parse(args, 1, "one webhook name")
	if err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	if err := cl.DeleteWebhook(ctx, *tenant, pos[0]); err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, map[string]string{"removed": pos[0]})
	}
	_, err = fmt.Fprintf(c.stdout, "removed webhook %s\n", pos[0])
	return err
}

func runWebhookDeliveries(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "webhook deliveries", webhookDeliveriesUsage)
	tenant := r.fs.String("tenant", "", hookTenantFlag)
	n := r.fs.Int("n", 0, "the newest `N` attempts, 1 to 1000 (default: the server's, 100)")
	pos, err := r.parse(args, 1, "one webhook name")
	if err != nil {
		return err
	}
	if *n < 0 || *n > 1000 {
		return usageErr("-n must be 1 to 1000")
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	ds, err := cl.WebhookDeliveries(ctx, *tenant, pos[0], *n)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, map[string]any{"deliveries": nonNilSlice(ds)})
	}
	rows := [][]string{{"TIME", "EVENT", "ATTEMPT", "STATUS", "ERROR"}}
	for _, d := range ds {
		rows = append(rows, []string{fmtTime(d.At), d.Event, strconv.Itoa(d.Attempt), deliveryStatus(d.Status), orDash(d.Error)})
	}
	return table(c.stdout, rows)
}

// deliveryStatus shows "-" when no HTTP answer came (a network error).
func deliveryStatus(s int) string {
	if s == 0 {
		return "-"
	}
	return strconv.Itoa(s)
}
