package sink

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gotrail/gotrail/internal/atomicfile"
	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/trail"
)

// TrailSink ships the trail itself to a syslog collector over tcp:// or
// tls:// (payload = "trail"): every record whole, in seq order, with the
// checkpoints and anchors each after the record it covers, so that the
// collector holds a copy it can prove complete (gotrail verify
// --collected).
//
// The trail on disk is its spool: the sink reads it from where the
// collector's acknowledgements stopped (a cursor in the state directory)
// and follows it as it grows, so a collector that is away for a minute or
// a week, or a restart of gotrail, loses nothing. What counts as delivered
// is what the collector's TCP acknowledged (ackConn): after a broken
// connection the sink starts again from the first message not
// acknowledged, on a new connection, having reset the old one.
//
// An acknowledgement counts only once the connection has stayed up for
// Probation after it: a collector's kernel acknowledges what its rsyslog
// then throws away unread when it refuses the client's certificate after
// a TLS 1.3 handshake, or closes a session past its maxSessions. The sink
// reads the connection too, to see such a close, and sends again what was
// acknowledged on a connection that closed within its probation: at
// worst a record twice, byte for byte, never one lost.
type TrailSink struct {
	name     string
	stateDir string
	syslog   *Syslog
	max      int
	log      *slog.Logger
	cursorAt string

	// Probation is how long a connection must stay up after an
	// acknowledgement for it to count; default 2 s.
	Probation time.Duration

	cur     shipCursor
	started bool
	poke    chan struct{}
	drain   chan struct{} // closed by Close: finish what is written, then stop
	stop    context.CancelFunc
	done    chan struct{}

	head, acked atomic.Uint64
	pruned      atomic.Uint64

	mu      sync.Mutex
	lastErr string
}

// shipCursor is what the collector acknowledged, kept across restarts.
type shipCursor struct {
	Seq         uint64 `json:"seq"`         // the last record
	Checkpoints int64  `json:"checkpoints"` // the checkpoints file up to this offset
	Anchor      string `json:"anchor,omitempty"`
}

// NewTrailSink makes the sink that ships the trail of stateDir as c says;
// Start starts it, once the trail was opened for writing (which repairs a
// last line a crash cut short, before anything reads it).
func NewTrailSink(c config.Sink, stateDir string, log *slog.Logger) (*TrailSink, error) {
	s, err := NewSyslog(c)
	if err != nil {
		return nil, err
	}
	if s.network != "tcp" && s.network != "tls" {
		return nil, fmt.Errorf("syslog %s: payload = \"trail\" needs tcp:// or tls://", c.Address)
	}
	t := &TrailSink{
		name: "trail " + c.Address, stateDir: stateDir, syslog: s, max: s.max,
		log:      log.With("sink", "trail "+c.Address),
		cursorAt: filepath.Join(stateDir, "sinks", "trail-"+fileSafe(c.Address)+".json"),
		poke:     make(chan struct{}, 1), drain: make(chan struct{}), done: make(chan struct{}),
	}
	cur, err := t.loadCursor()
	if err != nil {
		return nil, err
	}
	t.acked.Store(cur.Seq)
	head, err := trail.ReadHead(stateDir)
	if err != nil {
		return nil, err
	}
	t.head.Store(max(head, cur.Seq))
	t.cur = cur
	t.stop = func() {}
	return t, nil
}

// Start starts shipping, on a goroutine of its own.
func (t *TrailSink) Start() {
	t.started = true
	if t.Probation <= 0 {
		t.Probation = 2 * time.Second
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.stop = cancel
	go t.run(ctx, t.cur)
}

func fileSafe(s string) string {
	return strings.Map(func(r rune) rune {
		if r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '-' {
			return r
		}
		return '_'
	}, s)
}

// Name names the sink in logs and metrics.
func (t *TrailSink) Name() string { return t.name }

// Notify says the trail grew to seq: ship it now rather than at the next
// look.
func (t *TrailSink) Notify(seq uint64) {
	t.grow(seq)
	select {
	case t.poke <- struct{}{}:
	default:
	}
}

// grow raises the head the lag is counted against to seq.
func (t *TrailSink) grow(seq uint64) {
	for h := t.head.Load(); seq > h && !t.head.CompareAndSwap(h, seq); h = t.head.Load() {
	}
}

// TrailStats say how far behind the collector is.
type TrailStats struct {
	Acked     uint64 // the last record the collector acknowledged
	Behind    uint64 // records in the trail it has not acknowledged
	Pruned    uint64 // records retention removed before it had them
	LastError string
}

// Stats returns the counters so far.
func (t *TrailSink) Stats() TrailStats {
	a, h := t.acked.Load(), t.head.Load()
	t.mu.Lock()
	defer t.mu.Unlock()
	return TrailStats{Acked: a, Behind: h - min(a, h), Pruned: t.pruned.Load(), LastError: t.lastErr}
}

// Acked is the last record the collector acknowledged: retention must not
// remove what comes after it.
func (t *TrailSink) Acked() uint64 { return t.acked.Load() }

// Close sends what the trail holds, waits up to timeout for the collector
// to acknowledge it, and stops.
func (t *TrailSink) Close(timeout time.Duration) error {
	close(t.drain)
	if !t.started {
		return nil
	}
	select {
	case <-t.done:
	case <-time.After(timeout):
		t.stop()
		<-t.done
	}
	t.stop()
	return nil
}

func (t *TrailSink) loadCursor() (shipCursor, error) {
	var cur shipCursor
	data, err := os.ReadFile(t.cursorAt)
	if errors.Is(err, os.ErrNotExist) {
		return cur, nil
	}
	if err != nil {
		return cur, fmt.Errorf("syslog trail sink: read %s: %w", t.cursorAt, err)
	}
	if err := json.Unmarshal(data, &cur); err != nil {
		return cur, fmt.Errorf("syslog trail sink: %s: %w", t.cursorAt, err)
	}
	return cur, nil
}

func (t *TrailSink) saveCursor(cur shipCursor) error {
	data, _ := json.Marshal(cur)
	return atomicfile.Write(t.cursorAt, data, 0o600)
}

func (t *TrailSink) fail(err error) {
	t.mu.Lock()
	first := t.lastErr == ""
	t.lastErr = err.Error()
	t.mu.Unlock()
	if first {
		t.log.Warn("the collector is not reachable; the trail keeps what it has not acknowledged", "err", err)
	} else {
		t.log.Debug("still not delivered", "err", err)
	}
}

func (t *TrailSink) ok() {
	t.mu.Lock()
	was := t.lastErr
	t.lastErr = ""
	t.mu.Unlock()
	if was != "" {
		t.log.Info("the collector is back; sending what it missed", "from_seq", t.acked.Load()+1)
	}
}

// run connects, ships, and reconnects after a failure, until Close.
func (t *TrailSink) run(ctx context.Context, cur shipCursor) {
	defer close(t.done)
	backoff := 100 * time.Millisecond
	for ctx.Err() == nil {
		conn, ac, err := t.connect(ctx)
		if err != nil {
			t.fail(err)
			if t.draining() {
				return // nothing can be delivered before the deadline
			}
			select {
			case <-time.After(backoff):
			case <-ctx.Done():
			}
			backoff = min(backoff*2, 5*time.Second)
			continue
		}
		delivered, err := t.ship(ctx, conn, ac, &cur)
		if serr := t.saveCursor(cur); serr != nil {
			t.log.Error("saving what the collector acknowledged failed", "err", serr)
		}
		if errors.Is(err, errDrained) {
			return
		}
		if err != nil && ctx.Err() == nil {
			t.fail(err)
		}
		if delivered {
			backoff = 100 * time.Millisecond
			continue
		}
		// connected, and nothing delivered: a collector that drops the
		// connection (refused certificate, full) is not hammered
		select {
		case <-time.After(backoff):
		case <-ctx.Done():
		}
		backoff = min(backoff*2, 5*time.Second)
	}
}

func (t *TrailSink) draining() bool {
	select {
	case <-t.drain:
		return true
	default:
		return false
	}
}

// connect dials the collector; TLS runs over the acknowledgement-counting
// connection.
func (t *TrailSink) connect(ctx context.Context) (net.Conn, *ackConn, error) {
	d := net.Dialer{Timeout: 5 * time.Second}
	c, err := d.DialContext(ctx, "tcp", t.syslog.addr)
	if err != nil {
		return nil, nil, fmt.Errorf("%s: connect: %w", t.name, err)
	}
	tc := c.(*net.TCPConn)
	tuneTCP(tc)
	ac := &ackConn{TCPConn: tc}
	if t.syslog.network != "tls" {
		return ac, ac, nil
	}
	tl := tls.Client(ac, t.syslog.tls)
	hctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	if err := tl.HandshakeContext(hctx); err != nil {
		ac.abort()
		return nil, nil, fmt.Errorf("%s: TLS handshake: %w", t.name, err)
	}
	return tl, ac, nil
}

var errDrained = errors.New("drained")

// inflight is a message written whose acknowledgement is awaited: when the
// collector acknowledged byte end, and the connection stayed up for the
// probation after, cur may move to what it says.
type inflight struct {
	end     uint64
	cur     shipCursor
	ackedAt time.Time // when its bytes were acknowledged; zero before
}

// shipment is one connection's shipping: what was written on it, what the
// collector acknowledged of it.
type shipment struct {
	t        *TrailSink
	conn     net.Conn
	ac       *ackConn
	tail     *trail.Tail
	sent     shipCursor  // written on this connection
	acked    *shipCursor // acknowledged: the caller's, saved as the cursor
	inflight []inflight
	cps      []trail.Signed // read from the checkpoints file, not yet sent
	cpRead   int64
	saved    time.Time
	anchorAt time.Time
	frame    []byte
	closed   chan error // the connection's reader: the collector closed it
	dead     error
	commits  int    // acknowledgements counted on this connection
	reread   uint64 // the seq read again because its hash did not match
}

// ship sends on conn from cur on, following the trail, until the
// connection fails, ctx ends, or Close has it drained; cur follows the
// acknowledgements.
func (t *TrailSink) ship(ctx context.Context, conn net.Conn, ac *ackConn, cur *shipCursor) (delivered bool, err error) {
	tail, err := trail.OpenTail(t.stateDir, cur.Seq)
	if err != nil {
		conn.Close()
		return false, err
	}
	defer tail.Close()
	// a write waiting on a full send queue gives up when the sink stops
	stopWrites := context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Now()) })
	defer stopWrites()
	s := &shipment{t: t, conn: conn, ac: ac, tail: tail, sent: *cur, acked: cur, cpRead: cur.Checkpoints, closed: make(chan error, 1)}
	go s.read()
	defer s.end()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := s.round()
		if cerr := s.collect(false); err == nil {
			err = cerr
		}
		if err != nil {
			return s.commits > 0, err
		}
		if n > 0 {
			continue
		}
		if len(s.inflight) == 0 && t.draining() {
			return s.commits > 0, errDrained
		}
		select {
		case <-t.poke:
		case <-tick.C:
		case err := <-s.closed:
			s.dead = err
		case <-ctx.Done():
			return s.commits > 0, ctx.Err()
		}
	}
}

// read reads what the collector sends, which is nothing but a close or a
// TLS alert: how the sink learns that it dropped the connection.
func (s *shipment) read() {
	buf := make([]byte, 512)
	for {
		if _, err := s.conn.Read(buf); err != nil {
			if err == io.EOF {
				err = errors.New("the collector closed the connection")
			}
			s.closed <- fmt.Errorf("%s: %w", s.t.name, err)
			return
		}
	}
}

// end takes the last acknowledgements and closes: gracefully when all was
// acknowledged, else with a reset, so that the old connection delivers
// nothing late of what the next one sends again.
func (s *shipment) end() {
	if s.dead == nil {
		s.collect(true)
	}
	if len(s.inflight) == 0 && s.dead == nil {
		s.conn.Close()
		return
	}
	s.ac.abort()
}

// round writes what is ready: checkpoints, then up to 512 records, each
// checkpoint after the record it covers.
func (s *shipment) round() (int, error) {
	n, err := s.checkpoints()
	if err != nil {
		return n, err
	}
	for n < 512 {
		r, err := s.tail.Next()
		if err == io.EOF {
			break
		}
		if errors.Is(err, trail.ErrNotRecord) {
			// the collector finds the seq missing, which it is
			s.t.log.Error("a line of the trail is not a record; it is not sent", "err", err)
			continue
		}
		if err != nil {
			return n, err
		}
		if again, err := s.check(r); again || err != nil {
			return n, err
		}
		if gap := r.Seq - s.sent.Seq - 1; r.Seq > s.sent.Seq+1 {
			s.t.pruned.Add(gap)
			s.t.log.Error("retention removed trail records before the collector had them", "from_seq", s.sent.Seq+1, "to_seq", r.Seq-1)
		}
		msgs, err := s.t.syslog.format.TrailMessages(r, s.t.max)
		if err != nil {
			// the collector finds it missing, which is what it is
			s.t.log.Error("a trail record cannot be sent", "seq", r.Seq, "err", err)
		}
		for _, m := range msgs {
			if err := s.write(m); err != nil {
				return n, err
			}
		}
		s.sent.Seq = r.Seq
		s.inflight = append(s.inflight, inflight{end: s.ac.written, cur: s.sent})
		s.t.grow(r.Seq) // what another process appended counts too
		n++
		k, err := s.checkpoints()
		if n += k; err != nil {
			return n, err
		}
	}
	k, err := s.anchor()
	return n + k, err
}

// check makes sure r is the record the trail holds: a record read while a
// Writer repaired a line a crash cut short is read again once from the
// record before it (again). A record whose hash still does not match is
// sent as the trail has it, for the collector to name.
func (s *shipment) check(r trail.Record) (again bool, err error) {
	if rec, ok := trail.SplitRecord(r.Line); ok && rec.HashOK() || s.reread == r.Seq {
		return false, nil
	}
	s.reread = r.Seq
	s.tail.Close()
	if s.tail, err = trail.OpenTail(s.t.stateDir, r.Seq-1); err != nil {
		return false, err
	}
	return true, nil
}

// checkpoints sends the signed checkpoints of records already sent, in the
// order they were signed.
func (s *shipment) checkpoints() (int, error) {
	if fi, err := os.Stat(filepath.Join(s.t.stateDir, "trail", "checkpoints")); err == nil && fi.Size() > s.cpRead {
		more, bad, end, err := trail.CheckpointsFrom(s.t.stateDir, s.cpRead)
		for _, b := range bad {
			s.t.log.Error("a line of the checkpoints file is not a checkpoint; it is not sent", "line", b)
		}
		s.cpRead = end
		if len(bad) > 0 && len(more) == 0 {
			// nothing to hang the line's place on: the next read starts after it
			s.cps = append(s.cps, trail.Signed{End: end})
		}
		s.cps = append(s.cps, more...)
		if err != nil {
			return 0, err
		}
	}
	n := 0
	for len(s.cps) > 0 && (s.cps[0].Checkpoint == nil || s.cps[0].Head.Seq <= s.sent.Seq) {
		c := s.cps[0]
		if c.Checkpoint == nil {
			s.sent.Checkpoints = c.End
			s.cps = s.cps[1:]
			continue
		}
		if err := s.write(s.t.syslog.format.Append(nil, Checkpoint(c.Host, c.Head.Seq, c.Head.Hash, c.Time, c.Note))); err != nil {
			return n, err
		}
		s.sent.Checkpoints = c.End
		s.inflight = append(s.inflight, inflight{end: s.ac.written, cur: s.sent})
		s.cps = s.cps[1:]
		n++
	}
	return n, nil
}

// anchor sends the anchor retention signed, once, looking every few
// seconds: the collector keeps where the host's chain now starts.
func (s *shipment) anchor() (int, error) {
	if now := time.Now(); now.Sub(s.anchorAt) < 5*time.Second {
		return 0, nil
	} else {
		s.anchorAt = now
	}
	a, err := trail.ReadAnchor(s.t.stateDir)
	if err != nil || a == nil {
		return 0, err
	}
	key := fmt.Sprintf("%d:%s:%s", a.Head.Seq, a.Head.Hash, a.Time.Format(time.RFC3339))
	if key == s.sent.Anchor {
		return 0, nil
	}
	if err := s.write(s.t.syslog.format.Append(nil, Checkpoint(a.Host, a.Head.Seq, a.Head.Hash, a.Time, a.Note))); err != nil {
		return 0, err
	}
	s.sent.Anchor = key
	s.inflight = append(s.inflight, inflight{end: s.ac.written, cur: s.sent})
	return 1, nil
}

// write sends one message, octet-counted (RFC 6587, 3.4.1).
func (s *shipment) write(msg []byte) error {
	s.frame = strconv.AppendInt(s.frame[:0], int64(len(msg)), 10)
	s.frame = append(append(s.frame, ' '), msg...)
	if _, err := s.conn.Write(s.frame); err != nil {
		return fmt.Errorf("%s: write: %w", s.t.name, err)
	}
	return nil
}

// collect moves the cursor over what the collector acknowledged and has
// kept the connection up for the probation since, saving it now and then
// (and always when force).
func (s *shipment) collect(force bool) error {
	select {
	case err := <-s.closed:
		s.dead = err
	default:
	}
	if s.dead != nil {
		return s.dead // what it acknowledged last is sent again
	}
	acked, err := s.ac.acked()
	if err != nil {
		return err
	}
	now := time.Now()
	for i := range s.inflight {
		if s.inflight[i].end > acked {
			break
		}
		if s.inflight[i].ackedAt.IsZero() {
			s.inflight[i].ackedAt = now
		}
	}
	i := 0
	for i < len(s.inflight) && !s.inflight[i].ackedAt.IsZero() && now.Sub(s.inflight[i].ackedAt) >= s.t.Probation {
		*s.acked = s.inflight[i].cur
		i++
	}
	if i > 0 {
		s.inflight = s.inflight[:copy(s.inflight, s.inflight[i:])]
		s.t.acked.Store(s.acked.Seq)
		if s.commits == 0 {
			s.t.ok()
		}
		s.commits += i
	}
	if force || i > 0 && time.Since(s.saved) >= 200*time.Millisecond {
		s.saved = time.Now()
		if err := s.t.saveCursor(*s.acked); err != nil {
			s.t.log.Error("saving what the collector acknowledged failed", "err", err)
		}
	}
	return nil
}
