package control

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
)

// Tenant settings keys written by this package. Settings is a JSON object,
// so other writers' keys survive each update.
const (
	settingBinding   = "key_binding"      // Binding
	settingRegions   = "regions"          // map[string]*RegionStatus
	settingKeyChange = "key_change"       // *keyChange, while one runs
	settingVaults    = "vaults"           // map[string]*Vault
	settingOffboard  = "offboarding"      // *offboarding, from the start of an offboarding
	settingReceipt   = "deletion_receipt" // SignedReceipt
)

// setting reads settings[key] into v and reports whether it was there.
func setting(raw json.RawMessage, key string, v any) (bool, error) {
	if len(raw) == 0 {
		return false, nil
	}
	m := map[string]json.RawMessage{}
	if err := json.Unmarshal(raw, &m); err != nil {
		return false, fmt.Errorf("control: tenant settings are not a JSON object: %w", err)
	}
	b, ok := m[key]
	if !ok || string(b) == "null" {
		return false, nil
	}
	if err := json.Unmarshal(b, v); err != nil {
		return false, fmt.Errorf("control: tenant setting %s: %w", key, err)
	}
	return true, nil
}

// settingsWithout removes key from the settings object.
func settingsWithout(raw json.RawMessage, key string) (json.RawMessage, error) {
	m := map[string]json.RawMessage{}
	if len(raw) > 0 {
		if err := json.Unmarshal(raw, &m); err != nil {
			return nil, fmt.Errorf("control: tenant settings are not a JSON object: %w", err)
		}
	}
	delete(m, key)
	return json.Marshal(m)
}

// conflictRetries bounds how often update re-reads a tenant another writer
// changed meanwhile.
const conflictRetries = 5

// update applies mutate to the stored tenant by compare-and-swap, re-reading
// it when another writer got there first. mutate sees the newest state each
// time, so it must check its own preconditions; its *Error is returned as is.
func (s *Service) update(ctx context.Context, id string, mutate func(*tenant.Tenant) error) (*tenant.Tenant, error) {
	for attempt := 1; ; attempt++ {
		t, err := s.cfg.Store.GetTenant(ctx, id)
		if err != nil {
			return nil, fromStore(err)
		}
		got, err := s.cfg.Store.UpdateTenant(ctx, id, t.Revision, mutate)
		if errors.Is(err, store.ErrConflict) && attempt < conflictRetries {
			continue
		}
		var ce *Error
		if errors.As(err, &ce) {
			return nil, err
		}
		return got, fromStore(err)
	}
}

// putSetting is a mutate function that sets one settings key.
func putSetting(key string, v any) func(*tenant.Tenant) error {
	return func(t *tenant.Tenant) error {
		raw, err := settingsWith(t.Settings, key, v)
		t.Settings = raw
		return err
	}
}

// binding returns the tenant's key binding; a tenant not enabled has none.
func binding(t *tenant.Tenant) (*Binding, error) {
	var b Binding
	ok, err := setting(t.Settings, settingBinding, &b)
	if err != nil || !ok {
		return nil, err
	}
	return &b, nil
}
