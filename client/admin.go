package client

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strconv"
	"time"
)

// Token describes an API token; Token (the secret) is set only in the answer
// of CreateToken, the one time it is shown.
type Token struct {
	Token    string     `json:"token,omitempty"`
	ID       string     `json:"id"`
	Role     string     `json:"role"`
	Tenant   string     `json:"tenant,omitempty"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	Expires  time.Time  `json:"expires"`
	LastUsed *time.Time `json:"last_used,omitempty"`
	Revoked  bool       `json:"revoked"`
}

// CreateToken describes a token to issue. Tenant "" makes it platform-wide;
// TTL 0 takes the server's default.
type CreateToken struct {
	Role   string
	Tenant string
	Name   string
	TTL    time.Duration
}

// CreateToken issues a token; keep the returned Token.Token, it is not shown
// again.
func (c *Client) CreateToken(ctx context.Context, req CreateToken) (*Token, error) {
	in := map[string]any{"role": req.Role, "tenant": req.Tenant, "name": req.Name, "ttl_seconds": int64(req.TTL / time.Second)}
	var t Token
	return &t, c.call(ctx, http.MethodPost, "/v1/tokens", nil, in, &t)
}

// Tokens lists the tokens the caller may manage; tenant "" lists them all.
func (c *Client) Tokens(ctx context.Context, tenant string) ([]*Token, error) {
	q := url.Values{}
	set(q, "tenant", tenant)
	var out struct {
		Tokens []*Token `json:"tokens"`
	}
	return out.Tokens, c.call(ctx, http.MethodGet, "/v1/tokens", q, nil, &out)
}

// RevokeToken revokes a token by its id at once.
func (c *Client) RevokeToken(ctx context.Context, id string) error {
	return c.call(ctx, http.MethodDelete, "/v1/tokens/"+url.PathEscape(id), nil, nil, nil)
}

// KeyChangeProgress is a key change's progress in one region.
type KeyChangeProgress struct {
	Region string `json:"region"`
	Key    string `json:"key"`
	Done   int    `json:"done"`  // key versions wrapped under the new key
	Total  int    `json:"total"` // key versions of the tenant
	Old    int    `json:"old"`   // versions still wrapped under the old key
}

// KeyChangeStatus is a tenant's key change in progress; Running is false
// when there is none.
type KeyChangeStatus struct {
	Running bool                 `json:"running"`
	Region  string               `json:"region"`
	From    string               `json:"from"`
	To      string               `json:"to"`
	Started string               `json:"started"`
	Regions []*KeyChangeProgress `json:"regions"`
}

// KeyChangeStatus returns the tenant's key change in progress, if any.
func (c *Client) KeyChangeStatus(ctx context.Context, id string) (*KeyChangeStatus, error) {
	var s KeyChangeStatus
	return &s, c.call(ctx, http.MethodGet, tenantPath(id, "key-change"), nil, nil, &s)
}

// AuditTail copies the newest n (0: the server's default) events of the
// tenant's audit chain, or of the platform chain for tenant "", to w as JSON
// lines, oldest first.
func (c *Client) AuditTail(ctx context.Context, tenant string, n int, w io.Writer) error {
	q := url.Values{}
	if n > 0 {
		q.Set("limit", strconv.Itoa(n))
	}
	return c.lines(ctx, auditPath(tenant, ""), q, w)
}

// AuditExport copies the tenant's (or for tenant "" the platform's) audit
// events in [from, to) to w as JSON lines; zero times leave the range open.
func (c *Client) AuditExport(ctx context.Context, tenant string, from, to time.Time, w io.Writer) error {
	q := url.Values{}
	if !from.IsZero() {
		q.Set("from", from.UTC().Format(time.RFC3339))
	}
	if !to.IsZero() {
		q.Set("to", to.UTC().Format(time.RFC3339))
	}
	return c.lines(ctx, auditPath(tenant, "export"), q, w)
}

func auditPath(tenant, rest string) string {
	p := "/v1/audit"
	if tenant != "" {
		p = tenantPath(tenant, "audit")
	}
	if rest != "" {
		p += "/" + rest
	}
	return p
}

func (c *Client) lines(ctx context.Context, path string, q url.Values, w io.Writer) error {
	resp, err := c.do(ctx, request{method: http.MethodGet, path: path, query: q})
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	_, err = io.Copy(w, resp.Body)
	return err
}

// Healthz reports whether the server is alive (no token needed).
func (c *Client) Healthz(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/healthz", nil, nil, nil)
}

// Readyz reports whether the server can serve: its database answers.
func (c *Client) Readyz(ctx context.Context) error {
	return c.call(ctx, http.MethodGet, "/readyz", nil, nil, nil)
}
