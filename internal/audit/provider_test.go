package audit

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// stubProvider answers every call with fixed results, so the test sees
// exactly what the wrapper records.
type stubProvider struct{ err error }

const testARN = "arn:aws:kms:eu-west-1:111122223333:key/mrk-1"

func (p stubProvider) wrapped() *kms.Wrapped {
	if p.err != nil {
		return nil
	}
	return &kms.Wrapped{Key: kms.KeyRef{Provider: "aws-kms", ID: testARN}, RequestID: "req-wrapped"}
}

func (p stubProvider) key(b kms.Identity) *envelope.TenantKey {
	if p.err != nil {
		return nil
	}
	k, _ := envelope.NewTenantKey(b.Tenant, b.Version, make([]byte, envelope.KeySize))
	return k
}

func (p stubProvider) GenerateAndWrap(_ context.Context, _ kms.KeyRef, b kms.Identity) (*envelope.TenantKey, *kms.Wrapped, error) {
	return p.key(b), p.wrapped(), p.err
}
func (p stubProvider) Wrap(context.Context, kms.KeyRef, *envelope.TenantKey, kms.Identity) (*kms.Wrapped, error) {
	return p.wrapped(), p.err
}
func (p stubProvider) Unwrap(_ context.Context, _ *kms.Wrapped, b kms.Identity) (*envelope.TenantKey, error) {
	return p.key(b), p.err
}
func (p stubProvider) Rewrap(context.Context, *kms.Wrapped, kms.KeyRef, kms.Identity) (*kms.Wrapped, error) {
	return p.wrapped(), p.err
}
func (p stubProvider) Describe(context.Context, kms.KeyRef, string) (*kms.KeyInfo, error) {
	if p.err != nil {
		return nil, p.err
	}
	return &kms.KeyInfo{ARN: testARN, RequestID: "req-describe"}, nil
}
func (p stubProvider) Probe(context.Context, *kms.Wrapped, kms.Identity) error { return p.err }

// memSink keeps events in memory, or fails with err.
type memSink struct {
	mu     sync.Mutex
	events []Event
	err    error
}

func (s *memSink) Record(_ context.Context, e Event) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.events = append(s.events, e)
	return s.err
}

type brief struct{ Tenant, Actor, Action, Key, ReqID, Outcome, Op, PlatformReq string }

func briefs(es []Event) []brief {
	var out []brief
	for _, e := range es {
		out = append(out, brief{e.Tenant, e.Actor, e.Action, e.KeyARN, e.KMSRequestID, e.Outcome, e.Details["op"], e.RequestID})
	}
	return out
}

// callAll makes each provider call once.
func callAll(ctx context.Context, p kms.Provider) {
	b := kms.Identity{Tenant: "acme", Version: 1, Purpose: kms.PurposeTenantKey}
	ref := kms.KeyRef{Provider: "aws-kms", ID: testARN}
	w := &kms.Wrapped{Key: ref}
	key, _ := envelope.NewTenantKey("acme", 1, make([]byte, envelope.KeySize))
	_, _, _ = p.GenerateAndWrap(ctx, ref, b)
	_, _ = p.Wrap(ctx, ref, key, b)
	_, _ = p.Unwrap(ctx, w, b)
	_, _ = p.Rewrap(ctx, w, ref, b)
	_, _ = p.Describe(ctx, ref, b.Tenant)
	_ = p.Probe(ctx, w, b)
}

func TestProviderRecordsEveryCall(t *testing.T) {
	sink := &memSink{}
	callAll(WithActor(ctx, "token:tk1 (alice)", "req-42"), Provider(stubProvider{}, sink, "system:keyring"))
	a := "token:tk1 (alice)"
	want := []brief{
		{"acme", a, "kms.GenerateDataKey", testARN, "req-wrapped", "ok", "generate", "req-42"},
		{"acme", a, "kms.Encrypt", testARN, "req-wrapped", "ok", "wrap", "req-42"},
		{"acme", a, "kms.Decrypt", testARN, "", "ok", "unwrap", "req-42"},
		{"acme", a, "kms.ReEncrypt", testARN, "req-wrapped", "ok", "rewrap", "req-42"},
		{"acme", a, "kms.DescribeKey", testARN, "req-describe", "ok", "describe", "req-42"},
		{"acme", a, "kms.Decrypt", testARN, "", "ok", "probe", "req-42"},
	}
	if d := cmp.Diff(want, briefs(sink.events)); d != "" {
		t.Fatalf("events (-want +got):\n%s", d)
	}
}

func TestProviderRecordsFailures(t *testing.T) {
	sink := &memSink{}
	denied := &kms.Error{Class: kms.Denied, Op: "unwrap", RequestID: "req-denied"}
	callAll(ctx, Provider(stubProvider{err: denied}, sink, "system:keyring"))
	if len(sink.events) != 6 {
		t.Fatalf("recorded %d events, want 6", len(sink.events))
	}
	for _, e := range sink.events {
		if e.Outcome != "key_access_denied" || e.KMSRequestID != "req-denied" || e.Actor != "system:keyring" {
			t.Errorf("%s recorded as %+v", e.Action, e)
		}
	}
	if got := outcome(errors.New("other")); got != "kms_error" {
		t.Errorf("outcome(unclassified) = %q", got)
	}
	if got := outcome(context.Canceled); got != "canceled" {
		t.Errorf("outcome(canceled) = %q", got)
	}
}

// TestProviderSinkFailure: a call whose event is lost fails and its key
// does not leave.
func TestProviderSinkFailure(t *testing.T) {
	lost := errors.New("database down")
	p := Provider(stubProvider{}, &memSink{err: lost}, "system:keyring")
	b := kms.Identity{Tenant: "acme", Version: 1, Purpose: kms.PurposeTenantKey}
	key, err := p.Unwrap(ctx, &kms.Wrapped{}, b)
	if !errors.Is(err, lost) || key != nil {
		t.Fatalf("Unwrap() = %v, %v; want no key and the sink's error", key, err)
	}
	key, w, err := p.GenerateAndWrap(ctx, kms.KeyRef{ID: testARN}, b)
	if !errors.Is(err, lost) || key != nil || w != nil {
		t.Fatalf("GenerateAndWrap() = %v, %v, %v; want the sink's error only", key, w, err)
	}
	if err := p.Probe(ctx, &kms.Wrapped{}, b); !errors.Is(err, lost) {
		t.Fatalf("Probe() err = %v, want the sink's error", err)
	}
}

// observingProvider reports two requests per call, as a provider that
// retried once would.
type observingProvider struct{ stubProvider }

func (p observingProvider) Unwrap(ctx context.Context, w *kms.Wrapped, b kms.Identity) (*envelope.TenantKey, error) {
	kms.Observe(ctx, kms.Call{Service: "kms", API: "Decrypt", Region: "eu-west-1", RequestID: "req-1", Class: kms.Throttled, Err: errors.New("throttled")})
	kms.Observe(ctx, kms.Call{Service: "kms", API: "Decrypt", Region: "eu-west-1", RequestID: "req-2"})
	return p.stubProvider.Unwrap(ctx, w, b)
}

// With a provider that reports its requests, each is one event with its
// own request id and outcome.
func TestProviderRecordsEachObservedRequest(t *testing.T) {
	sink := &memSink{}
	p := Provider(observingProvider{}, sink, "system:keyring")
	w := &kms.Wrapped{Key: kms.KeyRef{Provider: "aws-kms", ID: testARN}}
	key, err := p.Unwrap(ctx, w, kms.Identity{Tenant: "acme", Version: 1, Purpose: kms.PurposeTenantKey})
	if err != nil || key == nil {
		t.Fatalf("Unwrap() = %v, %v", key, err)
	}
	var got []string
	for _, e := range sink.events {
		got = append(got, e.Action+" "+e.KMSRequestID+" "+e.Outcome+" "+e.KeyARN+" "+e.Tenant)
	}
	want := []string{
		"kms.Decrypt req-1 kms_throttled " + testARN + " acme",
		"kms.Decrypt req-2 ok " + testARN + " acme",
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Fatalf("events (-want +got):\n%s", diff)
	}
}
