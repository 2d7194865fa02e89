package control

import (
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
)

// Stable error codes of this package. Input errors carry the tenant
// package's own codes (invalid_key_arn, unknown_region, ...).
const (
	CodeNotFound         = "tenant_not_found"
	CodeConflict         = "conflict"
	CodeInvalid          = "invalid_argument"
	CodeAliasRejected    = "alias_arn_rejected"
	CodeBindingImmutable = "key_binding_immutable"
	CodeKeyChangeNeeded  = "key_change_required"
	CodeNoKeyAttached    = "no_key_attached"
	CodeValidationFailed = "validation_failed"
	CodeAlreadyEnabled   = "already_enabled"
	// CodeTenantExists and CodeExternalIDInUse: a new tenant collides with
	// an existing one, on its id or on its external id.
	CodeTenantExists    = "tenant_exists"
	CodeExternalIDInUse = "external_id_in_use"

	// CodeWrongState: the tenant's state does not allow the operation
	// (offboarding a shredded tenant, changing the key of a pending one).
	CodeWrongState = "invalid_state"
	// CodeNoKeyVersion: the tenant has no key version to rotate from.
	CodeNoKeyVersion = "no_key_version"
	// CodeKeyChangeInProgress: another key change of the tenant is running;
	// finish it (call ChangeKey with the same key again) first.
	CodeKeyChangeInProgress = "key_change_in_progress"
	// CodeSameKey: the new key is the one already bound.
	CodeSameKey = "same_key"
	// CodeKeyInUse: a key to be retired still wraps some of the tenant's
	// key versions.
	CodeKeyInUse = "key_in_use"
	// CodeTenantShredded: the tenant was offboarded; its keys are destroyed
	// and none of its data opens again.
	CodeTenantShredded = "tenant_shredded"
	// CodeRegionNotReady: the region does not serve the tenant (yet): its
	// keys are not wrapped there.
	CodeRegionNotReady = "region_not_ready"
	// CodeRegionExists: the region already serves the tenant.
	CodeRegionExists = "region_exists"
	// CodeRegionKeyRequired: the tenant's key has no counterpart in the new
	// region (neither a multi-Region replica nor an alias the platform
	// resolves), so the customer must name that region's key.
	CodeRegionKeyRequired = "region_key_required"
	// CodeNoReceiptKey: the service has no platform root key to sign
	// deletion receipts with.
	CodeNoReceiptKey = "receipt_key_missing"
	// CodeReceiptInvalid: a deletion receipt is malformed or its signature
	// does not verify.
	CodeReceiptInvalid = "receipt_invalid"
	// CodeVaultExists and CodeVaultNotFound: vault names of a tenant.
	CodeVaultExists   = "vault_exists"
	CodeVaultNotFound = "vault_not_found"
)

// Error is a control-plane failure with a stable code.
type Error struct {
	Code    string
	Message string
	// Reports holds each region's validation when Code is validation_failed.
	Reports []RegionReport
	Err     error
}

func (e *Error) Error() string { return "control: " + e.Message }
func (e *Error) Unwrap() error { return e.Err }

// Code returns the stable code of err: this package's, the tenant
// package's, a KMS class's, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	if c := platform.CodeOf(err); c != "" {
		return string(c)
	}
	if c := kms.ClassOf(err); c != 0 {
		return c.Code()
	}
	if errors.Is(err, keyring.ErrNoKey) {
		return envelope.ErrKeyVersionUnknown.Code()
	}
	return ""
}

func invalid(err error) error {
	code, msg := CodeInvalid, err.Error()
	var te *platform.Error
	if errors.As(err, &te) {
		// The field and the reason: the code is the answer's own.
		code, msg = string(te.Code), te.Field+": "+te.Reason
	} else if c := platform.CodeOf(err); c != "" {
		code = string(c)
	}
	return &Error{Code: code, Message: msg, Err: err}
}

// fromStore maps store errors to this package's codes.
func fromStore(err error) error {
	// The store's own prefix says nothing to a caller of the service.
	msg := func() string { return strings.TrimPrefix(err.Error(), "store: ") }
	switch {
	case err == nil:
		return nil
	case errors.Is(err, store.ErrNotFound):
		return &Error{Code: CodeNotFound, Message: msg(), Err: err}
	case errors.Is(err, store.ErrConflict):
		return &Error{Code: CodeConflict, Message: msg(), Err: err}
	case errors.Is(err, store.ErrInvalid):
		return &Error{Code: CodeInvalid, Message: msg(), Err: err}
	case errors.Is(err, store.ErrShredded):
		// A concurrent offboarding destroyed the shred key under this call.
		return &Error{Code: CodeTenantShredded, Message: msg(), Err: err}
	}
	return err
}

// duplicateTenant names what a new tenant collides with: an existing tenant
// of the same id, or else one with the same external id (the store's only
// other unique key of tenants).
func (s *Service) duplicateTenant(ctx context.Context, req CreateTenant, err error) error {
	_, getErr := s.cfg.Store.GetTenant(ctx, req.ID)
	switch {
	case getErr == nil:
		return &Error{Code: CodeTenantExists, Message: fmt.Sprintf("tenant %s already exists", req.ID), Err: err}
	case errors.Is(getErr, store.ErrNotFound):
		return &Error{Code: CodeExternalIDInUse, Message: "another tenant already has this external id", Err: err}
	}
	return fromStore(err)
}

// fromKMS keeps a KMS error's class as its code, and maps store conflicts
// (two instances creating the same version) to conflict.
func fromKMS(what string, err error) error {
	if errors.Is(err, store.ErrConflict) {
		return &Error{Code: CodeConflict, Message: "another request is changing this tenant's keys: " + err.Error(), Err: err}
	}
	if c := kms.ClassOf(err); c != 0 {
		return &Error{Code: c.Code(), Message: fmt.Sprintf("%s: %v", what, err), Err: err}
	}
	return fmt.Errorf("control: %s: %w", what, err)
}

// RegionReport is the validation of the key attached in one region.
type RegionReport struct {
	Region string             `json:"region"`
	Report *onboarding.Report `json:"report"`
}
