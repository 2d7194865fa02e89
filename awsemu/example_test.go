package awsemu_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/kms"
	"github.com/byok-dev/byok/awsemu"
)

const exampleWorld = `
regions: [eu-west-1]
accounts:
  - id: "123456789012"
    users:
      - name: app
        access_key_id: AKIAEXAMPLE000000001
        secret_access_key: example-secret
        policies:
          kms: '{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"kms:*","Resource":"*"}]}'
    keys:
      - region: eu-west-1
        aliases: [alias/app]
`

// An emulator on a loopback port, used through the official SDK client. In a
// test, awsemu.NewTestServer(t, world) does the first steps and gives the
// configuration with TestServer.Config.
func Example() {
	world, err := awsemu.ParseWorld(strings.NewReader(exampleWorld))
	if err != nil {
		panic(err)
	}
	emu, err := awsemu.New(world)
	if err != nil {
		panic(err)
	}
	srv := httptest.NewServer(emu)
	defer srv.Close()

	client := kms.NewFromConfig(aws.Config{
		Region:       "eu-west-1",
		BaseEndpoint: aws.String(srv.URL),
		Credentials:  credentials.NewStaticCredentialsProvider("AKIAEXAMPLE000000001", "example-secret", ""),
	})
	ctx := context.Background()
	enc, err := client.Encrypt(ctx, &kms.EncryptInput{
		KeyId: aws.String("alias/app"), Plaintext: []byte("hello"),
		EncryptionContext: map[string]string{"tenant": "42"},
	})
	if err != nil {
		panic(err)
	}
	dec, err := client.Decrypt(ctx, &kms.DecryptInput{
		CiphertextBlob: enc.CiphertextBlob, EncryptionContext: map[string]string{"tenant": "42"},
	})
	if err != nil {
		panic(err)
	}
	fmt.Println(string(dec.Plaintext), *dec.KeyId == *enc.KeyId)
	fmt.Println(emu.Events()[1].EventName, emu.Events()[1].UserIdentity.ARN)
	// Output:
	// hello true
	// Decrypt arn:aws:iam::123456789012:user/app
}

func BenchmarkSDKDecrypt(b *testing.B) {
	e := newEnv(b)
	c := e.admin(b, euWest1)
	ec := map[string]string{"tenant": "42"}
	out, err := c.Encrypt(e.ctx, &kms.EncryptInput{KeyId: aws.String(tenantKey), Plaintext: make([]byte, 32), EncryptionContext: ec})
	if err != nil {
		b.Fatal(err)
	}
	in := &kms.DecryptInput{CiphertextBlob: out.CiphertextBlob, EncryptionContext: ec}
	b.SetParallelism(4) // several concurrent callers, as a service under load has
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			if _, err := c.Decrypt(e.ctx, in); err != nil {
				b.Error(err)
				return
			}
		}
	})
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "ops/s")
}
