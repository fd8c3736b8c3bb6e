package upstream

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/smartassist-exporter/smartassist_exporter/naming"
)

var _ RequestObserver = (*RequestMetrics)(nil)

// RequestMetrics are the exporter's own metrics about what it sends to the
// platform, over every source.
type RequestMetrics struct {
	requests      *prometheus.CounterVec
	rateLimitWait prometheus.Counter
	budget        prometheus.Gauge
}

// NewRequestMetrics registers the request metrics. endpoints are the
// endpoint label values to create at zero, so that rate() works before the
// first request of each.
func NewRequestMetrics(reg prometheus.Registerer, budgetPerMinute float64, endpoints ...string) *RequestMetrics {
	m := &RequestMetrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Namespace: naming.Namespace, Subsystem: "exporter", Name: "api_requests_total",
			Help: "smartassist_exporter: requests sent to the SmartAssist APIs, by endpoint and HTTP status (\"error\": no response). 429 is the platform's rate limit, 401/403 refused credentials.",
		}, []string{"endpoint", "code"}),
		rateLimitWait: prometheus.NewCounter(prometheus.CounterOpts{
			Namespace: naming.Namespace, Subsystem: "exporter", Name: "rate_limit_wait_seconds_total",
			Help: "smartassist_exporter: time spent waiting for the exporter's own API budget (SMARTASSIST_API_RATE_LIMIT) before requests.",
		}),
		budget: prometheus.NewGauge(prometheus.GaugeOpts{
			Namespace: naming.Namespace, Subsystem: "exporter", Name: "api_budget_requests_per_minute",
			Help: "smartassist_exporter: the API requests per minute the exporter may spend over all its sources (SMARTASSIST_API_RATE_LIMIT).",
		}),
	}
	m.budget.Set(budgetPerMinute)
	for _, e := range endpoints {
		m.requests.WithLabelValues(e, "200")
	}
	reg.MustRegister(m.requests, m.rateLimitWait, m.budget)
	return m
}

// Request implements RequestObserver.
func (m *RequestMetrics) Request(endpoint, code string, waited time.Duration) {
	m.requests.WithLabelValues(endpoint, code).Inc()
	m.rateLimitWait.Add(waited.Seconds())
}
