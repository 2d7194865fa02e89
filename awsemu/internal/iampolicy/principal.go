package iampolicy

import (
	"encoding/json"
	"maps"
	"slices"
	"strings"
)

// Principal is the caller, as seen by a resource-based policy's Principal
// element.
type Principal struct {
	// Account is the 12-digit account id of the caller.
	Account string
	// ARNs are the ARNs that a Principal/"AWS" entry may name to match this
	// caller: for an assumed-role session both
	// "arn:aws:iam::111122223333:role/R" and
	// "arn:aws:sts::111122223333:assumed-role/R/sess"; for a user
	// "arn:aws:iam::111122223333:user/U". A unique id ("AROA...") may be
	// listed too, for policies that name a principal that way.
	ARNs []string
	// Service is set when the caller is an AWS service principal (e.g.
	// "kms.amazonaws.com"); usually "".
	Service string
}

var principalTypes = []string{"AWS", "Service", "Federated", "CanonicalUser"}

func parsePrincipals(m map[string]json.RawMessage, st *Statement) error {
	raw, negated, err := exclusivePair(m, "Principal", "NotPrincipal")
	if err != nil || raw == nil {
		return err
	}
	ps, err := parsePrincipalValue(raw)
	if err != nil {
		return err
	}
	if negated {
		st.NotPrincipal = ps
	} else {
		st.Principal = ps
	}
	return nil
}

// parsePrincipalValue parses "*" or an object keyed by principal type.
func parsePrincipalValue(raw json.RawMessage) (*Principals, error) {
	if s, ok := decodeString(raw); ok {
		if s != "*" {
			return nil, parseErr(msgPrincipal)
		}
		return &Principals{All: true}, nil
	}
	m, ok := decodeMap(raw)
	if !ok || len(m) == 0 {
		return nil, parseErr(msgPrincipal)
	}
	ps := &Principals{}
	for _, typ := range slices.Sorted(maps.Keys(m)) {
		if err := ps.add(typ, m[typ]); err != nil {
			return nil, err
		}
	}
	return ps, nil
}

func (ps *Principals) add(typ string, raw json.RawMessage) error {
	list, ok := decodeStringList(raw)
	if !ok || len(list) == 0 || !slices.Contains(principalTypes, typ) {
		return parseErr(msgPrincipal)
	}
	for _, entry := range list {
		if !validPrincipalEntry(typ, entry) {
			return parseErr(msgPrincipal)
		}
	}
	switch typ {
	case "AWS":
		ps.AWS = list
		ps.All = ps.All || slices.Contains(list, "*")
	case "Service":
		ps.Service = list
	case "Federated":
		ps.Federated = list
	case "CanonicalUser":
		ps.CanonicalUser = list
	}
	return nil
}

func validPrincipalEntry(typ, entry string) bool {
	switch typ {
	case "AWS":
		return entry == "*" || isAccountID(entry) || isUniqueID(entry) || validPrincipalARN(entry)
	case "Service":
		return isServiceName(entry)
	}
	return entry != "" && len(entry) <= 2048
}

func isAccountID(s string) bool {
	if len(s) != 12 {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// isUniqueID reports whether s looks like an IAM unique id of a user (AIDA)
// or role (AROA). AWS shows those in a policy in place of the ARN of a
// principal that was deleted.
func isUniqueID(s string) bool {
	if len(s) < 16 || len(s) > 128 || (!strings.HasPrefix(s, "AIDA") && !strings.HasPrefix(s, "AROA")) {
		return false
	}
	for _, c := range s {
		if !('A' <= c && c <= 'Z') && !('0' <= c && c <= '9') {
			return false
		}
	}
	return true
}

// isServiceName accepts names such as "kms.amazonaws.com" or
// "ec2.amazonaws.com.cn".
func isServiceName(s string) bool {
	if len(s) > 256 || !strings.Contains(s, ".") || strings.HasPrefix(s, ".") || strings.HasSuffix(s, ".") {
		return false
	}
	for _, c := range s {
		if !isLetterOrDigit(c) && c != '.' && c != '-' {
			return false
		}
	}
	return true
}

// principalARN is an IAM or STS ARN split into the parts principal matching
// needs.
type principalARN struct {
	partition, service, account, resource string
}

func splitPrincipalARN(s string) (principalARN, bool) {
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" || !isPartition(parts[1]) || parts[3] != "" || !isAccountID(parts[4]) {
		return principalARN{}, false
	}
	a := principalARN{partition: parts[1], service: parts[2], account: parts[4], resource: parts[5]}
	return a, a.service == "iam" || a.service == "sts"
}

func isPartition(s string) bool {
	return s == "aws" || s == "aws-cn" || s == "aws-us-gov"
}

// validPrincipalARN accepts the account root, users and roles (with paths),
// assumed-role sessions and federated users. Wildcards are not allowed.
func validPrincipalARN(s string) bool {
	a, ok := splitPrincipalARN(s)
	if !ok {
		return false
	}
	if a.service == "iam" {
		return a.resource == "root" || validIAMResource(a.resource)
	}
	return validSTSResource(a.resource)
}

// validIAMResource accepts "user/[path/]name" and "role/[path/]name".
func validIAMResource(r string) bool {
	typ, rest, _ := strings.Cut(r, "/")
	if typ != "user" && typ != "role" {
		return false
	}
	for _, seg := range strings.Split(rest, "/") {
		if !isIAMName(seg) {
			return false
		}
	}
	return true
}

// validSTSResource accepts "assumed-role/role/session" and "federated-user/name".
func validSTSResource(r string) bool {
	parts := strings.Split(r, "/")
	want := map[string]int{"assumed-role": 3, "federated-user": 2}[parts[0]]
	if want == 0 || len(parts) != want {
		return false
	}
	for _, p := range parts[1:] {
		if !isIAMName(p) {
			return false
		}
	}
	return true
}

// isIAMName accepts the characters IAM allows in user, role and session
// names: letters, digits and +=,.@_-.
func isIAMName(s string) bool {
	if s == "" || len(s) > 128 {
		return false
	}
	for _, c := range s {
		if !isLetterOrDigit(c) && !strings.ContainsRune("+=,.@_-", c) {
			return false
		}
	}
	return true
}

// principalMatch says how a statement's Principal matched the caller.
type principalMatch struct {
	principal bool // named directly, or through "*"
	account   bool // named through its account
}

// match reports how ps names the caller, and whether it does at all.
func (ps *Principals) match(c *Principal) (principalMatch, bool) {
	m := principalMatch{
		principal: ps.All || slices.ContainsFunc(c.ARNs, ps.namesARN) || ps.namesService(c.Service),
		account:   ps.namesAccount(c),
	}
	return m, m.principal || m.account
}

// excludes reports whether a NotPrincipal of ps leaves the caller out: every
// identity the caller has must be named. A caller with no identity at all is
// never left out, so a Deny with NotPrincipal fails closed.
func (ps *Principals) excludes(c *Principal) bool {
	if ps.All {
		return true
	}
	identities := len(c.ARNs)
	if !allOf(c.ARNs, ps.namesARN) {
		return false
	}
	if c.Account != "" {
		identities++
		if !ps.namesAccount(c) {
			return false
		}
	}
	if c.Service != "" {
		identities++
		if !ps.namesService(c.Service) {
			return false
		}
	}
	return identities > 0
}

func allOf(list []string, f func(string) bool) bool {
	for _, s := range list {
		if !f(s) {
			return false
		}
	}
	return true
}

func (ps *Principals) namesARN(arn string) bool {
	return arn != "" && slices.Contains(ps.AWS, arn)
}

func (ps *Principals) namesService(service string) bool {
	return service != "" && slices.ContainsFunc(ps.Service, func(s string) bool {
		return strings.EqualFold(s, service)
	})
}

// namesAccount reports whether an AWS entry names the caller's account, as a
// bare id or as the root ARN of the caller's partition.
func (ps *Principals) namesAccount(c *Principal) bool {
	if c.Account == "" {
		return false
	}
	return slices.ContainsFunc(ps.AWS, func(entry string) bool {
		if entry == c.Account {
			return true
		}
		a, ok := splitPrincipalARN(entry)
		return ok && a.service == "iam" && a.resource == "root" && a.account == c.Account &&
			partitionFits(a.partition, c)
	})
}

// partitionFits reports whether partition is the caller's. The partition is
// read from the caller's ARNs; a caller without one fits any partition.
func partitionFits(partition string, c *Principal) bool {
	for _, arn := range c.ARNs {
		if p, ok := arnPartition(arn); ok {
			return p == partition
		}
	}
	return true
}

func arnPartition(arn string) (string, bool) {
	rest, ok := strings.CutPrefix(arn, "arn:")
	if !ok {
		return "", false
	}
	p, _, ok := strings.Cut(rest, ":")
	return p, ok
}
