package storetest

import (
	"bytes"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/byok-dev/byok/internal/store"
)

// token returns a valid token created at t0 plus n minutes, expiring a day
// later.
func token(id, role, tenant string, n int) *store.Token {
	created := t0.Add(time.Duration(n) * time.Minute)
	return &store.Token{ID: id, Hash: bytes.Repeat([]byte{byte(n + 1)}, store.TokenHashLen), Role: role,
		Tenant: tenant, Name: "token " + id, CreatedAt: created, ExpiresAt: created.Add(24 * time.Hour)}
}

func mustToken(t *testing.T, s store.Store, tok *store.Token) {
	t.Helper()
	if err := s.CreateToken(ctx, tok); err != nil {
		t.Fatalf("CreateToken(%s) err = %v", tok.ID, err)
	}
}

func testTokens(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustCreate(t, s, "globex")
	wide, acme, globex := token("t1", "owner", "", 0), token("t2", "member", "acme", 1), token("t3", "admin", "globex", 2)
	for _, tok := range []*store.Token{globex, wide, acme} {
		mustToken(t, s, tok)
	}
	got, err := s.GetToken(ctx, "t2")
	if err != nil {
		t.Fatalf("GetToken() err = %v", err)
	}
	diff(t, "GetToken()", got, acme)
	all, err := s.ListTokens(ctx, "")
	if err != nil {
		t.Fatalf("ListTokens(all) err = %v", err)
	}
	diff(t, "ListTokens(all)", all, []*store.Token{wide, acme, globex})
	only, _ := s.ListTokens(ctx, "acme")
	diff(t, "ListTokens(acme)", only, []*store.Token{acme})
	if none, _ := s.ListTokens(ctx, "nobody"); len(none) != 0 {
		t.Fatalf("ListTokens(unknown tenant) = %v, want none", none)
	}
}

func testTokenErrors(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustToken(t, s, token("t1", "admin", "acme", 0))
	wantErr(t, "CreateToken(duplicate id)", s.CreateToken(ctx, token("t1", "admin", "", 1)), store.ErrConflict)
	wantErr(t, "CreateToken(unknown tenant)", s.CreateToken(ctx, token("t2", "admin", "nobody", 1)), store.ErrNotFound)
	_, err := s.GetToken(ctx, "t9")
	wantErr(t, "GetToken(unknown)", err, store.ErrNotFound)
	_, err = s.GetToken(ctx, "T1")
	wantErr(t, "GetToken(bad id)", err, store.ErrInvalid)
	_, err = s.ListTokens(ctx, "bad tenant")
	wantErr(t, "ListTokens(bad tenant)", err, store.ErrInvalid)
	wantErr(t, "RevokeToken(unknown)", s.RevokeToken(ctx, "t9", t0), store.ErrNotFound)
	wantErr(t, "TouchToken(unknown)", s.TouchToken(ctx, "t9", t0), store.ErrNotFound)
	wantErr(t, "TouchToken(no time)", s.TouchToken(ctx, "t1", time.Time{}), store.ErrInvalid)
	wantErr(t, "RevokeToken(bad id)", s.RevokeToken(ctx, "", t0), store.ErrInvalid)
}

func testTokenInvalid(t *testing.T, s store.Store) {
	bad := map[string]func(*store.Token){
		"id":        func(k *store.Token) { k.ID = "a-b" },
		"long id":   func(k *store.Token) { k.ID = strings.Repeat("a", store.MaxTokenIDLen+1) },
		"hash":      func(k *store.Token) { k.Hash = k.Hash[:31] },
		"role":      func(k *store.Token) { k.Role = "Owner" },
		"no role":   func(k *store.Token) { k.Role = "" },
		"tenant":    func(k *store.Token) { k.Tenant = "bad tenant" },
		"no name":   func(k *store.Token) { k.Name = "" },
		"long name": func(k *store.Token) { k.Name = strings.Repeat("n", store.MaxTokenNameLen+1) },
		"control":   func(k *store.Token) { k.Name = "a\nb" },
		"no expiry": func(k *store.Token) { k.ExpiresAt = time.Time{} },
		"expired":   func(k *store.Token) { k.ExpiresAt = k.CreatedAt },
		"created":   func(k *store.Token) { k.CreatedAt = time.Time{} },
		"revoked":   func(k *store.Token) { k.RevokedAt = time.Date(10000, 1, 1, 0, 0, 0, 0, time.UTC) },
	}
	for name, mutate := range bad {
		tok := token("t1", "admin", "", 0)
		mutate(tok)
		wantErr(t, "CreateToken(bad "+name+")", s.CreateToken(ctx, tok), store.ErrInvalid)
		wantErr(t, "CreateFirstToken(bad "+name+")", s.CreateFirstToken(ctx, tok, t0), store.ErrInvalid)
	}
	if got, _ := s.ListTokens(ctx, ""); len(got) != 0 {
		t.Fatalf("invalid tokens were stored: %v", got)
	}
}

func testTokenRevokeTouch(t *testing.T, s store.Store) {
	tok := token("t1", "service", "", 0)
	mustToken(t, s, tok)
	used := t0.Add(time.Hour + 123456789)
	for _, at := range []time.Time{used, used.Add(-time.Minute)} {
		if err := s.TouchToken(ctx, "t1", at); err != nil {
			t.Fatalf("TouchToken() err = %v", err)
		}
	}
	if err := s.RevokeToken(ctx, "t1", used.Add(time.Hour)); err != nil {
		t.Fatalf("RevokeToken() err = %v", err)
	}
	if err := s.RevokeToken(ctx, "t1", used.Add(2*time.Hour)); err != nil {
		t.Fatalf("RevokeToken(again) err = %v", err)
	}
	got, err := s.GetToken(ctx, "t1")
	if err != nil {
		t.Fatal(err)
	}
	tok.LastUsedAt, tok.RevokedAt = store.Trunc(used), store.Trunc(used.Add(time.Hour))
	diff(t, "GetToken() after touches and revocations", got, tok)
}

func testFirstToken(t *testing.T, s store.Store) {
	first := func(id string, now time.Time) error {
		return s.CreateFirstToken(ctx, token(id, "owner", "", 0), now)
	}
	if err := first("t1", t0); err != nil {
		t.Fatalf("CreateFirstToken() err = %v", err)
	}
	wantErr(t, "CreateFirstToken(live owner)", first("t2", t0), store.ErrConflict)
	mustToken(t, s, token("t3", "admin", "", 0))
	if err := s.CreateFirstToken(ctx, token("t4", "super_admin", "", 0), t0); err != nil {
		t.Fatalf("CreateFirstToken(other role) err = %v", err)
	}
	if err := s.RevokeToken(ctx, "t1", t0); err != nil {
		t.Fatal(err)
	}
	if err := first("t5", t0); err != nil {
		t.Fatalf("CreateFirstToken(owner revoked) err = %v", err)
	}
	wantErr(t, "CreateFirstToken(new live owner)", first("t6", t0.Add(23*time.Hour)), store.ErrConflict)
	if err := first("t7", t0.Add(24*time.Hour)); err != nil {
		t.Fatalf("CreateFirstToken(owner expired) err = %v", err)
	}
}

func testFirstTokenRace(t *testing.T, s store.Store) {
	const n = 8
	errs := make([]error, n)
	var wg sync.WaitGroup
	for i := range n {
		wg.Go(func() { errs[i] = s.CreateFirstToken(ctx, token(fmt.Sprintf("t%d", i), "owner", "", 0), t0) })
	}
	wg.Wait()
	checkOneWinner(t, errs, store.ErrConflict)
	if got, _ := s.ListTokens(ctx, ""); len(got) != 1 {
		t.Fatalf("ListTokens() after the race = %d tokens, want 1", len(got))
	}
}

func testTokensGoWithTenant(t *testing.T, s store.Store) {
	mustCreate(t, s, "acme")
	mustToken(t, s, token("t1", "member", "acme", 0))
	mustToken(t, s, token("t2", "member", "", 1))
	if err := s.DeleteTenant(ctx, "acme"); err != nil {
		t.Fatalf("DeleteTenant() err = %v", err)
	}
	_, err := s.GetToken(ctx, "t1")
	wantErr(t, "GetToken(token of a deleted tenant)", err, store.ErrNotFound)
	if _, err := s.GetToken(ctx, "t2"); err != nil {
		t.Fatalf("GetToken(platform token) after deleting a tenant err = %v", err)
	}
}
