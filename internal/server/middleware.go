package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"runtime/debug"
	"strings"
	"time"

	"github.com/byok-dev/byok/internal/audit"
	"github.com/byok-dev/byok/internal/auth"
)

// RequestIDHeader carries the request id in every answer.
const RequestIDHeader = "Byok-Request-Id"

// call is what the middleware and a handler share about one request.
type call struct {
	id        string
	route     *route
	principal *auth.Principal
	tenant    string
	// Set by handlers for the audit record.
	keyARN string
	count  uint64
	failed uint64
	// code is the error code answered, "" on success.
	code string
	// h1Body is set when an HTTP/1 request carries a body; HTTP/2 answers
	// without waiting for a body, and closing would end every stream.
	h1Body bool
}

// recorder remembers the status and whether the answer started.
type recorder struct {
	http.ResponseWriter
	status int
	bytes  int64
}

func (r *recorder) WriteHeader(code int) {
	if r.status == 0 {
		r.status = code
	}
	r.ResponseWriter.WriteHeader(code)
}

func (r *recorder) Write(p []byte) (int, error) {
	if r.status == 0 {
		r.status = http.StatusOK
	}
	n, err := r.ResponseWriter.Write(p)
	r.bytes += int64(n)
	return n, err
}

// Unwrap lets http.ResponseController reach the connection (full duplex,
// deadlines, flushing).
func (r *recorder) Unwrap() http.ResponseWriter { return r.ResponseWriter }

func newRequestID() string {
	var b [12]byte
	rand.Read(b[:])
	return hex.EncodeToString(b[:])
}

// wrap is the one middleware chain every route goes through.
func (s *Server) wrap(rt *route) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		start := time.Now()
		c := &call{id: newRequestID(), route: rt, tenant: r.PathValue("id"), h1Body: r.ContentLength != 0 && r.ProtoMajor == 1}
		rec := &recorder{ResponseWriter: w}
		rec.Header().Set(RequestIDHeader, c.id)
		defer s.finish(rec, r, c, start)
		defer s.recoverPanic(rec, c)
		s.serve(rec, r, c)
	})
}

// serve authenticates, applies the route's limits and runs its handler.
func (s *Server) serve(w *recorder, r *http.Request, c *call) {
	rt := c.route
	// Refusals before the body is read leave it unread: the answer closes
	// the connection (see writeError) instead of waiting for the body.
	if err := checkPathTenant(c); err != nil {
		s.writeError(w, c, err)
		return
	}
	if err := s.authorize(r, c); err != nil {
		s.writeError(w, c, err)
		return
	}
	if err := checkMediaType(r, rt); err != nil {
		s.writeError(w, c, err)
		return
	}
	ctx := r.Context()
	if s.cfg.Attribute != nil && c.principal != nil {
		ctx = s.cfg.Attribute(ctx, c.principal.Actor(), c.id)
	}
	ctx, cancel := context.WithTimeout(ctx, s.timeout(rt))
	defer cancel()
	r = r.WithContext(ctx)
	if r.ContentLength != 0 {
		s.bound(w, r, rt)
	}
	if limit := s.bodyLimit(rt); limit >= 0 {
		r.Body = http.MaxBytesReader(w, r.Body, limit)
	}
	// From here the handler reads the body under the read deadlines; an
	// error it answers leaves the rest to net/http, so that a client still
	// sending (a stream whose context does not match) reads the answer.
	c.h1Body = false
	err := rt.handler(s, w, r, c)
	if err == nil {
		return
	}
	if w.status != 0 {
		// The answer has started (a stream): the only honest signal left is
		// to break the connection, which the client sees as a failed read.
		c.code = classify(err).Code
		s.logFailure(c, err)
		panic(http.ErrAbortHandler)
	}
	s.writeError(w, c, err)
}

func (s *Server) authorize(r *http.Request, c *call) error {
	if c.route.action == "" {
		return nil
	}
	token, ok := bearer(r.Header.Get("Authorization"))
	if !ok {
		return auth.ErrUnauthenticated
	}
	p, err := s.cfg.Auth.Authenticate(r.Context(), token)
	if err != nil {
		return err
	}
	if p == nil {
		return auth.ErrUnauthenticated
	}
	c.principal = p
	tenantID := c.tenant
	switch {
	case c.route.action == auth.TenantCreate || c.route.action == auth.TenantList:
		tenantID = ""
	case c.route.ownedByHook:
		tenantID = p.Tenant // the role only; the handler checks the webhook's tenant
	}
	return auth.Allowed(p, c.route.action, tenantID)
}

// bearer extracts the token of an "Authorization: Bearer <token>" header.
func bearer(h string) (string, bool) {
	scheme, token, ok := strings.Cut(h, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token = strings.TrimSpace(token)
	return token, token != ""
}

func (s *Server) recoverPanic(w *recorder, c *call) {
	v := recover()
	if v == nil {
		return
	}
	if v == http.ErrAbortHandler {
		if c.code == "" {
			c.code = CodeInternal
		}
		panic(v)
	}
	s.log.Error("panic", "request_id", c.id, "route", c.route.path, "panic", fmt.Sprint(v), "stack", string(debug.Stack()))
	if w.status != 0 {
		panic(http.ErrAbortHandler)
	}
	s.writeError(w, c, fmt.Errorf("panic: %v", v))
}

// writeError answers err as JSON. Unclassified errors are logged with the
// request id and answered with a generic message.
func (s *Server) writeError(w http.ResponseWriter, c *call, err error) {
	e := classify(err)
	c.code = e.Code
	if e.Status >= 500 && e.Code == CodeInternal {
		s.logFailure(c, err)
		e = &Error{Status: e.Status, Code: e.Code, Message: e.Message, RequestID: c.id}
	}
	switch e.Status {
	case http.StatusUnauthorized:
		w.Header().Set("WWW-Authenticate", `Bearer realm="byok"`)
	case http.StatusTooManyRequests, http.StatusServiceUnavailable:
		w.Header().Set("Retry-After", "1")
	}
	if c.h1Body {
		// Refused before the handler: the body is unread and may be
		// stalled or never sent. net/http would read it before answering
		// and again after, so the answer ends the connection and no
		// further read may wait.
		w.Header().Set("Connection", "close")
		http.NewResponseController(w).SetReadDeadline(time.Now())
	}
	writeJSON(w, e.Status, e)
}

func (s *Server) logFailure(c *call, err error) {
	s.log.Error("request failed", "request_id", c.id, "route", c.route.path, "tenant", c.tenant, "error", err.Error())
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// finish records metrics, the access log line and the audit event.
func (s *Server) finish(w *recorder, r *http.Request, c *call, start time.Time) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	d := time.Since(start)
	s.metrics.observe(c.route, w.status, d)
	s.log.LogAttrs(r.Context(), slog.LevelInfo, "request",
		slog.String("request_id", c.id), slog.String("method", r.Method),
		slog.String("route", c.route.path), slog.Int("status", w.status),
		slog.Float64("duration_ms", float64(d.Microseconds())/1000),
		slog.String("tenant", c.tenant), slog.String("principal", actor(c.principal)),
		slog.String("code", c.code), slog.Int64("bytes_out", w.bytes))
	s.recordAudit(r.Context(), c, w.status)
}

func actor(p *auth.Principal) string {
	if p == nil {
		return ""
	}
	return p.Actor()
}

// recordAudit records audited routes that an authenticated caller reached,
// refusals included (in the caller's chain: auditTenant). Unauthenticated
// calls are only in the access log: recording them would let anyone grow
// the audit log. The data plane's aggregation per minute is the sink's.
func (s *Server) recordAudit(ctx context.Context, c *call, status int) {
	if !c.route.audit || c.principal == nil {
		return
	}
	e := audit.Event{Time: time.Now().UTC(), Tenant: auditTenant(c, status), Actor: c.principal.Actor(),
		Action: string(c.route.action), KeyARN: c.keyARN, Outcome: "ok", Count: 1, RequestID: c.id}
	if c.code != "" {
		e.Outcome = c.code
	}
	if c.count > 0 {
		e.Count = c.count
	}
	if c.failed > 0 {
		e.Details = map[string]string{"failed": fmt.Sprint(c.failed)}
	}
	if c.tenant != "" && e.Tenant != c.tenant {
		e.Details = map[string]string{"requested_tenant": c.tenant}
	}
	if err := s.cfg.Audit.Record(context.WithoutCancel(ctx), e); err != nil {
		s.log.Error("audit record failed", "request_id", c.id, "action", e.Action, "tenant", c.tenant, "error", err.Error())
	}
}

// decodeJSON reads the body, exactly one JSON object, into v (see
// checkStrict).
func decodeJSON(r *http.Request, v any) error {
	body, err := readBody(r, nil)
	if err != nil {
		return err
	}
	return decodeBytes(body, v)
}

func badJSON(err error) error {
	var mb *http.MaxBytesError
	var ae *Error
	if errors.As(err, &mb) || errors.As(err, &ae) {
		return err
	}
	if errors.Is(err, io.EOF) {
		return apiErr(http.StatusBadRequest, CodeInvalidRequest, "the request body is empty; a JSON object is expected")
	}
	return apiErr(http.StatusBadRequest, CodeInvalidRequest, "malformed JSON body: "+err.Error())
}
