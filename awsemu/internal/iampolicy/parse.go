package iampolicy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"maps"
	"slices"
	"strings"
)

// MaxPolicySize is the largest document [Parse] accepts, in bytes: the KMS
// key policy limit. Callers may apply a stricter limit (IAM's are smaller).
const MaxPolicySize = 32 * 1024

// The policy language versions AWS accepts.
const (
	Version2012 = "2012-10-17"
	Version2008 = "2008-10-17"
)

// Messages of [ParseError], worded like AWS's MalformedPolicyDocumentException.
const (
	msgInvalidJSON   = "This policy contains invalid Json"
	msgSyntax        = "Syntax errors in policy."
	msgTooLarge      = "Policy document exceeds the maximum size of 32768 bytes."
	msgVersion       = "The policy failed legacy parsing"
	msgPrincipal     = "Policy contains a statement with one or more invalid principals."
	msgNoActions     = "Policy statement must contain actions."
	msgNoResources   = "Policy statement must contain resources."
	msgHasPrincipal  = "Policy document should not specify a principal."
	msgVendor        = "Actions/Conditions must be prefaced by a vendor, e.g., iam, sdb, ec2, etc."
	msgOneColon      = "Actions/Condition can contain only one colon."
	msgDuplicateSid  = "Statement IDs (SID) in a single policy must be unique."
	msgNoStatement   = "Policy document must contain at least one statement."
	msgBadEffect     = "Invalid effect: %s"
	msgBadResource   = "Resource %s must be in ARN format or \"*\"."
	msgBadOperator   = "Invalid Condition type : %s."
	msgBadCondValues = "Condition values for %s must be strings, numbers or booleans."
)

// ParseError reports a document that is not a valid policy. Message reads like
// the message of AWS's MalformedPolicyDocumentException.
type ParseError struct {
	Message string
}

func (e *ParseError) Error() string { return e.Message }

func parseErr(msg string) *ParseError { return &ParseError{Message: msg} }

// parseErrf formats msg with the offending policy text, shortened so that a
// hostile document cannot produce a huge error.
func parseErrf(msg, text string) *ParseError {
	return &ParseError{Message: fmt.Sprintf(msg, shorten(text))}
}

func shorten(s string) string {
	const limit = 128
	if len(s) <= limit {
		return s
	}
	cut := limit
	for cut > 0 && !isRuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + "..."
}

func isRuneStart(b byte) bool { return b&0xC0 != 0x80 }

// Policy is a parsed policy document.
type Policy struct {
	Version    string // "2012-10-17", "2008-10-17" or "" when absent
	ID         string // the Id element, may be ""
	Statements []Statement
}

// Effect is a statement's Effect element.
type Effect int

// The two effects a statement may have.
const (
	EffectAllow Effect = iota + 1
	EffectDeny
)

func (e Effect) String() string {
	switch e {
	case EffectAllow:
		return "Allow"
	case EffectDeny:
		return "Deny"
	}
	return fmt.Sprintf("Effect(%d)", int(e))
}

// Statement is one statement of a policy. For each pair (Action/NotAction,
// Resource/NotResource, Principal/NotPrincipal) at most one is set; nil means
// the element is absent.
type Statement struct {
	Sid          string
	Effect       Effect
	Principal    *Principals
	NotPrincipal *Principals
	Action       []string
	NotAction    []string
	Resource     []string
	NotResource  []string
	Condition    []Condition // sorted by Operator, then Key
}

// Principals is the value of a Principal or NotPrincipal element.
type Principals struct {
	All           bool     // "*" or {"AWS": "*"}: everyone
	AWS           []string // account ids, root ARNs, IAM/STS ARNs, unique ids
	Service       []string // e.g. "kms.amazonaws.com"
	Federated     []string // accepted, never matched
	CanonicalUser []string // accepted, never matched
}

// Condition is one key of one operator block of a Condition element.
type Condition struct {
	Operator string   // as written, e.g. "ForAnyValue:StringLikeIfExists"
	Key      string   // as written, e.g. "kms:EncryptionContext:tenant"
	Values   []string // booleans and numbers keep their JSON text
}

// Parse parses a policy document. Errors are *ParseError.
func Parse(doc []byte) (*Policy, error) {
	if len(doc) > MaxPolicySize {
		return nil, parseErr(msgTooLarge)
	}
	if !json.Valid(doc) {
		return nil, parseErr(msgInvalidJSON)
	}
	top, err := decodeObject(doc, "Version", "Id", "Statement")
	if err != nil {
		return nil, err
	}
	p := &Policy{}
	if p.Version, err = parseVersion(top); err != nil {
		return nil, err
	}
	if p.ID, err = optionalString(top, "Id"); err != nil {
		return nil, err
	}
	if p.Statements, err = parseStatements(top["Statement"]); err != nil {
		return nil, err
	}
	return p, nil
}

// decodeObject decodes a JSON object and rejects element names outside
// allowed. Names are case-sensitive, as in AWS.
func decodeObject(raw []byte, allowed ...string) (map[string]json.RawMessage, error) {
	m, ok := decodeMap(raw)
	if !ok {
		return nil, parseErr(msgSyntax)
	}
	for name := range m {
		if !slices.Contains(allowed, name) {
			return nil, parseErr(msgSyntax)
		}
	}
	return m, nil
}

// decodeMap decodes a JSON object with any element names.
func decodeMap(raw []byte) (map[string]json.RawMessage, bool) {
	var m map[string]json.RawMessage
	if firstByte(raw) != '{' || json.Unmarshal(raw, &m) != nil {
		return nil, false
	}
	return m, true
}

// firstByte returns the first non-space byte of a JSON value, or 0.
func firstByte(raw []byte) byte {
	raw = bytes.TrimLeft(raw, " \t\r\n")
	if len(raw) == 0 {
		return 0
	}
	return raw[0]
}

func parseVersion(top map[string]json.RawMessage) (string, error) {
	raw, ok := top["Version"]
	if !ok {
		return "", nil
	}
	v, ok := decodeString(raw)
	if !ok || (v != Version2012 && v != Version2008) {
		return "", parseErr(msgVersion)
	}
	return v, nil
}

func optionalString(m map[string]json.RawMessage, name string) (string, error) {
	raw, ok := m[name]
	if !ok {
		return "", nil
	}
	s, ok := decodeString(raw)
	if !ok {
		return "", parseErr(msgSyntax)
	}
	return s, nil
}

func decodeString(raw []byte) (string, bool) {
	var s string
	if firstByte(raw) != '"' || json.Unmarshal(raw, &s) != nil {
		return "", false
	}
	return s, true
}

// decodeStringList decodes a string or an array of strings.
func decodeStringList(raw []byte) ([]string, bool) {
	if s, ok := decodeString(raw); ok {
		return []string{s}, true
	}
	var items []json.RawMessage
	if firstByte(raw) != '[' || json.Unmarshal(raw, &items) != nil {
		return nil, false
	}
	list := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := decodeString(item)
		if !ok {
			return nil, false
		}
		list = append(list, s)
	}
	return list, true
}

func parseStatements(raw json.RawMessage) ([]Statement, error) {
	var items []json.RawMessage
	switch firstByte(raw) {
	case '{':
		items = []json.RawMessage{raw}
	case '[':
		if json.Unmarshal(raw, &items) != nil {
			return nil, parseErr(msgSyntax)
		}
	default:
		return nil, parseErr(msgSyntax)
	}
	if len(items) == 0 {
		return nil, parseErr(msgNoStatement)
	}
	return parseStatementList(items)
}

func parseStatementList(items []json.RawMessage) ([]Statement, error) {
	statements := make([]Statement, 0, len(items))
	sids := make(map[string]bool)
	for _, item := range items {
		st, err := parseStatement(item)
		if err != nil {
			return nil, err
		}
		if st.Sid != "" && sids[st.Sid] {
			return nil, parseErr(msgDuplicateSid)
		}
		sids[st.Sid] = true
		statements = append(statements, st)
	}
	return statements, nil
}

var statementElements = []string{
	"Sid", "Effect", "Principal", "NotPrincipal", "Action", "NotAction",
	"Resource", "NotResource", "Condition",
}

func parseStatement(raw json.RawMessage) (Statement, error) {
	m, err := decodeObject(raw, statementElements...)
	if err != nil {
		return Statement{}, err
	}
	var st Statement
	steps := []func(map[string]json.RawMessage, *Statement) error{
		parseSid, parseEffect, parsePrincipals, parseActions, parseResources, parseConditionElement,
	}
	for _, step := range steps {
		if err := step(m, &st); err != nil {
			return Statement{}, err
		}
	}
	return st, nil
}

func parseSid(m map[string]json.RawMessage, st *Statement) (err error) {
	st.Sid, err = optionalString(m, "Sid")
	return err
}

func parseEffect(m map[string]json.RawMessage, st *Statement) error {
	raw, ok := m["Effect"]
	if !ok {
		return parseErr(msgSyntax)
	}
	s, ok := decodeString(raw)
	switch {
	case !ok:
		return parseErr(msgSyntax)
	case s == "Allow":
		st.Effect = EffectAllow
	case s == "Deny":
		st.Effect = EffectDeny
	default:
		return parseErrf(msgBadEffect, s)
	}
	return nil
}

// exclusivePair returns the raw value of whichever of name and notName is
// present, and whether it was notName. Both present is a syntax error.
func exclusivePair(m map[string]json.RawMessage, name, notName string) (raw json.RawMessage, negated bool, err error) {
	pos, hasPos := m[name]
	neg, hasNeg := m[notName]
	switch {
	case hasPos && hasNeg:
		return nil, false, parseErr(msgSyntax)
	case hasNeg:
		return neg, true, nil
	}
	return pos, false, nil
}

func parseActions(m map[string]json.RawMessage, st *Statement) error {
	raw, negated, err := exclusivePair(m, "Action", "NotAction")
	if err != nil {
		return err
	}
	if raw == nil {
		return parseErr(msgNoActions)
	}
	list, ok := decodeStringList(raw)
	if !ok {
		return parseErr(msgSyntax)
	}
	if len(list) == 0 {
		return parseErr(msgNoActions)
	}
	for _, a := range list {
		if err := validateAction(a); err != nil {
			return err
		}
	}
	if negated {
		st.NotAction = list
	} else {
		st.Action = list
	}
	return nil
}

// validateAction accepts "*" and "vendor:name", where name may hold wildcards.
func validateAction(a string) error {
	if a == "*" {
		return nil
	}
	vendor, name, ok := strings.Cut(a, ":")
	if !ok || !isVendor(vendor) {
		return parseErr(msgVendor)
	}
	if strings.Contains(name, ":") {
		return parseErr(msgOneColon)
	}
	if name == "" {
		return parseErr(msgSyntax)
	}
	return nil
}

// isVendor reports whether s can be a service prefix such as "kms" or "s3-object-lambda".
func isVendor(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if !isLetterOrDigit(c) && c != '-' {
			return false
		}
	}
	return true
}

func isLetterOrDigit(c rune) bool {
	return ('a' <= c && c <= 'z') || ('A' <= c && c <= 'Z') || ('0' <= c && c <= '9')
}

func parseResources(m map[string]json.RawMessage, st *Statement) error {
	raw, negated, err := exclusivePair(m, "Resource", "NotResource")
	if err != nil || raw == nil {
		return err // a missing Resource is checked by the Validate methods
	}
	list, ok := decodeStringList(raw)
	if !ok {
		return parseErr(msgSyntax)
	}
	if len(list) == 0 {
		return parseErr(msgNoResources)
	}
	for _, r := range list {
		if r != "*" && !looksLikeARN(r) {
			return parseErrf(msgBadResource, r)
		}
	}
	if negated {
		st.NotResource = list
	} else {
		st.Resource = list
	}
	return nil
}

// looksLikeARN reports whether s has the six colon-separated parts of an ARN.
func looksLikeARN(s string) bool {
	parts := strings.SplitN(s, ":", 6)
	return len(parts) == 6 && parts[0] == "arn" && parts[1] != "" && parts[2] != ""
}

func parseConditionElement(m map[string]json.RawMessage, st *Statement) error {
	raw, ok := m["Condition"]
	if !ok {
		return nil
	}
	blocks, ok := decodeMap(raw)
	if !ok {
		return parseErr(msgSyntax)
	}
	// Sorted, so that the error reported for a document never varies.
	for _, opName := range slices.Sorted(maps.Keys(blocks)) {
		conds, err := parseOperatorBlock(opName, blocks[opName])
		if err != nil {
			return err
		}
		st.Condition = append(st.Condition, conds...)
	}
	return nil
}

func parseOperatorBlock(opName string, raw json.RawMessage) ([]Condition, error) {
	if _, ok := lookupOperator(opName); !ok {
		return nil, parseErrf(msgBadOperator, opName)
	}
	keys, ok := decodeMap(raw)
	if !ok {
		return nil, parseErr(msgSyntax)
	}
	conds := make([]Condition, 0, len(keys))
	for _, key := range slices.Sorted(maps.Keys(keys)) {
		if err := validateConditionKey(key); err != nil {
			return nil, err
		}
		values, ok := decodeScalarList(keys[key])
		if !ok || len(values) == 0 {
			return nil, parseErrf(msgBadCondValues, key)
		}
		conds = append(conds, Condition{Operator: opName, Key: key, Values: values})
	}
	return conds, nil
}

// validateConditionKey accepts "vendor:name", where name may itself hold
// colons (kms:EncryptionContext:tenant).
func validateConditionKey(key string) error {
	vendor, name, ok := strings.Cut(key, ":")
	if !ok || !isVendor(vendor) || name == "" {
		return parseErr(msgVendor)
	}
	return nil
}

// decodeScalarList decodes a string, boolean or number, or an array of them,
// into their text: strings unquoted, booleans and numbers as written.
func decodeScalarList(raw []byte) ([]string, bool) {
	if firstByte(raw) != '[' {
		s, ok := decodeScalar(raw)
		return []string{s}, ok
	}
	var items []json.RawMessage
	if json.Unmarshal(raw, &items) != nil {
		return nil, false
	}
	list := make([]string, 0, len(items))
	for _, item := range items {
		s, ok := decodeScalar(item)
		if !ok {
			return nil, false
		}
		list = append(list, s)
	}
	return list, true
}

func decodeScalar(raw []byte) (string, bool) {
	switch c := firstByte(raw); {
	case c == '"':
		return decodeString(raw)
	case c == 't' || c == 'f':
		var b bool
		if json.Unmarshal(raw, &b) != nil {
			return "", false
		}
		return fmt.Sprint(b), true
	case c == '-' || ('0' <= c && c <= '9'):
		var n json.Number
		if json.Unmarshal(raw, &n) != nil {
			return "", false
		}
		return n.String(), true
	}
	return "", false
}

// ValidateIdentity checks the rules that only identity-based policies follow:
// no statement names a principal, and every statement has a Resource or
// NotResource. Errors are *ParseError.
func (p *Policy) ValidateIdentity() error {
	for i := range p.Statements {
		st := &p.Statements[i]
		if st.Principal != nil || st.NotPrincipal != nil {
			return parseErr(msgHasPrincipal)
		}
		if st.Resource == nil && st.NotResource == nil {
			return parseErr(msgNoResources)
		}
	}
	return nil
}

// ValidateResource checks the rule that resource-based policies follow: every
// statement has a Principal or NotPrincipal. Errors are *ParseError.
func (p *Policy) ValidateResource() error {
	for i := range p.Statements {
		st := &p.Statements[i]
		if st.Principal == nil && st.NotPrincipal == nil {
			return parseErr(msgPrincipal)
		}
	}
	return nil
}
