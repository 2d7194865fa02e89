package keyring

import (
	"context"
	"fmt"
	"io"

	"github.com/byok-dev/byok/envelope"
)

// NewWriter starts a stream for tenant under its newest key version; see
// envelope.NewWriter. Close it to write the final segment.
func (k *Keyring) NewWriter(ctx context.Context, tenant string, dst io.Writer, ec envelope.Context, opts *envelope.StreamOptions) (*envelope.Writer, error) {
	key, err := k.Current(ctx, tenant)
	if err != nil {
		return nil, fmt.Errorf("keyring: seal stream for tenant %s: %w", tenant, err)
	}
	return envelope.NewWriter(dst, key, ec, opts)
}

// NewReader opens a stream of tenant; a stream of any other tenant fails with
// ErrWrongTenant.
func (k *Keyring) NewReader(ctx context.Context, tenant string, src io.Reader, ec envelope.Context, opts *envelope.StreamOptions) (*envelope.Reader, error) {
	return envelope.NewReader(ctx, src, k.For(tenant), ec, opts)
}

// NewReaderAt opens a stream of tenant for random access; see
// envelope.NewReaderAt.
func (k *Keyring) NewReaderAt(ctx context.Context, tenant string, src io.ReaderAt, size int64, ec envelope.Context) (*envelope.ReaderAt, error) {
	return envelope.NewReaderAt(ctx, src, size, k.For(tenant), ec)
}
