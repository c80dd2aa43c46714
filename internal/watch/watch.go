// Package watch is the daemon of `gotrail watch`: it follows auditd's log
// (internal/source), assembles and interprets events (internal/audit),
// reads the Go variables of go processes (internal/enrich), classifies and
// applies the policy (internal/classify) and appends to the trail
// (internal/trail), so that every change to the Go environment lands in the
// trail once, whatever happens to the daemon or to auditd's log.
//
// Exactly once: the saved position is the first line of the oldest event
// not yet in the trail, so a restart re-reads whatever was in flight; the
// events re-read that are in the trail already (completed after that line,
// or appended after the position was saved) are skipped by id.
package watch

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gotrail/gotrail/internal/atomicfile"
	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/chain"
	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/kmsg"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/source"
	"github.com/gotrail/gotrail/internal/trail"

	"golang.org/x/mod/sumdb/note"
)

// Options configure a Watcher.
type Options struct {
	StateDir   string
	Host       string
	Names      audit.Names
	Classifier *classify.Classifier
	Policy     *classify.Policy
	Proc       enrich.Proc
	Log        *slog.Logger
	// A signed checkpoint every CheckpointEvery events or CheckpointInterval,
	// whichever comes first; defaults 1000 and 10 minutes.
	CheckpointEvery    int
	CheckpointInterval time.Duration
	// OnCheckpoint receives each signed checkpoint (for the sinks).
	OnCheckpoint func(*trail.Checkpoint)
	// Lost reports the kernel's count of lost audit records (auditctl -s);
	// when it grows, an audit.gap event goes into the trail. Nil: not
	// watched.
	Lost func() (int, error)
	// AuditdPID reports the kernel's audit daemon (auditctl -s), 0 for
	// none: how a plugin whose input ended after a DAEMON_END tells a
	// restart from a stop. Nil: a stop is taken for one.
	AuditdPID func() (int, error)
	// KernelLog finds the records of serials [from, to], of audit times in
	// [notBefore, notAfter], that the kernel printed to its own log because
	// no auditd took them (kmsg.Find): what tells a restart's own serials
	// from events missed. Nil: a hole is judged by its place and size alone.
	KernelLog func(from, to uint64, notBefore, notAfter int64) (map[uint64][]kmsg.Record, error)
	// SelfExe is this program's path (os.Executable): a record of it in the
	// kernel's log across a restart is the old plugin's. "": none is.
	SelfExe string
	// Retention prunes old segments of the trail, hourly; nil keeps all.
	Retention *trail.Retention
	// Metrics, when set, are kept up to date.
	Metrics *Metrics
	// OnEvent receives each event appended to the trail; the event is valid
	// during the call only.
	OnEvent func(*event.Event)
	// Rules, when set, is asked every second to keep the audit rules in step
	// with the login users; what it did becomes an audit.rules event.
	Rules RulesKeeper
	// RestartWindow is how long a stopped auditd is given to start again
	// before its stop counts as one (default audit.RestartQuiet).
	RestartWindow time.Duration
	// CatchExecs (RunFile, RunReader) reads the facts of each go process
	// as the kernel reports its exec on the audit multicast group, beside
	// auditd, instead of when auditd's log or plugin feed brings it: most
	// short go runs have exited by then. Needs CAP_AUDIT_READ; without it
	// the facts are read late.
	CatchExecs bool
	// Self is the daemon's pid: what it and its children (auditctl) do is
	// gotrail's own upkeep, authorized whatever the policy says. 0: none.
	Self int
}

// RulesKeeper keeps the loaded rules in step with the host (rules.Keeper).
type RulesKeeper interface {
	Poll() (rules.Update, error)
	// Missing are the expected rules the kernel lacks now.
	Missing() ([]rules.Rule, error)
}

// Watcher runs the daemon's pipeline.
type Watcher struct {
	opt    Options
	trail  *trail.Writer
	signer note.Signer
	chain  *chain.Chain // interpret, classify, enrich, policy
	asm    *audit.Assembler
	coal   audit.Coalescer

	kernelLogWarned bool // that the kernel's log could not be read

	// exactly-once bookkeeping
	first   map[string]mark // events in flight: their first line
	lastOf  map[string]mark // and their last line so far
	recent  []committed     // events in the trail, with their last line
	skip    map[string]bool // events to drop once: already in the trail
	last    mark            // after the last line read
	gen     int             // which file of the log (increases on rotation)
	lastIno uint64

	dirty        bool
	tasks        chan func()
	lost         int
	lostChecked  time.Time
	gaps         audit.Gaps // holes in the kernel's serials, by node
	pruned       time.Time
	saved        mark  // the position last saved
	failed       error // the trail could not take an event: stop
	sinceCP      int
	lastCP       time.Time
	rulesPolled  time.Time
	started      time.Time // a little before New: audit times are in milliseconds
	collisions   uint64    // the assembler's, as last reported
	clockSteps   uint64
	catcher      *execCatcher
	catchErr     error    // why there is no catcher, when one was asked for
	serialsLock  *os.File // held while a plugin runs (serials.go)
	daemonPID    int      // a plugin's auditd (its parent) and its program
	daemonExe    string
	Stats        Stats
	positionFile string
}

// Stats count what the watcher did, once: the Prometheus metrics read
// them (Metrics.observe), and they are safe to read while it runs.
type Stats struct {
	Events, Skipped, Malformed, EnvMissed atomic.Uint64
	// EnvCaught counts go processes read by the exec catcher as they ran.
	EnvCaught atomic.Uint64
	// Lost counts audit events the kernel or auditd reported lost, or that
	// holes in the serials show missing.
	Lost atomic.Uint64
	// Checkpoint is the seq of the last signed checkpoint.
	Checkpoint atomic.Uint64
}

// mark is a position made comparable across files.
type mark struct {
	gen int
	pos source.Position
}

func (a mark) before(b mark) bool {
	return a.gen < b.gen || (a.gen == b.gen && a.pos.Offset < b.pos.Offset)
}

type committed struct {
	id string
	at mark
}

// maxSkip bounds the saved skip list: entries loaded to skip that are never
// read again (their log was rotated away) must not pile up.
const maxSkip = 10000

// state is what is saved in the state directory after each sync.
type state struct {
	Position source.Position `json:"position"`
	TrailSeq uint64          `json:"trail_seq"`
	// TrailHash is the hash of the record at TrailSeq: a trail rewritten
	// while the watcher was down shows at its start.
	TrailHash string   `json:"trail_hash,omitempty"`
	Skip      []string `json:"skip,omitempty"`
}

// New opens the trail and the signing key in the state directory.
func New(opt Options) (*Watcher, error) {
	if opt.Log == nil {
		opt.Log = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	if opt.CheckpointEvery <= 0 {
		opt.CheckpointEvery = 1000
	}
	if opt.CheckpointInterval <= 0 {
		opt.CheckpointInterval = 10 * time.Minute
	}
	if opt.Classifier == nil {
		opt.Classifier = &classify.Classifier{}
	}
	if opt.Policy == nil {
		opt.Policy = &classify.Policy{}
	}
	if err := os.MkdirAll(opt.StateDir, 0o700); err != nil {
		return nil, fmt.Errorf("state directory: %w", err)
	}
	tw, err := trail.Open(opt.StateDir, trail.Options{})
	if err != nil {
		return nil, err
	}
	signer, vkey, created, err := trail.Key(opt.StateDir, opt.Host)
	if err != nil {
		tw.Close()
		return nil, err
	}
	if created {
		opt.Log.Info("made the trail's signing key; keep the public key off this host for gotrail verify --pubkey", "pubkey", vkey)
	}
	w := &Watcher{
		opt: opt, trail: tw, signer: signer,
		asm:          audit.NewAssembler(),
		coal:         audit.Coalescer{RestartQuiet: opt.RestartWindow},
		first:        map[string]mark{},
		lastOf:       map[string]mark{},
		tasks:        make(chan func(), 8),
		lost:         -1,
		skip:         map[string]bool{},
		lastCP:       time.Now(),
		started:      time.Now().Add(-time.Second).Truncate(time.Millisecond),
		positionFile: filepath.Join(opt.StateDir, "position.json"),
	}
	w.chain = chain.New(audit.NewInterpreter(opt.Names, opt.Host, false),
		chain.Classify(func() *classify.Classifier { return w.opt.Classifier }, false), // the trail keeps what concerns the Go environment
		w.enrich, w.missingAfter,
		chain.Policy(func() *classify.Policy { return w.opt.Policy }), w.ownUpkeep,
		chain.Categorize)
	opt.Metrics.observe(&w.Stats)
	w.atStart()
	return w, nil
}

func eventKey(node string, t audit.Stamp, serial uint64) string {
	return node + "|" + string(audit.AppendID(nil, t, serial))
}

// RunFile follows the audit log at path until ctx ends, resuming where the
// last run stopped.
func (w *Watcher) RunFile(ctx context.Context, path string) error {
	st, err := w.loadState()
	if err != nil {
		return err
	}
	w.lastIno = st.Position.Ino
	w.last = mark{pos: st.Position}
	defer w.catchExecs(ctx)()
	f := &source.Follower{Path: path}
	err = f.Run(ctx, st.Position, w.line, w.idle)
	return w.finish(err)
}

// RunReader reads records from r (auditd's plugin interface on standard
// input) until it ends or ctx does. There is no position to keep: auditd
// hands each record to its plugins once.
func (w *Watcher) RunReader(ctx context.Context, r io.Reader) error {
	defer w.catchExecs(ctx)()
	q := &lineQueue{ready: make(chan struct{}, 1)}
	go q.fill(r, w.opt.Log) // reading while the last plugin hands over
	// the auditd that runs this plugin: its parent, while it runs
	w.daemonPID = os.Getppid()
	w.daemonExe = w.opt.Proc.Exe(w.daemonPID)
	w.resumeSerials()
	defer w.releaseSerials()
	tick := time.NewTicker(200 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return w.drain(ctx, q)
		case <-tick.C:
			w.idle()
		case <-q.ready:
			lines, done, err := q.take()
			for _, l := range lines {
				if lerr := w.line(source.Line{Text: l}); lerr != nil {
					return w.finish(lerr)
				}
			}
			if done {
				return w.endOfInput(ctx, err)
			}
		}
	}
}

// awaitNextAuditd: a plugin's input ends with its auditd, and the next
// auditd's DAEMON_START goes to the next plugin. When this auditd's
// DAEMON_END waits for it, ask the kernel for its audit daemon, for as long
// as a restart takes: another process running auditd's program (the
// plugin's parent's, read at its start) makes the stop a restart, info;
// none leaves it a stop, critical. auditd signals its plugins as it stops,
// so this runs after the signal too. Not in a systemd service: systemd
// starts the next auditd only once the old one's cgroup, this plugin with
// it, is empty, and may kill what is left meanwhile, which must not cost
// the stop's record.
func (w *Watcher) awaitNextAuditd(ctx context.Context) {
	ev := w.coal.Stopped()
	if ev == nil || w.opt.AuditdPID == nil || w.daemonExe == "" || w.opt.Proc.InService() {
		return
	}
	quiet := audit.RestartQuiet
	if w.coal.RestartQuiet > 0 {
		quiet = w.coal.RestartQuiet
	}
	// the stop is only in memory until the wait ends: a second signal (a
	// shutdown's kill of all processes, SIGKILL to follow) ends it at once.
	// auditd's own comes as it closes the input, before or after its end:
	// one taken before (ctx) counts, then each delivery to again. (One
	// between the two is counted by neither: the wait errs on its side.)
	signals := 0
	if ctx.Err() != nil {
		signals = 1
	}
	again := make(chan os.Signal, 2)
	signal.Notify(again, syscall.SIGTERM, syscall.SIGINT)
	defer signal.Stop(again)
	poll := time.NewTicker(50 * time.Millisecond)
	defer poll.Stop()
	for deadline := time.Now().Add(quiet); ; {
		pid, err := w.opt.AuditdPID()
		if err != nil {
			w.opt.Log.Warn("the kernel's audit daemon could not be read: auditd's stop is recorded as one, not as a restart", "err", err)
			return
		}
		// the old auditd stays the kernel's until it exits, after the
		// plugin's input ended
		if pid != 0 && pid != w.daemonPID && w.opt.Proc.Exe(pid) == w.daemonExe {
			ev.Replaced = true
			return
		}
		if time.Now().After(deadline) {
			return
		}
		select {
		case <-again:
			if signals++; signals >= 2 {
				w.opt.Log.Warn("signalled again while waiting for the next auditd: its stop is recorded as one")
				return
			}
		case <-poll.C:
		}
	}
}

// drain takes what auditd handed over before it told the plugin to stop:
// there is nothing to resume from. auditd signals as it closes the input,
// so the end may be moments away.
func (w *Watcher) drain(ctx context.Context, q *lineQueue) error {
	end := time.After(drainWait)
	for {
		lines, done, err := q.take()
		for _, l := range lines {
			w.line(source.Line{Text: l})
		}
		if done {
			return w.endOfInput(ctx, err)
		}
		select {
		case <-q.ready:
		case <-end:
			w.flush()
			return w.finish(ctx.Err()) // not all read: no marks
		}
	}
}

// drainWait is how long a plugin told to stop still reads what auditd
// wrote before it said so.
const drainWait = time.Second

// endOfInput completes what is in flight at the end of the plugin's
// input; read to its end, the serials are handed to the next plugin.
func (w *Watcher) endOfInput(ctx context.Context, err error) error {
	if err == nil {
		w.awaitNextAuditd(ctx)
	}
	w.flush()
	if err == nil {
		w.stopSerials()
	}
	return w.finish(err)
}

// gapNode is the node a gap's event id names: the host for none.
func (w *Watcher) gapNode(g audit.Gap) string {
	if g.Node == "" {
		return w.opt.Host // the id the trail has always given it
	}
	return g.Node
}

// catchExecs starts the exec catcher when asked for, and returns what
// stops it.
func (w *Watcher) catchExecs(ctx context.Context) (stop func()) {
	if !w.opt.CatchExecs {
		return func() {}
	}
	cctx, cancel := context.WithCancel(ctx)
	c, done, err := startExecCatcher(cctx, w.opt.Proc, w.opt.Log)
	if err != nil {
		cancel()
		w.catchErr = fmt.Errorf("the kernel's multicast group could not be joined: %w", err)
		w.opt.Log.Warn("the environment of go processes is read when auditd hands over their exec, which misses most short runs", "err", err)
		return func() {}
	}
	w.catcher = c
	return func() { cancel(); <-done }
}

// lineQueue takes lines from auditd as fast as it writes them, however far
// behind the trail is: a plugin that stops reading makes auditd block or
// drop records, so the queue has no bound (it says so when it grows large).
type lineQueue struct {
	mu     sync.Mutex
	lines  [][]byte
	size   int
	warned int
	done   bool
	err    error
	ready  chan struct{}
}

func (q *lineQueue) fill(r io.Reader, log *slog.Logger) {
	buf := make([]byte, 0, 64<<10)
	chunk := make([]byte, 64<<10)
	for {
		n, err := r.Read(chunk)
		buf = append(buf, chunk[:n]...)
		var got [][]byte
		for {
			i := indexNL(buf)
			if i < 0 {
				break
			}
			got = append(got, append([]byte(nil), buf[:i]...))
			buf = buf[i+1:]
		}
		buf = append(buf[:0:0], buf...)
		q.mu.Lock()
		for _, l := range got {
			q.lines = append(q.lines, l)
			q.size += len(l)
		}
		if q.size>>20 >= 64<<q.warned {
			log.Warn("the trail is behind auditd: records queued in memory", "MiB", q.size>>20)
			q.warned++
		}
		if err != nil {
			if len(buf) > 0 { // a last line without its newline
				q.lines = append(q.lines, append([]byte(nil), buf...))
				buf = buf[:0]
			}
			q.done = true
			if !errors.Is(err, io.EOF) {
				q.err = err
			}
		}
		q.mu.Unlock()
		select {
		case q.ready <- struct{}{}:
		default:
		}
		if err != nil {
			return
		}
	}
}

// take returns what is queued, and whether the input has ended.
func (q *lineQueue) take() ([][]byte, bool, error) {
	q.mu.Lock()
	defer q.mu.Unlock()
	lines := q.lines
	q.lines, q.size = nil, 0
	if q.done {
		// more may have come in with the final read: signal again so that
		// nothing is left, then report the end once the queue is empty
		if len(lines) > 0 {
			select {
			case q.ready <- struct{}{}:
			default:
			}
			return lines, false, nil
		}
		return nil, true, q.err
	}
	return lines, false, nil
}

// RunNetlink reads records from the kernel's audit multicast group until
// ctx ends: for hosts without auditd. There is no log to resume from: what
// the kernel sends while gotrail is down is not seen, and records the
// socket could not hold become an audit.gap.
func (w *Watcher) RunNetlink(ctx context.Context) error {
	nl, err := source.OpenNetlink()
	if err != nil {
		return w.finish(err)
	}
	defer nl.Close()
	// said once joined: the kernel sends a late member nothing from before
	w.opt.Log.Info("reading the kernel's audit multicast group", "state_dir", w.opt.StateDir)
	err = nl.Run(ctx,
		func(l []byte) error { return w.line(source.Line{Text: l}) },
		func(err error) { w.gap(time.Now(), time.Now().UTC().Format("20060102T150405.000"), err.Error()) },
		w.idle)
	w.flush() // nothing to resume from: complete what is in flight
	return w.finish(err)
}

func indexNL(b []byte) int {
	for i, c := range b {
		if c == '\n' {
			return i
		}
	}
	return -1
}

func (w *Watcher) finish(err error) error {
	if errors.Is(err, context.Canceled) {
		err = nil
	}
	if serr := w.sync(); err == nil {
		err = serr
	}
	if w.sinceCP > 0 {
		// the records since the last checkpoint are signed too: what a
		// stop leaves unsigned, a rewrite could drop unnoticed
		w.checkpoint(time.Now())
	}
	if cerr := w.trail.Close(); err == nil {
		err = cerr
	}
	return err
}

func (w *Watcher) loadState() (state, error) {
	var st state
	data, err := os.ReadFile(w.positionFile)
	if err != nil && !errors.Is(err, os.ErrNotExist) {
		return st, fmt.Errorf("read %s: %w", w.positionFile, err)
	}
	if err == nil {
		if err := json.Unmarshal(data, &st); err != nil {
			return st, fmt.Errorf("%s: %w", w.positionFile, err)
		}
	}
	for _, id := range st.Skip {
		w.skip[id] = true
	}
	// appended after the position was saved: in the trail already
	err = trail.ReadAfter(w.opt.StateDir, st.TrailSeq, func(line []byte) error {
		var e struct {
			Event struct {
				ID   string `json:"id"`
				Kind string `json:"kind"` // gotrail's kind, in records older than ECS conformance
			} `json:"event"`
			Gotrail *struct {
				Kind string `json:"kind"`
			} `json:"gotrail"`
			Host struct {
				Name string `json:"name"`
			} `json:"host"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			return nil
		}
		kind := e.Event.Kind
		if e.Gotrail != nil {
			kind = e.Gotrail.Kind
		}
		// gotrail install and the rules keeper append their own events: no
		// audit record will bring them again, so they are not waited for
		if kind != event.KindInstall && kind != event.KindRules {
			w.skip[e.Host.Name+"|"+e.Event.ID] = true
		}
		return nil
	})
	return st, err
}

// line takes one line of the log.
func (w *Watcher) line(l source.Line) error {
	if l.At.Ino != 0 && l.At.Ino != w.lastIno {
		w.gen++
		w.lastIno = l.At.Ino
	}
	at := mark{gen: w.gen, pos: l.At}
	w.last = mark{gen: w.gen, pos: l.Next}
	rec, err := audit.ParseRecord(string(l.Text)) // a copy: the follower reuses its buffer
	if err != nil {
		if len(l.Text) > 0 {
			w.Stats.Malformed.Add(1)
			w.opt.Log.Warn("skipped a line that is not an audit record", "offset", l.At.Offset, "err", err)
		}
		return nil
	}
	node := w.nodeOf(rec)
	w.gaps.See(rec)
	k := eventKey(node, rec.Time, rec.Serial)
	if rec.Type != "EOE" {
		if _, ok := w.first[k]; !ok {
			w.first[k] = at
		}
		w.lastOf[k] = at
	}
	w.asm.Add(rec, w.coalesce)
	return w.failed
}

// nodeOf is the host an event is keyed under: the trail keeps host.name,
// which is the node= prefix or, without one, this host.
func (w *Watcher) nodeOf(r audit.Record) string {
	if r.Node != "" {
		return r.Node
	}
	return w.opt.Host
}

// missingAfter names, for a live removal of gotrail's rules, exactly which
// of the expected rules the kernel now lacks: the kernel's records name a
// removed watch by its directory only.
func (w *Watcher) missingAfter(_ *audit.Event, e *event.Event) bool {
	c := e.Gotrail.AuditChange
	if c == nil || len(c.GotrailRemoved) == 0 || w.opt.Rules == nil || e.Time.Before(w.started) {
		return true
	}
	missing, err := w.opt.Rules.Missing()
	if err != nil {
		w.opt.Log.Warn("listing the kernel's rules after a removal failed", "err", err)
		return true
	}
	for _, r := range missing {
		for _, g := range c.GotrailRemoved {
			// without the directory the kernel named, which rule went is
			// not known: not guessed
			if g.Dir != "" && r.NamedBy(g.Key, g.Dir) {
				c.Missing = append(c.Missing, r.String())
				break
			}
		}
	}
	if len(c.Missing) > 0 {
		e.Message += "; now missing: " + strings.Join(c.Missing, "; ")
	}
	return true
}

// coalesce passes a complete event through the coalescer: the audit
// configuration changes of one process's run become one event.
func (w *Watcher) coalesce(ev *audit.Event) { w.coal.Add(ev, time.Now(), w.emit) }

// flush completes everything in flight: the end of the input.
func (w *Watcher) flush() {
	w.asm.Flush(w.coalesce)
	w.coal.Flush(w.emit)
}

func (w *Watcher) emit(ev *audit.Event) {
	node := ev.Node
	if node == "" {
		node = w.opt.Host
	}
	k := eventKey(node, ev.Time, ev.Serial)
	first, at := w.first[k], w.lastOf[k]
	delete(w.first, k)
	delete(w.lastOf, k)
	// a coalesced event stands for all its members: their lines are read
	// once it is in the trail, and a restart reads them again from the first
	for _, m := range ev.Members {
		mk := eventKey(node, m.Time, m.Serial)
		if mk == k {
			continue
		}
		if l, ok := w.lastOf[mk]; ok && at.before(l) {
			at = l
		}
		delete(w.first, mk)
		delete(w.lastOf, mk)
	}
	if w.skip[k] {
		delete(w.skip, k)
		// still to be skipped if the log is read again from before its
		// last line
		w.recent = append(w.recent, committed{id: k, at: at})
		w.Stats.Skipped.Add(1)
		return
	}
	e := w.chain.Run(ev)
	if e == nil {
		return
	}
	if err := w.trail.Append(e); err != nil {
		// keep the position before the event, and stop: a restart reads
		// it again rather than losing it
		w.first[k], w.lastOf[k] = first, at
		w.failed = fmt.Errorf("trail append of event %s: %w", e.Event.ID, err)
		return
	}
	w.Stats.Events.Add(1)
	w.opt.Metrics.appended(e)
	w.sinceCP++
	w.dirty = true
	w.recent = append(w.recent, committed{id: k, at: at})
	if w.opt.OnEvent != nil {
		w.opt.OnEvent(e)
	}
	if mt := e.Auditd.MessageType; (mt == "daemon_end" || mt == "daemon_abort") && e.Event.Action != "restart" {
		w.gap(e.Time.Time, e.Event.ID, fmt.Sprintf("auditd stopped (%s): changes until it runs again are not recorded", strings.ToUpper(mt)))
	}
}

// enrich adds what /proc says: a go process's environment, container and
// parent (as the exec catcher read them while it ran, else now), any other
// process's parent's name.
func (w *Watcher) enrich(ev *audit.Event, e *event.Event) bool {
	p := e.Process.Parent
	if e.Gotrail.Kind != event.KindExec || e.Process.PID <= 0 {
		if p != nil {
			p.Name = w.opt.Proc.Name(p.PID)
		}
		return true
	}
	exe := e.Process.Executable
	if e.Gotrail.Interpreter != "" {
		exe = e.Gotrail.Interpreter // what /proc shows running a script
	}
	f := w.execFacts(execKey{ev.Time, ev.Serial}, e.Process.PID, e.Process.PPID(), exe, e.Time.Time)
	if f.envErr != nil {
		w.Stats.EnvMissed.Add(1)
		e.Gotrail.EnvError = f.envErr.Error()
	} else {
		e.Process.EnvVars = event.EnvVars(f.env)
	}
	if f.container != "" {
		e.Container = &event.Container{ID: f.container}
	}
	if p != nil {
		p.Name = f.parent
	}
	return true
}

// ownUpkeep authorizes, after the policy, gotrail's own upkeep: this
// daemon or its auditctl, since it started (a pid of a record read again
// after a restart may be anyone's).
func (w *Watcher) ownUpkeep(_ *audit.Event, e *event.Event) bool {
	if self := w.opt.Self; self != 0 && (e.Process.PID == self || e.Process.PPID() == self) && !e.Time.Before(w.started) {
		ok := true
		e.Gotrail.Authorized, e.Gotrail.Severity, e.Gotrail.Policy = &ok, "info", "gotrail"
	}
	return true
}

// execFacts are the facts of the go process of an exec event: as the exec
// catcher read them while it ran, else read now, with why not earlier.
func (w *Watcher) execFacts(k execKey, pid, ppid int, exe string, execAt time.Time) procFacts {
	late := w.catchErr
	if w.catcher != nil {
		f, ok, why := w.catcher.take(k)
		if ok {
			w.Stats.EnvCaught.Add(1)
			return f
		}
		late = why
	}
	f := readFacts(w.opt.Proc, pid, ppid, exe, execAt)
	if f.envErr != nil && late != nil {
		f.envErr = fmt.Errorf("%w, read when auditd handed over its exec: %v", f.envErr, late)
	}
	return f
}

// serialGap appends the audit.gap event of a hole in node's serials, its
// severity weighed by judgeGap: a hole right after auditd stopped that is
// no more than a restart leaves of its own is info, since a high alert on
// every restart (itself an audit.tamper event) would be a false one. It is
// in the trail all the same, with what the kernel's log says of it.
func (w *Watcher) serialGap(node string, g audit.Gap) {
	id := fmt.Sprintf("%s:serial:%d", node, g.From)
	msg := fmt.Sprintf("%d audit event(s) missing from the log (serials %d to %d)", g.Events(), g.From, g.To)
	severity, why := judgeGap(g, w.kernelEvidence(g))
	w.gapOf(time.Unix(g.Sec, 0), id, severity, msg+why)
}

// gap appends an audit.gap event: a stretch of time whose records are
// missing.
func (w *Watcher) gap(t time.Time, id, msg string) { w.gapOf(t, id, "high", msg) }

func (w *Watcher) gapOf(t time.Time, id, severity, msg string) {
	e := &event.Event{
		Time:    event.Time{Time: t.UTC().Truncate(time.Millisecond)},
		Event:   event.Meta{ID: "gap:" + id, Action: "lost", Outcome: "failure"},
		Gotrail: event.Gotrail{Kind: event.KindGap, Severity: severity},
		Host:    event.Host{Name: w.opt.Host},
		Message: msg,
	}
	event.Categorize(e)
	if k := w.opt.Host + "|" + e.Event.ID; w.skip[k] {
		delete(w.skip, k) // found again after a restart: in the trail already
		return
	}
	if err := w.trail.Append(e); err != nil {
		w.opt.Log.Error("trail append failed", "event", e.Event.ID, "err", err)
		return
	}
	w.dirty = true
	w.Stats.Events.Add(1) // an event in the trail, as the metric counts it
	w.opt.Metrics.appended(e)
}

// Do runs fn in the watcher's own goroutine at its next quiet moment: how
// another goroutine (a SIGHUP handler) changes the classifier or policy.
func (w *Watcher) Do(fn func()) { w.tasks <- fn }

// SetRules replaces the classifier and the policy.
func (w *Watcher) SetRules(c *classify.Classifier, p *classify.Policy) {
	w.opt.Classifier, w.opt.Policy = c, p
}

// idle runs when the follower has caught up: run queued tasks, complete
// quiet events, make the trail durable, save the position, watch the lost
// counter, sign a checkpoint when due.
func (w *Watcher) idle() {
	for {
		select {
		case fn := <-w.tasks:
			fn()
			continue
		default:
		}
		break
	}
	now := time.Now()
	for _, g := range w.gaps.Expire() {
		w.serialGap(w.gapNode(g), g)
		w.Stats.Lost.Add(g.Events())
	}
	if w.opt.Retention != nil && now.Sub(w.pruned) >= time.Hour {
		w.pruned = now
		n, anchor, err := trail.Prune(w.opt.StateDir, *w.opt.Retention, now, w.signer, w.opt.Host)
		if err != nil {
			w.opt.Log.Error("pruning the trail failed", "err", err)
		}
		if n > 0 {
			w.opt.Log.Info("pruned trail segments past their retention", "segments", n, "starts_after", anchor.Head.Seq)
		}
		if anchor != nil && w.opt.OnCheckpoint != nil {
			w.opt.OnCheckpoint(anchor) // the collector keeps where the chain now starts
		}
	}
	if w.opt.Rules != nil && now.Sub(w.rulesPolled) >= time.Second {
		w.rulesPolled = now
		w.keepRules(now)
	}
	if w.opt.Lost != nil && now.Sub(w.lostChecked) >= 10*time.Second {
		w.lostChecked = now
		w.checkLost(now)
	}
	w.asm.Expire(now, w.coalesce)
	if st := w.asm.Stats(); st.Collisions > w.collisions || st.ClockSteps > w.clockSteps {
		w.opt.Log.Warn("the audit stream is not what one kernel writes: events kept apart and whole",
			"collisions", st.Collisions, "clock_steps", st.ClockSteps)
		w.collisions, w.clockSteps = st.Collisions, st.ClockSteps
	}
	// a group closes when its process is gone or has been quiet a second
	w.coal.Expire(now, w.opt.Proc.Gone, w.emit)
	if err := w.sync(); err != nil {
		w.opt.Log.Error("saving the trail failed", "err", err)
	}
	if w.sinceCP > 0 && (w.sinceCP >= w.opt.CheckpointEvery || now.Sub(w.lastCP) >= w.opt.CheckpointInterval) {
		w.checkpoint(now)
	}
}

// checkpoint signs the trail's head and hands it to OnCheckpoint.
func (w *Watcher) checkpoint(now time.Time) {
	cp, err := w.trail.Checkpoint(w.signer, w.opt.Host)
	if err != nil {
		w.opt.Log.Error("signing a checkpoint failed", "err", err)
		return
	}
	w.sinceCP, w.lastCP = 0, now
	w.Stats.Checkpoint.Store(cp.Head.Seq)
	if w.opt.OnCheckpoint != nil {
		w.opt.OnCheckpoint(cp)
	}
}

// keepRules asks the keeper to follow /etc/passwd, and records what it did
// as one audit.rules event: it is gotrail's own upkeep, so authorized.
func (w *Watcher) keepRules(now time.Time) {
	u, err := w.opt.Rules.Poll()
	if err != nil {
		w.opt.Log.Error("keeping the audit rules in step with /etc/passwd failed", "err", err, "done", u.String())
	}
	if u.Empty() {
		return
	}
	ok := true
	e := &event.Event{
		Time:    event.Time{Time: now.UTC().Truncate(time.Millisecond)},
		Event:   event.Meta{ID: "rules:" + now.UTC().Format("20060102T150405.000"), Action: "rules-update", Outcome: "success"},
		Gotrail: event.Gotrail{Kind: event.KindRules, Severity: "info", Authorized: &ok, Policy: "gotrail"},
		Host:    event.Host{Name: w.opt.Host},
		User:    event.User{ID: strconv.Itoa(os.Getuid()), Name: currentUserName()},
		Process: event.Process{PID: w.opt.Self, Name: "gotrail"},
		Message: u.String(),
	}
	if err != nil {
		e.Event.Outcome = "failure"
		e.Message += " (then failed: " + err.Error() + ")"
	}
	if u.File != "" {
		e.File = &event.File{Path: u.File}
	}
	event.Categorize(e)
	if err := w.trail.Append(e); err != nil {
		// the rules changed and the trail cannot say so: stop, as emit does
		w.failed = fmt.Errorf("trail append of event %s: %w", e.Event.ID, err)
		return
	}
	w.dirty = true
	w.sinceCP++
	w.opt.Log.Info("kept the audit rules in step with /etc/passwd", "added", len(u.Added), "removed", len(u.Removed), "users_added", u.UsersAdded, "users_removed", u.UsersRemoved)
	if w.opt.OnEvent != nil {
		w.opt.OnEvent(e)
	}
}

func currentUserName() string {
	if u, err := user.Current(); err == nil {
		return u.Username
	}
	return ""
}

// checkLost appends an audit.gap event when the kernel's lost counter grew.
func (w *Watcher) checkLost(now time.Time) {
	n, err := w.opt.Lost()
	if err != nil {
		w.opt.Log.Warn("reading the kernel's lost counter failed", "err", err)
		return
	}
	prev := w.lost
	w.lost = n
	if prev < 0 || n <= prev {
		return // first reading, or reset (auditd restarted)
	}
	w.gap(now, now.UTC().Format("20060102T150405.000"),
		fmt.Sprintf("the kernel lost %d audit records (backlog full or rate limit): changes in that time may be missing", n-prev))
	w.Stats.Lost.Add(uint64(n - prev))
	w.opt.Log.Warn("audit records lost", "count", n-prev)
}

// sync makes the trail durable, then saves the position: the first line of
// the oldest event in flight, or the end of what was read.
func (w *Watcher) sync() error {
	if !w.dirty && len(w.first) == 0 {
		return w.saveState(w.last)
	}
	if err := w.trail.Sync(); err != nil {
		return err
	}
	resume := w.last
	for _, m := range w.first {
		if m.before(resume) {
			resume = m
		}
	}
	err := w.saveState(resume)
	w.dirty = false
	return err
}

func (w *Watcher) saveState(resume mark) error {
	if resume.pos.Ino == 0 {
		return nil // reading standard input: nothing to resume
	}
	if resume == w.saved && !w.dirty {
		return nil
	}
	// events in the trail that a read from resume would see again: those
	// with a line at or after it, and those loaded to skip and not yet seen
	kept := w.recent[:0]
	var skip []string
	for _, c := range w.recent {
		if !c.at.before(resume) {
			kept = append(kept, c)
			skip = append(skip, c.id)
		}
	}
	w.recent = kept
	for id := range w.skip {
		if len(skip) >= maxSkip {
			break
		}
		skip = append(skip, id)
	}
	head := w.trail.Head()
	st := state{Position: resume.pos, TrailSeq: head.Seq, TrailHash: head.Hash, Skip: skip}
	data, _ := json.Marshal(st)
	if err := atomicfile.Write(w.positionFile, data, 0o600); err != nil {
		return fmt.Errorf("save position: %w", err)
	}
	w.saved = resume
	return nil
}
