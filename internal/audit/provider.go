package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// Provider wraps p so that every call is recorded in sink. A provider that
// reports its requests (kms.Observe: AWS KMS does) gets one event per AWS
// request, named after the API ("kms.Decrypt", "sts.AssumeRole", ...) and
// carrying the request id the customer's CloudTrail shows, retries and
// failovers included; any other call is one event named after the AWS KMS
// API a symmetric key would use. Each event has the tenant of the identity,
// the key, the outcome code, and the byok operation in Details["op"]. actor names who uses the provider ("system:keyring");
// [WithActor] overrides it per call.
//
// A call whose event cannot be recorded fails, and a tenant key it returned
// is destroyed: the key is not used without a trace on the platform's side.
func Provider(p kms.Provider, sink Sink, actor string) kms.Provider {
	return &provider{p: p, sink: sink, actor: actor}
}

type provider struct {
	p     kms.Provider
	sink  Sink
	actor string
}

type actorKey struct{}

type callActor struct{ actor, requestID string }

// WithActor returns a context whose KMS calls through [Provider] are
// recorded with actor and the platform's request id.
func WithActor(ctx context.Context, actor, requestID string) context.Context {
	return context.WithValue(ctx, actorKey{}, callActor{actor, requestID})
}

func (pr *provider) record(ctx context.Context, op, action, tenant, key, reqID string, err error) error {
	e := Event{Tenant: tenant, Actor: pr.actor, Action: action, KeyARN: key, KMSRequestID: reqID,
		Outcome: outcome(err), Details: map[string]string{"op": op}}
	if a, ok := ctx.Value(actorKey{}).(callActor); ok {
		e.Actor, e.RequestID = a.actor, a.requestID
	}
	if reqID == "" {
		e.KMSRequestID = kms.RequestIDOf(err)
	}
	// The event is recorded even when ctx was canceled mid-call.
	if rerr := pr.sink.Record(context.WithoutCancel(ctx), e); rerr != nil {
		return fmt.Errorf("audit: record %s: %w", action, rerr)
	}
	return nil
}

// outcome is "ok", the KMS class code, or a generic code for an error
// without a class.
func outcome(err error) string {
	switch {
	case err == nil:
		return OutcomeOK
	case kms.ClassOf(err) != 0:
		return kms.ClassOf(err).Code()
	case errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded):
		return "canceled"
	}
	return "kms_error"
}

func wrappedID(w *kms.Wrapped) string {
	if w == nil {
		return ""
	}
	return w.RequestID
}

func keyID(w *kms.Wrapped) string {
	if w == nil {
		return ""
	}
	return w.Key.ID
}

// destroyOnFail keeps a key from leaving a call whose event was lost.
func destroyOnFail(key *envelope.TenantKey, err error) (*envelope.TenantKey, error) {
	if err != nil && key != nil {
		key.Destroy()
		return nil, err
	}
	return key, err
}

// observed runs call with a KMS observer and records one event per request
// the provider made, with its AWS request id, so the log lines up with the
// customer's CloudTrail call for call (retries and failovers included). A
// call that made no request (a local provider; an RSA wrap) is recorded as
// one event named action, with reqID.
// call returns the request id the provider reported (if any) and the key
// ARN it resolved (an alias resolved), or "" to keep key.
func (pr *provider) observed(ctx context.Context, op, action, tenant, key string, call func(context.Context) (string, string, error)) (err, recErr error) {
	var calls []kms.Call
	reqID, resolved, err := call(kms.WithObserver(ctx, func(c kms.Call) { calls = append(calls, c) }))
	key = cmp.Or(resolved, key)
	if len(calls) == 0 {
		return err, pr.record(ctx, op, action, tenant, key, reqID, err)
	}
	for _, c := range calls {
		recErr = errors.Join(recErr, pr.recordCall(ctx, op, tenant, key, c))
	}
	return err, recErr
}

func (pr *provider) recordCall(ctx context.Context, op, tenant, key string, c kms.Call) error {
	out := OutcomeOK
	if c.Err != nil {
		out = cmp.Or(c.Class.Code(), "kms_error")
		if c.Class == 0 {
			out = outcome(c.Err)
		}
	}
	e := Event{Tenant: tenant, Actor: pr.actor, Action: c.Service + "." + c.API, KeyARN: key, KMSRequestID: c.RequestID,
		Outcome: out, Details: map[string]string{"op": op, "region": c.Region}}
	if a, ok := ctx.Value(actorKey{}).(callActor); ok {
		e.Actor, e.RequestID = a.actor, a.requestID
	}
	if err := pr.sink.Record(context.WithoutCancel(ctx), e); err != nil {
		return fmt.Errorf("audit: record %s: %w", e.Action, err)
	}
	return nil
}

func (pr *provider) GenerateAndWrap(ctx context.Context, ref kms.KeyRef, b kms.Identity) (*envelope.TenantKey, *kms.Wrapped, error) {
	var key *envelope.TenantKey
	var w *kms.Wrapped
	err, rerr := pr.observed(ctx, "generate", "kms.GenerateDataKey", b.Tenant, ref.ID, func(ctx context.Context) (string, string, error) {
		var err error
		key, w, err = pr.p.GenerateAndWrap(ctx, ref, b)
		return wrappedID(w), keyID(w), err
	})
	if rerr != nil {
		_, rerr = destroyOnFail(key, errors.Join(err, rerr))
		return nil, nil, rerr
	}
	return key, w, err
}

func (pr *provider) Wrap(ctx context.Context, ref kms.KeyRef, key *envelope.TenantKey, b kms.Identity) (*kms.Wrapped, error) {
	var w *kms.Wrapped
	err, rerr := pr.observed(ctx, "wrap", "kms.Encrypt", b.Tenant, ref.ID, func(ctx context.Context) (string, string, error) {
		var err error
		w, err = pr.p.Wrap(ctx, ref, key, b)
		return wrappedID(w), keyID(w), err
	})
	if rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return w, err
}

func (pr *provider) Unwrap(ctx context.Context, w *kms.Wrapped, b kms.Identity) (*envelope.TenantKey, error) {
	var key *envelope.TenantKey
	err, rerr := pr.observed(ctx, "unwrap", "kms.Decrypt", b.Tenant, keyID(w), func(ctx context.Context) (string, string, error) {
		var err error
		key, err = pr.p.Unwrap(ctx, w, b)
		return "", "", err
	})
	if rerr != nil {
		return destroyOnFail(key, errors.Join(err, rerr))
	}
	return key, err
}

func (pr *provider) Rewrap(ctx context.Context, w *kms.Wrapped, to kms.KeyRef, b kms.Identity) (*kms.Wrapped, error) {
	var out *kms.Wrapped
	err, rerr := pr.observed(ctx, "rewrap", "kms.ReEncrypt", b.Tenant, to.ID, func(ctx context.Context) (string, string, error) {
		var err error
		out, err = pr.p.Rewrap(ctx, w, to, b)
		return wrappedID(out), keyID(out), err
	})
	if rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return out, err
}

// Describe is recorded on the tenant's chain, or on the platform chain when
// asked for the platform itself.
func (pr *provider) Describe(ctx context.Context, ref kms.KeyRef, tenant string) (*kms.KeyInfo, error) {
	var info *kms.KeyInfo
	err, rerr := pr.observed(ctx, "describe", "kms.DescribeKey", tenant, ref.ID, func(ctx context.Context) (string, string, error) {
		var err error
		info, err = pr.p.Describe(ctx, ref, tenant)
		if info != nil {
			return info.RequestID, info.ARN, err
		}
		return "", "", err
	})
	if rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return info, err
}

func (pr *provider) Probe(ctx context.Context, w *kms.Wrapped, b kms.Identity) error {
	err, rerr := pr.observed(ctx, "probe", "kms.Decrypt", b.Tenant, keyID(w), func(ctx context.Context) (string, string, error) {
		return "", "", pr.p.Probe(ctx, w, b)
	})
	return errors.Join(err, rerr)
}
