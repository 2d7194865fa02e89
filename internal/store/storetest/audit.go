package storetest

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

// AuditOpener returns a new, empty audit store, closed when t ends.
type AuditOpener func(t *testing.T) store.AuditStore

// AuditPairOpener returns two audit stores open on the same new database.
type AuditPairOpener func(t *testing.T) (a, b store.AuditStore)

// RunAudit checks the [store.AuditStore] contract: appends continue the
// head they were given, malformed appends write nothing, pages and chain
// listings, and concurrent appends to one chain never fork it.
func RunAudit(t *testing.T, open AuditOpener) {
	suites := map[string]func(*testing.T, store.AuditStore){
		"AppendRead":      testAuditAppendRead,
		"BuildError":      testAuditBuildError,
		"AppendInvalid":   testAuditAppendInvalid,
		"Pages":           testAuditPages,
		"Chains":          testAuditChains,
		"ReadErrors":      testAuditReadErrors,
		"ConcurrentChain": func(t *testing.T, s store.AuditStore) { raceAudit(t, s, s) },
	}
	for _, name := range sortedKeys(suites) {
		fn := suites[name]
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			fn(t, open(t))
		})
	}
}

// RunAuditShared checks that two stores on one database append to one
// chain in turn, as two server instances would.
func RunAuditShared(t *testing.T, open AuditPairOpener) {
	t.Run("ConcurrentInstances", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		raceAudit(t, a, b)
	})
}

var auditEpoch = time.Date(2026, 3, 1, 12, 0, 0, 123456000, time.UTC)

// link hashes prev and event, standing in for the audit package's MAC.
func link(prev, event []byte) []byte {
	h := sha256.Sum256(append(append([]byte{}, prev...), event...))
	return h[:]
}

// chainBuild returns a build function appending n linked rows.
func chainBuild(chain string, n int, tag string) func(store.AuditHead) ([]store.AuditRow, store.AuditHead, error) {
	return func(head store.AuditHead) ([]store.AuditRow, store.AuditHead, error) {
		prev, seq := head.Hash, head.Seq
		if seq == 0 {
			prev = make([]byte, 32)
		}
		var rows []store.AuditRow
		for range n {
			seq++
			ev := []byte(fmt.Sprintf(`{"tag":%q,"seq":%d}`, tag, seq))
			h := link(prev, ev)
			rows = append(rows, store.AuditRow{Chain: chain, Seq: seq, At: auditEpoch.Add(time.Duration(seq) * time.Second),
				Event: ev, Prev: bytes.Clone(prev), Hash: h})
			prev = h
		}
		return rows, store.AuditHead{Chain: chain, Seq: seq, Hash: prev, MAC: link(nil, prev)}, nil
	}
}

func mustAppend(t *testing.T, s store.AuditStore, chain string, n int) {
	t.Helper()
	if err := s.AppendAudit(ctx, chain, chainBuild(chain, n, "t")); err != nil {
		t.Fatalf("AppendAudit(%s, %d rows) err = %v", chain, n, err)
	}
}

func allRows(t *testing.T, s store.AuditStore, chain string) []store.AuditRow {
	t.Helper()
	var out []store.AuditRow
	var after int64
	for {
		rows, err := s.AuditRows(ctx, chain, after, 7)
		if err != nil {
			t.Fatalf("AuditRows(%s, %d) err = %v", chain, after, err)
		}
		if len(rows) == 0 {
			return out
		}
		out = append(out, rows...)
		after = rows[len(rows)-1].Seq
	}
}

func testAuditAppendRead(t *testing.T, s store.AuditStore) {
	if _, err := s.AuditHead(ctx, "tenant:acme"); !errors.Is(err, store.ErrNotFound) {
		t.Fatalf("AuditHead() of a new chain err = %v, want ErrNotFound", err)
	}
	var got store.AuditHead
	err := s.AppendAudit(ctx, "tenant:acme", func(h store.AuditHead) ([]store.AuditRow, store.AuditHead, error) {
		got = h
		return chainBuild("tenant:acme", 2, "a")(h)
	})
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "head given to the first build", got, store.AuditHead{Chain: "tenant:acme"})
	wantRows, wantHead, _ := chainBuild("tenant:acme", 2, "a")(store.AuditHead{Chain: "tenant:acme"})
	diff(t, "AuditRows()", allRows(t, s, "tenant:acme"), wantRows)
	head, err := s.AuditHead(ctx, "tenant:acme")
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "AuditHead()", head, wantHead)
	mustAppend(t, s, "tenant:acme", 3)
	checkLinked(t, allRows(t, s, "tenant:acme"), 5)
}

// checkLinked fails unless rows are seq 1..n, each linked to the one before.
func checkLinked(t *testing.T, rows []store.AuditRow, n int) {
	t.Helper()
	if len(rows) != n {
		t.Fatalf("chain has %d rows, want %d", len(rows), n)
	}
	prev := make([]byte, 32)
	for i, r := range rows {
		if r.Seq != int64(i+1) || string(r.Prev) != string(prev) || string(r.Hash) != string(link(prev, r.Event)) {
			t.Fatalf("row %d (seq %d) does not continue the chain", i, r.Seq)
		}
		prev = r.Hash
	}
}

func testAuditBuildError(t *testing.T, s store.AuditStore) {
	mustAppend(t, s, "platform", 1)
	boom := errors.New("boom")
	err := s.AppendAudit(ctx, "platform", func(store.AuditHead) ([]store.AuditRow, store.AuditHead, error) {
		return nil, store.AuditHead{}, boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("AppendAudit() err = %v, want the build's error", err)
	}
	checkLinked(t, allRows(t, s, "platform"), 1)
}

func testAuditAppendInvalid(t *testing.T, s store.AuditStore) {
	mustAppend(t, s, "platform", 2)
	cases := map[string]func([]store.AuditRow, store.AuditHead) ([]store.AuditRow, store.AuditHead){
		"gap": func(r []store.AuditRow, h store.AuditHead) ([]store.AuditRow, store.AuditHead) {
			r[0].Seq++
			return r, h
		},
		"other chain": func(r []store.AuditRow, h store.AuditHead) ([]store.AuditRow, store.AuditHead) {
			r[1].Chain = "x"
			return r, h
		},
		"no event": func(r []store.AuditRow, h store.AuditHead) ([]store.AuditRow, store.AuditHead) {
			r[0].Event = nil
			return r, h
		},
		"no hash": func(r []store.AuditRow, h store.AuditHead) ([]store.AuditRow, store.AuditHead) {
			r[1].Hash = nil
			return r, h
		},
		"head behind": func(r []store.AuditRow, h store.AuditHead) ([]store.AuditRow, store.AuditHead) { h.Seq--; return r, h },
		"head chain": func(r []store.AuditRow, h store.AuditHead) ([]store.AuditRow, store.AuditHead) {
			h.Chain = "x"
			return r, h
		},
	}
	for name, spoil := range cases {
		err := s.AppendAudit(ctx, "platform", func(h store.AuditHead) ([]store.AuditRow, store.AuditHead, error) {
			rows, next, _ := chainBuild("platform", 2, "bad")(h)
			rows, next = spoil(rows, next)
			return rows, next, nil
		})
		wantErr(t, "AppendAudit("+name+")", err, store.ErrInvalid)
	}
	err := s.AppendAudit(ctx, "", chainBuild("", 1, "x"))
	wantErr(t, "AppendAudit(empty chain)", err, store.ErrInvalid)
	checkLinked(t, allRows(t, s, "platform"), 2)
}

func testAuditPages(t *testing.T, s store.AuditStore) {
	mustAppend(t, s, "tenant:acme", 10)
	page, err := s.AuditRows(ctx, "tenant:acme", 3, 4)
	if err != nil {
		t.Fatal(err)
	}
	var seqs []int64
	for _, r := range page {
		seqs = append(seqs, r.Seq)
	}
	diff(t, "AuditRows(after 3, limit 4) seqs", seqs, []int64{4, 5, 6, 7})
	rest, err := s.AuditRows(ctx, "tenant:acme", 7, 0)
	if err != nil || len(rest) != 3 {
		t.Fatalf("AuditRows(after 7) = %d rows, %v; want 3", len(rest), err)
	}
	none, err := s.AuditRows(ctx, "tenant:other", 0, 0)
	if err != nil || len(none) != 0 {
		t.Fatalf("AuditRows(unknown chain) = %d rows, %v; want none", len(none), err)
	}
}

func testAuditChains(t *testing.T, s store.AuditStore) {
	got, err := s.AuditChains(ctx)
	if err != nil || len(got) != 0 {
		t.Fatalf("AuditChains() of an empty store = %v, %v", got, err)
	}
	for _, c := range []string{"tenant:b", "platform", "tenant:a"} {
		mustAppend(t, s, c, 1)
	}
	got, err = s.AuditChains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "AuditChains()", got, []string{"platform", "tenant:a", "tenant:b"})
}

func testAuditReadErrors(t *testing.T, s store.AuditStore) {
	_, err := s.AuditRows(ctx, "platform", 0, store.MaxPageSize+1)
	wantErr(t, "AuditRows(limit too big)", err, store.ErrInvalid)
	_, err = s.AuditRows(ctx, "platform", 0, -1)
	wantErr(t, "AuditRows(negative limit)", err, store.ErrInvalid)
	_, err = s.AuditHead(ctx, "")
	wantErr(t, "AuditHead(\"\")", err, store.ErrInvalid)
}

// raceAudit appends from many goroutines, alternating between a and b,
// and checks that the chain came out whole.
func raceAudit(t *testing.T, a, b store.AuditStore) {
	const workers, each = 12, 5
	errs := make([]error, workers)
	var wg sync.WaitGroup
	for i := range workers {
		s := []store.AuditStore{a, b}[i%2]
		wg.Go(func() {
			for j := range each {
				if err := s.AppendAudit(ctx, "tenant:race", chainBuild("tenant:race", 1+j%2, fmt.Sprint(i))); err != nil {
					errs[i] = err
					return
				}
			}
		})
	}
	wg.Wait()
	if err := errors.Join(errs...); err != nil {
		t.Fatalf("concurrent AppendAudit() err = %v", err)
	}
	rowsPer := 0
	for j := range each {
		rowsPer += 1 + j%2
	}
	checkLinked(t, allRows(t, a, "tenant:race"), workers*rowsPer)
}
