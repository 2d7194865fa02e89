package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Version is a tenant key version: when it was made and which keys wrap it.
type Version struct {
	Version uint32    `json:"version"`
	Created time.Time `json:"created"`
	Keys    []string  `json:"keys"`
}

// Rotate makes the tenant's next key version; new data is sealed with it and
// older data keeps opening.
func (c *Client) Rotate(ctx context.Context, id string) (*Version, error) {
	var v Version
	return &v, c.call(ctx, http.MethodPost, tenantPath(id, "rotate"), nil, nil, &v)
}

// KeyChange is the answer of ChangeKey.
type KeyChange struct {
	Region  string          `json:"region"`
	From    string          `json:"from"`
	To      string          `json:"to"`
	Resumed bool            `json:"resumed"`
	Wrapped int             `json:"wrapped"`
	Dropped int             `json:"dropped"`
	Reports []*RegionReport `json:"reports"`
}

// ChangeKey moves the tenant to another customer key in region, rewrapping
// every key version (no data is re-encrypted). After a failure, call it again
// with the same key to finish.
func (c *Client) ChangeKey(ctx context.Context, id, region, keyARN, roleARN string) (*KeyChange, error) {
	var kc KeyChange
	in := map[string]string{"key_arn": keyARN}
	if roleARN != "" {
		in["role_arn"] = roleARN
	}
	return &kc, c.call(ctx, http.MethodPost, tenantPath(id, "keys", url.PathEscape(region), "change"), nil, in, &kc)
}

// RegionStatus says whether a region serves the tenant yet, and how its
// key fares.
type RegionStatus struct {
	Ready bool            `json:"ready"`
	Keys  json.RawMessage `json:"keys"`
	Since string          `json:"since"`
	// Health is what the key health monitor of the instances hosting the
	// region saw of its key; nil until one of them probed it.
	Health *RegionHealth `json:"health,omitempty"`
}

// RegionHealth is the state of one region's key: active, key_unavailable
// (with the Reason's code), deletion_pending or destroyed, since when.
type RegionHealth struct {
	State        string    `json:"state"`
	Since        time.Time `json:"since"`
	Reason       string    `json:"reason,omitempty"`
	DeletionDate time.Time `json:"deletion_date,omitzero"`
}

// Regions returns the regions serving the tenant, by name.
func (c *Client) Regions(ctx context.Context, id string) (map[string]*RegionStatus, error) {
	var out struct {
		Regions map[string]*RegionStatus `json:"regions"`
	}
	return out.Regions, c.call(ctx, http.MethodGet, tenantPath(id, "regions"), nil, nil, &out)
}

// RegionAdded is the answer of AddRegion.
type RegionAdded struct {
	Region  string          `json:"region"`
	KeyARN  string          `json:"key_arn"`
	Wrapped int             `json:"wrapped"`
	Reports []*RegionReport `json:"reports"`
}

// AddRegion adds a hosting region for an enabled tenant; keyARN may be empty
// for the counterpart of the tenant's key (its multi-Region replica).
func (c *Client) AddRegion(ctx context.Context, id, region, keyARN, roleARN string) (*RegionAdded, error) {
	var out RegionAdded
	in := map[string]string{"region": region, "key_arn": keyARN, "role_arn": roleARN}
	return &out, c.call(ctx, http.MethodPost, tenantPath(id, "regions"), nil, in, &out)
}

// SignedReceipt is a deletion receipt: the exact JSON signed and its Ed25519
// signature (docs/receipts.md says how to verify it).
type SignedReceipt struct {
	Receipt   json.RawMessage `json:"receipt"`
	Signature []byte          `json:"signature"`
}

// Offboard crypto-shreds the tenant: every key version is destroyed and none
// of its data opens again. It returns the signed receipt. Irreversible.
func (c *Client) Offboard(ctx context.Context, id string) (*SignedReceipt, error) {
	var r SignedReceipt
	return &r, c.call(ctx, http.MethodPost, tenantPath(id, "offboard"), nil, nil, &r)
}

// ReceiptKey is a public key that verifies deletion receipts, with the
// signer id receipts signed by it carry.
type ReceiptKey struct {
	Signer    string `json:"signer"`
	PublicKey []byte `json:"public_key"` // Ed25519
}

// ReceiptKeys returns the public keys the platform publishes for verifying
// deletion receipts: one per version of its root key. It needs no token.
func (c *Client) ReceiptKeys(ctx context.Context) ([]ReceiptKey, error) {
	var out struct {
		Keys []ReceiptKey `json:"keys"`
	}
	return out.Keys, c.call(ctx, http.MethodGet, "/v1/receipt-keys", nil, nil, &out)
}

// Receipt returns the signed deletion receipt of an offboarded tenant.
func (c *Client) Receipt(ctx context.Context, id string) (*SignedReceipt, error) {
	var r SignedReceipt
	return &r, c.call(ctx, http.MethodGet, tenantPath(id, "receipt"), nil, nil, &r)
}

// TenantStatus is a tenant's status: its state and why, what the key health
// monitor does about it, its key versions and regions, and its recent
// probes (newest first). Zero times are absent from the answer.
type TenantStatus struct {
	Tenant string `json:"tenant"`
	State  string `json:"state"`
	// Halted: the tenant's background work (ingestion, scheduled jobs) is
	// refused.
	Halted bool `json:"halted"`
	// Degraded: the last probe failed transiently; cached keys keep serving.
	Degraded bool `json:"degraded"`
	// UnavailableSince and Reason (a stable code such as key_disabled)
	// describe the current outage.
	UnavailableSince time.Time `json:"unavailable_since,omitzero"`
	Reason           string    `json:"reason,omitempty"`
	// NextProbe is zero when the answering instance does not probe the
	// tenant (archived, not monitored, another instance leads the probes).
	NextProbe    time.Time `json:"next_probe,omitzero"`
	DeletionDate time.Time `json:"deletion_date,omitzero"`
	// ArchivedAt is set once the tenant is archived; Restore brings it
	// back until RestoreUntil.
	ArchivedAt   time.Time                `json:"archived_at,omitzero"`
	RestoreUntil time.Time                `json:"restore_until,omitzero"`
	KeyVersions  []*KeyVersion            `json:"key_versions"`
	Regions      map[string]*RegionStatus `json:"regions"`
	Health       []*HealthRecord          `json:"health"`
}

// KeyVersion is a tenant key version and the keys that wrap it.
type KeyVersion struct {
	Version   uint32     `json:"version"`
	Created   time.Time  `json:"created"`
	Wrappings []Wrapping `json:"wrappings"`
}

// Wrapping names a key that wraps a key version, never the wrapped bytes.
type Wrapping struct {
	Provider  string `json:"provider"`
	Key       string `json:"key"`
	Region    string `json:"region,omitempty"`
	Algorithm string `json:"algorithm"`
}

// Status returns the tenant's status with up to health (0: the server's
// default of 10) of its newest key health records.
func (c *Client) Status(ctx context.Context, id string, health int) (*TenantStatus, error) {
	q := url.Values{}
	if health > 0 {
		q.Set("health", strconv.Itoa(health))
	}
	var s TenantStatus
	return &s, c.call(ctx, http.MethodGet, tenantPath(id, "status"), q, nil, &s)
}

// Restore brings an archived tenant back: the server probes its key and, if
// the probe passes within the restore window, makes it active, answering
// its status. Codes: tenant_not_archived (nothing to restore),
// key_unavailable (the key is still unusable; Details holds its code as
// {"reason": ...}), restore_window_expired.
func (c *Client) Restore(ctx context.Context, id string) (*TenantStatus, error) {
	var s TenantStatus
	return &s, c.call(ctx, http.MethodPost, tenantPath(id, "restore"), nil, nil, &s)
}
