package auditdtest

import (
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// TestMain checks the contract that matters most to the host: after all the
// tests, the kernel holds exactly the rules, enabled flag and backlog limit it
// held before, and no audit daemon is registered that was not there before.
// Both states are taken under the cross-process lock, when no harness daemon
// of any test process runs.
func TestMain(m *testing.M) {
	var before string
	check := os.Getenv(helperEnv) == "" && Available() == nil
	if check {
		before = restingKernelState()
	}
	code := m.Run()
	if check {
		if after := restingKernelState(); after != before {
			fmt.Fprintf(os.Stderr, "auditdtest: kernel audit state changed by the tests\nbefore:\n%s\nafter:\n%s\n", before, after)
			code = 1
		}
	}
	os.Exit(code)
}

// restingKernelState returns kernelState while no test process holds the
// harness: the state every holder must leave behind.
func restingKernelState() string {
	procMu.Lock()
	defer procMu.Unlock()
	h, note, err := acquireHostLock(func(string, ...any) {})
	if err != nil {
		return err.Error()
	}
	if note != "" {
		fmt.Fprintln(os.Stderr, note)
	}
	defer h.release()
	defer h.update(func(j *journal) { *j = journal{} })
	return kernelState()
}

func kernelState() string {
	rules, err := auditctl("-l")
	if err != nil {
		return err.Error()
	}
	st, err := readStatus()
	if err != nil {
		return err.Error()
	}
	return fmt.Sprintf("%senabled %d pid %d backlog_limit %d", rules, st.enabled, st.pid, st.backlogLimit)
}

// recorder stands in for a testing.TB to observe Fatalf and Logf.
type recorder struct {
	testing.TB
	mu    sync.Mutex
	fatal []string
	logs  []string
}

func (r *recorder) Helper() {}

func (r *recorder) Fatalf(format string, args ...any) {
	r.mu.Lock()
	r.fatal = append(r.fatal, fmt.Sprintf(format, args...))
	r.mu.Unlock()
	runtime.Goexit()
}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
	r.mu.Unlock()
}

// run calls f in its own goroutine, as Fatalf ends it with runtime.Goexit.
func (r *recorder) run(f func()) {
	done := make(chan struct{})
	go func() {
		defer close(done)
		f()
	}()
	<-done
}

func TestDeleteArgs(t *testing.T) {
	for _, tc := range []struct {
		add  []string
		del  []string
		fail string
	}{
		{add: []string{"-w", "/etc/profile", "-p", "wa", "-k", "gotrail-profile"},
			del: []string{"-W", "/etc/profile", "-p", "wa", "-k", "gotrail-profile"}},
		{add: []string{"-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", "key=x"},
			del: []string{"-d", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", "key=x"}},
		{add: []string{"-A", "exit,always", "-S", "openat", "-k", "k"},
			del: []string{"-d", "exit,always", "-S", "openat", "-k", "k"}},
		{add: []string{"-k", "k", "-p", "w", "-w", "/x"}, del: []string{"-k", "k", "-p", "w", "-W", "/x"}},
		{add: []string{"-D"}, fail: "only rules added"},
		{add: []string{"-e", "0"}, fail: "only rules added"},
		{add: []string{"-W", "/x"}, fail: "only rules added"},
		{add: []string{"-aalways,exit", "-S", "execve"}, fail: "only rules added"},
		{add: []string{"-F", "key=x"}, fail: "no -a, -A or -w"},
		{add: nil, fail: "no -a, -A or -w"},
		{add: []string{"-w", "/a", "-w", "/b"}, fail: "more than one rule"},
	} {
		del, err := deleteArgs(tc.add)
		if tc.fail != "" {
			if err == nil || !strings.Contains(err.Error(), tc.fail) {
				t.Errorf("deleteArgs(%q) = %q, %v; want error containing %q", tc.add, del, err, tc.fail)
			}
			continue
		}
		if err != nil || strings.Join(del, "\x00") != strings.Join(tc.del, "\x00") {
			t.Errorf("deleteArgs(%q) = %q, %v; want %q", tc.add, del, err, tc.del)
		}
	}
}

func TestParseStatus(t *testing.T) {
	// Verbatim `auditctl -s` of auditd 3.0.9 on Debian 12.
	out := "enabled 1\nfailure 1\npid 3401\nrate_limit 0\nbacklog_limit 8192\nlost 7\nbacklog 0\n" +
		"backlog_wait_time 15000\nbacklog_wait_time_actual 0\nloginuid_immutable 0 unlocked\n"
	st, err := parseStatus([]byte(out))
	if err != nil {
		t.Fatal(err)
	}
	want := status{enabled: 1, pid: 3401, backlogLimit: 8192, lost: 7}
	if st != want {
		t.Errorf("parseStatus = %+v, want %+v", st, want)
	}
	if _, err := parseStatus([]byte("Error sending status request (Operation not permitted)\n")); err == nil {
		t.Error("parseStatus accepted output without status lines")
	}
}

// TestMissingBinaries checks the message of Available, and that Required
// fails the test under GOTRAIL_INTEGRATION=1, when auditd is not installed
// (simulated with an empty search path). Without the variable Required
// skips whatever is installed: internal/testutil/integration tests that.
func TestMissingBinaries(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	saved := sbinDirs
	sbinDirs = []string{t.TempDir()}
	t.Cleanup(func() { sbinDirs = saved })

	err := Available()
	if err == nil || !strings.Contains(err.Error(), "auditd and auditctl not found") ||
		!strings.Contains(err.Error(), "apt-get install auditd") {
		t.Fatalf("Available() = %v; want it to name auditd, auditctl and `apt-get install auditd`", err)
	}

	t.Setenv(EnvIntegration, "1")
	r := &recorder{TB: t}
	var ok bool
	r.run(func() { Required(r); ok = true })
	if ok || len(r.fatal) != 1 || !strings.Contains(r.fatal[0], "apt-get install auditd") ||
		!strings.Contains(r.fatal[0], EnvIntegration+"=1") {
		t.Errorf("with %s=1: Required went on = %v, Fatalf calls %q; want one naming the package", EnvIntegration, ok, r.fatal)
	}
}

// TestWatchRuleRecordsLoginUser is the whole life cycle: start, watch a file,
// write it as login user 4242, find the record, stop, and check that the
// kernel is left as it was.
func TestWatchRuleRecordsLoginUser(t *testing.T) {
	Required(t)
	before := restingKernelState()
	a := Start(t)
	pid := a.PID()

	st := mustStatus(t)
	if st.pid != pid {
		t.Errorf("kernel audit pid = %d, want our auditd %d", st.pid, pid)
	}
	if st.enabled != 1 {
		t.Errorf("enabled = %d while running, want 1", st.enabled)
	}
	if st.backlogLimit < minBacklog {
		t.Errorf("backlog_limit = %d while running, want >= %d", st.backlogLimit, minBacklog)
	}
	if err := Available(); err != nil {
		t.Errorf("Available() while the harness daemon runs = %v; a harness daemon is not foreign", err)
	}
	if !strings.Contains(string(a.Snapshot()), "type=DAEMON_START ") {
		t.Errorf("log has no DAEMON_START:\n%s", a.Snapshot())
	}
	if kids := children(t, pid); len(kids) > 0 {
		t.Errorf("auditd started plugins %v; the private plugin_dir must keep laurel and friends out", kids)
	}
	if ents, err := os.ReadDir(filepath.Join(a.Dir(), "plugins.d")); err != nil || len(ents) != 0 {
		t.Errorf("plugins.d: %v entries, error %v; want an empty directory", len(ents), err)
	}

	target := filepath.Join(t.TempDir(), "watched")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	a.AddRule(t, "-w", target, "-p", "wa", "-k", "gotrail-test")
	if l := listRules(t); !strings.Contains(l, target) {
		t.Fatalf("auditctl -l after AddRule lacks %s:\n%s", target, l)
	}

	script := "echo written >> " + target
	wrote := time.Now()
	if out, err := RunAsLogin(t, 4242, "/bin/sh", "-c", script); err != nil {
		t.Fatalf("writing %s as auid 4242: %v: %s", target, err, out)
	}
	a.WaitFor(t, func(line string) bool {
		return strings.HasPrefix(line, "type=SYSCALL ") &&
			strings.Contains(line, ` key="gotrail-test"`) && strings.Contains(line, " auid=4242 ")
	}, 0)
	t.Logf("SYSCALL record in the log %v after the write returned", time.Since(wrote).Round(100*time.Microsecond))

	ev := byType(a.WaitForEvent(t, func(line string) bool {
		return strings.HasPrefix(line, "type=SYSCALL ") && strings.Contains(line, ` key="gotrail-test"`)
	}, 0))
	for _, typ := range []string{"SYSCALL", "CWD", "PATH", "PROCTITLE"} {
		if ev[typ] == "" {
			t.Errorf("event has no %s record: %q", typ, ev)
		}
	}
	sys := ev["SYSCALL"]
	if got := field(sys, "ppid"); got != strconv.Itoa(os.Getpid()) {
		t.Errorf("ppid = %s, want the test process %d (no wrapper in between):\n%s", got, os.Getpid(), sys)
	}
	if got := field(sys, "uid"); got != "0" {
		t.Errorf("uid = %s, want 0 (auid 4242 as root)", got)
	}
	if !strings.Contains(ev["PATH"], `name="`+target+`"`) {
		t.Errorf("PATH record does not name %s:\n%s", target, ev["PATH"])
	}
	if got, want := proctitle(t, ev["PROCTITLE"]), "/bin/sh -c "+script; got != want {
		t.Errorf("PROCTITLE = %q, want %q", got, want)
	}
	if !strings.Contains(sys, "\x1d") || !strings.Contains(sys, `AUID="unknown(4242)"`) {
		t.Errorf("record is not in ENRICHED format:\n%q", sys)
	}

	a.Stop()
	a.Stop() // idempotent, as t.Cleanup calls it again

	if l := listRules(t); strings.Contains(l, target) || strings.Contains(l, "gotrail-test") {
		t.Errorf("rule still loaded after Stop:\n%s", l)
	}
	if err := syscall.Kill(pid, 0); !errors.Is(err, syscall.ESRCH) {
		t.Errorf("auditd pid %d after Stop: kill(0) = %v, want ESRCH", pid, err)
	}
	if mustStatus(t).pid == pid {
		t.Errorf("kernel still lists auditd pid %d after Stop", pid)
	}
	if after := restingKernelState(); after != before {
		t.Errorf("kernel state after Stop:\n%s\nwant the state before Start:\n%s", after, before)
	}
	final, err := os.ReadFile(a.LogPath())
	if err != nil {
		t.Fatal(err)
	}
	if !regexp.MustCompile(`(?m)^type=CONFIG_CHANGE .*op=remove_rule key="gotrail-test"`).Match(final) {
		t.Errorf("log has no CONFIG_CHANGE for the rule's removal")
	}
	if !regexp.MustCompile(`(?m)^type=DAEMON_END .*op=terminate`).Match(final) {
		t.Errorf("log has no DAEMON_END: auditd did not shut down cleanly")
	}
	// The lock may already belong to another test process.
	if j := readJournal(t); j.Owner == os.Getpid() || (j.Owner == 0 && !j.empty()) {
		t.Errorf("journal after a clean Stop = %+v, want it cleared", j)
	}
}

// TestRunAs checks the identities a command gets, and that the test process
// keeps its own login uid.
func TestRunAs(t *testing.T) {
	Required(t)
	own := threadLoginUIDs(t)
	const probe = `printf '%s %s %s %s' "$(cat /proc/self/loginuid)" "$(id -u)" "$(id -g)" "$(id -G)"`
	for _, tc := range []struct {
		name  string
		login Login
		want  string
	}{
		{"alice as root", Login{AUID: 1001}, "1001 0 0 0"},
		{"alice as alice", Login{AUID: 1001, UID: 1001, GID: 1001}, "1001 1001 1001 1001"},
		{"alice with groups", Login{AUID: 1001, UID: 1001, GID: 1001, Groups: []uint32{27, 50}}, "1001 1001 1001 1001 27 50"},
	} {
		out, err := RunAs(t, tc.login, "/bin/sh", "-c", probe)
		if err != nil || string(out) != tc.want {
			t.Errorf("%s: auid uid gid groups = %q, %v; want %q", tc.name, out, err, tc.want)
		}
	}
	out, err := RunAsLogin(t, 4242, "/bin/sh", "-c", "cat /proc/self/loginuid; sh -c 'cat /proc/self/loginuid'")
	if err != nil || string(out) != "42424242" {
		t.Errorf("RunAsLogin: loginuid of the command and its child = %q, %v; want 4242 twice", out, err)
	}
	if out, err := RunAsLogin(t, 4242, "/bin/sh", "-c", "exit 3"); err == nil {
		t.Errorf("exit 3: err = nil, output %q; want the exit status", out)
	}
	if _, err := RunAsLogin(t, 4242, "/nonexistent/gotrail"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("missing command: err = %v, want not-exist (returned, not fatal)", err)
	}
	// a locked goroutine's thread exits after it, when the runtime gets to it
	now := threadLoginUIDs(t)
	for deadline := time.Now().Add(5 * time.Second); strings.Join(now, ",") != strings.Join(own, ",") && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
		now = threadLoginUIDs(t)
	}
	if strings.Join(now, ",") != strings.Join(own, ",") {
		t.Errorf("test process thread loginuids %v, before %v: a changed thread leaked", now, own)
	}
}

// TestTestsSerialize runs two tests in parallel that both want auditd: their
// daemons must not overlap and each must see only its own log.
func TestTestsSerialize(t *testing.T) {
	Required(t)
	type span struct {
		pid        int
		start, end time.Time
		log        string
	}
	var mu sync.Mutex
	var spans []span
	t.Run("group", func(t *testing.T) {
		for i := range 3 {
			t.Run(fmt.Sprint(i), func(t *testing.T) {
				t.Parallel()
				a := Start(t)
				s := span{pid: a.PID(), start: time.Now()}
				time.Sleep(100 * time.Millisecond)
				s.log = string(a.Snapshot())
				s.end = time.Now()
				mu.Lock()
				spans = append(spans, s)
				mu.Unlock()
				// Stop by t.Cleanup, as most tests will.
			})
		}
	})
	if len(spans) != 3 {
		t.Fatalf("%d of 3 subtests got an auditd", len(spans))
	}
	for i, s := range spans {
		for j, o := range spans {
			if i == j {
				continue
			}
			if s.start.Before(o.end) && o.start.Before(s.end) {
				t.Errorf("auditd %d (%v–%v) overlaps auditd %d (%v–%v)", s.pid, s.start, s.end, o.pid, o.start, o.end)
			}
			if strings.Contains(s.log, fmt.Sprintf(" pid=%d ", o.pid)) {
				t.Errorf("log of auditd %d mentions auditd %d: logs are not private", s.pid, o.pid)
			}
		}
	}
}

// TestRuleScopedToSubtest checks that a rule added in a subtest is gone when
// the subtest ends, while the daemon of the parent keeps running, and the
// syscall-rule form of AddRule.
func TestRuleScopedToSubtest(t *testing.T) {
	Required(t)
	a := Start(t)
	const key = "gotrail-test-exec"
	t.Run("exec", func(t *testing.T) {
		a.AddRule(t, "-a", "always,exit", "-F", "arch=b64", "-S", "execve", "-F", "auid=4343", "-F", "key="+key)
		if out, err := RunAsLogin(t, 4343, "/bin/true"); err != nil {
			t.Fatalf("/bin/true: %v: %s", err, out)
		}
		// The CONFIG_CHANGE of the rule's own loading carries the key too.
		ev := byType(a.WaitForEvent(t, func(line string) bool {
			return strings.HasPrefix(line, "type=SYSCALL ") && strings.Contains(line, `key="`+key+`"`)
		}, 0))
		if !strings.Contains(ev["EXECVE"], `a0="/bin/true"`) {
			t.Errorf("EXECVE record = %q, want a0=\"/bin/true\"", ev["EXECVE"])
		}
		if got := proctitle(t, ev["PROCTITLE"]); got != "/bin/true" {
			t.Errorf("PROCTITLE = %q, want /bin/true", got)
		}
	})
	if l := listRules(t); strings.Contains(l, key) {
		t.Errorf("subtest's rule still loaded after the subtest:\n%s", l)
	}
	if !mustStatusPID(t, a.PID()) {
		t.Errorf("auditd no longer registered after the subtest")
	}

	t.Run("deleted by the test", func(t *testing.T) {
		// A test may delete its rule itself (e.g. to provoke audit.tamper);
		// the harness's own deletion must then not fail.
		dir := t.TempDir()
		a.AddRule(t, "-w", dir, "-p", "wa", "-k", key)
		if _, err := auditctl("-W", dir, "-p", "wa", "-k", key); err != nil {
			t.Fatal(err)
		}
		// Sync: the removal's CONFIG_CHANGE is in the log on return.
		a.Sync(t)
		if !strings.Contains(string(a.Snapshot()), `op=remove_rule key="`+key+`"`) {
			t.Errorf("no CONFIG_CHANGE remove_rule in the log after Sync")
		}
	})

	t.Run("duplicate", func(t *testing.T) {
		dir := t.TempDir()
		a.AddRule(t, "-w", dir, "-p", "wa", "-k", key)
		r := &recorder{TB: t}
		r.run(func() { a.AddRule(r, "-w", dir, "-p", "wa", "-k", key) })
		if len(r.fatal) != 1 || !strings.Contains(r.fatal[0], "Rule exists") {
			t.Errorf("adding a rule twice: Fatalf %q, want auditctl's \"Rule exists\"", r.fatal)
		}
		// The failed duplicate must not be journaled: deleting it would
		// delete the first one (or a host rule).
		if j := readJournal(t); len(j.Rules) != 1 {
			t.Errorf("journal rules = %q, want just the first", j.Rules)
		}
	})

	r := &recorder{TB: t}
	r.run(func() { Start(r) })
	if len(r.fatal) != 1 || !strings.Contains(r.fatal[0], "still holds the auditd") {
		t.Errorf("nested Start: Fatalf %q, want the deadlock explained", r.fatal)
	}

	// Kernel settings a test changes itself (audit.tamper tests do) are put
	// back by Stop too: TestMain compares the kernel state at the end.
	if _, err := auditctl("-e", "0"); err != nil {
		t.Fatal(err)
	}
	if _, err := auditctl("-b", "123"); err != nil {
		t.Fatal(err)
	}
}

// TestForeignDaemon checks that an auditd not started by the harness (like the
// host's own) makes Available, and so Required and Start, fail clearly.
func TestForeignDaemon(t *testing.T) {
	Required(t)
	// Hold what Start holds, so no harness daemon runs meanwhile, in this
	// process or another. The foreign daemon gets no marker file, so even
	// this process's Available judges it.
	lockProcess(t)
	defer unlockProcess()
	h, _, err := acquireHostLock(t.Logf)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		h.update(func(j *journal) { *j = journal{} })
		if err := h.release(); err != nil {
			t.Error(err)
		}
	}()

	dir := t.TempDir()
	logPath := filepath.Join(dir, "audit.log")
	if err := writeConfig(dir, logPath, false); err != nil {
		t.Fatal(err)
	}
	d, err := spawn(dir)
	if err != nil {
		t.Fatal(err)
	}
	defer func() {
		if err := d.terminate(); err != nil {
			t.Error(err)
		}
	}()
	if err := d.waitReady(logPath, startTimeout); err != nil {
		t.Fatal(err)
	}
	err = Available()
	want := fmt.Sprintf("another auditd (pid %d: ", d.pid())
	if err == nil || !strings.Contains(err.Error(), want) || !strings.Contains(err.Error(), "only one audit daemon") {
		t.Errorf("Available() with a foreign auditd = %v, want it to contain %q", err, want)
	}
}

// helperEnv makes TestCrashHelper act: it is the test process that dies.
const helperEnv = "GOTRAIL_AUDITDTEST_CRASH_HELPER"

// TestCrashHelper, run by TestCrashRecovery in a child process, starts auditd,
// adds a rule and dies by SIGKILL without any cleanup. Otherwise it does
// nothing.
func TestCrashHelper(t *testing.T) {
	target := os.Getenv(helperEnv)
	if target == "" {
		t.Log("helper for TestCrashRecovery; does nothing on its own")
		return
	}
	a := Start(t)
	a.AddRule(t, "-w", target, "-p", "wa", "-k", "gotrail-test-crash")
	fmt.Printf("auditd-pid=%d rule-loaded=%v\n", a.PID(), strings.Contains(listRules(t), target))
	_ = os.Stdout.Sync()
	_ = syscall.Kill(os.Getpid(), syscall.SIGKILL)
	select {}
}

// TestCrashRecovery kills a test process holding auditd and checks that its
// daemon goes down with it (Pdeathsig) and that the next Start deletes its
// rule and restores the kernel settings.
func TestCrashRecovery(t *testing.T) {
	Required(t)
	before := restingKernelState()
	target := filepath.Join(t.TempDir(), "crash")
	if err := os.WriteFile(target, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(os.Args[0], "-test.run=^TestCrashHelper$", "-test.count=1")
	// the helper dies by SIGKILL and cannot remove its own temporary
	// directories: they go under ours, which this test removes
	cmd.Env = append(os.Environ(), helperEnv+"="+target, "TMPDIR="+t.TempDir())
	out, err := cmd.CombinedOutput()
	var ee *exec.ExitError
	if !errors.As(err, &ee) || ee.Sys().(syscall.WaitStatus).Signal() != syscall.SIGKILL {
		t.Fatalf("helper: %v, want death by SIGKILL; output:\n%s", err, out)
	}
	m := regexp.MustCompile(`auditd-pid=(\d+) rule-loaded=true`).FindSubmatch(out)
	if m == nil {
		t.Fatalf("helper printed no auditd pid or had no rule loaded:\n%s", out)
	}
	pid, _ := strconv.Atoi(string(m[1]))

	deadline := time.Now().Add(termTimeout)
	for alive(pid) && time.Now().Before(deadline) {
		time.Sleep(pollEvery)
	}
	if alive(pid) {
		t.Errorf("auditd pid %d outlived its test process: Pdeathsig did not stop it", pid)
	}

	// Whoever takes the lock next undoes the dead holder's changes: this
	// test, or a sibling test process (go test ./...) that was quicker. The
	// watched file must exist meanwhile, or the kernel drops the watch itself.
	a := Start(t)
	if l := listRules(t); strings.Contains(l, target) {
		t.Errorf("rule of the dead test process still loaded after the next Start:\n%s", l)
	}
	a.Stop()
	if after := restingKernelState(); after != before {
		t.Errorf("kernel state after recovery:\n%s\nwant the state before the helper ran:\n%s", after, before)
	}
}

func mustStatus(t *testing.T) status {
	t.Helper()
	st, err := readStatus()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

func mustStatusPID(t *testing.T, pid int) bool {
	return mustStatus(t).pid == pid
}

func listRules(t *testing.T) string {
	t.Helper()
	out, err := auditctl("-l")
	if err != nil {
		t.Fatal(err)
	}
	return string(out)
}

func readJournal(t *testing.T) journal {
	t.Helper()
	b, err := os.ReadFile(LockPath)
	if err != nil {
		t.Fatal(err)
	}
	var j journal
	if len(strings.TrimSpace(string(b))) > 0 {
		if err := json.Unmarshal(b, &j); err != nil {
			t.Fatalf("%s: %v", LockPath, err)
		}
	}
	return j
}

// children lists the processes whose parent is pid.
func children(t *testing.T, pid int) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc")
	if err != nil {
		t.Fatal(err)
	}
	var kids []string
	for _, e := range ents {
		if _, err := strconv.Atoi(e.Name()); err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		i := strings.LastIndexByte(string(b), ')')
		f := strings.Fields(string(b[i+1:]))
		if len(f) > 1 && f[1] == strconv.Itoa(pid) {
			kids = append(kids, e.Name()+" "+cmdline(mustAtoi(e.Name())))
		}
	}
	return kids
}

func mustAtoi(s string) int {
	n, _ := strconv.Atoi(s)
	return n
}

// threadLoginUIDs returns the sorted set of loginuids of this process's threads.
func threadLoginUIDs(t *testing.T) []string {
	t.Helper()
	ents, err := os.ReadDir("/proc/self/task")
	if err != nil {
		t.Fatal(err)
	}
	set := map[string]bool{}
	for _, e := range ents {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/loginuid")
		if err != nil {
			continue // thread exited meanwhile
		}
		set[string(b)] = true
	}
	var ids []string
	for id := range set {
		ids = append(ids, id)
	}
	if len(ids) > 1 {
		t.Logf("thread loginuids: %v", ids)
	}
	return sortStrings(ids)
}

func sortStrings(s []string) []string {
	for i := range s {
		for j := i + 1; j < len(s); j++ {
			if s[j] < s[i] {
				s[i], s[j] = s[j], s[i]
			}
		}
	}
	return s
}

// byType indexes an event's records by type (the last of a type wins).
func byType(records []string) map[string]string {
	recs := map[string]string{}
	for _, line := range records {
		typ := strings.TrimPrefix(strings.Fields(line)[0], "type=")
		recs[typ] = line
	}
	return recs
}

// field returns the raw value of name= in a record.
func field(rec, name string) string {
	raw, _, _ := strings.Cut(rec, "\x1d")
	for _, f := range strings.Fields(raw) {
		if v, ok := strings.CutPrefix(f, name+"="); ok {
			return v
		}
	}
	return ""
}

// proctitle decodes a PROCTITLE record's command line (hex with NULs between
// arguments, or quoted when plain).
func proctitle(t *testing.T, rec string) string {
	t.Helper()
	v := field(rec, "proctitle")
	if strings.HasPrefix(v, `"`) {
		return strings.Trim(v, `"`)
	}
	b, err := hex.DecodeString(v)
	if err != nil {
		t.Fatalf("PROCTITLE %q: %v", rec, err)
	}
	return strings.ReplaceAll(string(b), "\x00", " ")
}
