package collect

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/trail"
)

// trailFixture is one host's real trail, made by trail.Writer in a state
// directory of the test, with its checkpoints signed by trail.Key.
type trailFixture struct {
	host   string
	lines  []string          // the trail lines, seq 1..n
	notes  map[uint64][]byte // signed checkpoint notes by the seq they cover
	signer note.Signer
	pub    string
}

// makeTrail appends n events for host, signing a checkpoint every
// cpEvery records and after the last.
func makeTrail(t testing.TB, host string, n, cpEvery int) *trailFixture {
	t.Helper()
	return makeTrailWith(t, host, n, cpEvery, nil)
}

// makeTrailWith is makeTrail with each event changed by edit first.
func makeTrailWith(t testing.TB, host string, n, cpEvery int, edit func(i int, e *event.Event)) *trailFixture {
	t.Helper()
	state := t.TempDir()
	w, err := trail.Open(state, trail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	signer, pub, _, err := trail.Key(state, host)
	if err != nil {
		t.Fatal(err)
	}
	f := &trailFixture{host: host, notes: map[uint64][]byte{}, signer: signer, pub: pub}
	for i := 1; i <= n; i++ {
		e := testEvent(host, i)
		if edit != nil {
			edit(i, e)
		}
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
		if i%cpEvery == 0 || i == n {
			cp, err := w.Checkpoint(signer, host)
			if err != nil {
				t.Fatal(err)
			}
			f.notes[cp.Head.Seq] = cp.Note
		}
	}
	err = trail.Read(state, func(line []byte) error {
		f.lines = append(f.lines, string(line))
		return nil
	})
	if err != nil || len(f.lines) != n {
		t.Fatalf("trail of %d lines, want %d: %v", len(f.lines), n, err)
	}
	return f
}

func testEvent(host string, i int) *event.Event {
	who := []string{"alice", "bob", "carol"}[i%3]
	e := &event.Event{
		Time:    event.Time{Time: time.Date(2026, 11, 25, 20, 0, 0, 0, time.UTC).Add(time.Duration(i) * time.Second)},
		Event:   event.Meta{ID: fmt.Sprintf("1795637809.%03d:%d", i%1000, i), Action: "write", Outcome: "success"},
		Gotrail: event.Gotrail{Kind: event.KindGoenv, Severity: "medium"},
		Host:    event.Host{Name: host},
		User:    event.User{Audit: &event.Ident{ID: "100" + strconv.Itoa(i%3), Name: who}, ID: "0", Name: "root"},
		File:    &event.File{Path: "/home/" + who + "/.config/go/env"},
		Message: fmt.Sprintf("%s wrote ~/.config/go/env with go (%d) – ünïcödé \"quoted\" \\ back]slash", who, i),
	}
	event.Categorize(e)
	return e
}

// writeKey puts the host's public key in dir as HOST.pub.
func (f *trailFixture) writeKey(t testing.TB, dir string) {
	t.Helper()
	if err := os.WriteFile(filepath.Join(dir, f.host+".pub"), []byte(f.pub+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
}

// recordMsg is the syslog message of trail line seq (1-based) as the sink
// sends it with payload = "trail": the wire format the verifier reads.
func (f *trailFixture) recordMsg(seq int, extraSD string) string {
	line := f.lines[seq-1]
	r, ok := trail.SplitRecord([]byte(line))
	if !ok {
		panic("not a trail line")
	}
	return fmt.Sprintf(`<85>1 2026-11-25T20:16:%02d.000Z %s gotrail - goenv.modify [gotrail@32473 id="x:%d" kind="goenv.modify" payload="trail" seq="%d" hash="%s"%s severity="medium"] %s`,
		seq%60, f.host, seq, r.Seq, r.Hash, extraSD, line)
}

// partMsgs splits record seq into k parts, as the sink does for a line
// longer than its largest message.
func (f *trailFixture) partMsgs(seq, k int) []string {
	line := f.lines[seq-1]
	r, _ := trail.SplitRecord([]byte(line))
	var out []string
	size := (len(line) + k - 1) / k
	for i := 0; i < k; i++ {
		lo, hi := min(i*size, len(line)), min((i+1)*size, len(line))
		out = append(out, fmt.Sprintf(`<85>1 2026-11-25T20:16:00.000Z %s gotrail - goenv.modify [gotrail@32473 payload="trail" seq="%d" hash="%s" part="%d/%d"] %s`,
			f.host, seq, r.Hash, i+1, k, line[lo:hi]))
	}
	return out
}

// checkpointMsg is a checkpoint as the syslog sink sends it today:
// internal/sink's RFC 5424 of sink.Checkpoint.
func (f *trailFixture) checkpointMsg(seq uint64) string {
	n := f.notes[seq]
	c, err := trail.ParseCheckpoint(n, nil)
	if err != nil {
		panic(err)
	}
	e := sink.Checkpoint(f.host, c.Head.Seq, c.Head.Hash, c.Time, n)
	return string(sink.RFC5424{}.Append(nil, e))
}

// stream is the host's messages in order: each record, and each
// checkpoint delay records after the one it covers.
func (f *trailFixture) stream(delay int) []string {
	var out []string
	var due []uint64
	for i := 1; i <= len(f.lines); i++ {
		out = append(out, f.recordMsg(i, ""))
		if _, ok := f.notes[uint64(i)]; ok {
			due = append(due, uint64(i))
		}
		for len(due) > 0 && (int(due[0])+delay <= i || i == len(f.lines)) {
			out = append(out, f.checkpointMsg(due[0]))
			due = due[1:]
		}
	}
	return out
}

// signNote signs a note of the trail's kind for the fixture's host.
func (f *trailFixture) signNote(t testing.TB, title string, seq uint64, hash string, at time.Time) []byte {
	t.Helper()
	text := fmt.Sprintf("%s\n%s\n%d\n%s\n%s\n", title, f.host, seq, hash, at.UTC().Format(time.RFC3339))
	msg, err := note.Sign(&note.Note{Text: text}, f.signer)
	if err != nil {
		t.Fatal(err)
	}
	return msg
}

// noteMsg is a signed note sent as a checkpoint message.
func (f *trailFixture) noteMsg(n []byte) string {
	c, err := trail.ParseCheckpoint(n, nil)
	if err != nil {
		panic(err)
	}
	return string(sink.RFC5424{}.Append(nil, sink.Checkpoint(f.host, c.Head.Seq, c.Head.Hash, c.Time, n)))
}

// signedAt is when the checkpoint of seq was signed, as a problem says it.
func (f *trailFixture) signedAt(t testing.TB, seq uint64) string {
	t.Helper()
	c, err := trail.ParseCheckpoint(f.notes[seq], nil)
	if err != nil {
		t.Fatal(err)
	}
	return c.Time.Format(time.RFC3339)
}

func (f *trailFixture) hashOf(seq int) string {
	r, _ := trail.SplitRecord([]byte(f.lines[seq-1]))
	return string(r.Hash)
}

// verifyLines runs the verifier over files of lines.
func verifyLines(t testing.TB, keyDir string, files ...[]string) *Report {
	t.Helper()
	return verifyWith(t, New(Options{KeyDir: keyDir}), files...)
}

// verifyWith runs c over files of lines.
func verifyWith(t testing.TB, c *Collector, files ...[]string) *Report {
	t.Helper()
	for i, lines := range files {
		if err := c.Read(fmt.Sprintf("f%d.log", i+1), strings.NewReader(strings.Join(lines, "\n")+"\n")); err != nil {
			t.Fatal(err)
		}
	}
	return c.Finish()
}

func sha256hex(s string) string {
	sum := sha256.Sum256([]byte(s))
	return hex.EncodeToString(sum[:])
}
