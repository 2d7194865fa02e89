// Package control is byok's control plane for tenants: creating them, taking
// the customer's key for each hosting region, validating it for real and
// enabling it, which puts the tenant's keys under the customer's KMS key;
// then rotating, changing keys, adding regions and vaults, and offboarding. The
// HTTP API and the CLI call it; it holds no state of its own beyond the store
// and the keyring.
//
// # Enablement
//
// Enable validates every attached key (internal/onboarding), then wraps the
// tenant's keys under them: a new tenant gets key version 1 wrapped under the
// customer key in its hosting region and in every replica region the
// platform requires; a tenant with data already sealed under the platform
// key has each existing version rewrapped, so that data is protected by the
// customer's key at once. Only then does the tenant become active, by a
// compare-and-swap on its revision: of two enablements racing, one wins and
// the other gets a conflict, and no data is written under any other key.
//
// # Rotation
//
// The customer's own rotation of their KMS key (automatic or on demand)
// needs nothing here: KMS keeps every backing key and decrypts old wrappings.
// [Service.RotateTenantKey] makes a new tenant key version for new writes,
// wrapped under the same keys as the newest one; old versions stay for
// reads. [Service.RotateDue] does it for every active tenant whose newest
// version is older than [Config.RotationPeriod]; a background loop calls it.
//
// # Key change
//
// [Service.ChangeKey] moves a tenant to another customer key where the
// platform's key binding is changeable. It records the change in the
// tenant's record (tenant.KeyChange), wraps every version under the new key
// in every region it must serve, then removes the old wrappings version by version (each
// version in one store transaction, and only once it has all its new
// wrappings), then binds the new key. Whenever the process stops, every
// version is completely wrapped under the old key, the new one or both; a
// second call finishes the change. [Service.KeyChangeStatus] counts the
// progress per region from the stored wrappings, and [Service.Inventory]
// and [Service.CheckRetire] say which customer keys the tenant's data still
// needs before one is disabled or deleted.
//
// # Offboarding
//
// [Service.Offboard] crypto-shreds a tenant: the tenant becomes shredded,
// its shred key is destroyed (so copies of its wrappings never open), the
// platform checks that it can no longer unwrap the tenant's keys,
// every key version is deleted with all of its wrappings, the keyring's
// cache is emptied, and a deletion receipt signed with an Ed25519 key
// derived from the platform root key ([NewReceiptSigner], [VerifyReceipt],
// docs/receipts.md) records what was destroyed. Afterwards the tenant's
// ciphertexts fail with tenant_shredded through a keyring admitting tenants
// with [RegionGate] (a keyring without it says key_version_unknown).
// Another instance's cache is emptied by its own revocation broadcast or, at
// the latest, when its cache TTL expires.
//
// # Regions and vaults
//
// Each region serving a tenant is recorded with its readiness.
// [Service.AddRegion] validates the tenant's key in a new platform region
// (the multi-Region key's replica there, the same alias where the platform
// resolves aliases, or a key the customer names), records the region as not
// ready, wraps every version there, and only then marks it ready. A keyring
// whose [keyring.Config.Admit] is [RegionGate] for its region refuses the
// tenant with region_not_ready until then. [Service.AddVault] and
// [Service.ReplicateToVault] keep a copy of the tenant's key versions in a
// separate (backup) account's store, re-encrypted under that account's key
// alone, so the vault's copy opens even when the primary key is disabled.
//
// # Errors
//
// Every failure is an *Error with a stable code (see the Code… constants),
// a message for people and, for a failed validation, the reports.
package control

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"time"

	"github.com/byok-dev/byok/internal/onboarding"
	"github.com/byok-dev/byok/internal/platform"
	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// Validator checks a customer's key and role; *onboarding.Validator is the
// real one.
type Validator interface {
	Validate(ctx context.Context, t onboarding.Target) *onboarding.Report
}

var _ Validator = (*onboarding.Validator)(nil)

// Store is what the control plane needs of the database: tenants, their
// key attachments and their key versions.
type Store interface {
	keyring.Store
	tenant.Store
	CreateTenant(ctx context.Context, t *tenant.Tenant) (*tenant.Tenant, error)
	ListTenants(ctx context.Context, opts store.ListOptions) (*store.TenantPage, error)
	ShredTenantKeys(ctx context.Context, id string) (int, error)
	PutAttachment(ctx context.Context, a *store.Attachment) (*store.Attachment, error)
	Attachments(ctx context.Context, tenant string) ([]*store.Attachment, error)
	DeleteAttachment(ctx context.Context, tenant, region string) error
}

var _ Store = store.Store(nil)

// Config wires a Service.
type Config struct {
	Platform  *platform.Config
	Store     Store
	Keyring   *keyring.Keyring
	Validator Validator
	// PlatformKey wraps the keys of tenants that have not brought their own
	// (kms/localkms); empty means such tenants have no keys until enabled.
	PlatformKey kms.KeyRef
	// RotationPeriod is how old a tenant's newest key version may get before
	// RotateDue makes a new one; 0 means no scheduled rotation.
	RotationPeriod time.Duration
	// Receipts signs deletion receipts (NewReceiptSigner over the platform
	// root key); nil means Offboard refuses with receipt_key_missing.
	Receipts *ReceiptSigner
	// ReceiptKeys are the public keys that verify the receipts signed so
	// far: one per version of the platform root key, since each version
	// derives its own signing key. The platform publishes them.
	ReceiptKeys []ed25519.PublicKey
	// Tenants owns the tenants' records; nil means a manager over Store
	// with tenant.DefaultCacheTTL. Share one with the data path and the
	// keyring's admission check so that each reads a tenant once per
	// cache window.
	Tenants *tenant.Manager
	// Now is the clock; nil means time.Now.
	Now func() time.Time
	// Shred destroys a tenant's shred key at offboarding (internal/shred):
	// the key the store seals the tenant's wrappings under. Nil where the
	// store has no shred layer.
	Shred ShredKeys
	// Providers are the keyring's KMS providers, which offboarding's checks
	// call after the shred key is destroyed; nil means no checks.
	Providers map[string]kms.Provider
}

// ShredKeys destroys tenants' shred keys; *shred.Keystore is the real one.
type ShredKeys interface {
	// Destroy destroys the tenant's shred key and returns when it was
	// destroyed, the first time for a key destroyed before.
	Destroy(ctx context.Context, tenant string) (time.Time, error)
}

// Service is safe for concurrent use.
type Service struct {
	cfg     Config
	tenants *tenant.Manager
}

// New returns a Service.
func New(cfg Config) (*Service, error) {
	if cfg.Platform == nil || cfg.Store == nil || cfg.Keyring == nil || cfg.Validator == nil {
		return nil, errors.New("control: config needs the platform configuration, a store, a keyring and a validator")
	}
	if err := cfg.Platform.Validate(); err != nil {
		return nil, err
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	if cfg.Tenants == nil {
		cfg.Tenants = tenant.NewManager(cfg.Store, 0)
	}
	return &Service{cfg: cfg, tenants: cfg.Tenants}, nil
}

// CreateTenant is what a new tenant needs.
type CreateTenant struct {
	ID   string
	Name string
	// ExternalID is the sts:ExternalId the customer's role will require;
	// empty means a random one.
	ExternalID string
}

// CreateTenant stores a new tenant in state pending. With a platform key
// configured it also gets key version 1 under that key, so it can seal data
// before bringing its own.
func (s *Service) CreateTenant(ctx context.Context, req CreateTenant) (*tenant.Tenant, error) {
	if err := platform.CheckTenantID(req.ID); err != nil {
		return nil, invalid(err)
	}
	if req.ExternalID == "" {
		req.ExternalID = platform.NewExternalID()
	} else if err := platform.CheckExternalID(req.ExternalID); err != nil {
		return nil, invalid(err)
	}
	t, err := s.cfg.Store.CreateTenant(ctx, &tenant.Tenant{ID: req.ID, Name: req.Name, ExternalID: req.ExternalID, State: tenant.StatePending})
	if errors.Is(err, store.ErrConflict) {
		return nil, s.duplicateTenant(ctx, req, err)
	}
	if err != nil {
		return nil, fromStore(err)
	}
	if s.cfg.PlatformKey.Provider == "" {
		return t, nil
	}
	if _, err := s.cfg.Keyring.CreateVersion(ctx, t.ID, []kms.KeyRef{s.cfg.PlatformKey}); err != nil {
		return nil, fromKMS("create the tenant's first key under the platform key", err)
	}
	return t, nil
}

// Tenant returns one tenant.
func (s *Service) Tenant(ctx context.Context, id string) (*tenant.Tenant, error) {
	t, err := s.tenants.Get(ctx, id)
	return t, fromStore(err)
}

// CachedTenant returns the tenant as the tenant manager's cache has it (at
// most tenant.DefaultCacheTTL old, or newer after a change this process
// made), for the data path. It must not be modified.
func (s *Service) CachedTenant(ctx context.Context, id string) (*tenant.Tenant, error) {
	t, err := s.tenants.Cached(ctx, id)
	return t, fromStore(err)
}

// ReceiptKeys returns the public keys that verify deletion receipts.
func (s *Service) ReceiptKeys() []ed25519.PublicKey { return s.cfg.ReceiptKeys }

// Tenants returns a page of tenants.
func (s *Service) Tenants(ctx context.Context, opts store.ListOptions) (*store.TenantPage, error) {
	p, err := s.cfg.Store.ListTenants(ctx, opts)
	return p, fromStore(err)
}

// RenameTenant changes a tenant's display name, if its revision is still
// revision.
func (s *Service) RenameTenant(ctx context.Context, id, name string, revision int64) (*tenant.Tenant, error) {
	t, err := s.cfg.Store.UpdateTenant(ctx, id, revision, func(t *tenant.Tenant) error {
		t.Name = name
		return nil
	})
	return t, fromStore(err)
}

// Attach is a customer key handed over for one hosting region.
type Attach struct {
	Tenant string
	Region string
	KeyARN string
	// RoleARN selects the assumed-role pattern; empty means direct access.
	RoleARN string
}

// AttachKey records the customer key for a hosting region after checking
// what can be checked without calling AWS. Once a tenant is enabled, its key
// binding can change only where the platform allows it (and then through a
// key change, which rewraps).
func (s *Service) AttachKey(ctx context.Context, req Attach) (*store.Attachment, error) {
	t, err := s.cfg.Store.GetTenant(ctx, req.Tenant)
	if err != nil {
		return nil, fromStore(err)
	}
	if err := s.checkBindingOpen(t); err != nil {
		return nil, err
	}
	a, err := s.attachment(req)
	if err != nil {
		return nil, err
	}
	got, err := s.cfg.Store.PutAttachment(ctx, a)
	return got, fromStore(err)
}

func (s *Service) checkBindingOpen(t *tenant.Tenant) error {
	if t.State == tenant.StatePending {
		return nil
	}
	if t.Policy(s.cfg.Platform.Policy).KeyBinding == platform.BindingImmutable {
		return &Error{Code: CodeBindingImmutable, Message: fmt.Sprintf("tenant %s is %s and its key binding is immutable: its key cannot be changed", t.ID, t.State)}
	}
	return &Error{Code: CodeKeyChangeNeeded, Message: fmt.Sprintf("tenant %s is %s: changing its key is a key change, which rewraps every version", t.ID, t.State)}
}

func (s *Service) attachment(req Attach) (*store.Attachment, error) {
	if _, err := s.cfg.Platform.Region(req.Region); err != nil {
		return nil, invalid(err)
	}
	arn, err := platform.ParseKeyARN("key_arn", req.KeyARN)
	if err != nil {
		return nil, invalid(err)
	}
	if arn.Kind == awskms.AliasARN && s.cfg.Platform.Policy.AliasARNs == platform.AliasReject {
		return nil, &Error{Code: CodeAliasRejected, Message: "the platform requires a key ARN, not an alias ARN: hand over arn:…:key/<key id>"}
	}
	a := &store.Attachment{Tenant: req.Tenant, Region: req.Region, KeyARN: req.KeyARN, AccessPattern: store.AccessDirect}
	if req.RoleARN != "" {
		role, err := platform.ParseRoleARN("role_arn", req.RoleARN)
		if err != nil {
			return nil, invalid(err)
		}
		// The parsed form, which FuzzIdentifiers holds equal to the input.
		a.RoleARN, a.AccessPattern = role.String(), store.AccessAssumeRole
	}
	return a, nil
}

// Attachments returns the tenant's attached keys.
func (s *Service) Attachments(ctx context.Context, tenantID string) ([]*store.Attachment, error) {
	as, err := s.cfg.Store.Attachments(ctx, tenantID)
	return as, fromStore(err)
}

// Artifacts returns the onboarding model for a tenant in one hosting region,
// from which every artifact (key policy, trust policy, CloudFormation,
// Terraform) is generated.
func (s *Service) Artifacts(ctx context.Context, tenantID string, req onboarding.Request) (*onboarding.Model, error) {
	t, err := s.cfg.Store.GetTenant(ctx, tenantID)
	if err != nil {
		return nil, fromStore(err)
	}
	req.TenantID, req.ExternalID = t.ID, t.ExternalID
	m, err := onboarding.NewModel(s.cfg.Platform, req)
	if err != nil {
		return nil, invalid(err)
	}
	return m, nil
}

// SetOverrides replaces where the platform's policy differs for the
// tenant. A zero field follows the platform again.
func (s *Service) SetOverrides(ctx context.Context, id string, o tenant.Overrides) (*tenant.Tenant, error) {
	switch o.KeyBinding {
	case "", platform.BindingImmutable, platform.BindingChangeable:
	default:
		return nil, &Error{Code: CodeInvalid, Message: fmt.Sprintf("key_binding %q: use %s, %s, or empty to follow the platform",
			o.KeyBinding, platform.BindingImmutable, platform.BindingChangeable)}
	}
	return s.update(ctx, id, func(t *tenant.Tenant) error {
		if t.State == tenant.StateShredded {
			return shredded(t.ID)
		}
		t.Overrides = o
		return nil
	})
}
