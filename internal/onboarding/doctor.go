package onboarding

import (
	"errors"
	"fmt"
	"strings"

	"github.com/aws/smithy-go"
)

// Policies a denial is traced to ([Check.Policy]).
const (
	PolicyKey  = "key_policy"  // the key's policy, in the key's account
	PolicyRole = "role_policy" // the role's own policy, in the role's account (direct: the platform's)
)

// denial is what AWS's AccessDenied message says about why: which kind of
// policy did not allow the call, or denied it explicitly.
type denial int

const (
	denialUnknown      denial = iota
	denialNoResource          // no resource-based (key) policy allows the action
	denialNoIdentity          // no identity-based policy allows the action
	denialDenyResource        // an explicit Deny in the key policy
	denialDenyIdentity        // an explicit Deny in an identity policy
)

// denialOf reads the reason AWS ends its AccessDenied messages with.
func denialOf(err error) denial {
	var ae smithy.APIError
	if !errors.As(err, &ae) {
		return denialUnknown
	}
	switch msg := ae.ErrorMessage(); {
	case strings.Contains(msg, "no resource-based policy allows"):
		return denialNoResource
	case strings.Contains(msg, "no identity-based policy allows"):
		return denialNoIdentity
	case strings.Contains(msg, "explicit deny in a resource-based policy"):
		return denialDenyResource
	case strings.Contains(msg, "explicit deny in an identity-based policy"):
		return denialDenyIdentity
	}
	return denialUnknown
}

// crossAccount reports whether the role is in another account than the
// key: AWS then needs both the key policy and the role's policy to allow
// the call, where in the key's own account either is enough.
func (r *run) crossAccount() bool {
	return r.t.RoleARN != "" && r.role.Account != "" && r.role.Account != r.key.Account
}

// grantFix says which policy lacks action and what to add to it, as
// precisely as AWS's denial tells.
func (r *run) grantFix(action string, d denial) (policy, fix string) {
	switch d {
	case denialNoResource:
		return PolicyKey, r.keyPolicyFix(action)
	case denialNoIdentity:
		return PolicyRole, r.identityFix(action)
	case denialDenyResource:
		return PolicyKey, fmt.Sprintf("a Deny statement of the key policy of %s (account %s) matches %s by %s: remove or narrow it",
			r.keyName(), r.key.Account, action, r.grantee())
	case denialDenyIdentity:
		if r.t.RoleARN == "" {
			return PolicyRole, "a Deny statement of the platform's own IAM policies matches " + action + ": the platform's operator must remove it"
		}
		return PolicyRole, fmt.Sprintf("a Deny statement of the policies of role %s (account %s) matches %s: remove or narrow it", r.t.RoleARN, r.role.Account, action)
	}
	return "", r.eitherFix(action)
}

func (r *run) keyName() string {
	if r.keyARN != "" {
		return r.keyARN
	}
	return r.key.String()
}

// keyPolicyFix is the statement to add to the key policy. A role in another
// account may be named itself or by its account root, which delegates to
// that account's IAM policies; in the key's own account the root statement
// does the same for the role's policy.
func (r *run) keyPolicyFix(action string) string {
	sid, cond := r.statementFor(action, false)
	fix := fmt.Sprintf("add the statement %s (key-policy-statements.json) to the key policy of %s in account %s, allowing %s to principal %s%s",
		sid, r.keyName(), r.key.Account, action, r.grantee(), cond)
	switch {
	case r.crossAccount():
		return fix + fmt.Sprintf(" (or arn:%s:iam::%s:root, which leaves it to account %s's IAM policies); the role's own policy must allow it too, as the role is in another account than the key",
			r.role.Partition, r.role.Account, r.role.Account)
	case r.t.RoleARN != "":
		return fix + " (or the statement " + SidRoot + " for the account root, under which the role's own policy is enough)"
	}
	return fix
}

// identityFix is the statement to add to the role's own policy.
func (r *run) identityFix(action string) string {
	if r.t.RoleARN == "" {
		return "the platform's own IAM policy does not allow " + action + " on the key: the platform's operator must allow it"
	}
	sid, cond := r.statementFor(action, true)
	fix := fmt.Sprintf("add the statement %s (role-policy.json) to the inline policy of role %s in account %s, allowing %s on %s%s",
		sid, r.t.RoleARN, r.role.Account, action, r.keyName(), cond)
	if r.crossAccount() {
		return fix + fmt.Sprintf(": the role is in another account than the key, so the key policy of account %s allowing it is not enough", r.key.Account)
	}
	return fix + fmt.Sprintf(" (or name the role in the key policy, statement %s)", r.sidFor(action, false))
}

// eitherFix is the fix when AWS does not say which policy refused: the
// grants each side needs.
func (r *run) eitherFix(action string) string {
	if r.t.RoleARN == "" {
		return r.keyPolicyFix(action)
	}
	if r.crossAccount() {
		return fmt.Sprintf("both policies must allow %s: %s; and %s", action, r.keyPolicyFix(action), r.identityFix(action))
	}
	return fmt.Sprintf("allow %s to %s on the key, in the key policy and, for a role, in its policy (%s)", action, r.grantee(), r.statementFix(action))
}

// sidFor is the generated statement granting action: the key policy's or,
// with role, the role policy's.
func (r *run) sidFor(action string, role bool) string {
	switch {
	case !isCryptoAction(action) && role:
		return SidRoleRead
	case !isCryptoAction(action):
		return SidRead
	case role:
		return SidRoleUse
	}
	return SidUse
}

// statementFor is sidFor and the tenant condition the statement carries.
func (r *run) statementFor(action string, role bool) (sid, cond string) {
	sid = r.sidFor(action, role)
	if isCryptoAction(action) && !r.isRSA() {
		cond = ", with the condition " + tenantConditionText(r.t.TenantID)
	}
	return sid, cond
}
