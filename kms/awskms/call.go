package awskms

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"slices"
	"time"

	kmsapi "github.com/aws/aws-sdk-go-v2/service/kms"

	"github.com/byok-dev/byok/kms"
)

// route is where a call may go: the key's ARN in each region to try, in
// order (the key's own region, then its failover regions), and how to reach
// it.
type route struct {
	arns   []ARN
	access access
}

func (r route) primary() ARN { return r.arns[0] }

// route validates ref and returns its route; tenant names the role session.
func (p *Provider) route(op string, ref kms.KeyRef, tenant string) (route, error) {
	if ref.Provider != ProviderName {
		return route{}, misconfigured(op, ref.ID, fmt.Errorf("key provider is %q, want %q", ref.Provider, ProviderName))
	}
	a, err := ParseARN(ref.ID)
	if err != nil {
		return route{}, misconfigured(op, ref.ID, err)
	}
	var rt route
	for _, region := range append([]string{cmp.Or(ref.Region, a.Region)}, ref.FailoverRegions...) {
		ra, err := a.InRegion(region)
		if err != nil {
			return route{}, misconfigured(op, ref.ID, err)
		}
		if !slices.Contains(rt.arns, ra) {
			rt.arns = append(rt.arns, ra)
		}
	}
	rt.access, err = p.access(ref, a.Partition, tenant)
	if err != nil {
		return route{}, misconfigured(op, ref.ID, err)
	}
	return rt, nil
}

func (p *Provider) access(ref kms.KeyRef, partition, tenant string) (access, error) {
	if ref.RoleARN == "" {
		if ref.ExternalID != "" {
			return access{}, errors.New("an external id needs a role ARN")
		}
		return access{}, nil
	}
	if err := checkRole(ref.RoleARN, ref.ExternalID, partition); err != nil {
		return access{}, err
	}
	return access{role: ref.RoleARN, externalID: ref.ExternalID, session: sessionName(p.cfg.RoleSessionPrefix, tenant)}, nil
}

// attemptFunc makes one KMS request for the key arn (in arn's region).
type attemptFunc func(ctx context.Context, c *kmsapi.Client, arn ARN) error

// do runs fn with retries and failover: each attempt is a round over the
// route's regions whose circuit breakers allow a call, stopping at the first
// success or definitive failure; rounds are separated by capped exponential
// backoff with full jitter. It returns nil or a *kms.Error: the last failure
// a region answered, or errCircuitOpen when no region was tried at all.
func (p *Provider) do(ctx context.Context, op string, rt route, fn attemptFunc) error {
	var last *kms.Error
	for n := range p.cfg.Retry.MaxAttempts {
		if n > 0 && !p.backoff(ctx, n) {
			break
		}
		err, tried := p.round(ctx, op, rt, fn)
		if !tried {
			break
		}
		if err == nil {
			return nil
		}
		last = err
		if !err.Class.Transient() || ctx.Err() != nil {
			break
		}
	}
	if last == nil {
		return kmsError(kms.Unavailable, op, rt.primary(), errCircuitOpen)
	}
	return last
}

// backoff sleeps before attempt n+1 and reports whether the call's deadline
// leaves time for it.
func (p *Provider) backoff(ctx context.Context, n int) bool {
	ceiling := min(p.cfg.Retry.MaxDelay, p.cfg.Retry.BaseDelay<<min(n-1, 30))
	var d time.Duration
	if ceiling > 0 {
		d = rand.N(ceiling)
	}
	if deadline, ok := ctx.Deadline(); ok && time.Until(deadline) <= d {
		return false
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// round tries each region whose breaker allows it, in order, until one
// answers with success or a definitive failure. tried is false when every
// breaker was open.
func (p *Provider) round(ctx context.Context, op string, rt route, fn attemptFunc) (last *kms.Error, tried bool) {
	for _, arn := range rt.arns {
		b := p.breaker(arn.Region)
		if !b.allow(p.cfg.Clock()) {
			continue
		}
		tried = true
		err, assuming := p.attempt(ctx, op, arn, rt.access, fn)
		if err != nil && ctx.Err() != nil {
			b.release() // the caller gave up: no verdict on the region
			return err, true
		}
		if err != nil && assuming {
			// STS failed, not KMS: the region's KMS was not asked, so its
			// breaker learns nothing. Counting STS outages there would
			// keep refusing every tenant of the region, direct ones too,
			// for a cool-down after STS is back.
			b.release()
		} else {
			b.record(p.cfg.Clock(), err != nil && err.Class.Transient())
		}
		if err == nil || !err.Class.Transient() {
			return err, true
		}
		last = err
	}
	return last, tried
}

// errCircuitOpen is the failure of a call whose every region is skipped by
// its circuit breaker.
var errCircuitOpen = errors.New("circuit breaker open in every region of the key")

// attempt makes one request in arn's region, within AttemptTimeout,
// assuming the role first if needed so that STS failures are told apart
// from KMS ones: assuming is true when the failure is the role's
// AssumeRole.
func (p *Provider) attempt(ctx context.Context, op string, arn ARN, acc access, fn attemptFunc) (_ *kms.Error, assuming bool) {
	ctx, cancel := context.WithTimeout(ctx, p.cfg.AttemptTimeout)
	defer cancel()
	rc := p.clients.get(clientKey{region: arn.Region, access: acc})
	used, kerr := rc.assume(ctx, op, arn)
	if kerr != nil {
		return kerr, true
	}
	err := fn(ctx, rc.kms, arn)
	if rc.sess != nil && isRejectedCredential(err) {
		// KMS refused the session's credentials, as expired or as unknown
		// (a session it has forgotten, or a clock that disagrees with the
		// provider's): the role is assumed again, once, before the failure
		// is classified, so a stale session never reads as a misconfigured
		// key.
		rc.sess.invalidate(used)
		if used, kerr = rc.assume(ctx, op, arn); kerr != nil {
			return kerr, true
		}
		err = fn(ctx, rc.kms, arn)
	}
	if err == nil {
		return nil, false
	}
	var ke *kms.Error
	if errors.As(err, &ke) {
		return ke, false
	}
	if rc.sess != nil && isRejectedCredential(err) {
		rc.sess.invalidate(used) // the next call assumes the role afresh
	}
	return kmsError(classify(err), op, arn, err), false
}

func (p *Provider) breaker(region string) *breaker {
	p.mu.Lock()
	defer p.mu.Unlock()
	b, ok := p.breakers[region]
	if !ok {
		b = &breaker{policy: p.cfg.Breaker}
		p.breakers[region] = b
	}
	return b
}
