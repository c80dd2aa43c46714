// Package event defines the attributed event that flows from the interpreter
// through classification and policy to the trail and the sinks: one audit
// event, in Elastic Common Schema names, as DESIGN.md's "Event JSON" shows it.
//
// Its neighbours: internal/audit builds it from raw records, internal/classify
// sets its kind and severity, internal/sink renders and sends it.
package event

import (
	"encoding/json"
	"slices"
	"strings"
	"time"
)

// Kinds of event (DESIGN.md, "Event kinds").
const (
	KindGoroot  = "goroot.modify"
	KindGoenv   = "goenv.modify"
	KindProfile = "profile.modify"
	KindPath    = "path.shadow"
	KindExec    = "go.exec"
	KindInstall = "toolchain.install"
	KindTamper  = "audit.tamper"
	KindOther   = "audit.other"
	KindGap     = "audit.gap"
	// KindRules is gotrail's own upkeep of the audit rules: the daemon
	// loaded or removed a login user's rules as /etc/passwd changed.
	KindRules = "audit.rules"
	// KindCheckpoint is a signed checkpoint of the trail, sent to the sinks.
	KindCheckpoint = "trail.checkpoint"
	KindSnapshot   = "snapshot"
)

// Kinds lists the Go-environment kinds, the ones `gotrail events` prints
// without --all.
var Kinds = []string{KindGoroot, KindGoenv, KindProfile, KindPath, KindExec, KindInstall, KindTamper, KindRules}

// Time is an instant written as RFC 3339 in UTC with exactly three digits of
// milliseconds, the precision auditd records.
type Time struct{ time.Time }

// TimeLayout is how @timestamp is written.
const TimeLayout = "2006-01-02T15:04:05.000Z07:00"

// MarshalJSON writes the fixed-width form.
func (t Time) MarshalJSON() ([]byte, error) {
	b := t.UTC().AppendFormat(append(make([]byte, 0, 32), '"'), TimeLayout)
	return append(b, '"'), nil
}

// Event is one attributed event, in Elastic Common Schema names and types
// (ECS 9.5, checked against its field definitions by the conformance test):
// ECS fields where ECS has them, gotrail's own vocabulary under gotrail,
// auditd's raw view under auditd as Auditbeat puts it.
type Event struct {
	Time      Time       `json:"@timestamp"`
	Event     Meta       `json:"event"`
	Gotrail   Gotrail    `json:"gotrail"`
	Tags      []string   `json:"tags,omitempty"` // the audit rule keys that fired, as Auditbeat puts them
	Host      Host       `json:"host"`
	User      User       `json:"user"`
	Process   Process    `json:"process"`
	File      *File      `json:"file,omitempty"`
	Container *Container `json:"container,omitempty"`
	Auditd    Auditd     `json:"auditd"`
	Message   string     `json:"message"`
	Trail     *Trail     `json:"trail,omitempty"`
}

// Meta is ECS's event.* group. Kind, Category, Type, Severity, Module and
// Dataset are derived from Gotrail by Categorize.
type Meta struct {
	ID       string   `json:"id"`
	Kind     string   `json:"kind"` // ECS: event, alert, state
	Category []string `json:"category,omitempty"`
	Type     []string `json:"type,omitempty"`
	Action   string   `json:"action,omitempty"`
	Outcome  string   `json:"outcome,omitempty"` // success, failure, unknown
	Severity int      `json:"severity"`          // SeverityNumber of Gotrail.Severity
	Module   string   `json:"module,omitempty"`
	Dataset  string   `json:"dataset,omitempty"`
}

// Gotrail is gotrail's own vocabulary: the kind users know (--kind,
// [[policy]] kinds), the severity's name, the policy's verdict, and facts
// ECS has no field for.
type Gotrail struct {
	Kind       string `json:"kind"`
	Severity   string `json:"severity,omitempty"` // info, low, medium, high, critical
	Authorized *bool  `json:"authorized,omitempty"`
	// Policy names what decided Authorized: a [[policy]] (its kinds and
	// paths) or "gotrail" for gotrail's own upkeep.
	Policy string `json:"policy,omitempty"`
	// PreviousPath is the old name of a renamed file.
	PreviousPath string `json:"previous_path,omitempty"`
	// Sudo is who ran sudo (SUDO_UID, SUDO_USER) for events gotrail makes
	// itself: taken from the environment, so weaker evidence than user.audit.
	Sudo *Ident `json:"sudo,omitempty"`
	// EnvError says why process.env_vars is missing for a go process (it
	// exited before /proc could be read).
	EnvError string `json:"env_error,omitempty"`
	// Interpreter is the program that ran a script exec'd as a command
	// (its #! line): process.executable is then the script.
	Interpreter string     `json:"interpreter,omitempty"`
	Toolchain   *Toolchain `json:"toolchain,omitempty"`
	// AuditChange is what a change of the audit configuration did: one
	// event for all the changes one process made in one run.
	AuditChange *AuditChange `json:"audit_change,omitempty"`
}

// AuditChange sums up the CONFIG_CHANGE records of one process's run.
type AuditChange struct {
	Added   []RuleCount `json:"added,omitempty"`   // rules added, by key
	Removed []RuleCount `json:"removed,omitempty"` // rules removed, by key
	// GotrailRemoved are gotrail's rules removed and not added again in
	// the same run, by key and the directory the kernel names them by.
	GotrailRemoved []RuleCount `json:"gotrail_removed,omitempty"`
	// Missing are the rules of gotrail's expected set that the kernel
	// lacks after the change (live only: gotrail watch asks the kernel).
	Missing  []string  `json:"missing,omitempty"`
	Settings []Setting `json:"settings,omitempty"`
	Refused  int       `json:"refused,omitempty"` // changes the kernel refused (res=0)
}

// RuleCount is a number of rules with one key (and directory).
type RuleCount struct {
	Key   string `json:"key"`
	Dir   string `json:"dir,omitempty"`
	Rules int    `json:"rules"`
}

// Setting is a kernel audit setting changed, old -> new.
type Setting struct {
	Name string `json:"name"` // enabled, failure, backlog_limit, backlog_wait_time, rate_limit, loginuid_immutable
	Old  string `json:"old"`
	New  string `json:"new"`
}

// Host is the host.* group.
type Host struct {
	Name string  `json:"name,omitempty"`
	OS   *HostOS `json:"os,omitempty"`
}

// HostOS is host.os: what gotrail itself knows of the host when it is the
// source of the event (gotrail install).
type HostOS struct {
	Kernel string `json:"kernel,omitempty"` // uname release and version
}

// Ident is an id with its name; the name is empty when unknown.
type Ident struct {
	ID   string `json:"id,omitempty"`
	Name string `json:"name,omitempty"`
}

// User is who did it, as the kernel saw it: auid (the login, kept across su
// and sudo; user.audit as Auditbeat names it), uid and euid.
type User struct {
	Audit     *Ident `json:"audit,omitempty"`
	ID        string `json:"id,omitempty"`
	Name      string `json:"name,omitempty"`
	Effective *Ident `json:"effective,omitempty"`
}

// Process is the process that did it.
type Process struct {
	PID              int      `json:"pid,omitempty"`
	Executable       string   `json:"executable,omitempty"`
	Name             string   `json:"name,omitempty"`
	Args             []string `json:"args,omitempty"`
	Title            string   `json:"title,omitempty"`
	WorkingDirectory string   `json:"working_directory,omitempty"`
	// EnvVars are the Go variables of a go process, KEY=value, sorted.
	EnvVars []string    `json:"env_vars,omitempty"`
	Parent  *ProcessRef `json:"parent,omitempty"`
}

// Getenv returns the value of name in EnvVars.
func (p *Process) Getenv(name string) (string, bool) {
	for _, kv := range p.EnvVars {
		if k, v, _ := strings.Cut(kv, "="); k == name {
			return v, true
		}
	}
	return "", false
}

// EnvMap is EnvVars as a map (nil when there are none).
func (p *Process) EnvMap() map[string]string {
	if len(p.EnvVars) == 0 {
		return nil
	}
	m := make(map[string]string, len(p.EnvVars))
	for _, kv := range p.EnvVars {
		k, v, _ := strings.Cut(kv, "=")
		m[k] = v
	}
	return m
}

// EnvVars renders an environment as ECS's process.env_vars: KEY=value,
// sorted by key.
func EnvVars(env map[string]string) []string {
	if len(env) == 0 {
		return nil
	}
	out := make([]string, 0, len(env))
	for k, v := range env {
		out = append(out, k+"="+v)
	}
	slices.Sort(out)
	return out
}

// PPID is the parent's pid, 0 when unknown.
func (p *Process) PPID() int {
	if p.Parent == nil {
		return 0
	}
	return p.Parent.PID
}

// ProcessRef names a related process.
type ProcessRef struct {
	PID  int    `json:"pid,omitempty"`
	Name string `json:"name,omitempty"`
}

// Toolchain is what gotrail install did (kind toolchain.install).
type Toolchain struct {
	Version       string `json:"version"`          // go1.22.5
	Source        string `json:"source,omitempty"` // proxy or dl
	URL           string `json:"url,omitempty"`    // where the archive came from
	ArchiveSHA256 string `json:"archive_sha256,omitempty"`
	ModuleHash    string `json:"module_hash,omitempty"` // h1: of the module zip (source proxy)
	SumDB         *SumDB `json:"sumdb,omitempty"`
	Dir           string `json:"dir,omitempty"`      // PREFIX/go1.22.5
	Link          string `json:"link,omitempty"`     // PREFIX/go, switched to Dir
	Previous      string `json:"previous,omitempty"` // what Link named before
	Manifest      string `json:"manifest,omitempty"` // the manifest kept in the state directory
	Error         string `json:"error,omitempty"`    // why it failed
}

// SumDB is the checksum database's proof for a toolchain module.
type SumDB struct {
	Name     string   `json:"name"`
	URL      string   `json:"url,omitempty"`
	Record   int64    `json:"record,omitempty"`    // the record's number in the log
	Lines    []string `json:"lines,omitempty"`     // the go.sum lines it holds for the module
	TreeHead string   `json:"tree_head,omitempty"` // the signed tree head it was checked against
}

// Container is the container a process ran in.
type Container struct {
	ID string `json:"id"`
}

// File is the file the event is about. For a rename, Path is the new name
// (the old one is gotrail.previous_path).
type File struct {
	Path string `json:"path"`
	Mode string `json:"mode,omitempty"`
}

// Auditd keeps the audit facts the summary is built from.
type Auditd struct {
	// MessageType is the record type that says what the event is, lower
	// case (syscall, config_change, user_start, daemon_end), as auditbeat
	// names it.
	MessageType string `json:"message_type,omitempty"`
	// Session is the kernel's audit session (ses) and TTY the terminal.
	Session string `json:"session,omitempty"`
	TTY     string `json:"tty,omitempty"`
	Syscall string `json:"syscall,omitempty"`
	Arch    string `json:"arch,omitempty"`
	Exit    string `json:"exit,omitempty"`
	Paths   []Path `json:"paths,omitempty"`
	// Records holds every record of the event, interpreted, for
	// `gotrail events --all`: a JSON array rendered by the interpreter.
	Records json.RawMessage `json:"records,omitempty"`
	// Incomplete says why the event may lack records (evicted, truncated),
	// or that another event had its node, time and serial (collision).
	Incomplete string `json:"incomplete,omitempty"`
}

// Path is one PATH record.
type Path struct {
	Name     string `json:"name"`
	Nametype string `json:"nametype,omitempty"`
	Inode    string `json:"inode,omitempty"`
	Mode     string `json:"mode,omitempty"`
	OUID     string `json:"ouid,omitempty"`
	OGID     string `json:"ogid,omitempty"`
}

// Trail is the event's place in the hash-chained local trail.
type Trail struct {
	Seq  uint64 `json:"seq"`
	Prev string `json:"prev"`
	Hash string `json:"hash"`
}

// LoginName is the best name for who is behind the event: the login user
// when there is one, else the user.
func (e *Event) LoginName() string {
	if a := e.User.Audit; a != nil {
		if a.Name != "" {
			return a.Name
		}
		if a.ID != "" {
			return a.ID
		}
	}
	if e.User.Name != "" {
		return e.User.Name
	}
	return e.User.ID
}

// EffectiveName is the name of the effective user, else the user.
func (e *Event) EffectiveName() string {
	if f := e.User.Effective; f != nil {
		if f.Name != "" {
			return f.Name
		}
		if f.ID != "" {
			return f.ID
		}
	}
	if e.User.Name != "" {
		return e.User.Name
	}
	return e.User.ID
}
