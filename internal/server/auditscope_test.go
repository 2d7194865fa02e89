package server

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/store"
)

// auditedServer serves e's parts with the real audit log over e's store,
// so that the chains a call writes can be read back.
func auditedServer(t *testing.T, e *env) (*client.Client, func(token string) *client.Client, *audit.Log) {
	t.Helper()
	log, err := audit.New(audit.Config{Store: e.store.(store.AuditStore), Key: auditKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := New(Config{Control: e.server.cfg.Control, Keyring: e.keyring, Store: e.store, Auth: e.tokens, Audit: log,
		Logger: slog.New(slog.NewJSONHandler(e.logs, nil)), MaxBatch: 100})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(hs.Close)
	as := func(token string) *client.Client {
		c, err := client.New(client.Config{URL: hs.URL, Token: token})
		if err != nil {
			t.Fatal(err)
		}
		return c
	}
	return as(e.owner), as, log
}

func issue(t *testing.T, e *env, role auth.Role, tenant, name string) string {
	t.Helper()
	p, err := e.tokens.Authenticate(bg, e.owner)
	if err != nil {
		t.Fatal(err)
	}
	tok, _, err := e.tokens.Issue(bg, p, auth.IssueRequest{Role: role, Tenant: tenant, Name: name})
	if err != nil {
		t.Fatal(err)
	}
	return tok
}

func exported(t *testing.T, c *client.Client, tenant string) string {
	t.Helper()
	var buf bytes.Buffer
	if err := c.AuditExport(bg, tenant, time.Time{}, time.Time{}, &buf); err != nil {
		t.Fatalf("AuditExport(%q): %v", tenant, err)
	}
	return buf.String()
}

func TestRefusedCallsAuditedInCallersChain(t *testing.T) {
	e := newEnv(t)
	owner, as, _ := auditedServer(t, e)
	for _, id := range []string{"tena", "tenb"} {
		if _, err := owner.CreateTenant(bg, client.CreateTenant{ID: id, Name: id}); err != nil {
			t.Fatal(err)
		}
	}
	a := as(issue(t, e, auth.RoleAuditor, "tena", "a-auditor-secret-name"))

	_, err := a.Offboard(bg, "tenb")
	wantCode(t, err, "forbidden", http.StatusForbidden)
	_, err = a.Offboard(bg, "ghost-0")
	wantCode(t, err, "forbidden", http.StatusForbidden)
	_, err = owner.Offboard(bg, "ghost-1")
	wantCode(t, err, "tenant_not_found", http.StatusNotFound)
	_, err = owner.CreateTenant(bg, client.CreateTenant{ID: "tena", Name: "again"})
	wantCode(t, err, "tenant_exists", http.StatusConflict)

	if b := exported(t, owner, "tenb"); strings.Contains(b, "a-auditor-secret-name") || strings.Contains(b, "offboard") {
		t.Errorf("tenb's chain holds tena's refused call:\n%s", b)
	}
	if a := exported(t, owner, "tena"); strings.Count(a, "a-auditor-secret-name") != 2 || !strings.Contains(a, `"requested_tenant":"tenb"`) {
		t.Errorf("tena's chain = %s\nwant both refusals of its auditor, naming the tenant asked for", a)
	}
	if p := exported(t, owner, ""); !strings.Contains(p, `"requested_tenant":"ghost-1"`) {
		t.Errorf("platform chain = %s\nwant the owner's refused offboard of ghost-1", p)
	}
	chains, err := e.store.(store.AuditStore).AuditChains(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chains {
		if strings.HasPrefix(c, "tenant:ghost") {
			t.Errorf("chains = %v: a chain for a tenant that does not exist", chains)
		}
	}
}

func TestMalformedPathTenantAnsweredAtOnce(t *testing.T) {
	e := newEnv(t)
	owner, _, _ := auditedServer(t, e)
	long := strings.Repeat("x", 3000)
	for range 3 {
		_, err := owner.Offboard(bg, long)
		wantCode(t, err, "invalid_tenant_id", http.StatusBadRequest)
		_, err = owner.Encrypt(context.Background(), long, []byte("x"), nil)
		wantCode(t, err, "invalid_tenant_id", http.StatusBadRequest)
	}
	if logs := e.logs.String(); strings.Contains(logs, `"level":"ERROR"`) || strings.Contains(logs, long) {
		t.Errorf("server log holds an ERROR or the id:\n%.2000s", logs)
	}
	chains, err := e.store.(store.AuditStore).AuditChains(bg)
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range chains {
		if strings.Contains(c, "xxx") {
			t.Errorf("chains = %v", chains)
		}
	}
}
