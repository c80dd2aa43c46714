package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/testutil/auditdtest"
)

// TestEventsOnRealAuditd records real changes with the real auditd under
// gotrail's rule keys, as login users the kernel attributes, and checks what
// gotrail events says about them.
func TestEventsOnRealAuditd(t *testing.T) {
	auditdtest.Required(t)
	goBin := goBinary(t)
	// bob must reach the file to be refused by its mode, not by the path
	dir := t.TempDir()
	for _, d := range []string{filepath.Dir(dir), dir} {
		if err := os.Chmod(d, 0o755); err != nil {
			t.Fatal(err)
		}
	}
	profile := filepath.Join(dir, "profile")
	goroot := filepath.Join(dir, "goroot")
	if err := os.WriteFile(profile, []byte("export PATH=/usr/bin\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(goroot, 0o755); err != nil {
		t.Fatal(err)
	}

	a := auditdtest.Start(t)
	a.AddRule(t, "-w", profile, "-p", "wa", "-k", "gotrail-profile")
	a.AddRule(t, "-w", goroot, "-p", "wa", "-k", "gotrail-goroot")
	a.AddRule(t, "-w", goBin, "-p", "x", "-k", "gotrail-exec")

	alice := auditdtest.Login{AUID: 4242}                       // alice (as root)
	bob := auditdtest.Login{AUID: 4243, UID: 4243, GID: 4243}   // bob as bob
	carol := auditdtest.Login{AUID: 4244, UID: 4244, GID: 4244} // carol as carol
	run := func(l auditdtest.Login, wantOK bool, name string, args ...string) {
		t.Helper()
		out, err := auditdtest.RunAs(t, l, name, args...)
		if (err == nil) != wantOK {
			t.Fatalf("%s %v: err=%v (want ok=%v)\n%s", name, args, err, wantOK, out)
		}
	}
	run(alice, true, "sh", "-c", "echo 'export GOPROXY=direct' >> "+profile)
	run(alice, true, "sed", "-i", "s/direct/off/", profile)
	run(bob, false, "sh", "-c", "echo x >> "+profile)
	run(alice, true, "chmod", "600", profile)
	run(alice, true, "touch", filepath.Join(goroot, "go.env"))
	run(carol, false, goBin, "version", "\x1b[31mred") // fails after the exec: no such file
	a.Sync(t)

	var out, errOut bytes.Buffer
	g := &globalOptions{root: "/", format: "json"}
	if err := runEvents(context.Background(), g, &eventsOptions{}, []string{a.LogPath()}, nil, &out, &errOut); err != nil {
		t.Fatalf("events: %v\n%s", err, errOut.String())
	}
	if errOut.Len() > 0 {
		t.Errorf("stderr: %s", errOut.String())
	}
	var events []event.Event
	for _, line := range strings.Split(strings.TrimSpace(out.String()), "\n") {
		var e event.Event
		if err := json.Unmarshal([]byte(line), &e); err != nil {
			t.Fatalf("output line does not parse: %v\n%s", err, line)
		}
		events = append(events, e)
	}
	find := func(what string, pred func(e *event.Event) bool) *event.Event {
		t.Helper()
		for i := range events {
			if pred(&events[i]) {
				return &events[i]
			}
		}
		t.Errorf("no event: %s\nevents:\n%s", what, out.String())
		return nil
	}
	auid := func(e *event.Event) string {
		if e.User.Audit == nil {
			return ""
		}
		return e.User.Audit.ID
	}
	path := func(e *event.Event) string {
		if e.File == nil {
			return ""
		}
		return e.File.Path
	}

	// auditctl adding the rule logs its key but is a configuration change:
	// the key goes with the change, not into tags (no rule fired)
	find("auditctl adding the profile rule", func(e *event.Event) bool {
		c := e.Gotrail.AuditChange
		return e.Gotrail.Kind == event.KindTamper && e.Event.Action == "add_rule" && len(e.Tags) == 0 &&
			c != nil && slices.Contains(c.Added, event.RuleCount{Key: "gotrail-profile", Rules: 1})
	})
	for _, e := range events {
		if e.Process.Name == "auditctl" && e.Gotrail.Kind != event.KindTamper {
			t.Errorf("auditctl event classified %s: %s", e.Gotrail.Kind, e.Message)
		}
	}
	if e := find("alice writing the profile", func(e *event.Event) bool {
		return e.Gotrail.Kind == event.KindProfile && e.Event.Action == "write" && auid(e) == "4242" && e.Process.Name == "sh"
	}); e != nil {
		if e.User.ID != "0" || path(e) != profile || e.Event.Outcome != "success" || !slices.Contains(e.Tags, "gotrail-profile") {
			t.Errorf("write event: %+v", e)
		}
		if want := "4242 (as root) wrote " + profile + " with sh"; e.Message != want {
			t.Errorf("message %q, want %q", e.Message, want)
		}
	}
	if e := find("sed -i renaming over the profile", func(e *event.Event) bool {
		return e.Gotrail.Kind == event.KindProfile && e.Event.Action == "rename" && auid(e) == "4242"
	}); e != nil {
		if path(e) != profile || !strings.HasPrefix(e.Gotrail.PreviousPath, dir+"/sed") || e.Process.Name != "sed" {
			t.Errorf("rename event: file %+v process %s", e.File, e.Process.Name)
		}
	}
	if e := find("bob failing to write", func(e *event.Event) bool {
		return e.Gotrail.Kind == event.KindProfile && auid(e) == "4243"
	}); e != nil {
		if e.Event.Outcome != "failure" || e.Auditd.Exit != "EACCES" || e.User.ID != "4243" {
			t.Errorf("failed write: outcome %s exit %s uid %s", e.Event.Outcome, e.Auditd.Exit, e.User.ID)
		}
	}
	find("alice's chmod", func(e *event.Event) bool {
		return e.Gotrail.Kind == event.KindProfile && e.Event.Action == "chmod" && auid(e) == "4242" && path(e) == profile
	})
	find("go.env created in the goroot", func(e *event.Event) bool {
		return e.Gotrail.Kind == event.KindGoroot && e.Event.Action == "create" && path(e) == filepath.Join(goroot, "go.env")
	})
	if e := find("carol running go", func(e *event.Event) bool {
		return e.Gotrail.Kind == event.KindExec && auid(e) == "4244"
	}); e != nil {
		want := []string{goBin, "version", "\x1b[31mred"}
		if strings.Join(e.Process.Args, "|") != strings.Join(want, "|") || e.User.ID != "4244" || e.Process.Executable != goBin {
			t.Errorf("go exec: args %q uid %s exe %s", e.Process.Args, e.User.ID, e.Process.Executable)
		}
	}

	// the same log as text: nothing raw reaches a terminal
	out.Reset()
	g.format = "text"
	if err := runEvents(context.Background(), g, &eventsOptions{}, []string{a.LogPath()}, nil, &out, &errOut); err != nil {
		t.Fatal(err)
	}
	if bytes.ContainsRune(out.Bytes(), 0x1b) {
		t.Errorf("text output carries a raw escape:\n%q", out.String())
	}
	if !strings.Contains(out.String(), `version \x1b[31mred`) {
		t.Errorf("text output lacks the escaped argument:\n%s", out.String())
	}
}
