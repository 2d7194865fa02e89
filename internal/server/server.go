// Package server is byok's HTTP API: the control plane (tenants, onboarding
// artifacts, key attachment, validation, enablement, state), the data plane
// (records, batches and streams sealed with the tenant's key), and the
// operational endpoints (/metrics, /healthz, /readyz). It is embeddable:
// [New] takes a plain [Config] whose dependencies are passed in, and
// [Server.Handler] or [Server.Serve] put it to work.
//
// # Routes
//
// Every route is one entry of a table (see routes.go) with its method, path,
// the [auth.Action] it needs, its body limit and its timeout. One middleware
// chain serves them all: request id, panic recovery, authentication and
// authorization, limits, metrics, the access log and JSON errors. The OpenAPI
// 3.1 document at /v1/openapi.json is checked against the table by a test.
//
// # Errors
//
// Failures answer JSON {code, message, details} with the stable codes of the
// packages behind the API mapped to HTTP statuses (see [Error]). Anything not
// classified is a 500 with a generic message and the request id; the cause goes
// to the log only.
//
// # Logs
//
// One JSON line per request (request id, route, status, duration, tenant,
// principal) and one per unclassified failure. Bodies, headers, tokens and
// key material are never logged.
package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/auth"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/monitor"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/keyring"
)

// Authenticator turns a bearer token into a principal; auth.Tokens is the
// real one. It returns auth.ErrUnauthenticated for anything it does not
// accept.
type Authenticator interface {
	Authenticate(ctx context.Context, bearer string) (*auth.Principal, error)
}

// Defaults of Config's limits.
const (
	DefaultMaxBody         = 1 << 20  // control-plane JSON
	DefaultMaxDataBody     = 16 << 20 // single records and batches, base64 included
	DefaultMaxBatch        = 1000
	DefaultTimeout         = 30 * time.Second
	DefaultStreamTimeout   = time.Hour
	DefaultShutdownTimeout = 15 * time.Second
	DefaultHeaderTimeout   = 10 * time.Second
	DefaultBodyTimeout     = 15 * time.Second
	DefaultIdleTimeout     = 2 * time.Minute
	DefaultStreamMinRate   = 1 << 10 // bytes per second
)

// Store is what the server reads directly; everything else goes through
// the control plane. A store that is also a store.AuditStore serves the
// audit routes.
type Store interface {
	ListTenants(ctx context.Context, opts store.ListOptions) (*store.TenantPage, error)
	Versions(ctx context.Context, tenant string) ([]*keyring.Version, error)
	Health(ctx context.Context, tenant string, limit int) ([]*store.HealthRecord, error)
}

var _ Store = store.Store(nil)

// Config wires a Server. Control, Keyring, Store and Auth are required;
// zero limits take the defaults above.
type Config struct {
	Control *control.Service
	Keyring *keyring.Keyring
	// Store serves readiness, health history and the tenants-per-state gauge.
	Store Store
	Auth  Authenticator
	// Audit receives every control-plane action and every data-plane call
	// (with its record count); nil means audit.Discard.
	Audit audit.Sink
	// Webhooks serves the webhook routes (subscriptions and their delivery
	// records); nil answers them 501 not_implemented.
	Webhooks *monitor.Webhooks
	// Monitor serves tenant status and restore; nil answers those routes
	// 501 not_implemented.
	Monitor Monitor
	// Attribute, when set, returns the context a request's work runs in once
	// its caller is known, so that KMS calls made on its behalf are recorded
	// with the caller and the request id (audit.WithActor does this).
	Attribute func(ctx context.Context, actor, requestID string) context.Context
	// Logger receives the access log; nil means slog.Default().
	Logger *slog.Logger
	// Registry receives the server's metrics and is served at /metrics;
	// nil means a new registry.
	Registry *prometheus.Registry

	// Addr is the listen address of ListenAndServe, e.g. ":8443".
	Addr string
	// TLSCert and TLSKey are PEM file paths; both set means HTTPS.
	TLSCert, TLSKey string

	MaxBody     int64 // control-plane request bodies
	MaxDataBody int64 // record and batch request bodies
	MaxBatch    int   // records per batch
	// Timeout bounds each request but streams; StreamTimeout bounds streams.
	Timeout, StreamTimeout time.Duration
	// HeaderTimeout bounds reading a request's headers, IdleTimeout how long
	// a kept-alive connection may wait for its next request (both Serve's).
	HeaderTimeout, IdleTimeout time.Duration
	// BodyTimeout bounds reading the body of every route but streams, and is
	// the longest a stream's body may pause.
	BodyTimeout time.Duration
	// StreamMinRate is the slowest a stream's body may arrive, in bytes per
	// second averaged since the headers: a wall clock would cut off large
	// honest uploads, no limit would let a trickle hold a connection for the
	// whole StreamTimeout. The first BodyTimeout is free.
	StreamMinRate int64
	// ShutdownTimeout is how long Serve waits for requests in flight after its
	// context is canceled.
	ShutdownTimeout time.Duration
	// ServePending lets pending tenants that already have a key version (under
	// the platform key) use the data plane; by default only active tenants
	// and those whose key deletion is pending (which KMS refuses) do.
	ServePending bool
	// Region is the hosting region this server serves. Set, a tenant's data
	// is refused here when this region's key is unusable, as the key health
	// monitor recorded it, and served when only other regions' keys are.
	Region string
}

func (c *Config) validate() error {
	switch {
	case c.Control == nil:
		return errors.New("server: Config.Control is required")
	case c.Keyring == nil:
		return errors.New("server: Config.Keyring is required")
	case c.Store == nil:
		return errors.New("server: Config.Store is required")
	case c.Auth == nil:
		return errors.New("server: Config.Auth is required")
	case (c.TLSCert == "") != (c.TLSKey == ""):
		return errors.New("server: TLSCert and TLSKey go together")
	case c.MaxBody < 0 || c.MaxDataBody < 0 || c.MaxBatch < 0 || c.Timeout < 0 || c.StreamTimeout < 0,
		c.HeaderTimeout < 0 || c.BodyTimeout < 0 || c.IdleTimeout < 0 || c.StreamMinRate < 0:
		return errors.New("server: limits may not be negative")
	}
	return nil
}

func (c *Config) setDefaults() {
	def := func(v *int64, d int64) {
		if *v == 0 {
			*v = d
		}
	}
	def(&c.MaxBody, DefaultMaxBody)
	def(&c.MaxDataBody, DefaultMaxDataBody)
	def(&c.StreamMinRate, DefaultStreamMinRate)
	if c.MaxBatch == 0 {
		c.MaxBatch = DefaultMaxBatch
	}
	dur := func(v *time.Duration, d time.Duration) {
		if *v == 0 {
			*v = d
		}
	}
	dur(&c.Timeout, DefaultTimeout)
	dur(&c.StreamTimeout, DefaultStreamTimeout)
	dur(&c.ShutdownTimeout, DefaultShutdownTimeout)
	dur(&c.HeaderTimeout, DefaultHeaderTimeout)
	dur(&c.BodyTimeout, DefaultBodyTimeout)
	dur(&c.IdleTimeout, DefaultIdleTimeout)
	if c.Audit == nil {
		c.Audit = audit.Discard
	}
	if c.Logger == nil {
		c.Logger = slog.Default()
	}
	if c.Registry == nil {
		c.Registry = prometheus.NewRegistry()
	}
}

// Server is the HTTP API. It is safe for concurrent use.
type Server struct {
	cfg     Config
	log     *slog.Logger
	metrics *metrics
	handler http.Handler
}

// New returns a Server; it registers its metrics on cfg.Registry.
func New(cfg Config) (*Server, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	cfg.setDefaults()
	s := &Server{cfg: cfg, log: cfg.Logger}
	m, err := newMetrics(cfg.Registry, cfg.Store, cfg.Keyring)
	if err != nil {
		return nil, err
	}
	s.metrics = m
	s.handler = s.buildMux()
	return s, nil
}

// Handler returns the API as an http.Handler, for embedding or httptest.
func (s *Server) Handler() http.Handler { return s.handler }

// ListenAndServe listens on Config.Addr and calls Serve.
func (s *Server) ListenAndServe(ctx context.Context) error {
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", s.cfg.Addr)
	if err != nil {
		return fmt.Errorf("server: %w", err)
	}
	return s.Serve(ctx, ln)
}

// Serve answers requests on ln (with TLS when Config has a certificate) until
// ctx is canceled, then shuts down gracefully: it stops accepting, lets
// requests in flight finish for up to ShutdownTimeout, and returns nil.
func (s *Server) Serve(ctx context.Context, ln net.Listener) error {
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: s.cfg.HeaderTimeout,
		IdleTimeout:       s.cfg.IdleTimeout,
		ErrorLog:          slog.NewLogLogger(s.log.Handler(), slog.LevelWarn),
		BaseContext:       func(net.Listener) context.Context { return context.WithoutCancel(ctx) },
	}
	serve := func() error { return hs.Serve(ln) }
	if s.cfg.TLSCert != "" {
		cert, err := tls.LoadX509KeyPair(s.cfg.TLSCert, s.cfg.TLSKey)
		if err != nil {
			return fmt.Errorf("server: TLS: %w", err)
		}
		hs.TLSConfig = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12}
		// ServeTLS also offers HTTP/2, whose streams are full duplex.
		serve = func() error { return hs.ServeTLS(ln, "", "") }
	}
	errc := make(chan error, 1)
	go func() { errc <- serve() }()
	select {
	case err := <-errc:
		return fmt.Errorf("server: %w", err)
	case <-ctx.Done():
	}
	return s.shutdown(hs, errc)
}

func (s *Server) shutdown(hs *http.Server, errc <-chan error) error {
	sctx, cancel := context.WithTimeout(context.Background(), s.cfg.ShutdownTimeout)
	defer cancel()
	err := hs.Shutdown(sctx)
	<-errc
	if err != nil {
		hs.Close()
		return fmt.Errorf("server: shutdown: %w", err)
	}
	return nil
}
