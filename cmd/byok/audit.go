package main

import (
	"context"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/sqlite"
)

// exitAuditFailed means verify found a chain that does not verify.
const exitAuditFailed = 5

const auditUsage = "byok audit verify --db DB [flags] | byok audit export [--db DB] [flags] | byok audit tail [TENANT]"

const (
	auditVerifyUsage = "byok audit verify --db <sqlite path|postgres url> --key ROOTKEYFILE [--tenant ID | --platform]"
	auditExportUsage = "byok audit export [--db <sqlite path|postgres url>] (--tenant ID | --platform) [--from TIME] [--to TIME]"
)

// runAudit verifies the audit log straight from the database, tails it
// through the server, and exports it either way.
func runAudit(ctx context.Context, c *cli, args []string) error {
	return subcommand(ctx, c, "audit", auditUsage, args, subcommands{
		"verify": runAuditVerify, "export": runAuditExport, "tail": runAuditTail,
	})
}

type auditStore interface {
	store.AuditStore
	Close() error
}

// openAuditStore opens an existing database: a postgres:// URL or a SQLite
// file, which must exist (opening would otherwise create an empty one).
func openAuditStore(ctx context.Context, db string) (auditStore, error) {
	if db == "" {
		return nil, usageErr("--db is required: a SQLite file or a postgres:// URL")
	}
	if strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://") {
		return postgres.Open(ctx, postgres.Config{URL: db, MaxConns: 2})
	}
	if _, err := os.Stat(db); errors.Is(err, fs.ErrNotExist) {
		return nil, withHint(exitError, fmt.Errorf("database %s does not exist", db), "give the file byok serve uses (database.sqlite in byok.yaml)")
	}
	return sqlite.Open(ctx, sqlite.Config{Path: db})
}

// chainFlag resolves --tenant / --platform to a chain; "" means every chain.
func chainFlag(tenant string, platform bool) (string, error) {
	switch {
	case tenant != "" && platform:
		return "", usageErr("--tenant and --platform cannot be used together")
	case platform:
		return audit.PlatformChain, nil
	case tenant != "" && !envelope.ValidTenantID(tenant):
		return "", usageErr("--tenant %q is not a tenant id", tenant)
	case tenant != "":
		return audit.ChainOf(tenant), nil
	}
	return "", nil
}

func runAuditVerify(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "audit verify", auditVerifyUsage)
	db := fs.String("db", "", "the database: a SQLite `file` or a postgres:// URL")
	keyPath := fs.String("key", "", "the platform root key `file` (as for byok serve)")
	tenant := fs.String("tenant", "", "verify this tenant's chain only")
	platform := fs.Bool("platform", false, "verify the platform chain only")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	chain, err := chainFlag(*tenant, *platform)
	if err != nil {
		return err
	}
	if *keyPath == "" {
		return usageErr("--key is required: the platform root key file")
	}
	kf, err := loadKeyFile(*keyPath)
	if err != nil {
		return err
	}
	key, err := audit.KeyFromRootFile(kf)
	if err != nil {
		return err
	}
	st, err := openAuditStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	log, err := audit.New(audit.Config{Store: st, Key: key})
	if err != nil {
		return err
	}
	return verifyChains(ctx, c, log, chain)
}

func verifyChains(ctx context.Context, c *cli, log *audit.Log, chain string) error {
	chains := []string{chain}
	if chain == "" {
		var err error
		if chains, err = log.Chains(ctx); err != nil {
			return err
		}
	}
	bad := 0
	for _, ch := range chains {
		res, err := log.Verify(ctx, ch)
		if err != nil {
			return err
		}
		printVerify(c, res)
		if !res.OK {
			bad++
		}
	}
	if bad > 0 {
		return withHint(exitAuditFailed, fmt.Errorf("audit: %d of %d chains do not verify", bad, len(chains)),
			"the rows named were changed outside byok; see docs/audit.md")
	}
	return nil
}

func printVerify(c *cli, r audit.VerifyResult) {
	if r.OK {
		fmt.Fprintf(c.stdout, "%s: ok: %d rows, head %s\n", r.Chain, r.Rows, hex.EncodeToString(r.HeadHash))
		return
	}
	fmt.Fprintf(c.stdout, "%s: %s at row %d: %s\n", r.Chain, r.Problem, r.Seq, r.Reason)
}

// runAuditExport reads the chain from the database with --db, and through
// the server otherwise (where a tenant's auditor may export its own chain).
func runAuditExport(ctx context.Context, c *cli, args []string) error {
	r := newRemoteRaw(c, "audit export", auditExportUsage)
	db := r.fs.String("db", "", "read the database directly: a SQLite `file` or a postgres:// URL (default: ask the server)")
	tenant := r.fs.String("tenant", "", "export this tenant's chain")
	platform := r.fs.Bool("platform", false, "export the platform chain")
	fromS := r.fs.String("from", "", "first event `time` to export, RFC 3339 (default: the start)")
	toS := r.fs.String("to", "", "export events before this `time`, RFC 3339 (default: the end)")
	if _, err := r.parse(args, 0, "no arguments"); err != nil {
		return err
	}
	chain, err := chainFlag(*tenant, *platform)
	if err != nil {
		return err
	}
	if chain == "" {
		return usageErr("say which chain: --tenant ID or --platform")
	}
	from, to, err := timeRange(*fromS, *toS)
	if err != nil {
		return err
	}
	if *db == "" {
		cl, err := r.client()
		if err != nil {
			return err
		}
		return apiErrOrNil(cl.AuditExport(ctx, *tenant, from, to, c.stdout))
	}
	st, err := openAuditStore(ctx, *db)
	if err != nil {
		return err
	}
	defer st.Close()
	return audit.Export(ctx, st, chain, from, to, c.stdout)
}

func timeRange(from, to string) (f, t time.Time, err error) {
	if f, err = parseTime("--from", from); err != nil {
		return f, t, err
	}
	t, err = parseTime("--to", to)
	return f, t, err
}

func parseTime(name, s string) (time.Time, error) {
	if s == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, s)
	if err != nil {
		return t, usageErr("%s %q is not an RFC 3339 time such as 2026-11-22T12:00:00Z", name, s)
	}
	return t, nil
}
