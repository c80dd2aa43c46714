package audit

import (
	"bufio"
	"maps"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"
)

// configEvent is a CONFIG_CHANGE event of auditctl with pid, as the kernel
// logs one for every rule it adds or removes.
func configEvent(t *testing.T, serial int, pid, op, key string) *Event {
	t.Helper()
	var ev *Event
	asm := NewAssembler()
	stamp := "audit(1795637801.100:" + strconv.Itoa(serial) + ")"
	for _, line := range []string{
		"type=CONFIG_CHANGE msg=" + stamp + `: auid=1001 ses=3 op=` + op + ` key="` + key + `" list=4 res=1`,
		"type=SYSCALL msg=" + stamp + `: arch=c000003e syscall=44 success=yes exit=1084 a0=4 a1=7ffd a2=43c a3=0 items=1 ppid=2273 pid=` + pid + ` auid=1001 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="auditctl" exe="/usr/sbin/auditctl" key=(null)`,
		"type=PATH msg=" + stamp + `: item=0 name="/etc/" inode=19 dev=fe:00 mode=040755 ouid=0 ogid=0 rdev=00:00 nametype=PARENT cap_fp=0 cap_fi=0 cap_fe=0 cap_fver=0 cap_frootid=0`,
		"type=PROCTITLE msg=" + stamp + `: proctitle=617564697463746C002D52002F6574632F61756469742F61756469742E72756C6573`,
	} {
		r, err := ParseRecord(line)
		if err != nil {
			t.Fatal(err)
		}
		asm.Add(r, func(e *Event) { ev = e })
	}
	return ev
}

func TestCoalescer(t *testing.T) {
	var out []*Event
	emit := func(e *Event) { out = append(out, e) }
	var c Coalescer
	now := time.Unix(0, 0)
	// a load: one process removes and adds rules
	for i := range 6 {
		op := "remove_rule"
		if i >= 3 {
			op = "add_rule"
		}
		c.Add(configEvent(t, 100+i, "500", op, "gotrail-profile"), now, emit)
	}
	if len(out) != 0 {
		t.Fatalf("a group in the making was emitted: %d events", len(out))
	}
	// another process: the group closes, then that event is a group of its own
	c.Add(configEvent(t, 110, "501", "remove_rule", "gotrail-profile"), now, emit)
	if len(out) != 1 || len(out[0].Members) != 6 || len(out[0].Records) != 24 || out[0].Serial != 100 {
		t.Fatalf("after another process: %d events; first has %d members", len(out), len(out[0].Members))
	}
	// quiet for a second: it closes
	c.Expire(now.Add(500*time.Millisecond), nil, emit)
	if len(out) != 1 {
		t.Fatal("closed before a second of quiet")
	}
	c.Expire(now.Add(time.Second), nil, emit)
	if len(out) != 2 || len(out[1].Members) != 1 {
		t.Fatalf("after a second of quiet: %d events", len(out))
	}
	// anything else passes straight through
	r, _ := ParseRecord(`type=USER_START msg=audit(1795637802.000:200): pid=9 uid=0 auid=0 ses=1 msg='op=PAM:session_open acct="root" res=success'`)
	c.Add(&Event{Time: r.Time, Serial: r.Serial, Records: []Record{r}}, now, emit)
	if len(out) != 3 || out[2].Members != nil {
		t.Fatalf("a user event: %d events", len(out))
	}
	c.Flush(emit)
	if len(out) != 3 {
		t.Fatal("Flush emitted from an empty coalescer")
	}
}

// TestCoalescedLoadInterpreted: the interpreter sums the group up: rules
// removed and added by key, none of gotrail's missing after the load, the
// keys with the change and not in tags.
func TestCoalescedLoadInterpreted(t *testing.T) {
	var c Coalescer
	var got *Event
	emit := func(e *Event) { got = e }
	for i, op := range []string{"remove_rule", "remove_rule", "add_rule", "add_rule"} {
		c.Add(configEvent(t, 100+i, "500", op, "gotrail-profile"), time.Time{}, emit)
	}
	c.Add(configEvent(t, 120, "500", "remove_rule", "gotrail-audit"), time.Time{}, emit)
	c.Flush(emit)
	e := NewInterpreter(nil, "h", false).Interpret(got)
	ac := e.Gotrail.AuditChange
	if ac == nil || e.Event.Action != "load" || len(e.Tags) != 0 {
		t.Fatalf("action %q tags %v change %+v", e.Event.Action, e.Tags, ac)
	}
	if len(ac.Removed) != 2 || ac.Removed[0].Rules != 2 || len(ac.Added) != 1 || ac.Added[0].Rules != 2 {
		t.Errorf("counts: removed %+v added %+v", ac.Removed, ac.Added)
	}
	if len(ac.GotrailRemoved) != 1 || ac.GotrailRemoved[0].Key != "gotrail-audit" || ac.GotrailRemoved[0].Dir != "/etc/" {
		t.Errorf("gotrail rules removed and not added again: %+v", ac.GotrailRemoved)
	}
	if !strings.Contains(e.Message, "removed 3 rules") || !strings.Contains(e.Message, "gotrail-audit in /etc/") {
		t.Errorf("message: %s", e.Message)
	}
	if len(e.Auditd.Paths) != 0 {
		t.Errorf("a rule's directory became a path of the event: %+v", e.Auditd.Paths)
	}
}

// TestRelativeNamesOfAtCalls: a name relative to a directory descriptor is
// not joined with the working directory (it would name another file).
func TestRelativeNamesOfAtCalls(t *testing.T) {
	for _, tc := range []struct {
		a0, want string
	}{
		{"ffffff9c", "/root/notes.txt"}, // AT_FDCWD
		{"5", "notes.txt"},              // a directory of the program's own
	} {
		asm := NewAssembler()
		var ev *Event
		for _, line := range []string{
			`type=SYSCALL msg=audit(1795637801.100:9): arch=c000003e syscall=257 success=yes exit=3 a0=` + tc.a0 + ` a1=1 a2=241 a3=1b6 items=1 ppid=1 pid=2 auid=0 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=pts0 ses=3 comm="vim" exe="/usr/bin/vim" key="gotrail-audit"`,
			`type=CWD msg=audit(1795637801.100:9): cwd="/root"`,
			`type=PATH msg=audit(1795637801.100:9): item=0 name="notes.txt" inode=5 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=CREATE`,
			`type=PROCTITLE msg=audit(1795637801.100:9): proctitle=76696D`,
		} {
			r, err := ParseRecord(line)
			if err != nil {
				t.Fatal(err)
			}
			asm.Add(r, func(e *Event) { ev = e })
		}
		e := NewInterpreter(nil, "h", false).Interpret(ev)
		if e.File == nil || e.File.Path != tc.want {
			t.Errorf("openat(%s, \"notes.txt\") from /root: file %+v, want %s", tc.a0, e.File, tc.want)
		}
	}
}

// TestAuditdsOwnNoteInALoad: auditd writes its own messages (here the
// DAEMON_CONFIG of a SIGHUP) when it gets to them, between the kernel's
// records of a rules load; the load stays one event, the note passes
// through on its own.
func TestAuditdsOwnNoteInALoad(t *testing.T) {
	f, err := os.Open("testdata/reconfigure-in-load.log")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var out []*Event
	emit := func(e *Event) { out = append(out, e) }
	var c Coalescer
	asm := NewAssembler()
	add := func(ev *Event) { c.Add(ev, time.Time{}, emit) }
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		r, err := ParseRecord(sc.Text())
		if err != nil {
			t.Fatal(err)
		}
		asm.Add(r, add)
	}
	asm.Flush(add)
	c.Flush(emit)
	loads := map[string][]int{} // pid: members of each of its events
	notes := 0
	for _, ev := range out {
		if pid, ok := configChangePID(ev); ok {
			loads[pid] = append(loads[pid], len(ev.Members))
		}
		if hasType(ev, "DAEMON_CONFIG") {
			notes++
		}
	}
	want := map[string][]int{"18723": {3}, "18753": {55}}
	if !maps.EqualFunc(loads, want, slices.Equal) || notes != 1 {
		t.Errorf("loads by pid (members of each event) %v, want %v; %d DAEMON_CONFIG events, want 1", loads, want, notes)
	}
}
