package control

import (
	"context"
	"fmt"
	"slices"

	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// Validate checks every key attached to the tenant, one report per region.
func (s *Service) Validate(ctx context.Context, tenantID string) ([]RegionReport, error) {
	t, err := s.cfg.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, fromStore(err)
	}
	atts, err := s.cfg.Store.Attachments(ctx, tenantID)
	if err != nil {
		return nil, fromStore(err)
	}
	if len(atts) == 0 {
		return nil, &Error{Code: CodeNoKeyAttached, Message: fmt.Sprintf("tenant %s has no key attached: attach the customer's key ARN for each hosting region first", tenantID)}
	}
	reports := make([]RegionReport, 0, len(atts))
	for _, a := range atts {
		r := s.cfg.Validator.Validate(ctx, onboarding.Target{
			TenantID: t.ID, ExternalID: t.ExternalID, Region: a.Region, KeyARN: a.KeyARN, RoleARN: a.RoleARN,
		})
		reports = append(reports, RegionReport{Region: a.Region, Report: r})
	}
	return reports, nil
}

// EnableResult says what enabling did.
type EnableResult struct {
	Tenant *tenant.Tenant
	// Created is the version made for a tenant that had none; 0 otherwise.
	Created uint32
	// Rewrapped counts existing versions moved under the customer's key.
	Rewrapped int
	Reports   []RegionReport
}

// Enable validates the tenant's keys and, if every check passes, wraps its
// keys under them and makes it active. See the package documentation.
func (s *Service) Enable(ctx context.Context, tenantID string) (*EnableResult, error) {
	t, err := s.cfg.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, fromStore(err)
	}
	if t.State != tenant.StatePending {
		return nil, &Error{Code: CodeAlreadyEnabled, Message: fmt.Sprintf("tenant %s is already %s", t.ID, t.State)}
	}
	reports, err := s.Validate(ctx, tenantID)
	if err != nil {
		return nil, err
	}
	if failed := failedRegions(reports); len(failed) > 0 {
		return nil, &Error{Code: CodeValidationFailed, Reports: reports,
			Message: fmt.Sprintf("the key setup of tenant %s fails validation in %v; see the report for what to fix", t.ID, failed)}
	}
	refs, binding, err := s.keyRefs(ctx, t, reports)
	if err != nil {
		return nil, err
	}
	res := &EnableResult{Reports: reports}
	if err := s.wrapUnder(ctx, t.ID, refs, res); err != nil {
		return nil, err
	}
	res.Tenant, err = s.activate(ctx, t, binding, refs)
	return res, err
}

func failedRegions(reports []RegionReport) []string {
	var out []string
	for _, r := range reports {
		if !r.Report.OK() {
			out = append(out, r.Region)
		}
	}
	return out
}

// keyRefs lists the key references the tenant's versions must be wrapped
// under: each attachment's key (an alias resolved by validation) in its
// region, and its multi-Region replicas in the replica regions the platform
// requires there.
func (s *Service) keyRefs(ctx context.Context, t *tenant.Tenant, reports []RegionReport) ([]kms.KeyRef, tenant.KeyBinding, error) {
	atts, err := s.cfg.Store.Attachments(ctx, t.ID)
	if err != nil {
		return nil, tenant.KeyBinding{}, fromStore(err)
	}
	b := tenant.KeyBinding{Regions: map[string]string{}, Enabled: s.now()}
	var refs []kms.KeyRef
	for _, a := range atts {
		keyARN := resolvedARN(reports, a)
		b.Regions[a.Region] = keyARN
		regionRefs, err := s.regionRefs(t, a, keyARN)
		if err != nil {
			return nil, tenant.KeyBinding{}, err
		}
		refs = append(refs, regionRefs...)
	}
	return refs, b, nil
}

func resolvedARN(reports []RegionReport, a *store.Attachment) string {
	for _, r := range reports {
		if r.Region == a.Region && r.Report.KeyARN != "" {
			return r.Report.KeyARN
		}
	}
	return a.KeyARN
}

func (s *Service) regionRefs(t *tenant.Tenant, a *store.Attachment, keyARN string) ([]kms.KeyRef, error) {
	ref := kms.KeyRef{Provider: awskms.ProviderName, ID: keyARN, Region: a.Region, RoleARN: a.RoleARN}
	if a.RoleARN != "" {
		ref.ExternalID = t.ExternalID
	}
	region, err := s.cfg.Platform.Region(a.Region)
	if err != nil {
		return nil, invalid(err)
	}
	refs := []kms.KeyRef{ref}
	arn, err := awskms.ParseARN(keyARN)
	if err != nil {
		return nil, invalid(err)
	}
	for _, rr := range region.ReplicaRegions {
		replica, err := arn.InRegion(rr)
		if err != nil {
			return nil, &Error{Code: CodeValidationFailed, Message: fmt.Sprintf("region %s requires a replica in %s, but %s is not a multi-Region key", a.Region, rr, keyARN), Err: err}
		}
		r := ref
		r.ID, r.Region = replica.String(), rr
		refs = append(refs, r)
	}
	return refs, nil
}

// wrapUnder gives the tenant's keys their customer wrappings: version 1 for a
// tenant without keys; otherwise each existing version rewrapped from the
// platform key (or wrapped once more) under every reference.
func (s *Service) wrapUnder(ctx context.Context, tenantID string, refs []kms.KeyRef, res *EnableResult) error {
	versions, err := s.cfg.Store.Versions(ctx, tenantID)
	if err != nil {
		return fromStore(err)
	}
	if len(versions) == 0 {
		v, err := s.cfg.Keyring.CreateFirstVersion(ctx, tenantID, refs)
		if err != nil {
			return fromKMS("create the tenant's key under the customer's key", err)
		}
		res.Created = v.Version
		return nil
	}
	for _, ref := range refs {
		if _, err := s.cfg.Keyring.AddWrapping(ctx, tenantID, ref); err != nil {
			return fromKMS("wrap the tenant's keys under "+ref.ID, err)
		}
	}
	n, err := s.dropOtherWrappings(ctx, tenantID, refs)
	res.Rewrapped = n
	return err
}

// dropOtherWrappings removes every wrapping not under refs (the platform
// key's), once each version has all of its customer wrappings, so the
// customer's key alone protects the data from now on.
func (s *Service) dropOtherWrappings(ctx context.Context, tenantID string, refs []kms.KeyRef) (int, error) {
	versions, err := s.cfg.Store.Versions(ctx, tenantID)
	if err != nil {
		return 0, fromStore(err)
	}
	n := 0
	for _, v := range versions {
		keep := slices.DeleteFunc(slices.Clone(v.Wrappings), func(w kms.Wrapped) bool { return !underAny(w, refs) })
		if len(keep) != len(refs) {
			return n, fmt.Errorf("control: version %d of tenant %s has %d customer wrappings, want %d", v.Version, tenantID, len(keep), len(refs))
		}
		if len(keep) == len(v.Wrappings) {
			continue
		}
		if err := s.cfg.Store.SetWrappings(ctx, tenantID, v.Version, keep); err != nil {
			return n, fromStore(err)
		}
		n++
	}
	return n, nil
}

func underAny(w kms.Wrapped, refs []kms.KeyRef) bool {
	for _, r := range refs {
		if keyring.SameKey(w.Key, r) {
			return true
		}
	}
	return false
}

// activate makes the tenant active if nobody changed it since it was read,
// recording its key binding and the regions that now serve it.
func (s *Service) activate(ctx context.Context, t *tenant.Tenant, b tenant.KeyBinding, refs []kms.KeyRef) (*tenant.Tenant, error) {
	got, err := s.cfg.Store.UpdateTenant(ctx, t.ID, t.Revision, func(t *tenant.Tenant) error {
		t.State, t.KeyBinding, t.Regions = tenant.StateActive, &b, readyRegions(refs, b.Enabled)
		return nil
	})
	s.tenants.Forget(t.ID)
	if err != nil {
		return nil, fromStore(err)
	}
	return got, nil
}
