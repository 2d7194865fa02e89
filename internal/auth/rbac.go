// Package auth decides who may do what: API tokens identify a [Principal]
// (a role, scoped to one tenant or to the whole platform), and [Allowed]
// checks an [Action] on a tenant against the role's permissions.
//
// # Roles
//
//   - owner: everything, including managing tokens of any role.
//   - super_admin: everything on every tenant, including tokens below owner
//     (the only ones it lists).
//   - admin: configures keys (artifacts, attach, validate, enable, rotate,
//     change), renames, restores and offboards tenants, manages webhooks,
//     and reads state, health, the audit log and webhook deliveries, for
//     its tenant, or for every tenant (and lists and creates tenants and
//     manages platform-wide webhooks) when platform-scoped.
//   - member: data operations (encrypt, decrypt) for its tenant.
//   - auditor: reads the audit log, state, webhooks and their deliveries of
//     its tenant, or of all.
//   - service: a platform back-end: data operations for any tenant. Service
//     tokens are platform-scoped.
//
// # Tokens
//
// [Tokens] issues, authenticates, lists and revokes API tokens of the form
// byok_<id>_<secret>: a public 80-bit id and a 256-bit random secret, both
// lowercase base32. The plaintext is returned once by [Tokens.Issue] or
// [Tokens.Bootstrap]; the store keeps only a SHA-256 hash of the secret.
// Every token expires ([DefaultTTL] unless asked otherwise, at most
// [MaxTTL]) and can be revoked at once. Owner, super_admin and service
// tokens are platform-wide; the others may be scoped to one tenant.
// Printing a parsed token shows only the prefix and the id.
//
// # Errors
//
// [ErrUnauthenticated] (no or bad credentials) and [ErrForbidden] (valid
// credentials, not allowed) carry stable codes for the HTTP layer, as do
// [ErrInvalid], [ErrNotFound] and [ErrConflict] from token management.
package auth

// The permission table of docs/auth.md is generated from rolePermissions;
// after changing a role's permissions, rewrite it with
//
//	go generate ./internal/auth
//
//go:generate go test -run TestRoleDocTable -update

import (
	"errors"
	"fmt"
)

// Role is what a token may do.
type Role string

// Roles.
const (
	RoleOwner      Role = "owner"
	RoleSuperAdmin Role = "super_admin"
	RoleAdmin      Role = "admin"
	RoleMember     Role = "member"
	RoleAuditor    Role = "auditor"
	RoleService    Role = "service"
)

// Roles lists every role, most powerful first.
var Roles = []Role{RoleOwner, RoleSuperAdmin, RoleAdmin, RoleMember, RoleAuditor, RoleService}

// Valid reports whether r is a known role.
func (r Role) Valid() bool {
	for _, x := range Roles {
		if r == x {
			return true
		}
	}
	return false
}

// Action is one thing an API caller can do.
type Action string

// Actions. Tenant actions name a tenant; platform actions do not.
const (
	TenantCreate   Action = "tenant.create"   // platform
	TenantList     Action = "tenant.list"     // platform
	TenantRead     Action = "tenant.read"     // tenant: state, health, attachments
	TenantUpdate   Action = "tenant.update"   // tenant
	KeyArtifacts   Action = "key.artifacts"   // tenant
	KeyAttach      Action = "key.attach"      // tenant
	KeyValidate    Action = "key.validate"    // tenant
	KeyEnable      Action = "key.enable"      // tenant
	KeyRotate      Action = "key.rotate"      // tenant
	KeyChange      Action = "key.change"      // tenant
	TenantOffboard Action = "tenant.offboard" // tenant
	TenantRestore  Action = "tenant.restore"  // tenant: bring an archived tenant back
	// TenantPolicy names a tenant but is the platform's: where its policy
	// differs for the tenant, which the tenant's own admins may not lift.
	TenantPolicy Action = "tenant.policy"
	DataEncrypt  Action = "data.encrypt"  // tenant
	DataDecrypt  Action = "data.decrypt"  // tenant
	AuditRead    Action = "audit.read"    // tenant, or platform-wide
	TokenManage  Action = "token.manage"  // platform
	PlatformRead Action = "platform.read" // platform: status
	// Webhook actions are on a tenant's subscriptions, or, with tenant "",
	// on the platform-wide ones, which tenant-scoped tokens may not touch.
	WebhookManage Action = "webhook.manage" // tenant, or platform-wide: subscribe, unsubscribe
	WebhookRead   Action = "webhook.read"   // tenant, or platform-wide: list, deliveries
)

// Actions lists every action, in the order docs/auth.md's permission
// table shows them.
var Actions = []Action{TenantCreate, TenantList, TenantRead, TenantUpdate, KeyArtifacts, KeyAttach, KeyValidate,
	KeyEnable, KeyRotate, KeyChange, TenantOffboard, TenantRestore, TenantPolicy, DataEncrypt, DataDecrypt,
	AuditRead, WebhookManage, WebhookRead, TokenManage, PlatformRead}

// Principal is an authenticated caller.
type Principal struct {
	TokenID string
	Role    Role
	// Tenant is the one tenant the token serves; "" means platform-wide.
	Tenant string
	// Name describes the token for audit records.
	Name string
}

// PlatformWide reports whether the principal is not limited to one tenant.
func (p *Principal) PlatformWide() bool { return p.Tenant == "" }

// Actor is how the principal appears in the audit log.
func (p *Principal) Actor() string {
	if p.Name != "" {
		return fmt.Sprintf("token:%s (%s)", p.TokenID, p.Name)
	}
	return "token:" + p.TokenID
}

// Error is an authentication or authorization failure with a stable code.
type Error struct {
	Code string
	Msg  string
}

func (e *Error) Error() string { return "auth: " + e.Msg }

// Is matches errors of the same code, so errors.Is(err, ErrForbidden) works.
func (e *Error) Is(target error) bool {
	t, ok := target.(*Error)
	return ok && t.Code == e.Code
}

// Sentinels.
var (
	ErrUnauthenticated = &Error{Code: "unauthenticated", Msg: "missing, malformed, unknown, expired or revoked API token"}
	ErrForbidden       = &Error{Code: "forbidden", Msg: "the token's role or scope does not allow this"}
)

var rolePermissions = map[Role]map[Action]bool{
	RoleOwner:      all(),
	RoleSuperAdmin: all(),
	RoleAdmin: set(TenantCreate, TenantList, TenantRead, TenantUpdate, KeyArtifacts, KeyAttach, KeyValidate,
		KeyEnable, KeyRotate, KeyChange, TenantOffboard, TenantRestore, AuditRead, WebhookManage, WebhookRead),
	RoleMember:  set(TenantRead, DataEncrypt, DataDecrypt),
	RoleAuditor: set(TenantList, TenantRead, AuditRead, WebhookRead),
	RoleService: set(TenantRead, DataEncrypt, DataDecrypt),
}

// platformActions are not about one tenant; a tenant-scoped token may not
// take them.
var platformActions = set(TenantCreate, TenantList, TokenManage, PlatformRead, TenantPolicy)

func all() map[Action]bool { return set(Actions...) }

func set(as ...Action) map[Action]bool {
	m := make(map[Action]bool, len(as))
	for _, a := range as {
		m[a] = true
	}
	return m
}

// Allowed reports whether p may take action a on tenant ("" for platform
// actions). A tenant-scoped token is confined to its tenant and may take no
// platform action; the role decides the rest.
func Allowed(p *Principal, a Action, tenant string) error {
	if p == nil {
		return ErrUnauthenticated
	}
	if !rolePermissions[p.Role][a] {
		return fmt.Errorf("%w: role %s may not %s", ErrForbidden, p.Role, a)
	}
	if p.PlatformWide() {
		return nil
	}
	if platformActions[a] {
		return fmt.Errorf("%w: a token scoped to tenant %s may not %s", ErrForbidden, p.Tenant, a)
	}
	if tenant != p.Tenant {
		return fmt.Errorf("%w: the token is scoped to another tenant", ErrForbidden)
	}
	return nil
}

// CanIssue reports whether p may create, list or revoke a token with role
// r: only owners handle owner tokens, and super_admins the rest.
func CanIssue(p *Principal, r Role) error {
	if err := Allowed(p, TokenManage, ""); err != nil {
		return err
	}
	if r == RoleOwner && p.Role != RoleOwner {
		return fmt.Errorf("%w: only an owner may manage owner tokens", ErrForbidden)
	}
	return nil
}

// Code returns the stable code of an auth error in err, or "".
func Code(err error) string {
	var e *Error
	if errors.As(err, &e) {
		return e.Code
	}
	return ""
}
