// Package auditdtest drives the real Linux audit daemon (Debian's auditd) for
// gotrail's integration tests.
//
// The kernel accepts exactly one audit daemon at a time, and audit rules and the
// enabled flag are global kernel state. The harness therefore hands out the
// daemon one test at a time:
//
//   - Start blocks until no other test holds the daemon, then starts a fresh,
//     private auditd for the calling test (its own directory, auditd.conf and
//     log file, so a test never sees another test's records). Start holds the
//     daemon until Stop, which Start registers with t.Cleanup, so a test that
//     fails or calls t.FailNow still releases it.
//   - Within one test binary, serialisation is a package-level mutex: tests may
//     call t.Parallel, their Start calls simply queue. Calling Start again from
//     the holding test, or from one of its subtests, would deadlock and is
//     reported as a test failure instead.
//   - Across test binaries (go test ./... runs packages in parallel processes)
//     serialisation is an flock(2) on LockPath. The same file records what the
//     holder changed in the kernel (rules, enabled flag, backlog limit, daemon
//     pid) so that the next Start undoes the changes of a test process that died
//     without reaching Stop (for example killed by go test -timeout).
//
// Every test that uses the harness calls Required first: without
// GOTRAIL_INTEGRATION=1 it skips the test (the host is never touched), with it
// a missing part is a test failure.
//
// A login user is simulated the way the kernel sees one: RunAsLogin and RunAs
// start a command whose loginuid (auid) is set, optionally with a different
// uid/gid, without cgo and without a wrapper shell.
package auditdtest

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// EnvIntegration is the environment variable under which the harness runs at
// all, and a missing part (no auditd, not root, another auditd running) fails
// the test. `make test` sets it to 1.
const EnvIntegration = integration.Env

// Timeouts. They are generous because a loaded CI machine is slow, but finite
// so that a wedged daemon fails the test instead of hanging it.
const (
	startTimeout = 15 * time.Second // auditd registered and DAEMON_START written; ~50 ms normally
	termTimeout  = 10 * time.Second // SIGTERM to exit, before SIGKILL
	killTimeout  = 5 * time.Second  // SIGKILL to exit
	// DefaultWait is the timeout WaitFor and WaitForRecord use when given 0.
	DefaultWait = 10 * time.Second
	pollEvery   = 10 * time.Millisecond
)

// minBacklog is the kernel backlog_limit the harness guarantees while it runs.
// Without rules loaded the kernel default is 64 (Debian's audit.rules raises it
// to 8192 at boot, but we do not load that file): a burst of events from a test
// would then be dropped ("lost") instead of reaching the log.
const minBacklog = 8192

// markerName is a file in every harness-owned config directory. It lets
// Available tell a sibling test process's auditd (wait for it) from a foreign
// auditd such as the host's own (fail: only one can run).
const markerName = "gotrail-auditdtest"

// sbinDirs are searched after PATH because `go test` run via sudo or from a
// non-login root shell often has no sbin directory in PATH. A variable so that
// tests can simulate missing binaries.
var sbinDirs = []string{"/usr/sbin", "/sbin"}

// Process-wide serialisation: procMu is held from Start to Stop; holder is the
// test holding it, read only to turn an obvious deadlock into an error.
var (
	procMu   sync.Mutex
	holderMu sync.Mutex
	holder   testing.TB
)

// Auditd is a private auditd started by Start. Its methods may be called from
// any goroutine; the daemon belongs to the test that started it until Stop.
type Auditd struct {
	t       testing.TB
	dir     string
	logPath string
	host    *hostLock
	proc    *daemon
	began   time.Time

	// Kernel settings found at Start, put back by Stop if they differ then
	// (whether the harness or the test changed them).
	prevEnabled, prevBacklog int

	mu      sync.Mutex // guards the fields below
	rules   []*rule
	pending *rule // being added; journaled so a crash mid-add is undone
	stopped bool

	stopOnce sync.Once
}

// Available reports whether the real auditd can be used by this process: the
// auditd and auditctl binaries exist, we are root, the kernel audits syscalls,
// and no auditd other than a gotrail test harness is registered with the
// kernel (while another test process holds the harness, its daemon is not
// judged: Start waits for it). The error says what is missing and how to fix
// it.
func Available() error {
	var missing []string
	for _, name := range []string{"auditd", "auditctl"} {
		if _, err := lookBin(name); err != nil {
			missing = append(missing, name)
		}
	}
	if len(missing) > 0 {
		return fmt.Errorf("%s not found in PATH or %s: install the Debian package with `apt-get install auditd`",
			strings.Join(missing, " and "), strings.Join(sbinDirs, ", "))
	}
	if os.Geteuid() != 0 {
		return fmt.Errorf("must run as root (euid is %d): auditd and auditctl need CAP_AUDIT_CONTROL", os.Geteuid())
	}
	if _, err := os.Stat("/proc/self/loginuid"); err != nil {
		return fmt.Errorf("kernel without syscall auditing (CONFIG_AUDITSYSCALL): %w", err)
	}
	st, err := readStatus()
	if err != nil {
		return fmt.Errorf("kernel audit subsystem not usable: %w", err)
	}
	if st.enabled == 2 {
		return errors.New("kernel audit configuration is locked (`auditctl -s` shows enabled 2, set by `auditctl -e 2`): rules cannot be added or removed until reboot")
	}
	if err := foreignDaemon(st.pid); err != nil {
		if owner := lockOwner(); owner != 0 && owner != os.Getpid() {
			// Another test process holds the harness, and whatever daemon
			// runs meanwhile is its business (a test may run an unmarked
			// daemon on purpose). Start waits for the lock and checks again.
			return nil
		}
		return err
	}
	return nil
}

// Required lets the test go on only where it may use the real auditd and
// the kernel's audit rules: under GOTRAIL_INTEGRATION=1, where a missing part
// fails the test; without it the test is skipped (integration.Require).
func Required(t testing.TB) {
	t.Helper()
	integration.Require(t, "a real auditd and the kernel's audit rules", Available())
}

// Start waits until no other test holds the audit daemon, then starts a
// private auditd for t and returns once the kernel sends it events, its
// DAEMON_START record is in the log and it handles SIGTERM. It enables
// auditing if it was disabled and raises the kernel backlog limit to 8192 if
// it was lower; Stop puts back the values found at Start, also if the test
// changed them. Stop runs at the end of t (t.Cleanup) if not called earlier.
//
// Call Required first; Start fails the test if the daemon cannot be used.
func Start(t testing.TB) *Auditd {
	t.Helper()
	return StartWithPlugins(t, nil)
}

// StartWithPlugins is Start with plugin configurations (file name ->
// content) in the daemon's private plugins.d: auditd starts those plugins
// and feeds them its records, as it does laurel or gotrail's own.
func StartWithPlugins(t testing.TB, plugins map[string]string) *Auditd {
	t.Helper()
	if err := Available(); err != nil {
		t.Fatalf("auditdtest: cannot start auditd: %v (call auditdtest.Required before Start)", err)
	}
	// t.TempDir before taking any lock: it can fail the test, and its removal
	// must be registered before Stop so that Stop (LIFO) runs first and the
	// daemon is gone before its directory is removed.
	dir := t.TempDir()
	if strings.ContainsAny(dir, " \t\n#\"'") {
		// auditd.conf values are whitespace-separated tokens without quoting.
		t.Fatalf("auditdtest: temporary directory %q has characters auditd.conf cannot hold; set TMPDIR to a plain path", dir)
	}

	lockProcess(t)
	a := &Auditd{t: t, dir: dir, logPath: filepath.Join(dir, "audit.log"), began: time.Now()}
	t.Cleanup(a.Stop)

	st := takeFreeHost(t, func(h *hostLock) { a.host = h })

	if err := writeConfig(dir, a.logPath, true); err != nil {
		t.Fatalf("auditdtest: %v", err)
	}
	for name, conf := range plugins {
		// auditd skips plugin files that others can write
		if err := os.WriteFile(filepath.Join(dir, "plugins.d", name), []byte(conf), 0o640); err != nil {
			t.Fatalf("auditdtest: plugin %s: %v", name, err)
		}
	}
	a.host.update(func(j *journal) { j.AuditdDir = dir })
	proc, err := spawn(dir)
	if err != nil {
		t.Fatalf("auditdtest: %v", err)
	}
	a.proc = proc
	a.host.update(func(j *journal) { j.AuditdPID = proc.pid() })
	if err := proc.waitReady(a.logPath, startTimeout); err != nil {
		t.Fatalf("auditdtest: %v", err)
	}

	if err := a.adjustKernel(st); err != nil {
		t.Fatalf("auditdtest: %v", err)
	}
	t.Logf("auditdtest: auditd pid %d ready in %v, log %s", proc.pid(), time.Since(a.began).Round(time.Millisecond), a.logPath)
	return a
}

// takeFreeHost takes the cross-process lock (handed to keep at once, so
// that the caller's cleanup releases it whatever fails next) and returns the
// kernel's status, failing t when an audit daemon is registered. Checked
// under the lock: a foreign daemon may have started since Available, and a
// harness daemon registered now is a leftover nobody owns.
func takeFreeHost(t testing.TB, keep func(*hostLock)) status {
	t.Helper()
	host, note, err := acquireHostLock(t.Logf)
	if err != nil {
		t.Fatalf("auditdtest: %v", err)
	}
	keep(host)
	if note != "" {
		t.Logf("auditdtest: %s", note)
	}
	st, err := readStatus()
	if err != nil {
		t.Fatalf("auditdtest: %v", err)
	}
	if st.pid != 0 && alive(st.pid) {
		t.Fatalf("auditdtest: another auditd (pid %d: %s) is registered with the kernel; only one audit daemon can run at a time, stop it first",
			st.pid, cmdline(st.pid))
	}
	return st
}

// lockProcess takes procMu for t, failing t instead of deadlocking when t or
// its parent already holds it (the holder's Stop would only run after t ends).
func lockProcess(t testing.TB) {
	t.Helper()
	holderMu.Lock()
	h := holder
	holderMu.Unlock()
	if h != nil && (t.Name() == h.Name() || strings.HasPrefix(t.Name(), h.Name()+"/")) {
		t.Fatalf("auditdtest: Start called while %s still holds the auditd: call Stop first or pass the *Auditd down (only one auditd can run)", h.Name())
	}
	procMu.Lock()
	holderMu.Lock()
	holder = t
	holderMu.Unlock()
}

func unlockProcess() {
	holderMu.Lock()
	holder = nil
	holderMu.Unlock()
	procMu.Unlock()
}

// adjustKernel turns auditing on and raises the backlog limit. The values
// found are journaled first, so that Stop (or, after a crash, the next Start)
// can put them back.
func (a *Auditd) adjustKernel(st status) error {
	a.prevEnabled, a.prevBacklog = st.enabled, st.backlogLimit
	a.host.update(func(j *journal) {
		e, b := st.enabled, st.backlogLimit
		j.EnabledBefore, j.BacklogBefore = &e, &b
	})
	if st.enabled == 0 {
		if _, err := auditctl("-e", "1"); err != nil {
			return fmt.Errorf("enabling auditing: %w", err)
		}
	}
	if st.backlogLimit < minBacklog {
		if _, err := auditctl("-b", strconv.Itoa(minBacklog)); err != nil {
			return fmt.Errorf("raising the backlog limit: %w", err)
		}
	}
	return nil
}

// Stop removes the rules added through the harness, restores the kernel's
// enabled flag and backlog limit, terminates this harness's auditd (SIGTERM to
// its pid, SIGKILL after 10s), checks the kernel no longer lists it, and lets
// the next test start one. Problems are reported with t.Errorf of the test
// that called Start. Stop is idempotent and runs automatically at the end of
// that test.
func (a *Auditd) Stop() {
	a.stopOnce.Do(a.stop)
}

func (a *Auditd) stop() {
	var errs []error
	// Rules first, while the daemon still runs: their removal is then logged
	// (CONFIG_CHANGE) like any other, and no event matching them can reach the
	// kernel's printk fallback after the daemon has gone.
	a.mu.Lock()
	a.stopped = true
	rules := append([]*rule(nil), a.rules...)
	a.mu.Unlock()
	for i := len(rules) - 1; i >= 0; i-- {
		if err := a.removeRule(rules[i]); err != nil {
			errs = append(errs, err)
		}
	}
	// Let the records of the removals (and of anything else the test did)
	// reach the log: SIGTERM makes auditd exit without reading what is still
	// queued in the kernel, and disabling auditing drops the sync marker.
	if a.proc != nil && !a.proc.exited() {
		if err := a.sync(termTimeout); err != nil && !errors.Is(err, errAuditingOff) {
			errs = append(errs, err)
		}
	}
	errs = append(errs, a.restoreKernel()...)
	if a.proc != nil {
		if err := a.proc.terminate(); err != nil {
			errs = append(errs, err)
		}
	}
	if a.host != nil {
		// Only a clean stop clears the journal: whatever failed above is
		// retried by the next Start.
		if len(errs) == 0 {
			a.host.update(func(j *journal) { *j = journal{} })
		}
		if err := a.host.release(); err != nil {
			errs = append(errs, err)
		}
	}
	unlockProcess()
	if err := errors.Join(errs...); err != nil {
		a.t.Errorf("auditdtest: Stop: %v", err)
	}
}

// restoreKernel puts back the enabled flag and backlog limit found at Start.
func (a *Auditd) restoreKernel() []error {
	if a.prevBacklog == 0 {
		return nil // Start failed before adjustKernel: nothing was changed
	}
	st, err := readStatus()
	if err != nil {
		return []error{err}
	}
	var errs []error
	if st.enabled != a.prevEnabled {
		if _, err := auditctl("-e", strconv.Itoa(a.prevEnabled)); err != nil {
			errs = append(errs, fmt.Errorf("restoring enabled=%d: %w", a.prevEnabled, err))
		}
	}
	if st.backlogLimit != a.prevBacklog {
		if _, err := auditctl("-b", strconv.Itoa(a.prevBacklog)); err != nil {
			errs = append(errs, fmt.Errorf("restoring backlog_limit=%d: %w", a.prevBacklog, err))
		}
	}
	return errs
}

// errAuditingOff is returned by sync when auditing is disabled: the kernel
// then drops user messages, so there is no marker to wait for.
var errAuditingOff = errors.New("auditing is disabled (auditctl -e 0), so the kernel drops the sync marker")

// syncSeq makes sync markers unique within the process.
var syncSeq struct {
	sync.Mutex
	n int
}

// Sync waits until every record the kernel produced before the call is in
// the log, so that a test can check that something was NOT logged, or read
// the log with Snapshot, without a race. It sends a user message (`auditctl
// -m`) and waits for it: the kernel queues records in order. The message
// stays in the log as a USER record with msg='gotrail-auditdtest-sync-PID-N'
// (Stop sends one too). It fails t if auditing is disabled, as the kernel
// then drops the message.
func (a *Auditd) Sync(t testing.TB) {
	t.Helper()
	if err := a.sync(DefaultWait); err != nil {
		t.Fatalf("auditdtest: Sync: %v", err)
	}
}

func (a *Auditd) sync(timeout time.Duration) error {
	st, err := readStatus()
	if err != nil {
		return err
	}
	if st.enabled == 0 {
		return errAuditingOff
	}
	syncSeq.Lock()
	syncSeq.n++
	marker := fmt.Sprintf("gotrail-auditdtest-sync-%d-%d", os.Getpid(), syncSeq.n)
	syncSeq.Unlock()
	if _, err := auditctl("-m", marker); err != nil {
		return fmt.Errorf("sending the sync marker: %w", err)
	}
	deadline := time.Now().Add(timeout)
	for {
		b, err := os.ReadFile(a.logPath)
		if err != nil {
			return fmt.Errorf("reading the audit log: %w", err)
		}
		if bytes.Contains(b, []byte(marker)) {
			return nil
		}
		if a.proc.exited() {
			return fmt.Errorf("auditd pid %d exited (%v) before the sync marker reached the log", a.proc.pid(), a.proc.waitErr)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sync marker %s not in the log after %v", marker, timeout)
		}
		time.Sleep(pollEvery)
	}
}

// Rotate makes auditd rotate its log (SIGUSR1, as logrotate setups do):
// audit.log becomes audit.log.1 and a new audit.log is started. It returns
// once the new file is there.
func (a *Auditd) Rotate(t testing.TB) {
	t.Helper()
	before, err := os.Stat(a.logPath)
	if err != nil {
		t.Fatalf("auditdtest: Rotate: %v", err)
	}
	if err := syscall.Kill(a.proc.pid(), syscall.SIGUSR1); err != nil {
		t.Fatalf("auditdtest: Rotate: signal auditd pid %d: %v", a.proc.pid(), err)
	}
	deadline := time.Now().Add(DefaultWait)
	for {
		if now, err := os.Stat(a.logPath); err == nil && !os.SameFile(before, now) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("auditdtest: Rotate: %s not rotated after %v", a.logPath, DefaultWait)
		}
		time.Sleep(pollEvery)
	}
}

// LogPath is the daemon's log file (log_format ENRICHED).
func (a *Auditd) LogPath() string { return a.logPath }

// Dir is the daemon's private directory: auditd.conf, the log, an empty
// plugins.d, and auditd.out (the daemon's stdout and stderr).
func (a *Auditd) Dir() string { return a.dir }

// PID is the daemon's process id.
func (a *Auditd) PID() int { return a.proc.pid() }

// Snapshot returns the log as it is now. A read error is reported on the test
// that called Start.
func (a *Auditd) Snapshot() []byte {
	b, err := os.ReadFile(a.logPath)
	if err != nil {
		a.t.Errorf("auditdtest: reading the audit log: %v", err)
	}
	return b
}

// WaitForRecord waits until the log has a line containing substr and returns
// the whole log. It fails t after timeout (DefaultWait if 0), showing the end
// of the log. Later records of the same event may not be written yet: see
// WaitForEvent.
func (a *Auditd) WaitForRecord(t testing.TB, substr string, timeout time.Duration) []byte {
	t.Helper()
	return a.waitFor(t, fmt.Sprintf("a line containing %q", substr),
		func(line string) bool { return strings.Contains(line, substr) }, timeout)
}

// WaitFor waits until pred is true for a line of the log (one record, without
// its newline) and returns the whole log. It fails t after timeout
// (DefaultWait if 0), showing the end of the log. Later records of the same
// event may not be written yet: see WaitForEvent.
func (a *Auditd) WaitFor(t testing.TB, pred func(line string) bool, timeout time.Duration) []byte {
	t.Helper()
	return a.waitFor(t, "a line matching the predicate", pred, timeout)
}

// WaitForEvent waits until a line of the log matches pred and the syscall
// event it belongs to is complete, and returns that event's records in log
// order. The kernel writes an event's records one by one and ends every
// syscall event with PROCTITLE, so WaitFor may return before the PATH, CWD or
// PROCTITLE records of the matched line are in the log; WaitForEvent does
// not. Use it for records produced by rules (syscall events), and WaitFor for
// single-record events such as DAEMON_START or USER_* messages, which have
// no PROCTITLE.
func (a *Auditd) WaitForEvent(t testing.TB, pred func(line string) bool, timeout time.Duration) []string {
	t.Helper()
	var id string
	var records []string
	a.waitFor(t, "a complete event with a line matching the predicate", func(line string) bool {
		lid := eventID(line)
		if id == "" && pred(line) && lid != "" {
			id = lid
			// Records of the event written before the matching one.
			records = append(records, a.earlier(id, line)...)
		}
		if id == "" || lid != id {
			return false
		}
		records = append(records, line)
		return strings.HasPrefix(line, "type=PROCTITLE ")
	}, timeout)
	return records
}

// earlier returns the records of event id in the log up to (not including)
// the first line equal to upTo.
func (a *Auditd) earlier(id, upTo string) []string {
	b, _ := os.ReadFile(a.logPath)
	var recs []string
	for _, line := range strings.Split(string(b), "\n") {
		if line == upTo {
			break
		}
		if eventID(line) == id {
			recs = append(recs, line)
		}
	}
	return recs
}

// eventID returns the TIME:SERIAL of a record's msg=audit(TIME:SERIAL), or "".
func eventID(line string) string {
	_, rest, ok := strings.Cut(line, " msg=audit(")
	if !ok {
		return ""
	}
	id, _, ok := strings.Cut(rest, ")")
	if !ok {
		return ""
	}
	return id
}

func (a *Auditd) waitFor(t testing.TB, what string, pred func(string) bool, timeout time.Duration) []byte {
	t.Helper()
	if timeout <= 0 {
		timeout = DefaultWait
	}
	f, err := os.Open(a.logPath)
	if err != nil {
		t.Fatalf("auditdtest: opening the audit log: %v", err)
	}
	defer f.Close()
	// Read incrementally and test each complete line once: flood tests make
	// the log large, and a line still being written must not be judged.
	var buf []byte
	scanned := 0
	chunk := make([]byte, 64<<10)
	deadline := time.Now().Add(timeout)
	for {
		for {
			n, err := f.Read(chunk)
			buf = append(buf, chunk[:n]...)
			if n == 0 || err != nil {
				break
			}
		}
		for {
			nl := bytes.IndexByte(buf[scanned:], '\n')
			if nl < 0 {
				break
			}
			line := string(buf[scanned : scanned+nl])
			scanned += nl + 1
			if pred(line) {
				return buf
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("auditdtest: no %s in %s after %v; log ends with:\n%s", what, a.logPath, timeout, tail(buf, 30))
			return nil
		}
		if a.proc.exited() {
			t.Fatalf("auditdtest: auditd pid %d exited (%v) while waiting for %s; log ends with:\n%s",
				a.proc.pid(), a.proc.waitErr, what, tail(buf, 30))
			return nil
		}
		time.Sleep(pollEvery)
	}
}

// tail returns the last n lines of b, for failure messages.
func tail(b []byte, n int) string {
	lines := strings.Split(strings.TrimRight(string(b), "\n"), "\n")
	if len(lines) > n {
		lines = append([]string{fmt.Sprintf("[%d earlier lines]", len(lines)-n)}, lines[len(lines)-n:]...)
	}
	return strings.Join(lines, "\n")
}

// writeConfig writes dir/auditd.conf and an empty dir/plugins.d. Every value is
// chosen so that the daemon can only ever write its own log: no plugins (so
// Debian's laurel, af_unix and syslog plugins in /etc/audit/plugins.d are not
// started), no TCP listener, no e-mail, and disk actions that never suspend
// logging or halt the machine. marker records the directory as harness-owned.
func writeConfig(dir, logPath string, marker bool) error {
	plugins := filepath.Join(dir, "plugins.d")
	if err := os.Mkdir(plugins, 0o750); err != nil {
		return fmt.Errorf("creating the empty plugin directory: %w", err)
	}
	// auditd 3.0.9 rejects the file unless space_left > admin_space_left
	// (exit status 6), even when both actions are ignore.
	conf := fmt.Sprintf(`# Private auditd configuration written by gotrail's auditdtest harness.
local_events = yes
write_logs = yes
log_file = %s
log_group = root
log_format = ENRICHED
# Records are visible to readers as soon as auditd write()s them; flush only
# decides when they are fsync()ed.
flush = INCREMENTAL_ASYNC
freq = 1
max_log_file = 1024
# rotation happens only when a test asks for it (Rotate: SIGUSR1)
max_log_file_action = ROTATE
num_logs = 5
priority_boost = 4
name_format = NONE
space_left = 2
space_left_action = IGNORE
admin_space_left = 1
admin_space_left_action = IGNORE
disk_full_action = IGNORE
disk_error_action = IGNORE
verify_email = no
action_mail_acct = root
use_libwrap = no
tcp_listen_queue = 5
tcp_max_per_addr = 1
tcp_client_max_idle = 0
transport = TCP
distribute_network = no
q_depth = 2000
overflow_action = IGNORE
max_restarts = 10
plugin_dir = %s
end_of_event_timeout = 2
`, logPath, plugins)
	// auditd refuses a world-writable config file (exit status 6).
	if err := os.WriteFile(filepath.Join(dir, "auditd.conf"), []byte(conf), 0o640); err != nil {
		return fmt.Errorf("writing auditd.conf: %w", err)
	}
	if marker {
		if err := os.WriteFile(filepath.Join(dir, markerName), []byte(strconv.Itoa(os.Getpid())+"\n"), 0o600); err != nil {
			return fmt.Errorf("writing the harness marker: %w", err)
		}
	}
	return nil
}

// daemon is a running auditd child.
type daemon struct {
	cmd     *exec.Cmd
	dir     string
	done    chan struct{} // closed when the process has been reaped
	waitErr error         // valid after done
}

func (d *daemon) pid() int { return d.cmd.Process.Pid }

func (d *daemon) exited() bool {
	select {
	case <-d.done:
		return true
	default:
		return false
	}
}

// spawn starts `auditd -c DIR -n -s nochange`:
//   - -n keeps it in the foreground as our child. (-f would too, but in -f mode
//     auditd 3.0.9 writes the records to stdout instead of log_file.)
//   - -s nochange stops auditd from setting the kernel's enabled flag itself
//     (by default it enables auditing at start and disables it at exit, which
//     would clobber a host whose auditing was already on); the harness does
//     that and restores the previous value.
func spawn(dir string) (*daemon, error) {
	bin, err := lookBin("auditd")
	if err != nil {
		return nil, err
	}
	out, err := os.OpenFile(filepath.Join(dir, "auditd.out"), os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("creating auditd's output file: %w", err)
	}
	defer out.Close() // the child has its own copy
	cmd := exec.Command(bin, "-c", dir, "-n", "-s", "nochange")
	cmd.Dir = dir
	cmd.Stdout, cmd.Stderr = out, out
	// If the test process dies (go test -timeout, SIGKILL), the daemon gets
	// SIGTERM instead of living on holding the kernel.
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGTERM}
	d := &daemon{cmd: cmd, dir: dir, done: make(chan struct{})}
	started := make(chan error, 1)
	go func() {
		// Pdeathsig fires when the *thread* that forked the child exits, and
		// the Go runtime may retire threads. Pin this goroutine to its thread
		// and keep it alive, waiting, exactly as long as the daemon lives.
		runtime.LockOSThread()
		defer runtime.UnlockOSThread()
		if err := cmd.Start(); err != nil {
			started <- err
			return
		}
		started <- nil
		d.waitErr = cmd.Wait()
		close(d.done)
	}()
	if err := <-started; err != nil {
		return nil, fmt.Errorf("starting %s: %w", bin, err)
	}
	return d, nil
}

// waitReady waits until the kernel lists the daemon as its audit pid, the
// daemon's DAEMON_START record is in logPath, and the daemon handles SIGTERM.
// The last matters: auditd 3.0.9 ignores all signals during start-up and
// installs its SIGTERM handler only ~100 ms after writing DAEMON_START; a
// SIGTERM in that window is silently discarded and the daemon runs on.
func (d *daemon) waitReady(logPath string, timeout time.Duration) error {
	deadline := time.Now().Add(timeout)
	pid := d.pid()
	registered, logged := false, false
	needle := []byte(" pid=" + strconv.Itoa(pid) + " ")
	for {
		if d.exited() {
			return d.exitError()
		}
		if !registered {
			st, err := readStatus()
			if err != nil {
				return err
			}
			registered = st.pid == pid
		}
		if registered && !logged {
			if b, err := os.ReadFile(logPath); err == nil {
				for _, line := range bytes.Split(b, []byte("\n")) {
					if bytes.HasPrefix(line, []byte("type=DAEMON_START ")) && bytes.Contains(line, needle) {
						logged = true
						break
					}
				}
			}
		}
		if logged && rules.CatchesSignal(pid, syscall.SIGTERM) {
			return nil
		}
		if time.Now().After(deadline) {
			what := "register with the kernel (auditctl -s pid)"
			switch {
			case logged:
				what = "install its SIGTERM handler"
			case registered:
				what = "write its DAEMON_START record to " + logPath
			}
			return fmt.Errorf("auditd pid %d did not %s within %v", pid, what, timeout)
		}
		time.Sleep(pollEvery)
	}
}

// awaitSIGTERMHandler gives a daemon still starting up the time to install its
// SIGTERM handler, so that the SIGTERM about to be sent is not lost.
func awaitSIGTERMHandler(pid int, exited func() bool) {
	deadline := time.Now().Add(5 * time.Second)
	for !rules.CatchesSignal(pid, syscall.SIGTERM) && !exited() && alive(pid) && time.Now().Before(deadline) {
		time.Sleep(pollEvery)
	}
}

// exitError explains an early exit. auditd -n logs its reasons to syslog,
// which a test machine often lacks, so for a configuration error (status 6,
// detected before auditd touches the kernel) the config is parsed again in
// -f mode, which prints the reason on stderr.
func (d *daemon) exitError() error {
	meaning := map[int]string{
		1: "initialisation failed: netlink, pid file, plugins, or setting the audit pid (another auditd?)",
		2: "invalid command line",
		4: "insufficient privilege",
		6: "error in the configuration file",
	}
	code := -1
	var ee *exec.ExitError
	if errors.As(d.waitErr, &ee) {
		code = ee.ExitCode()
	}
	msg := fmt.Sprintf("auditd -c %s -n exited early (%v", d.dir, d.waitErr)
	if m, ok := meaning[code]; ok {
		msg += ": " + m
	}
	msg += ")"
	if out, _ := os.ReadFile(filepath.Join(d.dir, "auditd.out")); len(bytes.TrimSpace(out)) > 0 {
		msg += "; output:\n" + string(out)
	}
	if code == 6 {
		msg += "; auditd -f says:\n" + diagnoseConfig(d.dir)
	}
	return errors.New(msg)
}

func diagnoseConfig(dir string) string {
	bin, err := lookBin("auditd")
	if err != nil {
		return err.Error()
	}
	cmd := exec.Command(bin, "-c", dir, "-f", "-s", "nochange")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		return err.Error()
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		// It parsed the config after all; do not leave it running.
		_ = cmd.Process.Signal(syscall.SIGTERM)
		<-done
	}
	return tail(out.Bytes(), 8)
}

// terminate stops the daemon by its pid (never by name: the host's own auditd
// must not be touched) and checks that the kernel has let go of it.
func (d *daemon) terminate() error {
	pid := d.pid()
	// Normally a no-op: Start waited for the handler. Not so when Start
	// failed half-way, and then the SIGTERM must still not be wasted.
	awaitSIGTERMHandler(pid, d.exited)
	if !d.exited() {
		if err := d.cmd.Process.Signal(syscall.SIGTERM); err != nil && !d.exited() {
			return fmt.Errorf("SIGTERM to auditd pid %d: %w", pid, err)
		}
	}
	killed := false
	select {
	case <-d.done:
	case <-time.After(termTimeout):
		killed = true
		_ = d.cmd.Process.Kill()
		select {
		case <-d.done:
		case <-time.After(killTimeout):
			return fmt.Errorf("auditd pid %d survived SIGKILL for %v", pid, killTimeout)
		}
	}
	var errs []error
	if killed {
		errs = append(errs, fmt.Errorf("auditd pid %d ignored SIGTERM for %v and was killed", pid, termTimeout))
	} else if d.waitErr != nil {
		errs = append(errs, fmt.Errorf("auditd pid %d exited with %v", pid, d.waitErr))
	}
	if err := waitUnregistered(pid); err != nil {
		errs = append(errs, err)
	}
	return errors.Join(errs...)
}

// waitUnregistered waits until the kernel's audit pid is no longer pid. A
// daemon that exits cleanly unregisters itself. After SIGKILL the kernel only
// notices when it next fails to deliver a message, so one is sent; with
// auditing disabled the message is dropped and the dead pid stays listed until
// the next auditd registers (the kernel then probes and replaces it).
func waitUnregistered(pid int) error {
	deadline := time.Now().Add(3 * time.Second)
	nudged := false
	for {
		st, err := readStatus()
		if err != nil {
			return err
		}
		if st.pid != pid {
			return nil
		}
		if time.Now().After(deadline) {
			state := "alive"
			if !alive(pid) {
				state = "dead; harmless, the next auditd to start replaces it"
			}
			return fmt.Errorf("kernel still lists exited auditd pid %d (%s) as its audit daemon", pid, state)
		}
		if !nudged && time.Until(deadline) < 2*time.Second {
			nudged = true
			_, _ = auditctl("-m", "gotrail auditdtest: audit daemon gone")
		}
		time.Sleep(pollEvery)
	}
}

// status is the part of `auditctl -s` the harness uses.
type status struct {
	enabled           int
	pid               int
	backlogLimit      int
	lost              uint64
	loginuidImmutable int
}

func readStatus() (status, error) {
	out, err := auditctl("-s")
	if err != nil {
		return status{}, err
	}
	return parseStatus(out)
}

func parseStatus(out []byte) (status, error) {
	var st status
	seen := map[string]bool{}
	for _, line := range strings.Split(string(out), "\n") {
		f := strings.Fields(line)
		if len(f) < 2 {
			continue
		}
		var err error
		switch f[0] {
		case "enabled":
			st.enabled, err = strconv.Atoi(f[1])
		case "pid":
			st.pid, err = strconv.Atoi(f[1])
		case "backlog_limit":
			st.backlogLimit, err = strconv.Atoi(f[1])
		case "lost":
			st.lost, err = strconv.ParseUint(f[1], 10, 64)
		case "loginuid_immutable":
			st.loginuidImmutable, err = strconv.Atoi(f[1])
		default:
			continue
		}
		if err != nil {
			return status{}, fmt.Errorf("parsing `auditctl -s` line %q: %w", line, err)
		}
		seen[f[0]] = true
	}
	for _, k := range []string{"enabled", "pid", "backlog_limit"} {
		if !seen[k] {
			return status{}, fmt.Errorf("`auditctl -s` printed no %s line:\n%s", k, out)
		}
	}
	return st, nil
}

// auditctl runs auditctl and returns its combined output; the error names the
// command and includes the output, which carries auditctl's reason.
func auditctl(args ...string) ([]byte, error) {
	bin, err := lookBin("auditctl")
	if err != nil {
		return nil, err
	}
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		return out, fmt.Errorf("auditctl %s: %w: %s", strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return out, nil
}

// lookBin finds an audit tool in PATH, then in sbinDirs.
func lookBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbinDirs {
		p := filepath.Join(d, name)
		if fi, err := os.Stat(p); err == nil && fi.Mode().IsRegular() && fi.Mode()&0o111 != 0 {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or %s", name, strings.Join(sbinDirs, ", "))
}

// alive reports whether pid is a live process. A zombie is dead: an orphaned
// daemon may wait a while for init to reap it.
func alive(pid int) bool {
	if err := syscall.Kill(pid, 0); err != nil && !errors.Is(err, syscall.EPERM) {
		return false
	}
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	// The state follows the command name, which is in parentheses and may
	// itself contain ") ".
	if i := bytes.LastIndexByte(b, ')'); i >= 0 && i+2 < len(b) {
		return b[i+2] != 'Z'
	}
	return true
}

func cmdline(pid int) string {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "command line unreadable: " + err.Error()
	}
	return strings.TrimSpace(strings.ReplaceAll(string(b), "\x00", " "))
}

// harnessDir returns the -c directory of process pid if it is an auditd
// started by this harness (in any process), identified by the marker file.
func harnessDir(pid int) (string, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		return "", false
	}
	args := strings.Split(strings.TrimRight(string(b), "\x00"), "\x00")
	for i := 0; i+1 < len(args); i++ {
		if args[i] == "-c" {
			dir := args[i+1]
			if _, err := os.Stat(filepath.Join(dir, markerName)); err == nil {
				return dir, true
			}
			return "", false
		}
	}
	return "", false
}

// foreignDaemon returns an error if pid is a live audit daemon not started by
// this harness. A harness daemon belongs to another test (in this or another
// test process) and Start will wait for it.
func foreignDaemon(pid int) error {
	if pid == 0 || !alive(pid) {
		return nil
	}
	if _, ok := harnessDir(pid); ok {
		return nil
	}
	return fmt.Errorf("another auditd (pid %d: %s) is registered with the kernel; only one audit daemon can run at a time: stop it first (e.g. `service auditd stop`)",
		pid, cmdline(pid))
}
