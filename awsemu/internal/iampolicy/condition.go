package iampolicy

import (
	"math"
	"strconv"
	"strings"
	"unicode/utf8"
)

// setQualifier is the ForAllValues:/ForAnyValue: prefix of an operator.
type setQualifier int

const (
	setNone setQualifier = iota + 1
	setForAll
	setForAny
)

// operator is a parsed condition operator name.
type operator struct {
	set      setQualifier
	ifExists bool
	base     baseOperator
}

// baseOperator compares one policy value with one request value. A negated
// operator holds when its positive form does not.
type baseOperator struct {
	match   func(policy, value string) bool
	negated bool
	null    bool // the Null operator, which tests presence instead
}

// baseOperators is keyed by lowercased name: operator names are matched
// case-insensitively, as AWS does.
var baseOperators = map[string]baseOperator{
	"stringequals":              {match: stringEquals},
	"stringnotequals":           {match: stringEquals, negated: true},
	"stringequalsignorecase":    {match: strings.EqualFold},
	"stringnotequalsignorecase": {match: strings.EqualFold, negated: true},
	"stringlike":                {match: globMatch},
	"stringnotlike":             {match: globMatch, negated: true},
	"arnequals":                 {match: arnMatch},
	"arnnotequals":              {match: arnMatch, negated: true},
	"arnlike":                   {match: arnMatch},
	"arnnotlike":                {match: arnMatch, negated: true},
	"bool":                      {match: boolEquals},
	"null":                      {null: true},
	"numericequals":             {match: numeric(func(v, p float64) bool { return v == p })},
	"numericnotequals":          {match: numeric(func(v, p float64) bool { return v == p }), negated: true},
	"numericlessthan":           {match: numeric(func(v, p float64) bool { return v < p })},
	"numericlessthanequals":     {match: numeric(func(v, p float64) bool { return v <= p })},
	"numericgreaterthan":        {match: numeric(func(v, p float64) bool { return v > p })},
	"numericgreaterthanequals":  {match: numeric(func(v, p float64) bool { return v >= p })},
}

// lookupOperator parses an operator name such as
// "ForAnyValue:StringLikeIfExists".
func lookupOperator(name string) (operator, bool) {
	rest := strings.ToLower(name)
	op := operator{set: setNone}
	if r, ok := strings.CutPrefix(rest, "forallvalues:"); ok {
		op.set, rest = setForAll, r
	} else if r, ok := strings.CutPrefix(rest, "foranyvalue:"); ok {
		op.set, rest = setForAny, r
	}
	rest, op.ifExists = strings.CutSuffix(rest, "ifexists")
	base, ok := baseOperators[rest]
	if !ok || (base.null && (op.ifExists || op.set != setNone)) {
		return operator{}, false
	}
	op.base = base
	return op, true
}

func stringEquals(p, v string) bool { return p == v }

func boolEquals(p, v string) bool {
	return (strings.EqualFold(p, "true") || strings.EqualFold(p, "false")) && strings.EqualFold(p, v)
}

// numeric turns a comparison of request value v with policy value p into a
// matcher over their text. Values that are not finite numbers do not match.
func numeric(cmp func(v, p float64) bool) func(policy, value string) bool {
	return func(policy, value string) bool {
		p, okP := parseNumber(policy)
		v, okV := parseNumber(value)
		return okP && okV && cmp(v, p)
	}
}

func parseNumber(s string) (float64, bool) {
	f, err := strconv.ParseFloat(s, 64)
	return f, err == nil && !math.IsInf(f, 0) && !math.IsNaN(f)
}

// arnMatch matches each of the six colon-separated parts on its own, so that
// a wildcard never spans a colon, as ArnLike does in AWS.
func arnMatch(policy, value string) bool {
	pp := strings.SplitN(policy, ":", 6)
	vp := strings.SplitN(value, ":", 6)
	if len(pp) != 6 || len(vp) != 6 {
		return false
	}
	for i := range pp {
		if !globMatch(pp[i], vp[i]) {
			return false
		}
	}
	return true
}

// conditionsHold reports whether every condition holds for ctx.
func conditionsHold(conds []Condition, ctx map[string][]string) bool {
	for i := range conds {
		if !conds[i].holds(ctx) {
			return false
		}
	}
	return true
}

// holds evaluates one key of one operator block. An operator that does not
// parse (possible only in a hand-built Condition) never holds.
func (c *Condition) holds(ctx map[string][]string) bool {
	op, ok := lookupOperator(c.Operator)
	if !ok {
		return false
	}
	values := lookupContext(ctx, c.Key)
	if op.base.null {
		return nullHolds(c.Values, len(values) > 0)
	}
	switch op.set {
	case setForAll:
		return allOf(values, func(v string) bool { return op.base.valueHolds(c.Values, v) })
	case setForAny:
		return anyOf(values, func(v string) bool { return op.base.valueHolds(c.Values, v) })
	}
	if len(values) == 0 {
		return op.ifExists || op.base.negated
	}
	return anyOf(values, func(v string) bool { return op.base.matchesAny(c.Values, v) }) != op.base.negated
}

// matchesAny reports whether any policy value matches request value v under
// the operator's positive form.
func (b baseOperator) matchesAny(policy []string, v string) bool {
	return anyOf(policy, func(p string) bool { return b.match(p, v) })
}

// valueHolds applies the operator, negation included, to one request value:
// the per-value test of ForAllValues and ForAnyValue.
func (b baseOperator) valueHolds(policy []string, v string) bool {
	return b.matchesAny(policy, v) != b.negated
}

func anyOf(list []string, f func(string) bool) bool {
	for _, s := range list {
		if f(s) {
			return true
		}
	}
	return false
}

// nullHolds evaluates Null: "true" asks for the key to be missing, "false"
// for it to be present.
func nullHolds(policy []string, present bool) bool {
	return anyOf(policy, func(p string) bool {
		return (strings.EqualFold(p, "true") && !present) || (strings.EqualFold(p, "false") && present)
	})
}

// lookupContext finds a condition key case-insensitively.
func lookupContext(ctx map[string][]string, key string) []string {
	if v, ok := ctx[key]; ok {
		return v
	}
	for k, v := range ctx {
		if strings.EqualFold(k, key) {
			return v
		}
	}
	return nil
}

// globMatch reports whether s matches pattern, where '*' matches any run of
// characters and '?' exactly one. The pattern is split at each '*'; the
// segments between are found left to right, each at its earliest position,
// which is enough because a later '*' can absorb whatever an earlier choice
// leaves. This keeps hostile patterns from costing more than
// O(len(pattern)·len(s)), and literal segments cost a strings.Index.
func globMatch(pattern, s string) bool {
	if !strings.ContainsAny(pattern, "*?") {
		return pattern == s // the common case
	}
	segs := strings.Split(pattern, "*")
	n, ok := matchPrefix(segs[0], s)
	if !ok {
		return false
	}
	s = s[n:]
	if len(segs) == 1 {
		return s == ""
	}
	for _, seg := range segs[1 : len(segs)-1] {
		i, n := indexSegment(s, seg)
		if i < 0 {
			return false
		}
		s = s[i+n:]
	}
	return matchSuffix(segs[len(segs)-1], s)
}

// matchPrefix matches a '*'-free segment against the start of s and returns
// the bytes it covers. Literals compare as bytes, so distinct invalid UTF-8
// sequences stay distinct; '?' covers one character.
func matchPrefix(seg, s string) (int, bool) {
	si := 0
	for i := 0; i < len(seg); i++ {
		switch {
		case si >= len(s):
			return 0, false
		case seg[i] == '?':
			si += runeLen(s[si:])
		case seg[i] != s[si]:
			return 0, false
		default:
			si++
		}
	}
	return si, true
}

// indexSegment finds the earliest match of seg in s: its start and length.
func indexSegment(s, seg string) (int, int) {
	if !strings.Contains(seg, "?") {
		return strings.Index(s, seg), len(seg)
	}
	for i := 0; i < len(s); i += runeLen(s[i:]) {
		if n, ok := matchPrefix(seg, s[i:]); ok {
			return i, n
		}
	}
	return -1, 0
}

// matchSuffix matches seg against the end of s. The tail it must cover has
// as many characters as seg.
func matchSuffix(seg, s string) bool {
	start := len(s)
	for range utf8.RuneCountInString(seg) {
		if start == 0 {
			return false
		}
		_, n := utf8.DecodeLastRuneInString(s[:start])
		start -= n
	}
	n, ok := matchPrefix(seg, s[start:])
	return ok && start+n == len(s)
}

func runeLen(s string) int {
	if s[0] < utf8.RuneSelf {
		return 1
	}
	_, n := utf8.DecodeRuneInString(s)
	return n
}
