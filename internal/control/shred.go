package control

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/keyring"
	"github.com/byok-dev/byok/kms"
	"github.com/byok-dev/byok/kms/awskms"
)

// Outcomes of an offboarding check (docs/receipts.md).
const (
	// OutcomeRefused: the call was refused, as it must be for the platform.
	OutcomeRefused = "refused"
	// OutcomeAccepted: the customer's key still opens a copy of the
	// tenant's wrapping made before offboarding.
	OutcomeAccepted = "accepted"
	// OutcomeUnavailable: the key service did not answer.
	OutcomeUnavailable = "unavailable"
	// OutcomeSkipped: the offboarding resumed after the shred key was
	// destroyed, so no wrapping was left to probe with.
	OutcomeSkipped = "skipped"
)

// Checks an offboarding makes.
const (
	CheckPlatformUnwrap = "platform_unwrap"
	CheckCustomerKey    = "customer_key"
)

// probeTimeout bounds each customer key probe, so a key service that does
// not answer cannot hold the offboarding.
const probeTimeout = 10 * time.Second

// shred destroys the tenant's shred key, then checks that the platform can
// no longer read and unwrap the tenant's keys (or fails: no receipt may
// say so otherwise) and probes each customer key with the newest
// wrapping, held in memory only for this. It does nothing without a
// shred keystore.
func (s *Service) shred(ctx context.Context, id string, ob *offboarding) ([]ReceiptSecret, []ReceiptCheck, error) {
	if s.cfg.Shred == nil {
		return nil, nil, nil
	}
	newest, err := s.newestWrappings(ctx, id, len(ob.Versions) > 0)
	if err != nil {
		return nil, nil, err
	}
	defer newest.zero()
	at, err := s.cfg.Shred.Destroy(ctx, id)
	if err != nil {
		return nil, nil, fmt.Errorf("control: offboarding: destroy tenant %s's shred key: %w", id, err)
	}
	refused, err := s.platformUnwrap(ctx, id)
	if err != nil {
		return nil, nil, err
	}
	checks := append([]ReceiptCheck{refused}, s.probeCustomerKeys(ctx, newest)...)
	return []ReceiptSecret{{What: SecretShredKey, At: at}}, checks, nil
}

// heldVersion is the newest version with its customer key wrappings;
// destroyed says the shred key was destroyed before (a resumed
// offboarding), which left nothing to probe with.
type heldVersion struct {
	version   *keyring.Version
	customer  []kms.Wrapped
	destroyed bool
}

func (h *heldVersion) zero() {
	for _, w := range h.customer {
		clear(w.Ciphertext)
	}
}

// newestWrappings reads the newest version; had says whether the tenant
// had versions when offboarding began, so that none now means a resumed
// offboarding deleted them.
func (s *Service) newestWrappings(ctx context.Context, id string, had bool) (*heldVersion, error) {
	v, err := s.cfg.Store.LatestVersion(ctx, id)
	switch {
	case errors.Is(err, store.ErrShredded):
		return &heldVersion{destroyed: true}, nil
	case errors.Is(err, keyring.ErrNoKey):
		return &heldVersion{destroyed: had}, nil
	case err != nil:
		return nil, fromStore(err)
	}
	h := &heldVersion{version: v}
	for _, w := range v.Wrappings {
		if w.Key.Provider == awskms.ProviderName {
			h.customer = append(h.customer, w)
		}
	}
	return h, nil
}

// platformUnwrap reads the tenant's versions as the keyring does and
// unwraps whatever it reads: after the shred key is destroyed, the read
// must be refused.
func (s *Service) platformUnwrap(ctx context.Context, id string) (ReceiptCheck, error) {
	check := ReceiptCheck{Check: CheckPlatformUnwrap, Outcome: OutcomeRefused, Code: CodeNoKeyVersion}
	vs, err := s.cfg.Store.Versions(ctx, id)
	switch {
	case errors.Is(err, store.ErrShredded):
		check.Code = CodeTenantShredded
		return check, nil
	case errors.Is(err, keyring.ErrNoKey):
		return check, nil
	case err != nil:
		return check, fromStore(err)
	}
	for _, v := range vs {
		for _, w := range v.Wrappings {
			err := s.unwrap(ctx, v, w)
			if err == nil {
				return check, fmt.Errorf("control: offboarding: the platform still unwraps tenant %s's key version %d under %s after its shred key was destroyed "+
					"(a wrapping written without the shred layer): no receipt is signed", id, v.Version, w.Key)
			}
			check.Code = kms.Misconfigured.Code()
			var ke *kms.Error
			if errors.As(err, &ke) {
				check.Code = ke.Class.Code()
			}
		}
	}
	return check, nil
}

func (s *Service) unwrap(ctx context.Context, v *keyring.Version, w kms.Wrapped) error {
	p, ok := s.cfg.Providers[w.Key.Provider]
	if !ok {
		return &kms.Error{Class: kms.Misconfigured, Op: "unwrap", Key: w.Key.ID, Err: fmt.Errorf("no provider %q", w.Key.Provider)}
	}
	key, err := p.Unwrap(ctx, &w, kms.Identity{Tenant: v.Tenant, Version: v.Version, Purpose: kms.PurposeTenantKey})
	if err != nil {
		return err
	}
	key.Destroy()
	return nil
}

// probeCustomerKeys asks each customer key whether it still opens the
// newest wrapping, as a copy of it from before offboarding would be.
func (s *Service) probeCustomerKeys(ctx context.Context, h *heldVersion) []ReceiptCheck {
	if h.destroyed {
		return []ReceiptCheck{{Check: CheckCustomerKey, Outcome: OutcomeSkipped}}
	}
	var out []ReceiptCheck
	for _, w := range h.customer {
		out = append(out, s.probe(ctx, h.version, w))
	}
	return out
}

func (s *Service) probe(ctx context.Context, v *keyring.Version, w kms.Wrapped) ReceiptCheck {
	check := ReceiptCheck{Check: CheckCustomerKey, Key: w.Key.ID, Region: w.Key.Region}
	p, ok := s.cfg.Providers[w.Key.Provider]
	if !ok {
		check.Outcome = OutcomeSkipped
		return check
	}
	ctx, cancel := context.WithTimeout(ctx, probeTimeout)
	defer cancel()
	err := p.Probe(ctx, &w, kms.Identity{Tenant: v.Tenant, Version: v.Version, Purpose: kms.PurposeTenantKey})
	if err == nil {
		check.Outcome = OutcomeAccepted
		return check
	}
	check.Outcome, check.Code = OutcomeUnavailable, kms.Unavailable.Code()
	var ke *kms.Error
	if errors.As(err, &ke) {
		check.Code, check.RequestID = ke.Class.Code(), ke.RequestID
		if !ke.Class.Transient() {
			check.Outcome = OutcomeRefused
		}
	}
	return check
}
