package main

import (
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
)

// rulesFor loads the rules `gotrail rules` makes for the toolchain at
// goroot (a configured GOROOT): its tree watch and the exec rules of its go
// and gofmt, nothing else of this host's.
func rulesFor(t *testing.T, a *auditdtest.Auditd, goroot string) {
	t.Helper()
	host, err := rules.Discover("/", []string{goroot})
	if err != nil {
		t.Fatal(err)
	}
	n := 0
	for _, r := range rules.All(rules.Generate(host).Groups) {
		if (r.Key == rules.KeyExec || r.Key == rules.KeyGoroot) && strings.Contains(r.String(), goroot+"/") || r.Watch == goroot {
			a.AddRule(t, r.Args()...)
			n++
		}
	}
	if n == 0 {
		t.Fatalf("gotrail rules made no rules for %s", goroot)
	}
}

// runGo runs go (or a script named go) as login l with GOPROXY set to a
// value the test looks for, and fails t if it fails.
func runGo(t *testing.T, l auditdtest.Login, home, goBin string, args ...string) {
	t.Helper()
	cmd := exec.Command(goBin, args...)
	cmd.Env = []string{"GOPROXY=http://capture.test", "HOME=" + home, "PATH=/usr/bin:/bin"}
	cmd.Dir = home
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := auditdtest.StartAs(l, cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("%s %v: %v\n%s", goBin, args, err, out.String())
	}
}

// captured waits until the trail holds runs `go version` execs by login
// auid, and returns how many of them carry their environment. Each one
// without says why, and must have been read by the exec catcher as it ran:
// only a process that had exited by then is allowed to miss.
func captured(t *testing.T, state, auid string, runs int) int {
	t.Helper()
	var mine []event.Event
	for deadline := time.Now().Add(30 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mine = mine[:0]
		for _, e := range trailEvents(t, state, event.KindExec) {
			if e.User.Audit != nil && e.User.Audit.ID == auid && len(e.Process.Args) == 2 && e.Process.Args[1] == "version" {
				mine = append(mine, e)
			}
		}
		if len(mine) >= runs {
			break
		}
	}
	if len(mine) != runs {
		t.Fatalf("%d go version runs by login %s in the trail, want %d", len(mine), auid, runs)
	}
	n := 0
	for i, e := range mine {
		switch {
		case getenv(&e, "GOPROXY") == "http://capture.test":
			n++
		case e.Gotrail.EnvError == "":
			t.Errorf("go.exec without its environment and without saying why: %+v", e.Process)
		case !exitedWhenRead(e.Gotrail.EnvError):
			t.Errorf("run %d of %d (pid %d): %s; want only a process that had exited when the exec catcher read it", i+1, runs, e.Process.PID, e.Gotrail.EnvError)
		default:
			t.Logf("run %d of %d (pid %d) had exited when the catcher read it: %s", i+1, runs, e.Process.PID, e.Gotrail.EnvError)
		}
	}
	return n
}

// readLate reports whether an env_error says the exec catcher had not read
// the process as it ran, and the watcher read /proc when auditd handed over
// the exec (internal/watch's execFacts).
func readLate(envError string) bool { return strings.Contains(envError, "when auditd handed over") }

// exitedWhenRead reports whether an env_error says the exec catcher read
// the process as it ran and found it gone, or exiting: the one miss a
// short run on a loaded host is allowed.
func exitedWhenRead(envError string) bool {
	if readLate(envError) {
		return false
	}
	return strings.Contains(envError, enrich.ErrGone.Error()) || strings.Contains(envError, enrich.ErrEmptyEnv.Error())
}

// catcherReady runs `go env GOVERSION` as login l until the trail holds one
// that the exec catcher read as it ran: the watcher, or the plugin auditd
// started, has joined the multicast group. Runs from before that say so
// ("read when auditd handed over its exec"), which captured counts as a
// catcher that failed.
func catcherReady(t *testing.T, state, auid string, l auditdtest.Login, home, goBin string) {
	t.Helper()
	probes := func() (n int, read bool) {
		for _, e := range trailEvents(t, state, event.KindExec) {
			if e.User.Audit != nil && e.User.Audit.ID == auid && len(e.Process.Args) == 3 && e.Process.Args[1] == "env" {
				n++
				read = read || !readLate(e.Gotrail.EnvError)
			}
		}
		return n, read
	}
	for deadline, sent := time.Now().Add(30*time.Second), 0; time.Now().Before(deadline); {
		runGo(t, l, home, goBin, "env", "GOVERSION")
		sent++
		for wait := time.Now().Add(2 * time.Second); time.Now().Before(wait); time.Sleep(20 * time.Millisecond) {
			if n, read := probes(); read {
				return
			} else if n >= sent {
				break
			}
		}
	}
	t.Fatalf("no go run by login %s was read by the exec catcher within 30 s", auid)
}

// TestEnvCaptureByDeployment: 200 `go version` runs by a login user, with
// the rules `gotrail rules` makes, under each deployment `gotrail setup`
// chooses: the daemon following the log (systemd hosts) and auditd's
// plugin (the others). The exec catcher reads every one of them as the
// kernel reports it; the share that still runs then is a race against a
// process that lives about 4 ms, which a loaded host loses more often
// (89.5-100% on this 2-core machine with two busy loops or a fuzzer beside
// it, 94% once in CI). The floor is set below that, and well above what the
// log alone gives (11-16% of runs when following it), so that it catches a
// catcher that stopped working, not a busy machine. DESIGN.md's target (95%)
// is measured where targets are, in bench/live (TestEnvCapture, 1,000 runs).
func TestEnvCaptureByDeployment(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	goBin := goBinary(t)
	goroot := filepath.Dir(filepath.Dir(goBin))
	home := addLoginUser(t, "gtcapture", 4271)
	login := auditdtest.Login{AUID: 4271, UID: 4271, GID: 4271}
	const runs, minCapturedPercent = 200, 75
	check := func(t *testing.T, state, deployment string) {
		got := captured(t, state, "4271", runs)
		t.Logf("%s: Go environment captured for %d of %d go version runs (%.1f%%)", deployment, got, runs, 100*float64(got)/runs)
		if got*100 < runs*minCapturedPercent {
			t.Errorf("%s: environment captured for %d of %d runs, want at least %d%%", deployment, got, runs, minCapturedPercent)
		}
	}
	t.Run("file", func(t *testing.T) {
		dir := t.TempDir()
		state, cfg := filepath.Join(dir, "state"), filepath.Join(dir, "gotrail.toml")
		os.WriteFile(cfg, nil, 0o644)
		a := auditdtest.Start(t)
		rulesFor(t, a, goroot)
		startWatcher(t, bin, "watch", "--audit-log", a.LogPath(), "--state-dir", state, "--host", "test", "--config", cfg)
		catcherReady(t, state, "4271", login, home, goBin)
		for range runs {
			runGo(t, login, home, goBin, "version")
		}
		a.Sync(t)
		check(t, state, "following the log (gotrail watch --source file)")
	})
	t.Run("plugin", func(t *testing.T) {
		dir := t.TempDir()
		for _, d := range []string{filepath.Dir(dir), dir, filepath.Dir(bin), filepath.Dir(filepath.Dir(bin))} {
			os.Chmod(d, 0o755)
		}
		state := filepath.Join(dir, "state")
		a := startPluginAuditd(t, bin, dir, state)
		rulesFor(t, a, goroot)
		catcherReady(t, state, "4271", login, home, goBin)
		for range runs {
			runGo(t, login, home, goBin, "version")
		}
		a.Sync(t)
		check(t, state, "auditd's plugin (gotrail plugin)")
	})
}

// makeToolchain makes a GOROOT at dir/go whose bin/go is goFile's content
// (a script, or a copy of a real go binary), searchable by everyone.
func makeToolchain(t *testing.T, dir string, goFile []byte) string {
	t.Helper()
	goroot := filepath.Join(dir, "go")
	for _, d := range []string{"bin", "pkg/tool", "src/runtime"} {
		if err := os.MkdirAll(filepath.Join(goroot, d), 0o755); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.WriteFile(filepath.Join(goroot, "bin", "go"), goFile, 0o755); err != nil {
		t.Fatal(err)
	}
	for d := goroot; d != "/" && d != "/tmp"; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return goroot
}

// TestScriptGoIsExec: a go that is a script is a go.exec, as the script,
// with the interpreter named, the login user and the arguments the caller
// gave: a wrapper in a toolchain's bin/, and a go binary replaced by a
// script (a goroot.modify first).
func TestScriptGoIsExec(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	realGo := goBinary(t)
	home := addLoginUser(t, "gtscript", 4272)
	login := auditdtest.Login{AUID: 4272, UID: 4272, GID: 4272}

	wrapperRoot := makeToolchain(t, t.TempDir(), fmt.Appendf(nil, "#!/bin/sh\nexec %s \"$@\"\n", realGo))
	binData, err := os.ReadFile(realGo)
	if err != nil {
		t.Fatal(err)
	}
	replacedRoot := makeToolchain(t, t.TempDir(), binData)
	dir := t.TempDir()
	state, cfg := filepath.Join(dir, "state"), filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, fmt.Appendf(nil, "goroots = [%q, %q]\n", wrapperRoot, replacedRoot), 0o644)
	a := auditdtest.Start(t)
	rulesFor(t, a, wrapperRoot)
	rulesFor(t, a, replacedRoot)
	_, stderr := startWatcher(t, bin, "watch", "--audit-log", a.LogPath(), "--state-dir", state, "--host", "test", "--config", cfg)

	wrapper := wrapperRoot + "/bin/go"
	replaced := replacedRoot + "/bin/go"
	catcherReady(t, state, fmt.Sprint(login.AUID), login, home, replaced)
	runGo(t, login, home, wrapper, "version")
	runGo(t, login, home, replaced, "version")
	// root (logged in as gtscript) puts a script in the binary's place
	if err := os.WriteFile(replaced+".new", []byte("#!/bin/sh\n# a trojan does its work, then passes for go\nsleep 2\necho go version go1.99 linux/amd64\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if out, err := auditdtest.RunAs(t, auditdtest.Login{AUID: 4272}, "mv", replaced+".new", replaced); err != nil {
		t.Fatalf("replacing the go binary: %v\n%s", err, out)
	}
	runGo(t, login, home, replaced, "version")
	a.Sync(t)

	var mine, modified []event.Event
	for deadline := time.Now().Add(15 * time.Second); time.Now().Before(deadline); time.Sleep(50 * time.Millisecond) {
		mine, modified = mine[:0], trailEvents(t, state, event.KindGoroot)
		for _, e := range trailEvents(t, state, event.KindExec) {
			if e.User.Audit != nil && e.User.Audit.Name == "gtscript" && (len(e.Process.Args) < 2 || e.Process.Args[1] != "env") {
				mine = append(mine, e) // not catcherReady's probes
			}
		}
		if len(mine) >= 3 && len(modified) >= 1 {
			break
		}
	}
	sh, err := filepath.EvalSymlinks("/bin/sh") // the interpreter is exe: the real file
	if err != nil {
		t.Fatal(err)
	}
	type want struct{ exe, interp, args string }
	wants := []want{
		{wrapper, sh, wrapper + " version"},
		{replaced, "", replaced + " version"},
		{replaced, sh, replaced + " version"},
	}
	if len(mine) != len(wants) {
		t.Fatalf("%d go.exec by gtscript, want %d: %+v\nwatcher said:\n%s", len(mine), len(wants), mine, stderr.String())
	}
	for i, w := range wants {
		e := mine[i]
		got := want{e.Process.Executable, e.Gotrail.Interpreter, strings.Join(e.Process.Args, " ")}
		envOK := getenv(&e, "GOPROXY") == "http://capture.test"
		if err := e.Gotrail.EnvError; !envOK && i < 2 && exitedWhenRead(err) {
			// go version lives a few ms, which a loaded host can lose
			// (TestEnvCaptureByDeployment measures how often); the
			// trojan's run, which sleeps, cannot be
			t.Logf("go.exec %d (pid %d) had exited when the catcher read it: %s", i, e.Process.PID, err)
			envOK = true
		}
		if got != w || e.User.Name != "gtscript" || !envOK {
			t.Errorf("go.exec %d: %+v user %s env %v (%s), want %+v\n%s", i, got, e.User.Name, e.Process.EnvVars, e.Gotrail.EnvError, w, e.Message)
		}
	}
	var swap *event.Event
	for i, e := range modified {
		if e.Event.Action == "rename" && e.File != nil && e.File.Path == replaced {
			swap = &modified[i]
		}
	}
	if swap == nil || swap.User.Audit == nil || swap.User.Audit.Name != "gtscript" || swap.Time.After(mine[2].Time.Time) {
		t.Errorf("the go binary replaced by a script: goroot.modify %+v, want a rename onto %s by gtscript before its run", modified, replaced)
	}
	if t.Failed() {
		log, _ := os.Open(a.LogPath())
		b, _ := io.ReadAll(log)
		t.Logf("audit log:\n%s", tailOf(b, 8000))
	}
}

// TestDiffNamesShadowedGoEnv: a login user whose ~/.profile sets GOPROXY
// changes GOPROXY with `go env -w`. What their login shell sees does not
// change, but the trail has the goenv.modify and `gotrail diff` names the
// file and the shadowed value.
func TestDiffNamesShadowedGoEnv(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	goBin := goBinary(t)
	const name, uid = "gtshadow", 4274
	home := addLoginUser(t, name, uid)
	login := auditdtest.Login{AUID: uid, UID: uid, GID: uid}
	profile := home + "/.profile"
	old, _ := os.ReadFile(profile)
	if err := os.WriteFile(profile, append(old, "export GOPROXY=https://goproxy.corp.example,direct\n"...), 0o644); err != nil {
		t.Fatal(err)
	}
	line := strings.Count(string(old), "\n") + 1
	runGo(t, login, home, goBin, "env", "-w", "GOPROXY=https://proxy.golang.org,direct")

	dir := t.TempDir()
	state, cfg := filepath.Join(dir, "state"), filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfg, nil, 0o644)
	gotrail := func(args ...string) (string, error) {
		cmd := exec.Command(bin, append([]string{"--config", cfg, "--state-dir", state}, args...)...)
		out, err := cmd.CombinedOutput()
		return string(out), err
	}
	if out, err := gotrail("snapshot", "--save", "--user", name); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, out)
	}
	a := auditdtest.Start(t)
	host, err := rules.Discover("/", nil)
	if err != nil {
		t.Fatal(err)
	}
	envFile := home + "/.config/go/env"
	for _, r := range rules.All(rules.Generate(host).Groups) {
		if r.Key == rules.KeyGoenv && r.Watch == envFile {
			a.AddRule(t, r.Args()...)
		}
	}
	runGo(t, login, home, goBin, "env", "-w", "GOPROXY=direct")
	a.Sync(t)
	if out, err := gotrail("snapshot", "--save", "--user", name); err != nil {
		t.Fatalf("snapshot: %v\n%s", err, out)
	}

	out, err := gotrail("diff", "--format", "text")
	var ee *exec.ExitError
	if !asExit(err, &ee) || ee.ExitCode() != 1 {
		t.Fatalf("diff: %v, want exit status 1\n%s", err, out)
	}
	shadow := fmt.Sprintf("(shadowed by %s:%d)", profile, line)
	want := fmt.Sprintf("~ user %s goenv %s GOPROXY: https://proxy.golang.org,direct %s -> direct %s", name, envFile, shadow, shadow)
	if !strings.Contains(out, want+"\n") {
		t.Errorf("diff does not name the shadowed change %q:\n%s", want, out)
	}
	if strings.Contains(out, "user "+name+" env GOPROXY") {
		t.Errorf("diff says the login's GOPROXY changed; it did not:\n%s", out)
	}

	evs, err := gotrail("events", "--kind", "goenv.modify", "--format", "json", a.LogPath())
	if err != nil {
		t.Fatalf("events: %v\n%s", err, evs)
	}
	if !strings.Contains(evs, `"audit":{"id":"4274","name":"gtshadow"}`) || !strings.Contains(evs, envFile) {
		t.Errorf("no goenv.modify of %s by %s in the log:\n%s", envFile, name, evs)
	}
}
