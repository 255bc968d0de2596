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
	backoffs prometheus.Counter
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
			Help: "Connections accepted, refused by a fault, or closed at once over MaxConns (over_limit) or MaxPerSource (over_source_limit).",
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
		backoffs: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "posdrill_acquirer_accept_backoffs_total",
			Help: "Accepts that failed for lack of descriptors or buffers and were retried after a back-off.",
		}),
	}
	m.reg.MustRegister(m.requests, m.latency, m.faults, m.conns, m.open, m.badInput, m.panics, m.backoffs,
		prometheus.NewGoCollector())
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{Registry: m.reg})
}

// watchSaturation adds the gauges computed from the acquirer's state at scrape time.
func (m *metrics) watchSaturation(a *Acquirer) {
	m.reg.MustRegister(
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posdrill_acquirer_saturated",
			Help: "1 while the acquirer is saturated (see /healthz): 90% of max_conns open, or a failed accept or a rejected connection in the last 10 s.",
		}, func() float64 {
			if a.Saturation().Saturated {
				return 1
			}
			return 0
		}),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "posdrill_acquirer_max_conns",
			Help: "The connection cap in effect (MaxConns).",
		}, func() float64 { return float64(a.o.MaxConns) }),
	)
}
