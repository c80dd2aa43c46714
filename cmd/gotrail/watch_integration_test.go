package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/kmsg"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
	"github.com/gotrail/gotrail/internal/trail"
)

// buildGotrail builds the binary under test.
func buildGotrail(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "gotrail")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// logBuffer is a watcher's stderr: the process writes it while the test
// reads it.
type logBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *logBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *logBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// startWatcher starts `gotrail ARGS…` (watch), stops it by its own pid when
// the test ends, and returns once it says it is reading, plus a moment to
// catch up with what the log already holds.
func startWatcher(t *testing.T, bin string, args ...string) (*exec.Cmd, *logBuffer) {
	t.Helper()
	stderr := &logBuffer{}
	cmd := exec.Command(bin, args...)
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	for deadline := time.Now().Add(10 * time.Second); ; {
		if s := stderr.String(); strings.Contains(s, "msg=following") || strings.Contains(s, "reading the kernel") {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("the watcher did not start reading:\n%s", stderr.String())
		}
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(200 * time.Millisecond)
	return cmd, stderr
}

// trailEvents reads the trail's events of one kind ("": all).
func trailEvents(t *testing.T, state, kind string) []event.Event {
	t.Helper()
	var out []event.Event
	err := trail.Read(state, func(line []byte) error {
		var e event.Event
		if err := json.Unmarshal(line, &e); err != nil {
			return err
		}
		if kind == "" || e.Gotrail.Kind == kind {
			out = append(out, e)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return out
}

// TestWatchExactlyOnce: changes made under a login user reach the trail in
// under a second, attributed; the watcher is SIGKILLed, changes are made
// while it is down and auditd rotates its log among them; restarted, it
// puts every event in the trail exactly once, and the trail verifies.
func TestWatchExactlyOnce(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile")
	os.WriteFile(profile, nil, 0o644)
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, nil, 0o644)

	a := auditdtest.Start(t)
	a.AddRule(t, "-w", profile, "-p", "wa", "-k", "gotrail-profile")

	start := func(extra ...string) (*exec.Cmd, *logBuffer) {
		t.Helper()
		return startWatcher(t, bin, append([]string{"watch", "--audit-log", a.LogPath(), "--state-dir", state, "--host", "test", "--config", cfg}, extra...)...)
	}
	write := func(i int) {
		t.Helper()
		if out, err := auditdtest.RunAsLogin(t, 4242, "sh", "-c", fmt.Sprintf("echo %d >> %s", i, profile)); err != nil {
			t.Fatalf("write %d: %v\n%s", i, err, out)
		}
	}
	waitFor := func(n int, stderr *logBuffer) []event.Event {
		t.Helper()
		deadline := time.Now().Add(10 * time.Second)
		for {
			evs := trailEvents(t, state, event.KindProfile)
			if len(evs) >= n {
				return evs
			}
			if time.Now().After(deadline) {
				t.Fatalf("trail has %d profile events, want %d; watcher said:\n%s", len(evs), n, stderr.String())
			}
			time.Sleep(10 * time.Millisecond)
		}
	}

	w1, stderr1 := start()
	t0 := time.Now()
	write(1)
	evs := waitFor(1, stderr1)
	// under a second on a quiet host; a loaded one starts sh slowly, which
	// is not the watcher's latency (bench/live measures that)
	if d := time.Since(t0); d > 3*time.Second {
		t.Errorf("the change reached the trail after %v, want under a second (3 s on a loaded host)", d)
	} else if d > time.Second {
		t.Logf("the change reached the trail after %v", d)
	}
	e := evs[0]
	if e.User.Audit == nil || e.User.Audit.ID != "4242" || e.File == nil || e.File.Path != profile || e.Gotrail.Authorized == nil || *e.Gotrail.Authorized || e.Gotrail.Severity != "high" {
		t.Errorf("first event: %+v %+v %+v", e.User, e.File, e.Event)
	}
	write(2)
	write(3)
	waitFor(3, stderr1)

	w1.Process.Signal(syscall.SIGKILL)
	w1.Wait()
	for i := 4; i <= 6; i++ {
		write(i)
	}
	a.Rotate(t)
	write(7)
	write(8)
	a.Sync(t)

	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	w2, stderr2 := start("--metrics-addr", addr)
	waitFor(8, stderr2)
	time.Sleep(500 * time.Millisecond) // nothing more may come
	resp, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("metrics: %v", err)
	}
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	for _, want := range []string{`gotrail_events_total{kind="profile.modify"} 5`, "gotrail_trail_seq ", "gotrail_lag_seconds_count 5", "gotrail_enrichment_misses_total 0"} {
		if !bytes.Contains(body, []byte(want)) {
			t.Errorf("metrics lack %q", want)
		}
	}
	w2.Process.Signal(syscall.SIGTERM)
	if err := w2.Wait(); err != nil {
		t.Errorf("watch after SIGTERM: %v\n%s", err, stderr2.String())
	}
	evs = trailEvents(t, state, event.KindProfile)
	ids := map[string]int{}
	for _, e := range evs {
		ids[e.Event.ID]++
	}
	if len(evs) != 8 || len(ids) != 8 {
		t.Errorf("trail has %d profile events with %d distinct ids, want 8 and 8: %v", len(evs), len(ids), ids)
	}
	rep, err := trail.Verify(state, trail.VerifyOptions{})
	if err != nil || rep.Problem != nil {
		t.Errorf("verify: %v %v", err, rep.Problem)
	}
	if gaps := trailEvents(t, state, event.KindGap); len(gaps) != 0 {
		t.Errorf("gaps reported though nothing was lost: %+v", gaps)
	}
	if t.Failed() {
		t.Logf("first run:\n%s\nsecond run:\n%s", stderr1.String(), stderr2.String())
	}
}

// TestWatchCapturesGoEnvironment: a go process run by a login user with the
// checksum database switched off is in the trail as go.exec with its Go
// variables (and none that look like secrets), severity high.
func TestWatchCapturesGoEnvironment(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	goBin := goBinary(t)
	dir := t.TempDir()
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, nil, 0o644)
	mod := filepath.Join(dir, "hello")
	os.MkdirAll(mod, 0o755)
	os.WriteFile(mod+"/go.mod", []byte("module hello\n\ngo 1.21\n"), 0o644)
	os.WriteFile(mod+"/main.go", []byte("package main\n\nfunc main() {}\n"), 0o644)

	a := auditdtest.Start(t)
	for _, arch := range []string{"b64", "b32"} {
		a.AddRule(t, "-a", "always,exit", "-F", "arch="+arch, "-S", "execve,execveat", "-F", "path="+goBin, "-F", "key=gotrail-exec")
	}
	_, stderr := startWatcher(t, bin, "watch", "--audit-log", a.LogPath(), "--state-dir", state, "--host", "test", "--config", cfg)

	// a cold build takes long enough for /proc to be read while it runs
	build := exec.Command(goBin, "build", "-o", os.DevNull, ".")
	build.Dir = mod
	build.Env = []string{"HOME=" + dir, "GOCACHE=" + filepath.Join(dir, "cache"), "GOSUMDB=off", "GOFLAGS=-mod=mod",
		"GOAUTH=netrc", "GITHUB_TOKEN=secret", "PATH=/usr/bin:/bin", "GOTOOLCHAIN=local"}
	var out bytes.Buffer
	build.Stdout, build.Stderr = &out, &out
	if err := auditdtest.StartAs(auditdtest.Login{AUID: 4242}, build); err != nil {
		t.Fatal(err)
	}
	if err := build.Wait(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out.String())
	}
	a.Sync(t)
	deadline := time.Now().Add(10 * time.Second)
	var evs []event.Event
	for len(evs) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		evs = trailEvents(t, state, event.KindExec)
	}
	if len(evs) == 0 {
		t.Fatalf("no go.exec in the trail; watcher said:\n%s", stderr.String())
	}
	e := evs[0]
	if getenv(&e, "GOSUMDB") != "off" || getenv(&e, "GOFLAGS") != "-mod=mod" || e.Gotrail.Severity != "high" {
		t.Errorf("go.exec env %v error %q severity %s", e.Process.EnvVars, e.Gotrail.EnvError, e.Gotrail.Severity)
	}
	for k := range e.Process.EnvMap() {
		if k == "GOAUTH" || k == "GITHUB_TOKEN" || k == "HOME" {
			t.Errorf("recorded %s", k)
		}
	}
	if e.Process.Parent == nil || e.Process.Parent.Name == "" {
		t.Errorf("no parent process name: %+v", e.Process)
	}
}

// TestWatchReloadsOnSIGHUP: a policy added to the configuration applies to
// the events after SIGHUP.
func TestWatchReloadsOnSIGHUP(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile")
	os.WriteFile(profile, nil, 0o644)
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, nil, 0o644)
	a := auditdtest.Start(t)
	a.AddRule(t, "-w", profile, "-p", "wa", "-k", "gotrail-profile")
	w, stderr := startWatcher(t, bin, "watch", "--audit-log", a.LogPath(), "--state-dir", state, "--host", "test", "--config", cfg)
	write := func() {
		if out, err := auditdtest.RunAsLogin(t, 0, "sh", "-c", "echo x >> "+profile); err != nil {
			t.Fatalf("%v %s", err, out)
		}
	}
	wait := func(n int) []event.Event {
		deadline := time.Now().Add(10 * time.Second)
		for {
			evs := trailEvents(t, state, event.KindProfile)
			if len(evs) >= n || time.Now().After(deadline) {
				return evs
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	write()
	wait(1)
	os.WriteFile(cfg, []byte("[[policy]]\nkinds = [\"profile.modify\"]\nallow_users = [\"root\"]\n"), 0o644)
	w.Process.Signal(syscall.SIGHUP)
	// logged once the watcher applies it, at its next quiet moment
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(stderr.String(), "configuration reloaded") && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	write()
	evs := wait(2)
	if len(evs) != 2 || evs[0].Gotrail.Authorized == nil || *evs[0].Gotrail.Authorized || evs[1].Gotrail.Authorized == nil || !*evs[1].Gotrail.Authorized {
		t.Errorf("authorized before and after SIGHUP: %+v\nwatcher said:\n%s", evs, stderr.String())
	}
}

// TestWatchAsAuditdPlugin: auditd starts gotrail plugin from the
// configuration gotrail gen audisp prints; a change reaches the trail,
// attributed. (The capture of short go runs in this deployment is
// TestEnvCaptureByDeployment's.)
func TestWatchAsAuditdPlugin(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	profile := filepath.Join(dir, "profile")
	os.WriteFile(profile, nil, 0o644)
	state := filepath.Join(dir, "state")
	a := startPluginAuditd(t, bin, dir, state)
	a.AddRule(t, "-w", profile, "-p", "wa", "-k", "gotrail-profile")
	if out, err := auditdtest.RunAsLogin(t, 4242, "sh", "-c", "echo x >> "+profile); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	a.Sync(t)
	deadline := time.Now().Add(10 * time.Second)
	var changes []event.Event
	for len(changes) == 0 && time.Now().Before(deadline) {
		changes = trailEvents(t, state, event.KindProfile)
		time.Sleep(20 * time.Millisecond)
	}
	if len(changes) != 1 || changes[0].Host.Name != "plugin-test" || changes[0].User.Audit == nil || changes[0].User.Audit.ID != "4242" {
		ls, _ := exec.Command("ls", "-la", state, filepath.Join(state, "trail")).CombinedOutput()
		daemonOut, _ := os.ReadFile(filepath.Join(a.Dir(), "auditd.out"))
		t.Fatalf("profile change through the plugin: %+v\nstate dir:\n%s\nauditd said:\n%s", changes, ls, daemonOut)
	}
	pluginRestart(t, a, state)
	pluginStop(t, a, state)
}

// pluginStop: auditd stops for good (SIGTERM to its pid, the harness still
// holding the host, so no other auditd starts). The plugin's input ends
// while the old auditd is still the kernel's; it finds no other one within
// the restart's moments and records a stop, critical, and the gap that says
// changes are not recorded.
func pluginStop(t *testing.T, a *auditdtest.Auditd, state string) {
	before := len(trailEvents(t, state, ""))
	if err := syscall.Kill(a.PID(), syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	var after []string
	for deadline := time.Now().Add(15 * time.Second); ; time.Sleep(200 * time.Millisecond) {
		stop, gap := false, false
		after = after[:0]
		for _, e := range trailEvents(t, state, "")[before:] {
			after = append(after, e.Gotrail.Kind+" "+e.Gotrail.Severity+" "+e.Event.Action+": "+e.Message)
			stop = stop || e.Auditd.MessageType == "daemon_end" && e.Event.Action == "end" && e.Gotrail.Severity == "critical"
			gap = gap || strings.HasPrefix(e.Message, "auditd stopped")
		}
		if stop && gap {
			break
		}
		if time.Now().After(deadline) {
			t.Errorf("auditd stopped: the plugin's trail has no critical stop and its gap; all since:\n%s", strings.Join(after, "\n"))
			break
		}
	}
	t.Logf("after the stop:\n%s", strings.Join(after, "\n"))
}

// pluginRestart: auditd restarts, and its plugin with it. The serial the
// old daemon's unregistering takes (never logged, unless the kernel holds
// records for the next auditd: audit=1 at boot) lies between the two
// plugin runs; the new run resumes from where the old one stopped and
// records it as an info gap, which alerts no one; and the restart is one
// info event, not a stop.
func pluginRestart(t *testing.T, a *auditdtest.Auditd, state string) {
	before := len(trailEvents(t, state, ""))
	restarted := time.Now()
	a.Restart(t)
	time.Sleep(time.Until(restarted.Add(6 * time.Second))) // past the serials' window
	a.Sync(t)
	cmdline, _ := os.ReadFile("/proc/cmdline")
	held := strings.Contains(" "+strings.TrimSpace(string(cmdline))+" ", " audit=1 ")
	var gaps, after []string
	for deadline := time.Now().Add(10 * time.Second); ; time.Sleep(100 * time.Millisecond) {
		gaps, after = nil, nil
		for _, e := range trailEvents(t, state, "")[before:] {
			after = append(after, e.Gotrail.Kind+" "+e.Gotrail.Severity+": "+e.Message)
			if e.Gotrail.Kind == event.KindGap && strings.Contains(e.Message, "missing from the log") {
				gaps = append(gaps, e.Gotrail.Severity+": "+e.Message)
			}
		}
		if len(gaps) > 0 || held || time.Now().After(deadline) {
			break
		}
	}
	switch {
	case held && len(gaps) != 0:
		t.Errorf("with audit=1 the kernel holds the unregistering for the next auditd, yet: %q", gaps)
	case !held && (len(gaps) != 1 || !strings.HasPrefix(gaps[0], "info: ") || !strings.Contains(gaps[0], "across a restart of auditd")):
		t.Errorf("after a restart of auditd the plugin's trail has gaps %q, want one info gap across the restart; all since:\n%s", gaps, strings.Join(after, "\n"))
	case !held:
		checkKernelLogOfGap(t, gaps[0])
	}
	// the old plugin, its input ended, sees the new auditd in the kernel:
	// a restart, info, and nothing above it
	restart := false
	for _, e := range trailEvents(t, state, "")[before:] {
		restart = restart || e.Event.Action == "restart" && e.Gotrail.Severity == "info"
		if e.Gotrail.Severity == "high" || e.Gotrail.Severity == "critical" {
			t.Errorf("after a restart of auditd: %s %s: %s", e.Gotrail.Kind, e.Gotrail.Severity, e.Message)
		}
	}
	if !restart {
		t.Errorf("no info restart in the plugin's trail; all since:\n%s", strings.Join(after, "\n"))
	}
	t.Logf("after the restart:\n%s", strings.Join(after, "\n"))
}

// checkKernelLogOfGap holds the gap's message to what the kernel's log
// (/dev/kmsg) holds of its serials, read by the test itself: every one of
// them there, printed while no auditd was registered, and the gap must say
// so and name the old daemon unregistering; fewer (the kernel's printk
// rate limit drops lines), and it must not claim them all.
func checkKernelLogOfGap(t *testing.T, gap string) {
	t.Helper()
	var from, to uint64
	i := strings.Index(gap, "(serials ")
	if i < 0 {
		t.Fatalf("no serials in the gap %q", gap)
	}
	if _, err := fmt.Sscanf(gap[i:], "(serials %d to %d)", &from, &to); err != nil {
		t.Fatalf("the serials of the gap %q: %v", gap, err)
	}
	// each of a plugin restart's serials is one line (the unregistering,
	// the old plugin leaving the multicast group): printed whole or not
	found, err := kmsg.Find(kmsg.Path, from, to, time.Now().Unix()-120, time.Now().Unix())
	if err != nil {
		t.Fatalf("reading the kernel's log: %v", err)
	}
	claims := strings.Contains(gap, "the kernel's log holds every one of them")
	switch {
	case uint64(len(found)) == to-from+1 && (!claims || !strings.Contains(gap, "op=set audit_pid=0")):
		t.Errorf("the kernel's log holds all of serials %d-%d (%v), yet the gap says %q", from, to, found, gap)
	case uint64(len(found)) < to-from+1 && claims:
		t.Errorf("the kernel's log holds %d of serials %d-%d, yet the gap says %q", len(found), from, to, gap)
	case uint64(len(found)) < to-from+1:
		t.Logf("the kernel's log holds %d of serials %d-%d (its rate limit): the gap is judged by its size", len(found), from, to)
	}
}

// startPluginAuditd starts the test's auditd with gotrail as its plugin,
// configured as gotrail gen audisp prints it, keeping the trail in state.
// auditd runs the plugin as root from dir, which must be searchable.
func startPluginAuditd(t *testing.T, bin, dir, state string) *auditdtest.Auditd {
	t.Helper()
	cfg := filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, []byte("host = \"plugin-test\"\nstate_dir = \""+state+"\"\n"), 0o644)
	var conf bytes.Buffer
	g := &globalOptions{config: cfg, configNamed: true}
	if err := runGen(g, "audisp", &genOptions{bin: bin}, &conf); err != nil {
		t.Fatal(err)
	}
	return auditdtest.StartWithPlugins(t, map[string]string{"gotrail.conf": conf.String()})
}

// TestWatchFromNetlink: gotrail watch --source netlink reads the kernel's
// audit multicast group (RAW records, names from /etc/passwd) into the trail.
func TestWatchFromNetlink(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	dir := t.TempDir()
	profile := filepath.Join(dir, "profile")
	os.WriteFile(profile, nil, 0o644)
	state := filepath.Join(dir, "state")
	cfg := filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, nil, 0o644)
	a := auditdtest.Start(t) // the rules and the kernel state go through the harness
	a.AddRule(t, "-w", profile, "-p", "wa", "-k", "gotrail-profile")
	w, stderr := startWatcher(t, bin, "watch", "--source", "netlink", "--state-dir", state, "--host", "nl", "--config", cfg)
	if out, err := auditdtest.RunAsLogin(t, 0, "sh", "-c", "echo x >> "+profile); err != nil {
		t.Fatalf("%v %s", err, out)
	}
	deadline := time.Now().Add(10 * time.Second)
	var evs []event.Event
	for len(evs) == 0 && time.Now().Before(deadline) {
		time.Sleep(20 * time.Millisecond)
		evs = trailEvents(t, state, event.KindProfile)
	}
	if len(evs) != 1 || evs[0].User.Audit == nil || evs[0].User.Audit.Name != "root" || evs[0].File == nil || evs[0].File.Path != profile {
		t.Fatalf("trail from netlink: %+v\nwatcher said:\n%s", evs, stderr.String())
	}
	w.Process.Signal(syscall.SIGTERM)
	if err := w.Wait(); err != nil {
		t.Errorf("watch after SIGTERM: %v\n%s", err, stderr.String())
	}
}

// getenv is the value of name in the event's process.env_vars.
func getenv(e *event.Event, name string) string {
	v, _ := e.Process.Getenv(name)
	return v
}

// goBinary is the real path of the go command the tests run (the exec
// rules match the executable, not a symlink to it).
func goBinary(t *testing.T) string {
	t.Helper()
	p, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("the go command is needed: %v", err)
	}
	if real, err := filepath.EvalSymlinks(p); err == nil {
		p = real
	}
	return p
}
