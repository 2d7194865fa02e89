package server

import (
	"context"
	"net/http"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/internal/control"
	"github.com/byok-dev/byok/internal/platform"
)

// checkPathTenant answers a malformed tenant id in the path before the
// token is looked up or anything is logged or audited about the tenant: an
// id no tenant can have needs no further work, and must not name a chain.
func checkPathTenant(c *call) error {
	if c.tenant == "" || envelope.ValidTenantID(c.tenant) {
		return nil
	}
	c.tenant = "" // keeps an arbitrary string out of the access log
	return apiErr(http.StatusBadRequest, string(platform.CodeInvalidTenantID),
		"the tenant id in the path is malformed: a tenant id is 1 to 128 characters of A-Z a-z 0-9 . _ : -")
}

// auditTenant returns the tenant whose chain records the call. A refused
// call (no right to the tenant, or a tenant that does not exist) is the
// caller's doing, not the tenant's: it goes to the caller's own chain (its
// token's tenant, or the platform chain for a platform-wide token), so that
// no caller writes its token names into another tenant's chain or creates a
// chain for a tenant that never existed. A call that names no tenant is the
// caller's too.
func auditTenant(c *call, status int) string {
	if c.tenant == "" || refusedCall(c, status) {
		return c.principal.Tenant
	}
	return c.tenant
}

func refusedCall(c *call, status int) bool {
	switch {
	case status == http.StatusUnauthorized || status == http.StatusForbidden:
		return true
	case c.code == control.CodeNotFound || c.code == string(platform.CodeInvalidTenantID):
		return true
	}
	return false
}

// tenantExists reports whether a tenant of that id exists, so that an action
// naming a tenant (a token issued for it) goes to its chain only then.
func (s *Server) tenantExists(ctx context.Context, id string) bool {
	if id == "" || !envelope.ValidTenantID(id) {
		return false
	}
	_, err := s.cfg.Control.Tenant(ctx, id)
	return err == nil
}
