package monitor

import (
	"crypto/rand"
	"encoding/hex"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

// Event types.
const (
	// EventStateChanged: the tenant moved from OldState to NewState.
	EventStateChanged = "tenant.state_changed"
	// EventDeletionWarning: the customer's key will be deleted at
	// DeletionDate, within Threshold from now.
	EventDeletionWarning = "key.deletion_warning"
	// EventArchived: a suspended tenant's outage reached the archive timer;
	// it is no longer probed and can be restored until RestoreUntil.
	EventArchived = "tenant.archived"
	// EventRestored: an archived tenant was restored and is active again.
	EventRestored = "tenant.restored"
	// EventRegionStateChanged: the key serving Region moved from OldState
	// to NewState (active, key_unavailable, deletion_pending, destroyed),
	// whether or not the tenant's own state changed with it.
	EventRegionStateChanged = "tenant.region_state_changed"
)

// Event is what the monitor tells subscribers: the JSON body of a webhook
// delivery.
type Event struct {
	ID       string       `json:"id"`
	Type     string       `json:"type"`
	Tenant   string       `json:"tenant"`
	OldState tenant.State `json:"old_state,omitempty"`
	NewState tenant.State `json:"new_state,omitempty"`
	// Region is the hosting region whose probe raised the event; empty
	// when the tenant was judged as a whole (it has no regions, or the
	// monitor serves no particular region).
	Region string `json:"region,omitempty"`
	// Reason is the stable code of what caused it: "key_disabled",
	// "key_access_denied", "key_pending_deletion", "key_not_found",
	// "key_available", "restored".
	Reason string `json:"reason,omitempty"`
	// Key is the customer's key the probe used; KMSRequestID the request
	// id of the probe's KMS call, as the customer's CloudTrail shows it.
	Key          string    `json:"key,omitempty"`
	KMSRequestID string    `json:"kms_request_id,omitempty"`
	DeletionDate time.Time `json:"deletion_date,omitzero"`
	Threshold    string    `json:"threshold,omitempty"`
	RestoreUntil time.Time `json:"restore_until,omitzero"`
	Time         time.Time `json:"time"`
}

// Notifier receives the monitor's events. Notify must return promptly (a
// bounded write at most): the monitor calls it from its probes.
type Notifier interface {
	Notify(ev Event)
}

// OutboxNotifier is a Notifier whose events the monitor stores itself,
// with the state change that raised them and in the same transaction
// (store.Store.UpdateTenantWithEvents), so that no change is ever stored
// without its events. [Webhooks] is one; its store must be the monitor's.
type OutboxNotifier interface {
	Notifier
	// Outbound encodes ev for the store's outbox.
	Outbound(ev Event) (*store.OutboxEvent, error)
	// Stored is told once events are stored, so that delivery starts.
	Stored()
}

// newEventID returns a random event id, which receivers use to drop
// duplicate deliveries.
func newEventID() string {
	var b [16]byte
	rand.Read(b[:])
	return "evt_" + hex.EncodeToString(b[:])
}
