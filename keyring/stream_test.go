package keyring

import (
	"bytes"
	"errors"
	"io"
	"testing"

	"github.com/byok-dev/byok/envelope"
)

func TestStreams(t *testing.T) {
	f := newFixture(t, nil)
	f.create(t, "acme")
	f.create(t, "globex")
	ec := envelope.Context{"object": "export.csv"}
	pt := bytes.Repeat([]byte("row,value\n"), 20000)
	var sealed bytes.Buffer
	w, err := f.kr.NewWriter(bg, "acme", &sealed, ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	w.Write(pt)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	other := f.fresh(t)
	r, err := other.NewReader(bg, "acme", bytes.NewReader(sealed.Bytes()), ec, nil)
	if err != nil {
		t.Fatal(err)
	}
	got, err := io.ReadAll(r)
	if err != nil || !bytes.Equal(got, pt) {
		t.Fatalf("stream read back = %d bytes, %v", len(got), err)
	}
	ra, err := other.NewReaderAt(bg, "acme", bytes.NewReader(sealed.Bytes()), int64(sealed.Len()), ec)
	if err != nil || ra.Size() != int64(len(pt)) {
		t.Fatalf("NewReaderAt() = %v, %v", ra, err)
	}
	if _, err := other.NewReader(bg, "globex", bytes.NewReader(sealed.Bytes()), ec, nil); !errors.Is(err, ErrWrongTenant) {
		t.Fatalf("NewReader(acme's stream as globex) err = %v, want ErrWrongTenant", err)
	}
	if _, err := f.kr.NewWriter(bg, "nobody", io.Discard, nil, nil); !errors.Is(err, ErrNoKey) {
		t.Fatalf("NewWriter(tenant without key) err = %v, want ErrNoKey", err)
	}
}
