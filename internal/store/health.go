package store

import (
	"strings"
	"time"

	"github.com/byok-dev/byok/envelope"
)

// Health history and webhooks are the monitor's records: what each probe of
// a tenant's key saw, who is told about state changes, and every attempt to
// tell them. Both are history, bounded by [Store.PruneHistory].

// Outcome is what one health probe of a tenant's key concluded.
type Outcome string

// Probe outcomes.
const (
	// OutcomeOK: the platform can use the key.
	OutcomeOK Outcome = "ok"
	// OutcomeDegraded: the provider failed transiently (throttled,
	// unreachable); the tenant's state does not change.
	OutcomeDegraded Outcome = "degraded"
	// OutcomeUnavailable: a definitive failure (disabled, denied, pending
	// deletion, not found).
	OutcomeUnavailable Outcome = "unavailable"
	// OutcomeError: the probe could not run as configured (no key version,
	// a wrapping that does not open, a misconfigured key).
	OutcomeError Outcome = "error"
)

// Valid reports whether o is one of the outcomes.
func (o Outcome) Valid() bool {
	switch o {
	case OutcomeOK, OutcomeDegraded, OutcomeUnavailable, OutcomeError:
		return true
	}
	return false
}

// HealthRecord is one entry of a tenant's key health history.
type HealthRecord struct {
	Tenant  string
	At      time.Time
	Outcome Outcome
	// Code is the failure's stable code (e.g. "key_disabled"); empty on OK.
	Code string
	// Key is the key that answered (ARN or id); Version the tenant key
	// version probed.
	Key       string
	Version   uint32
	RequestID string // the KMS request id, as seen in the customer's CloudTrail
	Detail    string // the error text, clipped
}

// Webhook is a subscription to the monitor's events.
type Webhook struct {
	// ID is the name chosen by the caller: 1 to 64 characters of a-z 0-9
	// _ -, unique among its owner's subscriptions (the tenant's, or the
	// platform-wide ones) only.
	ID string
	// Tenant scopes the subscription to one tenant; empty receives every
	// tenant's events (platform-wide).
	Tenant string
	// URL receives a POST per event.
	URL string
	// Secret keys the HMAC signature of each delivery. It is stored in
	// clear only by a service without a root key (and by releases before
	// sealing); otherwise it is empty and SealedSecret holds it.
	Secret []byte
	// SealedSecret is the secret sealed under the platform root key
	// (internal/rootseal), bound to ID and Tenant. Exactly one of Secret
	// and SealedSecret is set.
	SealedSecret []byte
	CreatedAt    time.Time
}

// Delivery is one attempt to deliver an event to a webhook.
type Delivery struct {
	// Webhook and Tenant name the webhook ("" for a platform-wide one).
	Webhook string
	Tenant  string
	Event   string // the event id
	Attempt int    // from 1
	At      time.Time
	Status  int    // the HTTP status, 0 when no response came
	Error   string // why the attempt failed; empty on success
}

// Limits of the monitor's records.
const (
	MaxWebhookIDLen = 64
	MaxURLLen       = 2048
	MinSecretLen    = 16
	MaxSecretLen    = 128
	MaxDetailLen    = 1024
	MaxEventIDLen   = 64
)

// MaxSealedSecretLen bounds a sealed secret: a secret of MaxSecretLen and
// the sealing's few dozen bytes.
const MaxSealedSecretLen = 256

// Validate checks a health record before it is stored.
func (r *HealthRecord) Validate() error {
	switch {
	case !envelope.ValidTenantID(r.Tenant):
		return BadTenantID(r.Tenant)
	case !r.Outcome.Valid():
		return Invalid("health of tenant %s: unknown outcome %q", r.Tenant, Clip(string(r.Outcome)))
	case r.At.IsZero() || r.At.Year() > 9999:
		return Invalid("health of tenant %s: time missing or out of range", r.Tenant)
	case !validShort(r.Code, false) || !validShort(r.RequestID, false) || len(r.Key) > MaxARNLen || !validText(r.Key):
		return Invalid("health of tenant %s: code, key or request id too long or not text", r.Tenant)
	case len(r.Detail) > MaxDetailLen || !validText(r.Detail):
		return Invalid("health of tenant %s: detail longer than %d bytes or not text", r.Tenant, MaxDetailLen)
	}
	return nil
}

// ValidWebhookID reports whether id can name a webhook.
func ValidWebhookID(id string) bool {
	if id == "" || len(id) > MaxWebhookIDLen {
		return false
	}
	return strings.Trim(id, "abcdefghijklmnopqrstuvwxyz0123456789_-") == ""
}

// Validate checks a webhook before it is stored. The URL's shape is the
// monitor's to judge; the store only bounds it.
func (w *Webhook) Validate() error {
	switch {
	case !ValidWebhookID(w.ID):
		return Invalid("webhook id %q must be 1 to %d characters of a-z 0-9 _ -", Clip(w.ID), MaxWebhookIDLen)
	case w.Tenant != "" && !envelope.ValidTenantID(w.Tenant):
		return BadTenantID(w.Tenant)
	case w.URL == "" || len(w.URL) > MaxURLLen || !validText(w.URL):
		return Invalid("webhook %s: url must be 1 to %d bytes of text", w.ID, MaxURLLen)
	case len(w.SealedSecret) > 0:
		return validSealed(w.ID, w.Secret, w.SealedSecret)
	case len(w.Secret) < MinSecretLen || len(w.Secret) > MaxSecretLen:
		return Invalid("webhook %s: secret must be %d to %d bytes", w.ID, MinSecretLen, MaxSecretLen)
	}
	return nil
}

func validSealed(id string, clear, sealed []byte) error {
	switch {
	case len(clear) > 0:
		return Invalid("webhook %s: a secret in clear and a sealed one: store one", id)
	case len(sealed) > MaxSealedSecretLen:
		return Invalid("webhook %s: sealed secret longer than %d bytes", id, MaxSealedSecretLen)
	}
	return nil
}

// Validate checks a delivery record before it is stored.
func (d *Delivery) Validate() error {
	switch {
	case !ValidWebhookID(d.Webhook):
		return Invalid("delivery: invalid webhook id %q", Clip(d.Webhook))
	case d.Tenant != "" && !envelope.ValidTenantID(d.Tenant):
		return BadTenantID(d.Tenant)
	case d.Event == "" || len(d.Event) > MaxEventIDLen || !validText(d.Event):
		return Invalid("delivery to %s: event id must be 1 to %d bytes of text", d.Webhook, MaxEventIDLen)
	case d.Attempt < 1 || d.Status < 0 || d.Status > 999:
		return Invalid("delivery to %s: attempt from 1 and an HTTP status (or 0) needed", d.Webhook)
	case d.At.IsZero() || d.At.Year() > 9999:
		return Invalid("delivery to %s: time missing or out of range", d.Webhook)
	case len(d.Error) > MaxDetailLen || !validText(d.Error):
		return Invalid("delivery to %s: error longer than %d bytes or not text", d.Webhook, MaxDetailLen)
	}
	return nil
}

// HistoryLimit validates a page size of health or delivery history: 0
// means DefaultPageSize.
func HistoryLimit(limit int) (int, error) {
	return PageLimit(ListOptions{Limit: limit})
}
