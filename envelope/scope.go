package envelope

import (
	"fmt"
	"strings"
)

// A key scope is what one series of key versions protects, and what a
// ciphertext's header names. A tenant's own scope (its first, default vault)
// is the tenant id itself, so data sealed before tenants had vaults opens
// unchanged; any other vault's scope is the tenant id, '/', the vault name.
// Tenant ids never contain '/', so a vault's scope id never equals a tenant id
// and a ciphertext of one vault never opens as another.

// MaxVaultNameLen is the longest vault name a key scope id carries.
const MaxVaultNameLen = 64

// MaxScopeIDLen is the longest key scope id the formats carry: a tenant id,
// '/', a vault name.
const MaxScopeIDLen = MaxTenantIDLen + 1 + MaxVaultNameLen

// ScopeID returns the key scope id of a tenant's vault; vault "" names the
// tenant's own scope, whose id is the tenant id.
func ScopeID(tenant, vault string) (string, error) {
	if err := checkTenantID(tenant); err != nil {
		return "", err
	}
	if vault == "" {
		return tenant, nil
	}
	if err := checkVaultName(vault); err != nil {
		return "", err
	}
	return tenant + "/" + vault, nil
}

// ParseScope splits a key scope id into its tenant id and vault name; vault is
// "" for the tenant's own scope.
func ParseScope(id string) (tenant, vault string, err error) {
	if err := checkScopeID(id); err != nil {
		return "", "", err
	}
	tenant, vault, _ = strings.Cut(id, "/")
	return tenant, vault, nil
}

// ValidScopeID reports whether id is a key scope id: a tenant id (see
// [ValidTenantID]), optionally followed by '/' and a vault name (see
// [ValidVaultName]).
func ValidScopeID(id string) bool { return checkScopeID(id) == nil }

// ValidVaultName reports whether name can name a vault: 1 to 64 characters of
// a–z, 0–9, '_' and '-'.
func ValidVaultName(name string) bool { return checkVaultName(name) == nil }

func checkScopeID(id string) error {
	tenant, vault, found := strings.Cut(id, "/")
	if !found {
		return checkTenantID(id)
	}
	if len(id) > MaxScopeIDLen {
		return fmt.Errorf("%w: key scope id must be 1 to %d characters", ErrInvalidKey, MaxScopeIDLen)
	}
	if strings.Contains(vault, "/") {
		return fmt.Errorf("%w: key scope id %q has more than one '/'", ErrInvalidKey, id)
	}
	if err := checkTenantID(tenant); err != nil {
		return err
	}
	return checkVaultName(vault)
}

func checkVaultName(name string) error {
	if name == "" || len(name) > MaxVaultNameLen {
		return fmt.Errorf("%w: vault name must be 1 to %d characters", ErrInvalidKey, MaxVaultNameLen)
	}
	for i := 0; i < len(name); i++ {
		if c := name[i]; !(c >= 'a' && c <= 'z' || c >= '0' && c <= '9' || c == '_' || c == '-') {
			return fmt.Errorf("%w: vault name %q has a character outside a-z 0-9 _ -", ErrInvalidKey, name)
		}
	}
	return nil
}
