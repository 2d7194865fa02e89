// Package tenant is the tenant model and its one owner.
//
// # Model
//
// A [Tenant] is everything the platform keeps about one customer: its
// lifecycle [State] and since when, the customer key bound to it per
// hosting region ([KeyBinding]), the regions serving it ([Region]), a key
// change under way ([KeyChange]), the key health monitor's record of an
// outage ([Outage]), its offboarding and deletion receipt, and its vaults.
// Every member is typed; the store keeps the members that are not columns
// as one versioned JSON document, parsed and written only here
// ([MarshalModel], [UnmarshalModel]), so no other package merges JSON by
// hand and a row written by a newer release is refused rather than
// misread.
//
// # Owner
//
// [Manager] is the one way to change a tenant: [Manager.Update] applies a
// change by compare-and-swap on the tenant's revision, re-reading it when
// another writer got there first. The data path asks [Manager.Admission],
// which reads a tenant's state at most once per cache window and forgets
// it as soon as this process changes the tenant.
package tenant

import (
	"encoding/json"
	"maps"
	"slices"
	"time"

	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/kms"
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
	return slices.Contains(States, s)
}

// Halted reports whether a tenant in state s must not run background work
// (ingestion, scheduled jobs, replication): it is suspended (archived
// tenants are suspended too), destroyed or shredded. A tenant whose key is
// merely unavailable is not halted: its data operations already fail with
// the key's error, and jobs resume by themselves if the key comes back.
func (s State) Halted() bool {
	return s == StateSuspended || s == StateDestroyed || s == StateShredded
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
	// State is the tenant's lifecycle state. For a tenant served from
	// several regions it follows their keys together (each region's own is
	// its Region's Health): key_unavailable only once no probed region's
	// key serves.
	State State
	// StateSince is when State last changed; the store sets it. Rows
	// stored before it was kept carry their last update.
	StateSince time.Time
	// Revision is 1 on creation and bumped by every update.
	Revision  int64
	CreatedAt time.Time
	UpdatedAt time.Time

	// KeyBinding is the customer key serving each hosting region, from
	// enablement on; nil while the tenant has not brought its own key.
	KeyBinding *KeyBinding
	// Regions are the hosting regions serving the tenant, by name.
	Regions map[string]*Region
	// KeyChange is the key change under way, if any.
	KeyChange *KeyChange
	// Outage is the key health monitor's record of the current outage or
	// scheduled deletion; zero when the key is healthy.
	Outage Outage
	// Offboarding is set when offboarding began; Receipt once it finished.
	Offboarding *Offboarding
	Receipt     *SignedReceipt
	// Vaults are separate accounts keeping their own copy of the tenant's
	// key versions, by name.
	Vaults map[string]*Vault
	// Overrides are where the platform's policy differs for this tenant.
	Overrides Overrides
}

// Overrides are the parts of the platform's policy that the platform may
// set differently for one tenant; a zero field follows the platform.
type Overrides struct {
	// KeyBinding, when set, replaces the platform policy's key_binding: a
	// platform whose keys are bound for good may let one tenant change its
	// key (or the reverse).
	KeyBinding platform.KeyBinding `json:"key_binding,omitempty"`
}

// Policy returns the platform policy p as it applies to t.
func (t *Tenant) Policy(p platform.Policy) platform.Policy {
	if t.Overrides.KeyBinding != "" {
		p.KeyBinding = t.Overrides.KeyBinding
	}
	return p
}

// Clone returns a deep copy of t.
func (t *Tenant) Clone() *Tenant {
	c := *t
	if t.KeyBinding != nil {
		kb := *t.KeyBinding
		kb.Regions = maps.Clone(kb.Regions)
		c.KeyBinding = &kb
	}
	c.Regions = cloneMap(t.Regions, (*Region).clone)
	if t.KeyChange != nil {
		kc := *t.KeyChange
		kc.From, kc.To = slices.Clone(kc.From), slices.Clone(kc.To)
		c.KeyChange = &kc
	}
	if t.Offboarding != nil {
		ob := *t.Offboarding
		ob.Versions, ob.Keys = slices.Clone(ob.Versions), slices.Clone(ob.Keys)
		c.Offboarding = &ob
	}
	if t.Receipt != nil {
		sr := SignedReceipt{Receipt: slices.Clone(t.Receipt.Receipt), Signature: slices.Clone(t.Receipt.Signature)}
		c.Receipt = &sr
	}
	c.Vaults = cloneMap(t.Vaults, func(v *Vault) *Vault { w := *v; return &w })
	return &c
}

func cloneMap[V any](m map[string]*V, clone func(*V) *V) map[string]*V {
	if m == nil {
		return nil
	}
	out := make(map[string]*V, len(m))
	for k, v := range m {
		out[k] = clone(v)
	}
	return out
}

// KeyBinding is which customer key serves each hosting region: what
// enablement bound the tenant to, and what a key change moves.
type KeyBinding struct {
	// Regions maps a hosting region to the customer key's ARN there.
	Regions map[string]string `json:"regions"`
	Enabled time.Time         `json:"enabled"`
}

// Region is whether a hosting region serves a tenant, and the keys its
// wrappings there are under.
type Region struct {
	// Ready is set once every key version has its wrappings for the
	// region; until then the region serves nothing for the tenant.
	Ready bool         `json:"ready"`
	Keys  []kms.KeyRef `json:"keys"`
	// Since is when Ready last changed.
	Since time.Time `json:"since"`
	// Health is what the key health monitor of the instances hosting the
	// region saw of the region's key. Nil until one of them probed it, and
	// in records written before regions kept their own health: such a
	// region is judged by the tenant's state alone.
	Health *RegionHealth `json:"health,omitempty"`
}

// RegionHealth is the state of one region's key, as its probes saw it.
type RegionHealth struct {
	// State is StateActive, StateKeyUnavailable, StateDeletionPending or
	// StateDestroyed: whether the region's key serves, and if not, why.
	State State `json:"state"`
	// Since is when State began.
	Since time.Time `json:"since"`
	// Reason is the stable code of the failure (key_disabled,
	// key_access_denied, ...); empty while the key serves.
	Reason string `json:"reason,omitempty"`
	// DeletionDate is when the region's key is scheduled to be deleted.
	DeletionDate time.Time `json:"deletion_date,omitzero"`
}

func (r *Region) clone() *Region {
	c := *r
	c.Keys = slices.Clone(r.Keys)
	if r.Health != nil {
		h := *r.Health
		c.Health = &h
	}
	return &c
}

// HealthIn returns what the probes of region saw of its key; nil when the
// region does not serve the tenant or no instance hosting it probed it yet.
func (t *Tenant) HealthIn(region string) *RegionHealth {
	if r := t.Regions[region]; r != nil {
		return r.Health
	}
	return nil
}

// ReadyIn reports whether region serves the tenant: always for a tenant
// that has not brought its own key (the platform key serves everywhere),
// otherwise once its wrappings there are complete.
func (t *Tenant) ReadyIn(region string) bool {
	if len(t.Regions) == 0 {
		return true
	}
	r := t.Regions[region]
	return r != nil && r.Ready
}

// KeyChange is a key change in progress, recorded before any wrapping is
// made, so that a restarted process knows what to finish. Progress itself
// is the wrappings in the store.
type KeyChange struct {
	Region   string       `json:"region"`
	KeyARN   string       `json:"key_arn"`          // as handed over
	Resolved string       `json:"resolved_key_arn"` // alias resolved
	RoleARN  string       `json:"role_arn,omitempty"`
	From     []kms.KeyRef `json:"from"`
	To       []kms.KeyRef `json:"to"`
	Started  time.Time    `json:"started"`
}

// Outage is what the key health monitor keeps about a tenant between
// probes.
type Outage struct {
	// Since is when the current outage began (the first definitive failure).
	Since time.Time `json:"unavailable_since,omitzero"`
	// Reason is the stable code of the failure that began it
	// (key_disabled, key_access_denied, ...).
	Reason string `json:"reason,omitempty"`
	// DeletionDate is when the customer's key is scheduled to be deleted.
	DeletionDate time.Time `json:"deletion_date,omitzero"`
	// Warned is the smallest deletion warning threshold already sent.
	Warned time.Duration `json:"warned,omitempty"`
	// ArchivedAt is when the tenant was archived.
	ArchivedAt time.Time `json:"archived_at,omitzero"`
}

// Offboarding records, from the moment offboarding begins, what it
// deletes, so that an interrupted offboarding finishes with a complete
// receipt after the versions are gone.
type Offboarding struct {
	Requested time.Time          `json:"requested"`
	Versions  []DestroyedVersion `json:"versions"`
	Keys      []DestroyedKey     `json:"keys"`
}

// DestroyedVersion is one tenant key version destroyed by offboarding.
type DestroyedVersion struct {
	Version   uint32    `json:"version"`
	Created   time.Time `json:"created"`
	Wrappings int       `json:"wrappings"`
}

// DestroyedKey is one key whose wrappings offboarding destroyed.
type DestroyedKey struct {
	Provider string `json:"provider"`
	ID       string `json:"id"`
	Region   string `json:"region,omitempty"`
	// Versions counts the tenant key versions it wrapped.
	Versions int `json:"versions"`
}

// SignedReceipt is a deletion receipt as handed out: the exact JSON bytes
// signed and the Ed25519 signature over them (docs/receipts.md).
type SignedReceipt struct {
	Receipt   json.RawMessage `json:"receipt"`
	Signature []byte          `json:"signature"`
}

// Vault is a separate account (typically the customer's backup account)
// that keeps its own copy of a tenant's key versions, protected by that
// account's key alone.
type Vault struct {
	Name    string    `json:"name"`
	Region  string    `json:"region"`
	KeyARN  string    `json:"key_arn"` // alias resolved
	RoleARN string    `json:"role_arn,omitempty"`
	Default bool      `json:"default"`
	Added   time.Time `json:"added"`
}
