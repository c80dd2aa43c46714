package audit

import (
	"fmt"
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
	if want := "[{a 3 4 100} {b 2 3 500}]"; got != want {
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
	if want := "[{hole 2 2 100} {hole 4 4 100}]"; got != want {
		t.Errorf("Flush = %s, want %s", got, want)
	}
}
