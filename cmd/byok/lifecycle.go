package main

import (
	"context"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/control"
)

func runTenantRename(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant rename", "byok tenant rename [--revision N] [--json] TENANT NAME")
	rev := r.fs.Int64("revision", 0, "rename only if the tenant is still at this `revision` (default: the one read just before)")
	pos, err := r.parse(args, 2, "TENANT NAME")
	if err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	if *rev == 0 {
		t, err := cl.Tenant(ctx, pos[0])
		if err != nil {
			return apiErr(err)
		}
		*rev = t.Revision
	}
	t, err := cl.RenameTenant(ctx, pos[0], pos[1], *rev)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, t)
	}
	return printTenant(c, t)
}

const offboardUsage = "byok tenant offboard --yes [--json] TENANT"

// runTenantOffboard crypto-shreds a tenant. It is irreversible, so it wants
// --yes, like a confirmation prompt that scripts can answer.
func runTenantOffboard(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant offboard", offboardUsage)
	yes := r.fs.Bool("yes", false, "confirm: every key version of the tenant is destroyed and none of its data opens again")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	if !*yes {
		return withHint(exitUsage, fmt.Errorf("offboarding destroys every key version of tenant %s: none of its data can be opened again", tenant),
			"if that is what you want, run again with --yes")
	}
	sr, err := cl.Offboard(ctx, tenant)
	if err != nil {
		return apiErr(err)
	}
	return printReceipt(c, r, sr)
}

func runTenantReceipt(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant receipt", "byok tenant receipt [--json] [--verify] TENANT")
	verify := r.fs.Bool("verify", false, "check the receipt's signature against the keys the server publishes")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	sr, err := cl.Receipt(ctx, tenant)
	if err != nil {
		return apiErr(err)
	}
	if !*verify {
		return printReceipt(c, r, sr)
	}
	ks, err := cl.ReceiptKeys(ctx)
	if err != nil {
		return apiErr(err)
	}
	return verifyAndPrint(c, r, &control.SignedReceipt{Receipt: sr.Receipt, Signature: sr.Signature}, publicKeys(ks))
}

// printReceipt prints the signed receipt as the server gave it (--json: the
// bytes to keep and verify), or a summary of what it says.
// receiptCheck is a check a v2 receipt records (docs/receipts.md).
type receiptCheck struct {
	Check     string `json:"check"`
	Key       string `json:"key"`
	Outcome   string `json:"outcome"`
	Code      string `json:"code"`
	RequestID string `json:"request_id"`
}

// String reads as "platform_unwrap: refused (tenant_shredded)" or
// "customer_key ARN: refused (key_disabled, KMS request id ...)".
func (ch receiptCheck) String() string {
	s := ch.Check
	if ch.Key != "" {
		s += " " + ch.Key
	}
	s += ": " + ch.Outcome
	var detail []string
	if ch.Code != "" {
		detail = append(detail, ch.Code)
	}
	if ch.RequestID != "" {
		detail = append(detail, "KMS request id "+ch.RequestID)
	}
	if len(detail) > 0 {
		s += " (" + strings.Join(detail, ", ") + ")"
	}
	return s
}

func printReceipt(c *cli, r *remote, sr *client.SignedReceipt) error {
	if r.json {
		// Compact, not indented: the receipt's bytes are what was signed.
		return json.NewEncoder(c.stdout).Encode(sr)
	}
	var rc struct {
		Tenant   string `json:"tenant"`
		Versions []struct {
			Version   uint32 `json:"version"`
			Wrappings int    `json:"wrappings"`
		} `json:"versions"`
		Keys []struct {
			Provider string `json:"provider"`
			ID       string `json:"id"`
			Versions int    `json:"versions"`
		} `json:"keys"`
		Requested time.Time `json:"requested"`
		Deleted   time.Time `json:"deleted"`
		Signer    string    `json:"signer"`
		Destroyed []struct {
			What string    `json:"what"`
			At   time.Time `json:"at"`
		} `json:"destroyed"`
		Checks []receiptCheck `json:"checks"`
	}
	if err := json.Unmarshal(sr.Receipt, &rc); err != nil {
		return fmt.Errorf("the server's receipt does not parse: %w", err)
	}
	versions := make([]string, len(rc.Versions))
	for i, v := range rc.Versions {
		versions[i] = strconv.FormatUint(uint64(v.Version), 10)
	}
	rows := [][]string{
		{"tenant:", rc.Tenant + " (shredded)"},
		{"destroyed:", fmt.Sprintf("%d key version(s): %s", len(rc.Versions), strings.Join(versions, ", "))},
		{"requested:", fmtTime(rc.Requested)}, {"deleted:", fmtTime(rc.Deleted)},
		{"signed by:", rc.Signer},
	}
	for _, k := range rc.Keys {
		rows = append(rows, []string{"key:", fmt.Sprintf("%s %s (%d version(s))", k.Provider, k.ID, k.Versions)})
	}
	for _, d := range rc.Destroyed {
		rows = append(rows, []string{"destroyed:", strings.ReplaceAll(d.What, "_", " ") + " at " + fmtTime(d.At)})
	}
	for _, ch := range rc.Checks {
		rows = append(rows, []string{"check:", ch.String()})
	}
	if err := table(c.stdout, rows); err != nil {
		return err
	}
	_, err := fmt.Fprintln(c.stdout, "\nkeep the signed receipt: byok tenant receipt --json "+rc.Tenant+" > receipt.json")
	return err
}

func runKeyRegions(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "key regions", "byok key regions [--json] TENANT")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	regions, err := cl.Regions(ctx, tenant)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		if regions == nil {
			regions = map[string]*client.RegionStatus{}
		}
		return printJSON(c.stdout, map[string]any{"regions": regions})
	}
	if len(regions) == 0 {
		_, err := fmt.Fprintf(c.stdout, "tenant %s serves no region yet: enable it first\n", tenant)
		return err
	}
	rows := [][]string{{"REGION", "READY", "SINCE", "KEYS"}}
	for _, name := range slices.Sorted(maps.Keys(regions)) {
		st := regions[name]
		var keys []struct {
			ID       string   `json:"id"`
			Failover []string `json:"failover_regions"`
		}
		json.Unmarshal(st.Keys, &keys)
		ids := make([]string, len(keys))
		for i, k := range keys {
			ids[i] = k.ID
			if len(k.Failover) > 0 {
				ids[i] += " (failover " + strings.Join(k.Failover, ", ") + ")"
			}
		}
		rows = append(rows, []string{name, yesNo(st.Ready), st.Since, strings.Join(ids, "; ")})
	}
	return table(c.stdout, rows)
}

func yesNo(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

func runKeyAddRegion(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "key add-region", "byok key add-region [--role-arn ARN] [--json] TENANT REGION [KEY_ARN]")
	role := r.fs.String("role-arn", "", "the customer's role `ARN` (assume_role pattern)")
	pos, err := r.parseAny(args)
	if err != nil {
		return err
	}
	if len(pos) < 2 || len(pos) > 3 {
		return usageErr("want TENANT REGION [KEY_ARN], got %d argument(s)", len(pos))
	}
	keyARN := ""
	if len(pos) == 3 {
		keyARN = pos[2]
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	added, err := cl.AddRegion(ctx, pos[0], pos[1], keyARN, *role)
	if err != nil {
		return failedReports(c, r, err)
	}
	if r.json {
		return printJSON(c.stdout, added)
	}
	_, err = fmt.Fprintf(c.stdout, "tenant %s now served in %s under %s; %d wrapping(s) made\n", pos[0], added.Region, added.KeyARN, added.Wrapped)
	return err
}
