package trail

import (
	"bytes"
	"crypto/rand"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gotrail/gotrail/internal/event"
)

func sampleEvent(i int) *event.Event {
	return &event.Event{
		Time:    event.Time{Time: time.Date(2026, 11, 25, 20, 0, i%60, 0, time.UTC)},
		Event:   event.Meta{ID: fmt.Sprintf("1795637809.006:%d", i), Action: "write"},
		Gotrail: event.Gotrail{Kind: event.KindProfile},
		Host:    event.Host{Name: "web-01"},
		User:    event.User{Audit: &event.Ident{ID: "1001", Name: "alice"}, ID: "0", Name: "root"},
		File:    &event.File{Path: "/etc/profile"},
		Message: fmt.Sprintf("alice (as root) wrote /etc/profile with vim, \u00e9\x1b %d", i),
	}
}

type clock struct{ t time.Time }

func (c *clock) now() time.Time { return c.t }

// writeTrail appends n events over several segments and days, with a
// checkpoint after every 10.
func writeTrail(t *testing.T, dir string, n int) (vkey string) {
	t.Helper()
	clk := &clock{time.Date(2026, 11, 25, 23, 59, 0, 0, time.UTC)}
	w, err := Open(dir, Options{MaxSegment: 4096, Now: clk.now})
	if err != nil {
		t.Fatal(err)
	}
	signer, vkey, created, err := Key(dir, "web-01")
	if err != nil || !created {
		t.Fatalf("Key: %v, created %v", err, created)
	}
	for i := 1; i <= n; i++ {
		if i == n/2 {
			clk.t = clk.t.Add(2 * time.Minute) // the next day: a new segment
		}
		e := sampleEvent(i)
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
		if e.Trail == nil || e.Trail.Seq != uint64(i) {
			t.Fatalf("event %d got trail %+v", i, e.Trail)
		}
		if i%10 == 0 {
			if _, err := w.Checkpoint(signer, "web-01"); err != nil {
				t.Fatal(err)
			}
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return vkey
}

func verifier(t *testing.T, vkey string) note.Verifier {
	t.Helper()
	v, err := note.NewVerifier(vkey)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

func TestAppendVerifyRead(t *testing.T) {
	dir := t.TempDir()
	vkey := writeTrail(t, dir, 45)
	rep, err := Verify(dir, VerifyOptions{Verifier: verifier(t, vkey)})
	if err != nil || rep.Problem != nil {
		t.Fatalf("Verify: %v, %v", err, rep.Problem)
	}
	if rep.Records != 45 || rep.Checkpoints != 4 || rep.Segments < 3 || !rep.Signed {
		t.Errorf("report %+v", rep)
	}
	n := 0
	err = Read(dir, func(line []byte) error {
		n++
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		if e.Trail == nil || e.Trail.Seq != uint64(n) || e.Message != sampleEvent(n).Message {
			return fmt.Errorf("line %d: %+v", n, e.Trail)
		}
		return nil
	})
	if err != nil || n != 45 {
		t.Fatalf("Read: %v after %d lines", err, n)
	}
}

func TestReopenContinuesTheChain(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 12)
	// a crash in the middle of a write leaves a partial last line
	segs, _ := segments(filepath.Join(dir, dirName))
	f, _ := os.OpenFile(segs[len(segs)-1], os.O_WRONLY|os.O_APPEND, 0)
	f.WriteString(`{"@timestamp":"2026-11-25T20:00:00.000Z","event":{"id":"half`)
	f.Close()
	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	if w.Head().Seq != 12 {
		t.Fatalf("head after reopen = %+v", w.Head())
	}
	if err := w.Append(sampleEvent(13)); err != nil {
		t.Fatal(err)
	}
	w.Close()
	rep, err := Verify(dir, VerifyOptions{})
	if err != nil || rep.Problem != nil || rep.Records != 13 {
		t.Fatalf("Verify after reopen: %v, %+v", err, rep)
	}
}

// lines returns the trail's lines with their segment file.
func trailLines(t *testing.T, dir string) (files []string, lines [][]byte) {
	segs, _ := segments(filepath.Join(dir, dirName))
	for _, s := range segs {
		data, _ := os.ReadFile(s)
		for _, l := range bytes.SplitAfter(data, []byte("\n")) {
			if len(l) > 0 {
				files = append(files, s)
				lines = append(lines, l)
			}
		}
	}
	return files, lines
}

// rewrite puts lines back into their segment files; a segment left with
// no line is emptied.
func rewrite(t *testing.T, all, files []string, lines [][]byte) {
	t.Helper()
	content := map[string][]byte{}
	for _, f := range all {
		content[f] = nil
	}
	for i, l := range lines {
		content[files[i]] = append(content[files[i]], l...)
	}
	for f, c := range content {
		if err := os.WriteFile(f, c, 0o600); err != nil {
			t.Fatal(err)
		}
	}
}

func TestVerifyNamesTheFirstBadRecord(t *testing.T) {
	tests := []struct {
		name   string
		tamper func(files []string, lines [][]byte) ([]string, [][]byte)
		want   string
	}{
		{"one byte changed", func(f []string, l [][]byte) ([]string, [][]byte) {
			l[6] = bytes.Replace(l[6], []byte("alice (as root)"), []byte("alicf (as root)"), 1)
			return f, l
		}, "record seq 7 (trail-20261125-000000000001.jsonl:7) was modified"},
		{"a line removed", func(f []string, l [][]byte) ([]string, [][]byte) {
			return append(f[:4:4], f[5:]...), append(l[:4:4], l[5:]...)
		}, "record seq 5 is missing: removed or reordered (the record at trail-20261125-000000000001.jsonl:5 has seq 6)"},
		{"two lines swapped", func(f []string, l [][]byte) ([]string, [][]byte) {
			l[2], l[3] = l[3], l[2]
			return f, l
		}, "record seq 3 is missing: removed or reordered (the record at trail-20261125-000000000001.jsonl:3 has seq 4)"},
		{"the end cut off", func(f []string, l [][]byte) ([]string, [][]byte) {
			return f[:33], l[:33]
		}, "the trail ends at seq 33 but the checkpoint signed at 2026-11-26T00:01:00Z covers seq 40: records after seq 33 were removed (truncated)"},
		{"a line cut in the middle", func(f []string, l [][]byte) ([]string, [][]byte) {
			l[9] = append(l[9][:50:50], '\n')
			return f, l
		}, "record after seq 9"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			vkey := writeTrail(t, dir, 45)
			all, lines := trailLines(t, dir)
			files, lines := tt.tamper(append([]string(nil), all...), lines)
			rewrite(t, all, files, lines)
			rep, err := Verify(dir, VerifyOptions{Verifier: verifier(t, vkey)})
			if err != nil {
				t.Fatal(err)
			}
			if rep.Problem == nil || !strings.Contains(rep.Problem.Error(), tt.want) {
				t.Errorf("Problem = %v\nwant it to contain %q", rep.Problem, tt.want)
			}
		})
	}
}

// TestRewrittenHistory: an attacker with root rewrites a record and
// recomputes every hash after it. The chain is whole again; the signed
// checkpoint held by the public key kept elsewhere is what catches it, and
// a checkpoint re-signed with a new key does not verify.
func TestRewrittenHistory(t *testing.T) {
	dir := t.TempDir()
	vkey := writeTrail(t, dir, 25)
	var events []*event.Event
	Read(dir, func(line []byte) error {
		var e event.Event
		json.Unmarshal(line, &e)
		events = append(events, &e)
		return nil
	})
	events[4].Message = "nothing happened"
	os.RemoveAll(filepath.Join(dir, dirName))
	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range events {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	// the attacker signs with a key of their own
	skey, _, _ := note.GenerateKey(rand.Reader, "gotrail-web-01")
	forged, _ := note.NewSigner(skey)
	w.Checkpoint(forged, "web-01")
	w.Close()
	if rep, err := Verify(dir, VerifyOptions{}); err != nil || rep.Problem != nil {
		t.Fatalf("without the kept key the rewrite is invisible, as expected: %v %v", err, rep.Problem)
	}
	rep, err := Verify(dir, VerifyOptions{Verifier: verifier(t, vkey)})
	if err != nil || rep.Problem == nil || !strings.Contains(rep.Problem.Error(), "checkpoint signature") {
		t.Errorf("Verify with the kept key: %v, %v; want a checkpoint signature problem", err, rep.Problem)
	}
}

func TestPrune(t *testing.T) {
	dir := t.TempDir()
	vkey := writeTrail(t, dir, 45)
	segsBefore, _ := segments(filepath.Join(dir, dirName))
	day := 24 * time.Hour
	r := Retention{Default: 180 * day, ByKind: map[string]time.Duration{event.KindInstall: 0}}

	signer, _, _, err := Key(dir, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	// nothing is old enough yet
	if n, a, err := Prune(dir, r, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), signer, "web-01"); err != nil || n != 0 || a != nil {
		t.Fatalf("early Prune = %d, %v, %v", n, a, err)
	}
	n, anchor, err := Prune(dir, r, time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), signer, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	if anchor == nil || !anchor.IsAnchor() || anchor.Head.Seq == 0 {
		t.Fatalf("Prune's anchor: %+v", anchor)
	}
	if n != len(segsBefore)-1 {
		t.Errorf("pruned %d segments of %d, want all but the current one", n, len(segsBefore))
	}
	rep, err := Verify(dir, VerifyOptions{Verifier: verifier(t, vkey)})
	if err != nil || rep.Problem != nil || rep.Pruned == 0 || rep.Head.Seq != 45 {
		t.Fatalf("Verify after pruning: %v %v %+v", err, rep.Problem, rep)
	}
	// the anchor held elsewhere vouches for where the chain starts
	held := []*Checkpoint{anchor}
	if rep, err := Verify(dir, VerifyOptions{Verifier: verifier(t, vkey), Held: held}); err != nil || rep.Problem != nil || !rep.AnchorHeld {
		t.Fatalf("Verify with the anchor held elsewhere: %v %v %+v", err, rep.Problem, rep)
	}
	// a writer reopened after pruning continues the chain
	w, err := Open(dir, Options{})
	if err != nil {
		t.Fatal(err)
	}
	w.Append(sampleEvent(46))
	w.Checkpoint(signer, "web-01")
	w.Close()
	if rep, _ := Verify(dir, VerifyOptions{}); rep.Problem != nil || rep.Head.Seq != 46 {
		t.Errorf("after append: %+v", rep)
	}
}

func TestPruneKeepsForeverKinds(t *testing.T) {
	dir := t.TempDir()
	clk := &clock{time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)}
	w, _ := Open(dir, Options{MaxSegment: 2048, Now: clk.now})
	for i := 1; i <= 30; i++ {
		e := sampleEvent(i)
		e.Time = event.Time{Time: clk.t}
		if i == 12 {
			e.Gotrail.Kind = event.KindInstall // kept for good
		}
		w.Append(e)
	}
	signer, _, _, err := Key(dir, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	w.Checkpoint(signer, "web-01")
	w.Close()
	segs, _ := segments(filepath.Join(dir, dirName))
	r := Retention{Default: 24 * time.Hour, ByKind: map[string]time.Duration{event.KindInstall: 0}}
	n, _, err := Prune(dir, r, time.Date(2027, 1, 1, 0, 0, 0, 0, time.UTC), signer, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	after, _ := segments(filepath.Join(dir, dirName))
	if n == 0 || len(after) != len(segs)-n {
		t.Fatalf("pruned %d of %d segments, %d left", n, len(segs), len(after))
	}
	found := false
	Read(dir, func(line []byte) error {
		if bytes.Contains(line, []byte(`"kind":"toolchain.install"`)) {
			found = true
		}
		return nil
	})
	if !found {
		t.Error("the install record, kept for good, was pruned")
	}
	if rep, _ := Verify(dir, VerifyOptions{}); rep.Problem != nil {
		t.Errorf("Verify: %v", rep.Problem)
	}
}

// What a collector has not acknowledged is kept past its retention.
func TestPruneKeepsWhatIsNotShipped(t *testing.T) {
	dir := t.TempDir()
	writeTrail(t, dir, 45)
	segs, _ := segments(filepath.Join(dir, dirName))
	signer, _, _, err := Key(dir, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	second, _ := segmentFirst(segs[1])
	r := Retention{Default: time.Hour, Shipped: func() uint64 { return second - 1 }}
	n, anchor, err := Prune(dir, r, time.Date(2027, 6, 1, 0, 0, 0, 0, time.UTC), signer, "web-01")
	if err != nil || n != 1 || anchor == nil || anchor.Head.Seq != second-1 {
		t.Fatalf("Prune with records up to %d shipped = %d, %+v, %v; want the first segment only", second-1, n, anchor, err)
	}
}
