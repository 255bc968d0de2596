package acquirer

import (
	"net/http"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// metrics live in a registry of their own, so that several acquirers in one process (tests,
// the scenario runner) never collide on the global one.
type metrics struct {
	reg      *prometheus.Registry
	requests *prometheus.CounterVec
	latency  *prometheus.HistogramVec
	faults   *prometheus.CounterVec
	conns    *prometheus.CounterVec
	open     prometheus.Gauge
	badInput *prometheus.CounterVec
	panics   prometheus.Counter
}

func newMetrics() *metrics {
	m := &metrics{
		reg: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posdrill_acquirer_requests_total",
			Help: "Requests processed, by MTI and the response code decided.",
		}, []string{"mti", "code"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "posdrill_acquirer_request_duration_seconds",
			Help:    "Time from a request's arrival to its answer being handled (injected clock), by MTI.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30, 60},
		}, []string{"mti"}),
		faults: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posdrill_acquirer_faults_fired_total",
			Help: "Fault rules fired, by action.",
		}, []string{"action"}),
		conns: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posdrill_acquirer_connections_total",
			Help: "Connections accepted, refused by a fault, or closed at once over MaxConns.",
		}, []string{"result"}),
		open: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "posdrill_acquirer_connections_open",
			Help: "Connections open now.",
		}),
		badInput: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "posdrill_acquirer_bad_input_total",
			Help: "Bad input: undecodable frames answered 30 or closed, connections ended on bad headers or stalls.",
		}, []string{"kind"}),
		panics: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "posdrill_acquirer_panics_total",
			Help: "Panics recovered while handling a request (the connection was closed).",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.faults, m.conns, m.open, m.badInput, m.panics,
		prometheus.NewGoCollector())
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}
