package rules

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// sbin is where Debian puts auditd's programs, searched after PATH: a root
// shell from su or sudo often has no sbin in PATH.
var sbin = []string{"/usr/sbin", "/sbin"}

func findBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbin {
		if fi, err := os.Stat(d + "/" + name); err == nil && !fi.IsDir() {
			return d + "/" + name, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or %s", name, strings.Join(sbin, ", "))
}

// ErrNoAuditd says how to install what gotrail needs.
var ErrNoAuditd = errors.New("auditd is not installed: install it with `apt-get install auditd` (Debian, Ubuntu) or `dnf install audit` (Fedora, RHEL), then run gotrail setup again")

// AuditdInstalled reports whether auditd and auditctl are on this host.
func AuditdInstalled() error {
	for _, name := range []string{"auditd", "auditctl"} {
		if _, err := findBin(name); err != nil {
			return fmt.Errorf("%w (%v)", ErrNoAuditd, err)
		}
	}
	return nil
}

// StartAuditd starts auditd the way this host would when the kernel reports
// no audit daemon: systemctl where systemd runs, else the init script
// through service, else auditd itself (it detaches). It waits until the
// kernel reports the daemon's pid, and says what it did.
func StartAuditd(ctl Auditctl, timeout time.Duration) (string, error) {
	st, err := ctl.Status()
	if err != nil {
		return "", err
	}
	if st.PID != 0 {
		return "auditd runs (pid " + strconv.Itoa(st.PID) + ")", nil
	}
	var cmd []string
	switch {
	case isDir("/run/systemd/system"):
		cmd = []string{"systemctl", "start", "auditd"}
	case isFile("/etc/init.d/auditd") && hasBin("service"):
		cmd = []string{"service", "auditd", "start"}
	default:
		bin, err := findBin("auditd")
		if err != nil {
			return "", fmt.Errorf("%w (%v)", ErrNoAuditd, err)
		}
		cmd = []string{bin}
	}
	out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
	how := strings.Join(cmd, " ")
	if err != nil {
		return "", fmt.Errorf("start auditd with %s: %v: %s", how, err, strings.TrimSpace(string(out)))
	}
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		st, err := ctl.Status()
		if err == nil && st.PID != 0 {
			return "started auditd with " + how + " (pid " + strconv.Itoa(st.PID) + ")", nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("started auditd with %s, but after %v the kernel reports no audit daemon (auditctl -s: pid 0); see its messages in syslog or run auditd -f", how, timeout)
		}
	}
}

func isDir(p string) bool  { fi, err := os.Stat(p); return err == nil && fi.IsDir() }
func isFile(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Mode().IsRegular() }
func hasBin(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}

// ReloadAuditd asks the kernel's audit daemon to reread its configuration
// and plugins (SIGHUP), then waits until a plugin running bin is among its
// children and stays a second (start: not one that dies and is restarted),
// or until the plugins running bin before the reload are gone (stop), and
// says so. auditd ignores signals while it starts, so it waits first until
// auditd catches SIGHUP; a reload still only asks, so the signal is sent
// again every few seconds until the timeout, which is an error saying what
// to do.
func ReloadAuditd(ctl Auditctl, bin string, start bool, timeout time.Duration) (string, error) {
	deadline := time.Now().Add(timeout)
	st, err := ctl.Status()
	if err != nil {
		return "", err
	}
	if st.PID == 0 {
		return "auditd is not running: nothing to reload", nil
	}
	for !CatchesSignal(st.PID, syscall.SIGHUP) {
		if time.Now().After(deadline) {
			return "", fmt.Errorf("auditd (pid %d) did not come to handle SIGHUP in %v: it did not reload; restart it (service auditd restart, systemctl restart auditd)", st.PID, timeout)
		}
		time.Sleep(20 * time.Millisecond)
	}
	r := &reload{ctl: ctl, auditd: st.PID, bin: bin, timeout: timeout}
	if start {
		return r.untilStarted(deadline)
	}
	return r.untilStopped(deadline)
}

// reload is one ReloadAuditd: whom it signals and how often it has.
type reload struct {
	ctl     Auditctl
	auditd  int
	bin     string
	timeout time.Duration
	signals int
	sent    time.Time
}

// signal sends SIGHUP when the last was a while ago, to the daemon the
// kernel reports now (one that exited is an error, not a stale pid).
func (r *reload) signal() error {
	const resend = 3 * time.Second
	if time.Since(r.sent) < resend {
		return nil
	}
	if r.signals > 0 {
		st, err := r.ctl.Status()
		if err != nil {
			return err
		}
		if st.PID != r.auditd {
			return fmt.Errorf("auditd (pid %d) exited while it was told to reload (the kernel's audit daemon is now pid %d)", r.auditd, st.PID)
		}
	}
	if err := syscall.Kill(r.auditd, syscall.SIGHUP); err != nil {
		return fmt.Errorf("signal auditd (pid %d) to reload: %w", r.auditd, err)
	}
	r.sent, r.signals = time.Now(), r.signals+1
	return nil
}

func (r *reload) said(what string) string {
	s := fmt.Sprintf("told auditd (pid %d) to reload: %s", r.auditd, what)
	if r.signals > 1 {
		s += fmt.Sprintf(", asked %d times", r.signals)
	}
	return s
}

func (r *reload) untilStarted(deadline time.Time) (string, error) {
	seen, since := 0, time.Time{}
	for ; ; time.Sleep(50 * time.Millisecond) {
		if err := r.signal(); err != nil {
			return "", err
		}
		current, stale := pluginsOf(r.auditd, r.bin)
		switch {
		case len(current) == 0:
			seen = 0
		case current[0] != seen:
			seen, since = current[0], time.Now()
		case time.Since(since) >= time.Second:
			return r.said(fmt.Sprintf("it started the plugin (pid %d)", seen)), nil
		}
		if time.Now().After(deadline) {
			if len(stale) > 0 {
				return "", fmt.Errorf("auditd (pid %d) still runs an old gotrail as its plugin (pid %d; %s was replaced since): restart auditd to start the new one (service auditd restart, systemctl restart auditd)", r.auditd, stale[0], r.bin)
			}
			return "", fmt.Errorf("told auditd (pid %d) to reload %d times, and in %v it did not start the plugin %s or it did not stay up: see auditd's and gotrail's messages in syslog, or restart auditd (service auditd restart, systemctl restart auditd)",
				r.auditd, r.signals, r.timeout, r.bin)
		}
	}
}

func (r *reload) untilStopped(deadline time.Time) (string, error) {
	if r.bin == "" {
		if err := r.signal(); err != nil {
			return "", err
		}
		return r.said("it stops the plugin (not waited for: its configuration named no program)"), nil
	}
	current, stale := pluginsOf(r.auditd, r.bin)
	running := append(current, stale...)
	for ; ; time.Sleep(50 * time.Millisecond) {
		if err := r.signal(); err != nil {
			return "", err
		}
		running = slices.DeleteFunc(running, func(pid int) bool { return parentOf(pid) != r.auditd })
		if len(running) == 0 {
			return r.said("it stopped the plugin"), nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("told auditd (pid %d) to reload %d times, and the plugin (pid %d) still runs: see gotrail's messages in syslog, or restart auditd (service auditd restart, systemctl restart auditd)", r.auditd, r.signals, running[0])
		}
	}
}

// CatchesSignal reports whether a process has a handler for sig (its bit
// in SigCgt of /proc/PID/status): auditd ignores every signal until its
// event loop is set up, after it has told the kernel its pid, and a signal
// sent in that window is lost.
func CatchesSignal(pid int, sig syscall.Signal) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return false
	}
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(line, "SigCgt:"); ok {
			mask, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
			return err == nil && mask&(1<<(uint(sig)-1)) != 0
		}
	}
	return false
}

// pluginsOf are the children of parent that run bin (the same file, by
// any path), and those that run a program deleted from bin's path since
// they started (an upgrade replaced it).
func pluginsOf(parent int, bin string) (current, stale []int) {
	want, err := os.Stat(bin)
	if err != nil {
		return nil, nil
	}
	real := bin
	if p, err := filepath.EvalSymlinks(bin); err == nil {
		real = p
	}
	entries, _ := os.ReadDir("/proc")
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || parentOf(pid) != parent {
			continue
		}
		exe := fmt.Sprintf("/proc/%d/exe", pid)
		if fi, err := os.Stat(exe); err == nil && os.SameFile(fi, want) {
			current = append(current, pid)
		} else if link, err := os.Readlink(exe); err == nil && link == real+" (deleted)" {
			stale = append(stale, pid)
		}
	}
	return current, stale
}

// parentOf reads a process's parent from /proc/PID/stat, 0 when unknown.
// The name in parentheses may hold anything, spaces and ")" too: the
// fields start after its last ")".
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 2 {
		return 0
	}
	ppid, _ := strconv.Atoi(f[1])
	return ppid
}
