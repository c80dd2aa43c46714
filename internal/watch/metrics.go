package watch

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"

	"github.com/gotrail/gotrail/internal/event"
)

// Metrics are the daemon's Prometheus metrics: what went into the trail,
// how far behind auditd it is, and what it could not do. The counts are
// the watcher's Stats, read when scraped; what needs a label or a
// histogram is kept here.
type Metrics struct {
	Registry *prometheus.Registry
	Events   *prometheus.CounterVec
	Lag      prometheus.Histogram
	TrailSeq prometheus.Gauge
}

// NewMetrics registers the metrics in a registry of their own (plus the Go
// runtime's and the process's), for --metrics-addr. The watcher it is given
// to (Options.Metrics) registers its counts.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		Events: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "gotrail_events_total", Help: "Events appended to the trail, by kind.",
		}, []string{"kind"}),
		Lag: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "gotrail_lag_seconds",
			Help:    "Time from an event's audit timestamp to its append to the trail.",
			Buckets: []float64{.005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 60},
		}),
		TrailSeq: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gotrail_trail_seq", Help: "Seq of the last record of the trail."}),
	}
	m.Registry.MustRegister(m.Events, m.Lag, m.TrailSeq,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}

// observe registers the watcher's counts, read at each scrape.
func (m *Metrics) observe(st *Stats) {
	if m == nil {
		return
	}
	counter := func(name, help string, v func() uint64) prometheus.Collector {
		return prometheus.NewCounterFunc(prometheus.CounterOpts{Name: name, Help: help}, func() float64 { return float64(v()) })
	}
	m.Registry.MustRegister(
		counter("gotrail_gaps_total", "Audit events the kernel or auditd reported lost, or missing by their serials.", st.Lost.Load),
		counter("gotrail_enrichment_misses_total", "go processes gone before their environment could be read.", st.EnvMissed.Load),
		counter("gotrail_env_caught_total", "go processes whose environment was read as the kernel reported their exec.", st.EnvCaught.Load),
		counter("gotrail_malformed_lines_total", "Lines of the audit log that are not records.", st.Malformed.Load),
		counter("gotrail_skipped_total", "Events re-read after a restart that were in the trail already.", st.Skipped.Load),
		prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "gotrail_trail_checkpoint_seq", Help: "Seq of the last signed checkpoint."},
			func() float64 { return float64(st.Checkpoint.Load()) }),
	)
}

// appended counts an event appended to the trail; a nil Metrics counts
// nothing.
func (m *Metrics) appended(e *event.Event) {
	if m == nil {
		return
	}
	m.Events.WithLabelValues(e.Gotrail.Kind).Inc()
	if e.Gotrail.Kind != event.KindGap {
		m.Lag.Observe(time.Since(e.Time.Time).Seconds())
	}
	if e.Trail != nil {
		m.TrailSeq.Set(float64(e.Trail.Seq))
	}
}
