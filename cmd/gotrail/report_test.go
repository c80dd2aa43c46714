package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/trail"
)

// reportTrail writes a small signed trail: two changes and a run of go.
func reportTrail(t *testing.T) string {
	t.Helper()
	state := t.TempDir()
	w, err := trail.Open(state, trail.Options{})
	if err != nil {
		t.Fatal(err)
	}
	signer, _, _, err := trail.Key(state, "web-01")
	if err != nil {
		t.Fatal(err)
	}
	no := false
	for i, kind := range []string{event.KindGoenv, event.KindExec, event.KindProfile} {
		e := &event.Event{
			Time:    event.Time{Time: time.Date(2026, 11, 25, 20, 0, i, 0, time.UTC)},
			Event:   event.Meta{ID: "1795637809.006:" + string(rune('1'+i)), Action: "write", Outcome: "success"},
			Gotrail: event.Gotrail{Kind: kind, Severity: "high", Authorized: &no},
			User:    event.User{Audit: &event.Ident{ID: "1001", Name: "alice"}, ID: "1001", Name: "alice"},
			File:    &event.File{Path: "/home/alice/.config/go/env"},
			Process: event.Process{Executable: "/usr/local/go/bin/go", Args: []string{"go", "env", "-w", "GOSUMDB=off"}},
			Message: "alice wrote ~/.config/go/env with go",
		}
		event.Categorize(e)
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Checkpoint(signer, "web-01"); err != nil {
		t.Fatal(err)
	}
	w.Close()
	return state
}

// TestReportCommand: gotrail report as a user runs it: the page or the
// JSON to -o, exit 0 over a whole trail, 1 over a tampered one (the page
// written all the same, saying so), 2 with a one-line message for what
// cannot be done.
func TestReportCommand(t *testing.T) {
	corpus, _ := filepath.Abs("../../internal/audit/testdata/host-activity.log")
	whole := reportTrail(t)
	tampered := reportTrail(t)
	editTrail(t, tampered, "GOSUMDB=off", "GOSUMDB=on!")
	for _, tc := range []struct {
		name   string
		state  string
		format string
		opts   reportOptions
		args   []string
		exit   int
		msg    string   // in the error
		page   []string // in the output file
	}{
		{name: "trail", state: whole, opts: reportOptions{lang: "en"}, exit: exitOK,
			page: []string{`<section id="proof"`, "The chain is whole.", "alice → alice", "1795637809.006:3"}},
		{name: "zh", state: whole, opts: reportOptions{lang: "zh"}, exit: exitOK, page: []string{`<html lang="zh-CN">`, "未授权变更"}},
		{name: "json", state: whole, format: "json", opts: reportOptions{lang: "en", all: true}, exit: exitOK,
			page: []string{`"changes_listed":3`, `"verdict":"unauthorized"`}},
		{name: "logs", state: whole, opts: reportOptions{lang: "en"}, args: []string{corpus}, exit: exitOK,
			page: []string{"/etc/sedYdObGy -&gt; /etc/profile", "Read from audit logs, which carry no hash chain"}},
		{name: "tampered", state: tampered, opts: reportOptions{lang: "en"}, exit: exitFindings,
			msg: "report: the trail does not verify: record seq 1", page: []string{`<div class="banner" id="tampered"`}},
		{name: "no trail", state: t.TempDir(), opts: reportOptions{lang: "en"}, exit: exitError, msg: "report: no trail in"},
		{name: "bad lang", state: whole, opts: reportOptions{lang: "fr"}, exit: exitError, msg: `report: --lang "fr": want en or zh`},
		{name: "bad format", state: whole, format: "text", opts: reportOptions{lang: "en"}, exit: exitError, msg: `report: --format "text": want html or json`},
		{name: "bad since", state: whole, opts: reportOptions{lang: "en", since: "last tuesday"}, exit: exitError, msg: "report: --since: time"},
		{name: "trail and files", state: whole, opts: reportOptions{lang: "en", trail: true}, args: []string{corpus}, exit: exitError, msg: "report: --trail reads the state directory"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			g := &globalOptions{stateDir: tc.state, stateDirNamed: true, root: "/", format: tc.format, config: filepath.Join(tc.state, "none.toml")}
			out := filepath.Join(t.TempDir(), "report.out")
			o := tc.opts
			o.output = out
			err := runReport(context.Background(), g, &o, tc.args, nil, nil)
			if code := exitCode(err); code != tc.exit || tc.msg != "" && (err == nil || !strings.HasPrefix(err.Error(), tc.msg) || strings.Contains(err.Error(), "\n")) {
				t.Fatalf("exit %d (%v); want %d with one line starting %q", code, err, tc.exit, tc.msg)
			}
			b, rerr := os.ReadFile(out)
			if len(tc.page) == 0 {
				if rerr == nil {
					t.Errorf("a failed run left %s", out)
				}
				return
			}
			for _, want := range tc.page {
				if !bytes.Contains(b, []byte(want)) {
					t.Errorf("the report lacks %q", want)
				}
			}
			if tc.format == "json" && !json.Valid(b) {
				t.Error("not JSON")
			}
		})
	}
}

// TestReportHelpTeaches: --help says what each section is, shows
// examples and the exit statuses.
func TestReportHelpTeaches(t *testing.T) {
	cmd := newRootCmd()
	var out bytes.Buffer
	cmd.SetOut(&out)
	cmd.SetArgs([]string{"report", "--help"})
	if err := cmd.Execute(); err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{"8. How to reproduce", "gotrail report --lang zh", "EXIT STATUS", "1  report written, but the trail does not verify", "--all", "-o, --output file"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("help lacks %q", want)
		}
	}
}
