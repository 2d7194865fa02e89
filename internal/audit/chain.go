package audit

import (
	"encoding/binary"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	"github.com/byok-dev/byok/envelope"
)

// PlatformChain is the chain of events without a tenant.
const PlatformChain = "platform"

// tenantPrefix keeps tenant chains apart from PlatformChain whatever the
// tenant is called.
const tenantPrefix = "tenant:"

// ChainOf returns the chain an event of tenant goes to.
func ChainOf(tenant string) string {
	if tenant == "" {
		return PlatformChain
	}
	return tenantPrefix + tenant
}

func validChain(chain string) error {
	if chain == PlatformChain {
		return nil
	}
	t, ok := strings.CutPrefix(chain, tenantPrefix)
	if !ok || !envelope.ValidTenantID(t) {
		return fmt.Errorf("audit: %q is not a chain name (%q or %q followed by a tenant id)", chain, PlatformChain, tenantPrefix)
	}
	return nil
}

// encodingVersion is the first field of every canonical event, so a later
// encoding can be told apart.
const encodingVersion = 1

// canonical is the stored form of an Event: fixed field order, UTC time to
// the nanosecond, map keys sorted (encoding/json sorts them).
type canonical struct {
	V            int               `json:"v"`
	Time         string            `json:"time"`
	Tenant       string            `json:"tenant,omitempty"`
	Actor        string            `json:"actor"`
	Action       string            `json:"action"`
	KeyARN       string            `json:"key_arn,omitempty"`
	KMSRequestID string            `json:"kms_request_id,omitempty"`
	Outcome      string            `json:"outcome"`
	Count        uint64            `json:"count"`
	RequestID    string            `json:"request_id,omitempty"`
	Details      map[string]string `json:"details,omitempty"`
}

func encodeEvent(e Event) ([]byte, error) {
	return json.Marshal(canonical{
		V: encodingVersion, Time: e.Time.UTC().Format(time.RFC3339Nano), Tenant: e.Tenant,
		Actor: e.Actor, Action: e.Action, KeyARN: e.KeyARN, KMSRequestID: e.KMSRequestID,
		Outcome: e.Outcome, Count: e.Count, RequestID: e.RequestID, Details: e.Details,
	})
}

func decodeEvent(b []byte) (Event, error) {
	var c canonical
	if err := json.Unmarshal(b, &c); err != nil {
		return Event{}, fmt.Errorf("audit: stored event: %w", err)
	}
	if c.V != encodingVersion {
		return Event{}, fmt.Errorf("audit: stored event has encoding version %d", c.V)
	}
	t, err := time.Parse(time.RFC3339Nano, c.Time)
	if err != nil {
		return Event{}, fmt.Errorf("audit: stored event: %w", err)
	}
	return Event{Time: t, Tenant: c.Tenant, Actor: c.Actor, Action: c.Action, KeyARN: c.KeyARN,
		KMSRequestID: c.KMSRequestID, Outcome: c.Outcome, Count: c.Count, RequestID: c.RequestID,
		Details: c.Details}, nil
}

// genesis is the Prev of a chain's first row.
var genesis = make([]byte, 32)

// Domain separation of the two MACs.
const (
	rowLabel  = "byok-audit-row-v1"
	headLabel = "byok-audit-head-v1"
)

// rowHash is HMAC-SHA-256(key, label, chain, seq, prev, event) with every
// variable-length part length-prefixed, so no two inputs share an encoding.
func rowHash(k Key, chain string, seq int64, prev, event []byte) []byte {
	return k.mac([]byte(rowLabel), lp([]byte(chain)), u64(uint64(seq)), lp(prev), lp(event))
}

// headMAC authenticates a checkpoint with a label of its own, so a row's
// hash can never stand in for it.
func headMAC(k Key, chain string, seq int64, hash []byte) []byte {
	return k.mac([]byte(headLabel), lp([]byte(chain)), u64(uint64(seq)), lp(hash))
}

func u64(v uint64) []byte { return binary.BigEndian.AppendUint64(nil, v) }

func lp(b []byte) []byte { return append(u64(uint64(len(b))), b...) }
