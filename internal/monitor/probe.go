package monitor

import (
	"context"
	"errors"
	"strings"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

// maxCASAttempts bounds the retries of a state change that lost a
// compare-and-swap to another writer (another instance's monitor, the
// control plane).
const maxCASAttempts = 5

// probe checks one tenant's key and applies what it saw: in this
// instance's region only when regional, else through any wrapping. The
// keyring has already evicted the tenant's cached keys on a definitive
// failure.
func (m *Monitor) probe(ctx context.Context, id string, regional bool) {
	pctx, cancel := context.WithTimeout(ctx, m.cfg.ProbeTimeout)
	defer cancel()
	res, err := m.probeKey(pctx, id, regional)
	now := m.cfg.Now()
	if err != nil {
		// No key version, or the store failed: nothing the customer did.
		m.recordHealth(ctx, id, now, res, err)
		return
	}
	m.recordHealth(ctx, id, now, res, nil)
	o := m.observe(pctx, id, res)
	if regional {
		o.Region = m.cfg.Region
	}
	if err := m.apply(ctx, id, o, now); err != nil {
		m.cfg.Logger.ErrorContext(ctx, "monitor: applying probe", "tenant", id, "err", err)
	}
}

func (m *Monitor) probeKey(ctx context.Context, id string, regional bool) (keyring.ProbeResult, error) {
	if regional {
		return m.cfg.Keyring.ProbeRegion(ctx, id, m.cfg.Region)
	}
	return m.cfg.Keyring.Probe(ctx, id)
}

// observe turns a probe result into an observation, asking the provider for
// the deletion date when the key is scheduled for deletion.
func (m *Monitor) observe(ctx context.Context, tenant string, res keyring.ProbeResult) observation {
	o := observation{OK: res.OK(), Class: res.Class, Key: res.Key.ID, RequestID: res.RequestID}
	if o.Class == kms.PendingDeletion {
		o.DeletionDate = m.deletionDate(ctx, tenant, res.Key)
	}
	return o
}

func (m *Monitor) deletionDate(ctx context.Context, tenant string, ref kms.KeyRef) time.Time {
	p := m.cfg.Providers[ref.Provider]
	if p == nil {
		return time.Time{}
	}
	info, err := p.Describe(ctx, ref, tenant)
	if err != nil {
		m.cfg.Logger.WarnContext(ctx, "monitor: describing a key pending deletion", "key", ref.ID, "err", err)
		return time.Time{}
	}
	at, err := time.Parse(time.RFC3339, info.DeletionDate)
	if err != nil {
		return time.Time{}
	}
	return at
}

// apply runs the state machine on the stored tenant and stores the result
// with a compare-and-swap. On a conflict it rereads and decides again, so a
// change another instance already made is not made (or announced) twice.
func (m *Monitor) apply(ctx context.Context, id string, o observation, now time.Time) error {
	for range maxCASAttempts {
		t, err := m.cfg.Store.GetTenant(ctx, id)
		if err != nil {
			return err
		}
		done, err := m.applyTo(ctx, t, o, now)
		if done || err != nil {
			return err
		}
		m.count(func(s *Stats) { s.Conflicts++ })
	}
	return errConflicts
}

// applyTo reports done unless the compare-and-swap lost.
func (m *Monitor) applyTo(ctx context.Context, t *tenant.Tenant, o observation, now time.Time) (bool, error) {
	if !isMonitored(t.State) {
		return true, nil // offboarded or destroyed meanwhile
	}
	d := m.machine.decideFor(t, o, now)
	if d.State == t.State && d.Record == t.Outage && d.Health == nil {
		return true, nil
	}
	err := m.store(ctx, t, d)
	if errors.Is(err, store.ErrConflict) {
		return false, nil
	}
	return true, err
}

// store writes a decision and announces it. An OutboxNotifier's events are
// stored in the same transaction as the change; any other notifier is
// told once the change is stored.
func (m *Monitor) store(ctx context.Context, t *tenant.Tenant, d decision) error {
	for i := range d.Events {
		d.Events[i].ID = newEventID()
	}
	mutate := func(next *tenant.Tenant) error {
		next.State, next.Outage = d.State, d.Record
		if r := next.Regions[d.Region]; r != nil && d.Health != nil {
			r.Health = d.Health
		}
		return nil
	}
	outbox, _ := m.cfg.Notifier.(OutboxNotifier)
	var stored *tenant.Tenant
	var err error
	if outbox != nil && len(d.Events) > 0 {
		stored, err = m.storeWithEvents(ctx, t, mutate, d.Events, outbox)
	} else {
		stored, err = m.cfg.Store.UpdateTenant(ctx, t.ID, t.Revision, mutate)
	}
	if err != nil {
		return err
	}
	if m.cfg.Tenants != nil {
		m.cfg.Tenants.Observe(stored)
	}
	m.count(func(s *Stats) { s.Changes++ })
	for _, ev := range d.Events {
		m.cfg.Logger.InfoContext(ctx, "monitor: "+ev.Type, "tenant", ev.Tenant, "region", ev.Region, "old", ev.OldState,
			"new", ev.NewState, "reason", ev.Reason, "kms_request_id", ev.KMSRequestID)
		if m.cfg.Notifier != nil && outbox == nil {
			m.cfg.Notifier.Notify(ev)
		}
	}
	return nil
}

func (m *Monitor) storeWithEvents(ctx context.Context, t *tenant.Tenant, mutate func(*tenant.Tenant) error, evs []Event, n OutboxNotifier) (*tenant.Tenant, error) {
	outs := make([]*store.OutboxEvent, len(evs))
	for i, ev := range evs {
		var err error
		if outs[i], err = n.Outbound(ev); err != nil {
			return nil, err
		}
	}
	stored, _, err := m.cfg.Store.UpdateTenantWithEvents(ctx, t.ID, t.Revision, mutate, outs)
	if err != nil {
		return nil, err
	}
	n.Stored()
	return stored, nil
}

func (m *Monitor) count(f func(*Stats)) {
	m.mu.Lock()
	f(&m.stats)
	m.mu.Unlock()
}

// recordHealth writes the probe to the tenant's health history when its
// outcome changed or the last record is older than HealthHeartbeat.
func (m *Monitor) recordHealth(ctx context.Context, id string, now time.Time, res keyring.ProbeResult, err error) {
	r := healthRecord(id, now, res, err)
	if !m.shouldRecord(id, r) {
		return
	}
	if err := m.cfg.Store.AddHealth(ctx, r); err != nil && !errors.Is(err, store.ErrNotFound) {
		m.cfg.Logger.ErrorContext(ctx, "monitor: recording health", "tenant", id, "err", err)
	}
}

func (m *Monitor) shouldRecord(id string, r *store.HealthRecord) bool {
	m.mu.Lock()
	defer m.mu.Unlock()
	e := m.tenants[id]
	if e == nil {
		return true
	}
	if e.lastOutcome == r.Outcome && e.lastCode == r.Code && r.At.Sub(e.lastWritten) < m.cfg.HealthHeartbeat {
		return false
	}
	e.lastOutcome, e.lastCode, e.lastWritten = r.Outcome, r.Code, r.At
	return true
}

func healthRecord(id string, now time.Time, res keyring.ProbeResult, err error) *store.HealthRecord {
	r := &store.HealthRecord{Tenant: id, At: now, Outcome: store.OutcomeOK, Key: clip(res.Key.ID, store.MaxARNLen),
		Version: res.Version, RequestID: clip(res.RequestID, store.MaxShortFieldLen)}
	switch {
	case err != nil:
		r.Outcome, r.Code, r.Detail = store.OutcomeError, "probe_failed", clip(err.Error(), store.MaxDetailLen)
	case res.OK():
	case res.Class.Transient():
		r.Outcome, r.Code, r.Detail = store.OutcomeDegraded, res.Class.Code(), clip(res.Err.Error(), store.MaxDetailLen)
	case res.Class.Definitive():
		r.Outcome, r.Code, r.Detail = store.OutcomeUnavailable, res.Class.Code(), clip(res.Err.Error(), store.MaxDetailLen)
	default:
		r.Outcome, r.Code, r.Detail = store.OutcomeError, res.Class.Code(), clip(res.Err.Error(), store.MaxDetailLen)
	}
	return r
}

// clip shortens s to at most n bytes of UTF-8 without NUL, as the store
// requires of history text.
func clip(s string, n int) string {
	s = strings.ReplaceAll(strings.ToValidUTF8(s, ""), "\x00", "")
	if len(s) > n {
		s = strings.ToValidUTF8(s[:n], "")
	}
	return s
}
