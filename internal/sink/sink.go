package sink

import (
	"context"
	"fmt"
	"log/slog"
	"strconv"
	"sync"
	"time"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
)

// Sink delivers events somewhere. Send may block on the network; callers
// put a Queue in front so that one slow sink holds up nothing else.
type Sink interface {
	Name() string
	Send(ctx context.Context, e *event.Event) error
	Close() error
}

// New makes the sink a [[sink]] entry of the configuration describes.
func New(c config.Sink, stateDir string, log *slog.Logger) (Sink, error) {
	switch c.Type {
	case "syslog":
		return NewSyslog(c)
	case "webhook":
		return NewWebhook(c, stateDir, log)
	}
	return nil, fmt.Errorf("sink type %q: want syslog or webhook", c.Type)
}

// Queue runs a sink on a goroutine of its own behind a buffer, retrying a
// failed send with exponential backoff, so that a sink that is down never
// blocks the trail or the other sinks. Events that do not fit the buffer
// are counted as dropped (the trail has them all; a webhook's spool is
// persistent behind its own Send).
type Queue struct {
	sink   Sink
	min    string
	ch     chan *event.Event
	log    *slog.Logger
	done   chan struct{}
	mu     sync.Mutex
	stats  QueueStats
	cancel context.CancelFunc
}

// QueueStats say how a sink is doing.
type QueueStats struct {
	Sent, Failed, Dropped uint64
	LastError             string
}

// NewQueue starts a queue for s that passes events at or above minSeverity.
func NewQueue(s Sink, minSeverity string, size int, log *slog.Logger) *Queue {
	if size <= 0 {
		size = 10000
	}
	ctx, cancel := context.WithCancel(context.Background())
	q := &Queue{sink: s, min: minSeverity, ch: make(chan *event.Event, size), log: log.With("sink", s.Name()), done: make(chan struct{}), cancel: cancel}
	go q.run(ctx)
	return q
}

// Offer hands an event to the queue without waiting. The event is deep
// copied: the caller may reuse it.
func (q *Queue) Offer(e *event.Event) {
	if !event.AtLeast(e.Gotrail.Severity, q.min) {
		return
	}
	select {
	case q.ch <- event.Clone(e):
	default:
		q.mu.Lock()
		q.stats.Dropped++
		q.mu.Unlock()
	}
}

// Name is the sink's.
func (q *Queue) Name() string { return q.sink.Name() }

// Len is the number of events waiting.
func (q *Queue) Len() int { return len(q.ch) }

// Sink is the sink behind the queue.
func (q *Queue) Sink() Sink { return q.sink }

// Stats returns the counters so far.
func (q *Queue) Stats() QueueStats {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.stats
}

func (q *Queue) run(ctx context.Context) {
	defer close(q.done)
	for e := range q.ch {
		backoff := 100 * time.Millisecond
		for {
			err := q.sink.Send(ctx, e)
			q.mu.Lock()
			if err == nil {
				q.stats.Sent++
			} else {
				q.stats.Failed++
				q.stats.LastError = err.Error()
			}
			q.mu.Unlock()
			if err == nil || ctx.Err() != nil {
				break
			}
			q.log.Warn("send failed; retrying", "err", err, "in", backoff)
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			if backoff *= 2; backoff > 30*time.Second {
				backoff = 30 * time.Second
			}
		}
	}
}

// Close stops taking events, waits up to timeout for the queue to drain,
// then closes the sink.
func (q *Queue) Close(timeout time.Duration) error {
	close(q.ch)
	select {
	case <-q.done:
	case <-time.After(timeout):
		q.cancel()
		<-q.done
	}
	q.cancel()
	return q.sink.Close()
}

// Checkpoint is a signed trail checkpoint as an event for the sinks: the
// signed note, escaped, is the message, so that a collector off the host
// keeps what later proves the trail was not rewritten.
func Checkpoint(host string, seq uint64, hash string, at time.Time, note []byte) *event.Event {
	e := &event.Event{
		Time:    event.Time{Time: at.UTC().Truncate(time.Millisecond)},
		Event:   event.Meta{ID: "checkpoint:" + strconv.FormatUint(seq, 10), Action: "sign", Outcome: "success"},
		Gotrail: event.Gotrail{Kind: KindCheckpoint, Severity: "info"},
		Host:    event.Host{Name: host},
		Message: string(note),
		Trail:   &event.Trail{Seq: seq, Hash: hash},
	}
	event.Categorize(e)
	return e
}

// KindCheckpoint is the kind of checkpoint messages.
const KindCheckpoint = event.KindCheckpoint

// Tester is a sink that can be tried out synchronously (gotrail test-alert).
type Tester interface {
	Test(ctx context.Context, e *event.Event) error
}
