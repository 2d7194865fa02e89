package iampolicy

import (
	"fmt"
	"strings"
)

// Decision is the outcome of evaluating one policy.
type Decision int

// The zero Decision is invalid.
const (
	// NotApplicable: no statement matched the request.
	NotApplicable Decision = iota + 1
	// Allow: an Allow statement matched and no Deny statement did.
	Allow
	// Deny: a Deny statement matched (explicit deny).
	Deny
)

func (d Decision) String() string {
	switch d {
	case NotApplicable:
		return "NotApplicable"
	case Allow:
		return "Allow"
	case Deny:
		return "Deny"
	}
	return fmt.Sprintf("Decision(%d)", int(d))
}

// Request is what a policy is evaluated against.
type Request struct {
	// Action is e.g. "kms:Decrypt" or "sts:AssumeRole"; matched
	// case-insensitively.
	Action string
	// Resource is the key ARN, role ARN, ...; matched case-sensitively.
	Resource string
	// Principal is the caller; only resource-based policies look at it.
	Principal Principal
	// Context maps condition keys (e.g. "kms:EncryptionContext:tenant",
	// "kms:CallerAccount", "aws:PrincipalArn", "sts:ExternalId",
	// "kms:GrantIsForAWSResource", "kms:ViaService", "aws:PrincipalAccount")
	// to their values. Keys are matched case-insensitively; a missing key, or
	// one with no values, is "not present". Give each key once: among keys
	// that differ only in case, which one is used is unspecified.
	Context map[string][]string
}

// Result is the outcome of evaluating a policy against a request.
type Result struct {
	Decision Decision
	// PrincipalMatched is set for an Allow from a resource-based policy when
	// some allowing statement named one of Principal.ARNs or the service, or
	// everyone ("*", {"AWS": "*"}), or applied through NotPrincipal. In AWS
	// this grants access directly.
	PrincipalMatched bool
	// AccountMatched is set for an Allow from a resource-based policy when
	// some allowing statement named the caller's account ("111122223333" or
	// "arn:aws:iam::111122223333:root"). In AWS this delegates to the
	// account's IAM policies.
	AccountMatched bool
	// Sid is the Sid of the deciding statement: the first matching Deny for
	// Deny, the first matching Allow for Allow. It may be "".
	Sid string
}

// EvaluateIdentity evaluates p as an identity-based policy. Statements that
// name a Principal or NotPrincipal, or that have neither Resource nor
// NotResource, never apply: identity policies may not have the former and
// must have the latter (see [Policy.ValidateIdentity]). The result never sets
// PrincipalMatched or AccountMatched.
func (p *Policy) EvaluateIdentity(r *Request) Result {
	return p.evaluate(r, func(st *Statement) (principalMatch, bool) {
		if st.Principal != nil || st.NotPrincipal != nil {
			return principalMatch{}, false
		}
		return principalMatch{}, st.matchesRequest(r, true)
	})
}

// EvaluateResource evaluates p as a resource-based policy (key policy, trust
// policy): statements must also match the caller through Principal or
// NotPrincipal. A statement with neither never applies. A statement without
// Resource or NotResource applies to any resource, as trust policies
// commonly omit it.
func (p *Policy) EvaluateResource(r *Request) Result {
	return p.evaluate(r, func(st *Statement) (principalMatch, bool) {
		m, ok := st.matchesCaller(&r.Principal)
		return m, ok && st.matchesRequest(r, false)
	})
}

// evaluate applies AWS's rule within one policy: any applicable Deny wins,
// otherwise any applicable Allow allows.
func (p *Policy) evaluate(r *Request, applies func(*Statement) (principalMatch, bool)) Result {
	res := Result{Decision: NotApplicable}
	if p == nil || r == nil {
		return res
	}
	for i := range p.Statements {
		st := &p.Statements[i]
		m, ok := applies(st)
		if !ok {
			continue
		}
		switch st.Effect {
		case EffectDeny:
			return Result{Decision: Deny, Sid: st.Sid}
		case EffectAllow:
			res = res.withAllow(st.Sid, m)
		}
	}
	return res
}

func (res Result) withAllow(sid string, m principalMatch) Result {
	if res.Decision != Allow {
		res.Decision, res.Sid = Allow, sid
	}
	res.PrincipalMatched = res.PrincipalMatched || m.principal
	res.AccountMatched = res.AccountMatched || m.account
	return res
}

// matchesCaller applies the statement's Principal or NotPrincipal.
func (st *Statement) matchesCaller(c *Principal) (principalMatch, bool) {
	switch {
	case st.Principal != nil:
		return st.Principal.match(c)
	case st.NotPrincipal != nil:
		// Everyone not listed is granted directly, as if named.
		return principalMatch{principal: true}, !st.NotPrincipal.excludes(c)
	}
	return principalMatch{}, false
}

// matchesRequest matches action, resource and conditions. resourceRequired
// says whether a statement without Resource or NotResource fails to match
// (identity policies) or matches any resource (resource-based policies).
func (st *Statement) matchesRequest(r *Request, resourceRequired bool) bool {
	return st.matchesAction(r.Action) &&
		st.matchesResource(r.Resource, resourceRequired) &&
		conditionsHold(st.Condition, r.Context)
}

func (st *Statement) matchesAction(action string) bool {
	action = strings.ToLower(action)
	matches := func(pattern string) bool { return globMatch(strings.ToLower(pattern), action) }
	switch {
	case st.Action != nil:
		return anyOf(st.Action, matches)
	case st.NotAction != nil:
		return !anyOf(st.NotAction, matches)
	}
	return false
}

func (st *Statement) matchesResource(resource string, required bool) bool {
	matches := func(pattern string) bool { return globMatch(pattern, resource) }
	switch {
	case st.Resource != nil:
		return anyOf(st.Resource, matches)
	case st.NotResource != nil:
		return !anyOf(st.NotResource, matches)
	}
	return !required
}
