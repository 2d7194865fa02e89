package auth

import (
	"errors"
	"testing"
)

func TestAllowedMatrix(t *testing.T) {
	tenantActions := []Action{TenantRead, TenantUpdate, KeyArtifacts, KeyAttach, KeyValidate, KeyEnable, KeyRotate,
		KeyChange, TenantOffboard, TenantRestore, DataEncrypt, DataDecrypt, AuditRead, WebhookManage, WebhookRead}
	platform := []Action{TenantCreate, TenantList, TokenManage, PlatformRead}
	want := map[Role]map[Action]bool{
		RoleOwner:      all(),
		RoleSuperAdmin: all(),
		RoleAdmin: set(TenantCreate, TenantList, TenantRead, TenantUpdate, KeyArtifacts, KeyAttach, KeyValidate,
			KeyEnable, KeyRotate, KeyChange, TenantOffboard, TenantRestore, AuditRead, WebhookManage, WebhookRead),
		RoleMember:  set(TenantRead, DataEncrypt, DataDecrypt),
		RoleAuditor: set(TenantList, TenantRead, AuditRead, WebhookRead),
		RoleService: set(TenantRead, DataEncrypt, DataDecrypt),
	}
	for _, role := range Roles {
		for _, a := range append(tenantActions, platform...) {
			wide := &Principal{Role: role}
			scoped := &Principal{Role: role, Tenant: "acme"}
			err := Allowed(wide, a, "acme")
			if (err == nil) != want[role][a] {
				t.Errorf("platform %s %s: err = %v, want allowed=%v", role, a, err, want[role][a])
			}
			if err != nil && !errors.Is(err, ErrForbidden) {
				t.Errorf("platform %s %s: err = %v, want ErrForbidden", role, a, err)
			}
			own := Allowed(scoped, a, "acme")
			wantOwn := want[role][a] && !platformActions[a]
			if (own == nil) != wantOwn {
				t.Errorf("scoped %s %s on own tenant: err = %v, want allowed=%v", role, a, own, wantOwn)
			}
			if err := Allowed(scoped, a, "globex"); err == nil && !platformActions[a] {
				t.Errorf("scoped %s %s on another tenant was allowed", role, a)
			}
		}
	}
	// Tenant "" is the platform-wide webhooks: a scoped admin may manage its
	// tenant's only.
	for _, a := range []Action{WebhookManage, WebhookRead} {
		if err := Allowed(&Principal{Role: RoleAdmin, Tenant: "acme"}, a, ""); !errors.Is(err, ErrForbidden) {
			t.Errorf("scoped admin %s on the platform-wide webhooks: err = %v, want ErrForbidden", a, err)
		}
	}
	if !errors.Is(Allowed(nil, TenantRead, "acme"), ErrUnauthenticated) {
		t.Error("a nil principal is not unauthenticated")
	}
	if Code(Allowed(&Principal{Role: "bogus"}, TenantRead, "")) != "forbidden" {
		t.Error("an unknown role is not forbidden")
	}
}

func TestCanIssue(t *testing.T) {
	owner := &Principal{Role: RoleOwner}
	super := &Principal{Role: RoleSuperAdmin}
	admin := &Principal{Role: RoleAdmin}
	if CanIssue(owner, RoleOwner) != nil || CanIssue(super, RoleAdmin) != nil {
		t.Fatal("owner or super_admin may not issue")
	}
	if CanIssue(super, RoleOwner) == nil || CanIssue(admin, RoleMember) == nil {
		t.Fatal("super_admin issued an owner token or admin issued a token")
	}
	if CanIssue(&Principal{Role: RoleOwner, Tenant: "acme"}, RoleMember) == nil {
		t.Fatal("a tenant-scoped owner token manages tokens")
	}
}
