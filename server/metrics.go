package server

import (
	"database/sql"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// Metrics are the server's Prometheus metrics, served at /metrics.
type Metrics struct {
	registry  *prometheus.Registry
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	builds    *prometheus.CounterVec
	buildTime prometheus.Histogram
	swaps     prometheus.Counter
	events    *prometheus.CounterVec
}

// NewMetrics registers the metrics. schemas reports how many tenant
// schemas the registry holds; db is the pool whose statistics are exported,
// labelled db_name=dbName, the database it connects to.
func NewMetrics(db *sql.DB, dbName string, schemas func() int) *Metrics {
	m := &Metrics{
		registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgraph_graphql_requests_total",
			Help: "GraphQL requests by tenant (alias, or admin) and outcome (ok, error, rejected).",
		}, []string{"tenant", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "tenantgraph_http_request_duration_seconds",
			Help:    "HTTP request latency by route.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5},
		}, []string{"route"}),
		builds: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgraph_schema_builds_total",
			Help: "Tenant schema builds by result (ok, error).",
		}, []string{"result"}),
		buildTime: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "tenantgraph_schema_build_duration_seconds",
			Help:    "Time to read a tenant's catalog and build its schema.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1},
		}),
		swaps: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "tenantgraph_schema_swaps_total",
			Help: "Schemas published in place of an older one of the same tenant.",
		}),
		events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "tenantgraph_change_listener_events_total",
			Help: "Change listener events: notification, reconnect, check.",
		}, []string{"kind"}),
	}
	m.registry.MustRegister(m.requests, m.latency, m.builds, m.buildTime, m.swaps, m.events,
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "tenantgraph_registry_schemas",
			Help: "Tenant schemas held built in the registry.",
		}, func() float64 { return float64(schemas()) }),
		collectors.NewDBStatsCollector(db, dbName),
		collectors.NewGoCollector(),
		collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}),
	)
	return m
}

// Handler serves the metrics in the Prometheus text format.
func (m *Metrics) Handler() http.Handler {
	return promhttp.HandlerFor(m.registry, promhttp.HandlerOpts{})
}

// Build records one schema build; swapped says it replaced an older one.
func (m *Metrics) Build(d time.Duration, err error, swapped bool) {
	if m == nil {
		return
	}
	if err != nil {
		m.builds.WithLabelValues("error").Inc()
		return
	}
	m.builds.WithLabelValues("ok").Inc()
	m.buildTime.Observe(d.Seconds())
	if swapped {
		m.swaps.Inc()
	}
}

// ListenerEvent records a change-listener event.
func (m *Metrics) ListenerEvent(kind string) {
	if m != nil {
		m.events.WithLabelValues(kind).Inc()
	}
}

func (m *Metrics) request(tenant, outcome string) {
	if m != nil {
		m.requests.WithLabelValues(tenant, outcome).Inc()
	}
}

func (m *Metrics) observe(route string, d time.Duration) {
	if m != nil {
		m.latency.WithLabelValues(route).Observe(d.Seconds())
	}
}
