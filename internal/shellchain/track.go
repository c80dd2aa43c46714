package shellchain

import (
	"fmt"
	"slices"

	"mvdan.cc/sh/v3/expand"
)

// push opens the statement id (-1: a file the shell reads itself).
func (s *sim) push(id int) {
	f := frame{id: id}
	if id >= 0 {
		f.concurrent = s.effects[id].concurrent
		if s.effects[id].taints {
			s.tainted = true
		}
	}
	if f.concurrent {
		s.concurrent++
	}
	s.stack = append(s.stack, f)
}

// popTo closes the statements from the i-th open one on.
func (s *sim) popTo(i int) {
	for _, f := range s.stack[i:] {
		if f.concurrent {
			s.concurrent--
		}
	}
	s.stack = s.stack[:i]
}

// current is the statement running now.
func (s *sim) current() site {
	for i := len(s.stack) - 1; i >= 0; i-- {
		if id := s.stack[i].id; id >= 0 {
			return s.sites[id]
		}
	}
	return site{}
}

// scope is which variables can have changed since the last check.
type scope struct {
	all   bool     // any variable
	names []string // or only these, sorted; none when nothing ran
}

var anyVariable = scope{all: true}

// scopeBefore is what can have changed when the before-marker of id
// runs, going by the marker handled last (no marker ran since):
//   - the after-marker of the statement before id in its list: nothing ran;
//   - the before-marker of the statement whose list id is in: that
//     statement's own code, up to the list;
//   - the before-marker of the last statement of a list of that same
//     statement (an if's condition before its then, a loop's body before
//     its next turn): that last statement's own code and the enclosing
//     one's.
//
// The statements of a file or a function body have no enclosing statement:
// what runs around them (a caller's own code, the locals a function drops)
// is in no text the analysis saw, so they are compared in full.
func (s *sim) scopeBefore(id int) scope {
	if s.seesAll() || s.prev.id < 0 {
		return anyVariable
	}
	last, parent := s.effects[s.prev.id], s.effects[id].parent
	switch {
	case s.prev.after:
		if last.next == id {
			return scope{}
		}
	case s.prev.id == parent:
		return s.ownCode(parent)
	case parent >= 0 && last.parent == parent && last.next < 0:
		return s.ownCode(s.prev.id, parent)
	}
	return anyVariable
}

// scopeAfter is what can have changed when the after-marker of id runs:
// the statement's own code, when no marker ran inside it, or when the
// marker handled last was the before-marker of the last statement of one
// of its lists, that one's too.
func (s *sim) scopeAfter(id int) scope {
	if s.seesAll() || s.prev.after || s.prev.id < 0 {
		return anyVariable
	}
	if s.prev.id == id {
		return s.ownCode(id)
	}
	if last := s.effects[s.prev.id]; last.parent == id && last.next < 0 {
		return s.ownCode(s.prev.id, id)
	}
	return anyVariable
}

// ownCode is the scope of the own code of the statements ids, if each is
// simple.
func (s *sim) ownCode(ids ...int) scope {
	var names []string
	for _, id := range ids {
		e := s.effects[id]
		if !e.simple {
			return anyVariable
		}
		switch {
		case names == nil:
			names = e.names
		case len(e.names) > 0:
			merged := append(slices.Clip(names), e.names...)
			slices.Sort(merged)
			names = slices.Compact(merged)
		}
	}
	return scope{names: names}
}

// seesAll says whether the markers seen say nothing about what ran.
func (s *sim) seesAll() bool { return s.o.compareAll || s.tainted || s.concurrent > 0 }

// check records the tracked variables in sc that changed since the last
// check, as made by the statement at st.
func (s *sim) check(env expand.Environ, st site, deps []string, sc scope) error {
	if s.quiet {
		return nil
	}
	n := len(sc.names)
	if sc.all || !s.checkNames(env, st, deps, sc.names) {
		n = s.checkAll(env, st, deps)
	}
	s.compared += n
	if s.compared > maxCompared {
		if st.file == "" {
			return errCompared
		}
		return fmt.Errorf("%w at %s:%d", errCompared, st.file, st.line)
	}
	return nil
}

// checkNames compares the variables names. It compares nothing and
// returns false when one is a nameref, for which checkAll sees the value
// of an outer scope.
func (s *sim) checkNames(env expand.Environ, st site, deps []string, names []string) bool {
	if len(names) == 0 {
		return true
	}
	vars := make([]expand.Variable, len(names))
	for i, name := range names {
		if vars[i] = env.Get(name); vars[i].Kind == expand.NameRef {
			return false
		}
	}
	for i, name := range names {
		s.compare(name, vars[i], st, deps)
	}
	return true
}

// checkAll compares every tracked variable, and returns how many
// variables the shell has.
func (s *sim) checkAll(env expand.Environ, st site, deps []string) int {
	// Each yields a variable once per scope it is in, outer scopes first
	n := 0
	cur := make(map[string]expand.Variable, len(s.last))
	env.Each(func(name string, v expand.Variable) bool {
		n++
		if s.o.Track(name) && !isShellInternal(name) && v.Kind != expand.NameRef {
			cur[name] = v
		}
		return true
	})
	names := make([]string, 0, len(cur)+len(s.last))
	for name := range cur {
		names = append(names, name)
	}
	for name := range s.last {
		if _, ok := cur[name]; !ok {
			names = append(names, name)
		}
	}
	slices.Sort(names)
	for _, name := range names {
		s.compare(name, cur[name], st, deps) // not in cur: the zero Variable, unset
	}
	return n
}

// compare records name if v differs from its last value.
func (s *sim) compare(name string, v expand.Variable, st site, deps []string) {
	old := s.last[name]
	if !v.IsSet() {
		if old != nil {
			s.record(name, nil, st, deps)
		}
		return
	}
	if val := v.String(); old == nil || *old != val {
		s.record(name, &val, st, deps)
	}
}

func (s *sim) record(name string, val *string, st site, deps []string) {
	if val == nil && s.last[name] == nil {
		return // removing what was never set changes nothing
	}
	s.res.Steps = append(s.res.Steps, Step{Var: name, File: st.file, Line: st.line, Before: s.last[name], After: val, DependsOn: slices.Clone(deps)})
	s.last[name] = val
	if name == "PATH" {
		for i := range s.res.Files {
			if s.res.Files[i].Path == st.file {
				s.res.Files[i].pathStep = true
			}
		}
	}
}
