package kms

import (
	"errors"
	"fmt"
)

// Class is what kind of failure a provider call had. Callers decide on it:
// definitive classes change a tenant's state, transient ones are retried.
type Class int

// Error classes.
const (
	// Denied: the key policy, grant or IAM policy no longer lets the platform
	// use the key, or the role cannot be assumed.
	Denied Class = iota + 1
	// Disabled: the customer disabled the key.
	Disabled
	// PendingDeletion: the customer scheduled the key for deletion.
	PendingDeletion
	// NotFound: the key (or alias) does not exist, or was deleted.
	NotFound
	// InvalidCiphertext: the wrapped key does not decrypt under the key with
	// its identity; it was altered, moved, or made under another key.
	InvalidCiphertext
	// Throttled: the provider rejected the call for rate, or the tenant's own
	// call budget is spent.
	Throttled
	// Unavailable: the provider could not be reached or failed internally.
	Unavailable
	// Misconfigured: the key cannot work as configured (wrong key spec or
	// usage, malformed ARN, missing credentials).
	Misconfigured
)

var classCodes = map[Class]string{
	Denied:            "key_access_denied",
	Disabled:          "key_disabled",
	PendingDeletion:   "key_pending_deletion",
	NotFound:          "key_not_found",
	InvalidCiphertext: "wrapped_key_invalid",
	Throttled:         "kms_throttled",
	Unavailable:       "kms_unreachable",
	Misconfigured:     "key_misconfigured",
}

// Code returns the class's stable error code, as used by the HTTP API.
func (c Class) Code() string {
	if s, ok := classCodes[c]; ok {
		return s
	}
	return fmt.Sprintf("kms_class_%d", int(c))
}

func (c Class) String() string { return c.Code() }

// Transient reports whether the failure may pass without anyone acting:
// throttling and unavailability. Cached keys keep serving through these.
func (c Class) Transient() bool { return c == Throttled || c == Unavailable }

// Definitive reports whether the failure means the customer's key cannot be
// used until they act: denied, disabled, pending deletion or not found.
func (c Class) Definitive() bool {
	return c == Denied || c == Disabled || c == PendingDeletion || c == NotFound
}

// Error is a classified provider failure.
type Error struct {
	Class     Class
	Op        string // "wrap", "unwrap", "rewrap", "describe", "probe", ...
	Key       string // the key's ARN or id, when known
	Region    string
	RequestID string // the provider's request id, for CloudTrail
	Err       error  // the provider's own error
}

func (e *Error) Error() string {
	msg := "kms:"
	if e.Op != "" {
		msg += " " + e.Op
	}
	if e.Key != "" {
		msg += " " + e.Key
	}
	if e.Region != "" {
		msg += " in " + e.Region
	}
	if e.Op != "" || e.Key != "" || e.Region != "" {
		msg += ":"
	}
	msg += " " + e.Class.Code()
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	if e.RequestID != "" {
		msg += " (request id " + e.RequestID + ")"
	}
	return msg
}

func (e *Error) Unwrap() error { return e.Err }

// Is matches the sentinel of the same class, so errors.Is(err, ErrDisabled)
// works on any classified error.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Op == "" && t.Err == nil && t.Class == e.Class
}

// Sentinels for errors.Is.
var (
	ErrDenied            = &Error{Class: Denied}
	ErrDisabled          = &Error{Class: Disabled}
	ErrPendingDeletion   = &Error{Class: PendingDeletion}
	ErrNotFound          = &Error{Class: NotFound}
	ErrInvalidCiphertext = &Error{Class: InvalidCiphertext}
	ErrThrottled         = &Error{Class: Throttled}
	ErrUnavailable       = &Error{Class: Unavailable}
	ErrMisconfigured     = &Error{Class: Misconfigured}
)

// ClassOf returns the class of the first *Error in err's chain, or 0.
func ClassOf(err error) Class {
	var e *Error
	if errors.As(err, &e) {
		return e.Class
	}
	return 0
}

// RequestIDOf returns the provider request id carried by err, if any.
func RequestIDOf(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.RequestID
	}
	return ""
}
