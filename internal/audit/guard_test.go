package audit

import (
	"fmt"
	"math/rand"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/testutil/pageend"
)

// guardKeys are keys of every length around the 8-byte word compares, with
// and without an interpretation, of the kernel's and of auditd's part.
var guardKeys = []string{"a", "ab", "abc", "key", "arch", "a0", "a1", "a1[0]", "a1[1]", "argc", "syscall", "success", "exit",
	"uid", "auid", "euid", "gid", "ses", "res", "mode", "comm", "exe", "name", "proctitle", "cwd", "msg", "op",
	"obj_uid", "inode_gid", "abcdefgh", "abcdefghi", "pid", "ppid", "type", "AUID", "UID", "X", "SADDR"}

func guardValue(r *rand.Rand) string {
	n := r.Intn(20)
	var b strings.Builder
	switch r.Intn(5) {
	case 0: // hex, with the NULs of a proctitle
		for range n {
			b.WriteByte("0123456789ABCDEF"[r.Intn(16)])
		}
		if r.Intn(3) == 0 {
			b.WriteString("00")
		}
	case 1:
		for range n % 11 {
			b.WriteByte(byte('0' + r.Intn(10)))
		}
	case 2:
		return [...]string{"(null)", "4294967295", "c000003e", "no", "yes", "0100644", "-2", "1", "0", "59"}[r.Intn(10)]
	default: // words, now and then a byte of any value
		for range n {
			c := byte('a' + r.Intn(26))
			if r.Intn(30) == 0 {
				c = byte(r.Intn(256))
			}
			b.WriteByte(c)
		}
	}
	return b.String()
}

// guardBody is a record body of a few fields: bare, quoted, left open,
// msg='…', an ENRICHED part, and a stray end.
func guardBody(r *rand.Rand) string {
	var b strings.Builder
	for i := range r.Intn(8) {
		if i > 0 || r.Intn(4) == 0 {
			b.WriteByte(' ')
		}
		b.WriteString(guardKeys[r.Intn(len(guardKeys))])
		b.WriteByte('=')
		switch r.Intn(6) {
		case 0:
			b.WriteString(`"` + guardValue(r) + `"`)
		case 1:
			if r.Intn(4) == 0 {
				b.WriteString(`msg='op=x acct="` + guardValue(r) + `" res=success'`)
			} else {
				b.WriteString(`"` + guardValue(r))
			}
		default:
			b.WriteString(guardValue(r))
		}
	}
	if r.Intn(3) == 0 {
		b.WriteByte(enrichedSep)
		for i := range r.Intn(4) {
			if i > 0 {
				b.WriteByte(' ')
			}
			b.WriteString([...]string{"AUID", "UID", "ARCH", "SYSCALL", "SADDR", "X", "EUID"}[r.Intn(7)])
			b.WriteByte('=')
			if r.Intn(2) == 0 {
				b.WriteString(`"` + guardValue(r) + `"`)
			} else {
				b.WriteString(guardValue(r))
			}
		}
	}
	if r.Intn(5) == 0 {
		b.WriteString([...]string{" ", "  ", "=", "a", "a=", `a="`, "\r"}[r.Intn(7)])
	}
	return b.String()
}

// TestFastPathsAtPageEnd: events whose every line ends where readable
// memory does are interpreted and rendered by the fast paths (remembered
// shapes, word compares, 16-byte copies) exactly as by the general ones, and
// sketched and written as text without reading past their lines. Bodies
// repeat, so that shapes are remembered and then met again.
func TestFastPathsAtPageEnd(t *testing.T) {
	pages := pageend.New(t, 4096)
	rnd := rand.New(rand.NewSource(1))
	fast := NewInterpreter(fuzzNames{}, "h", true)
	general := NewInterpreter(fuzzNames{}, "h", true)
	general.general = true
	sketch := NewInterpreter(fuzzNames{}, "h", false)
	events, mismatches := 0, 0
	emit := func(ev *Event) {
		events++
		e := fast.InterpretTemp(ev)
		got := string(event.AppendJSON(nil, e))
		sink.AppendText(nil, e)
		if want := string(event.AppendJSON(nil, general.InterpretTemp(ev))); got != want {
			if mismatches++; mismatches <= 3 {
				t.Errorf("event %d:\n got %s\nwant %s", ev.Serial, got, want)
			}
		}
		sketch.Sketch(ev)
	}
	bodies := make([]string, 200)
	for i := range bodies {
		bodies[i] = guardBody(rnd)
	}
	types := []string{"SYSCALL", "EXECVE", "PATH", "PROCTITLE", "CWD", "USER_CMD", "CONFIG_CHANGE"}
	a := NewAssembler()
	for serial := 1; serial <= 20000; serial++ {
		for range 1 + rnd.Intn(4) {
			body := bodies[rnd.Intn(len(bodies))]
			if rnd.Intn(3) == 0 {
				body = guardBody(rnd)
			}
			sep := " "
			if rnd.Intn(4) == 0 {
				sep = ""
			}
			line := fmt.Sprintf("type=%s msg=audit(1.%03d:%d):%s%s", types[rnd.Intn(len(types))], serial%1000, serial, sep, body)
			if r, err := ParseRecord(pages.At(line)); err == nil {
				a.Add(r, emit)
			}
		}
		if rnd.Intn(2) == 0 {
			if r, err := ParseRecord(pages.At(fmt.Sprintf("type=EOE msg=audit(1.%03d:%d): ", serial%1000, serial))); err == nil {
				a.Add(r, emit)
			}
		}
		// at most 2,500 lines since the last flush: fewer than the slots
		if serial%500 == 0 {
			a.Flush(emit)
		}
	}
	a.Flush(emit)
	if events < 20000 {
		t.Fatalf("%d events from 20,000 serials: the generator broke", events)
	}
}
