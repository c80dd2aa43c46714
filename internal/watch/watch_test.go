package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/trail"
)

// profileEvent is the records of one write to /etc/profile; without the
// PROCTITLE it stays in flight until the window or the end.
func profileEvent(sec, serial int, complete bool) string {
	s := fmt.Sprintf("type=SYSCALL msg=audit(%d.000:%d): arch=c000003e syscall=257 success=yes exit=3 a0=ffffff9c a1=1 a2=441 a3=1b6 items=1 ppid=1 pid=2 auid=1001 uid=0 gid=0 euid=0 tty=pts0 ses=3 comm=\"sh\" exe=\"/usr/bin/dash\" key=\"gotrail-profile\"\n", sec, serial) +
		fmt.Sprintf("type=PATH msg=audit(%d.000:%d): item=0 name=\"/etc/profile\" inode=5 dev=fe:00 mode=0100644 ouid=0 ogid=0 rdev=00:00 nametype=NORMAL\n", sec, serial)
	if complete {
		s += fmt.Sprintf("type=PROCTITLE msg=audit(%d.000:%d): proctitle=7368\n", sec, serial)
	}
	return s
}

func appendLog(t *testing.T, path, text string) {
	t.Helper()
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		t.Fatal(err)
	}
	f.WriteString(text)
	f.Close()
}

// runUntil runs a watcher on the log until the trail holds n events (or a
// timeout), then stops it as SIGTERM would.
func runUntil(t *testing.T, state, log string, n int) {
	t.Helper()
	w, err := New(Options{StateDir: state, Host: "test", RestartWindow: 100 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.RunFile(ctx, log) }()
	deadline := time.Now().Add(5 * time.Second)
	for len(ids(t, state)) < n && time.Now().Before(deadline) {
		time.Sleep(5 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond)
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

func ids(t *testing.T, state string) []string {
	var out []string
	trail.Read(state, func(line []byte) error {
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil {
			t.Fatalf("trail line: %v", err)
		}
		out = append(out, e.Event.ID)
		return nil
	})
	return out
}

// TestInFlightEventsExactlyOnce: an event still in flight when the watcher
// stops keeps the saved position before it; the events that completed after
// it are not appended twice when the log is read again from there.
func TestInFlightEventsExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	log, state := filepath.Join(dir, "audit.log"), filepath.Join(dir, "state")
	now := int(time.Now().Unix())
	// serial 1 waits for its PROCTITLE; 2 and 3 complete
	appendLog(t, log, profileEvent(now, 1, false)+profileEvent(now, 2, true)+profileEvent(now, 3, true))
	runUntil(t, state, log, 2)
	if got := ids(t, state); len(got) != 2 {
		t.Fatalf("first run: %q", got)
	}
	// the rest of serial 1, and a new event
	appendLog(t, log, fmt.Sprintf("type=PROCTITLE msg=audit(%d.000:1): proctitle=7368\n", now)+profileEvent(now, 4, true))
	runUntil(t, state, log, 4)
	got := ids(t, state)
	want := []string{fmt.Sprintf("%d.000:2", now), fmt.Sprintf("%d.000:3", now), fmt.Sprintf("%d.000:1", now), fmt.Sprintf("%d.000:4", now)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("trail ids %q, want %q", got, want)
	}
}

// TestCrashBeforeSavingPosition: events appended to the trail after the
// position was last saved (a crash between the two) are not appended again.
func TestCrashBeforeSavingPosition(t *testing.T) {
	dir := t.TempDir()
	log, state := filepath.Join(dir, "audit.log"), filepath.Join(dir, "state")
	now := int(time.Now().Unix())
	appendLog(t, log, profileEvent(now, 1, true))
	runUntil(t, state, log, 1)
	old, err := os.ReadFile(filepath.Join(state, "position.json"))
	if err != nil {
		t.Fatal(err)
	}
	appendLog(t, log, profileEvent(now, 2, true)+profileEvent(now, 3, true))
	runUntil(t, state, log, 3)
	// as if the watcher died after appending 2 and 3 but before saving
	os.WriteFile(filepath.Join(state, "position.json"), old, 0o600)
	appendLog(t, log, profileEvent(now, 4, true))
	runUntil(t, state, log, 4)
	if got := ids(t, state); len(got) != 4 {
		t.Errorf("trail ids %q, want 4 distinct", got)
	}
	if rep, err := trail.Verify(state, trail.VerifyOptions{}); err != nil || rep.Problem != nil {
		t.Errorf("verify: %v %v", err, rep.Problem)
	}
}

// TestLostRecordsBecomeGaps: when the kernel's lost counter grows, an
// audit.gap event saying how many goes into the trail.
func TestLostRecordsBecomeGaps(t *testing.T) {
	state := t.TempDir()
	lost := []int{3, 3, 10}
	w, err := New(Options{StateDir: state, Host: "test", Lost: func() (int, error) {
		n := lost[0]
		lost = lost[1:]
		return n, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		w.checkLost(time.Now())
	}
	w.trail.Close()
	var gaps []event.Event
	trail.Read(state, func(line []byte) error {
		var e event.Event
		json.Unmarshal(line, &e)
		gaps = append(gaps, e)
		return nil
	})
	if len(gaps) != 1 || gaps[0].Gotrail.Kind != event.KindGap || gaps[0].Message != "the kernel lost 7 audit records (backlog full or rate limit): changes in that time may be missing" {
		t.Errorf("trail: %+v", gaps)
	}
}

// TestDaemonStopIsAGap: auditd stopping is audit.tamper, and the trail says
// that records are missing from then on.
func TestDaemonStopIsAGap(t *testing.T) {
	dir := t.TempDir()
	log, state := filepath.Join(dir, "audit.log"), filepath.Join(dir, "state")
	now := int(time.Now().Unix())
	appendLog(t, log, fmt.Sprintf("type=DAEMON_END msg=audit(%d.000:7): op=terminate auid=0 uid=0 ses=4294967295 pid=1 subj=unconfined res=success\n", now))
	runUntil(t, state, log, 2)
	var kinds []string
	trail.Read(state, func(line []byte) error {
		var e event.Event
		json.Unmarshal(line, &e)
		kinds = append(kinds, e.Gotrail.Kind+": "+e.Message)
		return nil
	})
	if len(kinds) != 2 || !strings.HasPrefix(kinds[0], "audit.tamper") || kinds[1] != "audit.gap: auditd stopped (DAEMON_END): changes until it runs again are not recorded" {
		t.Errorf("trail: %q", kinds)
	}
}

// TestSerialGapInTheTrail: events missing from the log become an
// audit.gap in the trail.
func TestSerialGapInTheTrail(t *testing.T) {
	dir := t.TempDir()
	log, state := filepath.Join(dir, "audit.log"), filepath.Join(dir, "state")
	now := int(time.Now().Unix())
	appendLog(t, log, profileEvent(now-20, 1, true)+profileEvent(now-20, 2, true)+profileEvent(now-19, 5, true)+profileEvent(now, 6, true))
	runUntil(t, state, log, 5)
	var gaps []string
	trail.Read(state, func(line []byte) error {
		var e event.Event
		json.Unmarshal(line, &e)
		if e.Gotrail.Kind == event.KindGap {
			gaps = append(gaps, e.Message)
		}
		return nil
	})
	if len(gaps) != 1 || !strings.HasPrefix(gaps[0], "2 audit event(s) missing from the log (serials 3 to 4)") {
		t.Errorf("gaps: %q", gaps)
	}
}

// TestReaderDrainsEverything: the plugin path reads all of its input, in
// order, even when it arrives faster than the trail takes it.
func TestReaderDrainsEverything(t *testing.T) {
	state := t.TempDir()
	w, err := New(Options{StateDir: state, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	now := int(time.Now().Unix())
	var in strings.Builder
	for i := 1; i <= 500; i++ {
		in.WriteString(profileEvent(now, i, true))
	}
	if err := w.RunReader(context.Background(), strings.NewReader(in.String())); err != nil {
		t.Fatal(err)
	}
	got := ids(t, state)
	if len(got) != 500 || got[0] != fmt.Sprintf("%d.000:1", now) || got[499] != fmt.Sprintf("%d.000:500", now) {
		t.Errorf("%d events, first %v", len(got), got[:min(3, len(got))])
	}
}

// TestInterleavedEventNotRepeated: event A's lines straddle event B's first
// line; B is in flight when the watcher stops, so the log is read again from
// B's first line, which is after A's first line but before A's last: A must
// not come back as a partial duplicate.
func TestInterleavedEventNotRepeated(t *testing.T) {
	dir := t.TempDir()
	log, state := filepath.Join(dir, "audit.log"), filepath.Join(dir, "state")
	now := int(time.Now().Unix())
	a, b := profileEvent(now, 1, true), profileEvent(now, 2, false)
	aLines := strings.SplitAfter(a, "\n")
	// A's PATH, B's SYSCALL and PATH, then A's SYSCALL and PROCTITLE: read
	// again from B, A's SYSCALL alone would make a (wrong) event of its own
	appendLog(t, log, aLines[1]+b+aLines[0]+aLines[2])
	runUntil(t, state, log, 1)
	appendLog(t, log, fmt.Sprintf("type=PROCTITLE msg=audit(%d.000:2): proctitle=7368\n", now))
	runUntil(t, state, log, 2)
	got := ids(t, state)
	want := []string{fmt.Sprintf("%d.000:1", now), fmt.Sprintf("%d.000:2", now)}
	if fmt.Sprint(got) != fmt.Sprint(want) {
		t.Errorf("trail ids %q, want %q", got, want)
	}
}

// TestReaderTakesALastLineWithoutNewline: the plugin's input may end
// without a newline; that record counts too.
func TestReaderTakesALastLineWithoutNewline(t *testing.T) {
	state := t.TempDir()
	w, err := New(Options{StateDir: state, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	now := int(time.Now().Unix())
	in := strings.TrimSuffix(profileEvent(now, 1, true), "\n")
	if err := w.RunReader(context.Background(), strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	if got := ids(t, state); len(got) != 1 {
		t.Errorf("trail ids %q, want the one event", got)
	}
}

// configChange is one CONFIG_CHANGE event of auditctl run as pid.
func configChange(sec, serial, pid int) string {
	return fmt.Sprintf("type=CONFIG_CHANGE msg=audit(%d.000:%d): auid=1001 ses=3 op=add_rule key=\"gotrail-profile\" list=4 res=1\n", sec, serial) +
		fmt.Sprintf("type=SYSCALL msg=audit(%d.000:%d): arch=c000003e syscall=44 success=yes exit=1084 a0=4 a1=1 a2=43c a3=0 items=0 ppid=1 pid=%d auid=1001 uid=0 gid=0 euid=0 tty=pts0 ses=3 comm=\"auditctl\" exe=\"/usr/sbin/auditctl\" key=(null)\n", sec, serial, pid) +
		fmt.Sprintf("type=PROCTITLE msg=audit(%d.000:%d): proctitle=617564697463746C\n", sec, serial)
}

// TestPartialGroupExactlyOnce: the watcher stops while a process's rule
// changes are still being gathered; restarted, it reads them again and the
// trail gets the whole group once.
func TestPartialGroupExactlyOnce(t *testing.T) {
	dir := t.TempDir()
	log, state := filepath.Join(dir, "audit.log"), filepath.Join(dir, "state")
	now, pid := int(time.Now().Unix()), os.Getpid() // a live pid: the group waits
	appendLog(t, log, configChange(now, 1, pid)+configChange(now, 2, pid)+configChange(now, 3, pid))
	w, err := New(Options{StateDir: state, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- w.RunFile(ctx, log) }()
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(5 * time.Millisecond) {
		if _, err := os.Stat(filepath.Join(state, "position.json")); err == nil {
			break
		}
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := ids(t, state); len(got) != 0 {
		t.Fatalf("a group still being gathered reached the trail: %q", got)
	}
	appendLog(t, log, configChange(now, 4, pid)+configChange(now, 5, pid)+profileEvent(now, 6, true))
	runUntil(t, state, log, 2)
	var added []int
	trail.Read(state, func(line []byte) error {
		var e event.Event
		event.Decode(line, &e)
		if c := e.Gotrail.AuditChange; c != nil {
			added = append(added, c.Added[0].Rules)
		}
		return nil
	})
	if got := ids(t, state); len(got) != 2 || len(added) != 1 || added[0] != 5 {
		t.Errorf("trail %q, groups adding %v rules; want one group of 5 and the profile write", got, added)
	}
	// and a third run moves on from after the group: nothing again
	appendLog(t, log, profileEvent(now, 7, true))
	runUntil(t, state, log, 3)
	if got := ids(t, state); len(got) != 3 {
		t.Errorf("third run: trail %q, want the group, 6 and 7 once each", got)
	}
}

// TestMetricsAreTheStats: each count is kept once, in Stats, and the
// metrics read it.
func TestMetricsAreTheStats(t *testing.T) {
	m := NewMetrics()
	w, err := New(Options{StateDir: t.TempDir(), Host: "test", Metrics: m})
	if err != nil {
		t.Fatal(err)
	}
	in := "not an audit record\n" + profileEvent(100, 1, true) + profileEvent(101, 3, true)
	if err := w.RunReader(context.Background(), strings.NewReader(in)); err != nil {
		t.Fatal(err)
	}
	got := map[string]float64{}
	mfs, err := m.Registry.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		for _, mm := range mf.GetMetric() {
			switch {
			case mm.GetCounter() != nil:
				got[mf.GetName()] += mm.GetCounter().GetValue()
			case mm.GetGauge() != nil:
				got[mf.GetName()] = mm.GetGauge().GetValue()
			}
		}
	}
	if got["gotrail_malformed_lines_total"] != 1 || w.Stats.Malformed.Load() != 1 {
		t.Errorf("malformed: metric %v, stats %d", got["gotrail_malformed_lines_total"], w.Stats.Malformed.Load())
	}
	if got["gotrail_events_total"] < 2 || float64(w.Stats.Events.Load()) != got["gotrail_events_total"] {
		t.Errorf("events: metric %v, stats %d", got["gotrail_events_total"], w.Stats.Events.Load())
	}
	if got["gotrail_trail_checkpoint_seq"] == 0 || got["gotrail_trail_checkpoint_seq"] != float64(w.Stats.Checkpoint.Load()) {
		t.Errorf("checkpoint seq: metric %v, stats %d", got["gotrail_trail_checkpoint_seq"], w.Stats.Checkpoint.Load())
	}
}

// TestPluginRestartGap: auditd restarts its plugins with itself, so the
// hole a restart leaves in the serials lies between two plugin runs: the
// run that stops cleanly keeps where the serials stood, the next one
// resumes from it. A restart's own unlogged serial is an info gap; more is
// high; a run that did not stop cleanly leaves nothing to resume from.
func TestPluginRestartGap(t *testing.T) {
	now := int(time.Now().Unix())
	end := fmt.Sprintf("type=DAEMON_END msg=audit(%d.000:7001): op=terminate auid=0 uid=0 ses=4294967295 pid=1 subj=unconfined res=success\n", now)
	start := fmt.Sprintf("type=DAEMON_START msg=audit(%d.000:9001): op=start ver=3.0.9 format=enriched kernel=6.18 auid=4294967295 pid=2 uid=0 ses=4294967295 res=success\n", now+1)
	before := profileEvent(now, 1, true) + profileEvent(now, 2, true)
	for _, tc := range []struct {
		name     string
		runs     []string
		died     bool // the first run leaves no marks
		wantGaps []string
	}{
		{"a restart leaves its own", []string{before + end, start + profileEvent(now+1, 4, true)}, false,
			[]string{"info: 1 audit event(s) missing from the log (serials 3 to 3) across a restart of auditd"}},
		{"events lost while auditd was down", []string{before + end, start + profileEvent(now+1, 7, true)}, false,
			[]string{"high: 4 audit event(s) missing from the log (serials 3 to 6) across a restart of auditd"}},
		{"the plugin restarted without auditd stopping", []string{before, profileEvent(now+1, 5, true)}, false,
			[]string{"high: 2 audit event(s) missing from the log (serials 3 to 4): lost"}},
		{"the first run died", []string{before + end, start + profileEvent(now+1, 9, true)}, true, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state := t.TempDir()
			for i, in := range tc.runs {
				w, err := New(Options{StateDir: state, Host: "test"})
				if err != nil {
					t.Fatal(err)
				}
				if err := w.RunReader(context.Background(), strings.NewReader(in)); err != nil {
					t.Fatal(err)
				}
				if i == 0 && tc.died {
					os.Remove(filepath.Join(state, serialsFile))
				}
			}
			var gaps []string
			for _, g := range trailGaps(t, state) {
				if strings.Contains(g, "missing from the log") {
					gaps = append(gaps, g)
				}
			}
			if len(gaps) != len(tc.wantGaps) {
				t.Fatalf("gaps %q, want %q", gaps, tc.wantGaps)
			}
			for i := range gaps {
				if !strings.HasPrefix(gaps[i], tc.wantGaps[i]) {
					t.Errorf("gap %q, want %q…", gaps[i], tc.wantGaps[i])
				}
			}
		})
	}
}
