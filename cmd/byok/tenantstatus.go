package main

import (
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strconv"

	"github.com/byok-dev/byok/client"
)

// runTenantStatus prints what the server knows of a tenant's state: why it
// is in it, what the key health monitor does about it, its key versions,
// regions and latest probes.
func runTenantStatus(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant status", "byok tenant status [--health N] [--json] TENANT")
	health := r.fs.Int("health", 5, "show the newest `N` key health probes (0 to 1000)")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	if *health < 0 || *health > 1000 {
		return usageErr("--health must be from 0 to 1000, got %d", *health)
	}
	st, err := cl.Status(ctx, tenant, *health)
	if err != nil {
		return apiErr(err)
	}
	if *health == 0 {
		st.Health = []*client.HealthRecord{}
	}
	return printStatus(c, r, st, *health > 0)
}

// runTenantRestore brings an archived tenant back once its customer has
// made the key usable again.
func runTenantRestore(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "tenant restore", "byok tenant restore [--json] TENANT")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	st, err := cl.Restore(ctx, tenant)
	if err != nil {
		return restoreErr(err)
	}
	if !r.json {
		fmt.Fprintf(c.stdout, "restored tenant %s: its key answered and it is %s again\n\n", tenant, st.State)
	}
	return printStatus(c, r, st, true)
}

// restoreHints say what to do about the refusals only a restore meets.
var restoreHints = map[string]string{
	"tenant_not_archived":    "run 'byok tenant status TENANT': only an archived tenant needs restoring",
	"key_unavailable":        "the customer must make the key usable again (enable it, fix the key policy or role); then restore again",
	"restore_window_expired": "the tenant can no longer be restored; its data stays until it is offboarded",
	"region_not_ready":       "restore through a server of a region that serves the tenant ('byok tenant status TENANT' lists its regions)",
}

func restoreErr(err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && restoreHints[ce.Code] != "" {
		return withHint(exitRefused, fmt.Errorf("%s: %s", ce.Code, ce.Message), restoreHints[ce.Code])
	}
	return apiErr(err)
}

func printStatus(c *cli, r *remote, st *client.TenantStatus, health bool) error {
	if r.json {
		return printJSON(c.stdout, st)
	}
	if err := table(c.stdout, statusRows(st)); err != nil {
		return err
	}
	if err := printVersions(c, st.KeyVersions); err != nil {
		return err
	}
	if err := printRegions(c, st.Regions); err != nil || !health {
		return err
	}
	return printHealth(c, st.Health)
}

func statusRows(st *client.TenantStatus) [][]string {
	state := st.State
	if !st.ArchivedAt.IsZero() {
		state += " (archived)"
	}
	return [][]string{
		{"tenant:", st.Tenant}, {"state:", state}, {"halted:", yesWhy(st.Halted, "ingestion and background work refused")},
		{"degraded:", yesWhy(st.Degraded, "the last probe failed transiently")},
		{"unavailable since:", fmtTime(st.UnavailableSince)}, {"reason:", orDash(st.Reason)},
		{"next probe:", fmtTime(st.NextProbe)}, {"deletion date:", fmtTime(st.DeletionDate)},
		{"archived:", fmtTime(st.ArchivedAt)}, {"restore until:", fmtTime(st.RestoreUntil)},
	}
}

// yesWhy says yes and why, or no.
func yesWhy(b bool, why string) string {
	if b {
		return "yes: " + why
	}
	return "no"
}

func printVersions(c *cli, vs []*client.KeyVersion) error {
	fmt.Fprintln(c.stdout)
	if len(vs) == 0 {
		_, err := fmt.Fprintln(c.stdout, "no key version")
		return err
	}
	rows := [][]string{{"VERSION", "CREATED", "REGION", "KEY"}}
	for _, v := range vs {
		n, created := strconv.FormatUint(uint64(v.Version), 10), fmtTime(v.Created)
		if len(v.Wrappings) == 0 {
			rows = append(rows, []string{n, created, "-", "-"})
		}
		for _, w := range v.Wrappings {
			rows = append(rows, []string{n, created, orDash(w.Region), w.Key})
		}
	}
	return table(c.stdout, rows)
}

func printRegions(c *cli, regions map[string]*client.RegionStatus) error {
	fmt.Fprintln(c.stdout)
	if len(regions) == 0 {
		_, err := fmt.Fprintln(c.stdout, "no region serves the tenant yet")
		return err
	}
	rows := [][]string{{"REGION", "READY", "SINCE", "KEY STATE", "REASON", "KEY STATE SINCE"}}
	for _, name := range slices.Sorted(maps.Keys(regions)) {
		r := regions[name]
		row := []string{name, yesNo(r.Ready), orDash(r.Since), "-", "-", "-"}
		if h := r.Health; h != nil { // nil: no instance hosting the region probed it yet
			row[3], row[4], row[5] = h.State, orDash(h.Reason), fmtTime(h.Since)
		}
		rows = append(rows, row)
	}
	return table(c.stdout, rows)
}
