package main

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
)

// keepHomes removes, when the test ends, the ~/.config and ~/.config/go of
// the host's login users that did not exist when it began (if still empty):
// gotrail makes them, and a test leaves the host as it found it.
func keepHomes(t *testing.T) {
	t.Helper()
	host, err := rules.Discover("/", nil)
	if err != nil {
		t.Fatal(err)
	}
	var made []string
	for _, u := range host.Users {
		for _, d := range []string{u.Home + "/.config", u.Home + "/.config/go"} {
			if _, err := os.Lstat(d); os.IsNotExist(err) {
				made = append(made, d)
			}
		}
	}
	t.Cleanup(func() {
		for i := len(made) - 1; i >= 0; i-- {
			os.Remove(made[i])
		}
	})
}

// deleteRulesOf removes, when the test ends, every loaded gotrail rule that
// names a path under dir.
func deleteRulesOf(t *testing.T, dir string) {
	t.Cleanup(func() {
		loaded, _ := rules.Auditctl{}.List()
		for _, l := range loaded {
			if r, ok := rules.ParseLoaded(l); ok && strings.Contains(l, dir+"/") {
				rules.Auditctl{}.Delete(r)
			}
		}
	})
}

// TestPrintedRulesLoad: what gotrail rules prints loads whole with
// auditctl -R, for a login user whose ~/.config/go does not exist yet (its
// Go env rule is a comment then, and --check does not expect it).
func TestPrintedRulesLoad(t *testing.T) {
	auditdtest.Required(t)
	const user, uid = "gotrailnew", 4310
	home := addLoginUser(t, user, uid)
	if _, err := os.Stat(home + "/.config/go"); !os.IsNotExist(err) {
		t.Fatalf("%s/.config/go exists after useradd: %v", home, err)
	}
	keepHomes(t)
	auditdtest.Start(t)
	empty := filepath.Join(t.TempDir(), "empty.toml")
	os.WriteFile(empty, nil, 0o600)
	g := &globalOptions{root: "/", config: empty, configNamed: true}
	var out bytes.Buffer
	if err := runRules(g, &rulesOptions{}, &out); err != nil {
		t.Fatal(err)
	}
	goenv := "-w " + home + "/.config/go/env -p wa -k gotrail-goenv"
	if !strings.Contains(out.String(), "\n# "+goenv+"\n") || !strings.Contains(out.String(), "gotrail rules --install (or gotrail setup) creates it") {
		t.Errorf("the Go env rule of %s is not a comment saying who creates its directory:\n%s", user, out.String())
	}
	file := filepath.Join(t.TempDir(), "gotrail.rules")
	os.WriteFile(file, out.Bytes(), 0o600)
	host, _ := rules.Discover("/", nil)
	plan := rules.Generate(host)
	t.Cleanup(func() {
		for _, r := range rules.All(plan.Groups) {
			rules.Auditctl{}.Delete(r)
		}
	})
	if msg, err := exec.Command("auditctl", "-R", file).CombinedOutput(); err != nil {
		t.Fatalf("auditctl -R of gotrail rules' output: %v\n%s", err, msg)
	}
	loaded, _ := rules.Auditctl{}.List()
	for _, r := range rules.All(plan.Groups) {
		if !slices.Contains(loaded, r.String()) {
			t.Errorf("printed but not loaded: %s", r)
		}
	}
	out.Reset()
	if err := runRules(g, &rulesOptions{check: true}, &out); err != nil {
		t.Errorf("--check after loading the printed rules: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), "waiting: "+goenv) {
		t.Errorf("--check does not list the rule waiting for its directory:\n%s", out.String())
	}
}

// TestWatchCoversNewLoginUser: a login user created while gotrail watch
// runs gets ~/.config/go (theirs, 0700) and their rules without anyone
// running a command; the trail has one audit.rules event saying so, their
// go env -w is recorded, and their rules go when they do.
func TestWatchCoversNewLoginUser(t *testing.T) {
	auditdtest.Required(t)
	bin := buildGotrail(t)
	goBin := goBinary(t)
	const user, uid = "gotraillate", 4320
	removeUser(t, user, uid) // left by a killed run
	home := "/home/" + user
	restoreFile(t, rules.RulesFile)
	keepHomes(t)
	deleteRulesOf(t, home)
	a := auditdtest.Start(t)
	dir := t.TempDir()
	state, cfg := filepath.Join(dir, "state"), filepath.Join(dir, "gotrail.toml")
	// a policy that authorizes nobody: gotrail's upkeep is authorized anyway
	os.WriteFile(cfg, []byte("[[policy]]\nkinds = [\"goenv.modify\"]\nallow_users = [\"nobody-at-all\"]\n"), 0o644)
	w, stderr := startWatcher(t, bin, "watch", "--audit-log", a.LogPath(), "--config", cfg, "--state-dir", state, "--checkpoint-every", "1")

	addLoginUser(t, user, uid)
	goenv := "-w " + home + "/.config/go/env -p wa -k gotrail-goenv"
	loadedRule := func(r string) bool {
		loaded, _ := rules.Auditctl{}.List()
		return slices.Contains(loaded, r)
	}
	for deadline := time.Now().Add(15 * time.Second); !loadedRule(goenv); time.Sleep(50 * time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("no %s loaded 15 s after useradd\nwatcher said:\n%s", goenv, stderr.String())
		}
	}
	if fi, err := os.Stat(home + "/.config/go"); err != nil {
		t.Errorf("%s/.config/go: %v", home, err)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != uid || fi.Mode().Perm() != 0o700 {
		t.Errorf("%s/.config/go: mode %v; want it owned by %s, mode 0700", home, fi.Mode(), user)
	}
	if b, _ := os.ReadFile(rules.RulesFile); !strings.Contains(string(b), "\n"+goenv+"\n") {
		t.Errorf("%s does not have the new user's rule (it would not load at boot)", rules.RulesFile)
	}

	cmd := exec.Command(goBin, "env", "-w", "GOPROXY=https://late.example.test")
	cmd.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin", "GOTOOLCHAIN=local"}
	cmd.Dir = home
	var goOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &goOut, &goOut
	if err := auditdtest.StartAs(auditdtest.Login{AUID: uid, UID: uid, GID: uid}, cmd); err != nil {
		t.Fatal(err)
	}
	if err := cmd.Wait(); err != nil {
		t.Fatalf("go env -w: %v\n%s", err, goOut.String())
	}
	a.Sync(t)
	var changes []event.Event
	for deadline := time.Now().Add(10 * time.Second); len(changes) == 0; time.Sleep(50 * time.Millisecond) {
		for _, e := range trailEvents(t, state, event.KindGoenv) {
			if e.File != nil && e.File.Path == home+"/.config/go/env" && e.User.Audit != nil && e.User.Audit.ID == strconv.Itoa(uid) {
				changes = append(changes, e)
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("no goenv.modify of %s by %s in the trail\nwatcher said:\n%s", home+"/.config/go/env", user, stderr.String())
		}
	}

	// the user goes (without -r: the kernel drops the watches of a
	// directory that goes by itself): so do their rules
	exec.Command("pkill", "-KILL", "-u", strconv.Itoa(uid)).Run() // go's telemetry child
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		out, err := exec.Command("userdel", user).CombinedOutput()
		if err == nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("userdel: %v %s", err, out)
		}
		exec.Command("pkill", "-KILL", "-u", strconv.Itoa(uid)).Run()
	}
	t.Cleanup(func() { os.RemoveAll(home) })
	var upkeep []event.Event
	for deadline := time.Now().Add(15 * time.Second); len(upkeep) < 2; time.Sleep(50 * time.Millisecond) {
		upkeep = upkeep[:0]
		for _, e := range trailEvents(t, state, event.KindRules) {
			if strings.Contains(e.Message, user) {
				upkeep = append(upkeep, e)
			}
		}
		if time.Now().After(deadline) {
			break
		}
	}
	if loadedRule(goenv) {
		t.Errorf("%s still loaded after userdel", goenv)
	}
	w.Process.Signal(syscall.SIGTERM)
	w.Wait()
	if len(upkeep) != 2 || !strings.Contains(upkeep[0].Message, "login users added: "+user) ||
		!strings.Contains(upkeep[1].Message, "login users removed: "+user) {
		t.Fatalf("audit.rules events naming %s: %+v; want one for the add, one for the removal\nwatcher said:\n%s", user, upkeep, stderr.String())
	}
	for _, e := range upkeep {
		if e.Gotrail.Authorized == nil || !*e.Gotrail.Authorized || e.Gotrail.Severity != "info" {
			t.Errorf("gotrail's upkeep is not authorized info: %+v", e.Event)
		}
	}
}
