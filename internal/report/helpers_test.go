package report

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/pipeline"
	"github.com/gotrail/gotrail/internal/source"
	"github.com/gotrail/gotrail/internal/trail"
)

// recorded is the real recording of the repository: auditd 3.0.9, kernel
// 6.18, ENRICHED (internal/audit/testdata/README.md).
const recorded = "../audit/testdata/host-activity.log"

// recordedEvents are the recording's events as gotrail events gives them.
func recordedEvents(t testing.TB) []*event.Event {
	t.Helper()
	ins, err := source.Expand([]string{recorded}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	render := pipeline.Render(enrich.NewNames("/"), "vm", false, &classify.Classifier{}, &event.Filter{GoOnly: true}, event.AppendJSON)
	if _, err := pipeline.Run(context.Background(), ins, render, &out, pipeline.Options{}); err != nil {
		t.Fatal(err)
	}
	var evs []*event.Event
	for _, line := range bytes.Split(bytes.TrimSpace(out.Bytes()), []byte("\n")) {
		e := new(event.Event)
		if err := event.Decode(line, e); err != nil {
			t.Fatal(err)
		}
		evs = append(evs, e)
	}
	return evs
}

// writeTrail appends evs to a new trail in a temporary state directory
// and signs a checkpoint, as gotrail watch leaves it.
func writeTrail(t testing.TB, evs []*event.Event) string {
	t.Helper()
	state := t.TempDir()
	w, err := trail.Open(state, trail.Options{Now: func() time.Time { return time.Date(2026, 11, 25, 0, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	signer, _, _, err := trail.Key(state, "vm")
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range evs {
		if err := w.Append(e); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := w.Checkpoint(signer, "vm"); err != nil {
		t.Fatal(err)
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return state
}

// tamper changes the first occurrence of old in the trail's segments: an
// edit that does not recompute the hashes.
func tamper(t testing.TB, state, old, new string) {
	t.Helper()
	segs, _ := filepath.Glob(filepath.Join(state, "trail", "trail-*.jsonl"))
	for _, s := range segs {
		b, err := os.ReadFile(s)
		if err != nil {
			t.Fatal(err)
		}
		if bytes.Contains(b, []byte(old)) {
			if err := os.WriteFile(s, bytes.Replace(b, []byte(old), []byte(new), 1), 0o600); err != nil {
				t.Fatal(err)
			}
			return
		}
	}
	t.Fatalf("%q is in no segment", old)
}

// gather reads a state directory's trail without the host's state, so
// that what the page shows comes from the trail alone.
func gather(t testing.TB, state string, mod func(*Options)) *Report {
	t.Helper()
	o := Options{StateDir: state, Lang: "en", NoHost: true, Host: "vm", Now: time.Date(2026, 12, 1, 9, 0, 0, 0, time.UTC), TempDir: t.TempDir()}
	if mod != nil {
		mod(&o)
	}
	rep, err := Gather(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { rep.Close() })
	return rep
}

func html(t testing.TB, rep *Report) string {
	t.Helper()
	var b strings.Builder
	if err := WriteHTML(&b, rep); err != nil {
		t.Fatal(err)
	}
	return b.String()
}

var (
	yes = true
	no  = false
)

// change is a profile.modify event with the policy's verdict.
func change(i int, who, path string, authorized bool) *event.Event {
	t := time.Date(2026, 11, 20+i%5, 10, 0, i%60, 0, time.UTC)
	e := &event.Event{
		Time:    event.Time{Time: t},
		Event:   event.Meta{ID: "1795000000.000:" + strconv.Itoa(1000+i), Action: "write", Outcome: "success"},
		Gotrail: event.Gotrail{Kind: event.KindProfile, Severity: "info", Authorized: &yes, Policy: "profile.d by goadmins"},
		User:    event.User{Audit: &event.Ident{ID: "1001", Name: who}, ID: "0", Name: "root", Effective: &event.Ident{ID: "0", Name: "root"}},
		Process: event.Process{PID: 100 + i, Executable: "/usr/bin/vim", Name: "vim", Args: []string{"vim", path}, Title: "vim " + path},
		File:    &event.File{Path: path},
		Message: who + " (as root) wrote " + path + " with vim",
	}
	if !authorized {
		e.Gotrail.Authorized, e.Gotrail.Severity, e.Gotrail.Policy = &no, "high", ""
	}
	event.Categorize(e)
	return e
}

func execEvent(i int, who string, args ...string) *event.Event {
	e := &event.Event{
		Time:    event.Time{Time: time.Date(2026, 11, 21, 10, 0, i%60, 0, time.UTC)},
		Event:   event.Meta{ID: "1795000100.000:" + strconv.Itoa(5000+i), Action: "exec", Outcome: "success"},
		Gotrail: event.Gotrail{Kind: event.KindExec},
		User:    event.User{Audit: &event.Ident{ID: "1001", Name: who}, ID: "1001", Name: who},
		Process: event.Process{PID: 200 + i, Executable: "/usr/local/go/bin/go", Name: "go", Args: args, Title: strings.Join(args, " ")},
	}
	event.Categorize(e)
	return e
}
