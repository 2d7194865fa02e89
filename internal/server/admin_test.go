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
	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/store"
)

// TestTokenRoutes issues, lists and revokes a token through the client and
// checks that the revoked token is refused at once.
func TestTokenRoutes(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	owner := e.client(e.owner)
	var tok *client.Token
	t.Run("POST /v1/tokens", func(t *testing.T) {
		var err error
		tok, err = owner.CreateToken(bg, client.CreateToken{Role: "member", Tenant: "acme", Name: "billing", TTL: time.Hour})
		if err != nil || !strings.HasPrefix(tok.Token, "byok_"+tok.ID+"_") || tok.Role != "member" || tok.Tenant != "acme" {
			t.Fatalf("CreateToken() = %+v, %v; want a member token of acme", tok, err)
		}
		if _, err := e.client(tok.Token).Encrypt(bg, "acme", []byte("x"), nil); err != nil {
			t.Fatalf("Encrypt() with the new token: %v", err)
		}
		_, err = owner.CreateToken(bg, client.CreateToken{Role: "wizard", Name: "x"})
		wantCode(t, err, "invalid_argument", http.StatusBadRequest)
		_, err = e.client(tok.Token).CreateToken(bg, client.CreateToken{Role: "member", Tenant: "acme", Name: "x"})
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	t.Run("GET /v1/tokens", func(t *testing.T) {
		ts, err := owner.Tokens(bg, "acme")
		if err != nil {
			t.Fatal(err)
		}
		var found bool
		for _, x := range ts {
			found = found || (x.ID == tok.ID && x.Token == "")
		}
		if !found {
			t.Fatalf("Tokens(acme) = %+v; want %s listed without its secret", ts, tok.ID)
		}
	})
	t.Run("DELETE /v1/tokens/{token}", func(t *testing.T) {
		if err := owner.RevokeToken(bg, tok.ID); err != nil {
			t.Fatal(err)
		}
		_, err := e.client(tok.Token).Encrypt(bg, "acme", []byte("x"), nil)
		wantCode(t, err, "unauthenticated", http.StatusUnauthorized)
		wantCode(t, owner.RevokeToken(bg, "nosuchtoken"), "not_found", http.StatusNotFound)
	})
}

// TestAuditRoutes writes events with a real audit log and reads them back
// through the client: the newest N in order, and the export.
func TestAuditRoutes(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	log, err := audit.New(audit.Config{Store: e.store.(store.AuditStore), Key: auditKey(t)})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 5 {
		ev := audit.Event{Time: time.Now(), Tenant: "acme", Actor: "test", Action: fmt.Sprintf("key.step%d", i), Outcome: "ok"}
		if err := log.Record(bg, ev); err != nil {
			t.Fatal(err)
		}
	}
	if err := log.Record(bg, audit.Event{Time: time.Now(), Actor: "test", Action: "platform.thing", Outcome: "ok"}); err != nil {
		t.Fatal(err)
	}
	owner := e.client(e.owner)
	t.Run("GET /v1/tenants/{id}/audit", func(t *testing.T) {
		var buf bytes.Buffer
		if err := owner.AuditTail(bg, "acme", 2, &buf); err != nil {
			t.Fatal(err)
		}
		if got := actions(t, &buf); strings.Join(got, ",") != "key.step3,key.step4" {
			t.Fatalf("AuditTail(acme, 2) actions = %v, want the last two in order", got)
		}
		err := e.client(e.other).AuditTail(bg, "acme", 2, &buf)
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	t.Run("GET /v1/tenants/{id}/audit/export", func(t *testing.T) {
		var buf bytes.Buffer
		if err := owner.AuditExport(bg, "acme", time.Time{}, time.Time{}, &buf); err != nil {
			t.Fatal(err)
		}
		if got := actions(t, &buf); len(got) != 5 || got[0] != "key.step0" {
			t.Fatalf("AuditExport(acme) actions = %v, want the 5 events", got)
		}
	})
	t.Run("GET /v1/audit", func(t *testing.T) {
		var buf bytes.Buffer
		if err := owner.AuditTail(bg, "", 10, &buf); err != nil {
			t.Fatal(err)
		}
		if got := actions(t, &buf); len(got) != 1 || got[0] != "platform.thing" {
			t.Fatalf("AuditTail(platform) actions = %v, want [platform.thing]", got)
		}
	})
	t.Run("GET /v1/audit/export", func(t *testing.T) {
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

// TestKeyChangeStatusRoute: no change runs after onboarding.
func TestKeyChangeStatusRoute(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	st, err := e.client(e.owner).KeyChangeStatus(bg, "acme")
	if err != nil || st.Running {
		t.Fatalf("KeyChangeStatus(acme) = %+v, %v; want none running", st, err)
	}
	_, err = e.client(e.owner).KeyChangeStatus(bg, "nobody")
	wantCode(t, err, "tenant_not_found", http.StatusNotFound)
}

func auditKey(t *testing.T) audit.Key {
	t.Helper()
	k, err := audit.NewKey(bytes.Repeat([]byte{7}, audit.KeySize))
	if err != nil {
		t.Fatal(err)
	}
	return k
}
