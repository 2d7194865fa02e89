package server

import (
	"bytes"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/prometheus/client_golang/prometheus"
)

// benchServer is the test env's server rebuilt with production settings:
// the default tenant state cache (tests read state on every request) and a
// JSON access log whose encoding is paid for but whose bytes are dropped.
func benchServer(b *testing.B, e *env) string {
	cfg := e.server.cfg
	svc, err := control.New(control.Config{Platform: platformConfig(b), Store: e.store, Keyring: e.keyring,
		Validator: &onboarding.Validator{Config: platformConfig(b)}})
	if err != nil {
		b.Fatal(err)
	}
	cfg.Control = svc
	cfg.Logger = slog.New(slog.NewJSONHandler(io.Discard, nil))
	cfg.Registry = prometheus.NewRegistry()
	s, err := New(cfg)
	if err != nil {
		b.Fatal(err)
	}
	ts := httptest.NewServer(s.Handler())
	b.Cleanup(ts.Close)
	return ts.URL
}

// BenchmarkEncrypt measures single-record encryption of 1 KiB over loopback
// HTTP with parallel keep-alive clients in the same process. For figures with
// the server in its own process see bench/httpload.
func BenchmarkEncrypt(b *testing.B) {
	rec := `{"plaintext":"` + b64(bytes.Repeat([]byte("x"), 1024)) + `"}`
	b.Run("single", func(b *testing.B) { benchPost(b, "/encrypt", rec, 1) })
	batch := `{"records":[` + strings.Repeat(rec+",", 99) + rec + `]}`
	b.Run("batch100", func(b *testing.B) { benchPost(b, "/encrypt/batch", batch, 100) })
}

func benchPost(b *testing.B, path, body string, records int) {
	e := newEnv(b)
	e.onboard("acme")
	url := benchServer(b, e) + "/v1/tenants/acme" + path
	token := "Bearer " + e.memberOf("acme")
	hc := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 64}}
	b.SetParallelism(8)
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			post(b, hc, url, token, body)
		}
	})
	b.ReportMetric(float64(b.N*records)/b.Elapsed().Seconds(), "records/s")
}

func post(b *testing.B, hc *http.Client, url, token, body string) {
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Authorization", token)
	req.Header.Set("Content-Type", "application/json")
	resp, err := hc.Do(req)
	if err != nil {
		b.Fatal(err)
	}
	// Draining the body lets the connection be reused.
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		b.Fatalf("status %d", resp.StatusCode)
	}
}
