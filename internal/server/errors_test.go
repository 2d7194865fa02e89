package server

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/byok-dev/byok/client"
)

func serveOnce(e *env, h http.Handler, method, path, token, body string) *httptest.ResponseRecorder {
	req := httptest.NewRequest(method, path, strings.NewReader(body))
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	return rec
}

func decodeErr(t *testing.T, rec *httptest.ResponseRecorder) *Error {
	t.Helper()
	var e Error
	if err := json.Unmarshal(rec.Body.Bytes(), &e); err != nil || e.Code == "" {
		t.Fatalf("answer %d %q is not a JSON error", rec.Code, rec.Body)
	}
	return &e
}

// Answers the mux would give as text are JSON errors with stable codes.
func TestErrorAnswers(t *testing.T) {
	e := newEnv(t)
	h := e.server.Handler()
	for _, tc := range []struct {
		method, path, token, body string
		status                    int
		code                      string
	}{
		{"DELETE", "/v1/tenants/acme", e.owner, "", http.StatusMethodNotAllowed, CodeMethodNotAllowed},
		{"GET", "/v2/anything", e.owner, "", http.StatusNotFound, CodeNotFoundRoute},
		{"POST", "/v1/tenants", e.owner, `{"id":"x","name":"` + strings.Repeat("a", DefaultMaxBody) + `"}`, http.StatusRequestEntityTooLarge, CodeBodyTooLarge},
		{"POST", "/v1/tenants", e.owner, `{"id":"x","name":"y","extra":1}`, http.StatusBadRequest, CodeInvalidRequest},
		{"POST", "/v1/tenants", e.owner, `{"id":"x","name":"y"}{}`, http.StatusBadRequest, CodeInvalidRequest},
		{"POST", "/v1/tenants", "", `{}`, http.StatusUnauthorized, "unauthenticated"},
		{"POST", "/v1/tenants/other/enable", e.owner, `{"x":1}`, http.StatusBadRequest, CodeInvalidRequest},
		{"GET", "/v1/tenants/other/health?limit=x", e.owner, "", http.StatusBadRequest, "invalid_argument"},
	} {
		rec := serveOnce(e, h, tc.method, tc.path, tc.token, tc.body)
		if got := decodeErr(t, rec); rec.Code != tc.status || got.Code != tc.code {
			t.Errorf("%s %s = %d %s, want %d %s", tc.method, tc.path, rec.Code, got.Code, tc.status, tc.code)
		}
	}
}

// A panic answers 500 with a generic message and the request id, and the
// cause is logged under that id.
func TestPanicIsInternalError(t *testing.T) {
	e := newEnv(t)
	h := e.server.wrap(&route{method: "GET", path: "/boom", body: bodyNone,
		handler: func(*Server, http.ResponseWriter, *http.Request, *call) error { panic("secret detail") }})
	rec := serveOnce(e, h, "GET", "/boom", "", "")
	got := decodeErr(t, rec)
	id := rec.Header().Get(RequestIDHeader)
	if rec.Code != 500 || got.Code != CodeInternal || got.RequestID != id || strings.Contains(rec.Body.String(), "secret") {
		t.Fatalf("panic answered %d %s", rec.Code, rec.Body)
	}
	if logs := e.logs.String(); !strings.Contains(logs, `"request_id":"`+id+`"`) || !strings.Contains(logs, "secret detail") {
		t.Fatalf("the panic is not logged under its request id:\n%s", logs)
	}
}

// Liveness never depends on the database; readiness does.
func TestHealthAndReadiness(t *testing.T) {
	e := newEnv(t)
	h := e.server.Handler()
	e.store.Close()
	if rec := serveOnce(e, h, "GET", "/healthz", "", ""); rec.Code != http.StatusOK {
		t.Errorf("/healthz with the database closed = %d, want 200", rec.Code)
	}
	if rec := serveOnce(e, h, "GET", "/readyz", "", ""); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("/readyz with the database closed = %d, want 503", rec.Code)
	}
}

// Messages speak to the caller: no package prefixes, no code repeated.
func TestErrorMessagesHaveNoInternalPrefixes(t *testing.T) {
	e := newEnv(t)
	h := e.server.Handler()
	for _, tc := range []struct{ method, path, body, code string }{
		{"GET", "/v1/tenants/nobody", "", "tenant_not_found"},
		{"PATCH", "/v1/tenants/other", `{"name":"x","revision":99}`, "conflict"},
		{"PUT", "/v1/tenants/other/keys/mars-1", `{"key_arn":"arn:aws:kms:mars-1:222222222222:key/k"}`, "unknown_region"},
	} {
		rec := serveOnce(e, h, tc.method, tc.path, e.owner, tc.body)
		got := decodeErr(t, rec)
		if got.Code != tc.code {
			t.Errorf("%s %s = %d %s %q, want code %s", tc.method, tc.path, rec.Code, got.Code, got.Message, tc.code)
		}
		for _, bad := range []string{"store:", "tenant:", "control:", "(" + tc.code + ")"} {
			if strings.Contains(got.Message, bad) {
				t.Errorf("%s %s: message %q holds %q", tc.method, tc.path, got.Message, bad)
			}
		}
	}
}

// withVersion returns ct with the key version its header names replaced.
func withVersion(ct []byte, tenant string, v uint32) []byte {
	out := bytes.Clone(ct)
	binary.BigEndian.PutUint32(out[8+len(tenant):], v)
	return out
}

// A ciphertext naming a key version the tenant does not have is the
// caller's bad input, key_version_unknown, in records, batches and streams.
func TestUnknownKeyVersion(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	member := e.client(e.memberOf("acme"))
	ct, err := member.Encrypt(bg, "acme", []byte("x"), nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = member.Decrypt(bg, "acme", withVersion(ct, "acme", 99), nil)
	wantCode(t, err, "key_version_unknown", http.StatusBadRequest)

	res, err := member.DecryptBatch(bg, "acme", []client.Record{{Data: ct}, {Data: withVersion(ct, "acme", 99)}})
	if err != nil || res[0].Err != nil {
		t.Fatalf("DecryptBatch() = %+v, %v; want the first record to open", res, err)
	}
	wantCode(t, res[1].Err, "key_version_unknown", http.StatusBadRequest)

	var sealed bytes.Buffer
	if _, err := member.EncryptStream(bg, "acme", &sealed, strings.NewReader("stream"), nil); err != nil {
		t.Fatal(err)
	}
	_, err = member.DecryptStream(bg, "acme", io.Discard, bytes.NewReader(withVersion(sealed.Bytes(), "acme", 99)), nil)
	wantCode(t, err, "key_version_unknown", http.StatusBadRequest)
}
