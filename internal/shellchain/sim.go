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
//
// The files, by job: types.go the options and results; sim.go the driver
// (which files, in which order); mark.go the markers put between the
// statements of each file read; track.go what a marker compares and
// records; effects.go which names a statement can change; commands.go the
// answers to commands; files.go reads and permissions through the root.
package shellchain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
	"mvdan.cc/sh/v3/syntax"
)

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
	s := newSim(o)
	env := s.startEnv()
	// The interpreter picks its temporary directory from TMPDIR once, and
	// opens files there itself; a TMPDIR from the host's files must never
	// be it. The login's own TMPDIR is set back by the prelude.
	tmp, err := os.MkdirTemp("", "gotrail-sim-")
	if err != nil {
		return nil, fmt.Errorf("simulate: %w", err)
	}
	defer os.RemoveAll(tmp)
	dir := s.o.User.Home
	if !s.o.FS.IsDir(dir) {
		dir = "/"
	}
	r, err := s.runner(runnerEnv(env, s.o.User, tmp, dir))
	if err != nil {
		return nil, fmt.Errorf("simulate %s: %w", s.o.User.Name, err)
	}
	defer func() {
		// the interpreter is another module; a panic there must not take the caller down
		if p := recover(); p != nil {
			err = fmt.Errorf("simulate %s: shell interpreter failed: %v", s.o.User.Name, p)
		}
	}()
	if err := s.start(ctx, r, env, dir); err != nil {
		return nil, err
	}
	if err := s.readChain(ctx, r); err != nil {
		return nil, err
	}
	if err := s.finalVars(ctx, r); err != nil {
		return nil, err
	}
	if s.o.Resource && !r.Exited() && !s.stopped {
		s.resource(ctx, r)
	}
	s.stderrProblems()
	return s.res, nil
}

// newSim fills in the defaults of o and starts a simulation of it.
func newSim(o Options) *sim {
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
	return s
}

// startEnv is the environment the shell starts with: Options.Env as it
// is, or else what login and pam_env set, whose assignments are the first
// steps.
func (s *sim) startEnv() map[string]string {
	if env := s.o.Env; env != nil {
		for k, v := range env {
			if s.o.Track(k) {
				s.last[k] = &v
			}
		}
		return env
	}
	env, as := LoginEnv(s.o.FS, s.o.User)
	for _, a := range as {
		if s.o.Track(a.Var) {
			s.record(a.Var, a.Value, site{a.File, a.Line}, nil)
		}
	}
	return env
}

// runnerEnv is the interpreter's environment: env, with the identity the
// interpreter would otherwise take from the process running gotrail, tmp
// as its own TMPDIR and dir as the working directory.
func runnerEnv(env map[string]string, u User, tmp, dir string) []string {
	list := make([]string, 0, len(env)+3)
	for k, v := range env {
		if k != "TMPDIR" {
			list = append(list, k+"="+v)
		}
	}
	list = append(list, "UID="+strconv.Itoa(u.UID), "EUID="+strconv.Itoa(u.UID), "GID="+strconv.Itoa(u.GID))
	return append(list, "TMPDIR="+tmp, "PWD="+dir)
}

// runner is the interpreter with every side effect going to the
// simulation: commands are answered, files read through the root.
func (s *sim) runner(env []string) (*interp.Runner, error) {
	return interp.New(
		interp.Env(expand.ListEnviron(env...)),
		interp.Interactive(s.o.Interactive),
		interp.StdIO(nil, io.Discard, &s.stderr),
		interp.CallHandler(s.call),
		interp.ExecHandlers(s.execHandlers()...),
		interp.OpenHandler(s.open),
		interp.StatHandler(s.stat),
		interp.ReadDirHandler2(func(_ context.Context, p string) ([]fs.DirEntry, error) { return s.o.FS.ReadDir(p) }),
		interp.AccessHandler(s.access),
		interp.Dir("/"),
	)
}

// start runs the prelude: what the shell is before it reads a file, in
// dir, with the login's TMPDIR back and the variables the shell sets.
func (s *sim) start(ctx context.Context, r *interp.Runner, env map[string]string, dir string) error {
	prelude := "cd " + quote(dir) + "\n"
	if v, ok := env["TMPDIR"]; ok {
		prelude += "TMPDIR=" + quote(v) + "\n"
	} else {
		prelude += "unset TMPDIR\n"
	}
	switch s.o.Shell {
	case "bash":
		prelude += "BASH=/usr/bin/bash BASH_VERSION='5.2.15(1)-release'\n"
	case "zsh":
		prelude += "ZSH_VERSION=5.9\n"
	}
	if s.o.Interactive {
		prelude += flagsVar + "=himBH\n"
		prelude += "PS1='\\s-\\v\\$ '\n"
	} else {
		prelude += flagsVar + "=hB\n"
	}
	pre, err := syntax.NewParser().Parse(strings.NewReader(prelude), "")
	if err != nil {
		return fmt.Errorf("simulate: %w", err)
	}
	if err := r.Run(ctx, pre); err != nil {
		return fmt.Errorf("simulate %s: start in %s: %w", s.o.User.Name, dir, err)
	}
	return nil
}

// readChain reads the shell's own files in order, until the shell exits
// or the simulation is stopped.
func (s *sim) readChain(ctx context.Context, r *interp.Runner) error {
	for _, next := range s.chain(ctx, r) {
		if err := ctx.Err(); err != nil {
			return err
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
				return err
			}
		}
		if r.Exited() || s.stopped {
			break
		}
	}
	return nil
}

// finalVars fills Result.Vars: the shell's variables when it read every
// file, else the last values seen.
func (s *sim) finalVars(ctx context.Context, r *interp.Runner) error {
	s.res.Vars = map[string]Var{}
	if !r.Exited() && !s.stopped {
		end, _ := syntax.NewParser().Parse(strings.NewReader(markEnd), "")
		if err := r.Run(ctx, end); err != nil {
			return fmt.Errorf("simulate %s: %w", s.o.User.Name, err)
		}
		return nil
	}
	if !s.stopped {
		s.res.Problems = append(s.res.Problems, "the shell exited while reading its files; the values are those before exit")
	}
	for name, v := range s.last {
		if v != nil {
			s.res.Vars[name] = Var{Value: *v, Exported: true}
		}
	}
	return nil
}

// stderrProblems makes what the shell wrote to stderr Problems.
func (s *sim) stderrProblems() {
	for _, l := range strings.Split(strings.TrimSpace(s.stderr.String()), "\n") {
		// the interpreter lacks some of bash's interactive options; they change no variable
		if l != "" && !strings.HasPrefix(l, "shopt: unsupported option") {
			s.res.Problems = append(s.res.Problems, l)
		}
	}
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
