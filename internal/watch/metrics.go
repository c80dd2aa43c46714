package watch

import (
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
)

// Metrics are the daemon's Prometheus metrics: what went into the trail,
// how far behind auditd it is, and what it could not do.
type Metrics struct {
	Registry   *prometheus.Registry
	Events     *prometheus.CounterVec
	Lag        prometheus.Histogram
	Gaps       prometheus.Counter
	EnvMisses  prometheus.Counter
	Malformed  prometheus.Counter
	Skipped    prometheus.Counter
	TrailSeq   prometheus.Gauge
	Checkpoint prometheus.Gauge
}

// NewMetrics registers the metrics in a registry of their own (plus the Go
// runtime's and the process's), for --metrics-addr.
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
		Gaps:       prometheus.NewCounter(prometheus.CounterOpts{Name: "gotrail_gaps_total", Help: "Audit records the kernel or auditd reported lost."}),
		EnvMisses:  prometheus.NewCounter(prometheus.CounterOpts{Name: "gotrail_enrichment_misses_total", Help: "go processes gone before their environment could be read."}),
		Malformed:  prometheus.NewCounter(prometheus.CounterOpts{Name: "gotrail_malformed_lines_total", Help: "Lines of the audit log that are not records."}),
		Skipped:    prometheus.NewCounter(prometheus.CounterOpts{Name: "gotrail_skipped_total", Help: "Events re-read after a restart that were in the trail already."}),
		TrailSeq:   prometheus.NewGauge(prometheus.GaugeOpts{Name: "gotrail_trail_seq", Help: "Seq of the last record of the trail."}),
		Checkpoint: prometheus.NewGauge(prometheus.GaugeOpts{Name: "gotrail_trail_checkpoint_seq", Help: "Seq of the last signed checkpoint."}),
	}
	m.Registry.MustRegister(m.Events, m.Lag, m.Gaps, m.EnvMisses, m.Malformed, m.Skipped, m.TrailSeq, m.Checkpoint,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return m
}
