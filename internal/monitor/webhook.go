package monitor

import (
	"bytes"
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	mrand "math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

// Webhook delivery headers.
const (
	// SignatureHeader carries "t=<unix seconds>,v1=<hex HMAC-SHA256>", the
	// HMAC keyed by the subscription's secret over "<t>.<body>".
	SignatureHeader = "Byok-Signature"
	EventIDHeader   = "Byok-Event-Id"
	EventTypeHeader = "Byok-Event-Type"
	// DefaultReplayWindow is how far a signature's timestamp may be from the
	// receiver's clock before Verify refuses it.
	DefaultReplayWindow = 5 * time.Minute
)

// WebhookConfig configures Webhooks. Zero values take the defaults.
type WebhookConfig struct {
	Store store.Store
	// Client sends the deliveries; default a client with a 10 s timeout
	// that does not follow redirects.
	Client *http.Client
	// MaxAttempts bounds the attempts per delivery (default 10); retry n
	// waits BaseDelay·2^(n-1) capped at MaxDelay, its second half at random
	// (defaults 5 s and 10 min: the last attempt comes 15 to 30 minutes
	// after the first).
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	// Queue bounds the events waiting to be dispatched (default 1024); an
	// event arriving at a full queue is dropped and counted, so probing
	// never waits for a receiver.
	Queue int
	// MaxInFlight bounds the deliveries under way (default 16).
	MaxInFlight int
	// AllowHTTP accepts http:// URLs (development, tests); otherwise only
	// https:// ones.
	AllowHTTP bool
	// Now is the clock of signatures and records; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Webhooks delivers events to subscribed URLs, signed and retried, and
// records every attempt. It is a Notifier; Run delivers.
type Webhooks struct {
	cfg     WebhookConfig
	queue   chan Event
	sem     chan struct{}
	wg      sync.WaitGroup
	dropped atomic.Uint64
}

var _ Notifier = (*Webhooks)(nil)

// NewWebhooks returns Webhooks; Run starts delivering.
func NewWebhooks(cfg WebhookConfig) (*Webhooks, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	return &Webhooks{cfg: cfg, queue: make(chan Event, cfg.Queue), sem: make(chan struct{}, cfg.MaxInFlight)}, nil
}

func (c *WebhookConfig) defaults() error {
	if c.Store == nil || c.MaxAttempts < 0 || c.BaseDelay < 0 || c.MaxDelay < 0 || c.Queue < 0 || c.MaxInFlight < 0 {
		return errorf(ErrInvalidConfig, nil, "webhooks need a store and no negative limits")
	}
	c.MaxAttempts = cmpOr(c.MaxAttempts, 10)
	c.BaseDelay = cmpOr(c.BaseDelay, 5*time.Second)
	c.MaxDelay = cmpOr(c.MaxDelay, 10*time.Minute)
	c.Queue = cmpOr(c.Queue, 1024)
	c.MaxInFlight = cmpOr(c.MaxInFlight, 16)
	if c.Client == nil {
		c.Client = &http.Client{Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
			return http.ErrUseLastResponse // a redirect could send the event elsewhere
		}}
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	return nil
}

func cmpOr[T comparable](v, def T) T {
	var zero T
	if v == zero {
		return def
	}
	return v
}

// Subscribe stores a subscription of url to tenant's events, or to every
// tenant's when tenant is "", with a fresh 32-byte secret. The returned
// Webhook is the only place the secret is shown to the caller.
func (w *Webhooks) Subscribe(ctx context.Context, id, tenant, rawURL string) (*store.Webhook, error) {
	if !store.ValidWebhookID(id) {
		return nil, errorf(ErrInvalidWebhookID, nil, "webhook id %q must be 1 to %d characters of a-z 0-9 _ -", store.Clip(id), store.MaxWebhookIDLen)
	}
	if err := w.checkURL(rawURL); err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	hook, err := w.cfg.Store.CreateWebhook(ctx, &store.Webhook{ID: id, Tenant: tenant, URL: rawURL, Secret: secret})
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, errorf(ErrWebhookExists, []error{err}, "webhook %s already exists", id)
	case errors.Is(err, store.ErrNotFound):
		return nil, errorf(ErrTenantNotFound, []error{err}, "tenant %s not found", store.Clip(tenant))
	}
	return hook, err
}

// Unsubscribe deletes a subscription and its delivery records.
func (w *Webhooks) Unsubscribe(ctx context.Context, id string) error {
	err := w.cfg.Store.DeleteWebhook(ctx, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return errorf(ErrWebhookNotFound, []error{err}, "webhook %s not found", id)
	case errors.Is(err, store.ErrInvalid):
		return errorf(ErrInvalidWebhookID, []error{err}, "invalid webhook id %q", store.Clip(id))
	}
	return err
}

// Deliveries returns the webhook's newest delivery attempts.
func (w *Webhooks) Deliveries(ctx context.Context, id string, limit int) ([]*store.Delivery, error) {
	if !store.ValidWebhookID(id) {
		return nil, errorf(ErrInvalidWebhookID, nil, "invalid webhook id %q", store.Clip(id))
	}
	return w.cfg.Store.Deliveries(ctx, id, limit)
}

// List returns the subscriptions of tenant alone, or for tenant "" the
// platform-wide ones. The store's listing of a tenant also holds the
// platform-wide subscriptions, whose receivers a tenant has no business
// seeing.
func (w *Webhooks) List(ctx context.Context, tenant string) ([]*store.Webhook, error) {
	hooks, err := w.cfg.Store.Webhooks(ctx, tenant)
	if err != nil {
		return nil, err
	}
	out := hooks[:0]
	for _, h := range hooks {
		if h.Tenant == tenant {
			out = append(out, h)
		}
	}
	return out, nil
}

// Get returns subscription id, whoever it belongs to, or ErrWebhookNotFound.
func (w *Webhooks) Get(ctx context.Context, id string) (*store.Webhook, error) {
	if !store.ValidWebhookID(id) {
		return nil, errorf(ErrInvalidWebhookID, nil, "invalid webhook id %q", store.Clip(id))
	}
	h, err := w.cfg.Store.Webhook(ctx, id)
	if errors.Is(err, store.ErrNotFound) {
		return nil, errorf(ErrWebhookNotFound, []error{err}, "webhook %s not found", id)
	}
	return h, err
}

// Owned returns subscription id if it is tenant's (for tenant "", if it is
// platform-wide), and ErrWebhookNotFound otherwise, whether it does not
// exist or is someone else's, so a tenant learns nothing of others'.
func (w *Webhooks) Owned(ctx context.Context, id, tenant string) (*store.Webhook, error) {
	h, err := w.Get(ctx, id)
	if err != nil && !errors.Is(err, ErrWebhookNotFound) {
		return nil, err
	}
	if err == nil && h.Tenant == tenant {
		return h, nil
	}
	if tenant == "" {
		return nil, errorf(ErrWebhookNotFound, nil, "no platform-wide webhook %s", id)
	}
	return nil, errorf(ErrWebhookNotFound, nil, "tenant %s has no webhook %s", store.Clip(tenant), id)
}

// checkURL accepts absolute https URLs (http when allowed) with a host and
// without credentials or a fragment: credentials would sit in the database
// and the logs, and the secret signs the body instead.
func (w *Webhooks) checkURL(raw string) error {
	bad := func(why string) error {
		return errorf(ErrInvalidWebhookURL, nil, "webhook url %q: %s", store.Clip(raw), why)
	}
	u, err := url.Parse(raw)
	switch {
	case raw == "" || len(raw) > store.MaxURLLen:
		return bad(fmt.Sprintf("must be 1 to %d bytes", store.MaxURLLen))
	case err != nil:
		return bad("does not parse")
	case u.Scheme != "https" && !(w.cfg.AllowHTTP && u.Scheme == "http"):
		return bad("must use https")
	case u.Hostname() == "":
		return bad("has no host")
	case u.User != nil:
		return bad("may not carry credentials")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return bad("may not have a fragment")
	}
	return nil
}

// Dropped counts events dropped at a full queue.
func (w *Webhooks) Dropped() uint64 { return w.dropped.Load() }

// Notify queues ev for delivery without blocking.
func (w *Webhooks) Notify(ev Event) {
	select {
	case w.queue <- ev:
	default:
		w.dropped.Add(1)
		w.cfg.Logger.Error("monitor: webhook queue full; event dropped", "event", ev.ID, "type", ev.Type, "tenant", ev.Tenant)
	}
}

// Run delivers queued events until ctx is cancelled, then waits for the
// deliveries under way (which stop retrying once ctx is done).
func (w *Webhooks) Run(ctx context.Context) error {
	defer w.wg.Wait()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case ev := <-w.queue:
			w.dispatch(ctx, ev)
		}
	}
}

// dispatch starts one delivery per subscription of the event's tenant.
func (w *Webhooks) dispatch(ctx context.Context, ev Event) {
	hooks, err := w.cfg.Store.Webhooks(ctx, ev.Tenant)
	if err != nil {
		w.cfg.Logger.ErrorContext(ctx, "monitor: listing webhooks", "event", ev.ID, "err", err)
		return
	}
	body, err := json.Marshal(ev)
	if err != nil {
		w.cfg.Logger.ErrorContext(ctx, "monitor: encoding event", "event", ev.ID, "err", err)
		return
	}
	for _, h := range hooks {
		select {
		case w.sem <- struct{}{}:
		case <-ctx.Done():
			return
		}
		w.wg.Add(1)
		go func() {
			defer w.wg.Done()
			defer func() { <-w.sem }()
			w.deliver(ctx, h, ev, body)
		}()
	}
}

// deliver tries until a 2xx answer, a refusal that retrying cannot change
// (a 4xx other than 408 and 429), MaxAttempts, or ctx ends.
func (w *Webhooks) deliver(ctx context.Context, h *store.Webhook, ev Event, body []byte) {
	for attempt := 1; attempt <= w.cfg.MaxAttempts; attempt++ {
		status, err := w.post(ctx, h, ev, body)
		w.record(ctx, h, ev, attempt, status, err)
		if err == nil || !retryable(status) || attempt == w.cfg.MaxAttempts {
			return
		}
		if !sleep(ctx, w.backoff(attempt)) {
			return
		}
	}
}

func (w *Webhooks) post(ctx context.Context, h *store.Webhook, ev Event, body []byte) (int, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, h.URL, bytes.NewReader(body))
	if err != nil {
		return 0, err
	}
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("User-Agent", "byok-webhooks/1")
	req.Header.Set(EventIDHeader, ev.ID)
	req.Header.Set(EventTypeHeader, ev.Type)
	req.Header.Set(SignatureHeader, Sign(h.Secret, w.cfg.Now(), body))
	resp, err := w.cfg.Client.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		return resp.StatusCode, fmt.Errorf("status %d", resp.StatusCode)
	}
	return resp.StatusCode, nil
}

func retryable(status int) bool {
	return status == 0 || status >= 500 || status == http.StatusRequestTimeout || status == http.StatusTooManyRequests
}

func (w *Webhooks) record(ctx context.Context, h *store.Webhook, ev Event, attempt, status int, err error) {
	d := &store.Delivery{Webhook: h.ID, Event: ev.ID, Attempt: attempt, At: w.cfg.Now(), Status: status}
	if err != nil {
		d.Error = clip(err.Error(), store.MaxDetailLen)
	}
	// The record outlives a cancelled context: the attempt happened.
	if err := w.cfg.Store.AddDelivery(context.WithoutCancel(ctx), d); err != nil {
		w.cfg.Logger.ErrorContext(ctx, "monitor: recording delivery", "webhook", h.ID, "err", err)
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

func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}

// Sign returns the signature header value of body sent at t.
func Sign(secret []byte, t time.Time, body []byte) string {
	ts := strconv.FormatInt(t.Unix(), 10)
	return "t=" + ts + ",v1=" + hex.EncodeToString(mac(secret, ts, body))
}

func mac(secret []byte, ts string, body []byte) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(ts))
	h.Write([]byte("."))
	h.Write(body)
	return h.Sum(nil)
}

// Verify checks a delivery as a receiver should: the signature header's
// HMAC over its timestamp and the exact body bytes, in constant time, and a
// timestamp within window of now (0 means DefaultReplayWindow), so a
// captured delivery cannot be replayed later. Receivers should also drop
// event ids they have already processed.
func Verify(secret []byte, header string, body []byte, now time.Time, window time.Duration) error {
	ts, sigs := parseSignature(header)
	sec, err := strconv.ParseInt(ts, 10, 64)
	if err != nil || len(sigs) == 0 {
		return errorf(ErrBadSignature, nil, "malformed %s header", SignatureHeader)
	}
	if window == 0 {
		window = DefaultReplayWindow
	}
	if d := now.Sub(time.Unix(sec, 0)); d > window || d < -window {
		return errorf(ErrStaleSignature, nil, "signature time is %s from now, outside %s", d.Round(time.Second), window)
	}
	want := mac(secret, ts, body)
	for _, s := range sigs {
		if got, err := hex.DecodeString(s); err == nil && hmac.Equal(got, want) {
			return nil
		}
	}
	return errorf(ErrBadSignature, nil, "no v1 signature matches")
}

// parseSignature splits "t=...,v1=...[,v1=...]"; several v1 values let a
// secret be changed without a gap.
func parseSignature(h string) (ts string, sigs []string) {
	for _, part := range strings.Split(h, ",") {
		k, v, _ := strings.Cut(strings.TrimSpace(part), "=")
		switch k {
		case "t":
			ts = v
		case "v1":
			sigs = append(sigs, v)
		}
	}
	return ts, sigs
}
