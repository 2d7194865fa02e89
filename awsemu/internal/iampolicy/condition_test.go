package iampolicy

import (
	"fmt"
	"testing"
)

// present builds a request context holding key "k:key" with the given values.
func present(values ...string) map[string][]string {
	return map[string][]string{"k:key": values}
}

// missing is a request context without "k:key".
var missing = map[string][]string{"k:other": {"x"}}

type conditionCase struct {
	op     string
	values []string // policy values
	ctx    map[string][]string
	want   bool
}

func runConditionCases(t *testing.T, cases []conditionCase) {
	t.Helper()
	for _, tc := range cases {
		name := fmt.Sprintf("%s%q/%v", tc.op, tc.values, tc.ctx["k:key"])
		t.Run(name, func(t *testing.T) {
			c := Condition{Operator: tc.op, Key: "k:key", Values: tc.values}
			if got := c.holds(tc.ctx); got != tc.want {
				t.Errorf("holds(%v) = %v, want %v", tc.ctx, got, tc.want)
			}
		})
	}
}

func TestStringOperators(t *testing.T) {
	runConditionCases(t, []conditionCase{
		{"StringEquals", []string{"t-42"}, present("t-42"), true},
		{"StringEquals", []string{"t-42"}, present("T-42"), false},
		{"StringEquals", []string{"a", "t-42"}, present("t-42"), true},
		{"StringEquals", []string{"t-*"}, present("t-42"), false},
		{"StringEquals", []string{"t-42"}, missing, false},
		{"StringEquals", []string{"t-42"}, present(), false},
		{"StringEquals", []string{"${aws:username}"}, present("${aws:username}"), true},
		{"StringNotEquals", []string{"t-42"}, present("t-42"), false},
		{"StringNotEquals", []string{"t-42"}, present("t-43"), true},
		{"StringNotEquals", []string{"a", "b"}, present("b"), false},
		{"StringNotEquals", []string{"a", "b"}, present("c"), true},
		{"StringNotEquals", []string{"t-42"}, missing, true},
		{"StringEqualsIgnoreCase", []string{"T-42"}, present("t-42"), true},
		{"StringEqualsIgnoreCase", []string{"T-42"}, present("t-43"), false},
		{"StringEqualsIgnoreCase", []string{"T-42"}, missing, false},
		{"StringNotEqualsIgnoreCase", []string{"T-42"}, present("t-42"), false},
		{"StringNotEqualsIgnoreCase", []string{"T-42"}, present("t-43"), true},
		{"StringNotEqualsIgnoreCase", []string{"T-42"}, missing, true},
		{"StringLike", []string{"t-*"}, present("t-42"), true},
		{"StringLike", []string{"t-?"}, present("t-42"), false},
		{"StringLike", []string{"t-??"}, present("t-42"), true},
		{"StringLike", []string{"T-*"}, present("t-42"), false},
		{"StringLike", []string{"s3.*.amazonaws.com"}, present("s3.eu-west-1.amazonaws.com"), true},
		{"StringLike", []string{"t-*"}, missing, false},
		{"StringNotLike", []string{"t-*"}, present("t-42"), false},
		{"StringNotLike", []string{"t-*"}, present("u-42"), true},
		{"StringNotLike", []string{"t-*"}, missing, true},
		// Operator names are case-insensitive.
		{"stringequals", []string{"t-42"}, present("t-42"), true},
	})
}

func TestArnOperators(t *testing.T) {
	const role = "arn:aws:iam::111122223333:role/byok-platform"
	runConditionCases(t, []conditionCase{
		{"ArnEquals", []string{role}, present(role), true},
		{"ArnEquals", []string{"arn:aws:iam::111122223333:role/*"}, present(role), true},
		{"ArnEquals", []string{role}, present("arn:aws:iam::111122223333:role/other"), false},
		{"ArnEquals", []string{role}, missing, false},
		{"ArnLike", []string{"arn:aws:iam::*:role/byok-*"}, present(role), true},
		{"ArnLike", []string{"arn:aws:iam::???????????3:role/byok-platform"}, present(role), true},
		{"ArnLike", []string{"arn:aws:sts::*:*"}, present(role), false},
		// A wildcard does not span the colons between ARN parts.
		{"ArnLike", []string{"arn:*:role/byok-platform"}, present(role), false},
		{"ArnLike", []string{"arn:aws:iam::*:role/*"}, present("not-an-arn"), false},
		{"ArnLike", []string{"arn:aws:iam::*:role/*"}, present("arn:aws:iam::111122223333:role/path/with:colon"), true},
		{"ArnLike", []string{"*"}, present(role), false},
		{"ArnLike", []string{"arn:aws:iam::*:role/*"}, missing, false},
		{"ArnNotEquals", []string{role}, present(role), false},
		{"ArnNotEquals", []string{role}, present("arn:aws:iam::111122223333:role/other"), true},
		{"ArnNotEquals", []string{role}, missing, true},
		{"ArnNotLike", []string{"arn:aws:iam::*:role/byok-*"}, present(role), false},
		{"ArnNotLike", []string{"arn:aws:iam::*:role/admin-*"}, present(role), true},
		{"ArnNotLike", []string{"arn:aws:iam::*:role/admin-*"}, missing, true},
	})
}

func TestBoolAndNullOperators(t *testing.T) {
	runConditionCases(t, []conditionCase{
		{"Bool", []string{"true"}, present("true"), true},
		{"Bool", []string{"true"}, present("TRUE"), true},
		{"Bool", []string{"true"}, present("false"), false},
		{"Bool", []string{"false"}, present("false"), true},
		{"Bool", []string{"true"}, present("yes"), false},
		{"Bool", []string{"yes"}, present("yes"), false},
		{"Bool", []string{"true"}, missing, false},
		{"Bool", []string{"false"}, missing, false},
		{"BoolIfExists", []string{"false"}, missing, true},
		{"BoolIfExists", []string{"false"}, present("true"), false},
		{"Null", []string{"true"}, missing, true},
		{"Null", []string{"true"}, present(), true},
		{"Null", []string{"true"}, present("x"), false},
		{"Null", []string{"false"}, present("x"), true},
		{"Null", []string{"false"}, missing, false},
		{"Null", []string{"true", "false"}, missing, true},
		{"Null", []string{"maybe"}, missing, false},
	})
}

func TestNumericOperators(t *testing.T) {
	runConditionCases(t, []conditionCase{
		{"NumericEquals", []string{"10"}, present("10"), true},
		{"NumericEquals", []string{"10"}, present("10.0"), true},
		{"NumericEquals", []string{"10"}, present("11"), false},
		{"NumericEquals", []string{"10"}, present("ten"), false},
		{"NumericEquals", []string{"ten"}, present("ten"), false},
		{"NumericEquals", []string{"NaN"}, present("NaN"), false},
		{"NumericEquals", []string{"10"}, missing, false},
		{"NumericNotEquals", []string{"10", "100"}, present("10"), false},
		{"NumericNotEquals", []string{"10", "100"}, present("15"), true},
		{"NumericNotEquals", []string{"10"}, missing, true},
		{"NumericLessThan", []string{"10"}, present("9"), true},
		{"NumericLessThan", []string{"10"}, present("10"), false},
		{"NumericLessThan", []string{"10"}, missing, false},
		{"NumericLessThanEquals", []string{"10"}, present("10"), true},
		{"NumericLessThanEquals", []string{"10"}, present("10.5"), false},
		{"NumericGreaterThan", []string{"10"}, present("11"), true},
		{"NumericGreaterThan", []string{"10"}, present("10"), false},
		{"NumericGreaterThan", []string{"-1"}, present("-0.5"), true},
		{"NumericGreaterThanEquals", []string{"10"}, present("10"), true},
		{"NumericGreaterThanEquals", []string{"10"}, present("9"), false},
		{"NumericGreaterThanEquals", []string{"1e3"}, present("1000"), true},
		{"NumericGreaterThanEqualsIfExists", []string{"10"}, missing, true},
		{"NumericLessThanIfExists", []string{"10"}, present("11"), false},
	})
}

func TestIfExists(t *testing.T) {
	runConditionCases(t, []conditionCase{
		{"StringEqualsIfExists", []string{"t-42"}, missing, true},
		{"StringEqualsIfExists", []string{"t-42"}, present(), true},
		{"StringEqualsIfExists", []string{"t-42"}, present("t-42"), true},
		{"StringEqualsIfExists", []string{"t-42"}, present("t-43"), false},
		{"StringNotEqualsIfExists", []string{"t-42"}, missing, true},
		{"StringNotEqualsIfExists", []string{"t-42"}, present("t-42"), false},
		{"StringLikeIfExists", []string{"t-*"}, present("u"), false},
		{"StringEqualsIgnoreCaseIfExists", []string{"A"}, present("a"), true},
		{"ArnLikeIfExists", []string{"arn:aws:iam::*:role/*"}, missing, true},
		{"ArnNotLikeIfExists", []string{"arn:aws:iam::*:role/*"}, present("arn:aws:iam::1:role/x"), false},
	})
}

func TestSetOperators(t *testing.T) {
	runConditionCases(t, []conditionCase{
		{"ForAllValues:StringEquals", []string{"a", "b"}, present("a", "b"), true},
		{"ForAllValues:StringEquals", []string{"a", "b"}, present("a"), true},
		{"ForAllValues:StringEquals", []string{"a", "b"}, present("a", "c"), false},
		{"ForAllValues:StringEquals", []string{"a"}, missing, true},
		{"ForAllValues:StringEquals", []string{"a"}, present(), true},
		{"ForAllValues:StringLike", []string{"kms:*"}, present("kms:Decrypt", "kms:Encrypt"), true},
		{"ForAllValues:StringNotEquals", []string{"a", "b"}, present("c", "d"), true},
		{"ForAllValues:StringNotEquals", []string{"a", "b"}, present("c", "a"), false},
		{"ForAllValues:StringNotEquals", []string{"a"}, missing, true},
		{"ForAllValues:StringEqualsIfExists", []string{"a"}, missing, true},
		{"ForAllValues:NumericLessThan", []string{"10"}, present("1", "2"), true},
		{"ForAllValues:NumericLessThan", []string{"10"}, present("1", "20"), false},
		{"ForAnyValue:StringEquals", []string{"a", "b"}, present("c", "b"), true},
		{"ForAnyValue:StringEquals", []string{"a", "b"}, present("c", "d"), false},
		{"ForAnyValue:StringEquals", []string{"a"}, missing, false},
		{"ForAnyValue:StringEquals", []string{"a"}, present(), false},
		{"ForAnyValue:StringEqualsIfExists", []string{"a"}, missing, false},
		{"ForAnyValue:StringNotEquals", []string{"a", "b"}, present("a", "c"), true},
		{"ForAnyValue:StringNotEquals", []string{"a", "b"}, present("a", "b"), false},
		{"ForAnyValue:StringNotEquals", []string{"a"}, missing, false},
		{"ForAnyValue:ArnLike", []string{"arn:aws:iam::*:role/x"}, present("arn:aws:iam::1:role/x", "y"), true},
		{"ForAnyValue:Bool", []string{"true"}, present("false", "true"), true},
		{"forallvalues:stringequals", []string{"a"}, present("a"), true},
	})
}

func TestMultiValuedContextWithoutSetPrefix(t *testing.T) {
	// Without a set prefix, a positive operator holds when any request
	// value matches, and a negated one when none does.
	runConditionCases(t, []conditionCase{
		{"StringEquals", []string{"a"}, present("b", "a"), true},
		{"StringNotEquals", []string{"a"}, present("b", "a"), false},
		{"StringNotEquals", []string{"a"}, present("b", "c"), true},
	})
}

func TestHandBuiltUnknownOperatorNeverHolds(t *testing.T) {
	runConditionCases(t, []conditionCase{
		{"StringEqualz", []string{"a"}, present("a"), false},
		{"StringNotEqualz", []string{"a"}, missing, false},
		{"NullIfExists", []string{"true"}, missing, false},
	})
}

func TestConditionKeysAreCaseInsensitive(t *testing.T) {
	c := Condition{Operator: "StringEquals", Key: "KMS:EncryptionContext:Tenant", Values: []string{"t-42"}}
	ctx := map[string][]string{"kms:encryptioncontext:tenant": {"t-42"}}
	if !c.holds(ctx) {
		t.Errorf("holds(%v) = false, want true", ctx)
	}
}

func TestConditionBlocksAreANDedAcrossKeysAndOperators(t *testing.T) {
	p := mustParse(t, stmt(`"Effect": "Allow", "Action": "kms:Decrypt", "Resource": "*", "Condition": {
		"StringEquals": {"kms:EncryptionContext:tenant": ["t-1", "t-2"], "kms:CallerAccount": "111122223333"},
		"Bool": {"kms:GrantIsForAWSResource": "true"}}`))
	full := map[string][]string{
		"kms:EncryptionContext:tenant": {"t-2"},
		"kms:CallerAccount":            {"111122223333"},
		"kms:GrantIsForAWSResource":    {"true"},
	}
	tests := []struct {
		name string
		drop string
		set  []string
		want Decision
	}{
		{name: "all hold", want: Allow},
		{name: "second value of a key", drop: "", set: []string{"kms:EncryptionContext:tenant", "t-1"}, want: Allow},
		{name: "other key of same operator fails", set: []string{"kms:CallerAccount", "444455556666"}, want: NotApplicable},
		{name: "other operator fails", set: []string{"kms:GrantIsForAWSResource", "false"}, want: NotApplicable},
		{name: "key missing", drop: "kms:EncryptionContext:tenant", want: NotApplicable},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := make(map[string][]string)
			for k, v := range full {
				if k != tt.drop {
					ctx[k] = v
				}
			}
			if tt.set != nil {
				ctx[tt.set[0]] = tt.set[1:]
			}
			got := p.EvaluateIdentity(&Request{Action: "kms:Decrypt", Resource: keyARN, Context: ctx})
			if got.Decision != tt.want {
				t.Errorf("EvaluateIdentity() = %v, want %v", got.Decision, tt.want)
			}
		})
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"", "", true},
		{"", "a", false},
		{"*", "", true},
		{"*", "anything", true},
		{"?", "", false},
		{"?", "é", true},
		{"a*", "a", true},
		{"*a", "ba", true},
		{"*a", "ab", false},
		{"a*b*c", "aXbYc", true},
		{"a*b*c", "aXbY", false},
		{"a**c", "ac", true},
		{"kms:generatedatakey*", "kms:generatedatakeywithoutplaintext", true},
		{"kms:reencrypt*", "kms:reencryptfrom", true},
		{"kms:re?ncrypt*", "kms:reencryptto", true},
		{"*x*x*x*x*x*x*x*x*y", "xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestGlobMatchInvalidUTF8(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"a\xffb", "a\xfeb", false},
		{"a\xffb", "a\xffb", true},
		{"a?b", "a\xffb", true},
		{"a*\xff", "abc\xff", true},
		{"*\xfe", "abc\xff", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

func TestGlobMatchMore(t *testing.T) {
	tests := []struct {
		pattern, s string
		want       bool
	}{
		{"?", "a", true},
		{"?", "ab", false},
		{"??", "éa", true},
		{"a?c", "abc", true},
		{"a?c", "abbc", false},
		{"*?", "", false},
		{"*?", "é", true},
		{"?*", "x", true},
		{"*b?d*", "abcabxd", true},
		{"*b?d", "abcdbxdz", false},
		{"*ab*ab", "abab", true},
		{"*ab*ab", "aba", false},
		{"*aab", "aaab", true},
		{"x*y*z", "xyz", true},
		{"x*y*z", "xzy", false},
		{"*é?", "aéé", true},
		{"*é", "é", true},
		{"a*", "", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.s); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.s, got, tt.want)
		}
	}
}

// globReference is a plain backtracking matcher over runes that globMatch
// must agree with.
func globReference(p, s []rune) bool {
	if len(p) == 0 {
		return len(s) == 0
	}
	switch p[0] {
	case '*':
		return globReference(p[1:], s) || (len(s) > 0 && globReference(p, s[1:]))
	case '?':
		return len(s) > 0 && globReference(p[1:], s[1:])
	}
	return len(s) > 0 && p[0] == s[0] && globReference(p[1:], s[1:])
}

func TestGlobMatchAgreesWithReference(t *testing.T) {
	alphabet := []string{"a", "b", "é", "*", "?"}
	var patterns []string
	var gen func(prefix string, n int)
	gen = func(prefix string, n int) {
		patterns = append(patterns, prefix)
		if n == 0 {
			return
		}
		for _, c := range alphabet {
			gen(prefix+c, n-1)
		}
	}
	gen("", 4)
	subjects := []string{"", "a", "b", "é", "ab", "ba", "aa", "aéb", "abab", "ébéa", "aabba"}
	for _, p := range patterns {
		for _, s := range subjects {
			want := globReference([]rune(p), []rune(s))
			if got := globMatch(p, s); got != want {
				t.Errorf("globMatch(%q, %q) = %v, want %v", p, s, got, want)
			}
		}
	}
}
