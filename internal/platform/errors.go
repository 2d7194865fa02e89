package platform

import (
	"errors"
	"fmt"
	"strings"
)

// Code is a stable error code, safe to show to callers and to branch on.
type Code string

// Codes of bad input.
const (
	CodeInvalidConfig     Code = "invalid_config"
	CodeInvalidKeyARN     Code = "invalid_key_arn"
	CodeInvalidRoleARN    Code = "invalid_role_arn"
	CodeInvalidAccount    Code = "invalid_account_id"
	CodeInvalidExternalID Code = "invalid_external_id"
	CodeInvalidTenantID   Code = "invalid_tenant_id"
	CodeInvalidKeySpec    Code = "invalid_key_spec"
	CodeInvalidPattern    Code = "invalid_access_pattern"
	CodeUnknownRegion     Code = "unknown_region"
	CodeFieldTooLong      Code = "field_too_long"
	CodeMissingField      Code = "missing_field"
	CodeInvalidToken      Code = "invalid_token"
)

// ErrInvalidInput is matched (errors.Is) by every [*Error].
var ErrInvalidInput = errors.New("tenant: invalid input")

// Error is a rejected input: which field, why, and its stable code.
type Error struct {
	Code   Code
	Field  string // e.g. "key_arn"
	Reason string
}

func (e *Error) Error() string {
	return fmt.Sprintf("tenant: %s: %s (%s)", e.Field, e.Reason, e.Code)
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *Error) Is(target error) bool { return target == ErrInvalidInput }

// CodeOf returns the code of the first *Error in err's chain, or "".
func CodeOf(err error) Code {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	var ce *ConfigError
	if errors.As(err, &ce) {
		return CodeInvalidConfig
	}
	return ""
}

// MaxFieldLen bounds every free-form identifier the platform accepts, well
// above any legal ARN (KMS alias ARNs are the longest, about 320 bytes), so
// that oversized input is refused before it is parsed or logged.
const MaxFieldLen = 2048

func checkLen(field, s string) error {
	if len(s) > MaxFieldLen {
		return &Error{Code: CodeFieldTooLong, Field: field,
			Reason: fmt.Sprintf("%d bytes, at most %d", len(s), MaxFieldLen)}
	}
	return nil
}

// Problem is one thing wrong with a configuration.
type Problem struct {
	Path    string // field path, e.g. regions[0].platform_role_arn
	Problem string
	Fix     string
}

func (p Problem) String() string {
	s := p.Path + ": " + p.Problem
	if p.Fix != "" {
		s += " (fix: " + p.Fix + ")"
	}
	return s
}

// ConfigError lists every problem found in a configuration.
type ConfigError struct {
	Problems []Problem
}

func (e *ConfigError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	lines = append(lines, fmt.Sprintf("tenant: invalid configuration, %d problem(s):", len(e.Problems)))
	for _, p := range e.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}

// Is makes errors.Is(err, ErrInvalidInput) true.
func (e *ConfigError) Is(target error) bool { return target == ErrInvalidInput }
