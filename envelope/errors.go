package envelope

import (
	"errors"
	"log/slog"
)

// Error is one of the package's sentinel errors. Each carries a stable code that
// callers, the HTTP API and the CLI use to decide what to do; the codes never
// change meaning once released.
type Error struct {
	code string
	msg  string
}

func (e *Error) Error() string { return "envelope: " + e.msg }

// Code returns the error's stable code, such as "invalid_ciphertext".
func (e *Error) Code() string { return e.code }

// Errors returned by this package, matched with [errors.Is].
var (
	// ErrInvalidCiphertext is the single opaque error for a ciphertext that does not
	// authenticate: altered bytes, a wrong key, or (when the context is not stored)
	// a wrong encryption context. The reason is kept out of the message so that it
	// cannot serve as an oracle; [OpenError.Detail] has it for logs.
	ErrInvalidCiphertext = &Error{"invalid_ciphertext", "ciphertext is invalid or was altered, or the encryption context does not match"}
	// ErrUnsupportedVersion means the data was written in a format version or
	// algorithm that this release does not read.
	ErrUnsupportedVersion = &Error{"unsupported_version", "ciphertext format version or algorithm is not supported by this release"}
	// ErrContextMismatch means the encryption context stored in the ciphertext
	// differs from the one the caller passed to open it.
	ErrContextMismatch = &Error{"context_mismatch", "encryption context does not match the one the data was sealed with"}
	// ErrWrongTenant means the ciphertext belongs to a key scope (a tenant, or
	// one of its vaults) the key lookup does not serve.
	ErrWrongTenant = &Error{"wrong_tenant", "ciphertext belongs to another tenant"}
	// ErrKeyVersionUnknown means the tenant key version that sealed the data is not
	// available to the key lookup.
	ErrKeyVersionUnknown = &Error{"key_version_unknown", "the tenant key version that sealed this data is not available"}
	// ErrTruncatedStream means a stream ended before its final segment.
	ErrTruncatedStream = &Error{"truncated_stream", "stream is truncated: it ends before its final segment"}
	// ErrInvalidContext means an encryption context breaks the limits in FORMAT.md.
	ErrInvalidContext = &Error{"invalid_context", "encryption context is invalid"}
	// ErrInvalidKey means a tenant key, tenant id, vault name, key scope id or
	// key version is malformed, or the key was destroyed.
	ErrInvalidKey = &Error{"invalid_key", "tenant key is invalid"}
	// ErrTooLarge means a record plaintext exceeds [MaxRecordSize].
	ErrTooLarge = &Error{"record_too_large", "record is larger than the record format allows; use a stream"}
	// ErrInvalidOptions means a stream or record option is out of range.
	ErrInvalidOptions = &Error{"invalid_options", "options are invalid"}
)

// OpenError wraps a sentinel with a detail meant for logs only. Its Error method
// returns the sentinel's message and nothing else.
type OpenError struct {
	Err    *Error
	detail string
}

func (e *OpenError) Error() string { return e.Err.Error() }
func (e *OpenError) Unwrap() error { return e.Err }

// Detail explains the failure for the operator's log. Do not return it to the
// party that supplied the ciphertext.
func (e *OpenError) Detail() string { return e.detail }

// LogValue lets slog record the detail next to the code.
func (e *OpenError) LogValue() slog.Value {
	return slog.GroupValue(slog.String("code", e.Err.code), slog.String("detail", e.detail))
}

func fail(sentinel *Error, detail string) error {
	return &OpenError{Err: sentinel, detail: detail}
}

// Code returns the stable code of the package error inside err, or "" when err
// carries none.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	return ""
}
