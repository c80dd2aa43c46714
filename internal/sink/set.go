package sink

import (
	"fmt"
	"log/slog"
	"math"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
)

// Set is the [[sink]]s of a configuration, running: queues of events, and
// the sinks that ship the trail itself from disk.
type Set struct {
	Queues   []*Queue
	Shippers []*TrailSink
}

// Open starts each [[sink]] of cfg. The trail shippers start only with
// shippers: one process, the daemon, ships the trail (another that
// appends, gotrail install, leaves its record to the daemon).
func Open(cfg *config.Config, stateDir string, log *slog.Logger, shippers bool) (*Set, error) {
	all := &Set{}
	for i, c := range cfg.Sink {
		if c.Payload == config.PayloadTrail {
			if !shippers {
				continue
			}
			t, err := NewTrailSink(c, stateDir, log)
			if err != nil {
				all.Close(time.Second)
				return nil, fmt.Errorf("[[sink]] #%d: %w", i+1, err)
			}
			all.Shippers = append(all.Shippers, t)
			continue
		}
		s, err := New(c, stateDir, log)
		if err != nil {
			all.Close(time.Second)
			return nil, fmt.Errorf("[[sink]] #%d: %w", i+1, err)
		}
		all.Queues = append(all.Queues, NewQueue(s, c.MinSeverity, 10000, log))
	}
	return all, nil
}

// Start starts the trail shippers: after the trail was opened for writing,
// which repairs a last line a crash cut short before anything reads it.
func (s *Set) Start() {
	for _, t := range s.Shippers {
		t.Start()
	}
}

// Offer hands an event appended to the trail to every sink.
func (s *Set) Offer(e *event.Event) {
	for _, q := range s.Queues {
		q.Offer(e)
	}
	if e.Trail != nil {
		for _, t := range s.Shippers {
			t.Notify(e.Trail.Seq)
		}
	}
}

// Shipped is the last record every trail shipper had acknowledged: what
// retention may remove up to.
func (s *Set) Shipped() uint64 {
	low := uint64(math.MaxUint64)
	for _, t := range s.Shippers {
		low = min(low, t.Acked())
	}
	return low
}

// Close drains each sink for up to timeout and stops it; the errors are
// the queues' (a shipper's undelivered records stay in the trail).
func (s *Set) Close(timeout time.Duration) error {
	var first error
	for _, q := range s.Queues {
		if err := q.Close(timeout); err != nil && first == nil {
			first = fmt.Errorf("sink %s: %w", q.Name(), err)
		}
	}
	for _, t := range s.Shippers {
		t.Close(timeout)
	}
	return first
}

// Register adds each sink's counters to reg: failures, what waits in a
// queue, and how far behind each collector of the trail is.
func (s *Set) Register(reg *prometheus.Registry) {
	gauge := func(name, help, sink string, v func() float64) prometheus.Collector {
		return prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: name, Help: help, ConstLabels: prometheus.Labels{"sink": sink}}, v)
	}
	for _, q := range s.Queues {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gotrail_sink_errors_total", Help: "Failed sends, by sink.",
			ConstLabels: prometheus.Labels{"sink": q.Name()},
		}, func() float64 { return float64(q.Stats().Failed + q.sinkErrors()) }))
		reg.MustRegister(gauge("gotrail_sink_queued_events", "Events waiting in a sink's queue.", q.Name(),
			func() float64 { return float64(q.Len()) }))
	}
	for _, t := range s.Shippers {
		reg.MustRegister(gauge("gotrail_sink_behind_records", "Trail records a collector has not acknowledged yet, by sink.", t.Name(),
			func() float64 { return float64(t.Stats().Behind) }))
		reg.MustRegister(gauge("gotrail_sink_acknowledged_seq", "The last trail record a collector acknowledged, by sink.", t.Name(),
			func() float64 { return float64(t.Stats().Acked) }))
	}
}

// sinkErrors adds the failures a sink counts itself (a webhook's spool
// retries) to its queue's.
func (q *Queue) sinkErrors() uint64 {
	if e, ok := q.sink.(interface{ Errors() uint64 }); ok {
		return e.Errors()
	}
	return 0
}
