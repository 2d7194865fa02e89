package store

import (
	"context"
	"time"
)

// AuditStore persists hash-chained audit rows, one chain per name. It only
// keeps the chain's shape (contiguous sequence numbers, one head per chain,
// appends serialized per chain); computing and checking the hashes is
// package internal/audit's job. Both implementations satisfy it.
type AuditStore interface {
	// AppendAudit locks the chain (creating it empty if new), calls build with
	// its head and stores the rows and the new head build returns, all in one
	// transaction. Two appends to one chain, from any number of instances,
	// never see the same head. The rows must continue the head (Seq
	// head.Seq+1, +2, ...), and the new head must name the last row; an error
	// from build is returned as is and nothing is written.
	AppendAudit(ctx context.Context, chain string, build func(head AuditHead) ([]AuditRow, AuditHead, error)) error
	// AuditHead returns the chain's head, or ErrNotFound.
	AuditHead(ctx context.Context, chain string) (AuditHead, error)
	// AuditRows returns up to limit (0 means DefaultPageSize, at most
	// MaxPageSize) of the chain's rows with Seq > after, in Seq order.
	AuditRows(ctx context.Context, chain string, after int64, limit int) ([]AuditRow, error)
	// AuditChains lists the names of the chains that have a head or rows,
	// in order.
	AuditChains(ctx context.Context) ([]string, error)
}

// AuditRow is one entry of an audit chain.
type AuditRow struct {
	Chain string
	Seq   int64
	// At is the event's time, kept for range queries; the authoritative
	// copy is inside Event.
	At time.Time
	// Event is the canonical encoding of the event.
	Event []byte
	// Prev is the previous row's Hash (all zero bytes for Seq 1).
	Prev []byte
	Hash []byte
}

// AuditHead is the last row of a chain as last written with it: a
// checkpoint that deleting rows from the tail must also change.
type AuditHead struct {
	Chain string
	Seq   int64 // 0 for a chain without rows
	Hash  []byte
	// MAC authenticates (Chain, Seq, Hash).
	MAC []byte
}

// Limits of audit values.
const (
	MaxAuditChainLen = 200
	MaxAuditEventLen = 64 << 10
)

// ValidateAuditAppend checks that rows continue head on chain and that next
// is the head after them.
func ValidateAuditAppend(chain string, head AuditHead, rows []AuditRow, next AuditHead) error {
	if err := ValidateAuditChain(chain); err != nil {
		return err
	}
	for i, r := range rows {
		if err := validateAuditRow(chain, head.Seq+int64(i)+1, r); err != nil {
			return err
		}
	}
	if next.Chain != chain || next.Seq != head.Seq+int64(len(rows)) {
		return Invalid("audit head %s seq %d does not follow the rows appended", next.Chain, next.Seq)
	}
	return nil
}

func validateAuditRow(chain string, seq int64, r AuditRow) error {
	switch {
	case r.Chain != chain:
		return Invalid("audit row for chain %q appended to %q", r.Chain, chain)
	case r.Seq != seq:
		return Invalid("audit row seq %d, want %d", r.Seq, seq)
	case len(r.Event) == 0 || len(r.Event) > MaxAuditEventLen:
		return Invalid("audit event must be 1 to %d bytes", MaxAuditEventLen)
	case len(r.Hash) == 0:
		return Invalid("audit row without hash")
	}
	return nil
}

// ValidateAuditChain checks a chain name.
func ValidateAuditChain(chain string) error {
	if chain == "" || len(chain) > MaxAuditChainLen {
		return Invalid("audit chain name must be 1 to %d bytes", MaxAuditChainLen)
	}
	return nil
}

// AuditLimit resolves an AuditRows limit.
func AuditLimit(limit int) (int, error) {
	switch {
	case limit < 0 || limit > MaxPageSize:
		return 0, Invalid("page size must be 0 to %d, got %d", MaxPageSize, limit)
	case limit == 0:
		return DefaultPageSize, nil
	}
	return limit, nil
}

// Normalize makes empty byte fields nil, so that both stores return the
// same values for a new chain's head.
func (h *AuditHead) Normalize() {
	if len(h.Hash) == 0 {
		h.Hash = nil
	}
	if len(h.MAC) == 0 {
		h.MAC = nil
	}
}
