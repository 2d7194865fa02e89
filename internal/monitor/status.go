package monitor

import (
	"context"
	"errors"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

// Status is what the monitor knows about one tenant.
type Status struct {
	Tenant string
	State  tenant.State
	// Halted: the tenant's background work must not run (see Halted).
	Halted bool
	// Degraded: the last probe failed transiently; the state is unchanged
	// and cached keys keep serving.
	Degraded bool
	// UnavailableSince and Reason describe the current outage.
	UnavailableSince time.Time
	Reason           string
	// DeletionDate is when the customer's key is scheduled to be deleted.
	DeletionDate time.Time
	// ArchivedAt is set once the tenant is archived; it can be restored
	// until RestoreUntil.
	ArchivedAt   time.Time
	RestoreUntil time.Time
	// LastProbe is the newest health record, if any.
	LastProbe *store.HealthRecord
}

// Status returns the tenant's state as the monitor sees it.
func (m *Monitor) Status(ctx context.Context, tenant string) (*Status, error) {
	t, err := m.tenant(ctx, tenant)
	if err != nil {
		return nil, err
	}
	r := t.Outage
	st := &Status{Tenant: t.ID, State: t.State, Halted: halted(t.State), UnavailableSince: r.Since,
		Reason: r.Reason, DeletionDate: r.DeletionDate, ArchivedAt: r.ArchivedAt}
	if !r.ArchivedAt.IsZero() {
		st.RestoreUntil = r.ArchivedAt.Add(m.cfg.RestoreWindow)
	}
	hs, err := m.cfg.Store.Health(ctx, tenant, 1)
	if err != nil {
		return nil, err
	}
	if len(hs) == 1 {
		st.LastProbe, st.Degraded = hs[0], hs[0].Outcome == store.OutcomeDegraded
	}
	return st, nil
}

// Halted reports whether the tenant's background work (ingestion,
// scheduled jobs, replication) must stop: it is suspended (archived
// tenants are suspended too), destroyed or shredded. A tenant whose key is
// merely unavailable is not halted: its data operations already fail with
// the key's error, and jobs resume by themselves if the key comes back
// before the suspension timer.
func (m *Monitor) Halted(ctx context.Context, tenant string) (bool, error) {
	t, err := m.tenant(ctx, tenant)
	if err != nil {
		return false, err
	}
	return halted(t.State), nil
}

func halted(s tenant.State) bool {
	return s == tenant.StateSuspended || s == tenant.StateDestroyed || s == tenant.StateShredded
}

// Health returns up to limit of the tenant's newest health records.
func (m *Monitor) Health(ctx context.Context, tenant string, limit int) ([]*store.HealthRecord, error) {
	if _, err := m.tenant(ctx, tenant); err != nil {
		return nil, err
	}
	return m.cfg.Store.Health(ctx, tenant, limit)
}

func (m *Monitor) tenant(ctx context.Context, id string) (*tenant.Tenant, error) {
	t, err := m.cfg.Store.GetTenant(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(ErrTenantNotFound, []error{err}, "tenant %s not found", store.Clip(id))
	}
	return t, err
}

// Restore brings an archived tenant back once the customer has made the key
// usable again: it probes the key and, if the probe passes within the
// restore window, makes the tenant active. Archived tenants are not probed
// on the schedule, so a key that comes back does not restore them by
// itself: someone decides to.
func (m *Monitor) Restore(ctx context.Context, tenant string) error {
	t, err := m.tenant(ctx, tenant)
	if err != nil {
		return err
	}
	probe, regional := m.scope(t)
	if !probe {
		return errorf(ErrRegionNotServed, nil, "region %s does not serve tenant %s: restore it through an instance of a region that does", m.cfg.Region, t.ID)
	}
	if err := m.restorable(t); err != nil {
		return err
	}
	pctx, cancel := context.WithTimeout(ctx, m.cfg.ProbeTimeout)
	defer cancel()
	res, err := m.probeKey(pctx, tenant, regional)
	now := m.cfg.Now()
	m.recordHealth(ctx, tenant, now, res, err)
	if err == nil && !res.OK() {
		err = res.Err
	}
	if err != nil {
		return errorf(ErrKeyUnavailable, []error{err}, "restore tenant %s: %v", tenant, err)
	}
	o := observation{OK: true, Key: res.Key.ID, RequestID: res.RequestID}
	if regional {
		o.Region = m.cfg.Region
	}
	return m.restore(ctx, t, o, now)
}

func (m *Monitor) restorable(t *tenant.Tenant) error {
	r := t.Outage
	if r.ArchivedAt.IsZero() || t.State != tenant.StateSuspended {
		return errorf(ErrNotArchived, nil, "tenant %s is %s and not archived", t.ID, t.State)
	}
	if until := r.ArchivedAt.Add(m.cfg.RestoreWindow); m.cfg.Now().After(until) {
		return errorf(ErrRestoreExpired, nil, "tenant %s could be restored until %s", t.ID, until.Format(time.RFC3339))
	}
	return nil
}

// restore makes the tenant active; a regional probe also marks its region's
// key as serving again.
func (m *Monitor) restore(ctx context.Context, t *tenant.Tenant, o observation, now time.Time) error {
	d := decision{State: tenant.StateActive, Region: o.Region, Events: []Event{{Type: EventRestored, Tenant: t.ID, Region: o.Region,
		OldState: t.State, NewState: tenant.StateActive, Reason: "restored", Key: o.Key, KMSRequestID: o.RequestID, Time: now}}}
	if o.Region != "" {
		d.Health = nextHealth(t.HealthIn(o.Region), o, now)
	}
	err := m.store(ctx, t, d)
	if errors.Is(err, store.ErrConflict) {
		return errorf(ErrNotArchived, []error{err}, "tenant %s changed while being restored; try again", t.ID)
	}
	return err
}

// NextProbe returns when this instance's scheduler will next probe the
// tenant's key. ok is false when it has no probe scheduled: the tenant is
// not probed (archived, pending, destroyed), the scheduler has not listed
// it yet, or another instance leads the probes (a schedule left overdue by
// more than an interval is one this instance stopped running).
func (m *Monitor) NextProbe(tenant string) (at time.Time, ok bool) {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.tenants[tenant]
	if e == nil || m.cfg.Now().Sub(e.due) > m.cfg.Interval+m.cfg.Jitter {
		return time.Time{}, false
	}
	return e.due, true
}
