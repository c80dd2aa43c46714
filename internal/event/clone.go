package event

import "strings"

// Clone returns a deep copy of e that shares no memory with it: strings of
// an interpreted event may point into the interpreter's scratch space or the
// read buffer of the whole input chunk, and a kept event must hold neither.
func Clone(e *Event) *Event {
	c := *e
	cs := strings.Clone
	c.Event.ID, c.Event.Kind, c.Event.Action = cs(e.Event.ID), cs(e.Event.Kind), cs(e.Event.Action)
	c.Event.Outcome, c.Event.Severity, c.Event.RuleKey = cs(e.Event.Outcome), cs(e.Event.Severity), cs(e.Event.RuleKey)
	c.Host.Name = cs(e.Host.Name)
	if e.Host.OS != nil {
		c.Host.OS = &HostOS{Kernel: cs(e.Host.OS.Kernel)}
	}
	ident := func(id *Ident) *Ident {
		if id == nil {
			return nil
		}
		return &Ident{ID: cs(id.ID), Name: cs(id.Name)}
	}
	c.User.Audit, c.User.Effective, c.User.Sudo = ident(e.User.Audit), ident(e.User.Effective), ident(e.User.Sudo)
	c.User.ID, c.User.Name, c.User.Session, c.User.TTY = cs(e.User.ID), cs(e.User.Name), cs(e.User.Session), cs(e.User.TTY)
	p := &c.Process
	p.Executable, p.Name, p.Title, p.WorkingDirectory = cs(p.Executable), cs(p.Name), cs(p.Title), cs(p.WorkingDirectory)
	if e.Process.Args != nil {
		p.Args = make([]string, len(e.Process.Args))
		for i, a := range e.Process.Args {
			p.Args[i] = cs(a)
		}
	}
	if e.Process.Env != nil {
		p.Env = make(map[string]string, len(e.Process.Env))
		for k, v := range e.Process.Env {
			p.Env[cs(k)] = cs(v)
		}
	}
	if e.File != nil {
		c.File = &File{Path: cs(e.File.Path), PreviousPath: cs(e.File.PreviousPath), Mode: cs(e.File.Mode)}
	}
	p.EnvError = cs(p.EnvError)
	if e.Process.Parent != nil {
		p.Parent = &ProcessRef{Name: cs(e.Process.Parent.Name)}
	}
	if e.Container != nil {
		c.Container = &Container{ID: cs(e.Container.ID)}
	}
	if t := e.Toolchain; t != nil {
		ct := &Toolchain{Version: cs(t.Version), Source: cs(t.Source), URL: cs(t.URL), ArchiveSHA256: cs(t.ArchiveSHA256),
			ModuleHash: cs(t.ModuleHash), Dir: cs(t.Dir), Link: cs(t.Link), Previous: cs(t.Previous), Manifest: cs(t.Manifest), Error: cs(t.Error)}
		if s := t.SumDB; s != nil {
			ct.SumDB = &SumDB{Name: cs(s.Name), URL: cs(s.URL), Record: s.Record, TreeHead: cs(s.TreeHead)}
			if s.Lines != nil {
				ct.SumDB.Lines = make([]string, len(s.Lines))
				for i, l := range s.Lines {
					ct.SumDB.Lines[i] = cs(l)
				}
			}
		}
		c.Toolchain = ct
	}
	a := &c.Auditd
	a.MessageType, a.Syscall, a.Arch, a.Exit, a.Incomplete = cs(a.MessageType), cs(a.Syscall), cs(a.Arch), cs(a.Exit), cs(a.Incomplete)
	if e.Auditd.Paths != nil {
		a.Paths = make([]Path, len(e.Auditd.Paths))
		for i, x := range e.Auditd.Paths {
			a.Paths[i] = Path{Name: cs(x.Name), Nametype: cs(x.Nametype), Inode: cs(x.Inode), Mode: cs(x.Mode), OUID: cs(x.OUID), OGID: cs(x.OGID)}
		}
	}
	if e.Auditd.Records != nil {
		a.Records = append([]byte(nil), e.Auditd.Records...)
	}
	if e.Event.Authorized != nil {
		b := *e.Event.Authorized
		c.Event.Authorized = &b
	}
	if e.Trail != nil {
		c.Trail = &Trail{Seq: e.Trail.Seq, Prev: cs(e.Trail.Prev), Hash: cs(e.Trail.Hash)}
	}
	c.Message = cs(e.Message)
	return &c
}
