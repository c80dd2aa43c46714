package shellchain

import (
	"bytes"
	"fmt"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// mark parses a file and puts the markers around its statements.
func (s *sim) mark(file string, data []byte) ([]byte, error) {
	prog, err := syntax.NewParser().Parse(bytes.NewReader(data), file)
	if err != nil {
		return nil, fmt.Errorf("parse %s", err) // the error names file:line:col
	}
	// the interpreter's $- never has i; bash's does in an interactive shell,
	// and rc files test it to return early when not interactive
	syntax.Walk(prog, func(n syntax.Node) bool {
		switch n := n.(type) {
		case *syntax.ParamExp:
			if n.Param != nil && n.Param.Value == "-" {
				n.Param.Value = flagsVar
			}
		case *syntax.Word:
			// <(cmd) and >(cmd) would make the interpreter create a FIFO
			// in a temporary directory, which it opens itself, not
			// through the open handler: they are never run
			for i, part := range n.Parts {
				if ps, ok := part.(*syntax.ProcSubst); ok {
					s.res.Unresolved = append(s.res.Unresolved, Unresolved{File: file, Line: int(ps.Pos().Line()), Command: "process substitution (not run)"})
					n.Parts[i] = &syntax.Lit{Value: "/dev/null"}
				}
			}
		case *syntax.Subshell:
			quietUmask(n)
		case *syntax.CmdSubst:
			quietUmask(n)
		}
		return true
	})
	s.marked = map[*syntax.Stmt]bool{}
	prog.Stmts = s.markStmts(file, prog.Stmts, -1)
	s.marked = nil
	var buf bytes.Buffer
	if err := syntax.NewPrinter().Print(&buf, prog); err != nil {
		return nil, fmt.Errorf("simulate %s: %w", file, err)
	}
	return buf.Bytes(), nil
}

func word(s string) *syntax.Word {
	return &syntax.Word{Parts: []syntax.WordPart{&syntax.Lit{Value: s}}}
}

func marker(name string, id int) *syntax.Stmt {
	return &syntax.Stmt{Cmd: &syntax.CallExpr{Args: []*syntax.Word{word(name), word(strconv.Itoa(id))}}}
}

// isMarker says whether st is a marker that markStmts put in.
func isMarker(st *syntax.Stmt) bool {
	c, ok := st.Cmd.(*syntax.CallExpr)
	if !ok || len(c.Args) != 2 || len(c.Assigns) != 0 || len(st.Redirs) != 0 {
		return false
	}
	name := c.Args[0].Lit()
	return name == markBefore || name == markAfter
}

// markStmts marks a list of statements in the own code of the statement
// parent (-1: none, at the top of a file or of a function body).
func (s *sim) markStmts(file string, stmts []*syntax.Stmt, parent int) []*syntax.Stmt {
	out := make([]*syntax.Stmt, 0, 3*len(stmts))
	prev := -1 // the statement before, whose next st is
	for i, st := range stmts {
		if st.Background || st.Coprocess {
			// a background job cannot change the login's variables; run it
			// as the subshell it is, in order, so no handler runs alongside
			st.Background, st.Coprocess = false, false
			st.Cmd = &syntax.Subshell{Stmts: []*syntax.Stmt{{Cmd: st.Cmd, Redirs: st.Redirs}}}
			st.Redirs = nil
		}
		if repl := unexportRewrite(st); repl != nil {
			st.Cmd = repl
		}
		id := len(s.sites)
		s.sites = append(s.sites, site{file, int(st.Pos().Line())})
		s.effects = append(s.effects, effect{})
		s.marked[st] = true
		s.markCmd(file, st.Cmd, id)
		s.effects[id] = s.effectOf(st)
		s.effects[id].parent = parent
		if prev >= 0 {
			s.effects[prev].next = id
		}
		prev = id
		out = append(out, marker(markBefore, id), st)
		// The last statement of a list gives the list its status (an if
		// condition, a function's return, a sourced file's): nothing may
		// come after it. Its changes are seen at the next marker, which
		// blames the innermost statement still open.
		if i < len(stmts)-1 {
			out = append(out, marker(markAfter, id))
		}
	}
	return out
}

// markCmd marks the statements inside compound commands. Subshells,
// command substitutions and pipelines run in a copy of the shell, whose
// changes do not last; they are left as they are.
func (s *sim) markCmd(file string, c syntax.Command, parent int) {
	switch c := c.(type) {
	case *syntax.Block:
		c.Stmts = s.markStmts(file, c.Stmts, parent)
	case *syntax.IfClause:
		for ; c != nil; c = c.Else {
			c.Cond = s.markStmts(file, c.Cond, parent)
			c.Then = s.markStmts(file, c.Then, parent)
		}
	case *syntax.WhileClause:
		c.Cond = s.markStmts(file, c.Cond, parent)
		c.Do = s.markStmts(file, c.Do, parent)
	case *syntax.ForClause:
		c.Do = s.markStmts(file, c.Do, parent)
	case *syntax.CaseClause:
		for _, it := range c.Items {
			it.Stmts = s.markStmts(file, it.Stmts, parent)
		}
	case *syntax.FuncDecl:
		if c.Body != nil {
			if _, ok := c.Body.Cmd.(*syntax.Block); !ok {
				// f() ( f ): a body that is not { } would run no marker,
				// so nothing would count its calls and f() ( f ); f would
				// recurse for ever. In { } it means the same, and counts.
				c.Body = &syntax.Stmt{Position: c.Body.Position, Cmd: &syntax.Block{Lbrace: c.Body.Position, Stmts: []*syntax.Stmt{c.Body}}}
			}
			// the body runs where the function is called, not in parent
			s.markCmd(file, c.Body.Cmd, -1)
		}
	case *syntax.BinaryCmd:
		if c.Op == syntax.AndStmt || c.Op == syntax.OrStmt {
			s.markCmd(file, c.X.Cmd, parent)
			s.markCmd(file, c.Y.Cmd, parent)
		}
	}
}

// unexportRewrite turns "export -n NAME..." (which the interpreter treats as
// a plain export) into what it means: the same value, no longer exported.
func unexportRewrite(st *syntax.Stmt) syntax.Command {
	d, ok := st.Cmd.(*syntax.DeclClause)
	if !ok || d.Variant == nil || d.Variant.Value != "export" {
		return nil
	}
	flagN := false
	var names []string
	for _, a := range d.Args {
		switch {
		case a.Naked && a.Name == nil && a.Value != nil && a.Value.Lit() == "-n":
			flagN = true
		case a.Name != nil && (a.Naked || a.Value == nil):
			names = append(names, a.Name.Value)
		default:
			return nil // an assignment or flag this rewrite does not handle
		}
	}
	if !flagN || len(names) == 0 {
		return nil
	}
	var b strings.Builder
	b.WriteString("{ ")
	for _, n := range names {
		fmt.Fprintf(&b, "__gotrail_v=${%s-}; unset %s; %s=$__gotrail_v; ", n, n, n)
	}
	b.WriteString("unset __gotrail_v; }")
	f, err := syntax.NewParser().Parse(strings.NewReader(b.String()), "")
	if err != nil || len(f.Stmts) != 1 {
		return nil
	}
	return f.Stmts[0].Cmd
}

// quietUmask turns umask inside a subshell or command substitution into a
// no-op: it changes only that copy of the shell, not the login's umask.
func quietUmask(n syntax.Node) {
	syntax.Walk(n, func(n syntax.Node) bool {
		if c, ok := n.(*syntax.CallExpr); ok && len(c.Args) > 0 && c.Args[0].Lit() == "umask" {
			c.Args = []*syntax.Word{word(":")}
		}
		return true
	})
}
