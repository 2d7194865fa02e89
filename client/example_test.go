package client_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"strings"

	"github.com/byok-dev/byok/client"
)

// Encrypt and decrypt records and a stream for a tenant, and branch on an
// error's stable code.
func Example() {
	url, token, stop := startServer()
	defer stop()
	ctx := context.Background()
	c, err := client.New(client.Config{URL: url, Token: token})
	if err != nil {
		panic(err)
	}

	t, err := c.CreateTenant(ctx, client.CreateTenant{ID: "acme", Name: "Acme Corp"})
	if err != nil {
		panic(err)
	}
	fmt.Println("tenant:", t.ID, t.State)

	ec := client.Context{"table": "payments", "row": "42"}
	ct, err := c.Encrypt(ctx, "acme", []byte("card 4111"), ec)
	if err != nil {
		panic(err)
	}
	pt, err := c.Decrypt(ctx, "acme", ct, ec)
	fmt.Printf("decrypted: %s %v\n", pt, err)

	_, err = c.Decrypt(ctx, "acme", ct, client.Context{"table": "payments", "row": "43"})
	fmt.Println("moved to another row:", client.Code(err))

	var sealed, opened bytes.Buffer
	if _, err := c.EncryptStream(ctx, "acme", &sealed, strings.NewReader(strings.Repeat("log line\n", 100000)), nil); err != nil {
		panic(err)
	}
	n, err := c.DecryptStream(ctx, "acme", &opened, &sealed, nil)
	fmt.Println("stream:", n, "bytes", err)

	_, err = c.Tenant(ctx, "nobody")
	fmt.Println("missing tenant:", client.Code(err))
	// Output:
	// tenant: acme pending
	// decrypted: card 4111 <nil>
	// moved to another row: invalid_ciphertext
	// stream: 900000 bytes <nil>
	// missing tenant: tenant_not_found
}

// An error says what its code means and what to do about it.
func ExampleError_Meaning() {
	url, token, stop := startServer()
	defer stop()
	ctx := context.Background()
	c, err := client.New(client.Config{URL: url, Token: token})
	if err != nil {
		panic(err)
	}
	if _, err := c.CreateTenant(ctx, client.CreateTenant{ID: "acme", Name: "Acme Corp"}); err != nil {
		panic(err)
	}
	_, err = c.CreateTenant(ctx, client.CreateTenant{ID: "acme", Name: "Acme again"})
	var e *client.Error
	if errors.As(err, &e) {
		fmt.Println(e.Status, e.Code+":", e.Message)
		fmt.Println("meaning:", e.Meaning())
		fmt.Println("hint:", e.Hint())
	}
	// Output:
	// 409 tenant_exists: tenant acme already exists
	// meaning: a tenant with this id already exists
	// hint: choose another id, or run 'byok tenant show ID' for the existing tenant
}
