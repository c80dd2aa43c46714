package watch

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/trail"
)

// TestSerialsHandoff: the new plugin waits for the old one's lock, so it
// reads the marks the old one writes after the new one started (auditd
// does not wait for its old plugin), and finds the restart's hole.
func TestSerialsHandoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := t.TempDir()
		old, err := lockWithin(filepath.Join(state, serialsLock), 0)
		if err != nil {
			t.Fatal(err)
		}
		w, err := New(Options{StateDir: state, Host: "test"})
		if err != nil {
			t.Fatal(err)
		}
		now := int(time.Now().Unix())
		done := make(chan error)
		go func() { done <- w.RunReader(context.Background(), strings.NewReader(profileEvent(now, 4, true))) }()
		synctest.Wait() // the new plugin waits for the lock
		marks, _ := json.Marshal(handoff{BootID: bootID(), Written: time.Now(), Marks: []audit.SerialMark{{High: 2, Stops: []uint64{2}}}})
		if err := os.WriteFile(filepath.Join(state, serialsFile), marks, 0o600); err != nil {
			t.Fatal(err)
		}
		old.Close()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		gaps := trailGaps(t, state)
		if want := "info: 1 audit event(s) missing from the log (serials 3 to 3) across a restart"; len(gaps) != 1 || !strings.HasPrefix(gaps[0], want) {
			t.Errorf("gaps %q, want %q…", gaps, want)
		}
		if _, err := os.Stat(filepath.Join(state, serialsFile)); err != nil {
			t.Errorf("the new plugin left no marks at its clean stop: %v", err)
		}
	})
}

// TestSerialsLockHeld: a plugin that cannot have the lock (another runs)
// neither resumes nor writes marks, and says so.
func TestSerialsLockHeld(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		state := t.TempDir()
		other, err := lockWithin(filepath.Join(state, serialsLock), 0)
		if err != nil {
			t.Fatal(err)
		}
		defer other.Close()
		var log strings.Builder
		w, err := New(Options{StateDir: state, Host: "test", Log: slog.New(slog.NewTextHandler(&log, nil))})
		if err != nil {
			t.Fatal(err)
		}
		if err := w.RunReader(context.Background(), strings.NewReader(profileEvent(int(time.Now().Unix()), 4, true))); err != nil {
			t.Fatal(err)
		}
		if _, err := os.Stat(filepath.Join(state, serialsFile)); err == nil {
			t.Error("marks written without the lock")
		}
		if !strings.Contains(log.String(), "another plugin holds the serials") {
			t.Errorf("log: %s", log.String())
		}
	})
}

// TestSerialsNotThisRestart: marks of another boot, or of a plugin that
// stopped more than a moment ago, are not resumed (they would make every
// serial logged since look lost), and are removed.
func TestSerialsNotThisRestart(t *testing.T) {
	for name, h := range map[string]handoff{
		"another boot": {BootID: "00000000-0000-0000-0000-000000000000", Written: time.Now()},
		"long ago":     {BootID: bootID(), Written: time.Now().Add(-2 * handoffFresh)},
		"no boot id":   {Written: time.Now()},
	} {
		t.Run(name, func(t *testing.T) {
			state := t.TempDir()
			now := int(time.Now().Unix())
			h.Marks = []audit.SerialMark{{High: 2, Stops: []uint64{2}}}
			data, _ := json.Marshal(h)
			os.WriteFile(filepath.Join(state, serialsFile), data, 0o600)
			w, err := New(Options{StateDir: state, Host: "test"})
			if err != nil {
				t.Fatal(err)
			}
			if err := w.RunReader(context.Background(), strings.NewReader(profileEvent(now, 9, true))); err != nil {
				t.Fatal(err)
			}
			if got := trailGaps(t, state); len(got) != 0 {
				t.Errorf("gaps %q from marks not this restart's", got)
			}
		})
	}
}

// TestReaderDrainsAfterSignal: auditd signals its plugin right after its
// last write; what it wrote is still read, and the serials handed on.
func TestReaderDrainsAfterSignal(t *testing.T) {
	state := t.TempDir()
	w, err := New(Options{StateDir: state, Host: "test"})
	if err != nil {
		t.Fatal(err)
	}
	now := int(time.Now().Unix())
	pr, pw := io.Pipe()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- w.RunReader(ctx, pr) }()
	pw.Write([]byte(profileEvent(now, 1, true)))
	cancel()
	pw.Write([]byte(profileEvent(now, 2, true)))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := ids(t, state); len(got) != 2 {
		t.Errorf("trail %q, want both events", got)
	}
	if _, err := os.Stat(filepath.Join(state, serialsFile)); err != nil {
		t.Errorf("input read to its end, yet no marks: %v", err)
	}
}

// trailGaps are the trail's audit.gap events, as "SEVERITY: MESSAGE".
func trailGaps(t *testing.T, state string) []string {
	t.Helper()
	var gaps []string
	for _, e := range readTrail(t, state) {
		if e.Gotrail.Kind == event.KindGap {
			gaps = append(gaps, e.Gotrail.Severity+": "+e.Message)
		}
	}
	return gaps
}

// readTrail is every event in the trail of state, in order.
func readTrail(t *testing.T, state string) []event.Event {
	t.Helper()
	var evs []event.Event
	if err := trail.Read(state, func(line []byte) error {
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		evs = append(evs, e)
		return nil
	}); err != nil {
		t.Fatalf("read the trail in %s: %v", state, err)
	}
	return evs
}

// TestPluginEndsWithARestart: a plugin's input ends after its auditd's
// DAEMON_END, and the next auditd's DAEMON_START goes to the next plugin.
// Another process running auditd's program in the kernel within the
// restart's moments makes the stop a restart (info, no gap). The old
// auditd (the plugin's parent, still the kernel's until it exits), none,
// or another program leave it a stop (critical, and the gap that says
// changes are not recorded); so does a plugin in a systemd service, where
// the next auditd cannot start before it is gone.
func TestPluginEndsWithARestart(t *testing.T) {
	parent := os.Getppid()
	for _, tc := range []struct {
		name     string
		kernel   []int // the audit daemon the kernel reports, poll by poll
		service  bool
		action   string
		severity string
	}{
		{"a new auditd takes over", []int{parent, parent, 0, 4242}, false, "restart", "info"},
		{"none does", []int{parent, 0}, false, "end", "critical"},
		{"another program", []int{5555}, false, "end", "critical"},
		{"the old one, still", []int{parent}, false, "end", "critical"},
		{"in a systemd service", []int{4242}, true, "end", "critical"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			state, proc := t.TempDir(), t.TempDir()
			for pid, exe := range map[int]string{parent: "/usr/sbin/auditd", 4242: "/usr/sbin/auditd", 5555: "/tmp/auditd"} {
				dir := filepath.Join(proc, "proc", fmt.Sprint(pid))
				os.MkdirAll(dir, 0o755)
				os.Symlink(exe, filepath.Join(dir, "exe"))
			}
			if tc.service {
				os.MkdirAll(filepath.Join(proc, "proc", "self"), 0o755)
				os.WriteFile(filepath.Join(proc, "proc", "self", "cgroup"), []byte("0::/system.slice/auditd.service\n"), 0o644)
			}
			polls := 0
			w, err := New(Options{StateDir: state, Host: "test", Proc: enrich.Proc{Root: proc},
				AuditdPID: func() (int, error) {
					pid := tc.kernel[min(polls, len(tc.kernel)-1)]
					polls++
					return pid, nil
				}})
			if err != nil {
				t.Fatal(err)
			}
			w.coal.RestartQuiet = 500 * time.Millisecond // the polls above take 150 ms
			now := int(time.Now().Unix())
			in := profileEvent(now, 1, true) + fmt.Sprintf("type=DAEMON_END msg=audit(%d.000:7001): op=terminate auid=0 uid=0 ses=4294967295 pid=1 subj=unconfined res=success\n", now)
			if err := w.RunReader(context.Background(), strings.NewReader(in)); err != nil {
				t.Fatal(err)
			}
			var daemon []string
			stopGap := false
			for _, e := range readTrail(t, state) {
				if e.Auditd.MessageType == "daemon_end" {
					daemon = append(daemon, e.Event.Action+" "+e.Gotrail.Severity)
				}
				stopGap = stopGap || strings.HasPrefix(e.Message, "auditd stopped")
			}
			want, wantGap := tc.action+" "+tc.severity, tc.action == "end"
			if len(daemon) != 1 || daemon[0] != want || stopGap != wantGap {
				t.Errorf("auditd's end: %q, stop gap %v; want %q, %v", daemon, stopGap, want, wantGap)
			}
		})
	}
}

// TestStopWaitEndsOnASecondSignal: while the plugin waits to see whether a
// new auditd takes over, the stop is only in memory; a signal after
// auditd's own (a shutdown killing every process, SIGKILL to follow) ends
// the wait at once and the stop is recorded.
func TestStopWaitEndsOnASecondSignal(t *testing.T) {
	state, proc := t.TempDir(), t.TempDir()
	dir := filepath.Join(proc, "proc", fmt.Sprint(os.Getppid()))
	os.MkdirAll(dir, 0o755)
	os.Symlink("/usr/sbin/auditd", filepath.Join(dir, "exe"))
	var polls atomic.Int32
	w, err := New(Options{StateDir: state, Host: "test", Proc: enrich.Proc{Root: proc},
		AuditdPID: func() (int, error) { polls.Add(1); return 0, nil }})
	if err != nil {
		t.Fatal(err)
	}
	now := int(time.Now().Unix())
	in := profileEvent(now, 1, true) + fmt.Sprintf("type=DAEMON_END msg=audit(%d.000:7001): op=terminate auid=0 uid=0 ses=4294967295 pid=1 subj=unconfined res=success\n", now)
	done := make(chan error)
	start := time.Now()
	go func() { done <- w.RunReader(context.Background(), strings.NewReader(in)) }()
	for polls.Load() < 3 {
		runtime.Gosched()
	}
	// auditd's own signal, then a shutdown's (two kinds: two of one kind
	// may reach the process as one); the wait's signal.Notify takes both
	syscall.Kill(os.Getpid(), syscall.SIGTERM)
	syscall.Kill(os.Getpid(), syscall.SIGINT)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took >= audit.RestartQuiet {
		t.Errorf("the wait ran its %v despite the signal (%v)", audit.RestartQuiet, took)
	}
	var stop bool
	for _, e := range readTrail(t, state) {
		stop = stop || e.Auditd.MessageType == "daemon_end" && e.Gotrail.Severity == "critical"
	}
	if !stop {
		t.Error("the stop is not in the trail")
	}
}
