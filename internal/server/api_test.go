package server

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/client"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/tenant"
)

// TestAPI drives every route through the real client against the real
// server, one subtest per route, and checks that none was left out.
func TestAPI(t *testing.T) {
	e := newEnv(t)
	admin := e.client(e.owner)
	other := e.client(e.other)
	var member *client.Client
	ec := client.Context{"table": "orders", "row": "42"}
	var sealed []byte
	var streamCT []byte
	streamPT := make([]byte, 300<<10+17) // several segments and a partial one
	rand.Read(streamPT)

	tested := map[string]bool{}
	run := func(name string, f func(t *testing.T)) {
		tested[name] = true
		if !t.Run(name, f) {
			t.FailNow()
		}
	}

	run("GET /healthz", func(t *testing.T) { wantGet(t, e, "/healthz", http.StatusOK, `"ok"`) })
	run("GET /readyz", func(t *testing.T) { wantGet(t, e, "/readyz", http.StatusOK, `"ready"`) })
	run("GET /v1/openapi.json", func(t *testing.T) { wantGet(t, e, "/v1/openapi.json", http.StatusOK, `"openapi": "3.1.0"`) })

	run("POST /v1/tenants", func(t *testing.T) {
		tn, err := admin.CreateTenant(bg, client.CreateTenant{ID: "acme", Name: "Acme Corp"})
		if err != nil || tn.State != "pending" || tn.Revision != 1 || tn.ExternalID == "" {
			t.Fatalf("CreateTenant() = %+v, %v; want a pending tenant with an External ID", tn, err)
		}
		member = e.client(e.memberOf("acme"))
		_, err = admin.CreateTenant(bg, client.CreateTenant{ID: "acme", Name: "Again"})
		wantCode(t, err, "tenant_exists", http.StatusConflict)
		if ce := err.(*client.Error); ce.Message != "tenant acme already exists" || strings.Contains(ce.Hint(), "revision") {
			t.Fatalf("CreateTenant(existing) = %q, hint %q; want it to say the tenant exists", ce.Message, ce.Hint())
		}
		_, err = member.CreateTenant(bg, client.CreateTenant{ID: "evil", Name: "Evil"})
		wantCode(t, err, "forbidden", http.StatusForbidden)
		_, err = admin.CreateTenant(bg, client.CreateTenant{ID: "Not Valid!", Name: "x"})
		if client.Code(err) == "" || err.(*client.Error).Status != http.StatusBadRequest {
			t.Fatalf("bad id: err = %v, want a 400", err)
		}
	})
	run("GET /v1/tenants", func(t *testing.T) {
		for _, id := range []string{"beta", "gamma"} {
			if _, err := admin.CreateTenant(bg, client.CreateTenant{ID: id, Name: id}); err != nil {
				t.Fatal(err)
			}
		}
		var ids []string
		opts := client.ListOptions{Limit: 2}
		for {
			p, err := admin.Tenants(bg, opts)
			if err != nil {
				t.Fatal(err)
			}
			for _, tn := range p.Tenants {
				ids = append(ids, tn.ID)
			}
			if p.Next == "" {
				break
			}
			opts.Cursor = p.Next
		}
		if strings.Join(ids, ",") != "acme,beta,gamma,other" {
			t.Fatalf("paged listing = %v, want acme,beta,gamma,other", ids)
		}
		_, err := member.Tenants(bg, client.ListOptions{})
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("GET /v1/tenants/{id}", func(t *testing.T) {
		tn, err := member.Tenant(bg, "acme")
		if err != nil || tn.Name != "Acme Corp" {
			t.Fatalf("Tenant() = %+v, %v", tn, err)
		}
		_, err = admin.Tenant(bg, "nobody")
		wantCode(t, err, "tenant_not_found", http.StatusNotFound)
		_, err = other.Tenant(bg, "acme")
		wantCode(t, err, "forbidden", http.StatusForbidden)
		_, err = e.client("byok_bogus").Tenant(bg, "acme")
		wantCode(t, err, "unauthenticated", http.StatusUnauthorized)
	})
	run("PATCH /v1/tenants/{id}", func(t *testing.T) {
		tn, err := admin.RenameTenant(bg, "acme", "Acme Inc", 1)
		if err != nil || tn.Name != "Acme Inc" || tn.Revision != 2 {
			t.Fatalf("RenameTenant() = %+v, %v", tn, err)
		}
		_, err = admin.RenameTenant(bg, "acme", "Stale", 1)
		wantCode(t, err, "conflict", http.StatusConflict)
	})
	run("POST /v1/tenants/{id}/encrypt", func(t *testing.T) {
		_, err := member.Encrypt(bg, "acme", []byte("early"), nil)
		wantCode(t, err, CodeTenantNotActive, http.StatusConflict)
	})
	run("GET /v1/tenants/{id}/artifacts", func(t *testing.T) {
		files, err := admin.Artifacts(bg, "acme", client.ArtifactRequest{Region: home, KeyARN: mrkARN})
		if err != nil || len(files) < 4 {
			t.Fatalf("Artifacts() = %d files, %v", len(files), err)
		}
		for _, f := range []string{client.FormatKeyPolicy, client.FormatKeyPolicyStatements, client.FormatCloudFormation, client.FormatTerraform} {
			b, err := admin.Artifact(bg, "acme", f, client.ArtifactRequest{Region: home, KeyARN: mrkARN})
			if err != nil || len(b) == 0 {
				t.Fatalf("Artifact(%s) = %d bytes, %v", f, len(b), err)
			}
		}
		role := client.ArtifactRequest{Region: home, KeyARN: mrkARN, Pattern: "assume_role"}
		for _, f := range []string{client.FormatTrustPolicy, client.FormatRolePolicy} {
			b, err := admin.Artifact(bg, "acme", f, role)
			if err != nil || !json.Valid(b) {
				t.Fatalf("Artifact(%s, assume_role) = %q, %v", f, b, err)
			}
		}
		_, err = admin.Artifact(bg, "acme", client.FormatTrustPolicy, client.ArtifactRequest{Region: home, KeyARN: mrkARN})
		wantCode(t, err, "artifact_not_found", http.StatusNotFound)
		_, err = admin.Artifact(bg, "acme", "pdf", client.ArtifactRequest{Region: home})
		wantCode(t, err, "invalid_format", http.StatusBadRequest)
		_, err = admin.Artifacts(bg, "acme", client.ArtifactRequest{Region: "mars-1"})
		if client.Code(err) == "" || err.(*client.Error).Status != http.StatusBadRequest {
			t.Fatalf("unknown region: err = %v, want a 400 with a code", err)
		}
		_, err = member.Artifacts(bg, "acme", client.ArtifactRequest{Region: home})
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("PUT /v1/tenants/{id}/keys/{region}", func(t *testing.T) {
		_, err := admin.AttachKey(bg, "acme", home, "not-an-arn", "")
		if err.(*client.Error).Status != http.StatusBadRequest {
			t.Fatalf("bad ARN: err = %v, want 400", err)
		}
		a, err := admin.AttachKey(bg, "acme", home, mrkARN, "")
		if err != nil || a.KeyARN != mrkARN || a.AccessPattern != "direct" {
			t.Fatalf("AttachKey() = %+v, %v", a, err)
		}
	})
	run("GET /v1/tenants/{id}/keys", func(t *testing.T) {
		keys, err := admin.Keys(bg, "acme")
		if err != nil || len(keys) != 1 || keys[0].Region != home {
			t.Fatalf("Keys() = %+v, %v", keys, err)
		}
	})
	run("POST /v1/tenants/{id}/validate", func(t *testing.T) {
		v, err := admin.Validate(bg, "acme")
		if err != nil || v.OK || len(v.Reports) != 1 {
			t.Fatalf("Validate() before granting = %+v, %v; want a failing report", v, err)
		}
	})
	run("POST /v1/tenants/{id}/enable", func(t *testing.T) {
		_, err := admin.Enable(bg, "acme")
		wantCode(t, err, "validation_failed", http.StatusUnprocessableEntity)
		reports, rerr := err.(*client.Error).Reports()
		if rerr != nil || len(reports) != 1 || len(reports[0].Report.Checks) == 0 {
			t.Fatalf("validation_failed details = %+v, %v; want the reports", reports, rerr)
		}
		policy, err := admin.Artifact(bg, "acme", client.FormatKeyPolicy, client.ArtifactRequest{Region: home, KeyARN: mrkARN})
		if err != nil {
			t.Fatal(err)
		}
		e.grant(policy)
		if v, err := admin.Validate(bg, "acme"); err != nil || !v.OK {
			t.Fatalf("Validate() after granting = %+v, %v", v, err)
		}
		res, err := admin.Enable(bg, "acme")
		if err != nil || res.Tenant.State != "active" {
			t.Fatalf("Enable() = %+v, %v", res, err)
		}
		_, err = admin.Enable(bg, "acme")
		wantCode(t, err, "already_enabled", http.StatusConflict)
	})
	run("POST /v1/tenants/{id}/decrypt", func(t *testing.T) {
		var err error
		sealed, err = member.Encrypt(bg, "acme", []byte("card 4111"), ec)
		if err != nil {
			t.Fatal(err)
		}
		pt, err := member.Decrypt(bg, "acme", sealed, ec)
		if err != nil || string(pt) != "card 4111" {
			t.Fatalf("Decrypt() = %q, %v", pt, err)
		}
		_, err = member.Decrypt(bg, "acme", sealed, client.Context{"table": "users"})
		if c := client.Code(err); c != "invalid_ciphertext" && c != "context_mismatch" {
			t.Fatalf("wrong context: err = %v", err)
		}
		bad := bytes.Clone(sealed)
		bad[len(bad)-1] ^= 1
		_, err = member.Decrypt(bg, "acme", bad, ec)
		wantCode(t, err, "invalid_ciphertext", http.StatusBadRequest)
		_, err = member.Decrypt(bg, "acme", []byte("junk"), nil)
		wantCode(t, err, "invalid_ciphertext", http.StatusBadRequest)
		_, err = other.Decrypt(bg, "acme", sealed, ec)
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("POST /v1/tenants/{id}/encrypt/batch", func(t *testing.T) {
		recs := []client.Record{{Data: []byte("a")}, {Data: []byte("b"), Context: ec}, {Data: []byte("c"), Context: client.Context{"": "x"}}}
		res, err := member.EncryptBatch(bg, "acme", recs)
		if err != nil || len(res) != 3 || res[0].Err != nil || res[1].Err != nil {
			t.Fatalf("EncryptBatch() = %+v, %v", res, err)
		}
		if client.Code(res[2].Err) != "invalid_context" {
			t.Fatalf("record with an empty context key: err = %v, want invalid_context", res[2].Err)
		}
		_, err = member.EncryptBatch(bg, "acme", make([]client.Record, 101))
		wantCode(t, err, CodeBatchTooLarge, http.StatusRequestEntityTooLarge)
		_, err = member.EncryptBatch(bg, "acme", nil)
		wantCode(t, err, CodeInvalidRequest, http.StatusBadRequest)
	})
	run("POST /v1/tenants/{id}/decrypt/batch", func(t *testing.T) {
		res, err := member.DecryptBatch(bg, "acme", []client.Record{{Data: sealed, Context: ec}, {Data: sealed}})
		if err != nil || string(res[0].Data) != "card 4111" || res[1].Err == nil {
			t.Fatalf("DecryptBatch() = %+v, %v; want the first opened and the second refused", res, err)
		}
	})
	run("POST /v1/tenants/{id}/encrypt/stream", func(t *testing.T) {
		var out bytes.Buffer
		_, err := member.EncryptStream(bg, "acme", &out, bytes.NewReader(streamPT), ec)
		if err != nil || out.Len() <= len(streamPT) {
			t.Fatalf("EncryptStream() = %d bytes, %v", out.Len(), err)
		}
		streamCT = out.Bytes()
		if bytes.Contains(streamCT, streamPT[:64]) {
			t.Fatal("the stream ciphertext contains the plaintext")
		}
	})
	run("POST /v1/tenants/{id}/decrypt/stream", func(t *testing.T) {
		var out bytes.Buffer
		if _, err := member.DecryptStream(bg, "acme", &out, bytes.NewReader(streamCT), ec); err != nil || !bytes.Equal(out.Bytes(), streamPT) {
			t.Fatalf("DecryptStream() = %d bytes (equal %v), %v", out.Len(), bytes.Equal(out.Bytes(), streamPT), err)
		}
		_, err := member.DecryptStream(bg, "acme", io.Discard, bytes.NewReader(streamCT[:len(streamCT)-100]), ec)
		if err == nil {
			t.Fatal("DecryptStream(truncated) err = nil, want an error")
		}
		_, err = member.DecryptStream(bg, "acme", io.Discard, bytes.NewReader(streamCT), client.Context{"row": "43"})
		if err == nil {
			t.Fatal("DecryptStream(wrong context) err = nil, want an error")
		}
		var outcomes []string
		for _, ev := range e.audit.find("data.decrypt", "acme") {
			outcomes = append(outcomes, ev.Outcome)
		}
		// The truncated stream fails after its answer started, yet its audit
		// record carries the failure's code, not a generic one.
		if got := strings.Join(outcomes, ","); !strings.HasSuffix(got, ",ok,invalid_ciphertext,invalid_ciphertext") {
			t.Fatalf("data.decrypt outcomes = %s; want ok then the stream failures' codes last", got)
		}
	})
	run("GET /v1/tenants/{id}/state", func(t *testing.T) {
		st, err := admin.State(bg, "acme")
		if err != nil || st.State != "active" || len(st.Attachments) != 1 || st.Keyring.CacheHits == 0 {
			t.Fatalf("State() = %+v, %v", st, err)
		}
	})
	run("GET /v1/tenants/{id}/health", func(t *testing.T) {
		recs, err := admin.Health(bg, "acme", 10)
		if err != nil || recs == nil {
			t.Fatalf("Health() = %v, %v; want an empty list before any probe", recs, err)
		}
		_, err = admin.Health(bg, "nobody", 0)
		wantCode(t, err, "tenant_not_found", http.StatusNotFound)
	})
	run("GET /metrics", func(t *testing.T) {
		body := wantGet(t, e, "/metrics", http.StatusOK, `byok_tenants{state="active"} 1`)
		for _, want := range []string{`byok_kms_call_duration_seconds_count{op="wrap",outcome="ok",provider="aws-kms"}`, `byok_http_requests_total{method="POST",route="/v1/tenants/{id}/encrypt",status="200"}`,
			`byok_kms_calls_total{op="wrap",outcome="ok",provider="aws-kms"} 2`, `byok_keyring_cache_total{result="hit"}`} {
			if !strings.Contains(body, want) {
				t.Errorf("metrics lack %s in\n%s", want, grepLines(body, "byok_kms"))
			}
		}
	})
	run("POST /v1/tenants/{id}/rotate", func(t *testing.T) {
		v, err := admin.Rotate(bg, "acme")
		if err != nil || v.Version != 2 || len(v.Keys) == 0 {
			t.Fatalf("Rotate() = %+v, %v; want version 2", v, err)
		}
		if pt, err := member.Decrypt(bg, "acme", sealed, ec); err != nil || string(pt) != "card 4111" {
			t.Fatalf("data sealed before the rotation: %q, %v", pt, err)
		}
		_, err = member.Rotate(bg, "acme")
		wantCode(t, err, "forbidden", http.StatusForbidden)
	})
	run("GET /v1/tenants/{id}/regions", func(t *testing.T) {
		rs, err := admin.Regions(bg, "acme")
		if err != nil || rs == nil {
			t.Fatalf("Regions() = %+v, %v", rs, err)
		}
	})
	run("POST /v1/tenants/{id}/regions", func(t *testing.T) {
		_, err := admin.AddRegion(bg, "acme", "mars-1", "", "")
		if e := (*client.Error)(nil); !errors.As(err, &e) || e.Status != http.StatusBadRequest {
			t.Fatalf("AddRegion(unknown region) err = %v, want a 400", err)
		}
	})
	run("POST /v1/tenants/{id}/keys/{region}/change", func(t *testing.T) {
		// The platform's policy here binds keys immutably.
		_, err := admin.ChangeKey(bg, "acme", home, mrkARN, "")
		wantCode(t, err, "key_binding_immutable", http.StatusConflict)
	})
	run("PUT /v1/tenants/{id}/policy", func(t *testing.T) {
		// The tenant's own admin may not lift the platform's rule.
		_, err := e.scoped(auth.RoleAdmin, "acme").SetPolicyOverrides(bg, "acme", client.PolicyOverrides{KeyBinding: "changeable"})
		wantCode(t, err, "forbidden", http.StatusForbidden)
		_, err = admin.SetPolicyOverrides(bg, "acme", client.PolicyOverrides{KeyBinding: "sometimes"})
		wantCode(t, err, "invalid_argument", http.StatusBadRequest)
		tn, err := admin.SetPolicyOverrides(bg, "acme", client.PolicyOverrides{KeyBinding: "changeable"})
		if err != nil || tn.PolicyOverrides == nil || tn.PolicyOverrides.KeyBinding != "changeable" {
			t.Fatalf("SetPolicyOverrides(changeable) = %+v, %v", tn, err)
		}
		// Past the binding rule now, the same key is refused as the same key.
		_, err = admin.ChangeKey(bg, "acme", home, mrkARN, "")
		wantCode(t, err, "same_key", http.StatusConflict)
		if tn, err = admin.SetPolicyOverrides(bg, "acme", client.PolicyOverrides{}); err != nil || tn.PolicyOverrides != nil {
			t.Fatalf("SetPolicyOverrides(none) = %+v, %v; want the platform's policy again", tn, err)
		}
		_, err = admin.ChangeKey(bg, "acme", home, mrkARN, "")
		wantCode(t, err, "key_binding_immutable", http.StatusConflict)
	})
	run("GET /v1/tenants/{id}/receipt", func(t *testing.T) {
		_, err := admin.Receipt(bg, "acme")
		if e := (*client.Error)(nil); !errors.As(err, &e) || e.Status/100 != 4 {
			t.Fatalf("Receipt() before offboarding err = %v, want a 4xx", err)
		}
	})
	run("POST /v1/tenants/{id}/offboard", func(t *testing.T) {
		if _, err := admin.CreateTenant(bg, client.CreateTenant{ID: "leaving", Name: "Leaving"}); err != nil {
			t.Fatal(err)
		}
		leaving := e.client(e.memberOf("leaving"))
		ct, err := e.keyring.Seal(bg, "leaving", []byte("soon gone"), nil)
		if err != nil {
			t.Fatal(err)
		}
		sr, err := admin.Offboard(bg, "leaving")
		if err != nil {
			t.Fatalf("Offboard() err = %v", err)
		}
		if _, err := control.VerifyReceipt(e.receipts.PublicKey(), &control.SignedReceipt{Receipt: sr.Receipt, Signature: sr.Signature}); err != nil {
			t.Fatalf("the receipt does not verify: %v", err)
		}
		again, err := admin.Receipt(bg, "leaving")
		if err != nil || !bytes.Equal(again.Signature, sr.Signature) {
			t.Fatalf("Receipt() = %+v, %v; want the offboarding's receipt", again, err)
		}
		tested["GET /v1/receipt-keys"] = true
		wantGet(t, e, "/v1/receipt-keys", http.StatusOK, control.SignerID(e.receipts.PublicKey()))
		keys, err := admin.ReceiptKeys(bg)
		if err != nil || len(keys) != 1 {
			t.Fatalf("ReceiptKeys() = %+v, %v; want the one signing key", keys, err)
		}
		if _, err := control.VerifyReceipt(keys[0].PublicKey, &control.SignedReceipt{Receipt: sr.Receipt, Signature: sr.Signature}); err != nil {
			t.Fatalf("the receipt does not verify under the published key: %v", err)
		}
		_, err = leaving.Decrypt(bg, "leaving", ct, nil)
		wantCode(t, err, "tenant_shredded", http.StatusGone)
	})
	t.Run("key disabled", func(t *testing.T) {
		if _, err := e.customer(home).DisableKey(bg, &kmsapi.DisableKeyInput{KeyId: aws.String(mrkID)}); err != nil {
			t.Fatal(err)
		}
		e.keyring.Evict("acme") // what the monitor does on a definitive probe failure
		_, err := member.Decrypt(bg, "acme", sealed, ec)
		wantCode(t, err, "key_disabled", http.StatusLocked)
		_, err = member.DecryptBatch(bg, "acme", []client.Record{{Data: sealed, Context: ec}})
		wantCode(t, err, "key_disabled", http.StatusLocked)
	})
	t.Run("tenant states", func(t *testing.T) {
		for state, code := range map[tenant.State]string{tenant.StateKeyUnavailable: CodeKeyUnavailable,
			tenant.StateSuspended: CodeTenantSuspended, tenant.StateShredded: "tenant_shredded"} {
			tn, err := e.store.GetTenant(bg, "acme")
			if err != nil {
				t.Fatal(err)
			}
			if _, err := e.store.UpdateTenant(bg, "acme", tn.Revision, func(t *tenant.Tenant) error { t.State = state; return nil }); err != nil {
				t.Fatal(err)
			}
			_, err = member.Encrypt(bg, "acme", []byte("x"), nil)
			if client.Code(err) != code {
				t.Errorf("encrypt with the tenant %s: err = %v, want %s", state, err, code)
			}
		}
	})
	t.Run("audit", func(t *testing.T) {
		if ev := e.audit.find("key.enable", "acme"); len(ev) != 3 || ev[0].Outcome != "validation_failed" || ev[1].Outcome != "ok" || ev[1].KeyARN == "" {
			t.Fatalf("key.enable events = %+v; want failed, ok (with key ARN), already_enabled", ev)
		}
		ev := e.audit.find("data.encrypt", "acme")
		var n uint64
		for _, x := range ev {
			n += x.Count
		}
		if n < 4 || ev[0].Actor == "" {
			t.Fatalf("data.encrypt events = %+v; want counts and an actor", ev)
		}
	})
	adminRoutes(t, e, run)
	for _, rt := range routes {
		if !tested[rt.method+" "+rt.path] {
			t.Errorf("route %s %s has no subtest", rt.method, rt.path)
		}
	}
}

// wantGet fetches path without a token and checks the status and a substring.
func wantGet(t *testing.T, e *env, path string, status int, contains string) string {
	t.Helper()
	resp, err := http.Get(e.http.URL + path)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != status || !strings.Contains(string(b), contains) {
		t.Fatalf("GET %s = %d %.300s; want %d containing %s", path, resp.StatusCode, b, status, contains)
	}
	return string(b)
}

func grepLines(s, substr string) string {
	var out []string
	for _, l := range strings.Split(s, "\n") {
		if strings.Contains(l, substr) {
			out = append(out, l)
		}
	}
	return strings.Join(out, "\n")
}

// TestStateCache checks that a state change made by another instance
// reaches the data plane within the tenant cache's TTL, and not before (the
// cache saves a query per record).
func TestStateCache(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	cfg := e.server.cfg
	svc, err := control.New(control.Config{Platform: platformConfig(t), Store: e.store, Keyring: e.keyring,
		Validator: &onboarding.Validator{Config: platformConfig(t)}, Tenants: tenant.NewManager(e.store, 300*time.Millisecond)})
	if err != nil {
		t.Fatal(err)
	}
	cfg.Registry, cfg.Control = nil, svc
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	e.http.Config.Handler = srv.Handler()
	member := e.client(e.memberOf("acme"))
	if _, err := member.Encrypt(bg, "acme", []byte("x"), nil); err != nil {
		t.Fatal(err)
	}
	tn, _ := e.store.GetTenant(bg, "acme")
	if _, err := e.store.UpdateTenant(bg, "acme", tn.Revision, func(t *tenant.Tenant) error { t.State = tenant.StateSuspended; return nil }); err != nil {
		t.Fatal(err)
	}
	changed := time.Now()
	_, err = member.Encrypt(bg, "acme", []byte("x"), nil)
	if time.Since(changed) < 200*time.Millisecond && err != nil {
		t.Fatalf("encrypt right after the change: %v, want the cached state to serve", err)
	}
	time.Sleep(time.Until(changed.Add(350 * time.Millisecond)))
	_, err = member.Encrypt(bg, "acme", []byte("x"), nil)
	wantCode(t, err, CodeTenantSuspended, http.StatusLocked)
}
