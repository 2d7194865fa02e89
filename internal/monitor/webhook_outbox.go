package monitor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

// Delivery is at least once. Notify stores each event in the outbox, one
// entry per subscription it is for, and Run delivers from there: it leases
// due entries (store.Store.ClaimOutbox), makes one attempt per lease, and
// deletes the entry or puts it back with the next attempt's time. An
// instance that stops mid-attempt gives its entries back; one that dies
// loses its leases when they lapse. Either way the event is sent again
// with the same id and body, which receivers dedupe on.

// Dropped counts events Notify could not store, which are not delivered.
func (w *Webhooks) Dropped() uint64 { return w.dropped.Load() }

// Notify stores ev for delivery and returns once it is stored, so that a
// restart does not lose it. It waits for the database at most
// NotifyTimeout, so that a caller on a hot path goes on when the database
// is down; an event it cannot store is logged in full and counted in
// Dropped. The monitor does not call it: it stores its events with the
// state change (OutboxNotifier).
func (w *Webhooks) Notify(ev Event) {
	ctx, cancel := context.WithTimeout(context.Background(), w.cfg.NotifyTimeout)
	defer cancel()
	if err := w.Enqueue(ctx, ev); err != nil {
		w.dropped.Add(1)
		w.cfg.Logger.Error("monitor: webhook event not stored, so not delivered", "event", ev.ID, "type", ev.Type,
			"tenant", ev.Tenant, "body", ev, "err", err)
	}
}

// Enqueue stores ev in the outbox for the subscriptions that receive its
// tenant's events now; a subscription created later does not get it. It is
// Notify for callers that handle the error.
func (w *Webhooks) Enqueue(ctx context.Context, ev Event) error {
	out, err := w.Outbound(ev)
	if err != nil {
		return err
	}
	n, err := w.cfg.Store.EnqueueEvent(ctx, out)
	if err != nil {
		return fmt.Errorf("monitor: storing event %s: %w", ev.ID, err)
	}
	if n > 0 {
		w.kick()
	}
	return nil
}

var _ OutboxNotifier = (*Webhooks)(nil)

// Outbound implements OutboxNotifier: ev as its outbox entries carry it.
func (w *Webhooks) Outbound(ev Event) (*store.OutboxEvent, error) {
	body, err := json.Marshal(ev)
	if err != nil {
		return nil, fmt.Errorf("monitor: encoding event %s: %w", ev.ID, err)
	}
	return &store.OutboxEvent{ID: ev.ID, Type: ev.Type, Tenant: ev.Tenant, Body: body, At: w.cfg.Now()}, nil
}

// Stored implements OutboxNotifier.
func (w *Webhooks) Stored() { w.kick() }

// kick wakes Run without waiting.
func (w *Webhooks) kick() {
	select {
	case w.wake <- struct{}{}:
	default:
	}
}

// Run delivers the outbox's due entries until ctx is cancelled, then waits
// for the attempts under way, which are cut short and put back.
func (w *Webhooks) Run(ctx context.Context) error {
	defer w.wg.Wait()
	tick := time.NewTicker(w.cfg.PollInterval)
	defer tick.Stop()
	for {
		w.pump(ctx)
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		case <-w.wake:
		}
	}
}

// pump claims due entries while there is room for deliveries, never more
// than it can start at once, so no lease runs out waiting in memory.
func (w *Webhooks) pump(ctx context.Context) {
	for ctx.Err() == nil {
		free := cap(w.sem) - len(w.sem)
		if free == 0 {
			return
		}
		due, err := w.claim(ctx, free)
		if err != nil {
			if ctx.Err() == nil {
				w.claimLog.failed(ctx, w.cfg.Logger, w.cfg.Now(), err)
			}
			return
		}
		w.claimLog.recovered(ctx, w.cfg.Logger, w.cfg.Now())
		for _, o := range due {
			w.sem <- struct{}{}
			w.wg.Go(func() {
				defer w.kick()
				defer func() { <-w.sem }()
				w.deliver(ctx, o)
			})
		}
		if len(due) < free {
			return
		}
	}
}

// claim leases up to n due entries. The claim runs to its end even when
// ctx is cancelled meanwhile: abandoned halfway, it could commit and hold
// its entries for a whole lease with no one to deliver them. Entries
// claimed as the instance stops are put back at once.
func (w *Webhooks) claim(ctx context.Context, n int) ([]*store.Outbound, error) {
	var due []*store.Outbound
	err := w.bookkeep(ctx, func(c context.Context) (err error) {
		due, err = w.cfg.Store.ClaimOutbox(c, w.cfg.Now(), w.cfg.Lease, n)
		return err
	})
	if err != nil || ctx.Err() == nil {
		return due, err
	}
	for _, o := range due {
		w.putBack(ctx, o)
	}
	return nil, ctx.Err()
}

func (w *Webhooks) putBack(ctx context.Context, o *store.Outbound) {
	w.settle(ctx, o, "put back", func(c context.Context) error {
		return w.cfg.Store.RescheduleOutbox(c, o.Seq, o.Claim, o.Attempts, o.NextAttempt)
	})
}

// deliver makes one attempt and settles the entry: deleted after a 2xx
// answer, a refusal that retrying cannot change (a 3xx, a 4xx other than
// 408 and 429, an internal address) or the last attempt; otherwise put back
// for the next attempt. An attempt cut short by ctx is put back unchanged
// and not counted.
func (w *Webhooks) deliver(ctx context.Context, o *store.Outbound) {
	attemptCtx, cancel := context.WithTimeout(ctx, w.cfg.Lease/2)
	status, err := w.post(attemptCtx, o)
	cancel()
	if err != nil && ctx.Err() != nil {
		w.putBack(ctx, o)
		return
	}
	attempt := o.Attempts + 1
	w.record(ctx, o, attempt, status, err)
	if err == nil || !retryable(status, err) || attempt >= w.cfg.MaxAttempts {
		if err != nil {
			w.cfg.Logger.WarnContext(ctx, "monitor: webhook delivery given up", "webhook", o.Webhook, "event", o.Event,
				"attempts", attempt, "status", status, "err", err)
		}
		w.settle(ctx, o, "delete", func(c context.Context) error { return w.cfg.Store.DeleteOutbox(c, o.Seq, o.Claim) })
		return
	}
	next := w.cfg.Now().Add(w.backoff(attempt))
	w.settle(ctx, o, "reschedule", func(c context.Context) error {
		return w.cfg.Store.RescheduleOutbox(c, o.Seq, o.Claim, attempt, next)
	})
}

// bookkeep runs fn with a context that outlives a cancelled ctx for a
// while: the attempt happened, and its entry must not wait for its lease.
func (w *Webhooks) bookkeep(ctx context.Context, fn func(context.Context) error) error {
	c, cancel := context.WithTimeout(context.WithoutCancel(ctx), w.cfg.NotifyTimeout)
	defer cancel()
	return fn(c)
}

// settle runs fn on the entry and logs its failure. Not found means the
// webhook was deleted or the lease lapsed and another instance took over;
// any other failure leaves the entry to come back after its lease, and be
// sent again.
func (w *Webhooks) settle(ctx context.Context, o *store.Outbound, op string, fn func(context.Context) error) {
	err := w.bookkeep(ctx, fn)
	level := slog.LevelError
	switch {
	case err == nil:
		return
	case errors.Is(err, store.ErrNotFound):
		level = slog.LevelInfo
	}
	w.cfg.Logger.Log(ctx, level, "monitor: webhook outbox "+op, "webhook", o.Webhook, "event", o.Event, "err", err)
}

func (w *Webhooks) post(ctx context.Context, o *store.Outbound) (int, error) {
	secret, err := w.signingSecret(o)
	if err != nil {
		w.cfg.Logger.ErrorContext(ctx, "monitor: webhook delivery not signed", "webhook", o.Webhook, "event", o.Event, "err", err)
		return 0, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, o.URL, bytes.NewReader(o.Body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "byok-webhooks/1")
	req.Header.Set(EventIDHeader, o.Event)
	req.Header.Set(EventTypeHeader, o.Type)
	req.Header.Set(SignatureHeader, Sign(secret, w.cfg.Now(), o.Body))
	resp, err := w.client.Do(req)
	if ae := refusal(err); ae != nil {
		return 0, ae // the address says all; the URL is the subscriber's own
	}
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode >= 300 && resp.StatusCode <= 399 {
		return resp.StatusCode, fmt.Errorf("status %d: redirects are not followed", resp.StatusCode)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

func retryable(status int, err error) bool {
	if refusal(err) != nil {
		return false
	}
	return status == 0 || status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

func (w *Webhooks) record(ctx context.Context, o *store.Outbound, attempt, status int, err error) {
	d := &store.Delivery{Webhook: o.Webhook, Tenant: o.Tenant, Event: o.Event, Attempt: attempt, At: w.cfg.Now(), Status: status}
	if err != nil {
		d.Error = clip(err.Error(), store.MaxDetailLen)
	}
	err = w.bookkeep(ctx, func(c context.Context) error { return w.cfg.Store.AddDelivery(c, d) })
	if err != nil && !errors.Is(err, store.ErrNotFound) { // not found: the webhook was deleted meanwhile
		w.cfg.Logger.ErrorContext(ctx, "monitor: recording delivery", "webhook", o.Webhook, "err", err)
	}
}

// backoff is exponential with jitter: half the capped delay fixed, half at
// random, so receivers coming back are not hit by every sender at once.
func (w *Webhooks) backoff(attempt int) time.Duration {
	d := w.cfg.MaxDelay
	if shift := attempt - 1; shift < 30 && w.cfg.BaseDelay<<shift < d {
		d = w.cfg.BaseDelay << shift
	}
	return d/2 + mrand.N(d/2+1)
}

// failureLog keeps a loop that fails on every pass (claims while the
// database is down, once per PollInterval) to one line when it starts
// failing, one a minute while it goes on, with the count, and one when it
// recovers. Only Run's goroutine uses it.
type failureLog struct {
	since, logged time.Time
	n             int
}

// failureLogEvery is how often a continuing failure is logged again.
const failureLogEvery = time.Minute

func (f *failureLog) failed(ctx context.Context, log *slog.Logger, now time.Time, err error) {
	f.n++
	if f.n == 1 {
		f.since = now
	} else if now.Sub(f.logged) < failureLogEvery {
		return
	}
	f.logged = now
	log.ErrorContext(ctx, "monitor: claiming webhook deliveries", "err", err, "failures", f.n, "since", f.since)
}

func (f *failureLog) recovered(ctx context.Context, log *slog.Logger, now time.Time) {
	if f.n == 0 {
		return
	}
	log.InfoContext(ctx, "monitor: claiming webhook deliveries works again", "failures", f.n, "for", now.Sub(f.since))
	*f = failureLog{}
}
