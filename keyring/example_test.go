package keyring_test

import (
	"context"
	"fmt"
	"log"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/keyfile"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/localkms"
)

func Example() {
	ctx := context.Background()
	// A platform root key; in production it comes from localkms.Load and a
	// key file made by `byok keygen`, or the tenant's own AWS KMS key.
	rootKey, _ := envelope.GenerateTenantKey("platform-root", 1, nil)
	root := &keyfile.File{}
	root.Append(keyfile.Entry{Key: rootKey, Created: time.Now().UTC().Truncate(time.Second)})
	provider, err := localkms.New(root)
	if err != nil {
		log.Fatal(err)
	}
	kr, err := keyring.New(keyring.Config{
		Providers: map[string]kms.Provider{localkms.ProviderName: provider},
		Store:     keyring.NewMemStore(),
	})
	if err != nil {
		log.Fatal(err)
	}
	if _, err := kr.CreateVersion(ctx, "acme", []kms.KeyRef{provider.KeyRef()}); err != nil {
		log.Fatal(err)
	}

	ec := envelope.Context{"table": "invoices", "row": "1042"}
	ct, err := kr.Seal(ctx, "acme", []byte("amount=120.00"), ec)
	if err != nil {
		log.Fatal(err)
	}
	pt, err := kr.Open(ctx, "acme", ct, ec)
	fmt.Printf("%s %v\n", pt, err)

	_, err = kr.Open(ctx, "globex", ct, ec)
	fmt.Println(envelope.Code(err))
	fmt.Println(kr.Stats("acme").KMSCalls, "KMS call")
	// Output:
	// amount=120.00 <nil>
	// wrong_tenant
	// 1 KMS call
}
