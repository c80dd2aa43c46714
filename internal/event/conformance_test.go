package event_test

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/install"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/trail"
	"github.com/gotrail/gotrail/internal/watch"
)

// ecsField is one line of ECS's field definitions.
type ecsField struct {
	typ     string
	array   bool
	allowed []string
}

func loadECS(t *testing.T) (fields map[string]ecsField, sets map[string]bool) {
	t.Helper()
	f, err := os.Open("testdata/ecs-fields.tsv")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	fields, sets = map[string]ecsField{}, map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' {
			continue
		}
		c := strings.Split(line, "\t")
		for len(c) < 4 {
			c = append(c, "")
		}
		fd := ecsField{typ: c[1], array: c[2] == "array"}
		if c[3] != "" {
			fd.allowed = strings.Split(c[3], ",")
		}
		fields[c[0]] = fd
		if i := strings.IndexByte(c[0], '.'); i > 0 {
			sets[c[0][:i]] = true
		}
	}
	return fields, sets
}

// ours are the namespaces gotrail keeps its own fields in: gotrail's
// vocabulary, auditd's raw view (as Auditbeat), the trail's chain.
// user.audit is Auditbeat's, kept as it is.
var ours = []string{"gotrail", "auditd", "trail"}

// checkECS reports every field of one event line that breaks ECS: a field
// inside an ECS field set that ECS does not define, a value of the wrong
// JSON type, a value outside the allowed ones, a top-level name that is
// neither ECS nor ours.
func checkECS(line []byte, fields map[string]ecsField, sets map[string]bool) []string {
	dec := json.NewDecoder(bytes.NewReader(line))
	dec.UseNumber()
	var doc map[string]any
	if err := dec.Decode(&doc); err != nil {
		return []string{"not JSON: " + err.Error()}
	}
	var bad []string
	for _, req := range []string{"@timestamp", "event.kind", "event.category", "event.type", "event.module", "event.dataset", "gotrail.kind"} {
		if lookup(doc, req) == nil {
			bad = append(bad, req+": missing")
		}
	}
	var walk func(prefix string, v any)
	walk = func(name string, v any) {
		top, _, _ := strings.Cut(name, ".")
		if slices.Contains(ours, top) || name == "user.audit" || strings.HasPrefix(name, "user.audit.") {
			return
		}
		if fd, ok := fields[name]; ok && fd.typ != "object" && fd.typ != "nested" && fd.typ != "flattened" {
			bad = append(bad, checkValue(name, fd, v)...)
			return
		}
		obj, isObj := v.(map[string]any)
		if !isObj {
			switch {
			case !sets[top] && !strings.Contains(name, "."):
				bad = append(bad, name+": a top-level field that is neither ECS nor gotrail's")
			default:
				bad = append(bad, name+": not an ECS field")
			}
			return
		}
		if !strings.Contains(name, ".") && !sets[name] && fields[name].typ == "" {
			bad = append(bad, name+": a top-level object that is neither an ECS field set nor gotrail's")
			return
		}
		for k, sub := range obj {
			walk(name+"."+k, sub)
		}
	}
	for k, v := range doc {
		walk(k, v)
	}
	return bad
}

func lookup(doc map[string]any, name string) any {
	var v any = doc
	for p := range strings.SplitSeq(name, ".") {
		m, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		if v, ok = m[p]; !ok {
			return nil
		}
	}
	return v
}

func checkValue(name string, fd ecsField, v any) []string {
	vals := []any{v}
	if arr, ok := v.([]any); ok {
		vals = arr
	} else if fd.array {
		return []string{fmt.Sprintf("%s: ECS wants an array, got %v", name, v)}
	}
	var bad []string
	for _, x := range vals {
		switch fd.typ {
		case "long", "integer", "short", "byte", "unsigned_long":
			n, ok := x.(json.Number)
			if _, err := n.Int64(); !ok || err != nil {
				bad = append(bad, fmt.Sprintf("%s: ECS type %s, got %v", name, fd.typ, x))
			}
		case "float", "double", "scaled_float":
			if _, ok := x.(json.Number); !ok {
				bad = append(bad, fmt.Sprintf("%s: ECS type %s, got %v", name, fd.typ, x))
			}
		case "boolean":
			if _, ok := x.(bool); !ok {
				bad = append(bad, fmt.Sprintf("%s: ECS type boolean, got %v", name, x))
			}
		case "date":
			s, ok := x.(string)
			if _, err := time.Parse(time.RFC3339Nano, s); !ok || err != nil {
				bad = append(bad, fmt.Sprintf("%s: ECS type date, got %v", name, x))
			}
		default: // keyword, wildcard, match_only_text, ip, …: strings
			s, ok := x.(string)
			if !ok {
				bad = append(bad, fmt.Sprintf("%s: ECS type %s, got %v", name, fd.typ, x))
			} else if len(fd.allowed) > 0 && !slices.Contains(fd.allowed, s) {
				bad = append(bad, fmt.Sprintf("%s: %q is not one of ECS's %s", name, s, strings.Join(fd.allowed, ",")))
			}
		}
	}
	return bad
}

// TestCheckECSCatchesWhatItShould: the checker itself, on lines that break
// ECS as gotrail's events once did.
func TestCheckECSCatchesWhatItShould(t *testing.T) {
	fields, sets := loadECS(t)
	good := `{"@timestamp":"2026-11-25T20:16:49.006Z","event":{"kind":"event","category":["file"],"type":["change"],"module":"gotrail","dataset":"gotrail.events","severity":0},"gotrail":{"kind":"profile.modify"},"user":{"audit":{"id":"1"}}}`
	if bad := checkECS([]byte(good), fields, sets); len(bad) > 0 {
		t.Errorf("a conforming line: %q", bad)
	}
	for _, tc := range []struct{ line, want string }{
		{`{"event":{"kind":"profile.modify"}}`, `event.kind: "profile.modify" is not one of`},
		{`{"event":{"severity":"high"}}`, "event.severity: ECS type long"},
		{`{"event":{"rule_key":"x"}}`, "event.rule_key: not an ECS field"},
		{`{"process":{"ppid":3}}`, "process.ppid: not an ECS field"},
		{`{"process":{"env":{"GOPROXY":"x"}}}`, "process.env.GOPROXY: not an ECS field"},
		{`{"event":{"category":"file"}}`, "event.category: ECS wants an array"},
		{`{"toolchain":{"version":"go1"}}`, "toolchain: a top-level object"},
		{`{"event":{"type":["modify"]}}`, `"modify" is not one of`},
	} {
		bad := checkECS([]byte(tc.line), fields, sets)
		if !slices.ContainsFunc(bad, func(s string) bool { return strings.Contains(s, tc.want) }) {
			t.Errorf("%s: got %q, want one with %q", tc.line, bad, tc.want)
		}
	}
}

// TestEventsConformToECS checks every kind of event gotrail writes: the
// golden outputs of the real recordings (every audit event, --all), a
// trail kept by the watcher with a policy (config changes, auditd starting
// and stopping, a gap, gotrail's rule upkeep, checkpoints), and installs.
func TestEventsConformToECS(t *testing.T) {
	fields, sets := loadECS(t)
	lines := map[string][][]byte{}
	for _, golden := range []string{"corpus.json", "corpus-head-all.json"} {
		data, err := os.ReadFile(filepath.Join("..", "pipeline", "testdata", golden))
		if err != nil {
			t.Fatal(err)
		}
		for l := range bytes.SplitSeq(bytes.TrimSpace(data), []byte("\n")) {
			lines[golden] = append(lines[golden], l)
		}
	}
	trailLines, sent := watchedTrail(t)
	lines["trail"], lines["sinks"] = trailLines, sent
	for i, r := range []*install.Result{
		{Action: "install", Version: "go1.22.5", Source: "proxy", URL: "https://proxy.golang.org/x.zip", Dir: "/usr/local/go1.22.5", Link: "/usr/local/go", SumDB: &event.SumDB{Name: "sum.golang.org", Record: 9}},
		{Action: "install", Version: "go1.22.5", Source: "proxy", Err: &install.RefusedError{Reason: "forged"}},
		{Action: "rollback", Version: "go1.22.4", Dir: "/usr/local/go1.22.4", Link: "/usr/local/go", Previous: "/usr/local/go1.22.5"},
	} {
		e := r.Event(install.Who{Host: "h", UID: "0", User: "root", AUID: "1001", AUser: "alice", SudoUser: "alice", PID: 10 + i, PPID: 1, Session: "3"}, time.Now())
		lines["install"] = append(lines["install"], event.AppendJSON(nil, e))
	}
	kinds := map[string]bool{}
	for src, ls := range lines {
		for n, l := range ls {
			for _, b := range checkECS(l, fields, sets) {
				t.Errorf("%s line %d: %s\n%s", src, n+1, b, l)
			}
			var e event.Event
			if err := event.Decode(l, &e); err == nil {
				kinds[e.Gotrail.Kind] = true
			}
		}
	}
	for _, k := range append(slices.Clone(event.Kinds), event.KindOther, event.KindGap, event.KindCheckpoint) {
		if !kinds[k] {
			t.Errorf("no %s event was checked", k)
		}
	}
}

// oneUpdate is a rules keeper that did something once.
type oneUpdate struct{ done bool }

func (o *oneUpdate) Poll() (rules.Update, error) {
	if o.done {
		return rules.Update{}, nil
	}
	o.done = true
	return rules.Update{UsersAdded: []string{"bob"}, Dirs: []string{"/home/bob/.config/go"}, Added: []rules.Rule{{Watch: "/home/bob/.config/go/env", Perm: "wa", Key: rules.KeyGoenv}}}, nil
}

func (o *oneUpdate) Missing() ([]rules.Rule, error) { return nil, nil }

// watchedTrail runs a watcher with a policy over testdata/audit-config.log
// and returns its trail's lines and what it sent to the sinks.
func watchedTrail(t *testing.T) (trailLines, sent [][]byte) {
	t.Helper()
	state := t.TempDir()
	log, err := os.ReadFile("testdata/audit-config.log")
	if err != nil {
		t.Fatal(err)
	}
	sawRules := make(chan struct{}, 1)
	w, err := watch.New(watch.Options{
		StateDir: state, Host: "web-01",
		Classifier: &classify.Classifier{},
		Policy:     &classify.Policy{Rules: []config.Policy{{Kinds: []string{event.KindProfile}, AllowUsers: []string{"ops"}}}},
		Rules:      &oneUpdate{},
		OnEvent: func(e *event.Event) {
			sent = append(sent, event.AppendJSON(nil, e))
			if e.Gotrail.Kind == event.KindRules {
				sawRules <- struct{}{}
			}
		},
		OnCheckpoint: func(c *trail.Checkpoint) {
			sent = append(sent, event.AppendJSON(nil, sink.Checkpoint(c.Host, c.Head.Seq, c.Head.Hash, c.Time, c.Note)))
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- w.RunReader(context.Background(), pr) }()
	pw.Write(log)
	select {
	case <-sawRules:
	case <-time.After(10 * time.Second):
		t.Fatal("the watcher did not record the keeper's update")
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	err = trail.Read(state, func(line []byte) error {
		trailLines = append(trailLines, bytes.Clone(line))
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return trailLines, sent
}
