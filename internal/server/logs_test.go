package server

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/byok-dev/byok/client"
)

// TestLogsHoldNoSecrets runs a full session and scans everything logged for
// the plaintext, the tokens, the ciphertexts and the key material, in every
// encoding a careless log line would use.
func TestLogsHoldNoSecrets(t *testing.T) {
	e := newEnv(t)
	e.onboard("acme")
	member := e.client(e.memberOf("acme"))
	plaintext := []byte("PLAINTEXT-canary-7f3a9c")
	ec := client.Context{"purpose": "log-scan"}
	ct, err := member.Encrypt(bg, "acme", plaintext, ec)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := member.Decrypt(bg, "acme", ct, ec); err != nil {
		t.Fatal(err)
	}
	member.Decrypt(bg, "acme", append(bytes.Clone(ct), 0), ec) // a failure, logged
	member.DecryptBatch(bg, "acme", []client.Record{{Data: ct}, {Data: ct, Context: ec}})
	var sct bytes.Buffer
	if _, err := member.EncryptStream(bg, "acme", &sct, bytes.NewReader(bytes.Repeat(plaintext, 5000)), ec); err != nil {
		t.Fatal(err)
	}
	if _, err := member.DecryptStream(bg, "acme", io.Discard, bytes.NewReader(sct.Bytes()[:sct.Len()-1]), ec); err == nil {
		t.Fatal("truncated stream opened")
	}
	e.client("byok_wrong_token_canary").Tenant(bg, "acme")
	hook, err := e.client(e.owner).CreateWebhook(bg, "acme", "log-scan", newHookReceiver(t).srv.URL+"/hook")
	if err != nil {
		t.Fatal(err)
	}
	hookSecret, err := hex.DecodeString(hook.Secret)
	if err != nil || len(hookSecret) == 0 {
		t.Fatalf("webhook secret %q: %v", hook.Secret, err)
	}

	key, err := e.keyring.Current(bg, "acme")
	if err != nil {
		t.Fatal(err)
	}
	secrets := map[string][]byte{"plaintext": plaintext, "owner token": []byte(e.owner), "member token": []byte(e.memberOf("acme")), "other token": []byte(e.other),
		"wrong token": []byte("byok_wrong_token_canary"), "ciphertext": ct[len(ct)-24:], "stream": sct.Bytes()[sct.Len()-24:],
		"tenant key": key.Material(), "root key": e.rootKey.Material(), "webhook secret": hookSecret}
	logs := e.logs.String()
	if !strings.Contains(logs, `"route":"/v1/tenants/{id}/decrypt/stream"`) || !strings.Contains(logs, `"principal":"`) {
		t.Fatalf("the access log lacks the session:\n%s", logs)
	}
	for name, s := range secrets {
		for enc, v := range encodings(s) {
			if strings.Contains(logs, v) {
				t.Errorf("the logs contain the %s (%s)", name, enc)
			}
		}
	}
}

func encodings(b []byte) map[string]string {
	return map[string]string{
		"raw": string(b), "hex": hex.EncodeToString(b), "HEX": strings.ToUpper(hex.EncodeToString(b)),
		"base64":     strings.TrimRight(base64.StdEncoding.EncodeToString(b), "="),
		"base64url":  base64.RawURLEncoding.EncodeToString(b),
		"json bytes": func() string { j, _ := json.Marshal(b[:min(len(b), 8)]); return string(j) }(),
	}
}

// TestTLS serves over HTTPS with a certificate made for the test.
func TestTLS(t *testing.T) {
	e := newEnv(t)
	certPEM, keyPEM := selfSigned(t)
	dir := t.TempDir()
	certFile, keyFile := filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	os.WriteFile(certFile, certPEM, 0o600)
	os.WriteFile(keyFile, keyPEM, 0o600)
	cfg := e.server.cfg
	cfg.TLSCert, cfg.TLSKey, cfg.Registry = certFile, keyFile, nil
	cfg.ServePending = true // the tenant below keeps its data under the platform key
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	url, stop := serveOn(t, srv, "https")
	defer stop()
	pool := x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}, ForceAttemptHTTP2: true}}
	c, _ := client.New(client.Config{URL: url, Token: e.owner, HTTPClient: hc})
	if _, err := c.CreateTenant(bg, client.CreateTenant{ID: "tls", Name: "Over TLS"}); err != nil {
		t.Fatalf("CreateTenant over TLS: %v", err)
	}
	resp, err := hc.Get(url + "/healthz")
	if err != nil || resp.ProtoMajor != 2 {
		t.Fatalf("GET /healthz over TLS = %v, %v; want HTTP/2", resp, err)
	}
	resp.Body.Close()
	// Streams over HTTP/2: the answer flows while the body is still sent.
	pt := bytes.Repeat([]byte("over h2 "), 256<<10)
	var sealed, opened bytes.Buffer
	if _, err := c.EncryptStream(bg, "tls", &sealed, bytes.NewReader(pt), nil); err != nil {
		t.Fatalf("EncryptStream over HTTP/2: %v", err)
	}
	if _, err := c.DecryptStream(bg, "tls", &opened, &sealed, nil); err != nil || !bytes.Equal(opened.Bytes(), pt) {
		t.Fatalf("DecryptStream over HTTP/2: %d bytes, %v", opened.Len(), err)
	}
	plain, _ := client.New(client.Config{URL: strings.Replace(url, "https", "http", 1), Token: e.owner})
	if _, err := plain.Tenant(bg, "tls"); err == nil {
		t.Fatal("plain HTTP to the TLS port succeeded")
	}
}

// serveOn runs srv.Serve on a loopback port; stop cancels it and returns
// Serve's error.
func serveOn(t *testing.T, srv *Server, scheme string) (string, func() error) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := contextWithCancel()
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx, ln) }()
	return scheme + "://" + ln.Addr().String(), func() error {
		cancel()
		select {
		case err := <-done:
			return err
		case <-time.After(10 * time.Second):
			t.Fatal("Serve did not return after cancel")
			return nil
		}
	}
}

// TestAttribute checks that a request's work runs in the context Attribute
// gives for its caller and request id.
func TestAttribute(t *testing.T) {
	e := newEnv(t)
	type seen struct{ actor, id string }
	var got []seen
	cfg := e.server.cfg
	cfg.Registry = nil
	cfg.Attribute = func(ctx context.Context, actor, id string) context.Context {
		got = append(got, seen{actor, id})
		return ctx
	}
	srv, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	req := httptest.NewRequest("GET", "/v1/tenants/other", nil)
	req.Header.Set("Authorization", "Bearer "+e.owner)
	rec := httptest.NewRecorder()
	srv.Handler().ServeHTTP(rec, req)
	p, _ := e.tokens.Authenticate(bg, e.owner)
	want := seen{p.Actor(), rec.Header().Get(RequestIDHeader)}
	if rec.Code != http.StatusOK || len(got) != 1 || got[0] != want {
		t.Fatalf("status %d, Attribute calls %+v; want one with %+v", rec.Code, got, want)
	}
}
