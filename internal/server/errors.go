package server

import (
	"context"
	"errors"
	"net/http"
	"strings"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/errcode"
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

// statusOf returns the HTTP status of a stable code, as the registry has
// it. An unregistered code is a server bug, not the caller's: 500.
func statusOf(code string) int {
	if e, ok := errcode.Lookup(code); ok {
		return e.Status
	}
	return http.StatusInternalServerError
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
	// Data that does not open is answered with the registry's meaning, not
	// the error's text, which may say more than the code does: a decryption
	// failure must not become an oracle. Other input errors say what is wrong.
	if e, ok := errcode.Lookup(code); ok && e.Exit == errcode.ExitDecrypt {
		return coded(code, e.Meaning)
	}
	return coded(code, strings.TrimPrefix(err.Error(), "envelope: "))
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
	// What the class means, without the provider's own text.
	return coded(c.Code(), errcode.Meaning(c.Code()))
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
