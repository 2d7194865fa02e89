// Package iampolicy parses and evaluates AWS IAM policy documents: KMS key
// policies, IAM identity policies and IAM role trust policies. It is pure: no
// I/O, no clock, no global state, and it never panics on any input.
//
// The package covers the part of the policy language that bring-your-own-key
// setups use. It decides one policy at a time; combining a key policy with the
// caller's identity policies (same-account delegation, cross-account rules) is
// the caller's job, helped by [Result.PrincipalMatched] and
// [Result.AccountMatched].
//
// # Parsing
//
// [Parse] accepts a document of at most [MaxPolicySize] bytes with an optional
// Version ("2012-10-17" or "2008-10-17"), an optional Id and a Statement that is
// one object or an array of them. Element names are case-sensitive and unknown
// elements are rejected, as AWS does. Errors are [*ParseError] values whose
// messages read like the MalformedPolicyDocumentException messages of IAM and
// KMS. [Policy.ValidateIdentity] adds the rules that only identity policies
// follow (no Principal, a Resource in every statement).
//
// # Matching
//
// Actions are matched case-insensitively, resources case-sensitively; both
// support the wildcards '*' (any run of characters, including none) and '?'
// (exactly one character). A Principal entry names an account (a bare 12-digit
// id or an "arn:PARTITION:iam::ID:root" ARN), an IAM or STS principal by ARN,
// a service ("kms.amazonaws.com") or everyone ("*", {"AWS": "*"}). Partial
// wildcards in principal ARNs are invalid, as in AWS. "Federated" and
// "CanonicalUser" entries are accepted but never match, since the callers
// modelled by [Principal] cannot hold those identities.
//
// NotPrincipal excludes a caller only when every identity of the caller is
// named: each of [Principal.ARNs], the account (when known) and the service
// (when set). This is why AWS asks a NotPrincipal that exempts a role session
// to list the session ARN, the role ARN and the account.
//
// # Evaluation
//
// [Policy.EvaluateIdentity] and [Policy.EvaluateResource] apply AWS's rule
// within one policy: a matching Deny statement wins over any Allow, a matching
// Allow allows, and otherwise the policy is [NotApplicable]. They differ in
// the statements they consider:
//   - EvaluateIdentity skips statements that name a Principal or NotPrincipal
//     and statements with neither Resource nor NotResource, since an identity
//     policy may not hold the former and must hold the latter.
//   - EvaluateResource skips statements with neither Principal nor
//     NotPrincipal, and lets a statement without Resource or NotResource match
//     any resource, since trust policies commonly omit it.
//
// # Conditions
//
// Supported operators: StringEquals, StringNotEquals, StringEqualsIgnoreCase,
// StringNotEqualsIgnoreCase, StringLike, StringNotLike, ArnEquals,
// ArnNotEquals, ArnLike, ArnNotLike, Bool, Null and the six Numeric operators,
// each (except Null) with the IfExists suffix and the ForAllValues: and
// ForAnyValue: prefixes. Anything else is a parse error. Condition keys are
// matched case-insensitively, values by the operator's own rule.
//
// Blocks combine as AWS documents them: every operator of a Condition must
// hold, every key of an operator must hold, and any of a key's policy values
// may match. The negated operators (the ones with "Not") hold when no policy
// value matches, so listing several values means "none of these".
//
// A key that is missing from [Request.Context] (or present with no values):
//   - makes a plain positive operator false;
//   - makes a plain negated operator true, as the IAM User Guide states ("If the
//     policy condition requires that the key is not matched, such as
//     StringNotLike or ArnNotLike, and the right key is not present, the
//     condition is true");
//   - makes any ...IfExists operator true;
//   - makes any ForAllValues: operator true and any ForAnyValue: operator false,
//     with or without IfExists;
//   - is what Null tests: {"Null": {"k": "true"}} holds when k is missing.
//
// A numeric operator whose policy or request value is not a finite number
// does not match. ArnEquals and ArnLike behave alike, as in AWS: each of the
// six colon-separated parts is matched on its own with wildcards.
//
// # Not supported
//
// Policy variables such as ${aws:username} are not expanded: "${...}" is
// matched literally. Date, IpAddress and Binary operators are rejected as
// unknown operators.
package iampolicy
