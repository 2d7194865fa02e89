package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/store"
)

// tokenManager is what the token routes need of Config.Auth; auth.Tokens
// is one. An Authenticator without it answers those routes 501.
type tokenManager interface {
	Issue(ctx context.Context, by *auth.Principal, req auth.IssueRequest) (string, *auth.TokenInfo, error)
	List(ctx context.Context, by *auth.Principal, tenant string) ([]*auth.TokenInfo, error)
	Revoke(ctx context.Context, by *auth.Principal, id string) error
}

var _ tokenManager = (*auth.Tokens)(nil)

// CodeNotImplemented answers routes whose dependency the server was not
// given (token management without auth.Tokens, audit reads without an
// audit store).
const CodeNotImplemented = "not_implemented"

func (s *Server) tokenManager() (tokenManager, error) {
	if tm, ok := s.cfg.Auth.(tokenManager); ok {
		return tm, nil
	}
	return nil, apiErr(http.StatusNotImplemented, CodeNotImplemented, "this server does not manage tokens")
}

// tokenJSON is a token as the API shows it: never its secret.
type tokenJSON struct {
	ID       string     `json:"id"`
	Role     string     `json:"role"`
	Tenant   string     `json:"tenant,omitempty"`
	Name     string     `json:"name"`
	Created  time.Time  `json:"created"`
	Expires  time.Time  `json:"expires"`
	LastUsed *time.Time `json:"last_used,omitempty"`
	Revoked  bool       `json:"revoked"`
}

func toToken(t *auth.TokenInfo) *tokenJSON {
	out := &tokenJSON{ID: t.ID, Role: string(t.Role), Tenant: t.Tenant, Name: t.Name,
		Created: t.Created, Expires: t.Expires, Revoked: t.Revoked}
	if !t.LastUsed.IsZero() {
		out.LastUsed = &t.LastUsed
	}
	return out
}

func (s *Server) createToken(w http.ResponseWriter, r *http.Request, c *call) error {
	tm, err := s.tokenManager()
	if err != nil {
		return err
	}
	var req struct {
		Role       string `json:"role"`
		Tenant     string `json:"tenant"`
		Name       string `json:"name"`
		TTLSeconds int64  `json:"ttl_seconds"`
	}
	if err := decodeJSON(r, &req); err != nil {
		return err
	}
	plain, info, err := tm.Issue(r.Context(), c.principal, auth.IssueRequest{Role: auth.Role(req.Role),
		Tenant: req.Tenant, Name: req.Name, TTL: time.Duration(req.TTLSeconds) * time.Second})
	if err != nil {
		return err
	}
	if s.tenantExists(r.Context(), req.Tenant) {
		c.tenant = req.Tenant // else the issuer's chain: no chain for a tenant that does not exist
	}
	writeJSON(w, http.StatusCreated, struct {
		Token string `json:"token"`
		*tokenJSON
	}{plain, toToken(info)})
	return nil
}

func (s *Server) listTokens(w http.ResponseWriter, r *http.Request, c *call) error {
	tm, err := s.tokenManager()
	if err != nil {
		return err
	}
	infos, err := tm.List(r.Context(), c.principal, r.URL.Query().Get("tenant"))
	if err != nil {
		return err
	}
	out := []*tokenJSON{}
	for _, t := range infos {
		out = append(out, toToken(t))
	}
	writeJSON(w, http.StatusOK, map[string]any{"tokens": out})
	return nil
}

func (s *Server) revokeToken(w http.ResponseWriter, r *http.Request, c *call) error {
	tm, err := s.tokenManager()
	if err != nil {
		return err
	}
	if err := tm.Revoke(r.Context(), c.principal, r.PathValue("token")); err != nil {
		return err
	}
	w.WriteHeader(http.StatusNoContent)
	return nil
}

func (s *Server) auditStore() (store.AuditStore, error) {
	if as, ok := s.cfg.Store.(store.AuditStore); ok {
		return as, nil
	}
	return nil, apiErr(http.StatusNotImplemented, CodeNotImplemented, "this server's store keeps no audit log")
}

// auditChain is the chain a route reads: the tenant's, or the platform's
// on the routes without a tenant.
func auditChain(c *call) string {
	if c.tenant == "" {
		return audit.PlatformChain
	}
	return audit.ChainOf(c.tenant)
}

// auditTail answers the newest events of a chain as JSON lines, oldest first.
func (s *Server) auditTail(w http.ResponseWriter, r *http.Request, c *call) error {
	as, err := s.auditStore()
	if err != nil {
		return err
	}
	n := store.DefaultPageSize
	if v := r.URL.Query().Get("limit"); v != "" {
		if n, err = strconv.Atoi(v); err != nil || n < 1 || n > store.MaxPageSize {
			return apiErr(http.StatusBadRequest, CodeInvalidRequest, "limit must be 1 to "+strconv.Itoa(store.MaxPageSize))
		}
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	return audit.Tail(r.Context(), as, auditChain(c), n, w)
}

// auditExport answers a chain's events in [from, to) as JSON lines.
func (s *Server) auditExport(w http.ResponseWriter, r *http.Request, c *call) error {
	as, err := s.auditStore()
	if err != nil {
		return err
	}
	from, err := queryTime(r, "from")
	if err != nil {
		return err
	}
	to, err := queryTime(r, "to")
	if err != nil {
		return err
	}
	w.Header().Set("Content-Type", "application/x-ndjson")
	return audit.Export(r.Context(), as, auditChain(c), from, to, w)
}

func queryTime(r *http.Request, name string) (time.Time, error) {
	v := r.URL.Query().Get(name)
	if v == "" {
		return time.Time{}, nil
	}
	t, err := time.Parse(time.RFC3339, v)
	if err != nil {
		return time.Time{}, apiErr(http.StatusBadRequest, CodeInvalidRequest, name+" must be an RFC 3339 time")
	}
	return t, nil
}

// keyChangeStatus reports the tenant's key change in progress, if any.
func (s *Server) keyChangeStatus(w http.ResponseWriter, r *http.Request, c *call) error {
	st, err := s.cfg.Control.KeyChangeStatus(r.Context(), c.tenant)
	if err != nil {
		return err
	}
	regions := make([]map[string]any, 0, len(st.Regions))
	for _, p := range st.Regions {
		regions = append(regions, map[string]any{"region": p.Region, "key": p.Key, "done": p.Done, "total": p.Total, "old": p.Old})
	}
	writeJSON(w, http.StatusOK, map[string]any{"running": st.Running, "region": st.Region, "from": st.From,
		"to": st.To, "started": st.Started, "regions": regions})
	return nil
}
