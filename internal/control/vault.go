package control

import (
	"context"
	"errors"
	"fmt"
	"regexp"
	"slices"

	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// Vault is a separate account (typically the customer's backup account)
// that keeps its own copy of a tenant's data, protected by that account's
// key alone, as backup vendors' vaults are: disabling the primary account's
// key does not lock the vault's copy.
type Vault = tenant.Vault

// AddVault asks for a vault for a tenant.
type AddVault struct {
	Tenant string
	// Name is 1 to 64 characters of a-z 0-9 _ -.
	Name   string
	Region string
	KeyARN string
	// RoleARN selects the assumed-role pattern; empty means direct access.
	RoleARN string
	// Default makes it the tenant's default vault; the first vault is the
	// default anyway.
	Default bool
}

var vaultNameRe = regexp.MustCompile(`^[a-z0-9_-]{1,64}$`)

// AddVault validates the vault's key in its region, as onboarding validates
// a tenant's key, and records the vault in the tenant's record.
func (s *Service) AddVault(ctx context.Context, req AddVault) (*Vault, []RegionReport, error) {
	if !vaultNameRe.MatchString(req.Name) {
		return nil, nil, &Error{Code: CodeInvalid, Message: fmt.Sprintf("vault name %q: use 1 to 64 characters of a-z 0-9 _ -", req.Name)}
	}
	t, err := s.enabledTenant(ctx, req.Tenant)
	if err != nil {
		return nil, nil, err
	}
	if err := checkNewVault(t, req.Name); err != nil {
		return nil, nil, err
	}
	att, err := s.attachment(Attach{Tenant: t.ID, Region: req.Region, KeyARN: req.KeyARN, RoleARN: req.RoleARN})
	if err != nil {
		return nil, nil, err
	}
	keyARN, reports, err := s.validateKey(ctx, t, att)
	if err != nil {
		return nil, reports, err
	}
	v := &Vault{Name: req.Name, Region: req.Region, KeyARN: keyARN, RoleARN: req.RoleARN, Default: req.Default, Added: s.now()}
	_, err = s.update(ctx, t.ID, func(t *tenant.Tenant) error {
		if err := checkNewVault(t, v.Name); err != nil {
			return err
		}
		if t.Vaults == nil {
			t.Vaults = map[string]*tenant.Vault{}
		}
		setVault(t.Vaults, v)
		return nil
	})
	return v, reports, err
}

func checkNewVault(t *tenant.Tenant, name string) error {
	if t.Vaults[name] != nil {
		return &Error{Code: CodeVaultExists, Message: fmt.Sprintf("tenant %s already has a vault %s", t.ID, name)}
	}
	return nil
}

// setVault adds v, keeping exactly one default.
func setVault(vaults map[string]*Vault, v *Vault) {
	v.Default = v.Default || len(vaults) == 0
	if v.Default {
		for _, o := range vaults {
			o.Default = false
		}
	}
	vaults[v.Name] = v
}

// Vaults returns the tenant's vaults.
func (s *Service) Vaults(ctx context.Context, id string) (map[string]*Vault, error) {
	t, err := s.cfg.Store.GetTenant(ctx, id)
	if err != nil {
		return nil, fromStore(err)
	}
	if t.Vaults == nil {
		return map[string]*Vault{}, nil
	}
	return t.Vaults, nil
}

// ReplicateToVault copies the tenant's key versions into dst, the vault's
// key store, each re-encrypted (one KMS ReEncrypt, or decrypt and encrypt
// across credentials) under the vault's key and under nothing else. Data
// ciphertexts copied to the vault need no change: they open there through
// a keyring over dst. It is resumable: versions dst already holds under the
// vault key are skipped. name "" means the default vault. It returns how
// many versions it copied.
func (s *Service) ReplicateToVault(ctx context.Context, id, name string, dst keyring.Store) (int, error) {
	t, err := s.enabledTenant(ctx, id)
	if err != nil {
		return 0, err
	}
	v, err := s.vault(t, name)
	if err != nil {
		return 0, err
	}
	ref := kms.KeyRef{Provider: awskms.ProviderName, ID: v.KeyARN, Region: v.Region, RoleARN: v.RoleARN}
	if v.RoleARN != "" {
		ref.ExternalID = t.ExternalID
	}
	versions, err := s.cfg.Store.Versions(ctx, id)
	if err != nil {
		return 0, fromStore(err)
	}
	n := 0
	for _, ver := range versions {
		copied, err := s.replicateVersion(ctx, ver, ref, dst)
		if err != nil {
			return n, err
		}
		if copied {
			n++
		}
	}
	return n, nil
}

func (s *Service) vault(t *tenant.Tenant, name string) (*Vault, error) {
	for _, v := range t.Vaults {
		if v.Name == name || (name == "" && v.Default) {
			return v, nil
		}
	}
	return nil, &Error{Code: CodeVaultNotFound, Message: fmt.Sprintf("tenant %s has no vault %q", t.ID, name)}
}

func (s *Service) replicateVersion(ctx context.Context, v *keyring.Version, ref kms.KeyRef, dst keyring.Store) (bool, error) {
	have, err := dst.Version(ctx, v.Tenant, v.Version)
	if err != nil && !errors.Is(err, keyring.ErrNoKey) {
		return false, err
	}
	if have != nil && slices.ContainsFunc(have.Wrappings, func(w kms.Wrapped) bool { return keyring.SameKey(w.Key, ref) }) {
		return false, nil
	}
	w, err := s.cfg.Keyring.WrapCopy(ctx, v, ref)
	if err != nil {
		return false, fromKMS(fmt.Sprintf("re-encrypt version %d under the vault key", v.Version), err)
	}
	if have != nil {
		return true, dst.SetWrappings(ctx, v.Tenant, v.Version, append(have.Wrappings, *w))
	}
	return true, dst.AddVersion(ctx, &keyring.Version{Tenant: v.Tenant, Version: v.Version, Wrappings: []kms.Wrapped{*w}, Created: v.Created})
}
