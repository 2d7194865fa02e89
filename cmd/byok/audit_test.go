package main

import (
	"context"
	"database/sql"
	"os"
	"testing"
	"time"

	"github.com/rogpeppe/go-internal/testscript"

	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/internal/store/sqlite"
)

// TestAuditScripts runs the golden scripts of byok audit, which need a
// database holding a chain (auditseed) and raw SQL to tamper with it (sql).
func TestAuditScripts(t *testing.T) {
	testscript.Run(t, testscript.Params{
		Dir: "testdata/audit",
		Cmds: map[string]func(ts *testscript.TestScript, neg bool, args []string){
			"exits":     cmdExits,
			"auditseed": cmdAuditSeed,
			"sql":       cmdSQL,
		},
	})
}

// auditseed DB ROOTKEY writes a fixed history to a new SQLite database:
// six rows on tenant acme's chain (the last one counting three data-plane
// calls) and one on the platform chain, at fixed times.
func cmdAuditSeed(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: auditseed DB ROOTKEY")
	}
	ctx := context.Background()
	st, err := sqlite.Open(ctx, sqlite.Config{Path: ts.MkAbs(args[0])})
	ts.Check(err)
	defer st.Close()
	data, err := os.ReadFile(ts.MkAbs(args[1]))
	ts.Check(err)
	kf, err := keyfile.Parse(data)
	ts.Check(err)
	key, err := audit.KeyFromRootFile(kf)
	ts.Check(err)
	now := time.Date(2026, 11, 22, 12, 0, 0, 0, time.UTC)
	log, err := audit.New(audit.Config{Store: st, Key: key, Now: func() time.Time { return now }})
	ts.Check(err)
	for _, e := range seedEvents(now) {
		ts.Check(log.Record(ctx, e))
	}
	ts.Check(log.Flush(ctx))
}

func seedEvents(t time.Time) []audit.Event {
	const arn = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1234abcd"
	alice := "token:tk_1 (alice)"
	at := func(s int) time.Time { return t.Add(time.Duration(s) * time.Second) }
	return []audit.Event{
		{Time: at(1), Actor: "system:serve", Action: "platform.start", Outcome: "ok"},
		{Time: at(2), Tenant: "acme", Actor: alice, Action: "tenant.create", Outcome: "ok", RequestID: "r1"},
		{Time: at(3), Tenant: "acme", Actor: alice, Action: "key.attach", KeyARN: arn, Outcome: "ok", RequestID: "r2"},
		{Time: at(4), Tenant: "acme", Actor: alice, Action: "kms.Decrypt", KeyARN: arn, KMSRequestID: "0f2e6c1a-7b1d-4c55-9b8e-5d2a8f0c1e11",
			Outcome: "key_access_denied", RequestID: "r3", Details: map[string]string{"op": "unwrap"}},
		{Time: at(5), Tenant: "acme", Actor: alice, Action: "key.enable", KeyARN: arn, Outcome: "ok", RequestID: "r4"},
		{Time: at(6), Tenant: "acme", Actor: alice, Action: "key.validate", KeyARN: arn, Outcome: "ok", RequestID: "r5"},
		{Time: at(7), Tenant: "acme", Actor: "token:svc (backend)", Action: audit.ActionDataEncrypt, Outcome: "ok"},
		{Time: at(8), Tenant: "acme", Actor: "token:svc (backend)", Action: audit.ActionDataEncrypt, Outcome: "ok", Count: 2},
	}
}

// sql DB STATEMENT runs one statement on a SQLite database, as someone
// with write access to the file could.
func cmdSQL(ts *testscript.TestScript, neg bool, args []string) {
	if neg || len(args) != 2 {
		ts.Fatalf("usage: sql DB STATEMENT")
	}
	db, err := sql.Open("sqlite", ts.MkAbs(args[0]))
	ts.Check(err)
	defer db.Close()
	_, err = db.Exec(args[1])
	ts.Check(err)
}
