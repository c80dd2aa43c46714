package report

import (
	"cmp"
	"slices"
	"time"
	"unicode/utf8"

	"github.com/gotrail/gotrail/internal/event"
)

// Bounds on what the aggregates keep, whatever the input holds: a hostile
// or enormous log gets counted beyond them, never held.
const (
	maxGroups      = 10000 // summary lines (kind, severity, user, verdict)
	maxExecGroups  = 10000 // go.exec lines (user, command line)
	maxDays        = 3700  // days charted: ten years
	maxGaps        = 1000
	maxAuditRows   = 1000
	maxCommand     = 1024 // bytes of a command line kept for grouping
	maxCheckpoints = 50   // the newest checkpoints listed
)

// changeKinds are the kinds whose events are changes (section 4); go.exec
// is a run, summarized unless --all, and audit.gap goes to the proof.
var changeKinds = []string{event.KindGoroot, event.KindGoenv, event.KindProfile, event.KindPath,
	event.KindInstall, event.KindTamper, event.KindRules}

type groupKey struct{ kind, severity, user, verdict string }

// aggregator counts the events of the period as they stream by.
type aggregator struct {
	since, until time.Time
	all          bool
	rep          *Report
	rows         *Rows
	groups       map[groupKey]int64
	execs        map[string]*ExecGroup // by login, NUL, command line
	days         map[int64][]int64
	kinds        map[string]int // chart column of each kind
	installs     map[string]string
	key          []byte // scratch for the exec map's key
}

func newAggregator(rep *Report, rows *Rows, since, until time.Time, all bool) *aggregator {
	a := &aggregator{since: since, until: until, all: all, rep: rep, rows: rows,
		groups: map[groupKey]int64{}, execs: map[string]*ExecGroup{}, days: map[int64][]int64{},
		kinds: map[string]int{}, installs: map[string]string{}}
	kinds := slices.Clone(changeKinds)
	for i, k := range kinds {
		a.kinds[k] = i
	}
	rep.Chart.Kinds = kinds
	return a
}

// add takes one event; it fails only when the spill file does.
func (a *aggregator) add(v *view) error {
	if v.bad {
		a.rep.Skipped.Undecoded++
		return nil
	}
	if !a.since.IsZero() && v.Time.Before(a.since) || !a.until.IsZero() && !v.Time.Before(a.until) {
		return nil
	}
	kind := kindOf(v.Kind)
	switch {
	case kind == event.KindGap:
		a.gap(v)
		return nil
	case kind == event.KindExec:
		a.seen(v)
		a.exec(v)
		if !a.all {
			return nil
		}
	case slices.Contains(changeKinds, kind):
		a.seen(v)
	default:
		a.rep.Skipped.Other++
		return nil
	}
	r := toRow(v, kind)
	if kind != event.KindExec {
		a.count(v, &r)
	}
	if kind == event.KindTamper || kind == event.KindRules {
		a.rep.Proof.AuditTotal++
		if len(a.rep.Proof.AuditChanges) < maxAuditRows {
			a.rep.Proof.AuditChanges = append(a.rep.Proof.AuditChanges, r)
		}
	}
	if kind == event.KindInstall {
		a.install(v)
	}
	return a.rows.Add(&r)
}

// seen widens the period actually covered.
func (a *aggregator) seen(v *view) {
	s := &a.rep.Scope
	if s.First == nil || v.Time.Before(*s.First) {
		t := v.Time
		s.First = &t
	}
	if s.Last == nil || v.Time.After(*s.Last) {
		t := v.Time
		s.Last = &t
	}
	if v.HasSeq {
		p := &a.rep.Proof.PeriodSeq
		if p[0] == 0 || v.Seq < p[0] {
			p[0] = v.Seq
		}
		p[1] = max(p[1], v.Seq)
	}
}

// count puts a change into the summary and the chart.
func (a *aggregator) count(v *view, r *Row) {
	sum := &a.rep.Summary
	sum.Changes++
	if r.Alert() {
		sum.Unauthorized++
	}
	k := groupKey{r.Kind, r.Severity, r.Login, r.Verdict}
	if _, ok := a.groups[k]; ok || len(a.groups) < maxGroups {
		a.groups[k]++
	} else {
		sum.OtherGroups++
	}
	day := v.Time.UTC().Unix() / 86400
	c, ok := a.days[day]
	if !ok {
		if len(a.days) >= maxDays {
			a.rep.Chart.OutOfRange++
			return
		}
		c = make([]int64, len(a.rep.Chart.Kinds))
		a.days[day] = c
	}
	c[a.kinds[r.Kind]]++
}

func (a *aggregator) exec(v *view) {
	ex := &a.rep.Execs
	ex.Total++
	a.rep.Summary.Execs++
	cmd := command(v)
	a.key = append(append(append(a.key[:0], login(v)...), 0), cmd[:clipLen(cmd, maxCommand)]...)
	g, ok := a.execs[string(a.key)] // no string made for a group already there
	if !ok {
		if len(a.execs) >= maxExecGroups {
			ex.Other++
			return
		}
		g = &ExecGroup{Login: string(login(v)), Command: clip(string(cmd), maxCommand), First: v.Time}
		a.execs[string(a.key)] = g
	}
	g.Count++
	if v.Time.Before(g.First) {
		g.First = v.Time
	}
	if v.Time.After(g.Last) {
		g.Last = v.Time
	}
}

func (a *aggregator) gap(v *view) {
	p := &a.rep.Proof
	p.GapsTotal++
	if len(p.Gaps) < maxGaps {
		p.Gaps = append(p.Gaps, Gap{Time: v.Time, ID: string(v.ID), Message: string(v.Message)})
	}
}

// install remembers the newest gotrail install record of each directory,
// for the toolchains section.
func (a *aggregator) install(v *view) {
	tc := v.Toolchain
	if tc == nil || tc.Dir == "" || string(v.Outcome) != "success" {
		return
	}
	a.installs[tc.Dir] = v.Time.UTC().Format(time.RFC3339) + " " + string(v.Message)
}

// finish turns the maps into the sorted lists the page shows.
func (a *aggregator) finish() {
	sum := &a.rep.Summary
	for k, n := range a.groups {
		sum.Groups = append(sum.Groups, Group{Kind: k.kind, Severity: k.severity, User: k.user, Verdict: k.verdict, Count: n})
	}
	slices.SortFunc(sum.Groups, func(x, y Group) int {
		return cmp.Or(-cmp.Compare(verdictRank(x.Verdict), verdictRank(y.Verdict)),
			-cmp.Compare(event.SeverityRank(x.Severity), event.SeverityRank(y.Severity)),
			-cmp.Compare(x.Count, y.Count), cmp.Compare(x.Kind, y.Kind), cmp.Compare(x.User, y.User))
	})
	ex := &a.rep.Execs
	ex.Listed = a.all
	for _, g := range a.execs {
		ex.Groups = append(ex.Groups, *g)
	}
	slices.SortFunc(ex.Groups, func(x, y ExecGroup) int {
		return cmp.Or(-cmp.Compare(x.Count, y.Count), cmp.Compare(x.Login, y.Login), cmp.Compare(x.Command, y.Command))
	})
	days := make([]int64, 0, len(a.days))
	for d := range a.days {
		days = append(days, d)
	}
	slices.Sort(days)
	for _, d := range days {
		a.rep.Chart.Days = append(a.rep.Chart.Days, ChartDay{Date: time.Unix(d*86400, 0).UTC().Format(time.DateOnly), Counts: a.days[d]})
	}
}

// verdictRank puts unauthorized changes first, then those no policy
// judged.
func verdictRank(v string) int {
	switch v {
	case Unauthorized:
		return 2
	case NoVerdict:
		return 1
	}
	return 0
}

func toRow(v *view, kind string) Row {
	r := Row{Time: v.Time, ID: string(v.ID), Login: string(login(v)), Effective: string(effective(v)), Kind: kind,
		Action: string(v.Action), Outcome: string(v.Outcome), Severity: string(v.Severity), Policy: string(v.Policy),
		Program: string(v.Executable), Seq: v.Seq}
	if r.Severity == "" {
		r.Severity = "info"
	}
	if r.Program == "" {
		r.Program = string(v.PName)
	}
	switch {
	case v.Authorized == nil:
		r.Verdict = NoVerdict
	case *v.Authorized:
		r.Verdict = Authorized
	default:
		r.Verdict = Unauthorized
	}
	switch {
	case kind == event.KindExec:
		r.Object = string(command(v))
	case v.HasFile && len(v.PreviousPath) > 0:
		r.Object = string(v.PreviousPath) + " -> " + string(v.File)
	case v.HasFile:
		r.Object = string(v.File)
	default:
		r.Object = string(v.Message)
	}
	return r
}

// kindOf is the kind's own constant for a known kind (no string made),
// else the bytes as a string.
func kindOf(b []byte) string {
	for _, k := range allKinds {
		if string(b) == k {
			return k
		}
	}
	return string(b)
}

var allKinds = append(slices.Clone(event.Kinds), event.KindGap, event.KindOther, event.KindCheckpoint, event.KindSnapshot)

var noLogin = []byte("(no login)")

func login(v *view) []byte {
	if a := &v.Audit; a.set {
		return or(a.Name, a.ID)
	}
	return noLogin
}

func effective(v *view) []byte {
	if f := &v.Effective; f.set {
		return or(f.Name, f.ID)
	}
	return or(v.UserName, v.UserID)
}

func or(a, b []byte) []byte {
	if len(a) > 0 {
		return a
	}
	return b
}

// command is the command line of a go run: the binary that ran and its
// arguments, as gotrail events prints it.
func command(v *view) []byte {
	switch {
	case len(v.Command) > 0:
		return v.Command
	case len(v.Title) > 0:
		return v.Title
	}
	return v.Executable
}

// clipLen is how many bytes of b clip keeps.
func clipLen(b []byte, n int) int {
	if len(b) <= n {
		return len(b)
	}
	for n > 0 && !utf8.RuneStart(b[n]) {
		n--
	}
	return n
}

// clip cuts s to at most n bytes on a rune boundary, marking the cut.
func clip(s string, n int) string {
	if len(s) <= n {
		return s
	}
	for n > 0 && !utf8.RuneStart(s[n]) {
		n--
	}
	return s[:n] + "…"
}
