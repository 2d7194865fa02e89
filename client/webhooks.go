package client

import (
	"context"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Webhook is a subscription to the key health monitor's events: a tenant's,
// or with Tenant "" every tenant's. Secret is set only in the answer of
// CreateWebhook, the one time it is shown: the hex of the HMAC-SHA256 key
// that signs each delivery's Byok-Signature header (docs/operations.md).
type Webhook struct {
	ID      string    `json:"id"`
	Tenant  string    `json:"tenant,omitempty"`
	URL     string    `json:"url"`
	Secret  string    `json:"secret,omitempty"`
	Created time.Time `json:"created"`
}

// Delivery is one attempt to deliver an event to a webhook. Status is the
// receiver's HTTP status, 0 when none came; Error says why the attempt
// failed and is empty on success.
type Delivery struct {
	Webhook string    `json:"webhook"`
	Event   string    `json:"event"`
	Attempt int       `json:"attempt"`
	At      time.Time `json:"at"`
	Status  int       `json:"status"`
	Error   string    `json:"error,omitempty"`
}

// CreateWebhook subscribes url, under the name id, to tenant's events, or to
// every tenant's when tenant is "". Keep the returned Webhook.Secret: it is
// not shown again.
func (c *Client) CreateWebhook(ctx context.Context, tenant, id, url string) (*Webhook, error) {
	var h Webhook
	in := map[string]string{"id": id, "url": url}
	return &h, c.call(ctx, http.MethodPost, webhooksPath(tenant), nil, in, &h)
}

// Webhooks lists tenant's own subscriptions, or the platform-wide ones for
// tenant "", without their secrets.
func (c *Client) Webhooks(ctx context.Context, tenant string) ([]*Webhook, error) {
	var out struct {
		Webhooks []*Webhook `json:"webhooks"`
	}
	return out.Webhooks, c.call(ctx, http.MethodGet, webhooksPath(tenant), nil, nil, &out)
}

// DeleteWebhook removes tenant's subscription id and its delivery records.
// Names are unique per tenant only: with tenant "", id names the
// platform-wide subscription for a platform-wide token, and the token's own
// tenant's for a tenant-scoped one.
func (c *Client) DeleteWebhook(ctx context.Context, tenant, id string) error {
	return c.call(ctx, http.MethodDelete, webhookPath(tenant, id), nil, nil, nil)
}

// WebhookDeliveries returns up to limit (0: the server's default, 100) of
// the newest delivery attempts of tenant's webhook id (tenant "" as in
// DeleteWebhook), newest first.
func (c *Client) WebhookDeliveries(ctx context.Context, tenant, id string, limit int) ([]*Delivery, error) {
	q := url.Values{}
	if limit > 0 {
		q.Set("limit", strconv.Itoa(limit))
	}
	var out struct {
		Deliveries []*Delivery `json:"deliveries"`
	}
	return out.Deliveries, c.call(ctx, http.MethodGet, webhookPath(tenant, id)+"/deliveries", q, nil, &out)
}

func webhookPath(tenant, id string) string {
	return webhooksPath(tenant) + "/" + url.PathEscape(id)
}

func webhooksPath(tenant string) string {
	if tenant == "" {
		return "/v1/webhooks"
	}
	return tenantPath(tenant, "webhooks")
}
