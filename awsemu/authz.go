package awsemu

import (
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"

	"github.com/byok-dev/byok/awsemu/internal/iampolicy"
)

// policies caches parsed policy documents by their text: documents are
// immutable and evaluation runs on every request.
var policies sync.Map

func parsePolicy(doc string) (*iampolicy.Policy, error) {
	if p, ok := policies.Load(doc); ok {
		return p.(*iampolicy.Policy), nil
	}
	p, err := iampolicy.Parse([]byte(doc))
	if err != nil {
		return nil, err
	}
	policies.Store(doc, p)
	return p, nil
}

// identityDecision combines the caller's identity policies: any Deny wins,
// otherwise any Allow allows.
func identityDecision(p *principal, req *iampolicy.Request) iampolicy.Decision {
	d := iampolicy.NotApplicable
	for _, doc := range p.policies {
		pol, err := parsePolicy(doc)
		if err != nil {
			continue // validated when stored
		}
		switch pol.EvaluateIdentity(req).Decision {
		case iampolicy.Deny:
			return iampolicy.Deny
		case iampolicy.Allow:
			d = iampolicy.Allow
		}
	}
	return d
}

func (p *principal) iamPrincipal() iampolicy.Principal {
	arns := []string{p.ARN}
	if p.RoleARN != "" {
		arns = append(arns, p.RoleARN)
	}
	return iampolicy.Principal{Account: p.Account, ARNs: arns}
}

// principalArnKey is what aws:PrincipalArn holds: the role ARN for a role
// session, the user ARN otherwise.
func (p *principal) principalArnKey() string {
	if p.RoleARN != "" {
		return p.RoleARN
	}
	return p.ARN
}

// baseContext holds the global condition keys every request carries.
func (c *call) baseContext() map[string][]string {
	return map[string][]string{
		"aws:PrincipalArn":     {c.p.principalArnKey()},
		"aws:PrincipalAccount": {c.p.Account},
		"aws:RequestedRegion":  {c.region},
		"kms:CallerAccount":    {c.p.Account},
	}
}

// Reasons AWS gives at the end of an AccessDeniedException message.
const (
	reasonNoResource   = "because no resource-based policy allows the %s action"
	reasonNoIdentity   = "because no identity-based policy allows the %s action"
	reasonDenyResource = "with an explicit deny in a resource-based policy"
	reasonDenyIdentity = "with an explicit deny in an identity-based policy"
)

func accessDenied(c *call, action, resource, reason string) *apiError {
	if strings.Contains(reason, "%s") {
		reason = strings.ReplaceAll(reason, "%s", action)
	}
	msg := fmt.Sprintf("User: %s is not authorized to perform: %s on resource: %s", c.p.ARN, action, resource)
	if reason != "" {
		msg += " " + reason
	}
	if c.service == "sts" {
		return &apiError{Code: "AccessDenied", Message: msg, Status: http.StatusForbidden}
	}
	return &apiError{Code: "AccessDeniedException", Message: msg, Status: http.StatusBadRequest}
}

// authorizeKey decides whether the caller may perform action on k, as KMS
// does: an explicit Deny in the key policy or an identity policy wins; the key
// policy naming the caller (same account) is enough; the key policy naming the
// caller's account delegates to its identity policies; another account needs
// both the key policy and its own identity policy; a grant is enough on its
// own. ctx adds the operation's condition keys.
func (s *Server) authorizeKey(c *call, k *key, action string, ctx map[string][]string) error {
	req := &iampolicy.Request{Action: action, Resource: k.ARN, Principal: c.p.iamPrincipal(), Context: c.baseContext()}
	for name, v := range ctx {
		req.Context[name] = v
	}
	kp := iampolicy.Result{Decision: iampolicy.NotApplicable}
	if pol, err := parsePolicy(k.Policy); err == nil {
		kp = pol.EvaluateResource(req)
	}
	if kp.Decision == iampolicy.Deny {
		return accessDenied(c, action, k.ARN, reasonDenyResource)
	}
	id := identityDecision(c.p, req)
	if id == iampolicy.Deny {
		return accessDenied(c, action, k.ARN, reasonDenyIdentity)
	}
	if s.grantAllows(c, k, action, ctx) {
		return nil
	}
	keyAllows := kp.Decision == iampolicy.Allow
	direct := keyAllows && kp.PrincipalMatched
	sameAccount := c.p.Account == k.Account
	switch {
	case sameAccount && direct:
		return nil
	case !keyAllows:
		return accessDenied(c, action, k.ARN, reasonNoResource)
	case id != iampolicy.Allow:
		return accessDenied(c, action, k.ARN, reasonNoIdentity)
	}
	return nil
}

// authorizeIdentity decides actions with no key to attach a policy to
// (CreateKey, ListKeys, ListAliases): identity policies alone.
func (s *Server) authorizeIdentity(c *call, action string) error {
	req := &iampolicy.Request{Action: action, Resource: "*", Principal: c.p.iamPrincipal(), Context: c.baseContext()}
	switch identityDecision(c.p, req) {
	case iampolicy.Allow:
		return nil
	case iampolicy.Deny:
		return accessDenied(c, action, "*", reasonDenyIdentity)
	}
	return accessDenied(c, action, "*", reasonNoIdentity)
}

// grantAllows reports whether a grant on k lets the caller perform action.
// Grants name the grantee by user or role ARN; a role's grant covers its
// sessions.
func (s *Server) grantAllows(c *call, k *key, action string, ctx map[string][]string) bool {
	op, _ := strings.CutPrefix(action, "kms:")
	for _, g := range k.Grants {
		if g.Grantee != c.p.ARN && g.Grantee != c.p.RoleARN {
			continue
		}
		if slices.Contains(g.Operations, op) && grantConstraintsHold(g, ctx) {
			return true
		}
	}
	return false
}

// grantConstraintsHold checks EncryptionContextSubset/Equals against the
// request's encryption context condition keys.
func grantConstraintsHold(g *grant, ctx map[string][]string) bool {
	if g.ContextEquals == nil && g.ContextSubset == nil {
		return true
	}
	ec := map[string]string{}
	for name, v := range ctx {
		if k, ok := strings.CutPrefix(name, "kms:EncryptionContext:"); ok && len(v) == 1 {
			ec[k] = v[0]
		}
	}
	if g.ContextEquals != nil && len(ec) != len(g.ContextEquals) {
		return false
	}
	want := g.ContextEquals
	if want == nil {
		want = g.ContextSubset
	}
	for k, v := range want {
		if ec[k] != v {
			return false
		}
	}
	return true
}
