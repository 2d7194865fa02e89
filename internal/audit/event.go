package audit

import (
	"context"
	"time"
)

// Event is one thing that happened.
type Event struct {
	Time time.Time `json:"time"`
	// Tenant is the tenant concerned; "" for platform-wide events.
	Tenant string `json:"tenant,omitempty"`
	// Actor is who did it: "token:<id> (name)", "system:monitor", ...
	Actor string `json:"actor"`
	// Action is what was done: "tenant.create", "key.enable", "kms.Decrypt",
	// "data.encrypt", ...
	Action string `json:"action"`
	// KeyARN is the customer key involved, if any.
	KeyARN string `json:"key_arn,omitempty"`
	// KMSRequestID is the AWS request id the customer sees in CloudTrail.
	KMSRequestID string `json:"kms_request_id,omitempty"`
	// Outcome is "ok" or a stable error code.
	Outcome string `json:"outcome"`
	// Count is how many operations an aggregated data-plane event stands
	// for; 1 otherwise.
	Count uint64 `json:"count,omitempty"`
	// RequestID is the platform's own request id.
	RequestID string `json:"request_id,omitempty"`
	// Details holds any other fields, e.g. the key version.
	Details map[string]string `json:"details,omitempty"`
}

// Sink receives events. Recording must not fail the caller's operation
// silently: a Sink that cannot record returns an error the caller logs.
type Sink interface {
	Record(ctx context.Context, e Event) error
}

// Discard is a Sink that drops everything, for tests and tools.
var Discard Sink = discard{}

type discard struct{}

func (discard) Record(context.Context, Event) error { return nil }
