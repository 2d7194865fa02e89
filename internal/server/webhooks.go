package server

import (
	"encoding/hex"
	"net/http"
	"strconv"
	"time"

	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
)

// webhookJSON is a subscription as the API shows it. Secret, the hex of the
// HMAC key, is set only in the answer that creates it.
type webhookJSON struct {
	ID      string    `json:"id"`
	Tenant  string    `json:"tenant,omitempty"`
	URL     string    `json:"url"`
	Secret  string    `json:"secret,omitempty"`
	Created time.Time `json:"created"`
}

func toWebhook(h *store.Webhook) *webhookJSON {
	return &webhookJSON{ID: h.ID, Tenant: h.Tenant, URL: h.URL, Created: h.CreatedAt}
}

type deliveryJSON struct {
	Webhook string    `json:"webhook"`
	Event   string    `json:"event"`
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Status  int       `json:"status"`
	Error   string    `json:"error,omitempty"`
}

func (s *Server) webhooks() (*monitor.Webhooks, error) {
	if s.cfg.Webhooks == nil {
		return nil, apiErr(http.StatusNotImplemented, CodeNotImplemented, "this server delivers no webhooks")
	}
	return s.cfg.Webhooks, nil
}

// createWebhook subscribes a URL to the events of the route's tenant, or to
// every tenant's on /v1/webhooks.
func (s *Server) createWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	hooks, err := s.webhooks()
	if err != nil {
		return err
	}
	var req struct {
		ID  string `json:"id"`
		URL string `json:"url"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	h, err := hooks.Subscribe(r.Context(), req.ID, c.tenant, req.URL)
	if err != nil {
		return err
	}
	out := toWebhook(h)
	out.Secret = hex.EncodeToString(h.Secret)
	writeJSON(w, http.StatusCreated, out)
	return nil
}

// listWebhooks lists the route tenant's own subscriptions, or the
// platform-wide ones on /v1/webhooks; never secrets.
func (s *Server) listWebhooks(w http.ResponseWriter, r *http.Request, c *call) error {
	hooks, err := s.webhooks()
	if err != nil {
		return err
	}
	if c.tenant != "" {
		// An unknown tenant has no subscriptions; say so rather than list none.
		if _, err := s.cfg.Control.Tenant(r.Context(), c.tenant); err != nil {
			return err
		}
	}
	list, err := hooks.List(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	out := []*webhookJSON{}
	for _, h := range list {
		out = append(out, toWebhook(h))
	}
	writeJSON(w, http.StatusOK, map[string]any{"webhooks": out})
	return nil
}

// ownWebhook checks, on the routes that name a webhook, that it exists and
// that a tenant-scoped caller names one of its tenant's; the middleware
// checked only the role. Platform-wide callers reach every webhook. The
// webhook's tenant goes into the audit record.
func (s *Server) ownWebhook(r *http.Request, c *call, hooks *monitor.Webhooks) error {
	id := r.PathValue("webhook")
	var h *store.Webhook
	var err error
	if c.principal.PlatformWide() {
		h, err = hooks.Get(r.Context(), id)
	} else {
		h, err = hooks.Owned(r.Context(), id, c.principal.Tenant)
	}
	if err != nil {
		return err
	}
	c.tenant = h.Tenant
	return nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	hooks, err := s.webhooks()
	if err != nil {
		return err
	}
	if err := s.ownWebhook(r, c, hooks); err != nil {
		return err
	}
	if err := hooks.Unsubscribe(r.Context(), r.PathValue("webhook")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

// webhookDeliveries lists a webhook's newest delivery attempts, newest
// first.
func (s *Server) webhookDeliveries(w http.ResponseWriter, r *http.Request, c *call) error {
	hooks, err := s.webhooks()
	if err != nil {
		return err
	}
	if err := s.ownWebhook(r, c, hooks); err != nil {
		return err
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > store.MaxPageSize {
			return apiErr(http.StatusBadRequest, CodeInvalidRequest, "limit must be 1 to "+strconv.Itoa(store.MaxPageSize))
		}
	}
	ds, err := hooks.Deliveries(r.Context(), r.PathValue("webhook"), limit)
	if err != nil {
		return err
	}
	out := []*deliveryJSON{}
	for _, d := range ds {
		out = append(out, &deliveryJSON{Webhook: d.Webhook, Event: d.Event, Attempt: d.Attempt, At: d.At, Status: d.Status, Error: d.Error})
	}
	writeJSON(w, http.StatusOK, map[string]any{"deliveries": out})
	return nil
}
