package report

import (
	"bytes"
	"context"
	"encoding/json"
	"runtime"
	"slices"
	"strings"
	"time"

	"github.com/gotrail/gotrail/internal/event"
)

// view is the part of an event the report reads, as bytes of the line
// (or of the batch's arena, for strings that had escapes): the million
// go.exec lines of a trail are counted without a string made for any.
type view struct {
	Time    time.Time
	ID      []byte
	Action  []byte
	Outcome []byte
	// gotrail.*
	Kind, Severity, Policy, PreviousPath []byte
	Authorized                           *bool
	Toolchain                            *event.Toolchain
	// user.*: Audit and Effective are not set when absent
	Audit, Effective ident
	UserID, UserName []byte
	// process.*: Command is the binary that ran and its arguments
	Executable, PName, Title, Command []byte
	File                              []byte
	HasFile                           bool
	Message                           []byte
	Seq                               uint64
	HasSeq                            bool
	bad                               bool // the line did not decode
}

type ident struct {
	ID, Name []byte
	set      bool
}

// decodeView reads one line: today's shape with the scanner (encoding/json
// when the scanner balks), the shape gotrail wrote before ECS conformance
// through event.Decode, which knows it.
func decodeView(line []byte, v *view, arena *[]byte) {
	var e event.Event
	if bytes.Contains(line, []byte(`"gotrail":{`)) {
		if scanView(line, v, arena) {
			return
		}
		*v = view{}
		if json.Unmarshal(line, &e) != nil {
			*v = view{bad: true}
			return
		}
	} else if event.Decode(line, &e) != nil {
		*v = view{bad: true}
		return
	}
	fromEvent(&e, v)
}

// fromEvent is the view of a decoded event.
func fromEvent(e *event.Event, v *view) {
	b := func(s string) []byte { return []byte(s) }
	v.Time = e.Time.Time
	v.ID, v.Action, v.Outcome = b(e.Event.ID), b(e.Event.Action), b(e.Event.Outcome)
	g := &e.Gotrail
	v.Kind, v.Severity, v.Policy, v.PreviousPath = b(g.Kind), b(g.Severity), b(g.Policy), b(g.PreviousPath)
	v.Authorized, v.Toolchain = g.Authorized, g.Toolchain
	if a := e.User.Audit; a != nil {
		v.Audit = ident{b(a.ID), b(a.Name), true}
	}
	if f := e.User.Effective; f != nil {
		v.Effective = ident{b(f.ID), b(f.Name), true}
	}
	v.UserID, v.UserName = b(e.User.ID), b(e.User.Name)
	p := &e.Process
	v.Executable, v.PName, v.Title = b(p.Executable), b(p.Name), b(p.Title)
	if len(p.Args) > 0 {
		args := slices.Clone(p.Args)
		if p.Executable != "" {
			args[0] = p.Executable
		}
		v.Command = b(strings.Join(args, " "))
	}
	if e.File != nil {
		v.File, v.HasFile = b(e.File.Path), true
	}
	v.Message = b(e.Message)
	if e.Trail != nil {
		v.Seq, v.HasSeq = e.Trail.Seq, true
	}
}

// batch is lines read together and decoded by one worker.
type batch struct {
	buf   []byte
	ends  []int
	views []view
	arena []byte // unescaped strings and command lines the views point into
	done  chan struct{}
}

const batchBytes = 1 << 20

// decoder decodes lines on every core and hands the views on in the order
// the lines came: reading and aggregating stay on one goroutine each.
type decoder struct {
	work  chan *batch
	order chan *batch
	cur   *batch
}

func newDecoder(ctx context.Context, consume func(*view) error) (*decoder, func() error) {
	workers := runtime.GOMAXPROCS(0)
	d := &decoder{work: make(chan *batch, workers), order: make(chan *batch, 2*workers)}
	for range workers {
		go func() {
			for b := range d.work {
				b.views = make([]view, len(b.ends))
				b.arena = make([]byte, 0, len(b.buf)/4)
				start := 0
				for i, end := range b.ends {
					decodeView(b.buf[start:end], &b.views[i], &b.arena)
					start = end
				}
				close(b.done)
			}
		}()
	}
	result := make(chan error, 1)
	go func() {
		var err error
		for b := range d.order {
			<-b.done
			for i := range b.views {
				if err == nil && ctx.Err() == nil {
					err = consume(&b.views[i])
				}
			}
		}
		if err == nil {
			err = ctx.Err()
		}
		result <- err
	}()
	wait := func() error {
		d.flush()
		close(d.work)
		close(d.order)
		return <-result
	}
	return d, wait
}

// line queues one line (copied: the caller's buffer is reused).
func (d *decoder) line(l []byte) {
	if d.cur == nil {
		d.cur = &batch{buf: make([]byte, 0, batchBytes+4096), done: make(chan struct{})}
	}
	d.cur.buf = append(d.cur.buf, l...)
	d.cur.ends = append(d.cur.ends, len(d.cur.buf))
	if len(d.cur.buf) >= batchBytes {
		d.flush()
	}
}

func (d *decoder) flush() {
	if d.cur == nil {
		return
	}
	d.order <- d.cur // in order first, so the consumer waits for it
	d.work <- d.cur
	d.cur = nil
}

// lineWriter splits what the pipeline writes (whole JSON lines) into lines
// for the decoder.
type lineWriter struct {
	d    *decoder
	rest []byte
}

func (w *lineWriter) Write(p []byte) (int, error) {
	n := len(p)
	if len(w.rest) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.rest = append(w.rest, p...)
			return n, nil
		}
		w.d.line(append(w.rest, p[:i]...))
		w.rest, p = w.rest[:0], p[i+1:]
	}
	for {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			w.rest = append(w.rest, p...)
			return n, nil
		}
		if i > 0 {
			w.d.line(p[:i])
		}
		p = p[i+1:]
	}
}
