package shellchain

import (
	"maps"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/syntax"
)

// Comparing every variable of the shell at every marker made a login file
// that sets many variables quadratic. What each statement can change is
// worked out from its text instead, when its file is marked, and the
// markers say which code ran since the last check (see sim.scopeBefore):
// only the variables that code names are compared. Anything the analysis
// cannot vouch for is compared in full, as before; it only has to be safe,
// as naming a variable that does not change costs a lookup.

// effect is what running one marked statement can change.
type effect struct {
	// names are the tracked variables its own code (not the marked
	// statements inside it) names, and those the shell sets by itself,
	// sorted.
	names []string
	// simple says its own code can change no tracked variable but names:
	// it computes no variable name (read "$v", declare "$v=x", ${!v},
	// a command that is an expansion) and lists no variables (set,
	// declare -p), which costs as much as comparing them all.
	simple bool
	// taints says that once it has run, code without markers may run at
	// any time, or a variable may be changed through another: a nameref,
	// a function whose body has no markers, a background job.
	taints bool
	// concurrent says it runs a pipeline: its parts run at once, so the
	// marker seen last says nothing about what ran since.
	concurrent bool
	// next is the statement after it in its list, or -1.
	next int
	// parent is the statement whose own code its list is in, or -1 at
	// the top of a file or of a function body (which runs elsewhere).
	parent int
}

// implicitNames are the variables the shell sets without their name in
// the text: read and select set REPLY, mapfile MAPFILE, getopts OPTARG,
// [[ =~ ]] BASH_REMATCH (PWD, OLDPWD and OPTIND are never tracked).
var implicitNames = []string{"REPLY", "MAPFILE", "OPTARG", "BASH_REMATCH"}

// analysis collects the effect of one statement's own code.
type analysis struct {
	track  func(string) bool
	marked map[*syntax.Stmt]bool // statements with markers: their own effects cover them
	names  map[string]bool

	dynamic, taints, concurrent bool
}

// effectOf works out the effect of st, whose inner statements are marked.
func (s *sim) effectOf(st *syntax.Stmt) effect {
	if s.names == nil {
		s.names = map[string]bool{}
	}
	clear(s.names) // one map for all statements: most name nothing tracked
	a := analysis{track: s.o.Track, marked: s.marked, names: s.names}
	for _, n := range s.implicit {
		a.names[n] = true
	}
	syntax.Walk(st, func(n syntax.Node) bool { return a.visit(st, n) })
	var names []string
	if len(a.names) > 0 {
		names = slices.Sorted(maps.Keys(a.names))
	}
	return effect{names: names, simple: !a.dynamic && !a.taints, taints: a.taints, concurrent: a.concurrent, next: -1}
}

func (a *analysis) visit(root *syntax.Stmt, n syntax.Node) bool {
	switch n := n.(type) {
	case nil:
	case *syntax.Stmt:
		if n != root && (a.marked[n] || isMarker(n)) {
			return false
		}
		if n.Background || n.Coprocess || n.Disown {
			// a job that outlives the statement, in a copy of the shell
			a.dynamic, a.taints, a.concurrent = true, true, true
		}
	case *syntax.Lit:
		a.text(n.Value)
	case *syntax.SglQuoted:
		a.text(n.Value)
	case *syntax.ParamExp:
		if n.Excl || n.NestedParam != nil || n.Flags != nil {
			a.dynamic = true // ${!name}, ${!prefix*}: names from values, or all of them
		}
	case *syntax.BinaryCmd:
		if n.Op == syntax.Pipe || n.Op == syntax.PipeAll {
			// the left side runs in a copy of the whole shell
			a.dynamic, a.concurrent = true, true
		}
	case *syntax.CallExpr:
		a.call(n.Args)
	case *syntax.DeclClause:
		a.decl(n)
	case *syntax.FuncDecl:
		a.funcDecl(n)
		return false // the body runs where the function is called
	case *syntax.Comment, *syntax.Word, *syntax.DblQuoted, *syntax.Assign, *syntax.Redirect,
		*syntax.CmdSubst, *syntax.ArithmExp, *syntax.ArithmCmd, *syntax.BinaryArithm,
		*syntax.UnaryArithm, *syntax.ParenArithm, *syntax.Block, *syntax.Subshell,
		*syntax.IfClause, *syntax.WhileClause, *syntax.ForClause, *syntax.WordIter,
		*syntax.CStyleLoop, *syntax.CaseClause, *syntax.CaseItem, *syntax.TestClause,
		*syntax.BinaryTest, *syntax.UnaryTest, *syntax.ParenTest, *syntax.ArrayExpr,
		*syntax.ArrayElem, *syntax.ExtGlob, *syntax.BraceExp, *syntax.TimeClause,
		*syntax.LetClause:
		// what they change is named by the words and literals inside
	default:
		a.dynamic = true
	}
	return true
}

// call looks at a simple command: builtins that take variable names must
// get them literally, and the command itself must be literal (an expansion
// can be any builtin).
func (a *analysis) call(args []*syntax.Word) {
	name, args, ok := commandName(args)
	switch {
	case !ok:
		a.dynamic = true
	case name == "eval" || name == "trap" || name == "alias":
		// code the markers do not reach; sim.call sees what it is
		a.dynamic = true
	case name == "return":
		// leaves a function, whose caller's own code and locals the
		// markers seen next do not account for
		a.dynamic = true
	case name == "set":
		if len(args) == 0 {
			a.dynamic = true // lists every variable
		}
	case isDecl(name):
		// as a command, not the keyword: behind command or builtin
		a.dynamic, a.taints = true, true
	case name == "printf":
		// only printf -v sets a variable (this interpreter has no -v yet)
		if f, ok := wordLit(first(args)); !ok || f == "-v" {
			a.nameArgs(args)
		}
	case isSetter(name):
		a.nameArgs(args)
	}
}

func first(words []*syntax.Word) *syntax.Word {
	if len(words) == 0 {
		return &syntax.Word{}
	}
	return words[0]
}

// commandName is the builtin or command a simple command runs, through
// command and builtin, and its arguments: "" for none, and ok false when
// only running it tells.
func commandName(args []*syntax.Word) (name string, rest []*syntax.Word, ok bool) {
	for len(args) > 0 {
		if args[0].Lit() == "[" {
			return "[", args[1:], true
		}
		name, ok := wordLit(args[0])
		if !ok {
			return "", nil, false
		}
		if name != "command" && name != "builtin" {
			return name, args[1:], true
		}
		args = args[1:]
		for len(args) > 0 {
			f, _ := wordLit(args[0])
			if name == "command" && (f == "-v" || f == "-V") {
				return "", nil, true // only looks names up
			}
			if !strings.HasPrefix(f, "-") {
				break
			}
			args = args[1:]
		}
	}
	return "", nil, true
}

// nameArgs requires every argument of a builtin that sets variables by
// name to be literal, so that its text names them.
func (a *analysis) nameArgs(args []*syntax.Word) {
	for _, w := range args {
		v, ok := wordLit(w)
		if !ok {
			a.dynamic = true
			return
		}
		a.text(v)
	}
}

// decl looks at declare, local, export, readonly, typeset and nameref.
func (a *analysis) decl(d *syntax.DeclClause) {
	if d.Variant.Value == "nameref" {
		a.taints = true
	}
	names := 0
	for _, as := range d.Args {
		if as.Name != nil {
			names++
			continue
		}
		if as.Value == nil {
			continue
		}
		v, ok := wordLit(as.Value)
		switch {
		case !ok:
			// "$v" can be any name, or -n
			a.dynamic, a.taints = true, true
		case strings.HasPrefix(v, "-") || strings.HasPrefix(v, "+"):
			if strings.ContainsRune(v, 'n') {
				a.taints = true // a nameref, in every variant for this interpreter
			}
			if strings.ContainsAny(v, "pf") {
				a.dynamic = true // lists variables or functions
			}
		default:
			names++
			a.text(v)
		}
	}
	if names == 0 {
		a.dynamic = true // with no names it lists every variable
	}
}

// funcDecl: a function whose body is a block has markers in it; any other
// body (a subshell, (( )), [[ ]], case, for) runs unmarked where it is
// called, which its caller's text does not show.
func (a *analysis) funcDecl(f *syntax.FuncDecl) {
	b, ok := f.Body.Cmd.(*syntax.Block)
	if !ok || len(b.Stmts) > 0 && !a.marked[b.Stmts[0]] && !isMarker(b.Stmts[0]) {
		a.taints = true
	}
}

// text adds the tracked names that a literal can hold: itself, and each
// run of name characters in it.
func (a *analysis) text(v string) {
	a.add(v)
	for i := 0; i < len(v); {
		if !isNameStart(v[i]) {
			i++
			continue
		}
		j := i + 1
		for j < len(v) && (isNameStart(v[j]) || v[j] >= '0' && v[j] <= '9') {
			j++
		}
		a.add(v[i:j])
		i = j
	}
}

func isNameStart(c byte) bool {
	return c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
}

func (a *analysis) add(name string) {
	if name != "" && !a.names[name] && a.track(name) && !isShellInternal(name) {
		a.names[name] = true
	}
}

// wordLit is the value of a word that expands to itself, quotes removed.
// A word with an expansion, a glob, braces, a tilde or a backslash is not
// literal: only running it tells what it becomes.
func wordLit(w *syntax.Word) (string, bool) {
	var b strings.Builder
	for _, p := range w.Parts {
		switch p := p.(type) {
		case *syntax.Lit:
			if strings.ContainsAny(p.Value, "*?[]{}~\\") {
				return "", false
			}
			b.WriteString(p.Value)
		case *syntax.SglQuoted:
			if p.Dollar {
				return "", false
			}
			b.WriteString(p.Value)
		case *syntax.DblQuoted:
			for _, q := range p.Parts {
				l, ok := q.(*syntax.Lit)
				if !ok || strings.Contains(l.Value, "\\") {
					return "", false
				}
				b.WriteString(l.Value)
			}
		default:
			return "", false
		}
	}
	return b.String(), true
}

// unmarkedCode says whether a command that Simulate's call handler is
// about to run leaves code that runs without markers, now or later: eval
// of anything but blanks, a trap, an alias that is more than plain words
// for a plain command, or source, eval and declarations behind command or
// builtin, which run them without the call handler.
func unmarkedCode(args []string) bool {
	wrapped := false
	for len(args) > 0 && (args[0] == "command" || args[0] == "builtin") {
		args, wrapped = args[1:], true
		for len(args) > 0 && strings.HasPrefix(args[0], "-") {
			if args[0] == "-v" || args[0] == "-V" {
				return false
			}
			args = args[1:]
		}
	}
	if len(args) == 0 {
		return false
	}
	switch args[0] {
	case "eval":
		return strings.TrimSpace(strings.Join(args[1:], " ")) != ""
	case "trap":
		rest := args[1:]
		if len(rest) > 0 && rest[0] == "--" {
			rest = rest[1:]
		}
		return len(rest) > 1 && rest[0] != "" && rest[0] != "-"
	case "alias":
		for _, a := range args[1:] {
			if _, v, ok := strings.Cut(a, "="); ok && !plainAlias(v) {
				return true
			}
		}
	case "source", ".", "declare", "typeset", "local", "export", "readonly", "nameref", "let", "command", "builtin":
		return wrapped
	}
	return false
}

// plainAlias says whether an alias value is literal words that run no
// builtin setting variables, so that where it is used the text of the
// statement still says what can change.
func plainAlias(v string) bool {
	for w, err := range syntax.NewParser().WordsSeq(strings.NewReader(v)) {
		if err != nil {
			return false
		}
		lit, ok := wordLit(w)
		if !ok || lit == "command" || lit == "builtin" || lit == "set" ||
			isSetter(lit) || isDecl(lit) || lit == "eval" || lit == "trap" || lit == "alias" || lit == "source" || lit == "." || lit == "return" {
			return false
		}
	}
	return true
}

// isSetter says whether a builtin sets variables named by its arguments.
func isSetter(name string) bool {
	switch name {
	case "read", "mapfile", "readarray", "unset", "getopts", "let", "wait", "printf":
		return true
	}
	return false
}

// isDecl says whether a name is one of the declaration builtins, which
// the parser reads as keywords.
func isDecl(name string) bool {
	switch name {
	case "declare", "typeset", "local", "export", "readonly", "nameref":
		return true
	}
	return false
}
