package store

import (
	"errors"
	"fmt"

	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
)

// Error is one of the package's sentinel errors, with a stable code that
// callers may branch on and print.
type Error struct {
	code string
	msg  string
}

func (e *Error) Error() string { return "store: " + e.msg }

// Code returns the stable code, such as "not_found".
func (e *Error) Code() string { return e.code }

// Errors returned by stores, matched with [errors.Is].
var (
	// ErrNotFound means the tenant, attachment or key version does not exist.
	ErrNotFound = &Error{"not_found", "not found"}
	// ErrConflict means the change collides with stored state: a duplicate
	// id, a stale revision, or a deletion refused to protect key versions.
	ErrConflict = &Error{"conflict", "conflict"}
	// ErrInvalid means an argument is malformed or out of range.
	ErrInvalid = &Error{"invalid_argument", "invalid argument"}
	// ErrSchemaTooNew means the database was migrated by a newer release;
	// this release refuses to use it rather than misread it.
	ErrSchemaTooNew = &Error{"schema_too_new", "database schema is newer than this release"}
	// ErrCorrupt means a stored row cannot be read: damaged, or written by
	// a newer release.
	ErrCorrupt = &Error{"store_corrupt", "stored data cannot be read"}
)

// Code returns the stable code of the store error inside err, or "" when err
// carries none.
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.code
	}
	return ""
}

// detailed is a sentinel (or two) with a message saying what happened.
type detailed struct {
	msg  string
	errs []error
}

func (e *detailed) Error() string   { return "store: " + e.msg }
func (e *detailed) Unwrap() []error { return e.errs }

func newErr(errs []error, format string, args ...any) error {
	return &detailed{msg: fmt.Sprintf(format, args...), errs: errs}
}

// NotFound returns an error matching ErrNotFound.
func NotFound(format string, args ...any) error {
	return newErr([]error{ErrNotFound}, format+": not found", args...)
}

// Conflict returns an error matching ErrConflict.
func Conflict(format string, args ...any) error {
	return newErr([]error{ErrConflict}, format, args...)
}

// Stale returns an error matching ErrConflict and tenant.ErrStale: an
// update made against a revision that is no longer the stored one.
func Stale(format string, args ...any) error {
	return newErr([]error{ErrConflict, tenant.ErrStale}, format, args...)
}

// Corrupt returns an error for a stored row this release cannot read.
func Corrupt(err error) error {
	return newErr([]error{ErrCorrupt, err}, "%v", err)
}

// Invalid returns an error matching ErrInvalid.
func Invalid(format string, args ...any) error {
	return newErr([]error{ErrInvalid}, format, args...)
}

// NoKey returns an error matching both [keyring.ErrNoKey] and ErrNotFound.
// Version 0 means the tenant has no version at all.
func NoKey(tenant string, version uint32) error {
	errs := []error{keyring.ErrNoKey, ErrNotFound}
	if version == 0 {
		return newErr(errs, "tenant %s has no key version", tenant)
	}
	return newErr(errs, "tenant %s has no key version %d", tenant, version)
}

// VersionExists returns an error matching both [keyring.ErrVersionExists]
// and ErrConflict.
func VersionExists(tenant string, version uint32) error {
	errs := []error{keyring.ErrVersionExists, ErrConflict}
	return newErr(errs, "tenant %s key version %d already exists", tenant, version)
}
