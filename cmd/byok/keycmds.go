package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/errcode"
)

func runKey(ctx context.Context, c *cli, args []string) error {
	return subcommand(ctx, c, "key", keyUsage, args, map[string]func(context.Context, *cli, []string) error{
		"artifacts": runKeyArtifacts, "attach": runKeyAttach, "validate": runKeyValidate,
		"enable": runKeyEnable, "rotate": runKeyRotate, "change": runKeyChange,
		"regions": runKeyRegions, "add-region": runKeyAddRegion,
	})
}

// runKeyArtifacts prints one onboarding artifact, or writes the whole bundle
// into a folder.
func runKeyArtifacts(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "key artifacts", "byok key artifacts --region REGION [--format F | --dir DIR] [flags] TENANT")
	var req client.ArtifactRequest
	r.fs.StringVar(&req.Region, "region", "", "the hosting `region` (required)")
	r.fs.StringVar(&req.Pattern, "pattern", "", "direct (default) or assume_role")
	r.fs.StringVar(&req.KeyARN, "key-arn", "", "the customer's existing key `ARN`, if any")
	r.fs.StringVar(&req.Account, "account", "", "the customer's AWS `account` id, when there is no key yet")
	r.fs.StringVar(&req.RoleName, "role-name", "", "the customer's role `name` (assume_role; default byok-TENANT)")
	r.fs.StringVar(&req.RoleAccount, "role-account", "", "the role's `account` id when it is not the key's (assume_role)")
	format := r.fs.String("format", client.FormatKeyPolicy, "key-policy, key-policy-statements, trust-policy, role-policy, cloudformation, terraform, cloudformation-role-account or terraform-role-account")
	dir := r.fs.String("dir", "", "write every artifact into this `folder` instead")
	pos, err := r.parse(args, 1, "one tenant id")
	if err != nil {
		return err
	}
	if req.Region == "" {
		return usageErr("--region is required")
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	if *dir != "" {
		return writeArtifacts(ctx, c, cl, pos[0], req, *dir)
	}
	b, err := cl.Artifact(ctx, pos[0], *format, req)
	if err != nil {
		return apiErr(err)
	}
	_, err = c.stdout.Write(b)
	return err
}

func writeArtifacts(ctx context.Context, c *cli, cl *client.Client, id string, req client.ArtifactRequest, dir string) error {
	files, err := cl.Artifacts(ctx, id, req)
	if err != nil {
		return apiErr(err)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for _, f := range files {
		// The server names the files; a name that is not local to the folder
		// keeps only its base name, so that it can never climb out of it.
		// role-account/main.tf stays in its own folder: a root module of its own.
		name := filepath.FromSlash(f.Name)
		if !filepath.IsLocal(name) {
			name = filepath.Base(name)
		}
		path := filepath.Join(dir, name)
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(path, []byte(f.Content), 0o644); err != nil {
			return err
		}
		fmt.Fprintln(c.stdout, path)
	}
	return nil
}

func runKeyAttach(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "key attach", "byok key attach [--role-arn ARN] [--json] TENANT REGION KEY_ARN")
	role := r.fs.String("role-arn", "", "the customer's role `ARN` (assume_role pattern)")
	pos, err := r.parse(args, 3, "TENANT REGION KEY_ARN")
	if err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	a, err := cl.AttachKey(ctx, pos[0], pos[1], pos[2], *role)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, a)
	}
	_, err = fmt.Fprintf(c.stdout, "attached %s to tenant %s in %s (%s)\n", a.KeyARN, a.Tenant, a.Region, a.AccessPattern)
	return err
}

func runKeyValidate(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "key validate", "byok key validate [--json] TENANT")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	v, err := cl.Validate(ctx, tenant)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		err = printJSON(c.stdout, v)
	} else {
		printReports(c, v.Reports)
	}
	if err == nil && !v.OK {
		return &cliError{code: exitRefused, err: errors.New("validation failed"), hint: errcode.Hint("validation_failed")}
	}
	return err
}

// printReports prints validation reports check by check.
func printReports(c *cli, reports []*client.RegionReport) {
	for _, rr := range reports {
		fmt.Fprintf(c.stdout, "%s  %s\n", rr.Region, rr.Report.KeyARN)
		for _, ch := range rr.Report.Checks {
			fmt.Fprintf(c.stdout, "  %s %-28s %s\n", mark(ch.Status), ch.ID, ch.Message)
			if ch.Fix != "" && ch.Status != "pass" {
				fmt.Fprintf(c.stdout, "      fix: %s\n", ch.Fix)
			}
		}
	}
}

func mark(status string) string {
	switch status {
	case "pass":
		return "✓"
	case "fail":
		return "✗"
	case "warn":
		return "!"
	case "info":
		return "i"
	}
	return "-" // skipped: an earlier check failed
}

func runKeyEnable(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "key enable", "byok key enable [--json] TENANT")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	e, err := cl.Enable(ctx, tenant)
	if err != nil {
		return failedReports(c, r, err)
	}
	if r.json {
		return printJSON(c.stdout, e)
	}
	if e.CreatedVersion != 0 {
		_, err = fmt.Fprintf(c.stdout, "tenant %s is %s: key version %d created under the customer's key\n",
			e.Tenant.ID, e.Tenant.State, e.CreatedVersion)
		return err
	}
	// The tenant already had versions under the platform's key (it served
	// data while pending): they moved.
	_, err = fmt.Fprintf(c.stdout, "tenant %s is %s: %d existing key version(s) rewrapped under the customer's key\n",
		e.Tenant.ID, e.Tenant.State, e.Rewrapped)
	return err
}

// failedReports prints the check-by-check reports a validation_failed error
// carries before reporting the error itself.
func failedReports(c *cli, r *remote, err error) error {
	var ce *client.Error
	if errors.As(err, &ce) && ce.Code == "validation_failed" {
		if reports, rerr := ce.Reports(); rerr == nil {
			if r.json {
				printJSON(c.stdout, map[string]any{"ok": false, "reports": reports})
			} else {
				printReports(c, reports)
			}
		}
	}
	return apiErr(err)
}

func runKeyRotate(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "key rotate", "byok key rotate [--json] TENANT")
	tenant, cl, err := r.forTenant(args)
	if err != nil {
		return err
	}
	v, err := cl.Rotate(ctx, tenant)
	if err != nil {
		return apiErr(err)
	}
	if r.json {
		return printJSON(c.stdout, v)
	}
	_, err = fmt.Fprintf(c.stdout, "tenant %s: key version %d created %s, wrapped by %d key(s)\n", tenant, v.Version, fmtTime(v.Created), len(v.Keys))
	return err
}

// runKeyChange moves a tenant to another customer key; with stderr on a
// terminal it shows the rewrap's progress while the call runs.
func runKeyChange(ctx context.Context, c *cli, args []string) error {
	r := newRemote(c, "key change", "byok key change [--role-arn ARN] [--json] TENANT REGION NEW_KEY_ARN")
	role := r.fs.String("role-arn", "", "the customer's role `ARN` (assume_role pattern)")
	pos, err := r.parse(args, 3, "TENANT REGION NEW_KEY_ARN")
	if err != nil {
		return err
	}
	cl, err := r.client()
	if err != nil {
		return err
	}
	stop := watchKeyChange(ctx, c, cl, pos[0])
	kc, err := cl.ChangeKey(ctx, pos[0], pos[1], pos[2], *role)
	stop()
	if err != nil {
		return failedReports(c, r, err)
	}
	if r.json {
		return printJSON(c.stdout, kc)
	}
	_, err = fmt.Fprintf(c.stdout, "tenant %s in %s: %s -> %s; %d wrapping(s) made under the new key, %d key version(s) released from the old\n",
		pos[0], kc.Region, kc.From, kc.To, kc.Wrapped, kc.Dropped)
	return err
}

// watchKeyChange polls the key change's progress onto a terminal's stderr
// until the returned stop is called.
func watchKeyChange(ctx context.Context, c *cli, cl *client.Client, id string) func() {
	p := newProgress(c, "rewrap", 0)
	if p == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for t := time.NewTicker(500 * time.Millisecond); ; {
			select {
			case <-ctx.Done():
				t.Stop()
				return
			case <-t.C:
			}
			if st, err := cl.KeyChangeStatus(ctx, id); err == nil && st.Running {
				p.set(rewrapDone(st))
			}
		}
	}()
	return func() { cancel(); <-done; p.finish() }
}

func rewrapDone(st *client.KeyChangeStatus) (done, total int64) {
	for _, r := range st.Regions {
		done, total = done+int64(r.Done), total+int64(r.Total)
	}
	return done, total
}
