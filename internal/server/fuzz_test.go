package server

import (
	"bufio"
	"bytes"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// FuzzHandler throws arbitrary methods, paths, headers and bodies at the
// whole handler (authenticated or not, for an enabled tenant) and requires
// that nothing panics and nothing answers 500: every failure of bad input
// must be classified.
func FuzzHandler(f *testing.F) {
	dir := filepath.Join("testdata", "fuzz", "FuzzHandler")
	if seeds, err := os.ReadDir(dir); err != nil || len(seeds) == 0 {
		f.Fatalf("seed folder %s is missing or empty (%v)", dir, err)
	}
	e := newEnv(f)
	e.onboard("acme")
	ct, err := e.keyring.Seal(bg, "acme", []byte("hello"), nil)
	if err != nil {
		f.Fatal(err)
	}
	const js, octets = "application/json", "application/octet-stream"
	f.Add("POST", "/v1/tenants/acme/decrypt", "owner", "", js, `{"ciphertext":"`+b64(ct)+`"}`)
	f.Add("POST", "/v1/tenants/acme/encrypt/batch", "member", "", js, `{"records":[{"plaintext":"aGk=","context":{"a":"b"}}]}`)
	f.Add("POST", "/v1/tenants/acme/decrypt/stream", "member", "a=b,c=%zz", octets, "BYOK")
	f.Add("POST", "/v1/tenants/acme/webhooks", "owner", "", js, `{"id":"h1","url":"https://example.com/hook"}`)
	f.Add("GET", "/v1/webhooks/h1/deliveries?limit=5", "owner", "", "", "")
	f.Add("PATCH", "/v1/tenants/acme", "owner", "", js, `{"name":"x","revision":1}`)
	named := map[string]string{"owner": e.owner, "member": e.memberOf("acme"), "other": e.other}
	f.Fuzz(func(t *testing.T, method, target, token, ctxHeader, contentType, body string) {
		// Named roles stand for real tokens, so that the fuzzer gets past
		// authentication; anything else is sent as it is.
		if real, ok := named[token]; ok {
			token = real
		}
		req := rawRequest(method, target, token, ctxHeader, contentType, body)
		if req == nil {
			return
		}
		rec := httptest.NewRecorder()
		if serveAbortable(e.server.Handler(), rec, req) && !strings.Contains(req.URL.Path, "/stream") {
			t.Fatalf("%s %s: connection aborted outside a stream", method, target)
		}
		if rec.Code >= 500 && rec.Code != http.StatusServiceUnavailable && rec.Code != http.StatusGatewayTimeout {
			t.Fatalf("%s %q (body %q) = %d %s", method, target, body, rec.Code, rec.Body)
		}
	})
}

// rawRequest parses the request as the server would read it off the wire, or
// returns nil if it is not HTTP at all.
func rawRequest(method, target, token, ctxHeader, contentType, body string) *http.Request {
	var b bytes.Buffer
	b.WriteString(method + " " + target + " HTTP/1.1\r\nHost: byok\r\n")
	if token != "" {
		b.WriteString("Authorization: Bearer " + token + "\r\n")
	}
	if ctxHeader != "" {
		b.WriteString("Byok-Context: " + ctxHeader + "\r\n")
	}
	if contentType != "" {
		b.WriteString("Content-Type: " + contentType + "\r\n")
	}
	b.WriteString("Content-Length: " + itoa(len(body)) + "\r\n\r\n" + body)
	req, err := http.ReadRequest(bufio.NewReader(&b))
	if err != nil {
		return nil
	}
	return req
}

// serveAbortable serves req and reports whether the handler broke the
// connection (http.ErrAbortHandler), which a stream does when it fails after
// its answer started.
func serveAbortable(h http.Handler, w http.ResponseWriter, req *http.Request) (aborted bool) {
	defer func() {
		if v := recover(); v != nil {
			if v != http.ErrAbortHandler {
				panic(v)
			}
			aborted = true
		}
	}()
	h.ServeHTTP(w, req)
	return false
}
