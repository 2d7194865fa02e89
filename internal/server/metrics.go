package server

import (
	"context"
	"net/http"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/byok-dev/byok/internal/store"
	"github.com/byok-dev/byok/internal/tenant"
	"github.com/byok-dev/byok/keyring"
)

// metrics are the server's own; KMS calls are counted by InstrumentProvider
// and by the keyring's counters, which the collector sums over tenants.
type metrics struct {
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	handler  http.Handler
}

func newMetrics(reg *prometheus.Registry, st Store, kr *keyring.Keyring) (*metrics, error) {
	m := &metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "byok_http_requests_total",
			Help: "HTTP requests by route, method and status."}, []string{"route", "method", "status"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "byok_http_request_duration_seconds",
			Help: "HTTP request latency by route.", Buckets: prometheus.ExponentialBuckets(0.0002, 2.5, 14)}, []string{"route"}),
	}
	for _, c := range []prometheus.Collector{m.requests, m.latency, &tenantCollector{store: st, keyring: kr}} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	m.handler = promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
	return m, nil
}

func (m *metrics) observe(rt *route, status int, d time.Duration) {
	m.requests.WithLabelValues(rt.path, rt.method, strconv.Itoa(status)).Inc()
	m.latency.WithLabelValues(rt.path).Observe(d.Seconds())
}

// tenantCollector reads, at each scrape, how many tenants are in each state
// and sums the keyring's per-tenant counters. It pages through the store, so
// a scrape costs one query per thousand tenants.
type tenantCollector struct {
	store   Store
	keyring *keyring.Keyring
}

var (
	descTenants   = prometheus.NewDesc("byok_tenants", "Tenants by state.", []string{"state"}, nil)
	descKMSCalls  = prometheus.NewDesc("byok_keyring_kms_calls_total", "KMS calls made by the keyring, by outcome.", []string{"outcome"}, nil)
	descRefused   = prometheus.NewDesc("byok_keyring_budget_refusals_total", "KMS calls refused by tenants' call budgets.", nil, nil)
	descCache     = prometheus.NewDesc("byok_keyring_cache_total", "Tenant key lookups by result.", []string{"result"}, nil)
	descCached    = prometheus.NewDesc("byok_keyring_cached_keys", "Unwrapped tenant keys in the cache.", nil, nil)
	descScrapeErr = prometheus.NewDesc("byok_tenants_scrape_error", "1 when the tenant metrics could not be read from the store.", nil, nil)
)

func (c *tenantCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range []*prometheus.Desc{descTenants, descKMSCalls, descRefused, descCache, descCached, descScrapeErr} {
		ch <- d
	}
}

func (c *tenantCollector) Collect(ch chan<- prometheus.Metric) {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	states, sum, err := c.read(ctx)
	scrapeErr := 0.0
	if err != nil {
		scrapeErr = 1
	}
	ch <- prometheus.MustNewConstMetric(descScrapeErr, prometheus.GaugeValue, scrapeErr)
	for _, st := range tenant.States {
		ch <- prometheus.MustNewConstMetric(descTenants, prometheus.GaugeValue, float64(states[st]), string(st))
	}
	ch <- prometheus.MustNewConstMetric(descKMSCalls, prometheus.CounterValue, float64(sum.KMSCalls-sum.KMSFailed), "ok")
	ch <- prometheus.MustNewConstMetric(descKMSCalls, prometheus.CounterValue, float64(sum.KMSFailed), "error")
	ch <- prometheus.MustNewConstMetric(descRefused, prometheus.CounterValue, float64(sum.Refused))
	ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(sum.CacheHits), "hit")
	ch <- prometheus.MustNewConstMetric(descCache, prometheus.CounterValue, float64(sum.CacheMiss), "miss")
	ch <- prometheus.MustNewConstMetric(descCached, prometheus.GaugeValue, float64(c.keyring.CachedKeys()))
}

func (c *tenantCollector) read(ctx context.Context) (map[tenant.State]int, keyring.Stats, error) {
	states := map[tenant.State]int{}
	var sum keyring.Stats
	opts := store.ListOptions{Limit: store.MaxPageSize}
	for {
		page, err := c.store.ListTenants(ctx, opts)
		if err != nil {
			return states, sum, err
		}
		for _, t := range page.Tenants {
			states[t.State]++
			addStats(&sum, c.keyring.Stats(t.ID))
		}
		if page.Next == "" {
			return states, sum, nil
		}
		opts.Cursor = page.Next
	}
}

func addStats(sum *keyring.Stats, s keyring.Stats) {
	sum.KMSCalls += s.KMSCalls
	sum.KMSFailed += s.KMSFailed
	sum.Refused += s.Refused
	sum.CacheHits += s.CacheHits
	sum.CacheMiss += s.CacheMiss
}

func (s *Server) metricsHandler(w http.ResponseWriter, r *http.Request, _ *call) error {
	s.metrics.handler.ServeHTTP(w, r)
	return nil
}

// healthz is liveness: it answers as long as the process serves HTTP. It
// depends on neither KMS nor the database, so that an outage of either does
// not get healthy instances restarted (which would throw their caches away).
func (s *Server) healthz(w http.ResponseWriter, _ *http.Request, _ *call) error {
	writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	return nil
}

// readyz is readiness: the store answers a query.
func (s *Server) readyz(w http.ResponseWriter, r *http.Request, _ *call) error {
	ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
	defer cancel()
	if _, err := s.cfg.Store.ListTenants(ctx, store.ListOptions{Limit: 1}); err != nil {
		s.log.Warn("not ready", "error", err.Error())
		return apiErr(http.StatusServiceUnavailable, CodeUnavailable, "the database is not reachable")
	}
	writeJSON(w, http.StatusOK, map[string]string{"status": "ready"})
	return nil
}
