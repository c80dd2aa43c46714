package audit

import (
	"fmt"
	"os"
	"slices"
	"strings"
	"testing"
	"time"
)

func rec(t testing.TB, line string) Record {
	t.Helper()
	r, err := ParseRecord(line)
	if err != nil {
		t.Fatalf("ParseRecord(%q): %v", line, err)
	}
	return r
}

// summary renders emitted events as "serial:TYPE,TYPE" for comparison.
func summary(evs []*Event) string {
	var parts []string
	for _, e := range evs {
		var types []string
		for _, r := range e.Records {
			types = append(types, r.Type)
		}
		s := fmt.Sprintf("%d:%s", e.Serial, strings.Join(types, ","))
		if e.Evicted {
			s += "(evicted)"
		}
		if e.Truncated {
			s += "(truncated)"
		}
		if e.Collision {
			s += "(collision)"
		}
		parts = append(parts, s)
	}
	return strings.Join(parts, " ")
}

func TestAssembler(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		asm   *Assembler
		want  string // after Flush
		early string // emitted before Flush
	}{
		{
			name: "proctitle completes",
			lines: []string{
				"type=SYSCALL msg=audit(10.000:1): a=1",
				"type=CWD msg=audit(10.000:1): cwd=\"/\"",
				"type=PROCTITLE msg=audit(10.000:1): proctitle=6C73",
			},
			early: "1:SYSCALL,CWD,PROCTITLE",
			want:  "1:SYSCALL,CWD,PROCTITLE",
		},
		{
			name: "interleaved events stay apart",
			lines: []string{
				"type=SYSCALL msg=audit(10.000:1): a=1",
				"type=SYSCALL msg=audit(10.000:2): a=1",
				"type=PATH msg=audit(10.000:1): item=0",
				"type=PATH msg=audit(10.000:2): item=0",
				"type=PROCTITLE msg=audit(10.000:2): proctitle=6C73",
				"type=PROCTITLE msg=audit(10.000:1): proctitle=6C73",
			},
			early: "2:SYSCALL,PATH,PROCTITLE 1:SYSCALL,PATH,PROCTITLE",
			want:  "2:SYSCALL,PATH,PROCTITLE 1:SYSCALL,PATH,PROCTITLE",
		},
		{
			name: "eoe completes and is not kept",
			lines: []string{
				"type=CONFIG_CHANGE msg=audit(10.000:3): op=add_rule",
				"type=SYSCALL msg=audit(10.000:3): a=1",
				"type=EOE msg=audit(10.000:3): ",
			},
			early: "3:CONFIG_CHANGE,SYSCALL",
			want:  "3:CONFIG_CHANGE,SYSCALL",
		},
		{
			name: "user messages stand alone",
			lines: []string{
				"type=SYSCALL msg=audit(10.000:4): a=1",
				"type=USER_START msg=audit(10.000:5): pid=1",
				"type=CRED_ACQ msg=audit(10.000:6): pid=1",
			},
			early: "5:USER_START 6:CRED_ACQ",
			want:  "5:USER_START 6:CRED_ACQ 4:SYSCALL",
		},
		{
			name: "same serial on two nodes",
			lines: []string{
				"node=a type=SYSCALL msg=audit(10.000:7): a=1",
				"node=b type=SYSCALL msg=audit(10.000:7): a=1",
			},
			want: "7:SYSCALL 7:SYSCALL",
		},
		{
			name: "window completes quiet events",
			lines: []string{
				"type=SYSCALL msg=audit(10.000:8): a=1",
				"type=PATH msg=audit(10.000:8): item=0",
				"type=SYSCALL msg=audit(13.000:9): a=1",
			},
			early: "8:SYSCALL,PATH",
			want:  "8:SYSCALL,PATH 9:SYSCALL",
		},
		{
			name: "in-flight bound evicts the oldest",
			asm:  &Assembler{MaxInFlight: 2},
			lines: []string{
				"type=SYSCALL msg=audit(10.000:1): a=1",
				"type=SYSCALL msg=audit(10.000:2): a=1",
				"type=SYSCALL msg=audit(10.000:3): a=1",
			},
			early: "1:SYSCALL(evicted)",
			want:  "1:SYSCALL(evicted) 2:SYSCALL 3:SYSCALL",
		},
		{
			name: "per-event bound drops records",
			asm:  &Assembler{MaxRecords: 2},
			lines: []string{
				"type=SYSCALL msg=audit(10.000:1): a=1",
				"type=EXECVE msg=audit(10.000:1): a0=1",
				"type=EXECVE msg=audit(10.000:1): a1=1",
				"type=PROCTITLE msg=audit(10.000:1): proctitle=6C73",
			},
			early: "1:SYSCALL,EXECVE(truncated)",
			want:  "1:SYSCALL,EXECVE(truncated)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := tt.asm
			if a == nil {
				a = NewAssembler()
			}
			var got []*Event
			emit := func(e *Event) { got = append(got, e) }
			for _, l := range tt.lines {
				a.Add(rec(t, l), emit)
			}
			if s := summary(got); s != tt.early {
				t.Errorf("before Flush: %q, want %q", s, tt.early)
			}
			a.Flush(emit)
			if s := summary(got); s != tt.want {
				t.Errorf("after Flush: %q, want %q", s, tt.want)
			}
			if a.InFlight() != 0 {
				t.Errorf("InFlight() = %d after Flush", a.InFlight())
			}
			st := a.Stats()
			var kept uint64
			for _, e := range got {
				kept += uint64(len(e.Records))
			}
			eoe := uint64(0)
			for _, l := range tt.lines {
				if strings.HasPrefix(l, "type=EOE") {
					eoe++
				}
			}
			if kept+st.DroppedRecords+eoe != st.Records {
				t.Errorf("records: %d kept + %d dropped + %d EOE != %d added", kept, st.DroppedRecords, eoe, st.Records)
			}
			if st.Events != uint64(len(got)) {
				t.Errorf("Stats().Events = %d, emitted %d", st.Events, len(got))
			}
		})
	}
}

// TestAssemblerBounded feeds events that never complete: memory must stay
// within MaxInFlight, and nothing may be lost.
func TestAssemblerBounded(t *testing.T) {
	a := &Assembler{MaxInFlight: 100}
	n := 0
	for i := range 100000 {
		a.Add(Record{Type: "SYSCALL", Time: Stamp{Sec: 10}, Serial: uint64(i)}, func(*Event) { n++ })
		if a.InFlight() > 100 {
			t.Fatalf("InFlight() = %d > 100 after %d records", a.InFlight(), i+1)
		}
	}
	a.Flush(func(*Event) { n++ })
	if n != 100000 {
		t.Errorf("emitted %d events, want 100000", n)
	}
	if len(a.queue) > 2048 {
		t.Errorf("queue kept %d slots", len(a.queue))
	}
}

// TestAssemblerClocks: each node's stream keeps its own time, and a clock
// that steps back, a record stamped in the future, or two hosts apart in
// one file never break an event into pieces.
func TestAssemblerClocks(t *testing.T) {
	tests := []struct {
		name  string
		lines []string
		want  string
		steps uint64
	}{
		{
			name: "two nodes 5 s apart, interleaved",
			lines: []string{
				"node=a type=SYSCALL msg=audit(100.000:1): a=1",
				"node=b type=SYSCALL msg=audit(105.000:1): a=1",
				"node=a type=PATH msg=audit(100.000:1): item=0",
				"node=b type=PATH msg=audit(105.000:1): item=0",
				"node=a type=PATH msg=audit(100.000:1): item=1",
				"node=b type=PROCTITLE msg=audit(105.000:1): proctitle=6C73",
				"node=a type=PROCTITLE msg=audit(100.000:1): proctitle=6C73",
			},
			want: "1:SYSCALL,PATH,PROCTITLE 1:SYSCALL,PATH,PATH,PROCTITLE",
		},
		{
			name: "a clock stepped back 5 s",
			lines: []string{
				"type=SYSCALL msg=audit(100.000:1): a=1",
				"type=PROCTITLE msg=audit(100.000:1): proctitle=6C73",
				"type=SYSCALL msg=audit(95.000:2): a=1",
				"type=CWD msg=audit(95.000:2): cwd=\"/tmp\"",
				"type=PATH msg=audit(95.000:2): item=0",
				"type=PATH msg=audit(95.000:2): item=1",
				"type=PROCTITLE msg=audit(95.000:2): proctitle=6C73",
			},
			want:  "1:SYSCALL,PROCTITLE 2:SYSCALL,CWD,PATH,PATH,PROCTITLE",
			steps: 1,
		},
		{
			name: "one record stamped in the future",
			lines: []string{
				"type=SYSCALL msg=audit(10.000:1): a=1",
				"type=PROCTITLE msg=audit(10.000:1): proctitle=6C73",
				"type=SYSCALL msg=audit(99999.000:2): a=1",
				"type=SYSCALL msg=audit(11.000:3): a=1",
				"type=CWD msg=audit(11.000:3): cwd=\"/tmp\"",
				"type=PATH msg=audit(11.000:3): item=0",
				"type=PROCTITLE msg=audit(11.000:3): proctitle=6C73",
			},
			want:  "1:SYSCALL,PROCTITLE 3:SYSCALL,CWD,PATH,PROCTITLE 2:SYSCALL",
			steps: 1,
		},
		{
			name: "same node, time and serial twice",
			lines: []string{
				"type=SYSCALL msg=audit(10.000:5): a=1",
				"type=CWD msg=audit(10.000:5): cwd=\"/a\"",
				"type=SYSCALL msg=audit(10.000:5): a=2",
				"type=CWD msg=audit(10.000:5): cwd=\"/b\"",
				"type=PROCTITLE msg=audit(10.000:5): proctitle=6C73",
			},
			want: "5:SYSCALL,CWD 5:SYSCALL,CWD,PROCTITLE(collision)",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			a := NewAssembler()
			var got []*Event
			emit := func(e *Event) { got = append(got, e) }
			for _, l := range tt.lines {
				a.Add(rec(t, l), emit)
			}
			a.Flush(emit)
			if s := summary(got); s != tt.want {
				t.Errorf("events %q, want %q", s, tt.want)
			}
			if st := a.Stats(); st.ClockSteps != tt.steps {
				t.Errorf("ClockSteps = %d, want %d", st.ClockSteps, tt.steps)
			}
		})
	}
}

// TestAssemblerMotion: an event from before a step back completes once its
// node has moved Motion records past it.
func TestAssemblerMotion(t *testing.T) {
	a := &Assembler{Motion: 3}
	var got []*Event
	emit := func(e *Event) { got = append(got, e) }
	a.Add(rec(t, "type=SYSCALL msg=audit(100.000:1): a=1"), emit)
	for i := range 4 {
		a.Add(rec(t, fmt.Sprintf("type=USER_START msg=audit(90.000:%d): pid=1", 10+i)), emit)
	}
	if len(got) != 5 || got[4].Serial != 1 {
		t.Errorf("after 4 records of motion: %s", summary(got))
	}
}

// TestAssemblerBytes: records in flight and in one event are bounded in
// bytes as well as in number.
func TestAssemblerBytes(t *testing.T) {
	a := &Assembler{MaxBytes: 1000, MaxEventBytes: 600}
	big := strings.Repeat("x", 250)
	n, dropped := 0, 0
	emit := func(e *Event) {
		n++
		if e.Truncated {
			dropped++
		}
	}
	for i := range 100 {
		a.Add(rec(t, fmt.Sprintf("type=SYSCALL msg=audit(10.000:%d): a=%s", i, big)), emit)
		a.Add(rec(t, fmt.Sprintf("type=EXECVE msg=audit(10.000:%d): a0=%s", i, big)), emit)
		a.Add(rec(t, fmt.Sprintf("type=EXECVE msg=audit(10.000:%d): a1=%s", i, big)), emit)
		if a.bytes > 1000 {
			t.Fatalf("%d bytes in flight after event %d, bound 1000", a.bytes, i)
		}
	}
	a.Flush(emit)
	if n != 100 || dropped != 100 || a.bytes != 0 {
		t.Errorf("%d events (%d truncated), %d bytes left; want 100, 100 truncated, 0", n, dropped, a.bytes)
	}
}

// TestAssemblerExpireByCallersClock: a quiet event completes after Window
// of the caller's clock from the first Expire that saw it as it is; one
// still growing does not.
func TestAssemblerExpireByCallersClock(t *testing.T) {
	a := NewAssembler()
	var got []*Event
	emit := func(e *Event) { got = append(got, e) }
	t0 := time.Unix(1_000_000, 0) // the caller's clock, unrelated to the records' stamps
	a.Add(rec(t, "type=SYSCALL msg=audit(5000.000:1): a=1"), emit)
	a.Add(rec(t, "type=SYSCALL msg=audit(5000.000:2): a=1"), emit)
	a.Expire(t0, emit)
	a.Add(rec(t, "type=PATH msg=audit(5000.000:2): item=0"), emit)
	a.Expire(t0.Add(2*time.Second), emit)
	if s := summary(got); s != "1:SYSCALL" {
		t.Errorf("after 2 s: %q, want event 1 only", s)
	}
	a.Expire(t0.Add(4*time.Second), emit)
	if s := summary(got); s != "1:SYSCALL 2:SYSCALL,PATH" {
		t.Errorf("after 4 s: %q", s)
	}
}

// TestAssemblerManyNodes: a node= name a record keeps no stream beyond
// its events in flight.
func TestAssemblerManyNodes(t *testing.T) {
	a := &Assembler{MaxInFlight: 100}
	n := 0
	for i := range 50000 {
		a.Add(Record{Node: fmt.Sprint("n", i), Type: "SYSCALL", Time: Stamp{Sec: 10}, Serial: 1}, func(*Event) { n++ })
		if len(a.nodes) > maxNodes+100 {
			t.Fatalf("%d node streams kept after %d nodes", len(a.nodes), i+1)
		}
	}
	a.Flush(func(*Event) { n++ })
	if n != 50000 {
		t.Errorf("%d events, want 50000", n)
	}
}

// TestStandaloneAsBefore: the switch on the first byte says what the list
// of prefixes and names did, for every record type auditd names and a few
// near misses.
func TestStandaloneAsBefore(t *testing.T) {
	data, err := os.ReadFile("../source/msgtypes.tsv")
	if err != nil {
		t.Fatal(err)
	}
	types := []string{"", "U", "USER", "USE", "CRED", "DAEMON", "ANOM_LOGIN", "ANOM_LOGINX", "ANOM_ABEND_", "LOGIN", "SYSCALL", "UNKNOWN[1334]", "usys_config"}
	for l := range strings.SplitSeq(string(data), "\n") {
		if _, name, ok := strings.Cut(l, "\t"); ok {
			types = append(types, name)
		}
	}
	for _, typ := range types {
		if got, want := standalone(typ), standaloneOld(typ); got != want {
			t.Errorf("standalone(%q) = %v, before %v", typ, got, want)
		}
	}
	if len(types) < 150 {
		t.Fatalf("only %d types read from msgtypes.tsv", len(types))
	}
}

// TestAssemblerPendingUnmapped: the event being assembled, which is kept
// out of the look-up map while its records come together, is in flight for
// InFlight and Pending (the reader makes its records own their text before
// reusing the buffer), and its records still find it after another event's.
func TestAssemblerPendingUnmapped(t *testing.T) {
	a := NewAssembler()
	var out []*Event
	emit := func(ev *Event) { out = append(out, ev) }
	pending := func() []uint64 {
		var s []uint64
		a.Pending(func(ev *Event) { s = append(s, ev.Serial) })
		slices.Sort(s)
		return s
	}
	a.Add(rec(t, "type=SYSCALL msg=audit(10.000:1): a=1"), emit)
	if n, p := a.InFlight(), pending(); n != 1 || !slices.Equal(p, []uint64{1}) {
		t.Fatalf("one event open: InFlight %d, Pending %v", n, p)
	}
	a.Add(rec(t, "type=SYSCALL msg=audit(10.000:2): a=1"), emit)
	a.Add(rec(t, "type=USER_START msg=audit(10.000:3): pid=1"), emit)
	a.Add(rec(t, "type=CWD msg=audit(10.000:1): cwd=\"/\""), emit)
	if n, p := a.InFlight(), pending(); n != 2 || !slices.Equal(p, []uint64{1, 2}) {
		t.Fatalf("two events open: InFlight %d, Pending %v", n, p)
	}
	a.Add(rec(t, "type=CWD msg=audit(10.000:2): cwd=\"/\""), emit)
	a.Add(rec(t, "type=PROCTITLE msg=audit(10.000:1): proctitle=6C73"), emit)
	a.Add(rec(t, "type=PROCTITLE msg=audit(10.000:2): proctitle=6C73"), emit)
	if n, p := a.InFlight(), pending(); n != 0 || len(p) != 0 {
		t.Fatalf("all complete: InFlight %d, Pending %v", n, p)
	}
	if got, want := summary(out), "3:USER_START 1:SYSCALL,CWD,PROCTITLE 2:SYSCALL,CWD,PROCTITLE"; got != want {
		t.Errorf("emitted %s, want %s", got, want)
	}
}
