// Package shellchain simulates a user's login: pam_env, then the shell's
// own chain of files for the mode (login, interactive), following source
// and "." into other files, and records where each variable got its value.
//
// Nothing is executed and nothing is written. The shell code runs in
// mvdan.cc/sh's interpreter with every file read through the host root and
// every command answered by the simulator: the ones whose answer depends
// only on the identity or the host (id, whoami, uname, hostname, dirname,
// basename, command -v, type, which) get that answer; any other command is
// recorded as unresolved, with the statement it ran in, so the output can
// say which values depend on it instead of guessing.
//
// To see assignments with their file and line, every file is parsed, a
// marker command is put before and after each statement, and the marked
// program is what the interpreter reads; the markers carry the original
// position and keep $? as it was.
package shellchain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// User is the identity whose login is simulated.
type User struct {
	Name      string
	UID, GID  int
	Home      string
	Shell     string
	GroupName string
	Groups    []Group // supplementary groups, the primary first
}

// Group is a group the user is in.
type Group struct {
	Name string
	GID  int
}

// HostInfo answers uname and hostname.
type HostInfo struct {
	Hostname, Sysname, Release, Version, Machine string
}

// Options say whose login to simulate and how.
type Options struct {
	FS          hostfs.FS
	User        User
	Shell       string // bash, sh or zsh; "" takes it from the user's login shell
	Login       bool
	Interactive bool
	Host        HostInfo
	// Env is the environment the shell starts with; nil means LoginEnv
	// (login's variables and pam_env).
	Env map[string]string
	// Track says which variables get steps; nil tracks every variable.
	Track func(name string) bool
	// Resource sources each file that changed PATH a second time, to find
	// PATH appends that grow each time.
	Resource bool

	// compareAll compares every variable at every marker, as the
	// simulation did before it knew what each statement can change: the
	// reference the tests hold the faster checks to.
	compareAll bool
}

// Step is one change to a variable.
type Step struct {
	Var    string  `json:"-"`
	File   string  `json:"file"`
	Line   int     `json:"line"`
	Before *string `json:"before"`
	After  *string `json:"after"`
	// DependsOn lists unresolved commands of the statement that made the
	// change: the value may differ on the host.
	DependsOn []string `json:"depends_on,omitempty"`
}

// Unresolved is a command the simulator could not answer.
type Unresolved struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Command string `json:"command"`
}

func (u Unresolved) String() string { return fmt.Sprintf("%s:%d: %s", u.File, u.Line, u.Command) }

// ChainFile is a file the login read or tried to read.
type ChainFile struct {
	Path string `json:"path"`
	// From is "file:line" of the source or "." that read it; empty for
	// the files the shell itself reads.
	From     string `json:"from,omitempty"`
	Missing  bool   `json:"missing,omitempty"`
	Error    string `json:"error,omitempty"`
	pathStep bool
}

// Var is a variable at the end of the login.
type Var struct {
	Value    string
	Exported bool
}

// Umask is the last umask the chain set.
type Umask struct {
	Value uint32
	File  string
	Line  int
}

// Regrow is a file whose second sourcing makes PATH longer.
type Regrow struct {
	File          string
	Before, After string
}

// Result is the simulated login.
type Result struct {
	User       string
	Shell      string
	Mode       string
	Vars       map[string]Var
	Steps      []Step
	Unresolved []Unresolved
	Files      []ChainFile
	Umask      *Umask
	Regrows    []Regrow
	// Problems are files that could not be read or parsed, and what the
	// shell said on stderr.
	Problems []string
}

// Value returns the final value of name and whether it is set.
func (r *Result) Value(name string) (string, bool) {
	v, ok := r.Vars[name]
	return v.Value, ok
}

// StepsOf returns the changes to name in order.
func (r *Result) StepsOf(name string) []Step {
	var out []Step
	for _, s := range r.Steps {
		if s.Var == name {
			out = append(out, s)
		}
	}
	return out
}

// ShellName picks the simulated shell for a login shell path.
func ShellName(loginShell string) string {
	switch path.Base(loginShell) {
	case "sh", "dash", "ash", "ksh", "mksh", "busybox":
		return "sh"
	case "zsh":
		return "zsh"
	}
	return "bash"
}

// ModeName names a login/interactive combination.
func ModeName(login, interactive bool) string {
	switch {
	case login && interactive:
		return "login interactive"
	case login:
		return "login"
	case interactive:
		return "interactive"
	}
	return "non-interactive"
}

type site struct {
	file string
	line int
}

type frame struct {
	id         int
	unresolved []string
	concurrent bool // the statement runs a pipeline
}

// event is a marker the simulation handled.
type event struct {
	after bool
	id    int // -1: none, or not a statement's
}

var noEvent = event{id: -1}

// sim is one simulation's state; the interpreter's handlers are its methods.
type sim struct {
	o       Options
	res     *Result
	sites   []site
	stack   []frame
	last    map[string]*string
	pending string // the file a source builtin is about to open
	mu      sync.Mutex
	got     string // what markGet read
	errexit bool   // set -e is on: markers return 0
	pcs     [maxGoFrames]uintptr
	quiet   bool // re-sourcing: no steps
	steps   int  // statements run, against maxStatements
	stopped bool // the budget ran out
	stderr  bytes.Buffer

	effects    []effect              // what each statement can change, by id as sites
	implicit   []string              // the tracked implicitNames
	marked     map[*syntax.Stmt]bool // while a file is marked: its statements that have markers
	names      map[string]bool       // effectOf's scratch
	prev       event                 // the marker handled last
	tainted    bool                  // code without markers may run at any time: compare every variable
	concurrent int                   // open statements that run a pipeline
	compared   int                   // variable values compared, against maxCompared
}

const (
	markBefore = "__gotrail_b"
	markAfter  = "__gotrail_a"
	markLookup = "__gotrail_lookup"
	markEnd    = "__gotrail_end"
	markGet    = "__gotrail_get"
	markFlush  = "__gotrail_flush"
	flagsVar   = "__gotrail_flags"
)

// maxStatements bounds a simulation: a login chain runs a few hundred
// statements; a loop that never ends must not hang gotrail.
const maxStatements = 50_000

var errBudget = fmt.Errorf("stopped after %d statements (a loop that does not end?)", maxStatements)

// maxGoFrames bounds the interpreter's recursion (it calls itself in Go
// for each shell function call and sourced file): a few hundred shell
// levels, far more than any login chain, far less than a stack overflow.
const maxGoFrames = 20000

var errDepth = errors.New("stopped: calls nested too deep (a function that calls itself without end?)")

// maxCompared bounds the comparisons of variable values. A statement the
// simulation cannot see through (eval, read "$v", a pipeline, a function
// call) is followed by comparing every variable, and many such statements
// in a shell of many variables would take hours; this is enough to compare
// 100 variables at each of the 100,000 markers of maxStatements
// statements, and takes about a second.
const maxCompared = 10_000_000

var errCompared = fmt.Errorf("stopped after comparing %d variable values (too many variables?)", maxCompared)

func quote(s string) string {
	q, err := syntax.Quote(s, syntax.LangBash)
	if err != nil {
		return "'" + strings.ReplaceAll(s, "'", `'\''`) + "'"
	}
	return q
}

// Simulate runs the user's login as Options says. An error means the
// simulation could not run at all; files it could not read are Problems.
func Simulate(ctx context.Context, o Options) (res *Result, err error) {
	if o.Shell == "" {
		o.Shell = ShellName(o.User.Shell)
	}
	if o.Track == nil {
		o.Track = func(string) bool { return true }
	}
	s := &sim{o: o, res: &Result{User: o.User.Name, Shell: o.Shell, Mode: ModeName(o.Login, o.Interactive)}, last: map[string]*string{}, prev: noEvent}
	for _, n := range implicitNames {
		if o.Track(n) {
			s.implicit = append(s.implicit, n)
		}
	}
	env := o.Env
	if env == nil {
		var as []Assignment
		env, as = LoginEnv(o.FS, o.User)
		for _, a := range as {
			if o.Track(a.Var) {
				s.record(a.Var, a.Value, site{a.File, a.Line}, nil)
			}
		}
	} else {
		for k, v := range env {
			if o.Track(k) {
				v := v
				s.last[k] = &v
			}
		}
	}
	list := make([]string, 0, len(env)+3)
	for k, v := range env {
		if k != "TMPDIR" {
			list = append(list, k+"="+v)
		}
	}
	// the interpreter would take these from the process running gotrail
	list = append(list, "UID="+strconv.Itoa(o.User.UID), "EUID="+strconv.Itoa(o.User.UID), "GID="+strconv.Itoa(o.User.GID))
	// The interpreter picks its temporary directory from TMPDIR once, and
	// opens files there itself; a TMPDIR from the host's files must never
	// be it. The login's own TMPDIR is set back by the prelude.
	tmp, err := os.MkdirTemp("", "gotrail-sim-")
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	defer os.RemoveAll(tmp)
	list = append(list, "TMPDIR="+tmp)
	dir := o.User.Home
	if !o.FS.IsDir(dir) {
		dir = "/"
	}
	list = append(list, "PWD="+dir)
	r, err := interp.New(
		interp.Env(expand.ListEnviron(list...)),
		interp.Interactive(o.Interactive),
		interp.StdIO(nil, io.Discard, &s.stderr),
		interp.CallHandler(s.call),
		interp.ExecHandlers(s.exec),
		interp.OpenHandler(s.open),
		interp.StatHandler(s.stat),
		interp.ReadDirHandler2(func(_ context.Context, p string) ([]fs.DirEntry, error) { return o.FS.ReadDir(p) }),
		interp.AccessHandler(s.access),
		interp.Dir("/"),
	)
	if err != nil {
		return nil, fmt.Errorf("simulate %s: %w", o.User.Name, err)
	}
	prelude := "cd " + quote(dir) + "\n"
	if v, ok := env["TMPDIR"]; ok {
		prelude += "TMPDIR=" + quote(v) + "\n"
	} else {
		prelude += "unset TMPDIR\n"
	}
	switch o.Shell {
	case "bash":
		prelude += "BASH=/usr/bin/bash BASH_VERSION='5.2.15(1)-release'\n"
	case "zsh":
		prelude += "ZSH_VERSION=5.9\n"
	}
	if o.Interactive {
		prelude += flagsVar + "=himBH\n"
	} else {
		prelude += flagsVar + "=hB\n"
	}
	if o.Interactive {
		prelude += "PS1='\\s-\\v\\$ '\n"
	}
	defer func() {
		// the interpreter is another module; a panic there must not take the caller down
		if p := recover(); p != nil {
			err = fmt.Errorf("simulate %s: shell interpreter failed: %v", o.User.Name, p)
		}
	}()
	pre, err := syntax.NewParser().Parse(strings.NewReader(prelude), "")
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	if err := r.Run(ctx, pre); err != nil {
		return nil, fmt.Errorf("simulate %s: start in %s: %w", o.User.Name, dir, err)
	}
	for _, next := range s.chain(ctx, r) {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		cands := next()
		if len(cands) > 1 {
			if f := s.pick(cands); f != "" {
				cands = []string{f}
			} else {
				cands = nil
			}
		}
		for _, f := range cands {
			if err := s.source(ctx, r, f); err != nil {
				return nil, err
			}
		}
		if r.Exited() || s.stopped {
			break
		}
	}
	s.res.Vars = map[string]Var{}
	if !r.Exited() && !s.stopped {
		end, _ := syntax.NewParser().Parse(strings.NewReader(markEnd), "")
		if err := r.Run(ctx, end); err != nil {
			return nil, fmt.Errorf("simulate %s: %w", o.User.Name, err)
		}
	} else {
		if !s.stopped {
			s.res.Problems = append(s.res.Problems, "the shell exited while reading its files; the values are those before exit")
		}
		for name, v := range s.last {
			if v != nil {
				s.res.Vars[name] = Var{Value: *v, Exported: true}
			}
		}
	}
	if o.Resource && !r.Exited() && !s.stopped {
		s.resource(ctx, r)
	}
	for _, l := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		// the interpreter lacks some of bash's interactive options; they change no variable
		if l != "" && !strings.HasPrefix(l, "shopt: unsupported option") {
			s.res.Problems = append(s.res.Problems, l)
		}
	}
	return s.res, nil
}

func isShellInternal(name string) bool {
	if strings.HasPrefix(name, "__gotrail") {
		return true
	}
	switch name {
	case "UID", "EUID", "GID", "PWD", "OLDPWD", "IFS", "OPTIND", "PS1", "PS2", "PS4", "BASH", "BASH_VERSION", "ZSH_VERSION", "RANDOM", "SECONDS", "LINENO", "PPID", "DIRSTACK", "SHLVL", "_":
		return true
	}
	return false
}

// chain is the list of files the shell reads itself, in order, for the
// mode. Each entry is a list of candidates of which the shell reads the
// first that exists; an entry is worked out when its turn comes, as a
// variable set by an earlier file (ENV, ZDOTDIR) can name it.
func (s *sim) chain(ctx context.Context, r *interp.Runner) []func() []string {
	home := s.o.User.Home
	fixed := func(files ...string) []func() []string {
		var out []func() []string
		for _, f := range files {
			out = append(out, func() []string { return []string{f} })
		}
		return out
	}
	zdot := func(name string) func() []string {
		return func() []string {
			dir := s.getVar(ctx, r, "ZDOTDIR")
			if dir == "" {
				dir = home
			}
			return []string{dir + "/" + name}
		}
	}
	var out []func() []string
	switch s.o.Shell {
	case "bash":
		if s.o.Login {
			out = append(out, fixed("/etc/profile")...)
			out = append(out, func() []string { return []string{home + "/.bash_profile", home + "/.bash_login", home + "/.profile"} })
		} else if s.o.Interactive {
			out = append(out, fixed("/etc/bash.bashrc", home+"/.bashrc")...)
		}
	case "sh":
		if s.o.Login {
			out = append(out, fixed("/etc/profile", home+"/.profile")...)
		}
		if s.o.Interactive {
			out = append(out, func() []string {
				if env := s.getVar(ctx, r, "ENV"); strings.HasPrefix(env, "/") {
					return []string{env}
				}
				return nil
			})
		}
	case "zsh":
		out = append(out, fixed("/etc/zsh/zshenv")...)
		out = append(out, zdot(".zshenv"))
		if s.o.Login {
			out = append(out, fixed("/etc/zsh/zprofile")...)
			out = append(out, zdot(".zprofile"))
		}
		if s.o.Interactive {
			out = append(out, fixed("/etc/zsh/zshrc")...)
			out = append(out, zdot(".zshrc"))
		}
		if s.o.Login {
			out = append(out, fixed("/etc/zsh/zlogin")...)
			out = append(out, zdot(".zlogin"))
		}
	}
	return out
}

// pick returns the first of the candidates the shell would read: "" when
// none exists, or when one cannot be read and which it would be is unknown.
func (s *sim) pick(cands []string) string {
	for _, f := range cands {
		cf := s.probe(f, "")
		switch {
		case cf.Error != "":
			s.res.Files = append(s.res.Files, cf)
			return ""
		case !cf.Missing:
			return f
		}
	}
	if len(cands) > 0 {
		s.res.Files = append(s.res.Files, ChainFile{Path: cands[len(cands)-1], Missing: true})
	}
	return ""
}

// getVar reads a variable of the running shell.
func (s *sim) getVar(ctx context.Context, r *interp.Runner, name string) string {
	prog, err := syntax.NewParser().Parse(strings.NewReader(markGet+" "+quote(name)), "")
	if err != nil {
		return ""
	}
	s.got = ""
	if err := r.Run(ctx, prog); err != nil {
		return ""
	}
	return s.got
}

// probe says whether the user's shell could read file: missing, or an
// error such as permission denied (running as a plain user, gotrail reads
// what that user can; a file it cannot read makes the values after it
// unknown, which Problems says).
func (s *sim) probe(file, from string) ChainFile {
	cf := ChainFile{Path: file, From: from}
	fi, err := s.o.FS.Stat(file)
	switch {
	case errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscall.ENOTDIR):
		cf.Missing = true
	case err != nil:
		cf.Error = unwrapErrno(err).Error()
	case !s.may(fi, 4):
		cf.Error = "the user may not read it"
	default:
		if f, err := s.o.FS.Open(file); err != nil {
			cf.Error = unwrapErrno(err).Error()
		} else {
			f.Close()
		}
	}
	if cf.Error != "" && !s.quiet {
		s.res.Problems = append(s.res.Problems, fmt.Sprintf("cannot read %s (%s): what it sets is unknown", file, cf.Error))
	}
	return cf
}

// source reads file as the shell's own start-up file.
func (s *sim) source(ctx context.Context, r *interp.Runner, file string) error {
	if cf := s.probe(file, ""); cf.Missing || cf.Error != "" {
		s.res.Files = append(s.res.Files, cf)
		return nil
	}
	prog, err := syntax.NewParser().Parse(strings.NewReader("source "+quote(file)), "")
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	s.push(-1)
	s.prev = noEvent
	err = r.Run(ctx, prog)
	if !r.Exited() && (err == nil || errors.As(err, new(interp.ExitStatus))) {
		// the file's last statement has no after-marker: see its changes now
		flush, _ := syntax.NewParser().Parse(strings.NewReader(markFlush), "")
		if ferr := r.Run(ctx, flush); ferr != nil && !errors.As(ferr, new(interp.ExitStatus)) {
			err = ferr
		}
	}
	s.popTo(0)
	var status interp.ExitStatus
	if err == nil || errors.As(err, &status) {
		return nil
	}
	if errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	if errors.Is(err, errBudget) || errors.Is(err, errDepth) || errors.Is(err, errCompared) {
		s.res.Problems = append(s.res.Problems, "simulation "+err.Error()+"; later values are unknown")
		s.stopped = true
		return nil
	}
	return fmt.Errorf("simulate %s: %w", file, err)
}

// resource sources each file that changed PATH once more, in a copy of
// the shell, and reports those after which PATH is longer.
func (s *sim) resource(ctx context.Context, r *interp.Runner) {
	s.quiet = true
	defer func() { s.quiet = false }()
	before := s.res.Vars["PATH"].Value
	for _, f := range s.res.Files {
		if !f.pathStep {
			continue
		}
		sub := r.Subshell()
		prog, err := syntax.NewParser().Parse(strings.NewReader("source "+quote(f.Path)), "")
		if err != nil {
			continue
		}
		s.push(-1)
		s.prev = noEvent
		_ = sub.Run(ctx, prog)
		s.popTo(0)
		if sub.Exited() {
			continue
		}
		if after := s.getVar(ctx, sub, "PATH"); len(after) > len(before) {
			s.res.Regrows = append(s.res.Regrows, Regrow{File: f.Path, Before: before, After: after})
		}
	}
}

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

func (s *sim) call(ctx context.Context, args []string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if unmarkedCode(args) {
		s.tainted = true
	}
	switch args[0] {
	case "source", ".":
		if len(args) < 2 {
			return args, nil
		}
		file := args[1]
		if !strings.Contains(file, "/") {
			// POSIX: a name without a slash is searched on PATH, bash then looks in the current directory
			hc := interp.HandlerCtx(ctx)
			if p, ok := s.lookPath(hc.Env, file); ok {
				file = p
			} else {
				file = path.Join(hc.Dir, file)
			}
		} else if !path.IsAbs(file) {
			file = path.Join(interp.HandlerCtx(ctx).Dir, file)
		}
		st := s.current()
		from := ""
		if st.file != "" {
			from = fmt.Sprintf("%s:%d", st.file, st.line)
		}
		if file == "/dev/null" { // what a process substitution became
			return args, nil
		}
		cf := s.probe(file, from)
		if !s.quiet {
			s.res.Files = append(s.res.Files, cf)
		}
		s.pending = file
		return append([]string{args[0], file}, args[2:]...), nil
	case "command":
		if len(args) > 2 && (args[1] == "-v" || args[1] == "-V") {
			return append([]string{markLookup, args[1]}, args[2:]...), nil
		}
	case "type":
		return append([]string{markLookup, "-t"}, args[1:]...), nil
	case "set":
		// under set -e a marker must not fail: the statement before it
		// already passed errexit's judgement, which the marker would repeat
		// without knowing whether it was in an if or a && list
		for i := 1; i < len(args); i++ {
			a := args[i]
			if a == "--" || a == "-" || len(a) < 2 || a[0] != '-' && a[0] != '+' {
				break
			}
			if a[1:] == "o" {
				if i+1 < len(args) && args[i+1] == "errexit" {
					s.errexit = a[0] == '-'
				}
				i++
				continue
			}
			if strings.ContainsRune(a[1:], 'e') {
				s.errexit = a[0] == '-'
			}
		}
	case "umask":
		if len(args) > 1 && !strings.HasPrefix(args[1], "-") {
			if m, err := strconv.ParseUint(args[1], 8, 32); err == nil {
				st := s.current()
				if !s.quiet {
					s.res.Umask = &Umask{Value: uint32(m), File: st.file, Line: st.line}
				}
			}
		}
		return []string{":"}, nil
	case "exec":
		if len(args) > 1 {
			s.unresolved(strings.Join(args[1:], " "))
			return []string{"exit", "0"}, nil
		}
	}
	return args, nil
}

func (s *sim) unresolved(cmd string) {
	if s.quiet {
		return
	}
	if len(cmd) > 200 {
		cmd = cmd[:200] + "…"
	}
	st := s.current()
	s.res.Unresolved = append(s.res.Unresolved, Unresolved{File: st.file, Line: st.line, Command: cmd})
	if n := len(s.stack); n > 0 {
		s.stack[n-1].unresolved = append(s.stack[n-1].unresolved, fmt.Sprintf("%s:%d: %s", st.file, st.line, cmd))
	}
}

func (s *sim) markStatus(n int) error {
	if s.errexit {
		return nil
	}
	return status(n)
}

func status(n int) error {
	if n == 0 {
		return nil
	}
	return interp.ExitStatus(uint8(n))
}

// exec answers every command. The parts of a pipeline run at once, so the
// state is locked; output is written after the lock is released, as a
// write to a pipe can wait for a reader that needs the lock.
func (s *sim) exec(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(ctx context.Context, args []string) error {
		hc := interp.HandlerCtx(ctx)
		s.mu.Lock()
		out, err := s.handle(hc, args)
		s.mu.Unlock()
		if out != "" {
			io.WriteString(hc.Stdout, out)
		}
		return err
	}
}

func (s *sim) handle(hc interp.HandlerContext, args []string) (string, error) {
	{
		switch args[0] {
		case markBefore, markAfter:
			id, _ := strconv.Atoi(args[1])
			if args[0] == markBefore {
				if s.steps++; s.steps > maxStatements {
					st := s.sites[id]
					return "", fmt.Errorf("%w at %s:%d", errBudget, st.file, st.line)
				}
				if s.steps%16 == 0 && runtime.Callers(0, s.pcs[:]) == len(s.pcs) {
					// the interpreter recurses in Go for each shell function call
					st := s.sites[id]
					return "", fmt.Errorf("%w at %s:%d", errDepth, st.file, st.line)
				}
				// a statement already open is running again: the next turn
				// of a loop (its last statement has no after-marker) or a
				// function calling itself; close what the last turn left open
				sc := s.scopeBefore(id)
				for i := len(s.stack) - 1; i >= 0; i-- {
					if s.stack[i].id == id {
						if s.effects[id].parent < 0 {
							// a function calling itself, maybe in a copy of
							// the shell: the statements open say nothing
							// about which shell the markers run in
							s.tainted = true
						}
						var deps []string
						for _, f := range s.stack[i:] {
							deps = append(deps, f.unresolved...)
						}
						if err := s.check(hc.Env, s.current(), s.stack[len(s.stack)-1].unresolved, sc); err != nil {
							return "", err
						}
						sc = scope{}
						s.popTo(i)
						if i > 0 {
							s.stack[i-1].unresolved = append(s.stack[i-1].unresolved, deps...)
						}
						break
					}
				}
				if err := s.check(hc.Env, s.current(), nil, sc); err != nil {
					return "", err
				}
				s.push(id)
				s.prev = event{id: id}
				return "", s.markStatus(hc.LastExitStatus)
			}
			// pop to this statement: return, break and exit skip the after-markers of the ones inside it
			i := len(s.stack) - 1
			for i >= 0 && s.stack[i].id != id {
				i--
			}
			if i < 0 {
				s.prev = noEvent // what it changed is still to be seen
				return "", s.markStatus(hc.LastExitStatus)
			}
			var deps []string
			for _, f := range s.stack[i:] {
				deps = append(deps, f.unresolved...)
			}
			sc := s.scopeAfter(id)
			// changes by a last statement of an inner list, which has no
			// after-marker, belong to it
			if top := len(s.stack) - 1; top > i {
				if err := s.check(hc.Env, s.current(), s.stack[top].unresolved, sc); err != nil {
					return "", err
				}
				sc = scope{}
			}
			s.popTo(i)
			if err := s.check(hc.Env, s.sites[id], deps, sc); err != nil {
				return "", err
			}
			if n := len(s.stack); n > 0 {
				s.stack[n-1].unresolved = append(s.stack[n-1].unresolved, deps...)
			}
			s.prev = event{after: true, id: id}
			return "", s.markStatus(hc.LastExitStatus)
		case markLookup:
			return s.lookup(hc, args[1], args[2:])
		case markFlush:
			var deps []string
			if n := len(s.stack); n > 0 {
				deps = s.stack[n-1].unresolved
			}
			s.prev = noEvent
			return "", s.check(hc.Env, s.current(), deps, anyVariable)
		case markGet:
			s.got = hc.Env.Get(args[1]).String()
			s.prev = noEvent
			return "", nil
		case markEnd:
			hc.Env.Each(func(name string, v expand.Variable) bool {
				switch {
				case !v.IsSet():
					delete(s.res.Vars, name)
				case v.Kind != expand.NameRef && !isShellInternal(name):
					s.res.Vars[name] = Var{Value: v.String(), Exported: v.Exported}
				}
				return true
			})
			return "", nil
		}
		out, code, ok := s.answer(hc, args)
		if !ok {
			s.unresolved(strings.Join(args, " "))
			if _, found := s.lookPath(hc.Env, args[0]); !found && !strings.Contains(args[0], "/") {
				return "", interp.ExitStatus(127)
			}
			return "", nil
		}
		return out, status(code)
	}
}

// lookPath finds an executable on the simulated PATH under the root.
func (s *sim) lookPath(env expand.Environ, name string) (string, bool) {
	if strings.Contains(name, "/") {
		fi, err := s.o.FS.Stat(name)
		return name, err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0
	}
	for _, dir := range strings.Split(env.Get("PATH").String(), ":") {
		if dir == "" {
			dir = "."
		}
		p := path.Join(dir, name)
		if fi, err := s.o.FS.Stat(p); err == nil && !fi.IsDir() && fi.Mode()&0o111 != 0 {
			return p, true
		}
	}
	return "", false
}

// lookup answers command -v/-V and type against the simulated PATH.
func (s *sim) lookup(hc interp.HandlerContext, flag string, names []string) (string, error) {
	var out strings.Builder
	code := 0
	for _, n := range names {
		if strings.HasPrefix(n, "-") && flag == "-t" {
			switch n {
			case "-t", "-p", "-P", "-a", "-f":
				flag = n
			}
			continue
		}
		kind, where := "", ""
		switch {
		case isBuiltin(n):
			kind, where = "builtin", n
		default:
			if p, ok := s.lookPath(hc.Env, n); ok {
				kind, where = "file", p
			}
		}
		if kind == "" {
			code = 1
			continue
		}
		switch flag {
		case "-v":
			fmt.Fprintln(&out, where)
		case "-V":
			if kind == "builtin" {
				fmt.Fprintf(&out, "%s is a shell builtin\n", n)
			} else {
				fmt.Fprintf(&out, "%s is %s\n", n, where)
			}
		case "-t":
			fmt.Fprintln(&out, kind)
		case "-p", "-P":
			if kind == "file" {
				fmt.Fprintln(&out, where)
			}
		default:
			fmt.Fprintf(&out, "%s is %s\n", n, where)
		}
	}
	return out.String(), status(code)
}

func isBuiltin(name string) bool {
	switch name {
	case ":", ".", "[", "alias", "bg", "break", "builtin", "cd", "command", "continue", "declare", "dirs", "echo", "eval", "exec", "exit", "export", "false", "fg", "getopts", "hash", "jobs", "kill", "let", "local", "mapfile", "popd", "printf", "pushd", "pwd", "read", "readarray", "readonly", "return", "set", "shift", "shopt", "source", "test", "times", "trap", "true", "type", "typeset", "ulimit", "umask", "unalias", "unset", "wait":
		return true
	}
	return false
}

// answer runs the commands whose output depends only on the identity and
// the host.
func (s *sim) answer(hc interp.HandlerContext, args []string) (string, int, bool) {
	u := s.o.User
	name := path.Base(args[0])
	switch name {
	case "whoami":
		return u.Name + "\n", 0, true
	case "id":
		return s.id(args[1:])
	case "uname":
		return s.uname(args[1:]), 0, true
	case "hostname":
		if len(args) == 1 || args[1] == "-s" || args[1] == "--short" {
			h := s.o.Host.Hostname
			if args[len(args)-1] == "-s" || args[len(args)-1] == "--short" {
				h, _, _ = strings.Cut(h, ".")
			}
			return h + "\n", 0, true
		}
	case "dirname":
		if len(args) > 1 {
			var b strings.Builder
			for _, a := range args[1:] {
				b.WriteString(path.Dir(a) + "\n")
			}
			return b.String(), 0, true
		}
	case "basename":
		if len(args) == 2 || len(args) == 3 && !strings.HasPrefix(args[1], "-") {
			b := path.Base(args[1])
			if len(args) == 3 && b != args[2] {
				b = strings.TrimSuffix(b, args[2])
			}
			return b + "\n", 0, true
		}
	case "which":
		var b strings.Builder
		code := 0
		for _, a := range args[1:] {
			if p, ok := s.lookPath(hc.Env, a); ok {
				b.WriteString(p + "\n")
			} else {
				code = 1
			}
		}
		return b.String(), code, true
	case "true":
		return "", 0, true
	case "false":
		return "", 1, true
	}
	return "", 0, false
}

func (s *sim) id(args []string) (string, int, bool) {
	u := s.o.User
	var flag string
	names := false
	for _, a := range args {
		switch a {
		case "-u", "-g", "-G", "--user", "--group", "--groups":
			flag = a[len(a)-1:]
			if a == "--user" {
				flag = "u"
			} else if a == "--group" {
				flag = "g"
			} else if a == "--groups" || a == "-G" {
				flag = "G"
			}
		case "-n", "--name":
			names = true
		case "-un", "-nu":
			flag, names = "u", true
		case "-gn", "-ng":
			flag, names = "g", true
		case "-Gn", "-nG":
			flag, names = "G", true
		default:
			if a != u.Name {
				return "", 0, false // another user's id: not answered
			}
		}
	}
	switch flag {
	case "u":
		if names {
			return u.Name + "\n", 0, true
		}
		return strconv.Itoa(u.UID) + "\n", 0, true
	case "g":
		if names {
			return u.GroupName + "\n", 0, true
		}
		return strconv.Itoa(u.GID) + "\n", 0, true
	case "G":
		var f []string
		for _, g := range u.Groups {
			if names {
				f = append(f, g.Name)
			} else {
				f = append(f, strconv.Itoa(g.GID))
			}
		}
		return strings.Join(f, " ") + "\n", 0, true
	case "":
		if names {
			return "", 1, true
		}
		var f []string
		for _, g := range u.Groups {
			f = append(f, fmt.Sprintf("%d(%s)", g.GID, g.Name))
		}
		return fmt.Sprintf("uid=%d(%s) gid=%d(%s) groups=%s\n", u.UID, u.Name, u.GID, u.GroupName, strings.Join(f, ",")), 0, true
	}
	return "", 0, false
}

func (s *sim) uname(args []string) string {
	h := s.o.Host
	if len(args) == 0 {
		return h.Sysname + "\n"
	}
	var f []string
	for _, a := range args {
		switch a {
		case "-a", "--all":
			return strings.Join([]string{h.Sysname, h.Hostname, h.Release, h.Version, h.Machine, "GNU/Linux"}, " ") + "\n"
		case "-s", "--kernel-name":
			f = append(f, h.Sysname)
		case "-n", "--nodename":
			f = append(f, h.Hostname)
		case "-r", "--kernel-release":
			f = append(f, h.Release)
		case "-v", "--kernel-version":
			f = append(f, h.Version)
		case "-m", "-p", "-i", "--machine":
			f = append(f, h.Machine)
		case "-o", "--operating-system":
			f = append(f, "GNU/Linux")
		}
	}
	return strings.Join(f, " ") + "\n"
}

// rwc is an in-memory file for the interpreter: the marked program of a
// sourced file, or a sink for writes, which never reach the host.
type rwc struct{ io.Reader }

func (rwc) Write(p []byte) (int, error) { return len(p), nil }
func (rwc) Close() error                { return nil }

func (s *sim) open(ctx context.Context, p string, flag int, _ os.FileMode) (io.ReadWriteCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0 || p == "/dev/null" {
		return rwc{strings.NewReader("")}, nil
	}
	fi, err := s.o.FS.Stat(p)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: unwrapErrno(err)}
	}
	if !s.may(fi, 4) {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}
	data, err := s.o.FS.ReadFileMax(p, maxShellFile)
	switch {
	case errors.Is(err, hostfs.ErrTooLarge):
		// what a file sets in its first MiB is still known; what follows is not
		if !s.quiet {
			s.res.Problems = append(s.res.Problems, fmt.Sprintf("read only the first %d MiB of %s: what it sets after that is unknown", maxShellFile>>20, p))
		}
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			data = data[:i+1] // never half a statement
		}
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: p, Err: unwrapErrno(err)}
	}
	if p != s.pending {
		if s.pending != "" {
			// the source builtin found another file than the call
			// handler did, and runs it without markers
			s.tainted = true
		}
		return rwc{bytes.NewReader(data)}, nil
	}
	s.pending = ""
	marked, err := s.mark(p, data)
	if err != nil {
		if !s.quiet {
			s.res.Problems = append(s.res.Problems, err.Error())
		}
		return nil, err
	}
	return rwc{bytes.NewReader(marked)}, nil
}

// maxShellFile is how much of a shell file is read: real login files are a
// few KiB; a 3 GB .bash_profile in an image must not become 3 GB of memory.
const maxShellFile = 1 << 20

func unwrapErrno(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (s *sim) stat(_ context.Context, p string, follow bool) (fs.FileInfo, error) {
	if follow {
		return s.o.FS.Stat(p)
	}
	return s.o.FS.Lstat(p)
}

func (s *sim) access(_ context.Context, p string, mode interp.AccessMode) error {
	fi, err := s.o.FS.Stat(p)
	if err != nil {
		return err
	}
	if !s.may(fi, uint32(mode)) {
		return fs.ErrPermission
	}
	return nil
}

// may reports whether the user may access fi for want (access(2) bits).
func (s *sim) may(fi fs.FileInfo, want uint32) bool {
	u := s.o.User
	if u.UID == 0 {
		if want&1 != 0 && !fi.IsDir() {
			return fi.Mode()&0o111 != 0
		}
		return true
	}
	uid32, gid32 := hostfs.Owner(fi)
	uid, gid := int(uid32), int(gid32)
	perm := uint32(fi.Mode().Perm())
	switch {
	case uid == u.UID:
		perm >>= 6
	case gid == u.GID || slices.ContainsFunc(u.Groups, func(g Group) bool { return g.GID == gid }):
		perm >>= 3
	}
	return perm&want == want
}

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
