package audit

import (
	"database/sql"
	"errors"
	"fmt"
	"strings"
	"testing"
)

// tamper is one way an attacker with write access changes the database.
type tamper struct {
	name    string
	do      func(t *testing.T, db *sql.DB, b backend)
	problem Problem
	seq     int64
}

const acme = "tenant:acme"

func exec(t *testing.T, db *sql.DB, query string, args ...any) {
	t.Helper()
	if _, err := db.ExecContext(ctx, fmt.Sprintf(query, args...)); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// renumber moves rows from..to of acme by delta, one at a time so the
// primary key never sees two rows with one seq.
func renumber(t *testing.T, db *sql.DB, from, to, delta int) {
	step, start, end := 1, from, to
	if delta > 0 {
		step, start, end = -1, to, from
	}
	for s := start; s != end+step; s += step {
		exec(t, db, `UPDATE audit_rows SET seq = %d WHERE chain = '%s' AND seq = %d`, s+delta, acme, s)
	}
}

var tampers = []tamper{
	{name: "edit an event", problem: Edited, seq: 3, do: func(t *testing.T, db *sql.DB, b backend) {
		exec(t, db, b.editSQL, 3)
	}},
	{name: "edit a hash", problem: Edited, seq: 4, do: func(t *testing.T, db *sql.DB, _ backend) {
		exec(t, db, `UPDATE audit_rows SET hash = (SELECT hash FROM audit_rows WHERE chain = '%[1]s' AND seq = 1) WHERE chain = '%[1]s' AND seq = 4`, acme)
	}},
	{name: "delete a middle row", problem: Deleted, seq: 3, do: func(t *testing.T, db *sql.DB, _ backend) {
		exec(t, db, `DELETE FROM audit_rows WHERE chain = '%s' AND seq = 3`, acme)
	}},
	{name: "delete a middle row and renumber", problem: Deleted, seq: 3, do: func(t *testing.T, db *sql.DB, _ backend) {
		exec(t, db, `DELETE FROM audit_rows WHERE chain = '%s' AND seq = 3`, acme)
		renumber(t, db, 4, 6, -1)
	}},
	{name: "insert a row in the middle", problem: Inserted, seq: 3, do: func(t *testing.T, db *sql.DB, _ backend) {
		renumber(t, db, 3, 6, 1)
		exec(t, db, `INSERT INTO audit_rows (chain, seq, at, event, prev, hash)
			SELECT chain, 3, at, event, prev, hash FROM audit_rows WHERE chain = '%s' AND seq = 1`, acme)
	}},
	{name: "append a row after the checkpoint", problem: Inserted, seq: 7, do: func(t *testing.T, db *sql.DB, _ backend) {
		exec(t, db, `INSERT INTO audit_rows (chain, seq, at, event, prev, hash)
			SELECT chain, 7, at, event, prev, hash FROM audit_rows WHERE chain = '%s' AND seq = 6`, acme)
	}},
	{name: "swap two rows", problem: Reordered, seq: 3, do: func(t *testing.T, db *sql.DB, _ backend) {
		exec(t, db, `UPDATE audit_rows SET seq = 1000 WHERE chain = '%s' AND seq = 3`, acme)
		exec(t, db, `UPDATE audit_rows SET seq = 3 WHERE chain = '%s' AND seq = 4`, acme)
		exec(t, db, `UPDATE audit_rows SET seq = 4 WHERE chain = '%s' AND seq = 1000`, acme)
	}},
	{name: "swap two distant rows", problem: Reordered, seq: 2, do: func(t *testing.T, db *sql.DB, _ backend) {
		exec(t, db, `UPDATE audit_rows SET seq = 1000 WHERE chain = '%s' AND seq = 2`, acme)
		exec(t, db, `UPDATE audit_rows SET seq = 2 WHERE chain = '%s' AND seq = 5`, acme)
		exec(t, db, `UPDATE audit_rows SET seq = 5 WHERE chain = '%s' AND seq = 1000`, acme)
	}},
	{name: "delete the tail", problem: Truncated, seq: 5, do: func(t *testing.T, db *sql.DB, _ backend) {
		exec(t, db, `DELETE FROM audit_rows WHERE chain = '%s' AND seq >= 5`, acme)
	}},
	{name: "delete the tail and move the checkpoint", problem: BadCheckpoint, seq: 4, do: func(t *testing.T, db *sql.DB, _ backend) {
		exec(t, db, `DELETE FROM audit_rows WHERE chain = '%s' AND seq >= 5`, acme)
		exec(t, db, `UPDATE audit_heads SET seq = 4, hash = (SELECT hash FROM audit_rows WHERE chain = '%[1]s' AND seq = 4) WHERE chain = '%[1]s'`, acme)
	}},
	{name: "delete the checkpoint", problem: BadCheckpoint, seq: 6, do: func(t *testing.T, db *sql.DB, _ backend) {
		exec(t, db, `DELETE FROM audit_heads WHERE chain = '%s'`, acme)
	}},
}

func TestTamper(t *testing.T) {
	forEachBackend(t, func(t *testing.T, b backend) {
		for _, tc := range tampers {
			t.Run(strings.ReplaceAll(tc.name, " ", "_"), func(t *testing.T) {
				s, db := b.open(t)
				l := newLog(t, s, nil)
				for i := range 6 {
					mustRecord(t, l, control("acme", fmt.Sprintf("key.step%d", i)))
				}
				if res := mustVerify(t, l, acme); !res.OK || res.Rows != 6 {
					t.Fatalf("Verify() before tampering = %+v, want OK with 6 rows", res)
				}
				tc.do(t, db, b)
				res := mustVerify(t, l, acme)
				if res.OK || res.Problem != tc.problem || res.Seq != tc.seq {
					t.Fatalf("Verify() = %+v, want %v at seq %d", res, tc.problem, tc.seq)
				}
				if !strings.Contains(res.Reason, fmt.Sprint(tc.seq)) {
					t.Errorf("Reason %q does not name row %d", res.Reason, tc.seq)
				}
			})
		}
	})
}

// TestOtherKey checks that a chain does not verify under another key: the
// MACs are keyed, so recomputing a chain needs the platform secret.
func TestOtherKey(t *testing.T) {
	s, _ := openSQLite(t)
	l := newLog(t, s, nil)
	mustRecord(t, l, control("acme", "tenant.create"))
	other, err := New(Config{Store: s, Key: mustKey(t, 7)})
	if err != nil {
		t.Fatal(err)
	}
	res := mustVerify(t, other, acme)
	if res.OK || res.Problem != Edited || res.Seq != 1 {
		t.Fatalf("Verify() with another key = %+v, want edited at row 1", res)
	}
}

func mustKey(t *testing.T, fill byte) Key {
	t.Helper()
	b := make([]byte, KeySize)
	for i := range b {
		b[i] = fill
	}
	k, err := NewKey(b)
	if err != nil {
		t.Fatal(err)
	}
	return k
}

// TestPageBoundary verifies a chain longer than one page and finds a row
// inserted where a page ends.
func TestPageBoundary(t *testing.T) {
	s, db := openSQLite(t)
	l := newLog(t, s, nil)
	const n = 1100 // over store.MaxPageSize
	for i := range n {
		e := data("acme", ActionDataEncrypt, OutcomeOK, t0)
		e.Actor = fmt.Sprintf("token:%04d", i)
		mustRecord(t, l, e)
	}
	if err := l.Flush(ctx); err != nil {
		t.Fatal(err)
	}
	if res := mustVerify(t, l, acme); !res.OK || res.Rows != n {
		t.Fatalf("Verify() = %+v, want OK with %d rows", res, n)
	}
	exec(t, db, `UPDATE audit_rows SET seq = seq + 10000 WHERE chain = '%s' AND seq >= 1000`, acme)
	exec(t, db, `UPDATE audit_rows SET seq = seq - 9999 WHERE chain = '%s' AND seq >= 10000`, acme)
	exec(t, db, `INSERT INTO audit_rows (chain, seq, at, event, prev, hash)
		SELECT chain, 1000, at, event, prev, hash FROM audit_rows WHERE chain = '%s' AND seq = 1`, acme)
	res := mustVerify(t, l, acme)
	if res.Problem != Inserted || res.Seq != 1000 {
		t.Fatalf("Verify() = %+v, want inserted at row 1000", res)
	}
}

// NewKey returns a Key holding a copy of b, which must be KeySize bytes:
// a fixed key for tests.
func NewKey(b []byte) (Key, error) {
	if len(b) != KeySize {
		return Key{}, errors.New("audit: key must be 32 bytes")
	}
	var k Key
	copy(k.k[:], b)
	k.set = true
	return k, nil
}
