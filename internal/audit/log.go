package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/store"
)

// Data-plane actions, aggregated per minute rather than written per call.
const (
	ActionDataEncrypt = "data.encrypt"
	ActionDataDecrypt = "data.decrypt"
)

// OutcomeOK is the outcome of a call that succeeded; anything else is a
// stable error code.
const OutcomeOK = "ok"

// DefaultFlushInterval is how often [Log.Run] looks for closed minutes.
const DefaultFlushInterval = 5 * time.Second

// Config configures a [Log].
type Config struct {
	// Store holds the chains.
	Store store.AuditStore
	// Key keys the chain's HMACs; see [DeriveKey].
	Key Key
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// FlushInterval is how often Run flushes closed minutes; 0 means
	// DefaultFlushInterval.
	FlushInterval time.Duration
}

func (c *Config) check() error {
	switch {
	case c.Store == nil:
		return errors.New("audit: no store")
	case !c.Key.Valid():
		return errors.New("audit: no key")
	case c.FlushInterval < 0:
		return errors.New("audit: negative flush interval")
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.FlushInterval == 0 {
		c.FlushInterval = DefaultFlushInterval
	}
	return nil
}

// Log is the hash-chained audit log. It is a [Sink]; it is safe for
// concurrent use, and by several instances on one store.
type Log struct {
	cfg Config

	mu      sync.Mutex
	pending map[bucket]uint64
}

var _ Sink = (*Log)(nil)

// bucket is what data-plane events are counted by.
type bucket struct {
	tenant, action, outcome, actor, keyARN string
	minute                                 int64 // Unix seconds of the minute's start
}

// New returns a Log; call [Log.Run] to flush data-plane counts.
func New(cfg Config) (*Log, error) {
	if err := cfg.check(); err != nil {
		return nil, err
	}
	return &Log{cfg: cfg, pending: map[bucket]uint64{}}, nil
}

// Record implements Sink. Control-plane and KMS events are appended to
// their chain before it returns; data-plane events are counted and written
// as one row per bucket when their minute has closed.
func (l *Log) Record(ctx context.Context, e Event) error {
	e, err := l.normalize(e)
	if err != nil {
		return err
	}
	if isData(e.Action) {
		l.count(e)
		return nil
	}
	return l.append(ctx, ChainOf(e.Tenant), []Event{e})
}

func isData(action string) bool { return strings.HasPrefix(action, "data.") }

func (l *Log) normalize(e Event) (Event, error) {
	switch {
	case e.Tenant != "" && !envelope.ValidTenantID(e.Tenant):
		return e, fmt.Errorf("audit: invalid tenant id %q", e.Tenant)
	case e.Action == "" || e.Actor == "" || e.Outcome == "":
		return e, fmt.Errorf("audit: event %q needs an action, an actor and an outcome", e.Action)
	}
	if e.Time.IsZero() {
		e.Time = l.cfg.Now()
	}
	e.Time = e.Time.UTC()
	if e.Count == 0 {
		e.Count = 1
	}
	return e, nil
}

func (l *Log) count(e Event) {
	b := bucket{tenant: e.Tenant, action: e.Action, outcome: e.Outcome, actor: e.Actor,
		keyARN: e.KeyARN, minute: e.Time.Truncate(time.Minute).Unix()}
	l.mu.Lock()
	l.pending[b] += e.Count
	l.mu.Unlock()
}

// Run flushes data-plane counts every FlushInterval once their minute has
// closed, until ctx ends; it then flushes everything left and returns that
// flush's error.
func (l *Log) Run(ctx context.Context) error {
	t := time.NewTicker(l.cfg.FlushInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			final, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
			defer cancel()
			return l.Flush(final)
		case <-t.C:
			// A failed flush keeps its counts for the next tick.
			_ = l.flush(ctx, l.cfg.Now().Truncate(time.Minute).Unix())
		}
	}
}

// Flush writes every pending count, including the current minute's, for
// shutdown and tests.
func (l *Log) Flush(ctx context.Context) error {
	return l.flush(ctx, 1<<62)
}

// FlushClosed writes the counts of minutes that have closed.
func (l *Log) FlushClosed(ctx context.Context) error {
	return l.flush(ctx, l.cfg.Now().Truncate(time.Minute).Unix())
}

// flush writes the buckets of minutes before until, one transaction per
// chain; the buckets of a chain that fails go back to pending.
func (l *Log) flush(ctx context.Context, until int64) error {
	byChain := l.take(until)
	var errs []error
	for _, chain := range slices.Sorted(maps.Keys(byChain)) {
		bs := byChain[chain]
		if err := l.append(ctx, chain, bucketEvents(bs)); err != nil {
			l.restore(bs)
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type counted struct {
	b bucket
	n uint64
}

func (l *Log) take(until int64) map[string][]counted {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := map[string][]counted{}
	for b, n := range l.pending {
		if b.minute < until {
			out[ChainOf(b.tenant)] = append(out[ChainOf(b.tenant)], counted{b, n})
			delete(l.pending, b)
		}
	}
	return out
}

func (l *Log) restore(bs []counted) {
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, c := range bs {
		l.pending[c.b] += c.n
	}
}

// bucketEvents turns buckets into events in a fixed order.
func bucketEvents(bs []counted) []Event {
	slices.SortFunc(bs, func(x, y counted) int {
		return cmp.Or(cmp.Compare(x.b.minute, y.b.minute), cmp.Compare(x.b.action, y.b.action),
			cmp.Compare(x.b.outcome, y.b.outcome), cmp.Compare(x.b.actor, y.b.actor), cmp.Compare(x.b.keyARN, y.b.keyARN))
	})
	es := make([]Event, len(bs))
	for i, c := range bs {
		es[i] = Event{Time: time.Unix(c.b.minute, 0).UTC(), Tenant: c.b.tenant, Actor: c.b.actor,
			Action: c.b.action, KeyARN: c.b.keyARN, Outcome: c.b.outcome, Count: c.n,
			Details: map[string]string{"window": "1m"}}
	}
	return es
}

// append writes events to chain in one transaction, continuing from the
// chain's head as the store has it under its lock.
func (l *Log) append(ctx context.Context, chain string, events []Event) error {
	encoded := make([][]byte, len(events))
	for i, e := range events {
		b, err := encodeEvent(e)
		if err != nil {
			return fmt.Errorf("audit: encode %s: %w", e.Action, err)
		}
		encoded[i] = b
	}
	err := l.cfg.Store.AppendAudit(ctx, chain, func(head store.AuditHead) ([]store.AuditRow, store.AuditHead, error) {
		return l.chainRows(chain, head, events, encoded)
	})
	if err != nil {
		return fmt.Errorf("audit: append to %s: %w", chain, err)
	}
	return nil
}

func (l *Log) chainRows(chain string, head store.AuditHead, events []Event, encoded [][]byte) ([]store.AuditRow, store.AuditHead, error) {
	prev, seq := head.Hash, head.Seq
	if seq == 0 {
		prev = genesis
	}
	rows := make([]store.AuditRow, len(events))
	for i, e := range events {
		seq++
		h := rowHash(l.cfg.Key, chain, seq, prev, encoded[i])
		rows[i] = store.AuditRow{Chain: chain, Seq: seq, At: e.Time, Event: encoded[i], Prev: prev, Hash: h}
		prev = h
	}
	next := store.AuditHead{Chain: chain, Seq: seq, Hash: prev, MAC: headMAC(l.cfg.Key, chain, seq, prev)}
	return rows, next, nil
}
