package sink

import (
	"bufio"
	"bytes"
	"encoding/json"
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
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/trail"
)

// collector is a loopback TCP syslog receiver (octet-counted frames) that
// keeps every message in arrival order.
type collector struct {
	ln   net.Listener
	mu   sync.Mutex
	msgs []string
}

func listen(t *testing.T, addr string) *collector {
	t.Helper()
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	c := &collector{ln: ln}
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			go c.read(conn)
		}
	}()
	t.Cleanup(func() { ln.Close() })
	return c
}

func (c *collector) read(conn net.Conn) {
	defer conn.Close()
	br := bufio.NewReader(conn)
	for {
		lenStr, err := br.ReadString(' ')
		if err != nil {
			return
		}
		n, err := strconv.Atoi(strings.TrimSpace(lenStr))
		if err != nil {
			return
		}
		msg := make([]byte, n)
		if _, err := io.ReadFull(br, msg); err != nil {
			return
		}
		c.mu.Lock()
		c.msgs = append(c.msgs, string(msg))
		c.mu.Unlock()
	}
}

func (c *collector) messages() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.msgs...)
}

// waitFor polls until cond holds; the sink runs on real sockets, so the
// wait is bounded, not timed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out waiting for %s", what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// appendEvents adds n events to the trail of dir, a checkpoint after
// every 7th, and returns the lines of the whole trail.
func appendEvents(t *testing.T, dir string, from, n int, msgLen int) {
	t.Helper()
	w, err := trail.Open(dir, trail.Options{MaxSegment: 8 << 10})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	signer, _, _, err := trail.Key(dir, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	for i := from; i < from+n; i++ {
		e := &event.Event{
			Time:    event.Time{Time: time.Date(2026, 12, 1, 10, 0, i%60, 0, time.UTC)},
			Event:   event.Meta{ID: fmt.Sprintf("1795637809.006:%d", i), Action: "write", Outcome: "success"},
			Gotrail: event.Gotrail{Kind: event.KindProfile, Severity: "high"},
			Host:    event.Host{Name: "web-01"},
			File:    &event.File{Path: "/etc/profile"},
			Message: fmt.Sprintf("root wrote /etc/profile 中文 %d %s", i, strings.Repeat("é", msgLen)),
		}
		event.Categorize(e)
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
		if i%7 == 0 {
			if _, err := w.Checkpoint(signer, "web-01"); err != nil {
				t.Fatal(err)
			}
		}
	}
}

func trailLines(t *testing.T, dir string) []string {
	t.Helper()
	var out []string
	if err := trail.Read(dir, func(l []byte) error { out = append(out, string(l)); return nil }); err != nil {
		t.Fatal(err)
	}
	return out
}

// reassemble takes the collector's messages apart into trail lines (parts
// joined) and checkpoint seqs, checking that each checkpoint comes after
// the record it covers.
func reassemble(t *testing.T, msgs []string) (lines []string, cps int) {
	t.Helper()
	var part strings.Builder
	last := uint64(0)
	for _, m := range msgs {
		sd, msg, ok := strings.Cut(m, "] ")
		if !ok {
			t.Fatalf("no structured data in %q", m)
		}
		if strings.Contains(sd, " trail.checkpoint [") {
			seq, _ := strconv.ParseUint(param(sd, "seq"), 10, 64)
			if seq > last {
				t.Fatalf("checkpoint of seq %d came before its record (last %d)", seq, last)
			}
			cps++
			continue
		}
		if param(sd, "payload") != "trail" {
			t.Fatalf("not a trail message: %q", m)
		}
		part.WriteString(msg)
		if p := param(sd, "part"); p != "" {
			i, k, _ := strings.Cut(p, "/")
			if i != k {
				continue
			}
		}
		lines = append(lines, part.String())
		last, _ = strconv.ParseUint(param(sd, "seq"), 10, 64)
		part.Reset()
	}
	return lines, cps
}

func param(sd, name string) string {
	_, v, ok := strings.Cut(sd, " "+name+`="`)
	if !ok {
		return ""
	}
	v, _, _ = strings.Cut(v, `"`)
	return v
}

func newTrailSink(t *testing.T, dir, addr string, max int) *TrailSink {
	t.Helper()
	return newTrailSinkProbation(t, dir, addr, max, 50*time.Millisecond)
}

// newTrailSinkProbation starts a sink that counts what a connection
// carried as delivered once it has stayed up for probation.
func newTrailSinkProbation(t *testing.T, dir, addr string, max int, probation time.Duration) *TrailSink {
	t.Helper()
	s, err := NewTrailSink(config.Sink{Type: "syslog", Address: "tcp://" + addr, Payload: "trail", MaxMessage: max}, dir, slog.New(slog.NewTextHandler(io.Discard, nil)))
	if err != nil {
		t.Fatal(err)
	}
	s.Probation = probation
	s.Start()
	return s
}

func TestTrailSinkShipsTheTrailWholeInOrder(t *testing.T) {
	dir := t.TempDir()
	appendEvents(t, dir, 1, 40, 0)
	appendEvents(t, dir, 41, 3, 3000) // records of ~6 kB: split at 2048
	col := listen(t, "127.0.0.1:0")
	s := newTrailSink(t, dir, col.ln.Addr().String(), 2048)
	appendEvents(t, dir, 44, 30, 0) // written while it ships
	s.Notify(73)
	want := trailLines(t, dir)
	waitFor(t, "every record acknowledged", func() bool { return s.Stats().Acked == 73 })
	s.Close(5 * time.Second)
	lines, cps := reassemble(t, col.messages())
	if strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the collector's records differ from the trail: %d lines, want %d", len(lines), len(want))
	}
	if cps != 73/7 {
		t.Errorf("%d checkpoints, want %d", cps, 73/7)
	}
	for _, m := range col.messages() {
		if len(m) > 2048 {
			t.Errorf("a message of %d bytes, over max_message 2048", len(m))
		}
	}
	if st := s.Stats(); st.Behind != 0 || st.LastError != "" {
		t.Errorf("stats after all acknowledged: %+v", st)
	}
}

// Down at first, restarted in the middle: every record reaches the
// collector once, in order, whoever ran when.
func TestTrailSinkResumesWhereAcknowledged(t *testing.T) {
	dir := t.TempDir()
	appendEvents(t, dir, 1, 20, 0)
	ln, _ := net.Listen("tcp", "127.0.0.1:0")
	addr := ln.Addr().String()
	ln.Close() // nobody there yet
	s := newTrailSink(t, dir, addr, 0)
	waitFor(t, "the sink to find the collector away", func() bool { return s.Stats().LastError != "" })
	if st := s.Stats(); st.Behind != 20 {
		t.Errorf("behind %d records while away, want 20", st.Behind)
	}
	col := listen(t, addr)
	waitFor(t, "the first 20 acknowledged", func() bool { return s.Stats().Acked == 20 })
	s.Close(5 * time.Second)

	appendEvents(t, dir, 21, 25, 0)
	s = newTrailSink(t, dir, addr, 0) // gotrail restarted
	waitFor(t, "all 45 acknowledged", func() bool { return s.Stats().Acked == 45 })
	s.Close(5 * time.Second)
	lines, _ := reassemble(t, col.messages())
	if want := trailLines(t, dir); strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("collector has %d records, want the trail's %d, each once", len(lines), len(want))
	}
	cur, err := os.ReadFile(filepath.Join(dir, "sinks", "trail-tcp___"+fileSafe(addr)+".json"))
	if err != nil || !bytes.Contains(cur, []byte(`"seq":45`)) {
		t.Errorf("cursor %s (%v), want seq 45", cur, err)
	}
}

func TestTrailMessagesSplitOnUTF8(t *testing.T) {
	line := `{"@timestamp":"2026-12-01T10:00:00.000Z","host":{"name":"h"},"gotrail":{"kind":"go.exec","severity":"info"},"message":"` +
		strings.Repeat("中", 3000) + `","trail":{"seq":9,"prev":"` + strings.Repeat("0", 64) + `","hash":"` + strings.Repeat("a", 64) + `"}}`
	for _, max := range []int{2048, 2049, 2050, 4096, 64 << 10} {
		msgs, err := RFC5424{}.TrailMessages(trail.Record{Line: []byte(line), Seq: 9, Hash: strings.Repeat("a", 64)}, max)
		if err != nil {
			t.Fatal(err)
		}
		var joined strings.Builder
		for i, m := range msgs {
			if len(m) > max {
				t.Errorf("max %d: part %d is %d bytes", max, i+1, len(m))
			}
			sd, msg, _ := strings.Cut(m2s(m), "] ")
			if len(msgs) > 1 && param(sd, "part") != fmt.Sprintf("%d/%d", i+1, len(msgs)) {
				t.Errorf("max %d: part %d says %q", max, i+1, param(sd, "part"))
			}
			if !strings.HasPrefix(m2s(m), "<86>1 2026-12-01T10:00:00.000Z h gotrail - go.exec [gotrail@32473 payload=\"trail\" seq=\"9\" hash=\"aaa") {
				t.Errorf("max %d: header %q", max, sd)
			}
			if !utf8Valid(msg) {
				t.Errorf("max %d: part %d cuts a UTF-8 sequence", max, i+1)
			}
			joined.WriteString(msg)
		}
		if joined.String() != line {
			t.Errorf("max %d: the parts do not join to the line", max)
		}
	}
}

func m2s(b []byte) string { return string(b) }

func utf8Valid(s string) bool { return strings.ToValidUTF8(s, "\uFFFD") == s }

// dropFirst makes the collector accept its first n connections and close
// them unread, as rsyslog does with a client certificate it refuses after
// a TLS 1.3 handshake, or past its maxSessions.
func (c *collector) dropFirst(n int) *atomic.Int32 {
	var conns atomic.Int32
	ln := c.ln
	c.ln = nil
	go func() {
		for {
			conn, err := ln.Accept()
			if err != nil {
				return
			}
			if conns.Add(1) <= int32(n) {
				time.Sleep(5 * time.Millisecond) // the kernel acknowledges what comes meanwhile
				conn.Close()
				continue
			}
			go c.read(conn)
		}
	}()
	return &conns
}

// listenRaw is a collector whose connections the test decides about.
func listenRaw(t *testing.T) *collector {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	return &collector{ln: ln}
}

// What a collector acknowledged and then dropped unread is sent again:
// nothing lost, and nothing counted as delivered before it was kept.
func TestTrailSinkResendsWhatADroppedConnectionHad(t *testing.T) {
	dir := t.TempDir()
	appendEvents(t, dir, 1, 300, 0)
	col := listenRaw(t)
	addr := col.ln.Addr().String()
	conns := col.dropFirst(4)
	// a probation well past the collector's 5 ms before it drops: a
	// loaded host that is slow to deliver the reset must not make a
	// dropped connection look delivered
	s := newTrailSinkProbation(t, dir, addr, 0, time.Second)
	waitFor(t, "the dropped connections", func() bool { return conns.Load() >= 4 })
	if st := s.Stats(); st.Acked != 0 {
		t.Fatalf("%d records counted as delivered by connections the collector dropped unread", st.Acked)
	}
	waitFor(t, "all 300 acknowledged", func() bool { return s.Stats().Acked == 300 })
	s.Close(5 * time.Second)
	lines, _ := reassemble(t, col.messages())
	if want := trailLines(t, dir); strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the collector kept %d records, want the trail's %d once each", len(lines), len(want))
	}
}

// A broken line of the checkpoints file or of a segment is passed, named
// in the log, and everything after it still goes out, without a storm of
// reconnections.
func TestTrailSinkGoesOnAfterABrokenLine(t *testing.T) {
	dir := t.TempDir()
	appendEvents(t, dir, 1, 20, 0)
	cps := filepath.Join(dir, "trail", "checkpoints")
	data, _ := os.ReadFile(cps)
	os.WriteFile(cps, append([]byte("bm90IGEgbm90ZQ==\n"), data...), 0o600) // "not a note"
	appendEvents(t, dir, 21, 10, 0)
	segs, _ := filepath.Glob(filepath.Join(dir, "trail", "trail-*.jsonl"))
	if len(segs) < 2 {
		t.Fatalf("want several segments, have %v", segs)
	}
	f, _ := os.OpenFile(segs[0], os.O_WRONLY|os.O_APPEND, 0) // between two records
	f.WriteString("{\"not\":\"a record\"}\n")
	f.Close()
	col := listenRaw(t)
	addr := col.ln.Addr().String()
	conns := col.dropFirst(0)
	s := newTrailSink(t, dir, addr, 0)
	waitFor(t, "all 30 acknowledged", func() bool { return s.Stats().Acked == 30 })
	s.Close(5 * time.Second)
	lines, n := reassemble(t, col.messages())
	if len(lines) != 30 || n != 30/7 {
		t.Errorf("collector has %d records and %d checkpoints, want 30 and %d", len(lines), n, 30/7)
	}
	if c := conns.Load(); c != 1 {
		t.Errorf("%d connections, want 1", c)
	}
}

// A line a crash cut short, read by the sink before a Writer repaired it
// and wrote the record again, does not reach the collector glued to the
// new one: the record goes out as the trail holds it.
func TestTrailSinkReadsARepairedLineAgain(t *testing.T) {
	dir := t.TempDir()
	appendEvents(t, dir, 1, 5, 0)
	other := t.TempDir()
	appendEvents(t, other, 1, 6, 50) // a record 6 as a crashed writer began it
	theirs := trailLines(t, other)
	segs, _ := filepath.Glob(filepath.Join(dir, "trail", "trail-*.jsonl"))
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(theirs[5][:len(theirs[5])/2])
	f.Close()
	col := listen(t, "127.0.0.1:0")
	s := newTrailSink(t, dir, col.ln.Addr().String(), 0)
	waitFor(t, "the first 5 acknowledged", func() bool { return s.Stats().Acked == 5 })
	appendEvents(t, dir, 6, 2, 0) // Open cuts the half line; record 6 is written again
	waitFor(t, "all 7 acknowledged", func() bool { return s.Stats().Acked == 7 })
	s.Close(5 * time.Second)
	lines, _ := reassemble(t, col.messages())
	if want := trailLines(t, dir); strings.Join(lines, "\n") != strings.Join(want, "\n") {
		t.Fatalf("the collector's records differ from the trail's:\n got %.200q\nwant %.200q", lines, want)
	}
}

// FuzzTrailMessages: whatever a trail line holds, its messages are each at
// most max bytes, their parts numbered 1..K, and their MSGs joined give the
// line back exactly.
func FuzzTrailMessages(f *testing.F) {
	f.Add(`{"@timestamp":"2026-12-01T10:00:00.000Z","host":{"name":"h"},"gotrail":{"kind":"go.exec","severity":"info"},"message":"中文 ] \" \\ \u202e"}`, 2048)
	f.Add(`{"@timestamp":"x y","host":{"name":"a b]"},"gotrail":{"kind":"k\"","severity":"high"},"message":"`+strings.Repeat("\xff\xfe", 3000)+`"}`, 2100)
	f.Fuzz(func(t *testing.T, body string, max int) {
		max = 2048 + abs(max)%(70<<10)
		var h recordHead
		if json.Unmarshal([]byte(body), &h) != nil || !strings.HasSuffix(body, "}") {
			return
		}
		line := body[:len(body)-1] + `,"trail":{"seq":7,"prev":"` + strings.Repeat("0", 64) + `","hash":"` + strings.Repeat("b", 64) + `"}}`
		msgs, err := RFC5424{}.TrailMessages(trail.Record{Line: []byte(line), Seq: 7, Hash: strings.Repeat("b", 64)}, max)
		if err != nil {
			return // a header that leaves no room: refused, not sent cut
		}
		var joined strings.Builder
		for i, m := range msgs {
			if len(m) > max {
				t.Fatalf("max %d: part %d is %d bytes", max, i+1, len(m))
			}
			sd, msg, ok := strings.Cut(string(m), `"] `)
			if !ok {
				t.Fatalf("no end of the structured data in %q", m)
			}
			if len(msgs) > 1 && !strings.HasSuffix(sd, fmt.Sprintf(`part="%d/%d`, i+1, len(msgs))) {
				t.Fatalf("part %d of %d says %q", i+1, len(msgs), sd)
			}
			joined.WriteString(msg)
		}
		if joined.String() != line {
			t.Fatalf("the parts do not join to the line")
		}
	})
}

func abs(n int) int {
	if n < 0 {
		return -n
	}
	return n
}
