package keyring

import (
	"context"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/kms"
)

// ProbeResult is what one health probe of a tenant's key saw.
type ProbeResult struct {
	Version   uint32     // the tenant key version probed
	Key       kms.KeyRef // the wrapping's key that answered last
	Class     kms.Class  // 0 when the probe passed
	RequestID string
	Err       error
}

// OK reports whether the probe passed.
func (r ProbeResult) OK() bool { return r.Err == nil }

// Probe proves that the platform can still use the tenant's key: it unwraps
// the newest version through its provider, bypassing the cache, within the
// tenant's call budget. Wrappings for this region are tried first, others
// only when one fails transiently. A definitive failure (denied, disabled,
// pending deletion, not found) evicts the tenant from the cache at once, so a
// revocation is honoured within one probe interval whatever the cache TTL.
func (k *Keyring) Probe(ctx context.Context, tenant string) (ProbeResult, error) {
	v, err := k.cfg.Store.LatestVersion(ctx, tenant)
	if err != nil {
		return ProbeResult{}, fmt.Errorf("keyring: probe tenant %s: %w", tenant, err)
	}
	b := kms.Identity{Tenant: tenant, Version: v.Version, Purpose: kms.PurposeTenantKey}
	res := ProbeResult{Version: v.Version, Err: errNoWrapping, Class: kms.Misconfigured}
	for _, w := range k.ordered(v.Wrappings) {
		res = k.probeOne(ctx, &w, b)
		if res.OK() || !res.Class.Transient() {
			break
		}
	}
	if res.Class.Definitive() {
		k.Evict(tenant)
	}
	return res, nil
}

// ErrNoRegionWrapping is ProbeRegion's answer for a tenant whose newest key
// version has no wrapping in the region: the region's key cannot be judged
// there.
var ErrNoRegionWrapping = errors.New("keyring: the newest key version has no wrapping in the region")

// ProbeRegion is Probe restricted to one hosting region: it tries only the
// newest version's wrappings under keys in region, never another region's,
// so what it sees is the health of that region's key alone, reached with
// this process's own credentials. A definitive failure evicts the tenant as
// Probe does.
func (k *Keyring) ProbeRegion(ctx context.Context, tenant, region string) (ProbeResult, error) {
	v, err := k.cfg.Store.LatestVersion(ctx, tenant)
	if err != nil {
		return ProbeResult{}, fmt.Errorf("keyring: probe tenant %s: %w", tenant, err)
	}
	b := kms.Identity{Tenant: tenant, Version: v.Version, Purpose: kms.PurposeTenantKey}
	var res ProbeResult
	tried := false
	for _, w := range v.Wrappings {
		if w.Key.Region != region {
			continue
		}
		tried = true
		if res = k.probeOne(ctx, &w, b); res.OK() || !res.Class.Transient() {
			break
		}
	}
	if !tried {
		return ProbeResult{Version: v.Version}, fmt.Errorf("probe tenant %s in %s: %w", tenant, region, ErrNoRegionWrapping)
	}
	if res.Class.Definitive() {
		k.Evict(tenant)
	}
	return res, nil
}

func (k *Keyring) probeOne(ctx context.Context, w *kms.Wrapped, b kms.Identity) ProbeResult {
	res := ProbeResult{Version: b.Version, Key: w.Key}
	p, err := k.provider(w.Key)
	if err == nil {
		err = k.metered(ctx, b.Tenant, func() error { return p.Probe(ctx, w, b) })
	}
	if err != nil {
		res.Err, res.Class, res.RequestID = err, kms.ClassOf(err), kms.RequestIDOf(err)
		if res.Class == 0 {
			res.Class = kms.Unavailable // a context error or an unclassified failure
		}
	}
	return res
}
