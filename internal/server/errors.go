package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

// Codes this package adds to those of the packages it serves.
const (
	CodeBodyTooLarge     = "body_too_large"
	CodeBatchTooLarge    = "batch_too_large"
	CodeInvalidRequest   = "invalid_request"
	CodeInvalidContext   = "invalid_context"
	CodeNotFoundRoute    = "route_not_found"
	CodeMethodNotAllowed = "method_not_allowed"
	CodeTenantNotActive  = "tenant_not_active"
	CodeKeyUnavailable   = "key_unavailable"
	CodeTenantSuspended  = "tenant_suspended"
	CodeNoKeyVersion     = "no_key_version"
	CodeTimeout          = "timeout"
	CodeUnavailable      = "unavailable"
	CodeInternal         = "internal"
)

// Error is what the API answers on failure: a stable code to branch on,
// a message for people and, for some codes, details (the validation reports
// of validation_failed).
type Error struct {
	Status  int    `json:"-"`
	Code    string `json:"code"`
	Message string `json:"message"`
	Details any    `json:"details,omitempty"`
	// RequestID is set on internal errors so that an operator can find the
	// logged cause.
	RequestID string `json:"request_id,omitempty"`
}

func (e *Error) Error() string { return e.Code + ": " + e.Message }

func apiErr(status int, code, msg string) *Error {
	return &Error{Status: status, Code: code, Message: msg}
}

// statuses maps stable codes to HTTP statuses where the rules in statusOf
// (prefixes and suffixes) would not give the right one.
var statuses = map[string]int{
	control.CodeConflict:             http.StatusConflict,
	control.CodeAlreadyEnabled:       http.StatusConflict,
	control.CodeBindingImmutable:     http.StatusConflict,
	control.CodeKeyChangeNeeded:      http.StatusConflict,
	control.CodeNoKeyAttached:        http.StatusConflict,
	control.CodeValidationFailed:     http.StatusUnprocessableEntity,
	"invalid_state":                  http.StatusConflict,
	"key_change_in_progress":         http.StatusConflict,
	"same_key":                       http.StatusConflict,
	"key_in_use":                     http.StatusConflict,
	"region_exists":                  http.StatusConflict,
	"region_not_ready":               http.StatusConflict,
	"vault_exists":                   http.StatusConflict,
	"no_key_version":                 http.StatusConflict,
	CodeTenantNotActive:              http.StatusConflict,
	"tenant_shredded":                http.StatusGone,
	monitor.ErrWebhookExists.Code():  http.StatusConflict,
	monitor.ErrNotArchived.Code():    http.StatusConflict,
	monitor.ErrRestoreExpired.Code(): http.StatusGone,
	"receipt_key_missing":            http.StatusInternalServerError,
	CodeBodyTooLarge:                 http.StatusRequestEntityTooLarge,
	CodeBatchTooLarge:                http.StatusRequestEntityTooLarge,
	"record_too_large":               http.StatusRequestEntityTooLarge,
	CodeKeyUnavailable:               http.StatusLocked,
	CodeTenantSuspended:              http.StatusLocked,
	kms.Denied.Code():                http.StatusLocked,
	kms.Disabled.Code():              http.StatusLocked,
	kms.PendingDeletion.Code():       http.StatusLocked,
	kms.NotFound.Code():              http.StatusLocked, // the customer's key, not a URL
	kms.InvalidCiphertext.Code():     http.StatusLocked,
	kms.Misconfigured.Code():         http.StatusFailedDependency,
	kms.Throttled.Code():             http.StatusTooManyRequests,
	kms.Unavailable.Code():           http.StatusServiceUnavailable,
	"unauthenticated":                http.StatusUnauthorized,
	"forbidden":                      http.StatusForbidden,
	CodeTimeout:                      http.StatusGatewayTimeout,
	CodeUnavailable:                  http.StatusServiceUnavailable,
	"not_found":                      http.StatusNotFound,
}

// statusOf returns the HTTP status of a stable code: the table first, then
// invalid_* and the envelope's input codes are 400, *_not_found 404.
func statusOf(code string) int {
	if s, ok := statuses[code]; ok {
		return s
	}
	switch {
	case strings.HasSuffix(code, "_not_found"):
		return http.StatusNotFound
	case strings.HasPrefix(code, "invalid_"), code == "context_mismatch", code == "wrong_tenant",
		code == "unsupported_version", code == "key_version_unknown", code == "truncated_stream":
		return http.StatusBadRequest
	}
	return http.StatusBadRequest // codes of bad input from the tenant package
}

// envelopeMessages replaces envelope errors' texts, which may say more than
// the code does: a decryption failure must not become an oracle.
var envelopeMessages = map[string]string{
	"invalid_ciphertext":  "the ciphertext is invalid, was altered, or the encryption context does not match",
	"context_mismatch":    "the encryption context does not match the one the data was sealed with",
	"wrong_tenant":        "the ciphertext belongs to another tenant",
	"unsupported_version": "the ciphertext's format version is not supported",
	"key_version_unknown": "the ciphertext names a key version the tenant does not have",
	"truncated_stream":    "the stream was truncated",
}

// classify turns any error into the API's answer. Errors nobody classified
// become a 500 whose message says nothing; the caller logs the cause.
func classify(err error) *Error {
	var e *Error
	if errors.As(err, &e) {
		return e
	}
	for _, f := range classifiers {
		if e := f(err); e != nil {
			return e
		}
	}
	return apiErr(http.StatusInternalServerError, CodeInternal, "internal error")
}

var classifiers = []func(error) *Error{
	fromAuth, fromBodyLimit, fromMonitor, fromControl, fromEnvelope, fromNoKey, fromKMS, fromStore, fromTenant, fromContext,
}

func coded(code, msg string) *Error { return apiErr(statusOf(code), code, msg) }

func fromAuth(err error) *Error {
	var e *auth.Error
	if !errors.As(err, &e) {
		return nil
	}
	return coded(e.Code, e.Msg)
}

func fromBodyLimit(err error) *Error {
	var e *http.MaxBytesError
	if !errors.As(err, &e) {
		return nil
	}
	return coded(CodeBodyTooLarge, "the request body is larger than this route allows")
}

func fromControl(err error) *Error {
	var e *control.Error
	if !errors.As(err, &e) {
		return nil
	}
	out := coded(e.Code, strings.TrimPrefix(e.Error(), "control: "))
	if e.Code == control.CodeValidationFailed {
		out.Details = e.Reports
	}
	return out
}

// fromMonitor comes before fromStore and fromKMS: the monitor's errors wrap
// theirs (webhook_exists a store conflict, key_unavailable a KMS class) and
// say more.
func fromMonitor(err error) *Error {
	code := monitor.Code(err)
	if code == "" {
		return nil
	}
	return coded(code, strings.TrimPrefix(err.Error(), "monitor: "))
}

func fromEnvelope(err error) *Error {
	code := envelope.Code(err)
	if code == "" {
		return nil
	}
	msg, ok := envelopeMessages[code]
	if !ok {
		msg = strings.TrimPrefix(err.Error(), "envelope: ")
	}
	return coded(code, msg)
}

func fromNoKey(err error) *Error {
	if !errors.Is(err, keyring.ErrNoKey) {
		return nil
	}
	return coded(CodeNoKeyVersion, "the tenant has no key version yet: attach and enable a key")
}

func fromKMS(err error) *Error {
	c := kms.ClassOf(err)
	if c == 0 {
		return nil
	}
	return coded(c.Code(), kmsMessages[c])
}

// kmsMessages say what a KMS class means without the provider's own text.
var kmsMessages = map[kms.Class]string{
	kms.Denied:            "the platform is not allowed to use the tenant's key (key policy, grant or role)",
	kms.Disabled:          "the tenant's key is disabled",
	kms.PendingDeletion:   "the tenant's key is scheduled for deletion",
	kms.NotFound:          "the tenant's key does not exist",
	kms.InvalidCiphertext: "a wrapped tenant key does not open under its key",
	kms.Throttled:         "the key service is throttling calls for this tenant; retry later",
	kms.Unavailable:       "the key service cannot be reached; retry later",
	kms.Misconfigured:     "the tenant's key cannot be used as configured",
}

func fromStore(err error) *Error {
	code := store.Code(err)
	if code == "" || code == "schema_too_new" {
		return nil
	}
	return coded(code, strings.TrimPrefix(err.Error(), "store: "))
}

func fromTenant(err error) *Error {
	code := platform.CodeOf(err)
	if code == "" {
		return nil
	}
	// The field and reason, without the package prefix and the code the
	// answer carries anyway.
	var e *platform.Error
	if errors.As(err, &e) {
		return coded(string(code), e.Field+": "+e.Reason)
	}
	return coded(string(code), err.Error())
}

func fromContext(err error) *Error {
	if errors.Is(err, context.DeadlineExceeded) {
		return coded(CodeTimeout, "the request took longer than this route allows")
	}
	if errors.Is(err, context.Canceled) {
		return coded(CodeUnavailable, "the request was canceled")
	}
	return nil
}
