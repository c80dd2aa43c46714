package auditdtest

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// Host is the audit subsystem handed to one test that starts an audit daemon
// the way a host does (gotrail setup, an init script) rather than through
// Start: no daemon runs when TakeHost returns, and when the test ends the
// daemon the kernel then reports is stopped by its pid, the rules added
// since are deleted and the kernel's settings are put back.
type Host struct {
	t      testing.TB
	lock   *hostLock
	taken  bool     // the host was found free and its state recorded
	before []string // auditctl -l
	status string   // auditctl -s
}

// settings are the `auditctl -s` lines a test may change, with the flag that
// sets each.
var settings = map[string]string{
	"enabled": "-e", "failure": "-f", "rate_limit": "-r", "backlog_limit": "-b", "backlog_wait_time": "--backlog_wait_time",
}

// TakeHost waits until no other test holds the audit daemon and takes it.
// Call Required first.
func TakeHost(t testing.TB) *Host {
	t.Helper()
	lockProcess(t)
	h := &Host{t: t}
	t.Cleanup(h.release)
	takeFreeHost(t, func(l *hostLock) { h.lock = l })
	out, err := auditctl("-s")
	if err != nil {
		t.Fatalf("auditdtest: %v", err)
	}
	h.status = string(out)
	if h.before, err = loadedRules(); err != nil {
		t.Fatalf("auditdtest: %v", err)
	}
	h.taken = true
	return h
}

func loadedRules() ([]string, error) {
	out, err := auditctl("-l")
	if err != nil {
		return nil, err
	}
	var rules []string
	for _, l := range strings.Split(string(out), "\n") {
		if l = strings.TrimSpace(l); l != "" && l != "No rules" {
			rules = append(rules, l)
		}
	}
	return rules, nil
}

// release stops the daemon the kernel reports, deletes the rules added and
// restores the settings, then lets the next test have the daemon.
func (h *Host) release() {
	if !h.taken {
		// TakeHost failed before it recorded anything: whatever runs is
		// not ours to stop, and no rule is ours to delete
		var err error
		if h.lock != nil {
			err = h.lock.release()
		}
		unlockProcess()
		if err != nil {
			h.t.Errorf("auditdtest: releasing the host: %v", err)
		}
		return
	}
	var errs []error
	if st, err := readStatus(); err == nil && st.pid != 0 && alive(st.pid) {
		errs = append(errs, stopDaemon(st.pid))
	}
	now, err := loadedRules()
	errs = append(errs, err)
	for _, r := range now {
		if slices.Contains(h.before, r) {
			continue
		}
		del, err := deleteArgs(strings.Fields(r))
		if err == nil {
			_, err = auditctl(del...)
		}
		if err != nil && !isNoSuchRule(err) {
			errs = append(errs, fmt.Errorf("deleting %q: %w", r, err))
		}
	}
	// a daemon that loaded audit.rules began with -D: the rules the host
	// had go back, in their order
	for _, r := range h.before {
		if slices.Contains(now, r) {
			continue
		}
		if _, err := auditctl(strings.Fields(r)...); err != nil {
			errs = append(errs, fmt.Errorf("restoring %q: %w", r, err))
		}
	}
	errs = append(errs, restoreSettings(h.status))
	errs = append(errs, h.lock.release())
	unlockProcess()
	if err := errors.Join(errs...); err != nil {
		h.t.Errorf("auditdtest: releasing the host: %v", err)
	}
}

// stopDaemon ends an audit daemon that is not our child, by its pid.
func stopDaemon(pid int) error {
	if err := syscall.Kill(pid, syscall.SIGTERM); err != nil && !errors.Is(err, syscall.ESRCH) {
		return fmt.Errorf("SIGTERM to auditd pid %d: %w", pid, err)
	}
	for deadline := time.Now().Add(termTimeout); alive(pid); time.Sleep(pollEvery) {
		if time.Now().After(deadline) {
			syscall.Kill(pid, syscall.SIGKILL)
			break
		}
	}
	return waitUnregistered(pid)
}

// restoreSettings puts back the settings of an `auditctl -s` output.
func restoreSettings(status string) error {
	out, err := auditctl("-s")
	if err != nil {
		return err
	}
	now := map[string]string{}
	for _, l := range strings.Split(string(out), "\n") {
		if f := strings.Fields(l); len(f) >= 2 {
			now[f[0]] = f[1]
		}
	}
	var errs []error
	for _, l := range strings.Split(status, "\n") {
		f := strings.Fields(l)
		if len(f) < 2 || settings[f[0]] == "" || now[f[0]] == f[1] {
			continue
		}
		if _, err := auditctl(settings[f[0]], f[1]); err != nil {
			errs = append(errs, fmt.Errorf("restoring %s %s: %w", f[0], f[1], err))
		}
	}
	return errors.Join(errs...)
}

// Status is auditctl -s, for the test's messages.
func Status() string {
	out, err := auditctl("-s")
	if err != nil {
		return err.Error()
	}
	return string(out)
}

// DaemonPID is the audit daemon's pid as the kernel reports it, 0 for none.
func DaemonPID() int {
	st, err := readStatus()
	if err != nil {
		return 0
	}
	return st.pid
}

// Restart stops the test's auditd and starts it again on the same
// configuration and log, as `service auditd restart` does: DAEMON_END, then
// DAEMON_START of the new daemon.
func (a *Auditd) Restart(t testing.TB) {
	t.Helper()
	if err := a.proc.terminate(); err != nil {
		t.Fatalf("auditdtest: restart: %v", err)
	}
	proc, err := spawn(a.dir)
	if err != nil {
		t.Fatalf("auditdtest: restart: %v", err)
	}
	a.proc = proc
	a.host.update(func(j *journal) { j.AuditdPID = proc.pid() })
	if err := proc.waitReady(a.logPath, startTimeout); err != nil {
		t.Fatalf("auditdtest: restart: %v", err)
	}
}
