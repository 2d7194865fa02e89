package control

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

// RotateTenantKey makes the tenant's next key version, which seals new data
// from now on; older versions stay and keep opening what they sealed. The
// new version is wrapped under the same keys as the newest one, plus those
// of any key change or region being added, so it needs nothing those
// operations have not already planned for.
func (s *Service) RotateTenantKey(ctx context.Context, id string) (*keyring.Version, error) {
	t, err := s.cfg.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	switch t.State {
	case tenant.StateShredded:
		return nil, shredded(id)
	case tenant.StateDestroyed:
		return nil, &Error{Code: CodeWrongState, Message: fmt.Sprintf("tenant %s is destroyed: its key is gone", id)}
	}
	refs, err := s.newVersionRefs(ctx, t)
	if err != nil {
		return nil, err
	}
	v, err := s.cfg.Keyring.CreateVersion(ctx, id, refs)
	if err != nil {
		return nil, fromKMS("rotate the key of tenant "+id, err)
	}
	return v, nil
}

func (s *Service) newVersionRefs(ctx context.Context, t *tenant.Tenant) ([]kms.KeyRef, error) {
	latest, err := s.cfg.Store.LatestVersion(ctx, t.ID)
	if errors.Is(err, keyring.ErrNoKey) {
		return nil, &Error{Code: CodeNoKeyVersion, Message: fmt.Sprintf("tenant %s has no key version to rotate: enable its key first", t.ID), Err: err}
	}
	if err != nil {
		return nil, fromStore(err)
	}
	var refs []kms.KeyRef
	for _, w := range latest.Wrappings {
		refs = appendRef(refs, w.Key)
	}
	for _, rs := range t.Regions {
		for _, k := range rs.Keys {
			refs = appendRef(refs, k)
		}
	}
	if kc := t.KeyChange; kc != nil {
		for _, k := range kc.To {
			refs = appendRef(refs, k)
		}
	}
	return refs, nil
}

func appendRef(refs []kms.KeyRef, r kms.KeyRef) []kms.KeyRef {
	if slices.ContainsFunc(refs, func(k kms.KeyRef) bool { return keyring.SameKey(k, r) }) {
		return refs
	}
	return append(refs, r)
}

// Rotation is what a scheduled rotation did for one tenant.
type Rotation struct {
	Tenant  string
	Version uint32 // the new version; 0 when Err is set
	Err     error
}

// RotateDue rotates the key of every active tenant whose newest version is
// older than Config.RotationPeriod, for the background loop to call now
// and then (it is cheap when nothing is due: one store read per tenant). A
// failure for one tenant does not stop the others; it is in its Rotation.
// With no period configured it does nothing.
func (s *Service) RotateDue(ctx context.Context) ([]Rotation, error) {
	if s.cfg.RotationPeriod <= 0 {
		return nil, nil
	}
	cutoff := s.cfg.Now().Add(-s.cfg.RotationPeriod)
	var out []Rotation
	opts := store.ListOptions{State: tenant.StateActive, Limit: store.MaxPageSize}
	for {
		page, err := s.cfg.Store.ListTenants(ctx, opts)
		if err != nil {
			return out, fromStore(err)
		}
		for _, t := range page.Tenants {
			if r, due := s.rotateIfDue(ctx, t.ID, cutoff); due {
				out = append(out, r)
			}
		}
		if page.Next == "" {
			return out, nil
		}
		opts.Cursor = page.Next
	}
}

func (s *Service) rotateIfDue(ctx context.Context, id string, cutoff time.Time) (Rotation, bool) {
	latest, err := s.cfg.Store.LatestVersion(ctx, id)
	if err != nil {
		return Rotation{Tenant: id, Err: fromStore(err)}, true
	}
	if !latest.Created.Before(cutoff) {
		return Rotation{}, false
	}
	v, err := s.RotateTenantKey(ctx, id)
	if err != nil {
		return Rotation{Tenant: id, Err: err}, true
	}
	return Rotation{Tenant: id, Version: v.Version}, true
}
