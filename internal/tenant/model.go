package tenant

import (
	"encoding/json"
	"fmt"
)

// ModelVersion is the version of the document [MarshalModel] writes. Schema
// migration 0006 converted the untyped settings of earlier releases into
// version 2; version 1 was that untyped object.
const ModelVersion = 2

// MaxModelLen bounds a stored document, so that no tenant row grows
// without bound.
const MaxModelLen = 64 << 10

// model is the stored document: every member of a Tenant that is not a
// column of its own.
type model struct {
	V           int                `json:"v"`
	KeyBinding  *KeyBinding        `json:"key_binding,omitempty"`
	Regions     map[string]*Region `json:"regions,omitempty"`
	KeyChange   *KeyChange         `json:"key_change,omitempty"`
	Outage      Outage             `json:"outage,omitzero"`
	Offboarding *Offboarding       `json:"offboarding,omitempty"`
	Receipt     *SignedReceipt     `json:"deletion_receipt,omitempty"`
	Vaults      map[string]*Vault  `json:"vaults,omitempty"`
	Overrides   Overrides          `json:"overrides,omitzero"`
}

// MarshalModel returns the stored document of t's typed members.
func MarshalModel(t *Tenant) ([]byte, error) {
	b, err := json.Marshal(model{V: ModelVersion, KeyBinding: t.KeyBinding, Regions: t.Regions, KeyChange: t.KeyChange,
		Outage: t.Outage, Offboarding: t.Offboarding, Receipt: t.Receipt, Vaults: t.Vaults, Overrides: t.Overrides})
	if err != nil {
		return nil, fmt.Errorf("tenant %s: %w", t.ID, err)
	}
	if len(b) > MaxModelLen {
		return nil, &ModelError{Tenant: t.ID, Msg: fmt.Sprintf("its record exceeds %d bytes", MaxModelLen)}
	}
	return b, nil
}

// UnmarshalModel sets t's typed members from a stored document. A document
// of another version than [ModelVersion] is refused: an older one was
// never stored by this release's schema, a newer one was written by a newer
// release and would be misread.
func UnmarshalModel(b []byte, t *Tenant) error {
	var m model
	if err := json.Unmarshal(b, &m); err != nil {
		return &ModelError{Tenant: t.ID, Msg: "its stored record is not valid: " + err.Error()}
	}
	if m.V != ModelVersion {
		return &ModelError{Tenant: t.ID, Msg: fmt.Sprintf("its stored record is version %d; this release reads version %d (a newer release wrote it?)", m.V, ModelVersion)}
	}
	t.KeyBinding, t.Regions, t.KeyChange, t.Outage = m.KeyBinding, m.Regions, m.KeyChange, m.Outage
	t.Offboarding, t.Receipt, t.Vaults, t.Overrides = m.Offboarding, m.Receipt, m.Vaults, m.Overrides
	return nil
}

// ModelError is a tenant record that cannot be stored or read.
type ModelError struct {
	Tenant string
	Msg    string
}

func (e *ModelError) Error() string { return fmt.Sprintf("tenant %s: %s", e.Tenant, e.Msg) }
