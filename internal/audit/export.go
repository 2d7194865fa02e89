package audit

import (
	"context"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

// ExportLine is one line of [Log.Export]. Field names follow the event's
// JSON; kms_request_id is the requestID of the matching CloudTrail event.
type ExportLine struct {
	Chain        string            `json:"chain"`
	Seq          int64             `json:"seq"`
	Time         string            `json:"time"` // RFC 3339, UTC
	Tenant       string            `json:"tenant,omitempty"`
	Actor        string            `json:"actor"`
	Action       string            `json:"action"`
	KeyARN       string            `json:"key_arn,omitempty"`
	KMSRequestID string            `json:"kms_request_id,omitempty"`
	Outcome      string            `json:"outcome"`
	Count        uint64            `json:"count"`
	RequestID    string            `json:"request_id,omitempty"`
	Details      map[string]string `json:"details,omitempty"`
	Prev         string            `json:"prev"` // hex
	Hash         string            `json:"hash"` // hex
}

// Export writes the chain's rows whose event time is in [from, to) as JSON
// lines, in chain order; a zero from or to leaves that end open. It does
// not verify the chain: run [Log.Verify] for that.
func (l *Log) Export(ctx context.Context, chain string, from, to time.Time, w io.Writer) error {
	return Export(ctx, l.cfg.Store, chain, from, to, w)
}

// Export is [Log.Export] straight from a store, for tools that do not hold
// the audit key: exporting needs no secret.
func Export(ctx context.Context, st store.AuditStore, chain string, from, to time.Time, w io.Writer) error {
	if err := validChain(chain); err != nil {
		return err
	}
	enc := json.NewEncoder(w)
	var after int64
	for {
		rows, err := st.AuditRows(ctx, chain, after, store.MaxPageSize)
		if err != nil || len(rows) == 0 {
			return err
		}
		for _, r := range rows {
			if err := exportRow(enc, r, from, to); err != nil {
				return err
			}
		}
		after = rows[len(rows)-1].Seq
	}
}

func exportRow(enc *json.Encoder, r store.AuditRow, from, to time.Time) error {
	e, err := decodeEvent(r.Event)
	if err != nil {
		return fmt.Errorf("audit: export %s row %d: %w", r.Chain, r.Seq, err)
	}
	if (!from.IsZero() && e.Time.Before(from)) || (!to.IsZero() && !e.Time.Before(to)) {
		return nil
	}
	return enc.Encode(ExportLine{Chain: r.Chain, Seq: r.Seq, Time: e.Time.UTC().Format(time.RFC3339Nano),
		Tenant: e.Tenant, Actor: e.Actor, Action: e.Action, KeyARN: e.KeyARN,
		KMSRequestID: e.KMSRequestID, Outcome: e.Outcome, Count: e.Count, RequestID: e.RequestID,
		Details: e.Details, Prev: hex.EncodeToString(r.Prev), Hash: hex.EncodeToString(r.Hash)})
}
