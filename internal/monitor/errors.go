package monitor

import (
	"errors"
	"fmt"
)

// Error is one of the package's sentinel errors, with a stable code that
// callers (the HTTP API) may branch on and print.
type Error struct {
	code string
	msg  string
}

func (e *Error) Error() string { return "monitor: " + e.msg }

// Code returns the stable code, such as "invalid_webhook_url".
func (e *Error) Code() string { return e.code }

// Errors returned by the monitor and the webhooks, matched with [errors.Is].
var (
	ErrInvalidConfig     = &Error{"invalid_config", "invalid configuration"}
	ErrInvalidWebhookURL = &Error{"invalid_webhook_url", "invalid webhook url"}
	ErrInvalidWebhookID  = &Error{"invalid_webhook_id", "invalid webhook id"}
	ErrWebhookExists     = &Error{"webhook_exists", "webhook already exists"}
	ErrWebhookNotFound   = &Error{"webhook_not_found", "webhook not found"}
	ErrTenantNotFound    = &Error{"tenant_not_found", "tenant not found"}
	// ErrNotArchived: Restore was asked for a tenant that is not archived.
	ErrNotArchived = &Error{"tenant_not_archived", "tenant is not archived"}
	// ErrRestoreExpired: the restore window of an archived tenant has passed.
	ErrRestoreExpired = &Error{"restore_window_expired", "restore window has passed"}
	// ErrKeyUnavailable: Restore probed the key and the platform still
	// cannot use it; the error also carries the kms error.
	ErrKeyUnavailable = &Error{"key_unavailable", "key still unavailable"}
	// ErrRegionNotServed: Restore was asked of an instance whose region does
	// not serve the tenant, so it cannot probe the tenant's key.
	ErrRegionNotServed = &Error{"region_not_ready", "the region does not serve the tenant"}
	// ErrBadSignature and ErrStaleSignature are Verify's answers.
	ErrBadSignature   = &Error{"invalid_signature", "webhook signature does not verify"}
	ErrStaleSignature = &Error{"signature_expired", "webhook signature timestamp outside the replay window"}
)

// Code returns the stable code of the monitor error inside err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	return ""
}

// detailed is a sentinel with a message saying what happened, and possibly
// the error behind it.
type detailed struct {
	msg  string
	errs []error
}

func (e *detailed) Error() string   { return "monitor: " + e.msg }
func (e *detailed) Unwrap() []error { return e.errs }

// errorf returns an error matching sentinel (and any extra errors) with a
// formatted message.
func errorf(sentinel *Error, extra []error, format string, args ...any) error {
	return &detailed{msg: fmt.Sprintf(format, args...), errs: append([]error{sentinel}, extra...)}
}
