package monitor

import (
	"time"

	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/kms"
)

// record is what the monitor keeps about a tenant between probes: the
// tenant's Outage, stored with its state so that one compare-and-swap
// changes both.
type record = tenant.Outage

// observation is what one probe (and, for a scheduled deletion, Describe)
// saw.
type observation struct {
	// Region is the hosting region whose wrappings were probed; empty when
	// the tenant was probed as a whole.
	Region       string
	OK           bool
	Class        kms.Class
	Key          string
	RequestID    string
	DeletionDate time.Time
}

func (o observation) code() string {
	if o.OK {
		return ""
	}
	return o.Class.Code()
}

// decision is what the state machine makes of an observation.
type decision struct {
	State  tenant.State
	Record record
	Events []Event
	// Health, when set, is Region's new health.
	Region string
	Health *tenant.RegionHealth
}

// machine holds the timers the state machine applies.
type machine struct {
	suspendAfter, archiveAfter, restoreWindow time.Duration
	warnings                                  []time.Duration
}

// decide applies the state machine to a tenant in state s with record r. It
// is pure: the caller stores the result with a compare-and-swap and sends
// the events once it won.
func (m machine) decide(id string, s tenant.State, r record, o observation, now time.Time) decision {
	d := decision{State: s, Record: r}
	if !r.ArchivedAt.IsZero() {
		return d // only Restore brings an archived tenant back
	}
	switch {
	case o.OK:
		m.recover(&d, o)
	case o.Class == kms.PendingDeletion:
		m.scheduled(&d, o, now)
	case o.Class == kms.NotFound && (s == tenant.StateDeletionPending || !r.DeletionDate.IsZero()):
		d.change(tenant.StateDestroyed, o)
	case o.Class.Definitive():
		m.unavailable(&d, o, now)
	default:
		// Transient or platform-side failures change nothing, but an
		// outage already under way keeps its timers and warnings running.
		m.timers(&d, o, now)
	}
	for i := range d.Events {
		d.Events[i].Tenant, d.Events[i].Time = id, now
		d.Events[i].Key, d.Events[i].KMSRequestID = o.Key, o.RequestID
	}
	return d
}

// change moves to state with an event, unless already there.
func (d *decision) change(state tenant.State, o observation) {
	if d.State == state {
		return
	}
	d.Events = append(d.Events, Event{Type: EventStateChanged, OldState: d.State, NewState: state,
		Reason: reasonOf(o), DeletionDate: d.Record.DeletionDate})
	d.State = state
}

func reasonOf(o observation) string {
	if o.OK {
		return "key_available"
	}
	return o.code()
}

func (m machine) recover(d *decision, o observation) {
	if d.State == tenant.StateActive {
		return
	}
	d.Record = record{}
	d.change(tenant.StateActive, o)
}

func (m machine) scheduled(d *decision, o observation, now time.Time) {
	if d.State != tenant.StateDeletionPending || d.Record.DeletionDate.IsZero() {
		d.Record.DeletionDate, d.Record.Warned = o.DeletionDate, 0
	}
	d.Record.Reason = o.code()
	d.change(tenant.StateDeletionPending, o)
	m.warn(d, now)
}

// warn sends one warning for the smallest threshold the deletion date has
// come within and that was not sent yet: thresholds passed together (a
// deletion scheduled for 7 days with warnings at 7 and 1 days, seen late)
// give one warning, not a burst.
func (m machine) warn(d *decision, now time.Time) {
	r := &d.Record
	if r.DeletionDate.IsZero() {
		return
	}
	left := r.DeletionDate.Sub(now)
	var due time.Duration
	for _, w := range m.warnings {
		if left <= w && (r.Warned == 0 || w < r.Warned) {
			due = w
		}
	}
	if due == 0 {
		return
	}
	r.Warned = due
	d.Events = append(d.Events, Event{Type: EventDeletionWarning, OldState: d.State, NewState: d.State,
		Reason: kms.PendingDeletion.Code(), DeletionDate: r.DeletionDate, Threshold: due.String()})
}

func (m machine) unavailable(d *decision, o observation, now time.Time) {
	if d.State == tenant.StateActive || d.State == tenant.StateDeletionPending {
		d.Record = record{Since: now, Reason: o.code()}
		d.change(tenant.StateKeyUnavailable, o)
		return
	}
	if d.Record.Since.IsZero() {
		// The outage began before this monitor kept a record.
		d.Record.Since, d.Record.Reason = now, o.code()
	}
	m.timers(d, o, now)
}

// timers suspends and archives a tenant whose outage has lasted, and keeps
// deletion warnings going.
func (m machine) timers(d *decision, o observation, now time.Time) {
	r := &d.Record
	switch {
	case d.State == tenant.StateDeletionPending:
		m.warn(d, now)
	case r.Since.IsZero():
	case d.State == tenant.StateKeyUnavailable && now.Sub(r.Since) >= m.suspendAfter:
		d.change(tenant.StateSuspended, observation{Class: classOfReason(r.Reason, o)})
	case d.State == tenant.StateSuspended && r.ArchivedAt.IsZero() && now.Sub(r.Since) >= m.archiveAfter:
		r.ArchivedAt = now
		d.Events = append(d.Events, Event{Type: EventArchived, OldState: d.State, NewState: d.State, Reason: r.Reason,
			RestoreUntil: now.Add(m.restoreWindow)})
	}
}

// classOfReason keeps the outage's original reason on a timer-driven change
// even when the probe that triggered it failed otherwise (transiently).
func classOfReason(reason string, o observation) kms.Class {
	for c := kms.Denied; c <= kms.Misconfigured; c++ {
		if c.Code() == reason {
			return c
		}
	}
	return o.Class
}
