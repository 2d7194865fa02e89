package keyfile

import (
	"errors"
	"fmt"
)

// Error is one of the package's sentinel errors, with a stable code that
// callers may branch on and print.
type Error struct {
	code string
	msg  string
}

func (e *Error) Error() string { return "keyfile: " + e.msg }

// Code returns the stable code, such as "malformed_key_file".
func (e *Error) Code() string { return e.code }

// Errors returned by this package, matched with [errors.Is].
var (
	// ErrMalformed means a line is neither a comment, a blank line nor a
	// well-formed key line, or the file is too large.
	ErrMalformed = &Error{"malformed_key_file", "malformed key file"}
	// ErrUnsupported means a key line is in a format version this release does
	// not read (a BYOK-KEY-n tag other than BYOK-KEY-1).
	ErrUnsupported = &Error{"unsupported_key_file", "key line format is not supported by this release"}
	// ErrMixedTenants means the key lines name more than one tenant.
	ErrMixedTenants = &Error{"mixed_tenants", "key file holds keys of more than one tenant"}
	// ErrDuplicateVersion means two key lines have the same version.
	ErrDuplicateVersion = &Error{"duplicate_key_version", "key version appears more than once"}
	// ErrNoKeys means the file holds no key line.
	ErrNoKeys = &Error{"no_keys", "key file holds no keys"}
)

// ParseError locates a problem in a key file.
type ParseError struct {
	Line   int    // 1-based; 0 when the problem is the file as a whole
	Err    *Error // the sentinel
	Detail string // what is wrong, without key material
}

func (e *ParseError) Error() string {
	msg := e.Err.Error()
	if e.Detail != "" {
		msg += ": " + e.Detail
	}
	if e.Line > 0 {
		return fmt.Sprintf("line %d: %s", e.Line, msg)
	}
	return msg
}

func (e *ParseError) Unwrap() error { return e.Err }

// Code returns the stable code of the sentinel inside err, or "" if none.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	return ""
}

// detailError carries a sentinel and a detail until atLine adds the line.
type detailError struct {
	err    *Error
	detail string
}

func (e *detailError) Error() string { return e.err.Error() + ": " + e.detail }
func (e *detailError) Unwrap() error { return e.err }

func malformed(detail string) error { return &detailError{ErrMalformed, detail} }

// atLine turns an error from parsing one line into a ParseError for that line.
// Errors from other packages (envelope's key checks) become ErrMalformed with
// a fixed detail, so no message from elsewhere can carry line content.
func atLine(n int, err error) error {
	var d *detailError
	if errors.As(err, &d) {
		return &ParseError{Line: n, Err: d.err, Detail: d.detail}
	}
	var e *Error
	if errors.As(err, &e) {
		return &ParseError{Line: n, Err: e, Detail: detailOf(err, e)}
	}
	return &ParseError{Line: n, Err: ErrMalformed, Detail: "key line is not valid"}
}

// detailOf returns what err adds to its sentinel's message ("%w: detail").
func detailOf(err error, e *Error) string {
	s := err.Error()
	if len(s) > len(e.Error())+2 && s[:len(e.Error())] == e.Error() {
		return s[len(e.Error())+2:]
	}
	return ""
}
