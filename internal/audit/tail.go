package audit

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

// Tail writes the newest n rows of a chain (at most store.MaxPageSize), oldest
// first, as Export lines. A chain with no rows yet writes nothing. Like
// Export it needs no secret: it shows rows, it does not verify them.
func Tail(ctx context.Context, st store.AuditStore, chain string, n int, w io.Writer) error {
	if err := validChain(chain); err != nil {
		return err
	}
	head, err := st.AuditHead(ctx, chain)
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	n = min(max(n, 1), store.MaxPageSize)
	rows, err := st.AuditRows(ctx, chain, max(head.Seq-int64(n), 0), n)
	if err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	for _, r := range rows {
		if err := exportRow(enc, r, time.Time{}, time.Time{}); err != nil {
			return err
		}
	}
	return nil
}
