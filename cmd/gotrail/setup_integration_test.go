package main

import (
	"bytes"
	"encoding/json"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
	"github.com/gotrail/gotrail/internal/testutil/integration"
)

// freshHost is this machine seen through a private mount namespace, as a
// host where gotrail was never set up: a copy of /etc/audit (its plugins
// included, laurel's if installed), an empty /var/log/audit, /run and
// /var/log/laurel (where laurel writes), and a
// configuration and state directory that do not exist yet. What setup
// starts there (auditd, gotrail's plugin) runs in that namespace; the test
// reads its files from outside.
type freshHost struct {
	bin, etcAudit, logDir, config, state string
	// syslog is what reached the namespace's syslog socket: auditd starts
	// its plugins with stderr on /dev/null, so that is where they log
	syslog *syslogCatcher
}

func newFreshHost(t *testing.T) *freshHost {
	t.Helper()
	integration.Tool(t, "unshare", "util-linux")
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	f := &freshHost{bin: buildGotrail(t), etcAudit: filepath.Join(dir, "etc-audit"), logDir: filepath.Join(dir, "log"),
		config: filepath.Join(dir, "etc-gotrail", "gotrail.toml"), state: filepath.Join(dir, "state")}
	if out, err := exec.Command("cp", "-a", "/etc/audit", f.etcAudit).CombinedOutput(); err != nil {
		t.Fatalf("copy /etc/audit: %v %s", err, out)
	}
	os.Remove(filepath.Join(f.etcAudit, "plugins.d", "gotrail.conf"))
	os.Remove(filepath.Join(f.etcAudit, "rules.d", "60-gotrail.rules"))
	os.Mkdir(f.logDir, 0o750)
	os.Mkdir(filepath.Join(dir, "run"), 0o755)
	// /var/run/syslog in the namespace's own /run, one of the places
	// log/syslog dials after /dev/log (mounted over when the host has one)
	f.syslog = catchSyslog(t, filepath.Join(dir, "run", "syslog"))
	return f
}

// syslogCatcher keeps every datagram that reaches a syslog socket.
type syslogCatcher struct {
	path string
	mu   sync.Mutex
	msgs []string
}

func catchSyslog(t *testing.T, path string) *syslogCatcher {
	t.Helper()
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	os.Chmod(path, 0o666)
	s := &syslogCatcher{path: path}
	done := make(chan struct{})
	go func() {
		defer close(done)
		buf := make([]byte, 64<<10)
		for {
			n, err := c.Read(buf)
			if err != nil {
				return
			}
			s.mu.Lock()
			s.msgs = append(s.msgs, strings.TrimSpace(string(buf[:n])))
			s.mu.Unlock()
		}
	}()
	t.Cleanup(func() { c.Close(); <-done })
	return s
}

// String is what syslog got, a message a line.
func (s *syslogCatcher) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return strings.Join(s.msgs, "\n")
}

// run runs gotrail in the namespace, with extra mounts (dir over target).
func (f *freshHost) run(t *testing.T, mounts map[string]string, args ...string) (string, error) {
	t.Helper()
	script := "set -e\nmount --bind " + f.etcAudit + " /etc/audit\nmount --bind " + f.logDir + " /var/log/audit\n" +
		"mount --bind " + filepath.Join(filepath.Dir(f.logDir), "run") + " /run\n"
	// a plugin of the host's (laurel) writes its own log: there, a copy
	for _, d := range []string{"/var/log/laurel"} {
		if fi, err := os.Stat(d); err == nil && fi.IsDir() {
			own := filepath.Join(filepath.Dir(f.logDir), strings.ReplaceAll(strings.Trim(d, "/"), "/", "-"))
			if err := os.MkdirAll(own, 0o755); err != nil {
				t.Fatal(err)
			}
			exec.Command("chown", "--reference", d, own).Run()
			script += "mount --bind " + own + " " + d + "\n"
		}
	}
	// Lstat: on systemd hosts /dev/log is a link into /run, which is the
	// namespace's own; a link that leads nowhere there is passed over
	if fi, err := os.Lstat("/dev/log"); err == nil && fi.Mode()&os.ModeSocket != 0 {
		script += "mount --bind " + f.syslog.path + " /dev/log\n"
	}
	for target, dir := range mounts {
		script += "mount --bind " + dir + " " + target + "\n"
	}
	script += `exec "$@"`
	cmd := exec.Command("unshare", append([]string{"--mount", "--propagation", "private", "sh", "-c", script, "sh", f.bin,
		"--config", f.config, "--state-dir", f.state}, args...)...)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	return out.String(), err
}

// TestSetupWithoutAuditd: where auditd is not installed, setup says how to
// install it and exits 2 having written nothing.
func TestSetupWithoutAuditd(t *testing.T) {
	auditdtest.Required(t)
	f := newFreshHost(t)
	empty := t.TempDir()
	out, err := f.run(t, map[string]string{"/usr/sbin": empty, "/sbin": empty}, "setup", "--mode", "plugin")
	var ee *exec.ExitError
	if !strings.Contains(out, "apt-get install auditd") || !asExit(err, &ee) || ee.ExitCode() != 2 {
		t.Errorf("setup without auditd: %v\n%s", err, out)
	}
	for _, p := range []string{f.config, f.state, filepath.Join(f.etcAudit, "rules.d", "60-gotrail.rules"), filepath.Join(f.etcAudit, "plugins.d", "gotrail.conf")} {
		if _, err := os.Stat(p); err == nil {
			t.Errorf("setup without auditd wrote %s", p)
		}
	}
}

func asExit(err error, ee **exec.ExitError) bool {
	e, ok := err.(*exec.ExitError)
	*ee = e
	return ok
}

// TestSetupOnFreshHost: on a host with auditd installed and not running,
// and no service manager, setup starts auditd as the host would, loads the
// rules, and starts gotrail as auditd's plugin; gotrail events then shows
// the load, and a user created after setup is covered: their go env -w is
// in the log and in the plugin's trail.
func TestSetupOnFreshHost(t *testing.T) {
	auditdtest.Required(t)
	if _, err := os.Stat("/run/systemd/system"); err == nil {
		t.Fatal("systemd runs here: this test is for a host without a service manager")
	}
	goBin := goBinary(t)
	f := newFreshHost(t)
	auditdtest.TakeHost(t)
	keepHomes(t)
	const user, uid = "gotrailfresh", 4330
	removeUser(t, user, uid) // left by a killed run
	home := "/home/" + user
	deleteRulesOf(t, home)

	out, err := f.run(t, nil, "setup", "--mode", "plugin", "--bin", f.bin)
	pid := auditdtest.DaemonPID()
	if err != nil {
		t.Fatalf("setup: %v\n%s", err, out)
	}
	t.Log(out)
	if pid == 0 || !strings.Contains(out, "started auditd with service auditd start (pid "+strconv.Itoa(pid)+")") {
		t.Errorf("setup did not say it started auditd (kernel: pid %d):\n%s", pid, out)
	}
	if !strings.Contains(out, "told auditd (pid "+strconv.Itoa(pid)+") to reload: it started the plugin (pid ") {
		t.Errorf("setup did not see auditd start its plugin:\n%s", out)
	}

	// a user created after setup, covered by the plugin without a command
	addLoginUser(t, user, uid)
	goenv := "-w " + home + "/.config/go/env -p wa -k gotrail-goenv"
	for deadline := time.Now().Add(20 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		loaded, _ := rules.Auditctl{}.List()
		if slices.Contains(loaded, goenv) {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(filepath.Join(f.logDir, "audit.log"))
			t.Fatalf("%s not loaded 20 s after useradd\nkernel: %s\nthe plugin's messages (syslog):\n%s\nlog tail: %s", goenv, auditdtest.Status(), f.syslog, tailOf(log, 3000))
		}
	}
	cmd := exec.Command(goBin, "env", "-w", "GOFLAGS=-mod=mod")
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "GOTOOLCHAIN=local"}
	cmd.Dir = home
	if err := auditdtest.StartAs(auditdtest.Login{AUID: uid, UID: uid, GID: uid}, cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go env -w: %v", err)
	}

	// gotrail events --since 1h, on the log setup's auditd writes (not
	// today: a run across midnight would lose the setup's events)
	var evs []event.Event
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		var stdout, stderr bytes.Buffer
		ev := exec.Command(f.bin, "--config", f.config, "events", "--since", "1h", "--format", "json", filepath.Join(f.logDir, "audit.log"))
		ev.Stdout, ev.Stderr = &stdout, &stderr
		ev.Run()
		evs = evs[:0]
		for _, line := range strings.Split(strings.TrimSpace(stdout.String()), "\n") {
			var e event.Event
			if json.Unmarshal([]byte(line), &e) == nil {
				evs = append(evs, e)
			}
		}
		if hasGoenvBy(evs, home, uid) || time.Now().After(deadline) {
			break
		}
	}
	// each load of the rules (the init script's, setup's own) is one line
	loads := map[int]int{}
	for _, e := range evs {
		if e.Gotrail.Kind == event.KindTamper && e.Process.Name == "auditctl" {
			loads[e.Process.PID]++
		}
	}
	if len(loads) == 0 {
		t.Errorf("gotrail events --since 1h shows no load of the rules by auditctl; %d events", len(evs))
	}
	for pid, n := range loads {
		if n != 1 {
			t.Errorf("the load by auditctl pid %d is %d events, want 1", pid, n)
		}
	}
	if !hasGoenvBy(evs, home, uid) {
		t.Errorf("gotrail events --since 1h shows no go env -w by %s", user)
	}
	// and the plugin's trail has it
	found := false
	for deadline := time.Now().Add(10 * time.Second); !found && time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
		found = hasGoenvBy(trailEvents(t, f.state, event.KindGoenv), home, uid)
	}
	if !found {
		ps, _ := exec.Command("ps", "-eo", "pid,ppid,args").Output()
		var all []string
		for _, e := range trailEvents(t, f.state, "") {
			all = append(all, e.Gotrail.Kind+" "+e.Message)
		}
		t.Errorf("the plugin's trail in %s has no go env -w by %s; it has %q\nprocesses:\n%s", f.state, user, all, ps)
	}

	// uninstall: the plugin goes and auditd is told so, gotrail's rules
	// leave the kernel and the compiled audit.rules, the trail stays
	out, err = f.run(t, nil, "setup", "--mode", "plugin", "--uninstall")
	if err != nil {
		t.Fatalf("setup --uninstall: %v\n%s", err, out)
	}
	// the plugin logs to syslog: its stderr is auditd's, /dev/null
	if msgs := f.syslog.String(); !strings.Contains(msgs, "gotrail[") || !strings.Contains(msgs, `msg="following /etc/passwd for login users"`) {
		t.Errorf("the plugin's messages did not reach syslog; it got:\n%s", msgs)
	}
	for _, want := range []string{"removed /etc/audit/plugins.d/gotrail.conf", "to reload: it stopped the plugin",
		"of gotrail's rules from the kernel", "rewrote /etc/audit/audit.rules", "the trail is evidence"} {
		if !strings.Contains(out, want) {
			t.Errorf("setup --uninstall did not say %q:\n%s", want, out)
		}
	}
	if b, _ := os.ReadFile(filepath.Join(f.etcAudit, "audit.rules")); strings.Contains(string(b), "gotrail-") {
		t.Errorf("audit.rules still loads gotrail's rules at boot:\n%s", b)
	}
	if loaded, _ := (rules.Auditctl{}).List(); slices.ContainsFunc(loaded, func(l string) bool { return strings.Contains(l, "gotrail-") }) {
		t.Errorf("gotrail rules still loaded after --uninstall: %q", loaded)
	}
	if _, err := os.Stat(filepath.Join(f.state, "trail.key")); err != nil {
		t.Errorf("--uninstall took the trail's key: %v", err)
	}
}

func hasGoenvBy(evs []event.Event, home string, uid int) bool {
	for _, e := range evs {
		if e.Gotrail.Kind == event.KindGoenv && e.File != nil && e.File.Path == home+"/.config/go/env" &&
			e.User.Audit != nil && e.User.Audit.ID == strconv.Itoa(uid) {
			return true
		}
	}
	return false
}

func tailOf(b []byte, n int) string {
	if len(b) > n {
		b = b[len(b)-n:]
	}
	return string(b)
}
