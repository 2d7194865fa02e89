package control

import (
	"context"
	"errors"
	"fmt"
	"sort"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
)

// offboarding is what is recorded in the tenant's model from the start of
// an offboarding (tenant.Offboarding): what the receipt will list, so an
// interrupted offboarding can finish with a complete receipt after the
// versions are gone.
type offboarding = tenant.Offboarding

// Offboard crypto-shreds a tenant: it makes the tenant shredded (so
// RegionGate refuses it on every instance from now on), destroys the
// tenant's shred key ([Config.Shred]), under which the store seals every
// wrapping, so that no copy of the database opens them again; checks that
// the platform's own read and unwrap of the tenant's keys is refused and
// probes each customer key with the newest wrapping as it was; deletes
// every key version with all of its wrappings in one transaction, drops
// the keys from this process's cache, deletes the tenant's key
// attachments and has the store reclaim the deleted rows' bytes. It
// returns a deletion receipt signed by the platform key
// (docs/receipts.md), which is also kept in the tenant's record;
// [Service.DeletionReceipt] returns it later. An interrupted Offboard
// finishes when called again; once finished, it fails with
// tenant_shredded.
func (s *Service) Offboard(ctx context.Context, id string) (*SignedReceipt, error) {
	if s.cfg.Receipts == nil {
		return nil, &Error{Code: CodeNoReceiptKey, Message: "no platform root key is configured to sign deletion receipts"}
	}
	t, err := s.cfg.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	if t.Receipt != nil {
		return nil, shredded(id)
	}
	ob, err := s.beginOffboarding(ctx, t)
	if err != nil {
		return nil, err
	}
	return s.finishOffboarding(ctx, id, ob)
}

// beginOffboarding records what will be destroyed and makes the tenant
// shredded; a tenant already shredded keeps the record made then.
func (s *Service) beginOffboarding(ctx context.Context, t *tenant.Tenant) (*offboarding, error) {
	if t.Offboarding != nil {
		return t.Offboarding, nil
	}
	versions, err := s.cfg.Store.Versions(ctx, t.ID)
	if err != nil {
		return nil, fromStore(err)
	}
	ob := &offboarding{Requested: s.cfg.Now().UTC(), Versions: receiptVersions(versions), Keys: receiptKeys(versions)}
	_, err = s.update(ctx, t.ID, func(t *tenant.Tenant) error {
		// Of two offboardings at once, the first record wins.
		if t.Offboarding != nil {
			ob = t.Offboarding
			return errBegun
		}
		t.State, t.Offboarding = tenant.StateShredded, ob
		return nil
	})
	if err != nil && !errors.Is(err, errBegun) {
		return nil, err
	}
	return ob, nil
}

var errBegun = errors.New("control: offboarding already begun")

func (s *Service) finishOffboarding(ctx context.Context, id string, ob *offboarding) (*SignedReceipt, error) {
	destroyed, checks, err := s.shred(ctx, id, ob)
	if err != nil {
		return nil, err
	}
	if _, err := s.cfg.Store.ShredTenantKeys(ctx, id); err != nil {
		return nil, fromStore(err)
	}
	s.cfg.Keyring.Evict(id)
	if err := s.deleteAttachments(ctx, id); err != nil {
		return nil, err
	}
	if err := s.reclaim(ctx); err != nil {
		return nil, err
	}
	r := &Receipt{Tenant: id, Versions: ob.Versions, Keys: ob.Keys, Requested: ob.Requested, Deleted: s.cfg.Now().UTC(),
		Destroyed: destroyed, Checks: checks}
	sr, err := s.cfg.Receipts.Sign(r)
	if err != nil {
		return nil, err
	}
	_, err = s.update(ctx, id, func(t *tenant.Tenant) error {
		// Of two offboardings at once, the first receipt stored is the one.
		if t.Receipt != nil {
			sr = t.Receipt
			return errBegun
		}
		t.Receipt = sr
		return nil
	})
	if err != nil && !errors.Is(err, errBegun) {
		return nil, err
	}
	// Again, for the receipt's own write: the WAL is left empty.
	return sr, s.reclaim(ctx)
}

// reclaimer is a store that can remove deleted rows' bytes from the files
// beside its database (the SQL stores: SQLite's WAL).
type reclaimer interface {
	ReclaimDeleted(ctx context.Context) error
}

func (s *Service) reclaim(ctx context.Context) error {
	r, ok := s.cfg.Store.(reclaimer)
	if !ok {
		return nil
	}
	if err := r.ReclaimDeleted(ctx); err != nil {
		return fmt.Errorf("control: offboarding: %w", err)
	}
	return nil
}

func (s *Service) deleteAttachments(ctx context.Context, id string) error {
	atts, err := s.cfg.Store.Attachments(ctx, id)
	if err != nil {
		return fromStore(err)
	}
	for _, a := range atts {
		if err := s.cfg.Store.DeleteAttachment(ctx, id, a.Region); err != nil && !errors.Is(err, store.ErrNotFound) {
			return fromStore(err)
		}
	}
	return nil
}

func receiptVersions(versions []*keyring.Version) []ReceiptVersion {
	out := make([]ReceiptVersion, 0, len(versions))
	for _, v := range versions {
		out = append(out, ReceiptVersion{Version: v.Version, Created: v.Created.UTC(), Wrappings: len(v.Wrappings)})
	}
	return out
}

func receiptKeys(versions []*keyring.Version) []ReceiptKey {
	byKey := map[keyID]int{}
	for _, v := range versions {
		for _, w := range v.Wrappings {
			byKey[idOf(w.Key)]++
		}
	}
	out := make([]ReceiptKey, 0, len(byKey))
	for k, n := range byKey {
		out = append(out, ReceiptKey{Provider: k.provider, ID: k.id, Region: k.region, Versions: n})
	}
	sort.Slice(out, func(i, j int) bool {
		return out[i].Provider+out[i].ID+out[i].Region < out[j].Provider+out[j].ID+out[j].Region
	})
	return out
}

// DeletionReceipt returns the signed receipt of an offboarded tenant.
func (s *Service) DeletionReceipt(ctx context.Context, id string) (*SignedReceipt, error) {
	t, err := s.cfg.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	if t.Receipt == nil {
		return nil, &Error{Code: CodeWrongState, Message: fmt.Sprintf("tenant %s has not been offboarded", id)}
	}
	return t.Receipt, nil
}
