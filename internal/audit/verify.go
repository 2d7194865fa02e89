package audit

import (
	"bytes"
	"context"
	"crypto/hmac"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/internal/store"
)

// Problem is what [Verify] found wrong with a chain.
type Problem int

// Problems, in the words verify prints.
const (
	// Edited: a row's event, sequence number, link or hash was changed, or
	// the row was forged.
	Edited Problem = iota + 1
	// Inserted: a row was added, in the middle (the rows after it
	// renumbered) or after the checkpoint.
	Inserted
	// Deleted: rows are missing before this row, leaving a gap or with the
	// rows after them renumbered.
	Deleted
	// Reordered: a genuine row of this chain stands at another position.
	Reordered
	// Truncated: the chain ends before its checkpoint says it does.
	Truncated
	// BadCheckpoint: the chain's checkpoint is missing while rows exist,
	// or its MAC does not verify.
	BadCheckpoint
)

var problemNames = map[Problem]string{Edited: "edited", Inserted: "inserted", Deleted: "deleted",
	Reordered: "reordered", Truncated: "truncated", BadCheckpoint: "bad_checkpoint"}

func (p Problem) String() string {
	if s, ok := problemNames[p]; ok {
		return s
	}
	return fmt.Sprintf("problem_%d", int(p))
}

// VerifyResult is the outcome of verifying one chain.
type VerifyResult struct {
	Chain string
	// Rows is how many rows verified before the first problem (all of them
	// when OK).
	Rows int64
	// HeadHash is the hash of the last row that verified: with Rows, a
	// checkpoint to keep outside the database.
	HeadHash []byte
	OK       bool
	// Problem, Seq and Reason describe the first problem: Seq is the stored
	// sequence number of the row at fault (for Deleted and Truncated, the
	// first missing one).
	Problem Problem
	Seq     int64
	Reason  string
}

// Verify checks one chain from its first row to its checkpoint. An error is
// returned only when the check could not be made; a bad chain is a result
// with OK false.
func (l *Log) Verify(ctx context.Context, chain string) (VerifyResult, error) {
	if err := validChain(chain); err != nil {
		return VerifyResult{}, err
	}
	v := verifier{log: l, chain: chain, res: VerifyResult{Chain: chain, HeadHash: genesis}}
	if err := v.run(ctx); err != nil {
		return VerifyResult{}, fmt.Errorf("audit: verify %s: %w", chain, err)
	}
	return v.res, nil
}

// Chains lists the chains in the store.
func (l *Log) Chains(ctx context.Context) ([]string, error) {
	return l.cfg.Store.AuditChains(ctx)
}

type verifier struct {
	log   *Log
	chain string
	head  *store.AuditHead // nil when the chain has no checkpoint
	res   VerifyResult
}

func (v *verifier) readHead(ctx context.Context) error {
	h, err := v.log.cfg.Store.AuditHead(ctx, v.chain)
	if errors.Is(err, store.ErrNotFound) {
		v.head = nil
		return nil
	}
	v.head = &h
	return err
}

// run reads the checkpoint first, so rows appended during the scan are
// newer than it and never look like a truncation; a row found beyond the
// checkpoint re-reads it before calling the row inserted.
func (v *verifier) run(ctx context.Context) error {
	if err := v.readHead(ctx); err != nil {
		return err
	}
	var after int64
	for {
		rows, err := v.log.cfg.Store.AuditRows(ctx, v.chain, after, store.MaxPageSize)
		if err != nil || len(rows) == 0 {
			if err != nil {
				return err
			}
			return v.finish()
		}
		for i, r := range rows {
			if done, err := v.row(ctx, r, lookahead(rows, i)); done || err != nil {
				return err
			}
		}
		after = rows[len(rows)-1].Seq
	}
}

func lookahead(rows []store.AuditRow, i int) *store.AuditRow {
	if i+1 < len(rows) {
		return &rows[i+1]
	}
	return nil
}

// row checks one row; done reports that a problem was found.
func (v *verifier) row(ctx context.Context, r store.AuditRow, next *store.AuditRow) (done bool, err error) {
	if v.beyondHead(r) {
		if err := v.readHead(ctx); err != nil {
			return true, err
		}
		if v.beyondHead(r) {
			return v.fail(Inserted, r.Seq, "row %d is beyond the checkpoint (%d rows)", r.Seq, v.headSeq()), nil
		}
	}
	want := v.res.Rows + 1
	if r.Seq > want {
		return v.fail(Deleted, want, "rows %d to %d are missing", want, r.Seq-1), nil
	}
	if v.valid(r, r.Seq) && bytes.Equal(r.Prev, v.res.HeadHash) {
		v.res.Rows, v.res.HeadHash = r.Seq, r.Hash
		return false, nil
	}
	return true, v.classify(ctx, r, next)
}

// beyondHead reports whether r is past a checkpoint that verifies; a
// forged checkpoint is reported once the rows are checked.
func (v *verifier) beyondHead(r store.AuditRow) bool {
	return v.head != nil && r.Seq > v.head.Seq && v.headValid()
}

func (v *verifier) headSeq() int64 {
	if v.head == nil {
		return 0
	}
	return v.head.Seq
}

func (v *verifier) valid(r store.AuditRow, seq int64) bool {
	return hmac.Equal(r.Hash, rowHash(v.log.cfg.Key, v.chain, seq, r.Prev, r.Event))
}

func (v *verifier) fail(p Problem, seq int64, format string, a ...any) bool {
	v.res.OK, v.res.Problem, v.res.Seq = false, p, seq
	v.res.Reason = fmt.Sprintf(format, a...)
	return true
}

// classify names what happened to row r, which does not verify where it
// stands: all rows before it did.
func (v *verifier) classify(ctx context.Context, r store.AuditRow, next *store.AuditRow) error {
	if v.valid(r, r.Seq) {
		v.fail(Edited, r.Seq, "row %d does not link to row %d", r.Seq, r.Seq-1)
		return nil
	}
	if next == nil { // r ended a page
		var err error
		if next, err = v.rowAfter(ctx, r.Seq); err != nil {
			return err
		}
	}
	if next != nil && v.swapped(r, *next) {
		v.fail(Reordered, r.Seq, "row %d holds the row written as %d", r.Seq, r.Seq+1)
		return nil
	}
	if next != nil && next.Seq == r.Seq+1 && v.valid(*next, r.Seq) && bytes.Equal(next.Prev, v.res.HeadHash) {
		v.fail(Inserted, r.Seq, "row %d was inserted: the row after it was written as %d", r.Seq, r.Seq)
		return nil
	}
	hashes, last, err := v.scan(ctx)
	if err != nil {
		return err
	}
	written := v.writtenAt(r, last)
	switch {
	case written == 0:
		v.fail(Edited, r.Seq, "row %d was edited: its hash does not match its content", r.Seq)
	case hashes[string(r.Prev)]:
		v.fail(Reordered, r.Seq, "row %d holds the row written as %d", r.Seq, written)
	default:
		v.fail(Deleted, r.Seq, "rows before row %d were deleted: it was written as %d", r.Seq, written)
	}
	return nil
}

func (v *verifier) rowAfter(ctx context.Context, seq int64) (*store.AuditRow, error) {
	rows, err := v.log.cfg.Store.AuditRows(ctx, v.chain, seq, 1)
	if err != nil || len(rows) == 0 {
		return nil, err
	}
	return &rows[0], nil
}

// swapped reports whether r and next trade places.
func (v *verifier) swapped(r, next store.AuditRow) bool {
	return next.Seq == r.Seq+1 && v.valid(r, next.Seq) && bytes.Equal(r.Prev, next.Hash) && v.valid(next, r.Seq)
}

// writtenAt finds the sequence number r's hash was made for, or 0.
func (v *verifier) writtenAt(r store.AuditRow, last int64) int64 {
	for s := int64(1); s <= max(last, v.headSeq()); s++ {
		if s != r.Seq && v.valid(r, s) {
			return s
		}
	}
	return 0
}

// scan reads the whole chain's hashes and its last sequence number.
func (v *verifier) scan(ctx context.Context) (map[string]bool, int64, error) {
	hashes := map[string]bool{}
	var after int64
	for {
		rows, err := v.log.cfg.Store.AuditRows(ctx, v.chain, after, store.MaxPageSize)
		if err != nil || len(rows) == 0 {
			return hashes, after, err
		}
		for _, r := range rows {
			hashes[string(r.Hash)] = true
		}
		after = rows[len(rows)-1].Seq
	}
}

func (v *verifier) headValid() bool {
	return hmac.Equal(v.head.MAC, headMAC(v.log.cfg.Key, v.chain, v.head.Seq, v.head.Hash))
}

// finish compares the verified rows with the checkpoint.
func (v *verifier) finish() error {
	n := v.res.Rows
	switch {
	case v.head == nil && n > 0:
		v.fail(BadCheckpoint, n, "the chain has %d rows but no checkpoint", n)
	case v.head == nil || (v.head.Seq == 0 && n == 0):
		v.res.OK = true
	case !v.headValid():
		v.fail(BadCheckpoint, v.head.Seq, "the checkpoint (row %d) does not verify", v.head.Seq)
	case v.head.Seq > n:
		v.fail(Truncated, n+1, "rows %d to %d were deleted: the chain ends at row %d but its checkpoint is row %d",
			n+1, v.head.Seq, n, v.head.Seq)
	case !bytes.Equal(v.head.Hash, v.res.HeadHash):
		v.fail(BadCheckpoint, n, "the checkpoint does not match row %d", n)
	default:
		v.res.OK = true
	}
	return nil
}
