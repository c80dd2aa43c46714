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
type TrailSink struct {
	name     string
	stateDir string
	syslog   *Syslog
	max      int
	log      *slog.Logger
	cursorAt string

	poke  chan struct{}
	drain chan struct{} // closed by Close: finish what is written, then stop
	stop  context.CancelFunc
	done  chan struct{}

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

// NewTrailSink starts shipping the trail of stateDir as c says.
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
	ctx, cancel := context.WithCancel(context.Background())
	t.stop = cancel
	go t.run(ctx, cur)
	return t, nil
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
	for h := t.head.Load(); seq > h && !t.head.CompareAndSwap(h, seq); h = t.head.Load() {
	}
	select {
	case t.poke <- struct{}{}:
	default:
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
		backoff = 100 * time.Millisecond
		err = t.ship(ctx, conn, ac, &cur)
		if serr := t.saveCursor(cur); serr != nil {
			t.log.Error("saving what the collector acknowledged failed", "err", serr)
		}
		if errors.Is(err, errDrained) {
			return
		}
		if err != nil && ctx.Err() == nil {
			t.fail(err)
		}
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
// collector acknowledged byte end, cur may move to what it says.
type inflight struct {
	end uint64
	cur shipCursor
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
}

// ship sends on conn from cur on, following the trail, until the
// connection fails, ctx ends, or Close has it drained; cur follows the
// acknowledgements.
func (t *TrailSink) ship(ctx context.Context, conn net.Conn, ac *ackConn, cur *shipCursor) error {
	tail, err := trail.OpenTail(t.stateDir, cur.Seq)
	if err != nil {
		return err
	}
	defer tail.Close()
	// a write waiting on a full send queue gives up when the sink stops
	stopWrites := context.AfterFunc(ctx, func() { conn.SetWriteDeadline(time.Now()) })
	defer stopWrites()
	s := &shipment{t: t, conn: conn, ac: ac, tail: tail, sent: *cur, acked: cur, cpRead: cur.Checkpoints}
	defer s.end()
	t.ok()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		n, err := s.round()
		if cerr := s.collect(false); err == nil {
			err = cerr
		}
		if err != nil {
			return err
		}
		if n > 0 {
			continue
		}
		if len(s.inflight) == 0 && t.draining() {
			return errDrained
		}
		select {
		case <-t.poke:
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// end takes the last acknowledgements and closes: gracefully when all was
// acknowledged, else with a reset, so that the old connection delivers
// nothing late of what the next one sends again.
func (s *shipment) end() {
	s.collect(true)
	if len(s.inflight) == 0 {
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
		if err != nil {
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
		s.t.Notify(r.Seq)
		n++
		k, err := s.checkpoints()
		if n += k; err != nil {
			return n, err
		}
	}
	k, err := s.anchor()
	return n + k, err
}

// checkpoints sends the signed checkpoints of records already sent, in the
// order they were signed.
func (s *shipment) checkpoints() (int, error) {
	if fi, err := os.Stat(filepath.Join(s.t.stateDir, "trail", "checkpoints")); err == nil && fi.Size() > s.cpRead {
		more, err := trail.CheckpointsFrom(s.t.stateDir, s.cpRead)
		if len(more) > 0 {
			s.cpRead = more[len(more)-1].End
		}
		s.cps = append(s.cps, more...)
		if err != nil {
			return 0, err
		}
	}
	n := 0
	for len(s.cps) > 0 && s.cps[0].Head.Seq <= s.sent.Seq {
		c := s.cps[0]
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

// collect moves the cursor over what the collector acknowledged, saving it
// now and then (and always when force).
func (s *shipment) collect(force bool) error {
	acked, err := s.ac.acked()
	if err != nil {
		return err
	}
	i := 0
	for i < len(s.inflight) && s.inflight[i].end <= acked {
		*s.acked = s.inflight[i].cur
		i++
	}
	if i > 0 {
		s.inflight = s.inflight[:copy(s.inflight, s.inflight[i:])]
		s.t.acked.Store(s.acked.Seq)
	}
	if force || i > 0 && time.Since(s.saved) >= 200*time.Millisecond {
		s.saved = time.Now()
		if err := s.t.saveCursor(*s.acked); err != nil {
			s.t.log.Error("saving what the collector acknowledged failed", "err", err)
		}
	}
	return nil
}
