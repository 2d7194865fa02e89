package server

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/store"
)

// subtest is TestAPI's run: it records the route as tested.
type subtest func(name string, f func(t *testing.T))

// adminRoutes tests the token, audit, key-change and webhook routes as TestAPI's
// subtests, on tenant adm, which it creates (pending: these routes do not
// need a key).
func adminRoutes(t *testing.T, e *env, run subtest) {
	if _, err := e.client(e.owner).CreateTenant(bg, client.CreateTenant{ID: "adm", Name: "Adm"}); err != nil {
		t.Fatal(err)
	}
	tokenRoutes(e, run)
	auditRoutes(t, e, run)
	keyChangeRoute(e, run)
	webhookRoutes(t, e, run)
	restoreRoutes(e, run)
}

// tokenRoutes issues, lists and revokes a token through the client and
// checks that the revoked token is refused at once.
func tokenRoutes(e *env, run subtest) {
	owner := e.client(e.owner)
	var tok *client.Token
	run("POST /v1/tokens", func(t *testing.T) {
		var err error
		tok, err = owner.CreateToken(bg, client.CreateToken{Role: "auditor", Tenant: "adm", Name: "billing", TTL: time.Hour})
		if err != nil || !strings.HasPrefix(tok.Token, "byok_"+tok.ID+"_") || tok.Role != "auditor" || tok.Tenant != "adm" {
			t.Fatalf("CreateToken() = %+v, %v; want an auditor token of adm", tok, err)
		}
		if _, err := e.client(tok.Token).Tenant(bg, "adm"); err != nil {
			t.Fatalf("Tenant() with the new token: %v", err)
		}
		_, err = owner.CreateToken(bg, client.CreateToken{Role: "wizard", Name: "x"})
		wantCode(t, err, "invalid_argument", http.StatusBadRequest)
		_, err = e.client(tok.Token).CreateToken(bg, client.CreateToken{Role: "member", Tenant: "adm", Name: "x"})
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("GET /v1/tokens", func(t *testing.T) {
		ts, err := owner.Tokens(bg, "adm")
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, x := range ts {
			found = found || (x.ID == tok.ID && x.Token == "")
		}
		if !found {
			t.Fatalf("Tokens(adm) = %+v; want %s listed without its secret", ts, tok.ID)
		}
	})
	run("DELETE /v1/tokens/{token}", func(t *testing.T) {
		if err := owner.RevokeToken(bg, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.client(tok.Token).Tenant(bg, "adm")
		wantCode(t, err, "unauthenticated", http.StatusUnauthorized)
		wantCode(t, owner.RevokeToken(bg, "nosuchtoken"), "not_found", http.StatusNotFound)
	})
}

// auditRoutes writes events with a real audit log and reads them back
// through the client: the newest N in order, and the export.
func auditRoutes(t *testing.T, e *env, run subtest) {
	log, err := audit.New(audit.Config{Store: e.store.(store.AuditStore), Key: auditKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		ev := audit.Event{Time: time.Now(), Tenant: "adm", Actor: "test", Action: fmt.Sprintf("key.step%d", i), Outcome: "ok"}
		if err := log.Record(bg, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Record(bg, audit.Event{Time: time.Now(), Actor: "test", Action: "platform.thing", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	owner := e.client(e.owner)
	run("GET /v1/tenants/{id}/audit", func(t *testing.T) {
		var buf bytes.Buffer
		if err := owner.AuditTail(bg, "adm", 2, &buf); err != nil {
			t.Fatal(err)
		}
		if got := actions(t, &buf); strings.Join(got, ",") != "key.step3,key.step4" {
			t.Fatalf("AuditTail(adm, 2) actions = %v, want the last two in order", got)
		}
		err := e.client(e.other).AuditTail(bg, "adm", 2, &buf)
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("GET /v1/tenants/{id}/audit/export", func(t *testing.T) {
		var buf bytes.Buffer
		if err := owner.AuditExport(bg, "adm", time.Time{}, time.Time{}, &buf); err != nil {
			t.Fatal(err)
		}
		if got := actions(t, &buf); len(got) != 5 || got[0] != "key.step0" {
			t.Fatalf("AuditExport(adm) actions = %v, want the 5 events", got)
		}
	})
	run("GET /v1/audit", func(t *testing.T) {
		var buf bytes.Buffer
		if err := owner.AuditTail(bg, "", 10, &buf); err != nil {
			t.Fatal(err)
		}
		if got := actions(t, &buf); len(got) != 1 || got[0] != "platform.thing" {
			t.Fatalf("AuditTail(platform) actions = %v, want [platform.thing]", got)
		}
	})
	run("GET /v1/audit/export", func(t *testing.T) {
		var buf bytes.Buffer
		if err := owner.AuditExport(bg, "", time.Now().Add(time.Hour), time.Time{}, &buf); err != nil {
			t.Fatal(err)
		}
		if buf.Len() != 0 {
			t.Fatalf("AuditExport(platform, from in an hour) = %q, want nothing", buf.String())
		}
	})
}

func actions(t *testing.T, buf *bytes.Buffer) []string {
	t.Helper()
	var out []string
	for dec := json.NewDecoder(buf); dec.More(); {
		var l audit.ExportLine
		if err := dec.Decode(&l); err != nil {
			t.Fatal(err)
		}
		out = append(out, l.Action)
	}
	return out
}

// keyChangeRoute: no change runs after onboarding.
func keyChangeRoute(e *env, run subtest) {
	run("GET /v1/tenants/{id}/key-change", func(t *testing.T) {
		st, err := e.client(e.owner).KeyChangeStatus(bg, "adm")
		if err != nil || st.Running || len(st.Regions) != 0 {
			t.Fatalf("KeyChangeStatus(adm) = %+v, %v; want none running", st, err)
		}
		_, err = e.client(e.owner).KeyChangeStatus(bg, "nobody")
		wantCode(t, err, "tenant_not_found", http.StatusNotFound)
	})
}

func auditKey(t *testing.T) audit.Key {
	t.Helper()
	root, err := envelope.NewTenantKey("platform-root", 1, bytes.Repeat([]byte{7}, 32))
	if err != nil {
		t.Fatal(err)
	}
	k, err := audit.DeriveKey(root)
	if err != nil {
		t.Fatal(err)
	}
	return k
}
