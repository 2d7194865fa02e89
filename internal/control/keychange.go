package control

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// ChangeKey asks to move a tenant from its key in one hosting region to
// another key of the customer's.
type ChangeKey struct {
	Tenant string
	Region string
	KeyARN string
	// RoleARN selects the assumed-role pattern; empty means direct access.
	RoleARN string
}

// keyChange is a key change in progress, recorded in the tenant's model
// (tenant.KeyChange) before any wrapping is made, so that a restarted
// process knows what to finish. Progress itself is the wrappings in the
// store.
type keyChange = tenant.KeyChange

// KeyChangeResult says what a key change did.
type KeyChangeResult struct {
	Region string
	From   string // the old key's ARN in Region
	To     string // the new key's ARN in Region
	// Resumed is set when the call finished a change an earlier call began.
	Resumed bool
	Wrapped int // wrappings made under the new key by this call
	Dropped int // versions whose old wrappings this call removed
	Reports []RegionReport
}

func errKeyChangeRunning(id string) error {
	return &Error{Code: CodeKeyChangeInProgress, Message: fmt.Sprintf("a key change of tenant %s is in progress: finish it first by calling it again", id)}
}

// ChangeKey moves the tenant's key versions from its current key in
// req.Region (and the replicas the platform requires there) to the new key:
// it validates the new key, records the change, wraps every version under
// the new key in every required region, then drops the old wrappings
// version by version, and finally binds the new key. At every point each
// version is wrapped completely under the old key, the new one, or both, so
// data keeps opening whenever the process stops. A second call with the same
// key finishes an interrupted change; [Service.KeyChangeStatus] shows its
// progress. Refused with key_binding_immutable where the platform's policy
// binds keys for good.
func (s *Service) ChangeKey(ctx context.Context, req ChangeKey) (*KeyChangeResult, error) {
	t, err := s.enabledTenant(ctx, req.Tenant)
	if err != nil {
		return nil, err
	}
	if t.Policy(s.cfg.Platform.Policy).KeyBinding == platform.BindingImmutable {
		return nil, &Error{Code: CodeBindingImmutable, Message: fmt.Sprintf("the key binding of tenant %s is immutable: its key cannot be changed", t.ID)}
	}
	if kc := t.KeyChange; kc != nil {
		if kc.Region != req.Region || (req.KeyARN != kc.KeyARN && req.KeyARN != kc.Resolved) {
			return nil, errKeyChangeRunning(t.ID)
		}
		return s.runKeyChange(ctx, t.ID, kc, &KeyChangeResult{Resumed: true})
	}
	kc, reports, err := s.planKeyChange(ctx, t, req)
	if err != nil {
		return nil, err
	}
	if err := s.claimKeyChange(ctx, t.ID, kc); err != nil {
		return nil, err
	}
	return s.runKeyChange(ctx, t.ID, kc, &KeyChangeResult{Reports: reports})
}

// planKeyChange validates the new key and works out the wrappings to move.
func (s *Service) planKeyChange(ctx context.Context, t *tenant.Tenant, req ChangeKey) (*keyChange, []RegionReport, error) {
	att, err := s.attachment(Attach{Tenant: t.ID, Region: req.Region, KeyARN: req.KeyARN, RoleARN: req.RoleARN})
	if err != nil {
		return nil, nil, err
	}
	b := t.KeyBinding
	if b == nil || b.Regions[req.Region] == "" {
		return nil, nil, &Error{Code: CodeRegionNotReady, Message: fmt.Sprintf("tenant %s has no key bound in %s", t.ID, req.Region)}
	}
	resolved, reports, err := s.validateKey(ctx, t, att)
	if err != nil {
		return nil, reports, err
	}
	current := b.Regions[req.Region]
	if resolved == current {
		return nil, reports, &Error{Code: CodeSameKey, Message: fmt.Sprintf("%s is already the key of tenant %s in %s", resolved, t.ID, req.Region)}
	}
	old, err := s.boundAttachment(ctx, t.ID, req.Region)
	if err != nil {
		return nil, reports, err
	}
	from, err := s.regionRefs(t, old, current)
	if err != nil {
		return nil, reports, err
	}
	to, err := s.regionRefs(t, att, resolved)
	if err != nil {
		return nil, reports, err
	}
	return &keyChange{Region: req.Region, KeyARN: req.KeyARN, Resolved: resolved, RoleARN: req.RoleARN,
		From: from, To: to, Started: s.now()}, reports, nil
}

func (s *Service) boundAttachment(ctx context.Context, id, region string) (*store.Attachment, error) {
	atts, err := s.cfg.Store.Attachments(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	for _, a := range atts {
		if a.Region == region {
			return a, nil
		}
	}
	return &store.Attachment{Tenant: id, Region: region}, nil
}

// claimKeyChange records kc unless another change got there first.
func (s *Service) claimKeyChange(ctx context.Context, id string, kc *keyChange) error {
	_, err := s.update(ctx, id, func(t *tenant.Tenant) error {
		if t.KeyChange != nil {
			return errKeyChangeRunning(id)
		}
		t.KeyChange = kc
		return nil
	})
	return err
}

func (s *Service) runKeyChange(ctx context.Context, id string, kc *keyChange, res *KeyChangeResult) (*KeyChangeResult, error) {
	res.Region, res.To = kc.Region, kc.Resolved
	if len(kc.From) > 0 {
		res.From = kc.From[0].ID
	}
	var err error
	if res.Wrapped, err = s.wrapAll(ctx, id, kc.To); err != nil {
		return res, err
	}
	if err := s.dropOld(ctx, id, kc, res); err != nil {
		return res, err
	}
	return res, s.finishKeyChange(ctx, id, kc)
}

// dropOld removes the old key's wrappings from every version that has all
// of its new ones. A version that lacks some (made by a rotation meanwhile)
// is wrapped first, then the pass repeats.
func (s *Service) dropOld(ctx context.Context, id string, kc *keyChange, res *KeyChangeResult) error {
	for pass := 0; pass < 3; pass++ {
		versions, err := s.cfg.Store.Versions(ctx, id)
		if err != nil {
			return fromStore(err)
		}
		incomplete := false
		for _, v := range versions {
			dropped, ok, err := s.dropVersion(ctx, v, kc)
			if err != nil {
				return err
			}
			incomplete = incomplete || !ok
			if dropped {
				res.Dropped++
			}
		}
		if !incomplete {
			return nil
		}
		n, err := s.wrapAll(ctx, id, kc.To)
		res.Wrapped += n
		if err != nil {
			return err
		}
	}
	return &Error{Code: CodeConflict, Message: fmt.Sprintf("the key versions of tenant %s keep changing during the key change; call it again", id)}
}

// dropVersion drops v's old wrappings if it has every new one; ok reports
// whether it had.
func (s *Service) dropVersion(ctx context.Context, v *keyring.Version, kc *keyChange) (dropped, ok bool, err error) {
	if !slices.ContainsFunc(v.Wrappings, func(w kms.Wrapped) bool { return underAny(w, kc.From) }) {
		return false, true, nil
	}
	for _, to := range kc.To {
		if !slices.ContainsFunc(v.Wrappings, func(w kms.Wrapped) bool { return keyring.SameKey(w.Key, to) }) {
			return false, false, nil
		}
	}
	keep := slices.DeleteFunc(slices.Clone(v.Wrappings), func(w kms.Wrapped) bool { return underAny(w, kc.From) })
	if err := s.cfg.Store.SetWrappings(ctx, v.Tenant, v.Version, keep); err != nil {
		return false, true, fromStore(err)
	}
	return true, true, nil
}

// finishKeyChange binds the new key: its attachment, the binding, the
// regions' keys, and clears the change.
func (s *Service) finishKeyChange(ctx context.Context, id string, kc *keyChange) error {
	att, err := s.attachment(Attach{Tenant: id, Region: kc.Region, KeyARN: kc.KeyARN, RoleARN: kc.RoleARN})
	if err != nil {
		return err
	}
	if _, err := s.cfg.Store.PutAttachment(ctx, att); err != nil {
		return fromStore(err)
	}
	_, err = s.update(ctx, id, func(t *tenant.Tenant) error {
		if t.KeyBinding == nil {
			return &Error{Code: CodeWrongState, Message: "tenant " + id + " has no key binding"}
		}
		t.KeyBinding.Regions[kc.Region] = kc.Resolved
		if t.Regions == nil {
			t.Regions = map[string]*tenant.Region{}
		}
		regions := t.Regions
		for _, rs := range regions {
			rs.Keys = slices.DeleteFunc(rs.Keys, func(k kms.KeyRef) bool { return underAny(kms.Wrapped{Key: k}, kc.From) })
		}
		for _, to := range kc.To {
			addRegionKey(regions, to, true, kc.Started)
		}
		t.KeyChange = nil
		return nil
	})
	return err
}

// KeyChangeStatus is the progress of a tenant's key change.
type KeyChangeStatus struct {
	Running bool
	Region  string
	From    string
	To      string
	Started time.Time
	// Regions has one entry per region the new key must serve.
	Regions []RegionProgress
}

// RegionProgress counts a key change's progress in one region.
type RegionProgress struct {
	Region string
	Key    string // the new key there
	Done   int    // versions wrapped under the new key
	Total  int    // versions of the tenant
	Old    int    // versions still wrapped under the old key there
}

// KeyChangeStatus reports the tenant's key change in progress, counted from
// the stored wrappings, so it is exact after a restart too.
func (s *Service) KeyChangeStatus(ctx context.Context, id string) (*KeyChangeStatus, error) {
	t, err := s.cfg.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	kc := t.KeyChange
	if kc == nil {
		return &KeyChangeStatus{}, nil
	}
	versions, err := s.cfg.Store.Versions(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	st := &KeyChangeStatus{Running: true, Region: kc.Region, To: kc.Resolved, Started: kc.Started}
	if len(kc.From) > 0 {
		st.From = kc.From[0].ID
	}
	for _, to := range kc.To {
		st.Regions = append(st.Regions, progress(versions, to, kc.From))
	}
	return st, nil
}

func progress(versions []*keyring.Version, to kms.KeyRef, from []kms.KeyRef) RegionProgress {
	p := RegionProgress{Region: to.Region, Key: to.ID, Total: len(versions)}
	for _, v := range versions {
		for _, w := range v.Wrappings {
			if keyring.SameKey(w.Key, to) {
				p.Done++
			}
			if w.Key.Region == to.Region && underAny(w, from) {
				p.Old++
			}
		}
	}
	return p
}

// KeyUse is one key that some of a tenant's key versions are wrapped under.
type KeyUse struct {
	Key      kms.KeyRef // provider, id and region
	Versions []uint32
}

// Inventory answers "which keys does this tenant's data still need?": every
// key (per region) that wraps at least one of its key versions, with the
// versions. A key absent from it may be retired without losing data.
func (s *Service) Inventory(ctx context.Context, id string) ([]KeyUse, error) {
	if _, err := s.cfg.Store.GetTenant(ctx, id); err != nil {
		return nil, fromStore(err)
	}
	versions, err := s.cfg.Store.Versions(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	byKey := map[keyID]*KeyUse{}
	for _, v := range versions {
		for _, w := range v.Wrappings {
			k := idOf(w.Key)
			if byKey[k] == nil {
				byKey[k] = &KeyUse{Key: kms.KeyRef{Provider: k.provider, ID: k.id, Region: k.region}}
			}
			byKey[k].Versions = append(byKey[k].Versions, v.Version)
		}
	}
	out := make([]KeyUse, 0, len(byKey))
	for _, u := range byKey {
		out = append(out, *u)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Key.String() < out[j].Key.String() })
	return out, nil
}

// CheckRetire returns nil when no key version of the tenant is wrapped
// under keyARN (in any region, for a multi-Region key), so the customer may
// disable or delete it; otherwise key_in_use naming the versions.
func (s *Service) CheckRetire(ctx context.Context, id, keyARN string) error {
	want, err := platform.ParseKeyARN("key_arn", keyARN)
	if err != nil {
		return invalid(err)
	}
	if want.KeyID == "" {
		return &Error{Code: CodeInvalid, Message: "name the key by its key ARN: wrappings record keys, not aliases"}
	}
	uses, err := s.Inventory(ctx, id)
	if err != nil {
		return err
	}
	var versions []string
	for _, u := range uses {
		if got, err := awskms.ParseARN(u.Key.ID); err == nil && got.Account == want.Account && got.KeyID == want.KeyID {
			for _, v := range u.Versions {
				versions = append(versions, fmt.Sprintf("%d@%s", v, u.Key.Region))
			}
		}
	}
	if len(versions) == 0 {
		return nil
	}
	return &Error{Code: CodeKeyInUse, Message: fmt.Sprintf("tenant %s still needs %s: key versions %s are wrapped under it", id, keyARN, strings.Join(versions, ", "))}
}

// keyID is what identifies a key in a region, usable as a map key.
type keyID struct{ provider, id, region string }

func idOf(r kms.KeyRef) keyID { return keyID{r.Provider, r.ID, r.Region} }
