package server

import (
	"encoding/hex"
	"errors"
	"fmt"
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

// ownWebhook finds the webhook a route names and returns its tenant ("" for
// a platform-wide one), which goes into the audit record. Names are unique
// per owner only, so the owner comes from the route, never from the name:
// /v1/tenants/{id}/webhooks/{webhook} names the tenant's (the middleware
// checked the caller may act on it); /v1/webhooks/{webhook} names the
// caller's own tenant's for a tenant-scoped token (the middleware checked
// only the role) and the platform-wide one for a platform token, which
// reaches a tenant's webhook on the tenant's route.
func (s *Server) ownWebhook(r *http.Request, c *call, hooks *monitor.Webhooks) (string, error) {
	id := r.PathValue("webhook")
	owner := c.tenant
	if c.route.ownedByHook {
		owner = c.principal.Tenant
	}
	h, err := hooks.Owned(r.Context(), id, owner)
	if errors.Is(err, monitor.ErrWebhookNotFound) && c.route.ownedByHook && owner == "" {
		return "", apiErr(http.StatusNotFound, monitor.ErrWebhookNotFound.Code(), fmt.Sprintf(
			"no platform-wide webhook %s; a tenant's webhook is named on its tenant's route, /v1/tenants/{id}/webhooks/%s", id, id))
	}
	if err != nil {
		return "", err
	}
	c.tenant = h.Tenant
	return h.Tenant, nil
}

func (s *Server) deleteWebhook(w http.ResponseWriter, r *http.Request, c *call) error {
	hooks, err := s.webhooks()
	if err != nil {
		return err
	}
	owner, err := s.ownWebhook(r, c, hooks)
	if err != nil {
		return err
	}
	if err := hooks.Unsubscribe(r.Context(), owner, r.PathValue("webhook")); err != nil {
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
	owner, err := s.ownWebhook(r, c, hooks)
	if err != nil {
		return err
	}
	limit := 0
	if v := r.URL.Query().Get("limit"); v != "" {
		if limit, err = strconv.Atoi(v); err != nil || limit < 1 || limit > store.MaxPageSize {
			return apiErr(http.StatusBadRequest, CodeInvalidRequest, "limit must be 1 to "+strconv.Itoa(store.MaxPageSize))
		}
	}
	ds, err := hooks.Deliveries(r.Context(), owner, r.PathValue("webhook"), limit)
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
