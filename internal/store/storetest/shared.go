package storetest

import (
	"fmt"
	"sync"
	"testing"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

// PairOpener returns two stores open on the same new database, the first
// with Writer [WriterA], the second with [WriterB], closed when t ends.
type PairOpener func(t *testing.T) (a, b store.Store)

// RunShared checks two stores on one database, as two instances of the
// server: each sees the other's writes, races between them have one winner
// (an outbox entry is leased to one of them), and each records its own
// writer.
func RunShared(t *testing.T, open PairOpener) {
	t.Run("Visibility", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		mustCreate(t, a, "acme")
		mustAdd(t, a, version("acme", 1, 1))
		if _, err := b.GetTenant(ctx, "acme"); err != nil {
			t.Fatalf("second store GetTenant() err = %v", err)
		}
		got, err := b.LatestVersion(ctx, "acme")
		if err != nil {
			t.Fatalf("second store LatestVersion() err = %v", err)
		}
		diff(t, "second store LatestVersion()", got, version("acme", 1, 1))
	})
	t.Run("Races", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		mustCreate(t, a, "acme")
		raceInstances(t, a, b)
	})
	t.Run("OutboxClaims", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		claimRace(t, a, b)
	})
	t.Run("Writers", func(t *testing.T) {
		t.Parallel()
		a, b := open(t)
		testWriters(t, a, b)
	})
}

// raceInstances updates one revision and adds one version from both stores
// at once; exactly one call of each kind may win.
func raceInstances(t *testing.T, a, b store.Store) {
	const n = 8
	updates, adds := make([]error, n), make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		s := []store.Store{a, b}[i%2]
		wg.Go(func() {
			_, updates[i] = s.UpdateTenant(ctx, "acme", 1, func(tn *tenant.Tenant) error {
				tn.Name = fmt.Sprintf("instance %d", i)
				return nil
			})
		})
		wg.Go(func() { adds[i] = s.AddVersion(ctx, version("acme", 1, i)) })
	}
	wg.Wait()
	checkOneWinner(t, updates, store.ErrConflict)
	checkOneWinner(t, adds, keyring.ErrVersionExists)
}

func testWriters(t *testing.T, a, b store.Store) {
	mustCreate(t, a, "acme")
	mustCreate(t, a, "globex")
	mustAdd(t, a, version("acme", 1, 1))
	mustAdd(t, a, version("globex", 1, 1))
	if err := b.SetWrappings(ctx, "acme", 1, []kms.Wrapped{wrapping(1), wrapping(2)}); err != nil {
		t.Fatal(err)
	}
	mustAdd(t, b, version("acme", 2, 1))
	byA, err := b.VersionsByWriter(ctx, WriterA)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "VersionsByWriter(A)", byA, []store.VersionRef{ref("acme", 1), ref("globex", 1)})
	byB, err := a.VersionsByWriter(ctx, WriterB)
	if err != nil {
		t.Fatal(err)
	}
	diff(t, "VersionsByWriter(B)", byB, []store.VersionRef{ref("acme", 1), ref("acme", 2)})
}
