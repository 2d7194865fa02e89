package platform

import (
	"fmt"
	"regexp"
	"strings"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms/awskms"
)

var (
	accountRe = regexp.MustCompile(`^[0-9]{12}$`)
	regionRe  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	// roleARNRe is IAM's role ARN: an optional path, then a name of 1 to 64
	// characters of \w+=,.@-.
	roleARNRe = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::([0-9]{12}):role/((?:[\w+=,.@-]+/)*)([\w+=,.@-]{1,64})$`)
	// roleNameRe is what IAM accepts as a role name.
	roleNameRe = regexp.MustCompile(`^[\w+=,.@-]{1,64}$`)
)

// RoleARN is a parsed IAM role ARN.
type RoleARN struct {
	Partition string
	Account   string
	Path      string // "" or "a/b/"
	Name      string
}

func (r RoleARN) String() string {
	return "arn:" + r.Partition + ":iam::" + r.Account + ":role/" + r.Path + r.Name
}

// ParseRoleARN parses arn:<partition>:iam::<account>:role/[<path>/]<name>.
func ParseRoleARN(field, s string) (RoleARN, error) {
	if err := checkLen(field, s); err != nil {
		return RoleARN{}, err
	}
	m := roleARNRe.FindStringSubmatch(s)
	if m == nil {
		return RoleARN{}, &Error{Code: CodeInvalidRoleARN, Field: field,
			Reason: fmt.Sprintf("%q is not arn:aws:iam::<12-digit account>:role/<name>", truncate(s))}
	}
	return RoleARN{Partition: m[1], Account: m[2], Path: m[3], Name: m[4]}, nil
}

// ParseKeyARN parses a KMS key or alias ARN with [awskms.ParseARN], turning
// its error into an *Error with code invalid_key_arn.
func ParseKeyARN(field, s string) (awskms.ARN, error) {
	if err := checkLen(field, s); err != nil {
		return awskms.ARN{}, err
	}
	a, err := awskms.ParseARN(s)
	if err != nil {
		return awskms.ARN{}, &Error{Code: CodeInvalidKeyARN, Field: field, Reason: arnReason(err)}
	}
	return a, nil
}

func arnReason(err error) string {
	if e, ok := err.(*awskms.ARNError); ok {
		return fmt.Sprintf("%q: %s", truncate(e.Input), e.Reason)
	}
	return err.Error()
}

// CheckRoleName validates an IAM role name.
func CheckRoleName(field, name string) error {
	if err := checkLen(field, name); err != nil {
		return err
	}
	if !roleNameRe.MatchString(name) {
		return &Error{Code: CodeInvalidRoleARN, Field: field,
			Reason: "a role name is 1 to 64 of A-Z a-z 0-9 _ + = , . @ -"}
	}
	return nil
}

// CheckAccount validates a 12-digit AWS account id.
func CheckAccount(field, id string) error {
	if err := checkLen(field, id); err != nil {
		return err
	}
	if !accountRe.MatchString(id) {
		return &Error{Code: CodeInvalidAccount, Field: field,
			Reason: fmt.Sprintf("%q is not a 12-digit AWS account id", truncate(id))}
	}
	return nil
}

// CheckTenantID validates a tenant id as the envelope format does
// ([envelope.ValidTenantID]), so that every tenant the platform accepts can
// also be bound into its ciphertexts.
func CheckTenantID(id string) error {
	if err := checkLen("tenant_id", id); err != nil {
		return err
	}
	if !envelope.ValidTenantID(id) {
		return &Error{Code: CodeInvalidTenantID, Field: "tenant_id",
			Reason: fmt.Sprintf("a tenant id is 1 to %d of A-Z a-z 0-9 . _ : -", envelope.MaxTenantIDLen)}
	}
	return nil
}

// PartitionOf returns the AWS partition of a region name.
func PartitionOf(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// truncate keeps error messages bounded when echoing input.
func truncate(s string) string {
	const max = 200
	if len(s) <= max {
		return s
	}
	return s[:max] + "…"
}

// AccessPattern is how the platform reaches a tenant's key.
type AccessPattern string

// Access patterns.
const (
	// Direct: the key policy names the platform's account or role, which
	// calls KMS with its own credentials.
	Direct AccessPattern = "direct"
	// AssumedRole: the platform assumes a role in the customer's account,
	// with the tenant's External ID, and the key policy names that role.
	AssumedRole AccessPattern = "assume_role"
)

// CheckPattern validates an access pattern.
func CheckPattern(p AccessPattern) error {
	if p != Direct && p != AssumedRole {
		return &Error{Code: CodeInvalidPattern, Field: "access_pattern",
			Reason: fmt.Sprintf("%q is neither %s nor %s", truncate(string(p)), Direct, AssumedRole)}
	}
	return nil
}
