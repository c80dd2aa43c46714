package audit

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestSerialHoles(t *testing.T) {
	var s serials
	for _, x := range []struct {
		serial uint64
		sec    int64
	}{{10, 100}, {12, 100}, {11, 100}, {13, 100}, {16, 101}, {17, 101}, {18, 110}} {
		s.see(x.serial, x.sec)
	}
	got := s.expire()
	if len(got) != 1 || got[0].from != 14 || got[0].to != 15 || got[0].sec != 101 {
		t.Errorf("holes %+v, want 14..15 at 101", got)
	}
	if s.next != 19 || len(s.ahead) != 0 {
		t.Errorf("after expire: next %d ahead %v", s.next, s.ahead)
	}
	s.see(20, 111) // 19 missing, but not for long yet
	if got := s.expire(); len(got) != 0 {
		t.Errorf("a fresh hole expired: %+v", got)
	}
	if got := s.rest(); len(got) != 1 || got[0].from != 19 || got[0].to != 19 {
		t.Errorf("at the end of the input: %+v, want 19", got)
	}
	s.see(5, 200) // a reboot: the kernel counts again
	s.see(6, 200)
	if s.next != 7 || len(s.expire()) != 0 {
		t.Errorf("after a reboot: next %d", s.next)
	}
}

// TestGapsByNode: each node's serials are its own; auditd's DAEMON_
// records are not counted; Flush names every hole left.
func TestGapsByNode(t *testing.T) {
	var g Gaps
	for _, l := range []string{
		"node=a type=SYSCALL msg=audit(100.000:1): x=1",
		"node=b type=SYSCALL msg=audit(500.000:1): x=1",
		"node=a type=SYSCALL msg=audit(100.000:2): x=1",
		"node=a type=DAEMON_START msg=audit(100.000:9000): x=1",
		"node=b type=SYSCALL msg=audit(500.000:4): x=1",
		"node=a type=SYSCALL msg=audit(100.000:5): x=1",
	} {
		g.See(rec(t, l))
	}
	if got := g.Expire(); len(got) != 0 {
		t.Errorf("holes reported before they are old: %+v", got)
	}
	got := fmt.Sprint(g.Flush())
	if want := "[{a 3 4 100 false} {b 2 3 500 false}]"; got != want {
		t.Errorf("Flush = %s, want %s", got, want)
	}
}

// TestGapsManyNodes: with more nodes than are kept, the streams let go are
// those with no hole waiting, and the node of the last record (which See
// remembers) is looked up again after a prune, so a hole of it is kept.
func TestGapsManyNodes(t *testing.T) {
	var g Gaps
	see := func(node string, serial int) {
		g.See(rec(t, fmt.Sprintf("node=%s type=SYSCALL msg=audit(100.000:%d): x=1", node, serial)))
	}
	see("hole", 1)
	see("hole", 3) // 2 is missing
	for i := range 3 * maxNodes {
		see(fmt.Sprint("n", i), 1)
		if i == maxNodes {
			see("hole", 5) // 4 is missing; the prune just now kept this stream
		}
	}
	see("hole", 6)
	got := fmt.Sprint(g.Flush())
	if want := "[{hole 2 2 100 false} {hole 4 4 100 false}]"; got != want {
		t.Errorf("Flush = %s, want %s", got, want)
	}
}

// TestGapsAcrossRestarts: a restart of auditd leaves one or two serials of
// its own unlogged (the old daemon unregistering, the new one turning auditing on):
// in testdata/restarts.log, five runs of auditd -n recorded one after
// another, each hole is marked a restart's and no more than one leaves; a
// longer hole is marked but more than that; a hole before the DAEMON_END,
// or not right after it, is no restart's.
func TestGapsAcrossRestarts(t *testing.T) {
	data, err := os.ReadFile(filepath.Join("testdata", "restarts.log"))
	if err != nil {
		t.Fatal(err)
	}
	var g Gaps
	for _, l := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		g.See(rec(t, l))
	}
	got := g.Flush()
	if len(got) != strings.Count(string(data), "DAEMON_END")-1 {
		t.Errorf("%d holes for %d restarts: %+v", len(got), strings.Count(string(data), "DAEMON_END")-1, got)
	}
	for _, h := range got {
		if !h.OnlyRestart() {
			t.Errorf("hole %+v in testdata/restarts.log is more than a restart leaves", h)
		}
	}

	for _, tc := range []struct {
		name  string
		lines []string
		want  string
	}{
		{"a restart and three events lost while auditd was down", []string{
			"type=SYSCALL msg=audit(100.000:1): x=1",
			"type=DAEMON_END msg=audit(100.000:700): op=terminate",
			"type=DAEMON_START msg=audit(101.000:900): op=start",
			"type=SYSCALL msg=audit(101.000:7): x=1",
		}, "[{ 2 6 101 true}]"},
		{"a hole before auditd stops", []string{
			"type=SYSCALL msg=audit(100.000:1): x=1",
			"type=SYSCALL msg=audit(100.000:3): x=1",
			"type=DAEMON_END msg=audit(100.000:700): op=terminate",
			"type=DAEMON_START msg=audit(101.000:900): op=start",
			"type=SYSCALL msg=audit(101.000:5): x=1",
		}, "[{ 2 2 100 false} { 4 4 101 true}]"},
		{"a restart whose unregistration was logged (audit=1 at boot), and a loss later", []string{
			"type=SYSCALL msg=audit(100.000:1): x=1",
			"type=DAEMON_END msg=audit(100.000:700): op=terminate",
			"type=CONFIG_CHANGE msg=audit(100.000:2): op=set audit_pid=0 old=7",
			"type=DAEMON_START msg=audit(101.000:900): op=start",
			"type=SYSCALL msg=audit(101.000:3): x=1",
			"type=SYSCALL msg=audit(101.000:5): x=1",
		}, "[{ 4 4 101 false}]"},
		{"only the first hole after a stop", []string{
			"type=SYSCALL msg=audit(100.000:1): x=1",
			"type=DAEMON_END msg=audit(100.000:700): op=terminate",
			"type=SYSCALL msg=audit(101.000:3): x=1",
			"type=SYSCALL msg=audit(101.000:5): x=1",
		}, "[{ 2 2 101 true} { 4 4 101 false}]"},
	} {
		var g Gaps
		for _, l := range tc.lines {
			g.See(rec(t, l))
		}
		if got := fmt.Sprint(g.Flush()); got != tc.want {
			t.Errorf("%s: gaps %s, want %s", tc.name, got, tc.want)
		}
	}
}

// FuzzGapsRestarts: whatever the serials and DAEMON_ENDs, the holes found
// are ordered, do not overlap, and are those found without the
// DAEMON_ENDs: a stop marks a hole, it never hides one; the stops kept
// stay bounded.
func FuzzGapsRestarts(f *testing.F) {
	f.Add([]byte{1, 0, 2, 0, 0xff, 5, 1, 9, 9})
	f.Add([]byte{10, 0, 0xff, 0xff, 0xff, 13, 20})
	f.Fuzz(func(t *testing.T, data []byte) {
		var with, without Gaps
		serial, sec := uint64(1)<<32, int64(100) // far from 0 and from the top
		for _, b := range data {
			if b == 0xff {
				with.See(rec(t, "type=DAEMON_END msg=audit(100.000:7): op=terminate"))
				continue
			}
			serial, sec = serial+uint64(b&7)-1, sec+int64(b>>5)
			r := rec(t, fmt.Sprintf("type=SYSCALL msg=audit(%d.000:%d): x=1", sec, serial))
			with.See(r)
			without.See(r)
		}
		a, b := with.Flush(), without.Flush()
		if len(a) != len(b) {
			t.Fatalf("with DAEMON_ENDs %+v, without %+v", a, b)
		}
		for i := range a {
			if a[i].From > a[i].To || i > 0 && a[i].From <= a[i-1].To {
				t.Fatalf("gaps out of order or overlapping: %+v", a)
			}
			if a[i].From != b[i].From || a[i].To != b[i].To || b[i].Restart {
				t.Fatalf("with DAEMON_ENDs %+v, without %+v", a, b)
			}
		}
		for _, s := range with.nodes {
			if len(s.stops) > maxStops {
				t.Fatalf("%d stops kept", len(s.stops))
			}
		}
	})
}

// TestMarksOfThisRun: a node only resumed, that sent nothing this run, is
// not handed on again; one that did is, from its highest serial.
func TestMarksOfThisRun(t *testing.T) {
	var g Gaps
	g.Resume([]SerialMark{{Node: "gone", High: 50}, {Node: "a", High: 10}})
	g.See(rec(t, "node=a type=SYSCALL msg=audit(101.000:11): x=1"))
	g.See(rec(t, "node=a type=SYSCALL msg=audit(101.000:12): x=1"))
	if got := fmt.Sprint(g.Marks()); got != "[{a 12 []}]" {
		t.Errorf("Marks() = %s, want a's only", got)
	}
	if got := g.Flush(); len(got) != 0 {
		t.Errorf("resumed at 10, then 11 and 12: gaps %+v", got)
	}
}
