package shellchain

import (
	"context"
	"fmt"
	"io"
	"path"
	"runtime"
	"strconv"
	"strings"

	"mvdan.cc/sh/v3/expand"
	"mvdan.cc/sh/v3/interp"
)

// call sees every command before it runs, builtins included, which the
// exec handlers never see: it follows what source, set, umask and exec do
// to the login, and turns command -v and type into a lookup the
// simulation answers.
func (s *sim) call(ctx context.Context, args []string) ([]string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if unmarkedCode(args) {
		s.tainted = true
	}
	switch args[0] {
	case "source", ".":
		return s.callSource(interp.HandlerCtx(ctx), args), nil
	case "command":
		if len(args) > 2 && (args[1] == "-v" || args[1] == "-V") {
			return append([]string{markLookup, args[1]}, args[2:]...), nil
		}
	case "type":
		return append([]string{markLookup, "-t"}, args[1:]...), nil
	case "set":
		s.followErrexit(args)
	case "umask":
		s.recordUmask(args)
		return []string{":"}, nil
	case "exec":
		if len(args) > 1 {
			s.unresolved(strings.Join(args[1:], " "))
			return []string{"exit", "0"}, nil
		}
	}
	return args, nil
}

// callSource resolves the file a source or . builtin is about to read,
// as the shell would, records it, and tells open to mark it.
func (s *sim) callSource(hc interp.HandlerContext, args []string) []string {
	if len(args) < 2 {
		return args
	}
	file := args[1]
	if !strings.Contains(file, "/") {
		// POSIX: a name without a slash is searched on PATH, bash then looks in the current directory
		if p, ok := s.lookPath(hc.Env, file); ok {
			file = p
		} else {
			file = path.Join(hc.Dir, file)
		}
	} else if !path.IsAbs(file) {
		file = path.Join(hc.Dir, file)
	}
	if file == "/dev/null" { // what a process substitution became
		return args
	}
	from := ""
	if st := s.current(); st.file != "" {
		from = fmt.Sprintf("%s:%d", st.file, st.line)
	}
	cf := s.probe(file, from)
	if !s.quiet {
		s.res.Files = append(s.res.Files, cf)
	}
	s.pending = file
	return append([]string{args[0], file}, args[2:]...)
}

// followErrexit follows set -e and set -o errexit: under set -e a marker
// must not fail, as the statement before it already passed errexit's
// judgement, which the marker would repeat without knowing whether it was
// in an if or a && list.
func (s *sim) followErrexit(args []string) {
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
}

// recordUmask records the umask the login sets; the call itself becomes
// a no-op, as the interpreter would change gotrail's own umask.
func (s *sim) recordUmask(args []string) {
	if len(args) < 2 || strings.HasPrefix(args[1], "-") {
		return
	}
	if m, err := strconv.ParseUint(args[1], 8, 32); err == nil && !s.quiet {
		st := s.current()
		s.res.Umask = &Umask{Value: uint32(m), File: st.file, Line: st.line}
	}
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

// execJob is one job of answering a command: its output and error, or
// ok false to pass the command on to the next job.
type execJob func(hc interp.HandlerContext, args []string) (out string, ok bool, err error)

// execHandlers are the jobs that answer every command, in turn, chained as
// interp.ExecHandlers middlewares: the markers the simulation put in the
// code, the commands gotrail knows, and the rest, which are recorded as
// unresolved and whose status is all that the host's files decide.
// The last job answers every command: the interpreter's default handler,
// which comes after it, would run programs on the host.
func (s *sim) execHandlers() []func(interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return []func(interp.ExecHandlerFunc) interp.ExecHandlerFunc{
		s.middleware(s.handle),
		s.middleware(s.known),
		s.middleware(s.recordUnresolved),
		s.middleware(s.notFound),
	}
}

// middleware makes job an exec handler middleware. The parts of a
// pipeline run at once, so the state is locked; output is written after
// the lock is released, as a write to a pipe can wait for a reader that
// needs the lock.
func (s *sim) middleware(job execJob) func(interp.ExecHandlerFunc) interp.ExecHandlerFunc {
	return func(next interp.ExecHandlerFunc) interp.ExecHandlerFunc {
		return func(ctx context.Context, args []string) error {
			hc := interp.HandlerCtx(ctx)
			s.mu.Lock()
			out, ok, err := job(hc, args)
			s.mu.Unlock()
			if !ok {
				return next(ctx, args)
			}
			if out != "" {
				io.WriteString(hc.Stdout, out)
			}
			return err
		}
	}
}

// handle runs the markers the simulation put in the code it runs.
func (s *sim) handle(hc interp.HandlerContext, args []string) (string, bool, error) {
	var out string
	var err error
	switch args[0] {
	case markBefore:
		out, err = s.before(hc, markerID(args))
	case markAfter:
		out, err = s.after(hc, markerID(args))
	case markLookup:
		out, err = s.lookup(hc, args[1], args[2:])
	case markFlush:
		err = s.flush(hc)
	case markGet:
		s.got = hc.Env.Get(args[1]).String()
		s.prev = noEvent
	case markEnd:
		s.end(hc)
	default:
		return "", false, nil
	}
	return out, true, err
}

// markerID is the statement a before- or after-marker stands for.
func markerID(args []string) int {
	id, _ := strconv.Atoi(args[1])
	return id
}

// known answers the commands whose output depends only on the identity
// and the host.
func (s *sim) known(hc interp.HandlerContext, args []string) (string, bool, error) {
	out, code, ok := s.answer(hc, args)
	return out, ok, status(code)
}

// recordUnresolved records a command the simulation cannot answer, and
// passes it on for its status.
func (s *sim) recordUnresolved(_ interp.HandlerContext, args []string) (string, bool, error) {
	s.unresolved(strings.Join(args, " "))
	return "", false, nil
}

// notFound answers the status of a command gotrail cannot run: 127, as
// bash's, when no file on PATH may be executed by that name, else 0. It
// answers every command.
func (s *sim) notFound(hc interp.HandlerContext, args []string) (string, bool, error) {
	if _, found := s.lookPath(hc.Env, args[0]); !found && !strings.Contains(args[0], "/") {
		return "", true, interp.ExitStatus(127)
	}
	return "", true, nil
}

// flush is the marker after the last statement of a file the shell reads
// itself, which has no after-marker: the changes since the last marker
// are the innermost open statement's.
func (s *sim) flush(hc interp.HandlerContext) error {
	var deps []string
	if n := len(s.stack); n > 0 {
		deps = s.stack[n-1].unresolved
	}
	s.prev = noEvent
	return s.check(hc.Env, s.current(), deps, anyVariable)
}

// end is the marker after the whole chain: the variables the login ends
// with.
func (s *sim) end(hc interp.HandlerContext) {
	hc.Env.Each(func(name string, v expand.Variable) bool {
		switch {
		case !v.IsSet():
			delete(s.res.Vars, name)
		case v.Kind != expand.NameRef && !isShellInternal(name):
			s.res.Vars[name] = Var{Value: v.String(), Exported: v.Exported}
		}
		return true
	})
}

// before is the marker before statement id: count it against the
// budgets, close what the last turn of a loop or call left open, compare
// what changed since the last marker, and open id.
func (s *sim) before(hc interp.HandlerContext, id int) (string, error) {
	if s.steps++; s.steps > maxStatements {
		st := s.sites[id]
		return "", fmt.Errorf("%w at %s:%d", errBudget, st.file, st.line)
	}
	if s.steps%16 == 0 && runtime.Callers(0, s.pcs[:]) == len(s.pcs) {
		// the interpreter recurses in Go for each shell function call
		st := s.sites[id]
		return "", fmt.Errorf("%w at %s:%d", errDepth, st.file, st.line)
	}
	sc := s.scopeBefore(id)
	// a statement already open is running again: the next turn of a loop
	// (its last statement has no after-marker) or a function calling
	// itself; close what the last turn left open
	if i := s.openAt(id); i >= 0 {
		if s.effects[id].parent < 0 {
			// a function calling itself, maybe in a copy of the shell:
			// the statements open say nothing about which shell the
			// markers run in
			s.tainted = true
		}
		if err := s.closeFrom(hc.Env, i, sc); err != nil {
			return "", err
		}
		sc = scope{}
	}
	if err := s.check(hc.Env, s.current(), nil, sc); err != nil {
		return "", err
	}
	s.push(id)
	s.prev = event{id: id}
	return "", s.markStatus(hc.LastExitStatus)
}

// after is the marker after statement id: close it, and the statements
// inside it that return, break or exit left open, and compare what changed.
func (s *sim) after(hc interp.HandlerContext, id int) (string, error) {
	i := s.openAt(id)
	if i < 0 {
		s.prev = noEvent // what it changed is still to be seen
		return "", s.markStatus(hc.LastExitStatus)
	}
	if err := s.closeFrom(hc.Env, i, s.scopeAfter(id)); err != nil {
		return "", err
	}
	s.prev = event{after: true, id: id}
	return "", s.markStatus(hc.LastExitStatus)
}

// openAt is where statement id is on the stack of open statements, the
// innermost if it is there more than once, or -1.
func (s *sim) openAt(id int) int {
	i := len(s.stack) - 1
	for i >= 0 && s.stack[i].id != id {
		i--
	}
	return i
}

// closeFrom closes the open statements from the i-th on, which return,
// break, exit or the end of a loop's turn left open. What changed since
// the last marker (in sc) was made by the innermost of them, the last of
// an inner list, which has no after-marker; what any of them depended on
// passes to the statement around them.
func (s *sim) closeFrom(env expand.Environ, i int, sc scope) error {
	var deps []string
	for _, f := range s.stack[i:] {
		deps = append(deps, f.unresolved...)
	}
	if err := s.check(env, s.current(), s.stack[len(s.stack)-1].unresolved, sc); err != nil {
		return err
	}
	s.popTo(i)
	if i > 0 {
		s.stack[i-1].unresolved = append(s.stack[i-1].unresolved, deps...)
	}
	return nil
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
