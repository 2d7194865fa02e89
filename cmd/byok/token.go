package main

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/store/postgres"
	"github.com/byok-dev/byok/internal/store/sqlite"
)

const (
	tokenGroupUsage = "byok token bootstrap|create|list|revoke [flags] [args]"
	tokenUsage      = "byok token bootstrap -db PATH|URL [-name NAME]"
)

// runToken handles the token commands: bootstrap works on the database
// directly; create, list and revoke go through the server.
func runToken(ctx context.Context, c *cli, args []string) error {
	return subcommand(ctx, c, "token", tokenGroupUsage, args, subcommands{
		"bootstrap": runBootstrap, "create": runTokenCreate, "list": runTokenList, "revoke": runTokenRevoke,
	})
}

// runBootstrap prints the first owner token. It opens the store itself, so
// it needs no running server and no token: whoever may write the database
// may do it, and only while no live owner token exists.
func runBootstrap(ctx context.Context, c *cli, args []string) error {
	fs := newFlags(c, "token bootstrap", tokenUsage)
	db := fs.String("db", "", "SQLite database `path`, or a postgres:// URL")
	name := fs.String("name", "bootstrap", "the token's `name`, shown in lists and audit records")
	if err := parseFlags(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usageErr("token bootstrap takes no arguments, got %q", fs.Arg(0))
	}
	if *db == "" {
		return usageErr("say which database: -db PATH (SQLite) or -db postgres://...")
	}
	created := isNewFile(*db)
	s, err := openStore(ctx, *db)
	if err != nil {
		return withHint(exitError, err, "check -db: a SQLite file path or a postgres:// URL the server uses")
	}
	defer s.Close()
	if created {
		// A typo in the path would otherwise bootstrap a database no
		// server reads, silently.
		fmt.Fprintf(c.stderr, "byok: hint: %s did not exist and was created; give byok serve the same database\n", *db)
	}
	return bootstrap(ctx, c, s, *name)
}

func isNewFile(db string) bool {
	if isPostgresURL(db) {
		return false
	}
	_, err := os.Stat(db)
	return errors.Is(err, fs.ErrNotExist)
}

func isPostgresURL(db string) bool {
	return strings.HasPrefix(db, "postgres://") || strings.HasPrefix(db, "postgresql://")
}

func bootstrap(ctx context.Context, c *cli, s store.Store, name string) error {
	plain, info, err := auth.NewTokens(s, nil).Bootstrap(ctx, name)
	switch {
	case errors.Is(err, auth.ErrConflict):
		return withHint(exitError, err, "create more tokens with an owner token through the API; bootstrap works again only once every owner token is revoked or expired")
	case errors.Is(err, auth.ErrInvalid):
		return usageErr("%v", err)
	case err != nil:
		return err
	}
	if _, err := fmt.Fprintln(c.stdout, plain); err != nil {
		return err
	}
	fmt.Fprintf(c.stderr, "byok: created owner token %s (%q), expires %s\n", info.ID, info.Name, info.Expires.Format(time.DateOnly))
	fmt.Fprintln(c.stderr, "byok: hint: store this token in a secret manager now: it is shown only once, and byok keeps only its hash")
	return nil
}

func openStore(ctx context.Context, db string) (store.Store, error) {
	if isPostgresURL(db) {
		return postgres.Open(ctx, postgres.Config{URL: db})
	}
	return sqlite.Open(ctx, sqlite.Config{Path: db})
}
