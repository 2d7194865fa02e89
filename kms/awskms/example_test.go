package awskms_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/http/httptest"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"

	"github.com/byok-dev/byok/awsemu"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

const exampleWorld = `
regions: [eu-west-1]
accounts:
  - id: "111111111111"
    users:
      - name: platform
        access_key_id: AKIAPLATFORM00000001
        secret_access_key: platform-secret
        policies:
          kms: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'
  - id: "222222222222"
    keys:
      - id: 0a1b2c3d-1111-4222-8333-444455556666
        region: eu-west-1
        policy: |
          {"Version":"2012-10-17","Statement":[
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222222222222:root"},"Action":"kms:*","Resource":"*"},
            {"Effect":"Allow","Principal":{"AWS":"arn:aws:iam::111111111111:root"},
             "Action":["kms:Encrypt","kms:Decrypt","kms:ReEncrypt*","kms:GenerateDataKey*","kms:DescribeKey"],"Resource":"*"}]}
`

// The platform wraps a tenant key under a customer's key in another account,
// here served by the emulator. In production AWS comes from
// config.LoadDefaultConfig and no endpoint is set.
func Example() {
	world, _ := awsemu.ParseWorld(strings.NewReader(exampleWorld))
	emu, _ := awsemu.New(world)
	srv := httptest.NewServer(emu)
	defer srv.Close()

	integrityKey := make([]byte, awskms.IntegrityKeySize)
	rand.Read(integrityKey)
	p, err := awskms.New(context.Background(), awskms.Config{
		AWS: aws.Config{
			BaseEndpoint: aws.String(srv.URL),
			Credentials:  credentials.NewStaticCredentialsProvider("AKIAPLATFORM00000001", "platform-secret", ""),
		},
		IntegrityKey: integrityKey,
	})
	if err != nil {
		panic(err)
	}
	ref := kms.KeyRef{Provider: awskms.ProviderName, ID: "arn:aws:kms:eu-west-1:222222222222:key/0a1b2c3d-1111-4222-8333-444455556666"}
	b := kms.Identity{Tenant: "acme", Version: 1, Purpose: kms.PurposeTenantKey}

	key, wrapped, err := p.GenerateAndWrap(context.Background(), ref, b)
	if err != nil {
		panic(err)
	}
	again, err := p.Unwrap(context.Background(), wrapped, b)
	if err != nil {
		panic(err)
	}
	fmt.Println(wrapped.Algorithm, again.Equal(key))

	_, err = p.Unwrap(context.Background(), wrapped, kms.Identity{Tenant: "globex", Version: 1, Purpose: kms.PurposeTenantKey})
	fmt.Println(kms.ClassOf(err), kms.RequestIDOf(err) != "")
	// Output:
	// SYMMETRIC_DEFAULT true
	// wrapped_key_invalid true
}
