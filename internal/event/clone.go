package event

import (
	"slices"
	"strings"
)

// Clone returns a deep copy of e that shares no memory with it: strings of
// an interpreted event may point into the interpreter's scratch space or the
// read buffer of the whole input chunk, and a kept event must hold neither.
// TestCloneSharesNothing fills every field by reflection, so a field added
// here and forgotten fails it.
func Clone(e *Event) *Event {
	c := *e
	cs := strings.Clone
	m := &c.Event
	m.ID, m.Kind, m.Action, m.Outcome = cs(m.ID), cs(m.Kind), cs(m.Action), cs(m.Outcome)
	m.Module, m.Dataset = cs(m.Module), cs(m.Dataset)
	m.Category, m.Type = cloneStrings(m.Category), cloneStrings(m.Type)
	c.Gotrail = cloneGotrail(e.Gotrail)
	c.Tags = cloneStrings(e.Tags)
	c.Host.Name = cs(e.Host.Name)
	if e.Host.OS != nil {
		c.Host.OS = &HostOS{Kernel: cs(e.Host.OS.Kernel)}
	}
	c.User = User{Audit: cloneIdent(e.User.Audit), ID: cs(e.User.ID), Name: cs(e.User.Name), Effective: cloneIdent(e.User.Effective)}
	p := &c.Process
	p.Executable, p.Name, p.Title, p.WorkingDirectory = cs(p.Executable), cs(p.Name), cs(p.Title), cs(p.WorkingDirectory)
	p.Args, p.EnvVars = cloneStrings(p.Args), cloneStrings(p.EnvVars)
	if e.Process.Parent != nil {
		p.Parent = &ProcessRef{PID: e.Process.Parent.PID, Name: cs(e.Process.Parent.Name)}
	}
	if e.File != nil {
		c.File = &File{Path: cs(e.File.Path), Mode: cs(e.File.Mode)}
	}
	if e.Container != nil {
		c.Container = &Container{ID: cs(e.Container.ID)}
	}
	c.Auditd = cloneAuditd(e.Auditd)
	if e.Trail != nil {
		c.Trail = &Trail{Seq: e.Trail.Seq, Prev: cs(e.Trail.Prev), Hash: cs(e.Trail.Hash)}
	}
	c.Message = cs(e.Message)
	return &c
}

func cloneStrings(s []string) []string {
	if s == nil {
		return nil
	}
	out := make([]string, len(s))
	for i, v := range s {
		out[i] = strings.Clone(v)
	}
	return out
}

func cloneCounts(rs []RuleCount) []RuleCount {
	if rs == nil {
		return nil
	}
	out := make([]RuleCount, len(rs))
	for i, r := range rs {
		out[i] = RuleCount{Key: strings.Clone(r.Key), Dir: strings.Clone(r.Dir), Rules: r.Rules}
	}
	return out
}

func cloneIdent(id *Ident) *Ident {
	if id == nil {
		return nil
	}
	return &Ident{ID: strings.Clone(id.ID), Name: strings.Clone(id.Name)}
}

func cloneGotrail(g Gotrail) Gotrail {
	cs := strings.Clone
	c := Gotrail{Kind: cs(g.Kind), Severity: cs(g.Severity), Policy: cs(g.Policy), PreviousPath: cs(g.PreviousPath),
		Sudo: cloneIdent(g.Sudo), EnvError: cs(g.EnvError), Interpreter: cs(g.Interpreter)}
	if g.Authorized != nil {
		b := *g.Authorized
		c.Authorized = &b
	}
	if a := g.AuditChange; a != nil {
		ca := &AuditChange{Added: cloneCounts(a.Added), Removed: cloneCounts(a.Removed), GotrailRemoved: cloneCounts(a.GotrailRemoved),
			Missing: cloneStrings(a.Missing), Refused: a.Refused}
		if a.Settings != nil {
			ca.Settings = make([]Setting, len(a.Settings))
			for i, st := range a.Settings {
				ca.Settings[i] = Setting{Name: cs(st.Name), Old: cs(st.Old), New: cs(st.New)}
			}
		}
		c.AuditChange = ca
	}
	if t := g.Toolchain; t != nil {
		ct := &Toolchain{Version: cs(t.Version), Source: cs(t.Source), URL: cs(t.URL), ArchiveSHA256: cs(t.ArchiveSHA256),
			ModuleHash: cs(t.ModuleHash), Dir: cs(t.Dir), Link: cs(t.Link), Previous: cs(t.Previous), Manifest: cs(t.Manifest), Error: cs(t.Error)}
		if s := t.SumDB; s != nil {
			ct.SumDB = &SumDB{Name: cs(s.Name), URL: cs(s.URL), Record: s.Record, TreeHead: cs(s.TreeHead), Lines: cloneStrings(s.Lines)}
		}
		c.Toolchain = ct
	}
	return c
}

func cloneAuditd(a Auditd) Auditd {
	cs := strings.Clone
	c := Auditd{MessageType: cs(a.MessageType), Session: cs(a.Session), TTY: cs(a.TTY), Syscall: cs(a.Syscall),
		Arch: cs(a.Arch), Exit: cs(a.Exit), Incomplete: cs(a.Incomplete)}
	if a.Paths != nil {
		c.Paths = make([]Path, len(a.Paths))
		for i, x := range a.Paths {
			c.Paths[i] = Path{Name: cs(x.Name), Nametype: cs(x.Nametype), Inode: cs(x.Inode), Mode: cs(x.Mode), OUID: cs(x.OUID), OGID: cs(x.OGID)}
		}
	}
	if a.Records != nil {
		c.Records = slices.Clone(a.Records)
	}
	return c
}
