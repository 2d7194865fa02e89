// Package store defines how byok persists its control-plane state: tenants,
// the customer keys attached to them, and the tenant key versions the
// keyring creates. Two implementations satisfy [Store]: package
// internal/store/sqlite (embedded, the default) and internal/store/postgres
// (for many instances on one database).
//
// # Model
//
// A [Tenant] carries its lifecycle [State] and a Revision that every update
// bumps; [Store.UpdateTenant] is a compare-and-swap on that revision, so two
// instances changing the same tenant at once cannot both win. An
// [Attachment] binds a customer key (and optionally a role to assume) to a
// tenant in one region. Tenant key versions are the keyring's
// [keyring.Version]: never the key itself, only its wrappings, each stored
// with the writer (see [DefaultWriter]) that made it so versions written by a
// faulty release can be found again with [Store.VersionsByWriter].
//
// # Monitor records
//
// The key health monitor keeps a [HealthRecord] history per tenant, webhook
// subscriptions ([Webhook], per tenant or platform-wide) and a [Delivery]
// record of every attempt to deliver an event; [Store.PruneHistory] bounds
// the history. Records go with their tenant or webhook when it is deleted.
// Events wait in the webhook outbox ([OutboxEvent], [Outbound]) until
// delivered, leased to one deliverer at a time.
//
// # API tokens
//
// [Tokens] keeps API tokens for package internal/auth: a [Token]'s role,
// scope and times with a hash of its secret, never the secret. A tenant's
// tokens go with the tenant.
//
// # Safety
//
// Every change to more than one row runs in one transaction. Foreign keys
// refuse to delete a tenant that still has key versions or a key version that
// still has wrappings: data sealed under a version stays openable until
// [Store.ShredTenantKeys] is called on purpose, which is crypto-shredding.
//
// # Errors
//
// Methods return errors matching [ErrNotFound], [ErrConflict] or [ErrInvalid]
// with [errors.Is]; [Code] gives their stable codes. The keyring methods
// additionally match [keyring.ErrNoKey] and [keyring.ErrVersionExists].
//
// # Implementing
//
// Package internal/store/storetest is the contract every implementation
// passes. The validation helpers here ([Tenant.Validate],
// [ValidateVersion], [ParseCursor], ...) keep the implementations' rules
// identical.
package store

import (
	"context"
	"time"

	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
)

// Store persists tenants, key attachments and tenant key versions.
// Implementations are safe for concurrent use.
type Store interface {
	keyring.Store
	Tokens

	// CreateTenant stores a new tenant with Revision 1 and fresh timestamps
	// and returns it. A duplicate ID or ExternalID is ErrConflict.
	CreateTenant(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error)
	// GetTenant returns one tenant, or ErrNotFound.
	GetTenant(ctx context.Context, id string) (*tenant.Tenant, error)
	// ListTenants returns a page of tenants ordered by ID.
	ListTenants(ctx context.Context, opts ListOptions) (*TenantPage, error)
	// UpdateTenant applies mutate to a copy of the tenant and stores it if the
	// stored revision is still wantRevision (otherwise ErrConflict, and
	// nothing is written). mutate may not change ID, Revision or timestamps;
	// an error from mutate is returned as is. It returns the stored tenant.
	UpdateTenant(ctx context.Context, id string, wantRevision int64, mutate func(*tenant.Tenant) error) (*tenant.Tenant, error)
	// UpdateTenantWithEvents is UpdateTenant that also stores events in the
	// outbox, as EnqueueEvent does, in the same transaction: the change and
	// its events are stored together or not at all. It returns the stored
	// tenant and how many outbox entries it stored.
	UpdateTenantWithEvents(ctx context.Context, id string, wantRevision int64, mutate func(*tenant.Tenant) error, events []*OutboxEvent) (*tenant.Tenant, int, error)
	// DeleteTenant deletes a tenant and its attachments. It fails with
	// ErrConflict while the tenant has key versions: shred them first.
	DeleteTenant(ctx context.Context, id string) error
	// ShredTenantKeys deletes every key version of the tenant with all their
	// wrappings in one transaction and returns how many versions it deleted.
	// Data sealed under them can never be opened again.
	ShredTenantKeys(ctx context.Context, id string) (int, error)

	// PutAttachment stores the tenant's attachment for a.Region, replacing
	// any earlier one for that region, and returns it.
	PutAttachment(ctx context.Context, a *Attachment) (*Attachment, error)
	// Attachments returns the tenant's attachments ordered by region;
	// ErrNotFound if the tenant does not exist.
	Attachments(ctx context.Context, tenant string) ([]*Attachment, error)
	// DeleteAttachment deletes the tenant's attachment for region, or
	// returns ErrNotFound.
	DeleteAttachment(ctx context.Context, tenant, region string) error

	// VersionsByWriter lists the key versions that writer created or whose
	// wrappings it wrote, ordered by tenant and version.
	VersionsByWriter(ctx context.Context, writer string) ([]VersionRef, error)

	// AddHealth appends to the tenant's key health history; ErrNotFound if
	// the tenant does not exist.
	AddHealth(ctx context.Context, r *HealthRecord) error
	// Health returns up to limit (0 means DefaultPageSize) of the tenant's
	// newest health records, newest first.
	Health(ctx context.Context, tenant string, limit int) ([]*HealthRecord, error)

	// CreateWebhook stores a subscription with a fresh CreatedAt and returns
	// it. Names are unique per owner (each tenant, and the platform-wide
	// subscriptions apart): a name its owner already uses is ErrConflict,
	// whatever other owners use; an unknown tenant ErrNotFound.
	CreateWebhook(ctx context.Context, w *Webhook) (*Webhook, error)
	// Webhooks returns the subscriptions that receive the tenant's events
	// (its own and the platform-wide ones) ordered by tenant ("" first)
	// and ID; tenant "" returns the platform-wide ones only.
	Webhooks(ctx context.Context, tenant string) ([]*Webhook, error)
	// Webhook returns tenant's subscription id (for tenant "", the
	// platform-wide one), or ErrNotFound.
	Webhook(ctx context.Context, tenant, id string) (*Webhook, error)
	// DeleteWebhook deletes tenant's subscription id, its delivery records
	// and outbox entries, or returns ErrNotFound.
	DeleteWebhook(ctx context.Context, tenant, id string) error
	// ClearSecretWebhooks returns up to limit subscriptions whose secret is
	// stored in clear, ordered by tenant ("" first) and ID, those after
	// (afterTenant, afterID) only.
	ClearSecretWebhooks(ctx context.Context, afterTenant, afterID string, limit int) ([]*Webhook, error)
	// SealWebhookSecret replaces the clear secret of tenant's subscription
	// id with sealed if the subscription still has the clear secret clear;
	// otherwise (deleted, sealed or changed meanwhile) ErrNotFound.
	SealWebhookSecret(ctx context.Context, tenant, id string, clear, sealed []byte) error
	// AddDelivery records one delivery attempt to the webhook d.Webhook of
	// d.Tenant; ErrNotFound if the webhook no longer exists.
	AddDelivery(ctx context.Context, d *Delivery) error
	// Deliveries returns up to limit (0 means DefaultPageSize) of tenant's
	// webhook's newest delivery attempts, newest first.
	Deliveries(ctx context.Context, tenant, webhook string, limit int) ([]*Delivery, error)
	// PruneHistory deletes health and delivery records, and outbox entries,
	// older than before and returns how many it deleted.
	PruneHistory(ctx context.Context, before time.Time) (int, error)

	// EnqueueEvent stores the event in the outbox for every subscription
	// that receives e.Tenant's events at this moment, in one statement, and
	// returns how many entries it stored. A subscription created later does
	// not get the event; storing an event id again stores nothing new.
	EnqueueEvent(ctx context.Context, e *OutboxEvent) (int, error)
	// ClaimOutbox leases up to limit outbox entries due at now whose lease
	// has lapsed (or that have none) until now+lease, oldest due first,
	// under one fresh token, and returns them with their webhook's URL and
	// secret. Concurrent claims, from this or another instance, never lease
	// an entry twice.
	ClaimOutbox(ctx context.Context, now time.Time, lease time.Duration, limit int) ([]*Outbound, error)
	// RescheduleOutbox releases a claimed entry with its attempt count and
	// next due time. It returns ErrNotFound when the entry is gone or no
	// longer under that claim (the lease lapsed and another deliverer
	// claimed it).
	RescheduleOutbox(ctx context.Context, seq int64, claim string, attempts int, next time.Time) error
	// DeleteOutbox deletes a claimed entry, with the same ErrNotFound as
	// RescheduleOutbox.
	DeleteOutbox(ctx context.Context, seq int64, claim string) error
	// Outbox returns up to limit (0 means DefaultPageSize) entries waiting
	// for tenant's webhook, or for every webhook when webhook is "", in
	// order of creation, without the webhooks' secrets or URLs.
	Outbox(ctx context.Context, tenant, webhook string, limit int) ([]*Outbound, error)

	// Close releases the store's connections.
	Close() error
}

// ListOptions selects a page of tenants.
type ListOptions struct {
	// State, when set, lists only tenants in that state.
	State tenant.State
	// Cursor is a previous page's Next; empty starts at the beginning.
	Cursor string
	// Limit is the page size: 0 means DefaultPageSize, at most MaxPageSize.
	Limit int
}

// TenantPage is one page of tenants.
type TenantPage struct {
	Tenants []*tenant.Tenant
	// Next is the cursor of the following page; empty on the last page.
	Next string
}

// AccessPattern is how the platform reaches a customer key.
type AccessPattern string

// Access patterns.
const (
	// AccessDirect calls the key with the platform's own credentials,
	// allowed by the customer's key policy (cross-account).
	AccessDirect AccessPattern = "direct"
	// AccessAssumeRole assumes the customer's role (with the tenant's
	// External ID) and calls the key with the role's credentials.
	AccessAssumeRole AccessPattern = "assume_role"
)

// Attachment binds a customer key to a tenant in one region.
type Attachment struct {
	Tenant string
	Region string
	KeyARN string
	// RoleARN is the customer's role; set exactly when AccessPattern is
	// AccessAssumeRole.
	RoleARN       string
	AccessPattern AccessPattern
	CreatedAt     time.Time
}

// VersionRef names one tenant key version.
type VersionRef struct {
	Tenant  string
	Version uint32
}
