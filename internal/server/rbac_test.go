package server

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/monitor"
)

// TestEveryRouteEveryRole calls every route with a token of every role,
// platform-wide and scoped to tenant acme, on acme and on another tenant,
// and checks that the server refuses exactly what auth.Allowed refuses:
// that each route names the right action and passes the right tenant (for
// the routes naming a webhook, the webhook's tenant).
func TestEveryRouteEveryRole(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	owner, err := e.tokens.Authenticate(bg, e.owner)
	if err != nil {
		t.Fatal(err)
	}
	type caller struct {
		token string
		p     *auth.Principal
	}
	var callers []caller
	for _, role := range auth.Roles {
		for _, scope := range []string{"", "acme"} {
			tok, _, err := e.tokens.Issue(bg, owner, auth.IssueRequest{Role: role, Tenant: scope, Name: "matrix"})
			if err != nil {
				continue // a role that cannot be scoped
			}
			p, err := e.tokens.Authenticate(bg, tok)
			if err != nil {
				t.Fatal(err)
			}
			callers = append(callers, caller{tok, p})
		}
	}
	if len(callers) < len(auth.Roles)+3 {
		t.Fatalf("only %d callers issued", len(callers))
	}
	outcomes := map[bool]int{}
	for _, rt := range routes {
		if rt.action == "" {
			continue
		}
		for _, tenantID := range []string{"acme", "other"} {
			for _, c := range callers {
				outcomes[checkAccess(t, e, &rt, tenantID, c.token, c.p)]++
			}
		}
	}
	if outcomes[true] == 0 || outcomes[false] == 0 {
		t.Fatalf("forbidden/allowed = %d/%d; want both", outcomes[true], outcomes[false])
	}
	all, err := e.tokens.List(bg, owner, "")
	if err != nil {
		t.Fatal(err)
	}
	hidden := 0
	for _, c := range callers {
		if auth.Allowed(c.p, auth.TokenManage, "") == nil {
			hidden += checkTokenList(t, e, c.token, c.p, all)
		}
	}
	if hidden == 0 {
		t.Error("every caller that lists tokens saw every token; want owner tokens hidden from super_admins")
	}
}

// checkTokenList lists the tokens as p and checks that it sees exactly
// those of all it may revoke; it returns how many it does not see.
func checkTokenList(t *testing.T, e *env, token string, p *auth.Principal, all []*auth.TokenInfo) int {
	t.Helper()
	req := httptest.NewRequest("GET", "/v1/tokens", nil)
	req.Header.Set("Authorization", "Bearer "+token)
	rec := httptest.NewRecorder()
	e.server.Handler().ServeHTTP(rec, req)
	var out struct{ Tokens []tokenJSON }
	if err := json.Unmarshal(rec.Body.Bytes(), &out); rec.Code != http.StatusOK || err != nil {
		t.Fatalf("GET /v1/tokens as %s = %d %s", p.Role, rec.Code, rec.Body)
	}
	seen := map[string]bool{}
	for _, tk := range out.Tokens {
		seen[tk.ID] = true
	}
	hidden := 0
	for _, tk := range all {
		may := auth.CanIssue(p, tk.Role) == nil
		if seen[tk.ID] != may {
			t.Errorf("GET /v1/tokens as %s: %s token %s listed %v, may revoke it %v", p.Role, tk.Role, tk.ID, seen[tk.ID], may)
		}
		if !may {
			hidden++
		}
	}
	if len(out.Tokens) > len(all) {
		t.Errorf("GET /v1/tokens as %s lists %d tokens of %d", p.Role, len(out.Tokens), len(all))
	}
	return hidden
}

// checkAccess makes one call and returns whether it was forbidden.
func checkAccess(t *testing.T, e *env, rt *route, tenantID, token string, p *auth.Principal) bool {
	t.Helper()
	hook := "hook-" + tenantID
	if strings.Contains(rt.path, "{webhook}") {
		// Each call finds the tenant's webhook and a platform-wide one of
		// the same name, which an allowed DELETE removed.
		for _, owner := range []string{tenantID, ""} {
			if _, err := e.hooks.Subscribe(bg, hook, owner, "https://example.com/"+hook); err != nil && monitor.Code(err) != "webhook_exists" {
				t.Fatal(err)
			}
		}
	}
	path := strings.NewReplacer("{id}", tenantID, "{region}", home, "{webhook}", hook).Replace(rt.path)
	body := ""
	if rt.body == bodyControl || rt.body == bodyData {
		body = "{}"
	}
	req := httptest.NewRequest(rt.method, path, strings.NewReader(body))
	req.Header.Set("Authorization", "Bearer "+token)
	req.Header.Set("Content-Type", "application/json")
	rec := httptest.NewRecorder()
	e.server.Handler().ServeHTTP(rec, req)
	scope := tenantID
	if !strings.Contains(rt.path, "{id}") && !rt.ownedByHook || rt.ownedByHook && p.PlatformWide() {
		// /v1/webhooks/{webhook} names a platform token's platform-wide
		// webhook, a tenant token's own tenant's.
		scope = ""
	}
	wantForbidden := auth.Allowed(p, rt.action, scope) != nil
	gotForbidden := rec.Code == http.StatusForbidden
	if strings.Contains(rt.path, "{webhook}") && rec.Code == http.StatusNotFound {
		// Another tenant's webhook is not found rather than forbidden, so a
		// tenant learns nothing of others'; a missing one would be too, but
		// each call has its webhook.
		gotForbidden = true
	}
	if gotForbidden != wantForbidden || rec.Code == http.StatusUnauthorized {
		t.Errorf("%s %s as %s (tenant %q) = %d %s; want forbidden %v", rt.method, path, p.Role, p.Tenant, rec.Code, rec.Body, wantForbidden)
	}
	return wantForbidden
}
