package monitor

import (
	"slices"
	"time"

	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
)

// scope says whether this instance probes t, and whether region by region.
// An instance hosting a region probes only the tenants that region serves,
// through their wrappings there, so that it never judges a key it reaches
// with another region's platform account. A tenant without regions (one
// on the platform key, or a record from before regions) is probed whole.
func (m *Monitor) scope(t *tenant.Tenant) (probe, regional bool) {
	if m.cfg.Region == "" || len(t.Regions) == 0 {
		return true, false
	}
	return t.ReadyIn(m.cfg.Region), true
}

// decideFor applies an observation to a tenant: a regional one to the
// region's health first, then to the tenant's state.
func (m machine) decideFor(t *tenant.Tenant, o observation, now time.Time) decision {
	if o.Region == "" || t.Regions[o.Region] == nil || !t.Outage.ArchivedAt.IsZero() {
		return m.decide(t.ID, t.State, t.Outage, o, now)
	}
	old := t.Regions[o.Region].Health
	h := nextHealth(old, o, now)
	d := m.decide(t.ID, t.State, t.Outage, tenantObservation(t, o, h), now)
	d.Region = o.Region
	if !sameHealth(old, h) {
		d.Health = h
		if old != nil || h.State != tenant.StateActive {
			d.Events = append(d.Events, regionEvent(t.ID, old, h, o, now))
		}
	}
	for i := range d.Events {
		d.Events[i].Region = o.Region
	}
	return d
}

// nextHealth is what a probe of a region makes of the region's health. A
// transient failure changes nothing; the first pass records the region as
// probed, so that it counts in the tenant's state from then on.
func nextHealth(old *tenant.RegionHealth, o observation, now time.Time) *tenant.RegionHealth {
	cur := tenant.RegionHealth{State: tenant.StateActive}
	if old != nil {
		cur = *old
	}
	into := func(s tenant.State) {
		if cur.State != s {
			cur.State, cur.Since = s, now
		}
		cur.Reason = o.code()
	}
	switch {
	case o.OK:
		if old != nil && old.State == tenant.StateActive {
			return old
		}
		return &tenant.RegionHealth{State: tenant.StateActive, Since: now}
	case cur.State == tenant.StateDestroyed:
		return old // a deleted key does not come back
	case o.Class == kms.PendingDeletion:
		into(tenant.StateDeletionPending)
		if !o.DeletionDate.IsZero() {
			cur.DeletionDate = o.DeletionDate
		}
	case o.Class == kms.NotFound && (cur.State == tenant.StateDeletionPending || !cur.DeletionDate.IsZero()):
		into(tenant.StateDestroyed)
	case o.Class.Definitive():
		into(tenant.StateKeyUnavailable)
		cur.DeletionDate = time.Time{}
	default:
		return old
	}
	return &cur
}

func sameHealth(a, b *tenant.RegionHealth) bool {
	if a == nil || b == nil {
		return a == b
	}
	return a.State == b.State && a.Reason == b.Reason && a.Since.Equal(b.Since) && a.DeletionDate.Equal(b.DeletionDate)
}

// tenantObservation is what the tenant's regions together say of its key,
// counting the probed region as just seen and every other ready region
// whose hosting instances have probed it: usable if any region's key is;
// scheduled for deletion if every one is scheduled or gone; gone if every
// one is; otherwise unavailable, for the reason of the first region (by
// name) whose key is. A region nobody probed does not count, so a tenant
// served from one region is judged by that region alone.
func tenantObservation(t *tenant.Tenant, o observation, h *tenant.RegionHealth) observation {
	var hs []*tenant.RegionHealth
	for _, name := range sortedRegions(t) {
		switch r := t.Regions[name]; {
		case name == o.Region:
			if h != nil {
				hs = append(hs, h)
			}
		case r.Ready && r.Health != nil:
			hs = append(hs, r.Health)
		}
	}
	if len(hs) == 0 {
		return o
	}
	agg := observation{Key: o.Key, RequestID: o.RequestID}
	gone, unavailable := true, (*tenant.RegionHealth)(nil)
	for _, rh := range hs {
		switch rh.State {
		case tenant.StateActive:
			agg.OK = true
			return agg
		case tenant.StateDeletionPending:
			gone = false
			agg.DeletionDate = later(agg.DeletionDate, rh.DeletionDate)
		case tenant.StateKeyUnavailable:
			if unavailable == nil {
				unavailable = rh
			}
		}
	}
	switch {
	case unavailable != nil:
		agg.Class = classOfReason(unavailable.Reason, o)
	case gone:
		agg.Class = kms.NotFound
	default:
		agg.Class = kms.PendingDeletion
	}
	return agg
}

func sortedRegions(t *tenant.Tenant) []string {
	names := make([]string, 0, len(t.Regions))
	for name := range t.Regions {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}

func later(a, b time.Time) time.Time {
	if b.After(a) {
		return b
	}
	return a
}

// regionEvent announces a change of one region's key state.
func regionEvent(id string, old, h *tenant.RegionHealth, o observation, now time.Time) Event {
	from := tenant.StateActive
	if old != nil {
		from = old.State
	}
	reason := h.Reason
	if h.State == tenant.StateActive {
		reason = "key_available"
	}
	return Event{Type: EventRegionStateChanged, Tenant: id, OldState: from, NewState: h.State, Reason: reason,
		Key: o.Key, KMSRequestID: o.RequestID, DeletionDate: h.DeletionDate, Time: now}
}
