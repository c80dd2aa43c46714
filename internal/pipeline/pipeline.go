// Package pipeline runs the stages of DESIGN.md's data flow over finite
// inputs, using every core: one goroutine reads, splits lines, parses record
// headers and assembles events (internal/audit); a pool of workers
// interprets, classifies and renders batches of events; one writer puts the
// batches back in input order. Memory stays bounded whatever the input size:
// a fixed number of batches are in flight, and lines are never copied out of
// the chunk they were read into.
package pipeline

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
	"strings"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/source"
)

// Processor turns one event into output, appended to out. A pipeline makes
// one Processor per worker, so a Processor may keep scratch state.
type Processor interface {
	Process(ev *audit.Event, out []byte) []byte
}

// Options tune a run; the zero value is usable.
type Options struct {
	Workers   int // default GOMAXPROCS
	ChunkSize int // bytes read at a time, and the longest line kept; default 1 MiB
	BatchSize int // events handed to a worker at once; default 256
	// NewAssembler makes the assembler; default audit.NewAssembler.
	NewAssembler func() *audit.Assembler
	// KeepBadLines is how many malformed lines are remembered in Stats.
	KeepBadLines int
	// GCPercent and MemoryLimit, when set, tune the garbage collector for
	// the run (runtime/debug): a run allocates per event but keeps little,
	// so collecting less often saves CPU, and the limit keeps the heap
	// bounded all the same. They are the process's settings, restored at
	// the end: for a command that does one run, not a library caller.
	GCPercent   int
	MemoryLimit int64
}

// BadLine is a line that was skipped.
type BadLine struct {
	Input string
	Line  int64
	Err   string
}

func (b BadLine) String() string { return fmt.Sprintf("%s:%d: %s", b.Input, b.Line, b.Err) }

// Stats says what a run read and what it could not use.
type Stats struct {
	Bytes     int64
	Lines     int64
	Malformed int64     // lines skipped: not a record, too long, binary
	BadLines  []BadLine // the first KeepBadLines of them
	Assembler audit.AssemblerStats
	// Folded are the assembled events folded into another: the kernel's
	// CONFIG_CHANGE a rule of a rules load, auditd's start after its end.
	Folded uint64
	// Gaps are the first KeepGaps holes in the kernel's event serials, and
	// Missing the events all of them stand for.
	Gaps    []audit.Gap
	Missing uint64
	// OnlyRestarts are the events of Missing in holes no more than a
	// restart of auditd leaves of its own (audit.Gap.OnlyRestart).
	OnlyRestarts uint64
	// InputErrors are inputs that could not be opened or stopped early
	// (truncated gzip, read error); what was read before is processed.
	InputErrors []error
}

// fill puts the defaults in the fields left zero.
func (opts *Options) fill() {
	if opts.Workers <= 0 {
		opts.Workers = runtime.GOMAXPROCS(0)
	}
	if opts.ChunkSize <= 0 {
		opts.ChunkSize = 1 << 20
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = 256
	}
	if opts.NewAssembler == nil {
		opts.NewAssembler = audit.NewAssembler
	}
	if opts.KeepBadLines <= 0 {
		opts.KeepBadLines = 10
	}
}

// tuneGC applies the collector settings of opts and returns what restores
// the previous ones.
func tuneGC(opts Options) func() {
	pct, limit := -2, int64(-1)
	if opts.GCPercent > 0 {
		pct = debug.SetGCPercent(opts.GCPercent)
	}
	if opts.MemoryLimit > 0 {
		limit = debug.SetMemoryLimit(opts.MemoryLimit)
	}
	return func() {
		if pct != -2 {
			debug.SetGCPercent(pct)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}

type batch struct {
	seq    int
	events []*audit.Event
	out    []byte
}

// Run reads every input in order through one assembler (so an event that
// spans a rotation is whole), processes events on workers and writes the
// output to w in input order. It returns when all is written, ctx is done, or
// w fails.
func Run(ctx context.Context, inputs []source.Input, newProc func() Processor, w io.Writer, opts Options) (Stats, error) {
	opts.fill()
	defer tuneGC(opts)()
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()

	inFlight := 2 * opts.Workers
	free := make(chan *batch, inFlight+1)
	for range inFlight + 1 {
		free <- &batch{}
	}
	work := make(chan *batch, inFlight)
	done := make(chan *batch, inFlight)

	var wg sync.WaitGroup
	for range opts.Workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			process(newProc(), work, done)
		}()
	}
	writeErr := make(chan error, 1)
	go func() { writeErr <- writeInOrder(w, done, free, cancel) }()

	r := &reader{opts: opts, asm: opts.NewAssembler(), free: free, work: work, ctx: ctx,
		chunks: make(chan *chunk, 4*inFlight+4)}
	r.cur = r.take()
	for _, in := range inputs {
		if ctx.Err() != nil {
			break
		}
		if err := r.readInput(in); err != nil {
			r.stats.InputErrors = append(r.stats.InputErrors, fmt.Errorf("read %s: %w", in.Name, err))
		}
	}
	r.asm.Flush(r.coalesce)
	r.coal.Flush(r.emit)
	r.countGaps(r.gaps.Flush())
	r.send()
	close(work)
	wg.Wait()
	close(done)
	err := <-writeErr
	r.stats.Assembler = r.asm.Stats()
	if err == nil && ctx.Err() != nil && !errors.Is(ctx.Err(), context.Canceled) {
		err = ctx.Err()
	}
	if err == nil {
		if cerr := context.Cause(ctx); cerr != nil && !errors.Is(cerr, context.Canceled) {
			err = cerr
		}
	}
	return r.stats, err
}

// process is a worker: it runs p over each batch's events, releasing their
// chunks, and hands the batch on.
func process(p Processor, work <-chan *batch, done chan<- *batch) {
	for b := range work {
		b.out = b.out[:0]
		for i, ev := range b.events {
			b.out = p.Process(ev, b.out)
			if c, ok := ev.Owner.(*chunk); ok {
				c.release()
			}
			b.events[i] = nil
		}
		b.events = b.events[:0]
		done <- b
	}
}

// writeInOrder writes finished batches to w in the order they were read,
// returning them to free; a failed write cancels the run, and the batches
// still coming are returned unwritten.
func writeInOrder(w io.Writer, done <-chan *batch, free chan<- *batch, cancel context.CancelFunc) error {
	pending := make(map[int]*batch)
	next := 0
	var err error
	for b := range done {
		pending[b.seq] = b
		for {
			nb, ok := pending[next]
			if !ok {
				break
			}
			delete(pending, next)
			next++
			if err == nil && len(nb.out) > 0 {
				if _, werr := w.Write(nb.out); werr != nil {
					err = fmt.Errorf("write output: %w", werr)
					cancel()
				}
			}
			free <- nb
		}
	}
	return err
}

type reader struct {
	opts   Options
	chunk  *chunk      // the chunk being read
	chunks chan *chunk // free chunks
	asm    *audit.Assembler
	parser audit.RecordParser // remembers the last stamp, which an event's records share
	coal   audit.Coalescer    // a run's audit configuration changes become one event
	free   chan *batch
	work   chan *batch
	ctx    context.Context
	cur    *batch
	seq    int
	stats  Stats
	gaps   audit.Gaps
	seen   int // records since the serials were last looked at
}

// KeepGaps is how many holes in the serials Stats keeps by name.
const KeepGaps = 10

// seeSerial takes a record's serial; every few thousand records the holes
// later serials have overtaken are counted, so that a log with a hole
// before every event (filtered by ausearch -k) holds little in memory.
func (r *reader) seeSerial(rec audit.Record) {
	r.gaps.See(rec)
	if r.seen++; r.seen >= 4096 {
		r.seen = 0
		r.countGaps(r.gaps.Expire())
	}
}

func (r *reader) countGaps(gaps []audit.Gap) {
	for _, g := range gaps {
		r.stats.Missing += g.Events()
		if g.OnlyRestart() {
			r.stats.OnlyRestarts += g.Events()
		}
		if len(r.stats.Gaps) < KeepGaps {
			r.stats.Gaps = append(r.stats.Gaps, g)
		}
	}
}

func (r *reader) take() *batch {
	select {
	case b := <-r.free:
		b.seq = r.seq
		r.seq++
		return b
	case <-r.ctx.Done():
		return &batch{seq: -1}
	}
}

func (r *reader) emit(ev *audit.Event) {
	if len(ev.Members) > 1 {
		r.stats.Folded += uint64(len(ev.Members) - 1)
	}
	if c := r.chunk; c != nil {
		for i := range ev.Records {
			// Type is never empty and, unless copied out, in the chunk
			if rec := &ev.Records[i]; c.holds(rec.Type) || c.holds(rec.Body) || c.holds(rec.Node) {
				c.refs.Add(1)
				ev.Owner = c
				break
			}
		}
	}
	r.cur.events = append(r.cur.events, ev)
	if len(r.cur.events) >= r.opts.BatchSize {
		r.send()
		r.cur = r.take()
	}
}

// send hands the current batch to the workers, empty or not: the writer
// waits for every sequence number it has seen taken.
func (r *reader) send() {
	if r.cur.seq < 0 {
		return // cancelled
	}
	select {
	case r.work <- r.cur:
	case <-r.ctx.Done():
	}
	r.cur = &batch{seq: -1}
}

func (r *reader) bad(input string, line int64, msg string) {
	r.stats.Malformed++
	if len(r.stats.BadLines) < r.opts.KeepBadLines {
		r.stats.BadLines = append(r.stats.BadLines, BadLine{Input: input, Line: line, Err: msg})
	}
}

// chunk is a read buffer that records point into without a copy. It goes
// back to the pool when the reader is done with it and every event whose
// records use it has been processed: the reader holds one reference, and
// each such event one more.
type chunk struct {
	buf  []byte
	refs atomic.Int32
	pool chan *chunk
}

func (c *chunk) release() {
	if c.refs.Add(-1) == 0 {
		select {
		case c.pool <- c:
		default: // pool full: let the collector have it
		}
	}
}

// holds reports whether s points into the chunk. The Go heap does not move
// objects, so comparing addresses is sound.
func (c *chunk) holds(s string) bool {
	if len(s) == 0 || len(c.buf) == 0 {
		return false
	}
	p := uintptr(unsafe.Pointer(unsafe.StringData(s)))
	b := uintptr(unsafe.Pointer(unsafe.SliceData(c.buf)))
	return p >= b && p < b+uintptr(len(c.buf))
}

func (r *reader) newChunk() *chunk {
	var c *chunk
	select {
	case c = <-r.chunks:
	default:
		c = &chunk{buf: make([]byte, r.opts.ChunkSize), pool: r.chunks}
	}
	c.refs.Store(1)
	r.chunk = c
	return c
}

// doneChunk gives up the reader's reference to the current chunk, after the
// events still waiting in the assembler have copied out what they use of it.
func (r *reader) doneChunk() {
	c := r.chunk
	if c == nil {
		return
	}
	r.asm.Pending(func(ev *audit.Event) {
		for i := range ev.Records {
			if rec := &ev.Records[i]; c.holds(rec.Body) || c.holds(rec.Type) || c.holds(rec.Node) {
				rec.Own()
			}
		}
	})
	r.chunk = nil
	c.release()
}

// readInput reads one input in chunks from a pool. Records point into the
// chunk they were read into (unsafe.String) without a copy; see chunk.
func (r *reader) readInput(in source.Input) error {
	rc, err := in.Open()
	if err != nil {
		return err
	}
	defer rc.Close()
	size := r.opts.ChunkSize
	var carry []byte
	var lineNo int64
	skipping := false // inside a line longer than a chunk
	for {
		if r.ctx.Err() != nil {
			return nil
		}
		c := r.newChunk()
		n := copy(c.buf, carry)
		m, rerr := io.ReadFull(rc, c.buf[n:size])
		n += m
		r.stats.Bytes += int64(m)
		eof := rerr == io.EOF || rerr == io.ErrUnexpectedEOF
		data := c.buf[:n]
		if rerr != nil && !eof {
			// keep what was read: a truncated gzip still yields its events
			r.lines(in.Name, data, &lineNo, &skipping)
			r.doneChunk()
			return rerr
		}
		last := lastNewline(data)
		if eof {
			r.lines(in.Name, data, &lineNo, &skipping)
			r.doneChunk()
			return nil
		}
		if last < 0 {
			// a line longer than a chunk: no audit record is; skip to its end
			if !skipping {
				lineNo++
				r.bad(in.Name, lineNo, fmt.Sprintf("line longer than %d bytes", size))
				r.stats.Lines++
			}
			skipping = true
			carry = carry[:0]
			r.doneChunk()
			continue
		}
		r.lines(in.Name, data[:last+1], &lineNo, &skipping)
		carry = append(carry[:0], data[last+1:]...)
		r.doneChunk()
	}
}

func lastNewline(b []byte) int { return bytes.LastIndexByte(b, '\n') }

// lines handles the complete lines in data (the last may lack its newline
// only at the end of the input).
func (r *reader) lines(name string, data []byte, lineNo *int64, skipping *bool) {
	if len(data) == 0 {
		return
	}
	s := unsafe.String(&data[0], len(data))
	for len(s) > 0 {
		i := indexNL(s)
		var line string
		if i < 0 {
			line, s = s, ""
		} else {
			line, s = s[:i], s[i+1:]
		}
		if *skipping {
			*skipping = false
			continue // the tail of an over-long line
		}
		*lineNo++
		r.stats.Lines++
		if n := len(line); n > 0 && line[n-1] == '\r' {
			line = line[:n-1]
		}
		if len(line) == 0 {
			continue
		}
		rec, err := r.parser.Parse(line)
		if err != nil {
			r.bad(name, *lineNo, err.Error())
			continue
		}
		rec.Line = *lineNo
		r.seeSerial(rec)
		r.asm.Add(rec, r.coalesce)
	}
}

// coalesce passes a complete event through the coalescer on its way to a
// batch. Files have no quiet time: a group ends with the next event of
// another process, or the input.
func (r *reader) coalesce(ev *audit.Event) { r.coal.Add(ev, time.Time{}, r.emit) }

func indexNL(s string) int { return strings.IndexByte(s, '\n') }
