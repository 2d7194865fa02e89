package awskms

import (
	"errors"
	"fmt"
	"regexp"
	"strings"
)

// ErrInvalidARN is matched (errors.Is) by every [*ARNError].
var ErrInvalidARN = errors.New("awskms: invalid ARN")

// ARNError says why a string is not a usable KMS key or alias ARN.
type ARNError struct {
	Input  string
	Reason string
}

func (e *ARNError) Error() string {
	return fmt.Sprintf("awskms: invalid ARN %q: %s", e.Input, e.Reason)
}

// Is makes errors.Is(err, ErrInvalidARN) true.
func (e *ARNError) Is(target error) bool { return target == ErrInvalidARN }

// ARNKind tells a key ARN from an alias ARN.
type ARNKind int

// ARN kinds.
const (
	// KeyARN names a key: arn:aws:kms:eu-west-1:111122223333:key/<key id>.
	KeyARN ARNKind = iota + 1
	// AliasARN names an alias: arn:aws:kms:eu-west-1:111122223333:alias/<name>.
	AliasARN
)

// ARN is a parsed KMS key or alias ARN.
type ARN struct {
	Partition string // aws, aws-cn or aws-us-gov
	Region    string
	Account   string
	Kind      ARNKind
	// KeyID is the key id of a key ARN: a UUID, or "mrk-" and 32 hex digits
	// for a multi-Region key.
	KeyID string
	// Alias is the alias name of an alias ARN, "alias/" included.
	Alias string
}

var (
	regionRe  = regexp.MustCompile(`^[a-z]{2}(-[a-z]+)+-[0-9]{1,2}$`)
	accountRe = regexp.MustCompile(`^[0-9]{12}$`)
	uuidRe    = regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	mrkRe     = regexp.MustCompile(`^mrk-[0-9a-f]{32}$`)
	aliasRe   = regexp.MustCompile(`^alias/[a-zA-Z0-9/_-]{1,250}$`)
)

// ParseARN parses a KMS key ARN (single- or multi-Region) or alias ARN in
// the aws, aws-cn or aws-us-gov partition. Bare key ids and alias names are
// refused: another account's key can only be named by its ARN.
func ParseARN(s string) (ARN, error) {
	fail := func(format string, a ...any) (ARN, error) {
		return ARN{}, &ARNError{Input: s, Reason: fmt.Sprintf(format, a...)}
	}
	parts := strings.SplitN(s, ":", 6)
	if len(parts) != 6 || parts[0] != "arn" {
		return fail("want arn:<partition>:kms:<region>:<account>:key/<id> or :alias/<name>")
	}
	a := ARN{Partition: parts[1], Region: parts[3], Account: parts[4]}
	if parts[2] != "kms" {
		return fail("service is %q, want kms", parts[2])
	}
	if err := checkRegion(a.Partition, a.Region); err != nil {
		return fail("%v", err)
	}
	if !accountRe.MatchString(a.Account) {
		return fail("account %q is not 12 digits", a.Account)
	}
	if err := a.setResource(parts[5]); err != nil {
		return fail("%v", err)
	}
	return a, nil
}

func (a *ARN) setResource(res string) error {
	if id, ok := strings.CutPrefix(res, "key/"); ok {
		if !uuidRe.MatchString(id) && !mrkRe.MatchString(id) {
			return fmt.Errorf("key id %q is neither a lowercase UUID nor mrk- and 32 hex digits", id)
		}
		a.Kind, a.KeyID = KeyARN, id
		return nil
	}
	if !strings.HasPrefix(res, "alias/") {
		return fmt.Errorf("resource %q is neither key/<id> nor alias/<name>", res)
	}
	if !aliasRe.MatchString(res) {
		return fmt.Errorf("alias %q must be alias/ and 1 to 250 of a-z A-Z 0-9 / _ -", res)
	}
	if strings.HasPrefix(res, "alias/aws/") {
		return fmt.Errorf("alias %q names an AWS managed key, which cannot be shared", res)
	}
	a.Kind, a.Alias = AliasARN, res
	return nil
}

// partitionPrefix is the region prefix each supported partition requires;
// "" means any region outside the other partitions.
var partitionPrefix = map[string]string{"aws": "", "aws-cn": "cn-", "aws-us-gov": "us-gov-"}

func checkRegion(partition, region string) error {
	prefix, ok := partitionPrefix[partition]
	if !ok {
		return fmt.Errorf("partition %q is not aws, aws-cn or aws-us-gov", partition)
	}
	if !regionRe.MatchString(region) {
		return fmt.Errorf("region %q is not a region name", region)
	}
	if regionPartition(region) != partition {
		if prefix == "" {
			prefix = "neither cn- nor us-gov-"
		}
		return fmt.Errorf("region %q is not in partition %s (want %s…)", region, partition, prefix)
	}
	return nil
}

func regionPartition(region string) string {
	switch {
	case strings.HasPrefix(region, "cn-"):
		return "aws-cn"
	case strings.HasPrefix(region, "us-gov-"):
		return "aws-us-gov"
	}
	return "aws"
}

// MultiRegion reports whether a names a multi-Region key (key id mrk-…),
// whose replicas in other regions share its id and key material.
func (a ARN) MultiRegion() bool { return a.Kind == KeyARN && strings.HasPrefix(a.KeyID, "mrk-") }

// Resource is the ARN's last field: key/<id> or alias/<name>.
func (a ARN) Resource() string {
	if a.Kind == AliasARN {
		return a.Alias
	}
	return "key/" + a.KeyID
}

func (a ARN) String() string {
	return "arn:" + a.Partition + ":kms:" + a.Region + ":" + a.Account + ":" + a.Resource()
}

// InRegion returns the ARN of the same multi-Region key's replica in region.
// Only multi-Region keys have replicas: for other ARNs, and for a region of
// another partition, it returns an error.
func (a ARN) InRegion(region string) (ARN, error) {
	if region == a.Region {
		return a, nil
	}
	if !a.MultiRegion() {
		return ARN{}, &ARNError{Input: a.String(), Reason: "only a multi-Region (mrk-) key has replicas in region " + region}
	}
	if err := checkRegion(a.Partition, region); err != nil {
		return ARN{}, &ARNError{Input: a.String(), Reason: err.Error()}
	}
	a.Region = region
	return a, nil
}

var (
	roleARNRe    = regexp.MustCompile(`^arn:(aws|aws-cn|aws-us-gov):iam::[0-9]{12}:role/([\w+=,.@-]+/)*[\w+=,.@-]{1,64}$`)
	externalIDRe = regexp.MustCompile(`^[\w+=,.@:/-]+$`)
)

// checkRole validates a role ARN and external id as STS does, and that the
// role lives in the key's partition.
func checkRole(roleARN, externalID, partition string) error {
	m := roleARNRe.FindStringSubmatch(roleARN)
	if m == nil {
		return fmt.Errorf("role ARN %q is not arn:<partition>:iam::<account>:role/<name>", roleARN)
	}
	if m[1] != partition {
		return fmt.Errorf("role %s is in partition %s, the key in %s", roleARN, m[1], partition)
	}
	if externalID != "" && (len(externalID) < 2 || len(externalID) > 1224 || !externalIDRe.MatchString(externalID)) {
		return fmt.Errorf("external id must be 2 to 1224 of A-Z a-z 0-9 and + = , . @ : / - _")
	}
	return nil
}
