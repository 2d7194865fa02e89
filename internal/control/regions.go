package control

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// readyRegions is the region status of a tenant just enabled under refs.
func readyRegions(refs []kms.KeyRef, since time.Time) map[string]*tenant.Region {
	m := map[string]*tenant.Region{}
	for _, r := range refs {
		addRegionKey(m, r, true, since)
	}
	return m
}

func addRegionKey(m map[string]*tenant.Region, r kms.KeyRef, ready bool, since time.Time) {
	rs := m[r.Region]
	if rs == nil {
		rs = &tenant.Region{Ready: ready, Since: since}
		m[r.Region] = rs
	}
	if !slices.ContainsFunc(rs.Keys, func(k kms.KeyRef) bool { return sameKey(k, r) }) {
		rs.Keys = append(rs.Keys, r)
		// The health the monitor recorded is the old key's: the new one is
		// judged by its own first probe, not refused for the old one's outage.
		rs.Health = nil
	}
}

func sameKey(a, b kms.KeyRef) bool {
	return a.Provider == b.Provider && a.ID == b.ID && a.Region == b.Region
}

// RegionGate returns a keyring admission check (keyring.Config.Admit) for a
// process serving region: it refuses a tenant whose keys are not (yet)
// wrapped in that region with region_not_ready, and an offboarded tenant
// with tenant_shredded. Tenants that have not brought their own key are
// served everywhere, as the platform key is.
//
// It reads the tenant through the tenant manager's cache, which the data
// path's own admission check has just filled: a cold unwrap does not read
// the tenant a second time.
func RegionGate(tenants *tenant.Manager, region string) func(ctx context.Context, tenant string) error {
	return func(ctx context.Context, id string) error {
		t, err := tenants.Cached(ctx, id)
		if err != nil {
			return fromStore(err)
		}
		if t.State == tenant.StateShredded {
			return shredded(t.ID)
		}
		if t.ReadyIn(region) {
			return nil
		}
		return &Error{Code: CodeRegionNotReady, Message: fmt.Sprintf("region %s does not serve tenant %s: its keys are not wrapped there (yet)", region, id)}
	}
}

func shredded(id string) error {
	return &Error{Code: CodeTenantShredded, Message: fmt.Sprintf("tenant %s was offboarded: its keys are destroyed and its data can never be opened again", id)}
}

// AddRegion asks for a new hosting region for an enabled tenant.
type AddRegion struct {
	Tenant string
	Region string
	// KeyARN is the customer's key in Region. Empty means the tenant's
	// current key's counterpart there: its multi-Region replica, or the same
	// alias where the platform resolves aliases.
	KeyARN string
	// RoleARN is the customer's role; empty means the one of the tenant's
	// current key.
	RoleARN string
}

// AddRegionResult says what AddRegion did.
type AddRegionResult struct {
	Region string
	KeyARN string // the key now serving the region, alias resolved
	// Wrapped counts the wrappings made, over the region and the replica
	// regions the platform requires there.
	Wrapped int
	Reports []RegionReport
}

// AddRegion makes a platform hosting region serve an enabled tenant: it
// validates the tenant's key there, records the region as not ready, wraps
// every key version under that key (and its required replicas), and only
// then marks the region ready and binds the key. Until it is ready,
// RegionGate refuses the tenant in that region. An interrupted AddRegion is
// finished by calling it again.
func (s *Service) AddRegion(ctx context.Context, req AddRegion) (*AddRegionResult, error) {
	t, err := s.enabledTenant(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	if err := s.checkNewRegion(t, req.Region); err != nil {
		return nil, err
	}
	att, err := s.regionAttachment(ctx, t, req)
	if err != nil {
		return nil, err
	}
	keyARN, reports, err := s.validateKey(ctx, t, att)
	if err != nil {
		return nil, err
	}
	refs, err := s.regionRefs(t, att, keyARN)
	if err != nil {
		return nil, err
	}
	res := &AddRegionResult{Region: req.Region, KeyARN: keyARN, Reports: reports}
	if err := s.markRegions(ctx, t.ID, refs, false); err != nil {
		return nil, err
	}
	if res.Wrapped, err = s.wrapAll(ctx, t.ID, refs); err != nil {
		return nil, err
	}
	return res, s.finishRegion(ctx, t.ID, att, keyARN, refs)
}

// enabledTenant returns a tenant that has brought its key and is not gone.
func (s *Service) enabledTenant(ctx context.Context, id string) (*tenant.Tenant, error) {
	t, err := s.cfg.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	switch t.State {
	case tenant.StateShredded:
		return nil, shredded(t.ID)
	case tenant.StatePending, tenant.StateDestroyed:
		return nil, &Error{Code: CodeWrongState, Message: fmt.Sprintf("tenant %s is %s: enable its key first", t.ID, t.State)}
	}
	return t, nil
}

func (s *Service) checkNewRegion(t *tenant.Tenant, region string) error {
	if _, err := s.cfg.Platform.Region(region); err != nil {
		return invalid(err)
	}
	if rs := t.Regions[region]; rs != nil && rs.Ready {
		return &Error{Code: CodeRegionExists, Message: fmt.Sprintf("region %s already serves tenant %s", region, t.ID)}
	}
	if t.KeyChange != nil {
		return errKeyChangeRunning(t.ID)
	}
	return nil
}

// regionAttachment is the key the new region will use: the one given, or
// the counterpart of the tenant's current key there.
func (s *Service) regionAttachment(ctx context.Context, t *tenant.Tenant, req AddRegion) (*store.Attachment, error) {
	atts, err := s.cfg.Store.Attachments(ctx, t.ID)
	if err != nil {
		return nil, fromStore(err)
	}
	if len(atts) == 0 {
		return nil, &Error{Code: CodeNoKeyAttached, Message: fmt.Sprintf("tenant %s has no key attached", t.ID)}
	}
	src := atts[0]
	if req.RoleARN == "" {
		req.RoleARN = src.RoleARN
	}
	if req.KeyARN == "" {
		var err error
		if req.KeyARN, err = s.counterpart(src, t.KeyBinding, req.Region); err != nil {
			return nil, err
		}
	}
	return s.attachment(Attach{Tenant: t.ID, Region: req.Region, KeyARN: req.KeyARN, RoleARN: req.RoleARN})
}

// counterpart finds the tenant's key in another region: the same alias where
// the platform resolves aliases, else the multi-Region key's replica.
func (s *Service) counterpart(src *store.Attachment, b *tenant.KeyBinding, region string) (string, error) {
	if a, err := awskms.ParseARN(src.KeyARN); err == nil && a.Kind == awskms.AliasARN && s.cfg.Platform.Policy.AliasARNs == platform.AliasResolve {
		a.Region = region
		return a.String(), nil
	}
	bound := src.KeyARN
	if b != nil && b.Regions[src.Region] != "" {
		bound = b.Regions[src.Region]
	}
	a, err := awskms.ParseARN(bound)
	if err != nil {
		return "", invalid(err)
	}
	replica, err := a.InRegion(region)
	if err != nil {
		return "", &Error{Code: CodeRegionKeyRequired, Err: err,
			Message: fmt.Sprintf("%s is neither a multi-Region key nor an alias the platform resolves: name the customer's key in %s", bound, region)}
	}
	return replica.String(), nil
}

// validateKey runs the real validation of one key and returns its ARN with
// any alias resolved.
func (s *Service) validateKey(ctx context.Context, t *tenant.Tenant, a *store.Attachment) (string, []RegionReport, error) {
	r := s.cfg.Validator.Validate(ctx, onboarding.Target{TenantID: t.ID, ExternalID: t.ExternalID, Region: a.Region, KeyARN: a.KeyARN, RoleARN: a.RoleARN})
	reports := []RegionReport{{Region: a.Region, Report: r}}
	if !r.OK() {
		return "", reports, &Error{Code: CodeValidationFailed, Reports: reports,
			Message: fmt.Sprintf("the key %s fails validation in %s; see the report for what to fix", a.KeyARN, a.Region)}
	}
	if r.KeyARN == "" {
		return a.KeyARN, reports, nil
	}
	return r.KeyARN, reports, nil
}

// markRegions records the regions of refs as ready or not, with their keys.
func (s *Service) markRegions(ctx context.Context, id string, refs []kms.KeyRef, ready bool) error {
	now := s.now()
	_, err := s.update(ctx, id, func(t *tenant.Tenant) error {
		if t.Regions == nil {
			t.Regions = map[string]*tenant.Region{}
		}
		regions := t.Regions
		for _, r := range refs {
			rs := regions[r.Region]
			if rs != nil && rs.Ready && !ready {
				addRegionKey(regions, r, true, rs.Since) // a region already serving keeps serving
				continue
			}
			addRegionKey(regions, r, ready, now)
			regions[r.Region].Ready, regions[r.Region].Since = ready, now
		}
		return nil
	})
	return err
}

// wrapAll gives every key version a wrapping under each of refs, until a
// pass finds nothing to do, so versions created meanwhile are covered too.
func (s *Service) wrapAll(ctx context.Context, id string, refs []kms.KeyRef) (int, error) {
	total := 0
	for pass := 0; pass < 3; pass++ {
		n := 0
		for _, ref := range refs {
			added, err := s.cfg.Keyring.AddWrapping(ctx, id, ref)
			n += added
			if err != nil {
				return total + n, fromKMS("wrap the tenant's keys under "+ref.ID, err)
			}
		}
		total += n
		if n == 0 {
			break
		}
	}
	return total, nil
}

// finishRegion binds the region's key and marks its regions ready.
func (s *Service) finishRegion(ctx context.Context, id string, att *store.Attachment, keyARN string, refs []kms.KeyRef) error {
	if _, err := s.cfg.Store.PutAttachment(ctx, att); err != nil {
		return fromStore(err)
	}
	if err := s.markRegions(ctx, id, refs, true); err != nil {
		return err
	}
	_, err := s.update(ctx, id, func(t *tenant.Tenant) error {
		if t.KeyBinding == nil {
			return &Error{Code: CodeWrongState, Message: "tenant " + id + " has no key binding"}
		}
		t.KeyBinding.Regions[att.Region] = keyARN
		return nil
	})
	return err
}

// Regions returns which regions serve the tenant and under which keys.
func (s *Service) Regions(ctx context.Context, id string) (map[string]*tenant.Region, error) {
	t, err := s.cfg.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	if t.Regions == nil {
		return map[string]*tenant.Region{}, nil
	}
	return t.Regions, nil
}

// now is the time recorded in a tenant's model, to the second.
func (s *Service) now() time.Time { return s.cfg.Now().UTC().Truncate(time.Second) }
