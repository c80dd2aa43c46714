package watch

import (
	"bytes"
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/kmsg"
)

// Records as this host's kernel printed them while no auditd was
// registered (internal/kmsg/testdata/restart.kmsg), and as systemd's
// would be.
var (
	kUnregister = kmsg.Record{Type: 1305, Serial: 11, Body: "op=set audit_pid=0 old=6246 auid=4294967295 ses=4294967295 res=1"}
	kEnableBy   = []kmsg.Record{
		{Type: 1305, Serial: 12, Body: "op=set audit_enabled=1 old=1 auid=4294967295 ses=4294967295 res=1"},
		{Type: 1300, Serial: 12, Body: `arch=c000003e syscall=44 success=yes exit=60 a0=3 a1=7fff91401830 a2=3c a3=0 items=0 ppid=6242 pid=6256 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="auditd" exe="/usr/sbin/auditd" key=(null)`},
		{Type: 1306, Serial: 12, Body: "saddr=100000000000000000000000"},
	}
	// the old plugin's exec catcher leaving the multicast group as it exits
	kListenerGone  = kmsg.Record{Type: 1335, Serial: 12, Body: `pid=7532 uid=0 auid=4294967295 tty=(none) ses=4294967295 comm="gotrail" exe="/usr/local/bin/gotrail" nl-mcgrp=1 op=disconnect res=1`}
	kListenerClose = kmsg.Record{Type: 1300, Serial: 12, Body: `arch=c000003e syscall=3 success=yes exit=0 a0=7 a1=0 a2=0 a3=0 items=0 ppid=7527 pid=7532 auid=4294967295 uid=0 gid=0 euid=0 suid=0 fsuid=0 egid=0 sgid=0 fsgid=0 tty=(none) ses=4294967295 comm="gotrail" exe="/usr/local/bin/gotrail" key=(null)`}
	kServiceStop   = kmsg.Record{Type: 1131, Serial: 13, Body: `pid=1 uid=0 auid=4294967295 ses=4294967295 msg='unit=auditd comm="systemd" exe="/usr/lib/systemd/systemd" hostname=? addr=? terminal=? res=success'`}
	kGoExec        = []kmsg.Record{
		{Type: 1300, Serial: 13, Body: `arch=c000003e syscall=59 success=yes exit=0 a0=1 a1=2 a2=3 a3=0 items=2 ppid=900 pid=901 auid=1001 uid=1001 gid=1001 euid=1001 suid=1001 fsuid=1001 egid=1001 sgid=1001 fsgid=1001 tty=pts0 ses=3 comm="go" exe="/usr/local/go/bin/go" key="gotrail-exec"`},
		{Type: 1309, Serial: 13, Body: `argc=3 a0="go" a1="env" a2="-w"`},
	}
	// a user's own auditctl -e 1 while auditd was down: not the restart's
	kEnableByUser = []kmsg.Record{
		{Type: 1305, Serial: 12, Body: "op=set audit_enabled=1 old=1 auid=1001 ses=3 res=1"},
		{Type: 1300, Serial: 12, Body: `arch=c000003e syscall=44 success=yes exit=60 ppid=900 pid=902 auid=1001 uid=0 comm="auditctl" exe="/usr/sbin/auditctl" key=(null)`},
	}
)

func evidence(recs ...[]kmsg.Record) holeEvidence {
	found := map[uint64][]kmsg.Record{}
	for _, rs := range recs {
		for _, r := range rs {
			found[r.Serial] = append(found[r.Serial], r)
		}
	}
	return weighEvidence(found, "/usr/local/bin/gotrail")
}

func one(r kmsg.Record) []kmsg.Record { return []kmsg.Record{r} }

func withSerial(r kmsg.Record, serial uint64) kmsg.Record { r.Serial = serial; return r }

func withExe(r kmsg.Record, exe string) kmsg.Record {
	r.Body = strings.Replace(r.Body, `exe="/usr/local/bin/gotrail"`, `exe="`+exe+`"`, 1)
	return r
}

// renamed is recs with the syscall's program at another path: a comm of
// "auditd" is anyone's to take.
func renamed(recs []kmsg.Record) []kmsg.Record {
	out := slices.Clone(recs)
	out[1].Body = strings.Replace(out[1].Body, `exe="/usr/sbin/auditd"`, `exe="/tmp/auditd"`, 1)
	return out
}

func disabling(recs []kmsg.Record) []kmsg.Record {
	out := slices.Clone(recs)
	out[0].Body = strings.Replace(out[0].Body, "audit_enabled=1", "audit_enabled=0", 1)
	return out
}

func TestJudgeGap(t *testing.T) {
	restart := func(from, to uint64) audit.Gap { return audit.Gap{From: from, To: to, Restart: true} }
	for _, tc := range []struct {
		name     string
		gap      audit.Gap
		ev       holeEvidence
		severity string
		says     []string
	}{
		{"a restart's two serials, the kernel's log not read", restart(11, 12), holeEvidence{}, "info",
			[]string{"as on every restart"}},
		{"a restart's two serials, both in the kernel's log and its own", restart(11, 12), evidence(one(kUnregister), kEnableBy), "info",
			[]string{"holds every one of them", `serial 11: CONFIG_CHANGE "op=set audit_pid=0`, `serial 12: CONFIG_CHANGE "op=set audit_enabled=1`}},
		{"a plugin's restart: the old plugin leaving the multicast group", restart(11, 12), evidence(one(kUnregister), one(kListenerGone)), "info",
			[]string{"holds every one of them", `serial 12: EVENT_LISTENER "pid=7532`}},
		{"the old plugin leaving the multicast group, with its close", restart(11, 12), evidence(one(kUnregister), []kmsg.Record{kListenerGone, kListenerClose}), "info",
			[]string{"holds every one of them", `by SYSCALL "syscall=3 success=yes`}},
		{"a listener leaving, with another program's syscall", restart(11, 12), evidence(one(kUnregister), []kmsg.Record{kListenerGone, withExe(kListenerClose, "/tmp/x")}), "high",
			[]string{"shows 1 of them was an event"}},
		{"a restart's two serials, one of them a go run", restart(11, 13), evidence(one(kUnregister), kGoExec), "high",
			[]string{"shows 1 of them was an event while no auditd was logging", `serial 13: SYSCALL "syscall=59 success=yes auid=1001 uid=1001 euid=1001 pid=901 comm=\"go\" exe=\"/usr/local/go/bin/go\" key=\"gotrail-exec\""`, "restart's own: serial 11"}},
		{"a restart's two, the second a user's auditctl", restart(11, 12), evidence(one(kUnregister), kEnableByUser), "high",
			[]string{`serial 12: CONFIG_CHANGE "op=set audit_enabled=1 old=1 auid=1001 ses=3 res=1" by SYSCALL "syscall=44 success=yes auid=1001 uid=0 pid=902 comm=\"auditctl\"`}},
		{"a restart under systemd: three serials, all its own", restart(11, 13), evidence(one(kUnregister), kEnableBy, one(kServiceStop)), "info",
			[]string{"holds every one of them", `serial 13: SERVICE_STOP "pid=1 uid=0`}},
		{"three serials after a stop, two of them known", restart(11, 13), evidence(one(kUnregister), kEnableBy), "high",
			[]string{"up to 2 are the restart's own", "shows 2 of them to be the restart's own"}},
		{"three serials after a stop, the kernel's log not read", restart(11, 13), holeEvidence{}, "high",
			[]string{"up to 2 are the restart's own"}},
		{"auditing turned on by a program named auditd", restart(11, 12), evidence(one(kUnregister), renamed(kEnableBy)), "high",
			[]string{"shows 1 of them was an event", `by SYSCALL "syscall=44 success=yes auid=4294967295 uid=0 euid=0 pid=6256 comm=\"auditd\" exe=\"/tmp/auditd\"`}},
		{"auditing turned off by auditd", restart(11, 12), evidence(one(kUnregister), disabling(kEnableBy)), "high",
			[]string{"shows 1 of them was an event", `serial 12: CONFIG_CHANGE "op=set audit_enabled=0`}},
		{"the unregistering's serial with a go run's records", restart(11, 12), evidence([]kmsg.Record{kUnregister, withSerial(kGoExec[1], 11)}, kEnableBy), "high",
			[]string{"shows 1 of them was an event"}},
		{"the unregistering's text after a firewall's log prefix", restart(11, 12), evidence(one(kmsg.Record{Type: 1305, Serial: 11, Body: kUnregister.Body + " IN=eth0 OUT= MAC=00 SRC=10.0.0.9"}), kEnableBy), "high",
			[]string{"shows 1 of them was an event"}},
		{"systemd's words from another process", restart(11, 13), evidence(one(kUnregister), kEnableBy, one(kmsg.Record{Type: 1131, Serial: 13, Body: strings.Replace(kServiceStop.Body, "pid=1 ", "pid=4242 ", 1)})), "high",
			[]string{"shows 1 of them was an event"}},
		{"another program leaving the multicast group", restart(11, 12), evidence(one(kUnregister), one(kmsg.Record{Type: 1335, Serial: 12, Body: strings.Replace(kListenerGone.Body, "/usr/local/bin/gotrail", "/tmp/x", 1)})), "high",
			[]string{"shows 1 of them was an event"}},
		{"the new daemon's change printed without its syscall", restart(11, 12), evidence(one(kUnregister), kEnableBy[:1]), "info",
			[]string{"as on every restart", "shows 1 of them to be the restart's own"}},
		{"three serials, one printed only in part", restart(11, 13), evidence(one(kUnregister), kEnableBy[1:], one(kServiceStop)), "high",
			[]string{"up to 2 are the restart's own", "shows 2 of them to be the restart's own"}},
		{"a hole not after a stop", audit.Gap{From: 500, To: 900}, holeEvidence{}, "high",
			[]string{"lost in the kernel or sent while auditd was not logging"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			severity, why := judgeGap(tc.gap, tc.ev)
			if severity != tc.severity {
				t.Errorf("severity %s, want %s (%s)", severity, tc.severity, why)
			}
			for _, s := range tc.says {
				if !strings.Contains(why, s) {
					t.Errorf("%q does not say %q", why, s)
				}
			}
		})
	}
}

// TestJudgeGapNamesAFewOfMany: a hole of many events the kernel printed
// names four of them and counts the rest, and cuts long records short.
func TestJudgeGapNamesAFewOfMany(t *testing.T) {
	var recs []kmsg.Record
	for s := uint64(100); s < 110; s++ {
		r := kGoExec[0]
		r.Serial = s
		r.Body += strings.Repeat(" x=y", 100)
		recs = append(recs, r)
	}
	severity, why := judgeGap(audit.Gap{From: 100, To: 109, Restart: true}, evidence(recs))
	if severity != "high" || !strings.Contains(why, "shows 10 of them were events") || !strings.Contains(why, "and 6 more") || strings.Count(why, "serial ") != 4 {
		t.Errorf("%s: %s", severity, why)
	}
	if len(why) > 1200 {
		t.Errorf("%d bytes: records not cut short", len(why))
	}
}

// TestKernelEvidenceAsks: the kernel's log is asked only of a hole right
// after a DAEMON_END, of this host's serials, with the hole's range and
// the minute before the audit time after it; one that cannot be read is
// said once and leaves the hole to its size.
func TestKernelEvidenceAsks(t *testing.T) {
	var logged bytes.Buffer
	var asked []string
	w := &Watcher{opt: Options{Host: "web-01", Log: slog.New(slog.NewTextHandler(&logged, nil))}}
	w.opt.KernelLog = func(from, to uint64, notBefore, notAfter int64) (map[uint64][]kmsg.Record, error) {
		asked = append(asked, fmt.Sprintf("%d-%d %d-%d", from, to, notBefore, notAfter))
		if from == 99 {
			return nil, errors.New("kernel log: open /dev/kmsg: permission denied")
		}
		return map[uint64][]kmsg.Record{11: {kUnregister}}, nil
	}
	if ev := w.kernelEvidence(audit.Gap{Node: "db-07", From: 11, To: 12, Sec: 1000, Restart: true}); ev.found != 0 {
		t.Errorf("another node's hole: %+v", ev)
	}
	if ev := w.kernelEvidence(audit.Gap{From: 11, To: 12, Sec: 1000}); ev.found != 0 {
		t.Errorf("a hole not after a DAEMON_END: %+v", ev)
	}
	for _, node := range []string{"", "web-01"} {
		if ev := w.kernelEvidence(audit.Gap{Node: node, From: 11, To: 12, Sec: 1000, Restart: true}); ev.found != 1 || len(ev.own) != 1 {
			t.Errorf("node %q: %+v", node, ev)
		}
	}
	for range 2 {
		if ev := w.kernelEvidence(audit.Gap{From: 99, To: 99, Sec: 1000, Restart: true}); ev.found != 0 {
			t.Errorf("a log that cannot be read: %+v", ev)
		}
	}
	if want := []string{"11-12 940-1001", "11-12 940-1001", "99-99 940-1001", "99-99 940-1001"}; !slices.Equal(asked, want) {
		t.Errorf("asked %v, want %v", asked, want)
	}
	if n := strings.Count(logged.String(), "permission denied"); n != 1 {
		t.Errorf("the unreadable log said %d times:\n%s", n, logged.String())
	}
}
