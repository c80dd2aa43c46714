// Package report is the auditor's evidence for a period, as one
// self-contained HTML page (or the same content as JSON): scope, summary,
// a chart of changes per day, every change, the toolchains, the current
// check findings, the trail's proof and how to reproduce each figure.
//
// Its neighbours: internal/trail (the events and their proof),
// internal/pipeline (the same events read from audit logs), internal/check,
// internal/install and internal/rules (the host's state now). Gather reads
// a period into a Report; WriteHTML and WriteJSON render it. Events are
// streamed and counted, never all held: only the changes are kept, spilled
// to an unlinked temporary file, so memory does not grow with the trail.
package report

import (
	"time"

	"github.com/gotrail/gotrail/internal/check"
)

// Report is everything the page shows. Rows (every change) live in a spill
// file; Close releases it.
type Report struct {
	Lang       string       `json:"lang"`
	Scope      Scope        `json:"scope"`
	Summary    Summary      `json:"summary"`
	Chart      Chart        `json:"chart"`
	Changes    *Rows        `json:"-"` // streamed by the writers: may be millions
	Execs      ExecSummary  `json:"execs"`
	Toolchains []Toolchain  `json:"toolchains"`
	Findings   Findings     `json:"findings"`
	Proof      Proof        `json:"proof"`
	Appendix   []Reproduce  `json:"appendix"`
	Skipped    SkippedInput `json:"skipped"`
}

// Close removes what the report spilled to disk.
func (r *Report) Close() error {
	if r.Changes == nil {
		return nil
	}
	return r.Changes.Close()
}

// Tampered reports whether the trail's proof failed.
func (r *Report) Tampered() bool { return r.Proof.Problem != "" }

// Scope is section 1: what the report covers and who made it.
type Scope struct {
	Host   string `json:"host"`
	Kernel string `json:"kernel,omitempty"`
	// Since and Until are the period asked for (zero: open); First and
	// Last the first and last event seen in it.
	Since       *time.Time  `json:"since,omitempty"`
	Until       *time.Time  `json:"until,omitempty"`
	First       *time.Time  `json:"first,omitempty"`
	Last        *time.Time  `json:"last,omitempty"`
	Source      string      `json:"source"` // "trail" or "audit log"
	Inputs      []string    `json:"inputs"`
	GeneratedAt time.Time   `json:"generated_at"`
	GeneratedBy Generator   `json:"generated_by"`
	Version     string      `json:"version"`
	Rules       *RulesState `json:"rules,omitempty"`
	Audit       *AuditState `json:"audit,omitempty"`
	// NotLive says why the kernel's rules and auditd were not asked
	// (--root names another filesystem).
	NotLive string `json:"not_live,omitempty"`
}

// Generator is who ran gotrail report: the kernel's login uid is the
// strong evidence, as for every event.
type Generator struct {
	UID      string `json:"uid"`
	User     string `json:"user,omitempty"`
	LoginUID string `json:"login_uid,omitempty"` // "" when the process has no login
	Login    string `json:"login,omitempty"`
}

// RulesState is gotrail rules --check: the expected rules against the
// kernel's.
type RulesState struct {
	Expected int      `json:"expected"`
	Loaded   int      `json:"loaded"` // of the expected ones
	Missing  []string `json:"missing,omitempty"`
	Extra    []string `json:"extra,omitempty"`
	Err      string   `json:"error,omitempty"`
}

// AuditState is auditctl -s.
type AuditState struct {
	Enabled      int    `json:"enabled"`
	PID          int    `json:"pid"`
	Backlog      int    `json:"backlog"`
	BacklogLimit int    `json:"backlog_limit"`
	Lost         int    `json:"lost"`
	Err          string `json:"error,omitempty"`
}

// Summary is section 2: the changes counted by kind, severity, login user
// and verdict, unauthorized first.
type Summary struct {
	Changes      int64   `json:"changes"`
	Unauthorized int64   `json:"unauthorized"`
	Execs        int64   `json:"execs"`
	Groups       []Group `json:"groups"`
	// OtherGroups counts the changes beyond the groups kept (a log with
	// more distinct login users than anyone reads).
	OtherGroups int64 `json:"other_groups,omitempty"`
}

// Verdicts of the policy.
const (
	Unauthorized = "unauthorized"
	Authorized   = "authorized"
	NoVerdict    = "none" // no [[policy]] judged it (gotrail events on files)
)

// Group is one line of the summary.
type Group struct {
	Kind     string `json:"kind"`
	Severity string `json:"severity"`
	User     string `json:"user"`
	Verdict  string `json:"verdict"`
	Count    int64  `json:"count"`
}

// Chart is section 3: changes per day by kind.
type Chart struct {
	Kinds []string   `json:"kinds"`
	Days  []ChartDay `json:"days"`
	// OutOfRange counts changes on days beyond the ones charted.
	OutOfRange int64 `json:"out_of_range,omitempty"`
}

// ChartDay is one day's changes by kind (Chart.Kinds order).
type ChartDay struct {
	Date   string  `json:"date"` // 2026-11-25, UTC
	Counts []int64 `json:"counts"`
}

// Row is one change of section 4.
type Row struct {
	Seq       uint64    `json:"seq,omitempty"`
	Time      time.Time `json:"time"`
	ID        string    `json:"id"`
	Login     string    `json:"login"`
	Effective string    `json:"effective"`
	Kind      string    `json:"kind"`
	Action    string    `json:"action"`
	Object    string    `json:"object"` // the file (old -> new for a rename), the command, or what the event says
	Program   string    `json:"program"`
	Outcome   string    `json:"outcome"`
	Severity  string    `json:"severity"`
	Verdict   string    `json:"verdict"`
	Policy    string    `json:"policy,omitempty"`
}

// Alert reports whether the row is a change the policy did not authorize.
func (r *Row) Alert() bool { return r.Verdict == Unauthorized }

// ExecSummary is go.exec summarized by login user and command line.
type ExecSummary struct {
	Total  int64       `json:"total"`
	Groups []ExecGroup `json:"groups"`
	// Other counts the runs beyond the groups kept.
	Other int64 `json:"other,omitempty"`
	// Listed says --all put every run among the changes instead.
	Listed bool `json:"listed,omitempty"`
}

// ExecGroup is one user's runs of one command line.
type ExecGroup struct {
	Login   string    `json:"login"`
	Command string    `json:"command"`
	Count   int64     `json:"count"`
	First   time.Time `json:"first"`
	Last    time.Time `json:"last"`
}

// Toolchain is one line of section 5.
type Toolchain struct {
	Path      string `json:"path"`
	Version   string `json:"version,omitempty"`
	GOROOT    string `json:"goroot,omitempty"`
	Installed string `json:"installed"` // "gotrail install" or "unknown"
	// Install is the gotrail install record: when, by whom, from where.
	Install string `json:"install,omitempty"`
	// Verify is verify --toolchain: "ok", "differs", "no manifest", or
	// the error; Detail the counts or the first files.
	Verify string `json:"verify"`
	Detail string `json:"detail,omitempty"`
}

// Findings is section 6: gotrail check now.
type Findings struct {
	List []check.Finding `json:"list"`
	Err  string          `json:"error,omitempty"`
}

// Proof is section 7: the chain, the checkpoints, gaps and lost records,
// and the audit configuration changes of the period.
type Proof struct {
	Trail       bool         `json:"trail"` // false: audit logs, which carry no chain
	Problem     string       `json:"problem,omitempty"`
	From        uint64       `json:"from,omitempty"`
	To          uint64       `json:"to,omitempty"`
	Records     uint64       `json:"records,omitempty"`
	Segments    int          `json:"segments,omitempty"`
	HeadHash    string       `json:"head_hash,omitempty"`
	Proven      uint64       `json:"proven,omitempty"`
	Pruned      uint64       `json:"pruned,omitempty"`
	Signed      bool         `json:"signed"`
	Key         string       `json:"key,omitempty"`
	KeyFile     string       `json:"key_file,omitempty"`
	HeldFile    string       `json:"held_file,omitempty"`
	Held        int          `json:"held,omitempty"`
	Checkpoints []Checkpoint `json:"checkpoints"`
	// CheckpointsTotal counts them all; Checkpoints keeps the newest.
	CheckpointsTotal int       `json:"checkpoints_total"`
	Gaps             []Gap     `json:"gaps"`
	GapsTotal        int64     `json:"gaps_total"`
	Missing          uint64    `json:"missing"` // audit events the gaps stand for
	AuditChanges     []Row     `json:"audit_changes"`
	AuditTotal       int64     `json:"audit_total"`
	PeriodSeq        [2]uint64 `json:"period_seq,omitzero"` // the seqs of the period's first and last events
}

// Checkpoint is one signed checkpoint of the trail.
type Checkpoint struct {
	Seq    uint64    `json:"seq"`
	Time   time.Time `json:"time"`
	Hash   string    `json:"hash"`
	Anchor bool      `json:"anchor,omitempty"`
}

// Gap is a hole in the kernel's event serials, or auditd's lost counter
// growing, or auditd not logging.
type Gap struct {
	Time    time.Time `json:"time"`
	ID      string    `json:"id,omitempty"`
	Events  uint64    `json:"events,omitempty"`
	Message string    `json:"message"`
}

// Reproduce is one line of the appendix: a figure and the commands that
// give it again.
type Reproduce struct {
	Figure  string   `json:"figure"`
	Gotrail string   `json:"gotrail"`
	Auditd  []string `json:"auditd,omitempty"`
}

// SkippedInput counts what was read but is not a Go-environment change or
// run (audit.other), and trail lines that did not decode.
type SkippedInput struct {
	Other     int64 `json:"other"`
	Undecoded int64 `json:"undecoded"`
	Malformed int64 `json:"malformed_lines,omitempty"`
}
