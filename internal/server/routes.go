package server

import (
	"net/http"
	"time"

	"github.com/byok-dev/byok/internal/auth"
)

// handlerFunc serves one route; an error it returns becomes the JSON error
// answer, unless the handler already started its response.
type handlerFunc func(s *Server, w http.ResponseWriter, r *http.Request, c *call) error

// route is one entry of the API: who may call it, how much it may send and
// for how long.
type route struct {
	method string
	path   string // a net/http pattern; {id} is the tenant
	// action is checked with auth.Allowed; "" means public (no token).
	action auth.Action
	// body is the request body limit: bodyNone, bodyControl, bodyData or
	// bodyStream (unbounded, read as it arrives).
	body bodyClass
	// stream routes get Config.StreamTimeout instead of Config.Timeout.
	stream bool
	// audit records the call in the audit log.
	audit bool
	// ownedByHook routes name a webhook, whose tenant decides the scope: the
	// middleware checks the role, the handler the tenant once it knows it.
	ownedByHook bool
	handler     handlerFunc
}

type bodyClass int

const (
	bodyNone bodyClass = iota + 1
	bodyControl
	bodyData
	bodyStream
)

// routes is the API. The OpenAPI document (openapi.json) lists exactly these.
var routes = []route{
	{method: "GET", path: "/healthz", body: bodyNone, handler: (*Server).healthz},
	{method: "GET", path: "/readyz", body: bodyNone, handler: (*Server).readyz},
	{method: "GET", path: "/metrics", body: bodyNone, handler: (*Server).metricsHandler},
	{method: "GET", path: "/v1/openapi.json", body: bodyNone, handler: (*Server).openapi},
	{method: "GET", path: "/v1/receipt-keys", body: bodyNone, handler: (*Server).receiptKeys},

	{method: "POST", path: "/v1/tenants", action: auth.TenantCreate, body: bodyControl, audit: true, handler: (*Server).createTenant},
	{method: "GET", path: "/v1/tenants", action: auth.TenantList, body: bodyNone, handler: (*Server).listTenants},
	{method: "GET", path: "/v1/tenants/{id}", action: auth.TenantRead, body: bodyNone, handler: (*Server).getTenant},
	{method: "PATCH", path: "/v1/tenants/{id}", action: auth.TenantUpdate, body: bodyControl, audit: true, handler: (*Server).patchTenant},
	{method: "GET", path: "/v1/tenants/{id}/state", action: auth.TenantRead, body: bodyNone, handler: (*Server).getTenantState},
	{method: "GET", path: "/v1/tenants/{id}/health", action: auth.TenantRead, body: bodyNone, handler: (*Server).tenantHealth},
	{method: "GET", path: "/v1/tenants/{id}/artifacts", action: auth.KeyArtifacts, body: bodyNone, handler: (*Server).artifacts},
	{method: "GET", path: "/v1/tenants/{id}/keys", action: auth.TenantRead, body: bodyNone, handler: (*Server).listKeys},
	{method: "PUT", path: "/v1/tenants/{id}/keys/{region}", action: auth.KeyAttach, body: bodyControl, audit: true, handler: (*Server).attachKey},
	{method: "POST", path: "/v1/tenants/{id}/validate", action: auth.KeyValidate, body: bodyNone, audit: true, handler: (*Server).validate},
	{method: "POST", path: "/v1/tenants/{id}/enable", action: auth.KeyEnable, body: bodyNone, audit: true, handler: (*Server).enable},
	{method: "POST", path: "/v1/tenants/{id}/rotate", action: auth.KeyRotate, body: bodyNone, audit: true, handler: (*Server).rotate},
	{method: "POST", path: "/v1/tenants/{id}/keys/{region}/change", action: auth.KeyChange, body: bodyControl, audit: true, handler: (*Server).changeKey},
	{method: "GET", path: "/v1/tenants/{id}/regions", action: auth.TenantRead, body: bodyNone, handler: (*Server).regions},
	{method: "POST", path: "/v1/tenants/{id}/regions", action: auth.KeyAttach, body: bodyControl, audit: true, handler: (*Server).addRegion},
	{method: "POST", path: "/v1/tenants/{id}/offboard", action: auth.TenantOffboard, body: bodyNone, audit: true, handler: (*Server).offboard},
	{method: "GET", path: "/v1/tenants/{id}/receipt", action: auth.TenantRead, body: bodyNone, handler: (*Server).receipt},
	{method: "GET", path: "/v1/tenants/{id}/status", action: auth.TenantRead, body: bodyNone, handler: (*Server).tenantStatus},
	{method: "POST", path: "/v1/tenants/{id}/restore", action: auth.TenantRestore, body: bodyNone, audit: true, handler: (*Server).restoreTenant},
	{method: "PUT", path: "/v1/tenants/{id}/policy", action: auth.TenantPolicy, body: bodyControl, audit: true, handler: (*Server).setTenantPolicy},

	{method: "GET", path: "/v1/tenants/{id}/key-change", action: auth.TenantRead, body: bodyNone, handler: (*Server).keyChangeStatus},
	{method: "GET", path: "/v1/tenants/{id}/audit", action: auth.AuditRead, body: bodyNone, handler: (*Server).auditTail},
	{method: "GET", path: "/v1/tenants/{id}/audit/export", action: auth.AuditRead, body: bodyNone, stream: true, handler: (*Server).auditExport},
	{method: "GET", path: "/v1/audit", action: auth.AuditRead, body: bodyNone, handler: (*Server).auditTail},
	{method: "GET", path: "/v1/audit/export", action: auth.AuditRead, body: bodyNone, stream: true, handler: (*Server).auditExport},

	{method: "POST", path: "/v1/tokens", action: auth.TokenManage, body: bodyControl, audit: true, handler: (*Server).createToken},
	{method: "GET", path: "/v1/tokens", action: auth.TokenManage, body: bodyNone, handler: (*Server).listTokens},
	{method: "DELETE", path: "/v1/tokens/{token}", action: auth.TokenManage, body: bodyNone, audit: true, handler: (*Server).revokeToken},

	{method: "POST", path: "/v1/webhooks", action: auth.WebhookManage, body: bodyControl, audit: true, handler: (*Server).createWebhook},
	{method: "GET", path: "/v1/webhooks", action: auth.WebhookRead, body: bodyNone, handler: (*Server).listWebhooks},
	{method: "DELETE", path: "/v1/webhooks/{webhook}", action: auth.WebhookManage, body: bodyNone, audit: true, ownedByHook: true, handler: (*Server).deleteWebhook},
	{method: "GET", path: "/v1/webhooks/{webhook}/deliveries", action: auth.WebhookRead, body: bodyNone, ownedByHook: true, handler: (*Server).webhookDeliveries},
	{method: "POST", path: "/v1/tenants/{id}/webhooks", action: auth.WebhookManage, body: bodyControl, audit: true, handler: (*Server).createWebhook},
	{method: "GET", path: "/v1/tenants/{id}/webhooks", action: auth.WebhookRead, body: bodyNone, handler: (*Server).listWebhooks},
	{method: "DELETE", path: "/v1/tenants/{id}/webhooks/{webhook}", action: auth.WebhookManage, body: bodyNone, audit: true, handler: (*Server).deleteWebhook},
	{method: "GET", path: "/v1/tenants/{id}/webhooks/{webhook}/deliveries", action: auth.WebhookRead, body: bodyNone, handler: (*Server).webhookDeliveries},

	{method: "POST", path: "/v1/tenants/{id}/encrypt", action: auth.DataEncrypt, body: bodyData, audit: true, handler: (*Server).encrypt},
	{method: "POST", path: "/v1/tenants/{id}/decrypt", action: auth.DataDecrypt, body: bodyData, audit: true, handler: (*Server).decrypt},
	{method: "POST", path: "/v1/tenants/{id}/encrypt/batch", action: auth.DataEncrypt, body: bodyData, audit: true, handler: (*Server).encryptBatch},
	{method: "POST", path: "/v1/tenants/{id}/decrypt/batch", action: auth.DataDecrypt, body: bodyData, audit: true, handler: (*Server).decryptBatch},
	{method: "POST", path: "/v1/tenants/{id}/encrypt/stream", action: auth.DataEncrypt, body: bodyStream, stream: true, audit: true, handler: (*Server).encryptStream},
	{method: "POST", path: "/v1/tenants/{id}/decrypt/stream", action: auth.DataDecrypt, body: bodyStream, stream: true, audit: true, handler: (*Server).decryptStream},
}

func (s *Server) bodyLimit(rt *route) int64 {
	switch rt.body {
	case bodyControl:
		return s.cfg.MaxBody
	case bodyData:
		return s.cfg.MaxDataBody
	case bodyStream:
		return -1
	}
	return 4 << 10 // bodyNone: a stray body is read and refused, never stored
}

func (s *Server) timeout(rt *route) time.Duration {
	if rt.stream {
		return s.cfg.StreamTimeout
	}
	return s.cfg.Timeout
}

// buildMux registers every route, a JSON 405 for each path's other methods,
// and a JSON 404 for everything else, so that no answer is ever the mux's
// plain text.
func (s *Server) buildMux() http.Handler {
	mux := http.NewServeMux()
	paths := map[string]bool{}
	for i := range routes {
		rt := &routes[i]
		mux.Handle(rt.method+" "+rt.path, s.wrap(rt))
		paths[rt.path] = true
	}
	for p := range paths {
		mux.Handle(p, s.wrap(&route{path: p, body: bodyNone, handler: methodNotAllowed}))
	}
	mux.Handle("/", s.wrap(&route{path: "unmatched", body: bodyNone, handler: notFound}))
	return mux
}

func methodNotAllowed(_ *Server, _ http.ResponseWriter, _ *http.Request, _ *call) error {
	return apiErr(http.StatusMethodNotAllowed, CodeMethodNotAllowed, "this path does not serve this method")
}

func notFound(_ *Server, _ http.ResponseWriter, _ *http.Request, _ *call) error {
	return apiErr(http.StatusNotFound, CodeNotFoundRoute, "no such route; see /v1/openapi.json")
}
