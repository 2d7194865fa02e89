// Package tenant is the tenant model and its one owner: a tenant's
// lifecycle state, the customer key it is bound to, the regions serving it,
// its lifecycle timestamps and its policy overrides.
package tenant

import (
	"encoding/json"
	"time"
)

// State is a tenant's lifecycle state.
type State string

// Tenant states; see the design's state diagram.
const (
	StatePending         State = "pending"
	StateActive          State = "active"
	StateKeyUnavailable  State = "key_unavailable"
	StateSuspended       State = "suspended"
	StateDeletionPending State = "deletion_pending"
	StateDestroyed       State = "destroyed"
	StateShredded        State = "shredded"
)

// States lists every valid state.
var States = []State{StatePending, StateActive, StateKeyUnavailable, StateSuspended,
	StateDeletionPending, StateDestroyed, StateShredded}

// Valid reports whether s is one of [States].
func (s State) Valid() bool {
	for _, v := range States {
		if s == v {
			return true
		}
	}
	return false
}

// Tenant is one customer of the platform.
type Tenant struct {
	// ID is the tenant id bound into every ciphertext (see
	// envelope.ValidTenantID); it never changes.
	ID string
	// Name is for people: 1 to MaxNameLen bytes of UTF-8 without control
	// characters.
	Name string
	// ExternalID is the sts:ExternalId the customer's role requires; unique
	// across tenants.
	ExternalID string
	State      State
	// Revision is 1 on creation and bumped by every update.
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time
	// Settings is a JSON object for settings that evolve without a schema
	// change. Empty means {}.
	Settings json.RawMessage
}

// Clone returns a deep copy of t.
func (t *Tenant) Clone() *Tenant {
	c := *t
	c.Settings = append(json.RawMessage(nil), t.Settings...)
	return &c
}
