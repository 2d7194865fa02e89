package server

import (
	"context"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/byok-dev/byok/envelope"
	"github.com/byok-dev/byok/kms"
)

// KMSMetrics counts key provider calls by provider, operation and outcome
// (ok or the failure's class code) and measures their latency. Wrap each
// provider with [KMSMetrics.Instrument] before handing it to the keyring.
type KMSMetrics struct {
	calls   *prometheus.CounterVec
	latency *prometheus.HistogramVec
}

// NewKMSMetrics registers the KMS metrics on reg.
func NewKMSMetrics(reg prometheus.Registerer) (*KMSMetrics, error) {
	m := &KMSMetrics{
		calls: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "byok_kms_calls_total",
			Help: "Key provider calls by provider, operation and outcome."}, []string{"provider", "op", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "byok_kms_call_duration_seconds",
			Help: "Key provider call latency by provider, operation and outcome.", Buckets: prometheus.ExponentialBuckets(0.001, 2.5, 12)},
			[]string{"provider", "op", "outcome"}),
	}
	for _, c := range []prometheus.Collector{m.calls, m.latency} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Instrument returns p counting its calls under the provider label name.
func (m *KMSMetrics) Instrument(name string, p kms.Provider) kms.Provider {
	return &instrumented{p: p, m: m, name: name}
}

type instrumented struct {
	p    kms.Provider
	m    *KMSMetrics
	name string
}

var _ kms.Provider = (*instrumented)(nil)

func (i *instrumented) done(op string, start time.Time, err error) {
	outcome := "ok"
	if err != nil {
		outcome = "error"
		if c := kms.ClassOf(err); c != 0 {
			outcome = c.Code()
		}
	}
	i.m.calls.WithLabelValues(i.name, op, outcome).Inc()
	i.m.latency.WithLabelValues(i.name, op, outcome).Observe(time.Since(start).Seconds())
}

func (i *instrumented) GenerateAndWrap(ctx context.Context, ref kms.KeyRef, b kms.Identity) (k *envelope.TenantKey, w *kms.Wrapped, err error) {
	defer func(start time.Time) { i.done("generate_and_wrap", start, err) }(time.Now())
	return i.p.GenerateAndWrap(ctx, ref, b)
}

func (i *instrumented) Wrap(ctx context.Context, ref kms.KeyRef, key *envelope.TenantKey, b kms.Identity) (w *kms.Wrapped, err error) {
	defer func(start time.Time) { i.done("wrap", start, err) }(time.Now())
	return i.p.Wrap(ctx, ref, key, b)
}

func (i *instrumented) Unwrap(ctx context.Context, w *kms.Wrapped, b kms.Identity) (k *envelope.TenantKey, err error) {
	defer func(start time.Time) { i.done("unwrap", start, err) }(time.Now())
	return i.p.Unwrap(ctx, w, b)
}

func (i *instrumented) Rewrap(ctx context.Context, w *kms.Wrapped, to kms.KeyRef, b kms.Identity) (out *kms.Wrapped, err error) {
	defer func(start time.Time) { i.done("rewrap", start, err) }(time.Now())
	return i.p.Rewrap(ctx, w, to, b)
}

func (i *instrumented) Describe(ctx context.Context, ref kms.KeyRef, tenant string) (info *kms.KeyInfo, err error) {
	defer func(start time.Time) { i.done("describe", start, err) }(time.Now())
	return i.p.Describe(ctx, ref, tenant)
}

func (i *instrumented) Probe(ctx context.Context, w *kms.Wrapped, b kms.Identity) (err error) {
	defer func(start time.Time) { i.done("probe", start, err) }(time.Now())
	return i.p.Probe(ctx, w, b)
}
