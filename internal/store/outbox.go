package store

import (
	"time"

	"github.com/byok-dev/byok/envelope"
)

// The webhook outbox holds each event until every subscription it was
// meant for has it: [Store.EnqueueEvent] writes one [Outbound] per
// subscription when the event happens, and deliverers lease due entries
// with [Store.ClaimOutbox], then either delete them ([Store.DeleteOutbox]:
// delivered or given up on) or put them back for a later attempt
// ([Store.RescheduleOutbox]). An entry goes with its webhook when the
// webhook is deleted, and [Store.PruneHistory] removes entries older than
// the history, so a deployment that delivers nothing does not grow the
// outbox forever.

// MaxEventBodyLen bounds an outbox event's body.
const MaxEventBodyLen = 64 << 10

// OutboxEvent is an event to store for delivery.
type OutboxEvent struct {
	ID   string // the event id, which receivers dedupe on
	Type string
	// Tenant selects the subscriptions: the tenant's own and the
	// platform-wide ones; "" selects the platform-wide ones only.
	Tenant string
	// Body is what every delivery of the event sends, byte for byte.
	Body []byte
	// At is when the event happened; its first delivery is due then.
	At time.Time
}

// Outbound is one event waiting for one webhook.
type Outbound struct {
	// Seq identifies the entry.
	Seq     int64
	Webhook string
	// Tenant owns the webhook ("" for a platform-wide one): with Webhook,
	// it names the webhook. URL, Secret and SealedSecret are the webhook's,
	// read when the entry is claimed; one of Secret and SealedSecret is
	// set, as in [Webhook].
	URL          string
	Secret       []byte
	SealedSecret []byte
	Tenant       string
	Event        string
	Type         string
	Body         []byte
	// Attempts counts the finished attempts so far.
	Attempts    int
	CreatedAt   time.Time
	NextAttempt time.Time
	// Claim is the lease token of a claimed entry; the entry can only be
	// deleted or rescheduled with it.
	Claim string
	// ClaimedUntil is when the lease lapses; zero when not claimed.
	ClaimedUntil time.Time
}

// Validate checks an event before it is stored.
func (e *OutboxEvent) Validate() error {
	switch {
	case e.ID == "" || len(e.ID) > MaxEventIDLen || !validText(e.ID):
		return Invalid("outbox: event id must be 1 to %d bytes of text", MaxEventIDLen)
	case !validShort(e.Type, true):
		return Invalid("outbox event %s: type must be 1 to %d bytes of text", Clip(e.ID), MaxShortFieldLen)
	case e.Tenant != "" && !envelope.ValidTenantID(e.Tenant):
		return BadTenantID(e.Tenant)
	case len(e.Body) == 0 || len(e.Body) > MaxEventBodyLen:
		return Invalid("outbox event %s: body must be 1 to %d bytes", Clip(e.ID), MaxEventBodyLen)
	case e.At.IsZero() || e.At.Year() > 9999:
		return Invalid("outbox event %s: time missing or out of range", Clip(e.ID))
	}
	return nil
}

// ValidateClaim checks the arguments of a claim.
func ValidateClaim(now time.Time, lease time.Duration, limit int) error {
	switch {
	case now.IsZero() || now.Year() > 9999:
		return Invalid("outbox claim: time missing or out of range")
	case lease < time.Millisecond:
		return Invalid("outbox claim: lease must be at least a millisecond")
	case limit < 1 || limit > MaxPageSize:
		return Invalid("outbox claim: limit must be 1 to %d", MaxPageSize)
	}
	return nil
}
