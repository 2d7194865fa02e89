package envelope_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log"

	"github.com/byok-dev/byok/envelope"
)

func Example() {
	// In a service the tenant key comes from the keyring, unwrapped by the
	// tenant's KMS key; here it is generated in memory.
	key, err := envelope.GenerateTenantKey("acme", 1, nil)
	if err != nil {
		log.Fatal(err)
	}
	ec := envelope.Context{"table": "invoices", "row": "1042"}
	ct, err := envelope.Seal(key, []byte("amount=120.00"), ec)
	if err != nil {
		log.Fatal(err)
	}
	h, _ := envelope.ParseHeader(ct)
	fmt.Println("sealed for", h.Tenant, "key version", h.KeyVersion)

	pt, err := envelope.Open(context.Background(), envelope.NewKeySet(key), ct, ec)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Printf("%s\n", pt)

	_, err = envelope.Open(context.Background(), envelope.NewKeySet(key), ct, envelope.Context{"table": "invoices", "row": "1043"})
	fmt.Println(envelope.Code(err))
	// Output:
	// sealed for acme key version 1
	// amount=120.00
	// invalid_ciphertext
}

func ExampleNewWriter() {
	key, _ := envelope.GenerateTenantKey("acme", 1, nil)
	ec := envelope.Context{"object": "exports/2026-11.csv"}

	var sealed bytes.Buffer
	w, err := envelope.NewWriter(&sealed, key, ec, nil)
	if err != nil {
		log.Fatal(err)
	}
	if _, err := io.Copy(w, bytes.NewReader(bytes.Repeat([]byte("row\n"), 50000))); err != nil {
		log.Fatal(err)
	}
	if err := w.Close(); err != nil { // seals the final segment
		log.Fatal(err)
	}

	r, err := envelope.NewReader(context.Background(), &sealed, envelope.NewKeySet(key), ec, nil)
	if err != nil {
		log.Fatal(err)
	}
	n, err := io.Copy(io.Discard, r)
	fmt.Println(n, err)
	// Output: 200000 <nil>
}

func ExampleNewReaderAt() {
	key, _ := envelope.GenerateTenantKey("acme", 1, nil)
	var sealed bytes.Buffer
	w, _ := envelope.NewWriter(&sealed, key, nil, nil)
	for i := range 100000 {
		fmt.Fprintf(w, "%08d\n", i)
	}
	w.Close()

	ct := sealed.Bytes()
	r, err := envelope.NewReaderAt(context.Background(), bytes.NewReader(ct), int64(len(ct)), envelope.NewKeySet(key), nil)
	if err != nil {
		log.Fatal(err)
	}
	line := make([]byte, 8)
	r.ReadAt(line, 77777*9) // decrypts only the segment that holds line 77777
	fmt.Println(r.Size(), string(line))
	// Output: 900000 00077777
}
