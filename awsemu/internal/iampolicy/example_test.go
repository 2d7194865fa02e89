package iampolicy_test

import (
	"fmt"

	"github.com/byok-dev/byok/awsemu/internal/iampolicy"
)

// A customer's key policy lets the platform's role use the key; the
// platform's own identity policy must allow it too, because the call crosses
// accounts.
func Example() {
	keyPolicy, err := iampolicy.Parse([]byte(`{
		"Version": "2012-10-17",
		"Statement": [
			{"Sid": "Enable IAM User Permissions", "Effect": "Allow",
			 "Principal": {"AWS": "arn:aws:iam::111122223333:root"}, "Action": "kms:*", "Resource": "*"},
			{"Sid": "AllowPlatform", "Effect": "Allow",
			 "Principal": {"AWS": "arn:aws:iam::444455556666:role/byok-platform"},
			 "Action": ["kms:Decrypt", "kms:GenerateDataKey*"], "Resource": "*",
			 "Condition": {"StringEquals": {"kms:EncryptionContext:tenant": "t-42"}}}
		]}`))
	if err != nil {
		fmt.Println(err)
		return
	}
	req := &iampolicy.Request{
		Action:   "kms:Decrypt",
		Resource: "arn:aws:kms:us-east-1:111122223333:key/1234abcd-12ab-34cd-56ef-1234567890ab",
		Principal: iampolicy.Principal{
			Account: "444455556666",
			ARNs: []string{
				"arn:aws:iam::444455556666:role/byok-platform",
				"arn:aws:sts::444455556666:assumed-role/byok-platform/sync",
			},
		},
		Context: map[string][]string{"kms:EncryptionContext:tenant": {"t-42"}},
	}
	res := keyPolicy.EvaluateResource(req)
	fmt.Println(res.Decision, res.Sid, res.PrincipalMatched, res.AccountMatched)

	req.Context["kms:EncryptionContext:tenant"] = []string{"t-7"}
	fmt.Println(keyPolicy.EvaluateResource(req).Decision)
	// Output:
	// Allow AllowPlatform true false
	// NotApplicable
}

func ExampleParse_error() {
	_, err := iampolicy.Parse([]byte(`{"Statement": {"Effect": "Allow", "Action": "kms:*",
		"Principal": {"AWS": "arn:aws:iam::111122223333:role/*"}}}`))
	fmt.Println(err)
	// Output:
	// Policy contains a statement with one or more invalid principals.
}
