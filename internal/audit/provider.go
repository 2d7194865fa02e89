package audit

import (
	"cmp"
	"context"
	"errors"
	"fmt"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// Provider wraps p so that every call is recorded in sink: one event per
// call with the tenant of its binding, the key, the outcome class code and
// the provider's request id. Actions are named after the AWS KMS API call a
// symmetric key makes ("kms.GenerateDataKey", "kms.Encrypt", "kms.Decrypt",
// "kms.ReEncrypt", "kms.DescribeKey"), with the byok operation in
// Details["op"]. actor names who uses the provider ("system:keyring");
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

func (pr *provider) GenerateAndWrap(ctx context.Context, ref kms.KeyRef, b kms.Binding) (*envelope.TenantKey, *kms.Wrapped, error) {
	key, w, err := pr.p.GenerateAndWrap(ctx, ref, b)
	arn := cmp.Or(keyID(w), ref.ID)
	if rerr := pr.record(ctx, "generate", "kms.GenerateDataKey", b.Tenant, arn, wrappedID(w), err); rerr != nil {
		_, rerr = destroyOnFail(key, errors.Join(err, rerr))
		return nil, nil, rerr
	}
	return key, w, err
}

func (pr *provider) Wrap(ctx context.Context, ref kms.KeyRef, key *envelope.TenantKey, b kms.Binding) (*kms.Wrapped, error) {
	w, err := pr.p.Wrap(ctx, ref, key, b)
	if rerr := pr.record(ctx, "wrap", "kms.Encrypt", b.Tenant, cmp.Or(keyID(w), ref.ID), wrappedID(w), err); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return w, err
}

// Unwrap records no KMS request id on success: the provider seam does not
// return one for a successful Decrypt.
func (pr *provider) Unwrap(ctx context.Context, w *kms.Wrapped, b kms.Binding) (*envelope.TenantKey, error) {
	key, err := pr.p.Unwrap(ctx, w, b)
	if rerr := pr.record(ctx, "unwrap", "kms.Decrypt", b.Tenant, keyID(w), "", err); rerr != nil {
		return destroyOnFail(key, errors.Join(err, rerr))
	}
	return key, err
}

func (pr *provider) Rewrap(ctx context.Context, w *kms.Wrapped, to kms.KeyRef, b kms.Binding) (*kms.Wrapped, error) {
	out, err := pr.p.Rewrap(ctx, w, to, b)
	e := pr.record(ctx, "rewrap", "kms.ReEncrypt", b.Tenant, cmp.Or(keyID(out), to.ID), wrappedID(out), err)
	if e != nil {
		return nil, errors.Join(err, e)
	}
	return out, err
}

// Describe is recorded on the platform chain: a key is described before
// it is bound to a tenant, and the seam passes no binding.
func (pr *provider) Describe(ctx context.Context, ref kms.KeyRef) (*kms.KeyInfo, error) {
	info, err := pr.p.Describe(ctx, ref)
	reqID, arn := "", ref.ID
	if info != nil {
		reqID, arn = info.RequestID, cmp.Or(info.ARN, ref.ID)
	}
	if rerr := pr.record(ctx, "describe", "kms.DescribeKey", "", arn, reqID, err); rerr != nil {
		return nil, errors.Join(err, rerr)
	}
	return info, err
}

func (pr *provider) Probe(ctx context.Context, w *kms.Wrapped, b kms.Binding) error {
	err := pr.p.Probe(ctx, w, b)
	return errors.Join(err, pr.record(ctx, "probe", "kms.Decrypt", b.Tenant, keyID(w), "", err))
}
