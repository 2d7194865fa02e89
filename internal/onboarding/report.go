package onboarding

import (
	"fmt"
	"strings"
)

// Status is the outcome of one check.
type Status string

// Statuses. Fail blocks enablement; warn and info do not. Skipped means the
// check could not run because an earlier one failed; its message says which.
const (
	Pass    Status = "pass"
	Fail    Status = "fail"
	Warn    Status = "warn"
	Info    Status = "info"
	Skipped Status = "skipped"
)

// Check is one entry of a validation report.
type Check struct {
	// ID names the check, stable across releases: key_arn, key_state,
	// permission:kms:Decrypt, replica:eu-central-1, ...
	ID     string `json:"id"`
	Status Status `json:"status"`
	// Code is the stable outcome code: ok, key_disabled, missing_permission, ...
	Code    string `json:"code"`
	Message string `json:"message"`
	// Fix says what the customer should change; empty when nothing.
	Fix string `json:"fix,omitempty"`
	// Action is the exact IAM action found missing (kms:Decrypt,
	// kms:ReEncryptFrom, sts:AssumeRole), for missing_permission.
	Action string `json:"action,omitempty"`
	// Policy is the policy that lacks the grant, for missing_permission,
	// when AWS's answer tells: key_policy (the key's, in the key's account)
	// or role_policy (the role's own, in the role's account; for the direct
	// pattern, the platform's).
	Policy string `json:"policy,omitempty"`
	Region string `json:"region,omitempty"`
	// RequestID is the AWS request id of the call that decided the check,
	// which the customer finds in CloudTrail.
	RequestID string `json:"request_id,omitempty"`
}

// Report is the result of a validation, one entry per check in the order
// they ran.
type Report struct {
	// KeyARN is the validated key's ARN, an alias resolved; "" when the key
	// could not be described.
	KeyARN string   `json:"key_arn,omitempty"`
	Checks []*Check `json:"checks"`
}

// OK reports whether the key may be enabled: no check failed or was skipped.
func (r *Report) OK() bool {
	for _, c := range r.Checks {
		if c.Status == Fail || c.Status == Skipped {
			return false
		}
	}
	return true
}

// Check returns the entry with id, or nil.
func (r *Report) Check(id string) *Check {
	for _, c := range r.Checks {
		if c.ID == id {
			return c
		}
	}
	return nil
}

// Failed returns the failed entries.
func (r *Report) Failed() []*Check {
	var out []*Check
	for _, c := range r.Checks {
		if c.Status == Fail {
			out = append(out, c)
		}
	}
	return out
}

// String is the report as a human reads it: one line per check, then its fix.
func (r *Report) String() string {
	var b strings.Builder
	for _, c := range r.Checks {
		fmt.Fprintf(&b, "%-7s %-30s %s: %s\n", c.Status, c.ID, c.Code, c.Message)
		if c.Fix != "" && c.Status != Pass {
			fmt.Fprintf(&b, "        fix: %s\n", c.Fix)
		}
	}
	return b.String()
}
