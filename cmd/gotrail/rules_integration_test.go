package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
)

// addLoginUser creates a real login user (bash, home directory) for the
// test and removes it, home and all, at the end.
func addLoginUser(t *testing.T, name string, uid int) (home string) {
	t.Helper()
	removeUser(t, name, uid) // left by a killed run
	if out, err := exec.Command("useradd", "-m", "-u", strconv.Itoa(uid), "-U", "-s", "/bin/bash", name).CombinedOutput(); err != nil {
		t.Fatalf("useradd %s: %v\n%s", name, err, out)
	}
	t.Cleanup(func() {
		if err := removeUser(t, name, uid); err != nil {
			t.Errorf("removing the test's user %s: %v", name, err)
		}
	})
	return "/home/" + name
}

// removeUser ends the processes the test's user still runs (go starts a
// telemetry child that outlives the command) and removes the user, home and
// all. A user that is not there is no error.
func removeUser(t *testing.T, name string, uid int) error {
	t.Helper()
	if _, err := user.Lookup(name); err != nil {
		return nil
	}
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(50 * time.Millisecond) {
		if exec.Command("pkill", "-KILL", "-u", strconv.Itoa(uid)).Run() != nil || time.Now().After(deadline) {
			break // none left (pkill exits 1), or give up and let userdel say why
		}
	}
	if out, err := exec.Command("userdel", "-r", name).CombinedOutput(); err != nil {
		return fmt.Errorf("userdel -r %s: %v: %s", name, err, strings.TrimSpace(string(out)))
	}
	return nil
}

// restoreFile puts a host file back as it was when the test ends (or
// removes it if it did not exist).
func restoreFile(t *testing.T, path string) {
	t.Helper()
	old, err := os.ReadFile(path)
	existed := err == nil
	st, _ := os.Stat(path)
	t.Cleanup(func() {
		if !existed {
			os.Remove(path)
			return
		}
		if err := os.WriteFile(path, old, st.Mode().Perm()); err != nil {
			t.Errorf("restore %s: %v", path, err)
		}
	})
}

// TestRulesOnRealAuditd installs the generated rules into the real kernel
// with the real augenrules, checks them, breaks them, and then records the
// actions the rules exist for, as login users, through gotrail events.
func TestRulesOnRealAuditd(t *testing.T) {
	auditdtest.Required(t)
	for _, tool := range []string{"useradd", "userdel", "augenrules"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Fatalf("%s is needed (Debian packages passwd, auditd): %v", tool, err)
		}
	}
	goBin := goBinary(t)

	// a login user of our own, with a PATH directory in its home
	const user, uid = "gotrailtest", 4300
	home := addLoginUser(t, user, uid)
	if err := os.Mkdir(home+"/bin", 0o755); err != nil {
		t.Fatal(err)
	}
	os.Chown(home+"/bin", uid, uid)

	// a GOROOT of our own, named in the configuration
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		os.Chmod(d, 0o755)
	}
	goroot := filepath.Join(dir, "goroot")
	os.MkdirAll(goroot+"/bin", 0o755)
	os.WriteFile(goroot+"/bin/go", nil, 0o755)
	os.WriteFile(goroot+"/go.env", []byte("GOPROXY=https://proxy.golang.org,direct\n"), 0o644)
	cfgFile := filepath.Join(dir, "gotrail.toml")
	os.WriteFile(cfgFile, []byte("goroots = [\""+goroot+"\"]\n"), 0o644)
	g := &globalOptions{root: "/", config: cfgFile, configNamed: true}

	for _, f := range []string{rules.RulesFile, "/etc/audit/audit.rules", "/etc/environment"} {
		restoreFile(t, f)
	}
	a := auditdtest.Start(t)

	host, err := rules.Discover("/", []string{goroot})
	if err != nil {
		t.Fatal(err)
	}
	plan := rules.Generate(host)
	t.Cleanup(func() {
		for _, r := range rules.All(plan.Groups) {
			exec.Command("auditctl", r.DeleteArgs()...).Run()
		}
		// the directories --install made in the homes of the host's users
		for i := len(plan.Dirs) - 1; i >= 0; i-- {
			os.Remove(plan.Dirs[i].Path) // only if still empty
		}
	})

	var out bytes.Buffer
	if err := runRules(g, &rulesOptions{install: true}, &out); err != nil {
		t.Fatalf("rules --install: %v", err)
	}
	t.Log(strings.TrimSpace(out.String()))
	if fi, err := os.Stat(rules.RulesFile); err != nil || fi.Mode().Perm() != 0o640 {
		t.Errorf("%s: %v", rules.RulesFile, err)
	}
	if fi, err := os.Stat(home + "/.config/go"); err != nil {
		t.Errorf("~/.config/go not created: %v", err)
	} else if st, ok := fi.Sys().(*syscall.Stat_t); !ok || st.Uid != uid {
		t.Errorf("~/.config/go not owned by %s", user)
	}
	out.Reset()
	if err := runRules(g, &rulesOptions{check: true}, &out); err != nil {
		t.Fatalf("rules --check after --install: %v\n%s", err, out.String())
	}
	if !strings.Contains(out.String(), " 0 missing, 0 extra") {
		t.Errorf("check output:\n%s", out.String())
	}

	login := auditdtest.Login{AUID: uid}                    // gotrailtest (as root)
	self := auditdtest.Login{AUID: uid, UID: uid, GID: uid} // gotrailtest as itself
	run := func(l auditdtest.Login, name string, args ...string) {
		t.Helper()
		if out, err := auditdtest.RunAs(t, l, name, args...); err != nil {
			t.Fatalf("%s %q: %v\n%s", name, args, err, out)
		}
	}
	profiled := "/etc/profile.d/gotrail-test.sh"
	t.Cleanup(func() { os.Remove(profiled) })
	run(login, "sh", "-c", "echo 'export GOFLAGS=-mod=mod' >> "+profiled)
	run(login, "sed", "-i", "s/gotrail-never-matches//", "/etc/environment")
	goenv := exec.Command(goBin, "env", "-w", "GOPROXY=https://proxy.example.test")
	goenv.Env = []string{"HOME=" + home, "PATH=/usr/bin:/bin"}
	goenv.Dir = home
	var goOut bytes.Buffer
	goenv.Stdout, goenv.Stderr = &goOut, &goOut
	if err := auditdtest.StartAs(self, goenv); err != nil {
		t.Fatal(err)
	}
	if err := goenv.Wait(); err != nil {
		t.Fatalf("go env -w: %v\n%s", err, goOut.String())
	}
	run(login, "cp", "/etc/hostname", goroot+"/copied")
	run(login, "chmod", "600", goroot+"/copied")
	run(login, "mv", goroot+"/copied", goroot+"/renamed")
	run(login, "sh", "-c", "echo GOSUMDB=off >> "+goroot+"/go.env")
	run(self, "touch", home+"/bin/go")
	removed := rules.Rule{Watch: "/etc/environment", Perm: "wa", Key: rules.KeyProfile}
	run(login, "auditctl", removed.DeleteArgs()...)
	a.Sync(t)

	// the removed rule is named, exit status 1
	out.Reset()
	err = runRules(g, &rulesOptions{check: true}, &out)
	var fe *findingsError
	if !errors.As(err, &fe) || !strings.Contains(out.String(), "missing: "+removed.String()) {
		t.Errorf("check after removing a rule: %v\n%s", err, out.String())
	}

	var evOut, evErr bytes.Buffer
	if err := runEvents(context.Background(), &globalOptions{root: "/", format: "json", config: cfgFile, configNamed: true},
		&eventsOptions{}, []string{a.LogPath()}, nil, &evOut, &evErr); err != nil {
		t.Fatalf("events: %v\n%s", err, evErr.String())
	}
	var events []event.Event
	for _, line := range strings.Split(strings.TrimSpace(evOut.String()), "\n") {
		var e event.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("%v: %s", err, line)
		}
		events = append(events, e)
	}
	want := []struct {
		what, kind, action, path string
	}{
		{"append to profile.d", event.KindProfile, "", profiled},
		{"sed -i on /etc/environment", event.KindProfile, "rename", "/etc/environment"},
		{"go env -w", event.KindGoenv, "", home + "/.config/go/env"},
		{"go env -w runs go", event.KindExec, "exec", ""},
		{"copy into GOROOT", event.KindGoroot, "create", goroot + "/copied"},
		{"chmod in GOROOT", event.KindGoroot, "chmod", goroot + "/copied"},
		{"rename in GOROOT", event.KindGoroot, "rename", goroot + "/renamed"},
		{"write go.env", event.KindGoroot, "write", goroot + "/go.env"},
		{"go in a PATH directory", event.KindPath, "create", home + "/bin/go"},
		{"auditctl removing a rule", event.KindTamper, "remove_rule", ""},
	}
	for _, w := range want {
		found := false
		for _, e := range events {
			if e.Gotrail.Kind != w.kind || (w.action != "" && e.Event.Action != w.action) {
				continue
			}
			if w.path != "" && (e.File == nil || e.File.Path != w.path) {
				continue
			}
			if e.User.Audit == nil || e.User.Audit.ID != strconv.Itoa(uid) || e.User.Audit.Name != user {
				continue
			}
			found = true
		}
		if !found {
			t.Errorf("no %s event (%s %s %s) by login user %s", w.what, w.kind, w.action, w.path, user)
		}
	}
	if t.Failed() {
		t.Logf("events:\n%s", evOut.String())
	}
}
