package client

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"testing"
)

func TestNewRejectsBadURLs(t *testing.T) {
	for _, u := range []string{"", "byok.example.com", "ftp://x", "http://"} {
		if _, err := New(Config{URL: u}); err == nil {
			t.Errorf("New(%q) err = nil, want an error", u)
		}
	}
}

// A non-JSON failure (a proxy's page) still becomes an *Error with the status.
func TestErrorFromNonJSON(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		http.Error(w, "<html>bad gateway</html>", http.StatusBadGateway)
	}))
	defer ts.Close()
	c, _ := New(Config{URL: ts.URL})
	_, err := c.Tenant(context.Background(), "acme")
	var e *Error
	if !errors.As(err, &e) || e.Status != http.StatusBadGateway || e.Code != "http_502" {
		t.Fatalf("err = %#v, want an *Error with status 502, code http_502", err)
	}
}

// Tenant ids and regions are escaped into one path segment each, and the
// token goes in the Authorization header.
func TestRequestShape(t *testing.T) {
	var gotPath, gotAuth, gotCtx string
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		gotPath, gotAuth, gotCtx = r.URL.EscapedPath(), r.Header.Get("Authorization"), r.Header.Get("Byok-Context")
		w.Write([]byte("{}"))
	}))
	defer ts.Close()
	c, _ := New(Config{URL: ts.URL + "/", Token: "byok_t"})
	c.AttachKey(context.Background(), "a/b", "eu west", "arn", "")
	if gotPath != "/v1/tenants/a%2Fb/keys/eu%20west" || gotAuth != "Bearer byok_t" {
		t.Fatalf("path %q auth %q", gotPath, gotAuth)
	}
	c.EncryptStream(context.Background(), "acme", new(nopWriter), nil, Context{"b": "x,y", "a": "1=2"})
	if gotCtx != "a=1%3D2,b=x%2Cy" {
		t.Fatalf("Byok-Context = %q, want a=1%%3D2,b=x%%2Cy", gotCtx)
	}
}

type nopWriter struct{}

func (nopWriter) Write(p []byte) (int, error) { return len(p), nil }

// A 200 without the ciphertext is an error, never an empty ciphertext a
// caller would store in place of its data.
func TestEncryptRefusesAnswerWithoutCiphertext(t *testing.T) {
	ts := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/v1/tenants/acme/encrypt/batch" {
			w.Write([]byte(`{"results":[{"ciphertext":"eA=="},{}]}`))
			return
		}
		w.Write([]byte("{}"))
	}))
	defer ts.Close()
	c, _ := New(Config{URL: ts.URL})
	if ct, err := c.Encrypt(context.Background(), "acme", []byte("x"), nil); !errors.Is(err, errNoCiphertext) {
		t.Errorf("Encrypt() = %q, %v; want errNoCiphertext", ct, err)
	}
	res, err := c.EncryptBatch(context.Background(), "acme", []Record{{Data: []byte("x")}, {Data: []byte("y")}})
	if err != nil || res[0].Err != nil || !errors.Is(res[1].Err, errNoCiphertext) {
		t.Errorf("EncryptBatch() = %+v, %v; want the second record refused", res, err)
	}
}
