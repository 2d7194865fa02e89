package monitor

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"net/netip"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/byok-dev/byok/internal/rootseal"
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

// WebhookStore is what webhook delivery needs of the database:
// subscriptions, their delivery records and the outbox.
type WebhookStore interface {
	CreateWebhook(ctx context.Context, w *store.Webhook) (*store.Webhook, error)
	Webhooks(ctx context.Context, tenant string) ([]*store.Webhook, error)
	Webhook(ctx context.Context, tenant, id string) (*store.Webhook, error)
	DeleteWebhook(ctx context.Context, tenant, id string) error
	ClearSecretWebhooks(ctx context.Context, afterTenant, afterID string, limit int) ([]*store.Webhook, error)
	SealWebhookSecret(ctx context.Context, tenant, id string, clear, sealed []byte) error
	AddDelivery(ctx context.Context, d *store.Delivery) error
	Deliveries(ctx context.Context, tenant, webhook string, limit int) ([]*store.Delivery, error)
	EnqueueEvent(ctx context.Context, e *store.OutboxEvent) (int, error)
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*store.Outbound, error)
	RescheduleOutbox(ctx context.Context, seq int64, claim string, attempts int, next time.Time) error
	DeleteOutbox(ctx context.Context, seq int64, claim string) error
	Outbox(ctx context.Context, tenant, webhook string, limit int) ([]*store.Outbound, error)
}

var _ WebhookStore = store.Store(nil)

// WebhookConfig configures Webhooks. Zero values take the defaults.
type WebhookConfig struct {
	Store WebhookStore
	// MaxAttempts bounds the attempts per delivery (default 10); retry n
	// waits BaseDelay·2^(n-1) capped at MaxDelay, its second half at random
	// (defaults 5 s and 10 min: the last attempt comes 15 to 30 minutes
	// after the first).
	MaxAttempts int
	BaseDelay   time.Duration
	MaxDelay    time.Duration
	// MaxInFlight bounds the deliveries under way (default 16).
	MaxInFlight int
	// PollInterval is how often Run looks for due deliveries (default 1 s);
	// an event notified in this process wakes it at once.
	PollInterval time.Duration
	// Lease is how long a delivery is reserved for the instance that
	// claimed it (default 1 min): if the instance dies, another delivers
	// after the lease. An attempt is cut off after half the lease, so a
	// live instance settles its delivery before the lease lapses.
	Lease time.Duration
	// NotifyTimeout bounds how long Notify waits for the database (default
	// 5 s).
	NotifyTimeout time.Duration
	// AllowHTTP accepts http:// URLs (development, tests); otherwise only
	// https:// ones.
	AllowHTTP bool
	// AllowPrivateNetworks lets deliveries reach loopback, private,
	// link-local and other internal addresses (development, and platforms
	// whose receivers are internal). Otherwise a subscriber could make the
	// platform send requests into its own network: such URLs are refused
	// when subscribed, and a name resolving to such an address is refused
	// when a delivery connects, without retry.
	AllowPrivateNetworks bool
	// Secrets seals the subscriptions' signing secrets in the store
	// (NewSecretSealer); nil stores them in clear.
	Secrets *rootseal.Sealer
	// Now is the clock of signatures, records and leases; default time.Now.
	Now    func() time.Time
	Logger *slog.Logger
}

// Webhooks delivers events to subscribed URLs, signed and retried, and
// records every attempt. It is a Notifier whose Notify stores the event in
// the store's outbox; Run delivers from there, so events survive a restart
// and any instance sharing the database may deliver them.
type Webhooks struct {
	cfg    WebhookConfig
	client *http.Client
	// resolve, set by tests only, rewrites a receiver's host:port before
	// the dialer resolves and checks it.
	resolve func(address string) string
	// lookup, set by tests only, resolves a host name when subscribed in
	// place of the system's resolver.
	lookup  func(ctx context.Context, host string) ([]netip.Addr, error)
	wake    chan struct{}
	sem     chan struct{}
	wg      sync.WaitGroup
	dropped atomic.Uint64
	// claimLog is used by Run's goroutine only.
	claimLog failureLog
}

var _ Notifier = (*Webhooks)(nil)

// NewWebhooks returns Webhooks; Run starts delivering.
func NewWebhooks(cfg WebhookConfig) (*Webhooks, error) {
	if err := cfg.defaults(); err != nil {
		return nil, err
	}
	w := &Webhooks{cfg: cfg, wake: make(chan struct{}, 1), sem: make(chan struct{}, cfg.MaxInFlight)}
	w.client = w.newDeliveryClient()
	return w, nil
}

func (c *WebhookConfig) defaults() error {
	if c.Store == nil || c.MaxAttempts < 0 || c.BaseDelay < 0 || c.MaxDelay < 0 || c.MaxInFlight < 0 ||
		c.PollInterval < 0 || c.Lease < 0 || c.NotifyTimeout < 0 {
		return errorf(ErrInvalidConfig, nil, "webhooks need a store and no negative limits")
	}
	c.MaxAttempts = cmpOr(c.MaxAttempts, 10)
	c.BaseDelay = cmpOr(c.BaseDelay, 5*time.Second)
	c.MaxDelay = cmpOr(c.MaxDelay, 10*time.Minute)
	c.MaxInFlight = min(cmpOr(c.MaxInFlight, 16), store.MaxPageSize)
	c.PollInterval = cmpOr(c.PollInterval, time.Second)
	c.Lease = max(cmpOr(c.Lease, time.Minute), 2*time.Millisecond)
	c.NotifyTimeout = cmpOr(c.NotifyTimeout, 5*time.Second)
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
// tenant's when tenant is "", with a fresh 32-byte secret, sealed in the
// store when Secrets is set. The name id need be unique among the owner's
// subscriptions only, so the answer says nothing of other tenants' names. The returned Webhook is the only place the
// secret is shown to the caller.
func (w *Webhooks) Subscribe(ctx context.Context, id, tenant, rawURL string) (*store.Webhook, error) {
	if !store.ValidWebhookID(id) {
		return nil, errorf(ErrInvalidWebhookID, nil, "webhook id %q must be 1 to %d characters of a-z 0-9 _ -", store.Clip(id), store.MaxWebhookIDLen)
	}
	if err := w.checkURL(rawURL); err != nil {
		return nil, err
	}
	if err := w.checkResolved(ctx, rawURL); err != nil {
		return nil, err
	}
	secret := make([]byte, 32)
	rand.Read(secret)
	in := &store.Webhook{ID: id, Tenant: tenant, URL: rawURL}
	if err := w.protect(in, secret); err != nil {
		return nil, err
	}
	hook, err := w.cfg.Store.CreateWebhook(ctx, in)
	switch {
	case errors.Is(err, store.ErrConflict):
		return nil, errorf(ErrWebhookExists, []error{err}, "%s already has a webhook %s", owner(tenant), id)
	case errors.Is(err, store.ErrNotFound):
		return nil, errorf(ErrTenantNotFound, []error{err}, "tenant %s not found", store.Clip(tenant))
	case err != nil:
		return nil, err
	}
	hook.Secret, hook.SealedSecret = secret, nil
	return hook, nil
}

// owner names a subscription's owner in messages.
func owner(tenant string) string {
	if tenant == "" {
		return "the platform"
	}
	return "tenant " + store.Clip(tenant)
}

// Unsubscribe deletes tenant's subscription id (for tenant "", the
// platform-wide one), its delivery records and the events still waiting
// for it.
func (w *Webhooks) Unsubscribe(ctx context.Context, tenant, id string) error {
	err := w.cfg.Store.DeleteWebhook(ctx, tenant, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return notOwned(tenant, id)
	case errors.Is(err, store.ErrInvalid):
		return errorf(ErrInvalidWebhookID, []error{err}, "invalid webhook id %q", store.Clip(id))
	}
	return err
}

// Deliveries returns the newest delivery attempts of tenant's webhook id
// (for tenant "", the platform-wide one).
func (w *Webhooks) Deliveries(ctx context.Context, tenant, id string, limit int) ([]*store.Delivery, error) {
	if !store.ValidWebhookID(id) {
		return nil, errorf(ErrInvalidWebhookID, nil, "invalid webhook id %q", store.Clip(id))
	}
	return w.cfg.Store.Deliveries(ctx, tenant, id, limit)
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

// Owned returns tenant's subscription id (for tenant "", the platform-wide
// one), or ErrWebhookNotFound: another tenant's subscription of that name
// is another subscription, so a tenant learns nothing of others'.
func (w *Webhooks) Owned(ctx context.Context, id, tenant string) (*store.Webhook, error) {
	if !store.ValidWebhookID(id) {
		return nil, errorf(ErrInvalidWebhookID, nil, "invalid webhook id %q", store.Clip(id))
	}
	h, err := w.cfg.Store.Webhook(ctx, tenant, id)
	switch {
	case errors.Is(err, store.ErrNotFound):
		return nil, notOwned(tenant, id)
	case errors.Is(err, store.ErrInvalid):
		return nil, errorf(ErrTenantNotFound, []error{err}, "tenant %s not found", store.Clip(tenant))
	}
	return h, err
}

func notOwned(tenant, id string) error {
	if tenant == "" {
		return errorf(ErrWebhookNotFound, nil, "no platform-wide webhook %s", id)
	}
	return errorf(ErrWebhookNotFound, nil, "tenant %s has no webhook %s", store.Clip(tenant), id)
}

// checkURL accepts absolute https URLs (http when allowed) with a host and
// without credentials or a fragment: credentials would sit in the database
// and the logs, and the secret signs the body instead. A host that names an
// internal address is refused unless private networks are allowed.
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
	if why := w.hostRefusal(u.Hostname()); why != "" {
		return bad(why)
	}
	return nil
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
