// Package kms is the seam between byok and the key management services that
// hold the keys protecting tenant keys: the customer's AWS KMS key
// (kms/awskms) or the platform's own root key (kms/localkms).
//
// # Providers
//
// A [Provider] wraps 256-bit tenant keys under a key-encryption key named by
// a [KeyRef], unwraps them, rewraps them under another key, describes a key
// and probes that it is still usable. Every call takes a context and may touch
// the network. Each wrapping is bound to a [Identity] (tenant, key version,
// purpose) which providers put into the KMS encryption context, so a wrapped
// key copied to another tenant or version does not unwrap.
//
// # Errors
//
// Providers map their own failures to an [*Error] with one of eight classes
// ([Denied], [Disabled], [PendingDeletion], [NotFound], [InvalidCiphertext],
// [Throttled], [Unavailable], [Misconfigured]) and keep the provider's request
// id, which the customer sees in their own audit trail (CloudTrail). Callers
// switch on [ClassOf] or use errors.Is with the Err… sentinels.
//
// # Conformance
//
// Package kms/kmstest holds the suite every provider passes.
package kms

import (
	"context"
	"fmt"
	"strconv"

	"github.com/byok-dev/byok/envelope"
)

// Provider wraps and unwraps tenant keys. Implementations are safe for
// concurrent use.
type Provider interface {
	// GenerateAndWrap creates a fresh tenant key for b and returns it with its
	// wrapping under ref.
	GenerateAndWrap(ctx context.Context, ref KeyRef, b Identity) (*envelope.TenantKey, *Wrapped, error)
	// Wrap wraps an existing tenant key under ref, for another region or key.
	Wrap(ctx context.Context, ref KeyRef, key *envelope.TenantKey, b Identity) (*Wrapped, error)
	// Unwrap returns the tenant key inside w, checking that w was made for b.
	Unwrap(ctx context.Context, w *Wrapped, b Identity) (*envelope.TenantKey, error)
	// Rewrap moves w under the key to, without the caller seeing the tenant key
	// where the provider can avoid it.
	Rewrap(ctx context.Context, w *Wrapped, to KeyRef, b Identity) (*Wrapped, error)
	// Describe returns what the provider knows about ref's key, asked on
	// behalf of tenant ("" for the platform's own use): the tenant names an
	// assumed-role session the way the other calls' identities do.
	Describe(ctx context.Context, ref KeyRef, tenant string) (*KeyInfo, error)
	// Probe proves the platform can still use w's key, with the cheapest call
	// that does (for KMS, an unwrap whose result is discarded).
	Probe(ctx context.Context, w *Wrapped, b Identity) error
}

// KeyRef names a key-encryption key and how to reach it.
type KeyRef struct {
	// Provider names the provider that serves the key: "aws-kms" or "local".
	Provider string `json:"provider"`
	// ID is the key's identifier at the provider: for AWS a key ARN, a
	// multi-Region key ARN or an alias ARN; for local keys the root key name.
	ID string `json:"id"`
	// Region is the region whose endpoint serves the key, when the provider
	// has regions. Empty means the region in ID.
	Region string `json:"region,omitempty"`
	// FailoverRegions are other regions holding replicas of the same
	// multi-Region key, tried in order when Region is unavailable.
	FailoverRegions []string `json:"failover_regions,omitempty"`
	// RoleARN, when set, is assumed (with ExternalID) to use the key; otherwise
	// the platform's own credentials call it directly.
	RoleARN    string `json:"role_arn,omitempty"`
	ExternalID string `json:"external_id,omitempty"`
}

func (r KeyRef) String() string {
	if r.Region != "" {
		return r.Provider + ":" + r.ID + "@" + r.Region
	}
	return r.Provider + ":" + r.ID
}

// Purpose of a wrapped key, bound into its encryption context.
const PurposeTenantKey = "tenant-key"

// Identity is which tenant key a wrapping holds: its tenant, version and
// purpose. Providers bind it into the encryption context (or, for RSA, an
// identity tag) so a wrapping cannot be moved to another tenant, version
// or purpose. (It is not the tenant's key binding, tenant.KeyBinding, which
// says which customer key serves the tenant.)
type Identity struct {
	Tenant  string
	Version uint32
	Purpose string
}

// IdentityOf returns the identity of a tenant key version.
func IdentityOf(key *envelope.TenantKey) Identity {
	return Identity{Tenant: key.Tenant(), Version: key.Version(), Purpose: PurposeTenantKey}
}

// EncryptionContext is the identity as a KMS encryption context. The keys are
// what the customer sees in CloudTrail and may use in key policy conditions
// (kms:EncryptionContext:byok:tenant).
func (b Identity) EncryptionContext() map[string]string {
	return map[string]string{
		"byok:tenant":      b.Tenant,
		"byok:key-version": strconv.FormatUint(uint64(b.Version), 10),
		"byok:purpose":     b.Purpose,
	}
}

// Validate reports whether the identity names a tenant, a version and a purpose.
func (b Identity) Validate() error {
	if !envelope.ValidTenantID(b.Tenant) || b.Version == 0 || b.Purpose == "" {
		return &Error{Class: Misconfigured, Op: "bind", Err: fmt.Errorf("invalid identity %+v", b)}
	}
	return nil
}

// Wrapped is a tenant key encrypted under a key-encryption key. It holds no
// secret and is what the store persists.
type Wrapped struct {
	// Key is the key that wrapped it, with the key's full ARN in ID once known.
	Key KeyRef `json:"key"`
	// Algorithm is the wrapping algorithm: "SYMMETRIC_DEFAULT",
	// "RSAES_OAEP_SHA_256" or "byok-local-v1".
	Algorithm string `json:"algorithm"`
	// Ciphertext is the provider's wrapped form of the key.
	Ciphertext []byte `json:"ciphertext"`
	// IdentityTag authenticates the identity where the provider's cipher cannot
	// (RSA has no encryption context).
	IdentityTag []byte `json:"identity_tag,omitempty"`
	// RequestID is the provider's id of the call that made it.
	RequestID string `json:"request_id,omitempty"`
}

// KeyInfo describes a key-encryption key.
type KeyInfo struct {
	ARN      string
	KeyID    string
	Account  string
	Region   string
	KeySpec  string // "SYMMETRIC_DEFAULT", "RSA_2048", ...
	KeyUsage string // "ENCRYPT_DECRYPT"
	// EncryptionAlgorithms the key supports, e.g. "SYMMETRIC_DEFAULT" or
	// "RSAES_OAEP_SHA_256".
	EncryptionAlgorithms []string
	State                string // "Enabled", "Disabled", "PendingDeletion", ...
	MultiRegion          bool
	PrimaryRegion        string
	ReplicaRegions       []string
	DeletionDate         string // RFC 3339, when deletion is scheduled
	// RotationEnabled is not filled by Describe: reading it needs
	// kms:GetKeyRotationStatus, which the platform is not granted.
	RotationEnabled bool
	RequestID       string
}
