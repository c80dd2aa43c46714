package event

import (
	"bytes"
	"encoding/json"
	"errors"
	"slices"
	"strings"
)

// Severity names, mildest first, and the numbers event.severity carries for
// them: the scale of Elastic's detection rules (low 21, medium 47, high 73,
// critical 99), with info 0.
var (
	Severities      = []string{"info", "low", "medium", "high", "critical"}
	severityNumbers = map[string]int{"info": 0, "low": 21, "medium": 47, "high": 73, "critical": 99}
)

// SeverityNumber is the ECS event.severity of a gotrail severity (0 for an
// unknown name).
func SeverityNumber(name string) int { return severityNumbers[name] }

// SeverityRank orders severities: info 0 to critical 4; an empty or
// unknown name ranks as info.
func SeverityRank(name string) int { return max(slices.Index(Severities, name), 0) }

// AtLeast reports whether severity s is at or above min.
func AtLeast(s, min string) bool { return SeverityRank(s) >= SeverityRank(min) }

// Module and dataset of every event gotrail writes.
const (
	Module  = "gotrail"
	Dataset = "gotrail.events"
)

// ecsClass is the ECS categorization of a gotrail kind.
type ecsClass struct {
	category []string
	typ      string // "" : from the action (creation, deletion, change)
	kind     string // "" : event
}

// classes is ECS's view of each gotrail kind (allowed values of
// event.category and event.type in ECS 9.5).
var classes = map[string]ecsClass{
	KindGoroot:     {category: []string{"file"}},
	KindGoenv:      {category: []string{"file", "configuration"}},
	KindProfile:    {category: []string{"file", "configuration"}},
	KindPath:       {category: []string{"file"}},
	KindExec:       {category: []string{"process"}, typ: "start"},
	KindInstall:    {category: []string{"package"}, typ: "installation"},
	KindTamper:     {category: []string{"configuration"}, typ: "change"},
	KindRules:      {category: []string{"configuration"}, typ: "change"},
	KindGap:        {category: []string{"host"}, typ: "info"},
	KindOther:      {category: []string{"host"}, typ: "info"},
	KindSnapshot:   {category: []string{"configuration"}, typ: "info", kind: "state"},
	KindCheckpoint: {category: []string{"configuration"}, typ: "info", kind: "state"},
}

// types are the event.type arrays Categorize sets, made once: events share
// them (read only), so categorizing allocates nothing.
// otherClass is classes[KindOther], and infoType types["info"].
var otherClass, infoType = classes[KindOther], types["info"]

var types = func() map[string][]string {
	m := map[string][]string{}
	for _, t := range []string{"creation", "deletion", "change", "start", "end", "installation", "info"} {
		m[t] = []string{t}
	}
	return m
}()

var (
	endStart           = []string{"end", "start"}
	processCategory    = []string{"process"}
	fileConfigCategory = []string{"file", "configuration"}
)

// fileType is the ECS event.type of a file action.
func fileType(action string) string {
	switch action {
	case "create", "mkdir", "link", "symlink", "mknod":
		return "creation"
	case "delete", "unlink", "rmdir":
		return "deletion"
	}
	return "change"
}

// Categorize sets ECS's event.kind, category, type, severity, module and
// dataset from the gotrail kind, action, severity and verdict, and an
// outcome where none was known. An unauthorized change of more than info
// severity is an alert.
func Categorize(e *Event) {
	m, g := &e.Event, &e.Gotrail
	// audit.other is most events of --all: its class without a look-up
	c, ok := otherClass, true
	if g.Kind != KindOther {
		c, ok = classes[g.Kind]
	}
	if !ok {
		c = otherClass
	}
	m.Kind = "event"
	if c.kind != "" {
		m.Kind = c.kind
	}
	if g.Authorized != nil && !*g.Authorized && g.Severity != "info" && g.Severity != "" {
		m.Kind = "alert"
	}
	m.Category = c.category
	t := c.typ
	if t == "" {
		t = fileType(m.Action)
	}
	if t == "info" { // audit.other's
		m.Type = infoType
	} else {
		m.Type = types[t]
	}
	switch e.Auditd.MessageType {
	case "syscall":
		if g.Kind == KindTamper && e.File != nil {
			// a file of auditd's configuration or programs changed
			m.Category, m.Type = fileConfigCategory, types[fileType(m.Action)]
		}
	case "daemon_start", "daemon_resume":
		m.Category, m.Type = processCategory, types["start"]
	case "daemon_end", "daemon_abort":
		m.Category, m.Type = processCategory, types["end"]
		if m.Action == "restart" {
			m.Type = endStart
		}
	}
	if m.Outcome == "" {
		m.Outcome = "unknown"
	}
	if g.Severity != "" { // no severity is 0, as no look-up finds it
		m.Severity = SeverityNumber(g.Severity)
	} else {
		m.Severity = 0
	}
	m.Module, m.Dataset = Module, Dataset
}

// RuleKeys splits an audit key field (keys joined by \x01 or ",") into
// tags.
func RuleKeys(key string) []string {
	if key == "" {
		return nil
	}
	return strings.FieldsFunc(key, func(r rune) bool { return r == '\x01' || r == ',' })
}

// legacy is the shape gotrail wrote before ECS conformance (gotrail's kind
// in event.kind, severity as text): trails keep such records, and they are
// read as they were meant.
type legacy struct {
	Event struct {
		Kind       string `json:"kind"`
		Severity   string `json:"severity"`
		Authorized *bool  `json:"authorized"`
		RuleKey    string `json:"rule_key"`
	} `json:"event"`
	User struct {
		Session string `json:"session"`
		TTY     string `json:"tty"`
		Sudo    *Ident `json:"sudo"`
	} `json:"user"`
	Process struct {
		PPID     int               `json:"ppid"`
		Env      map[string]string `json:"env"`
		EnvError string            `json:"env_error"`
	} `json:"process"`
	File *struct {
		PreviousPath string `json:"previous_path"`
	} `json:"file"`
	Toolchain *Toolchain `json:"toolchain"`
}

// Decode reads one event line, in today's shape or in the one gotrail
// wrote before ECS conformance, into e.
func Decode(line []byte, e *Event) error {
	*e = Event{}
	if bytes.Contains(line, []byte(`"gotrail":{`)) {
		return json.Unmarshal(line, e)
	}
	// the old shape: its text severity does not fit event.severity, which
	// encoding/json skips and reports; everything else lands
	err := json.Unmarshal(line, e)
	var te *json.UnmarshalTypeError
	if err != nil && !errors.As(err, &te) {
		return err
	}
	var old legacy
	if err := json.Unmarshal(line, &old); err != nil {
		return err
	}
	e.Gotrail = Gotrail{Kind: old.Event.Kind, Severity: old.Event.Severity, Authorized: old.Event.Authorized,
		Sudo: old.User.Sudo, EnvError: old.Process.EnvError, Toolchain: old.Toolchain}
	if old.File != nil {
		e.Gotrail.PreviousPath = old.File.PreviousPath
	}
	e.Tags = RuleKeys(old.Event.RuleKey)
	e.Auditd.Session, e.Auditd.TTY = old.User.Session, old.User.TTY
	if old.Process.PPID != 0 {
		if e.Process.Parent == nil {
			e.Process.Parent = &ProcessRef{}
		}
		e.Process.Parent.PID = old.Process.PPID
	}
	e.Process.EnvVars = EnvVars(old.Process.Env)
	Categorize(e)
	return nil
}
