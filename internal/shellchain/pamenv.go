package shellchain

import (
	"fmt"
	"strings"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// Assignment is one change pam_env or login makes to the environment
// before the shell starts. Value nil removes the variable.
type Assignment struct {
	Var   string
	Value *string
	File  string
	Line  int
}

// pamEnvModule is one pam_env.so line of a PAM service.
type pamEnvModule struct {
	conffile    string
	envfile     string
	readenv     bool
	userReadenv bool
	userEnvfile string
	file        string // the PAM file and line it is on, for messages
	line        int
}

// pamEnvModules finds the pam_env.so lines of the login services (sshd,
// then login), following @include. A host without PAM configuration gets
// pam_env's defaults, as a container image started by a runtime does not
// log in at all but an image that is booted would.
func pamEnvModules(h hostfs.FS) []pamEnvModule {
	for _, svc := range []string{"sshd", "login"} {
		var mods []pamEnvModule
		seen := map[string]bool{}
		var walk func(file string)
		walk = func(file string) {
			if seen[file] {
				return
			}
			seen[file] = true
			data, err := h.ReadFile(file)
			if err != nil {
				return
			}
			for i, line := range strings.Split(string(data), "\n") {
				f := strings.Fields(line)
				if len(f) == 0 || strings.HasPrefix(f[0], "#") {
					continue
				}
				if f[0] == "@include" && len(f) > 1 {
					walk("/etc/pam.d/" + f[1])
					continue
				}
				// a control in brackets ([success=1 default=ignore]) spans fields
				if len(f) > 1 && strings.HasPrefix(f[1], "[") {
					end := 1
					for end < len(f) && !strings.HasSuffix(f[end], "]") {
						end++
					}
					if end >= len(f) {
						continue
					}
					f = append([]string{f[0], strings.Join(f[1:end+1], " ")}, f[end+1:]...)
				}
				if len(f) < 3 || f[0] != "session" && f[0] != "auth" && f[0] != "-session" {
					continue
				}
				if !strings.HasSuffix(f[2], "pam_env.so") {
					continue
				}
				m := pamEnvModule{conffile: "/etc/security/pam_env.conf", envfile: "/etc/environment", readenv: true, file: file, line: i + 1}
				for _, a := range f[3:] {
					k, v, _ := strings.Cut(a, "=")
					switch k {
					case "conffile":
						m.conffile = v
					case "envfile":
						m.envfile = v
					case "readenv":
						m.readenv = v != "0"
					case "user_readenv":
						m.userReadenv = v != "0"
					case "user_envfile":
						m.userEnvfile = v
					}
				}
				// auth and session both run pam_env; the same settings once is enough
				if !containsModule(mods, m) {
					mods = append(mods, m)
				}
			}
		}
		walk("/etc/pam.d/" + svc)
		if len(seen) > 0 && h.Exists("/etc/pam.d/"+svc) {
			return mods
		}
	}
	return []pamEnvModule{{conffile: "/etc/security/pam_env.conf", envfile: "/etc/environment", readenv: true}}
}

func containsModule(mods []pamEnvModule, m pamEnvModule) bool {
	for _, x := range mods {
		if x.conffile == m.conffile && x.envfile == m.envfile && x.readenv == m.readenv &&
			x.userReadenv == m.userReadenv && x.userEnvfile == m.userEnvfile {
			return true
		}
	}
	return false
}

// PamEnv is what pam_env does at login for u, in order: for each pam_env
// module of the login service, its conffile (pam_env.conf syntax), its
// envfile (KEY=VALUE, no expansion) and, where user_readenv is on, the
// user's ~/.pam_environment (pam_env.conf syntax since Linux-PAM 1.4).
// env is the environment so far (login's own variables); it is updated.
func PamEnv(h hostfs.FS, u User, env map[string]string) []Assignment {
	var out []Assignment
	// ${VAR} in pam_env.conf reads the PAM environment, which holds only
	// what pam_env itself set: login and sshd add HOME, PATH and the
	// others after the PAM session opened
	pam := map[string]string{}
	apply := func(as []Assignment) {
		for _, a := range as {
			if a.Value == nil {
				delete(env, a.Var)
				delete(pam, a.Var)
			} else {
				env[a.Var] = *a.Value
				pam[a.Var] = *a.Value
			}
			out = append(out, a)
		}
	}
	for _, m := range pamEnvModules(h) {
		apply(parseConf(h, m.conffile, u, pam))
		if m.readenv {
			apply(parseEnvFile(h, m.envfile))
		}
		if m.userReadenv {
			f := m.userEnvfile
			if f == "" {
				f = ".pam_environment"
			}
			apply(parseConf(h, u.Home+"/"+f, u, pam))
		}
	}
	return out
}

// assembleLines joins lines as pam_env's _assemble_line does: leading
// blanks go; a '#' anywhere ends the line there (blanks before it stay);
// a backslash at the end (after trailing blanks) becomes a space and the
// next line follows, without its leading blanks.
func assembleLines(data []byte) []numberedLine {
	var out []numberedLine
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		start := i + 1
		var b strings.Builder
		for {
			l := strings.TrimLeft(lines[i], " \t")
			if c := strings.IndexByte(l, '#'); c >= 0 {
				b.WriteString(l[:c])
				break
			}
			if t := strings.TrimRight(l, " \t\r"); strings.HasSuffix(t, "\\") && i+1 < len(lines) {
				b.WriteString(t[:len(t)-1] + " ")
				i++
				continue
			}
			b.WriteString(l)
			break
		}
		if t := b.String(); strings.TrimSpace(t) != "" {
			out = append(out, numberedLine{t, start})
		}
	}
	return out
}

type numberedLine struct {
	text string
	n    int
}

func validKey(k string) bool {
	if k == "" {
		return false
	}
	for i := 0; i < len(k); i++ {
		c := k[i]
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

// parseEnvFile reads an /etc/environment style file as pam_env's
// _parse_env_file does: KEY=VALUE, an optional "export ", a key of
// letters, digits and '_', nothing expanded ("$HOME" stays those five
// characters), an opening quote removed with the same quote at the end;
// a KEY without '=' removes the variable.
func parseEnvFile(h hostfs.FS, file string) []Assignment {
	data, err := h.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []Assignment
	for _, l := range assembleLines(data) {
		line := l.text
		if rest, ok := strings.CutPrefix(line, "export "); ok {
			line = strings.TrimLeft(rest, " \t")
		}
		k, v, hasEq := strings.Cut(line, "=")
		if !validKey(k) {
			continue
		}
		a := Assignment{Var: k, File: file, Line: l.n}
		if hasEq {
			if len(v) > 0 && (v[0] == '"' || v[0] == '\'') {
				q := v[0]
				v = v[1:]
				if n := len(v); n > 0 && v[n-1] == q {
					v = v[:n-1]
				}
			}
			a.Value = &v
		}
		out = append(out, a)
	}
	return out
}

// EnvFileLine is one KEY=VALUE line of an /etc/environment style file.
type EnvFileLine struct {
	Var, Value string
	Line       int
}

// ReadEnvFile reads an /etc/environment style file as pam_env does.
func ReadEnvFile(h hostfs.FS, file string) []EnvFileLine {
	var out []EnvFileLine
	for _, a := range parseEnvFile(h, file) {
		if a.Value != nil {
			out = append(out, EnvFileLine{Var: a.Var, Value: *a.Value, Line: a.Line})
		}
	}
	return out
}

// parseConf reads a pam_env.conf style file as pam_env's _parse_line and
// _check_var do: "VAR [DEFAULT=value] [OVERRIDE=value]", a value quoted
// with '"' only, any other option making pam_env ignore the line. Values
// expand ${VAR} from the PAM environment so far (pam) and @{HOME} and
// @{SHELL} from the passwd entry; '\' escapes. A non-empty OVERRIDE wins;
// else a DEFAULT that was given, even empty; else the variable is removed.
func parseConf(h hostfs.FS, file string, u User, pam map[string]string) []Assignment {
	data, err := h.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []Assignment
	for _, l := range assembleLines(data) {
		name, rest, _ := strings.Cut(strings.TrimSpace(strings.ReplaceAll(l.text, "\t", " ")), " ")
		if !validKey(name) {
			continue
		}
		def, over, ok := confOptions(rest)
		if !ok {
			continue // pam_env: "Unrecognized Option ... - ignoring line"
		}
		a := Assignment{Var: name, File: file, Line: l.n}
		if over != nil {
			if v := expandConf(*over, u, pam); v != "" {
				a.Value = &v
			}
		}
		if a.Value == nil && def != nil {
			v := expandConf(*def, u, pam)
			a.Value = &v
		}
		if a.Value != nil {
			pam[name] = *a.Value
		} else {
			delete(pam, name)
		}
		out = append(out, a)
	}
	return out
}

// confOptions reads the DEFAULT= and OVERRIDE= options of a pam_env.conf
// line. An option with nothing after '=' counts as not given; DEFAULT=""
// is given and empty.
func confOptions(s string) (def, over *string, ok bool) {
	for {
		s = strings.TrimLeft(s, " ")
		if s == "" {
			return def, over, true
		}
		var target **string
		switch {
		case strings.HasPrefix(s, "DEFAULT="):
			target, s = &def, s[len("DEFAULT="):]
		case strings.HasPrefix(s, "OVERRIDE="):
			target, s = &over, s[len("OVERRIDE="):]
		default:
			return nil, nil, false
		}
		var v string
		if strings.HasPrefix(s, `"`) {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				v, s = s[1:], ""
			} else {
				v, s = s[1:1+end], s[2+end:]
			}
			*target = &v
			continue
		}
		end := strings.IndexByte(s, ' ')
		if end < 0 {
			end = len(s)
		}
		v, s = s[:end], s[end:]
		if v != "" {
			*target = &v
		} else {
			*target = nil
		}
	}
}

func expandConf(v string, u User, pam map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) {
			b.WriteByte(v[i+1])
			i++
			continue
		}
		if (c == '$' || c == '@') && i+1 < len(v) && v[i+1] == '{' {
			end := strings.IndexByte(v[i+2:], '}')
			if end >= 0 {
				key := v[i+2 : i+2+end]
				if c == '$' {
					b.WriteString(pam[key])
				} else {
					switch key {
					case "HOME":
						b.WriteString(u.Home)
					case "SHELL":
						b.WriteString(u.Shell)
					}
				}
				i += 2 + end
				continue
			}
		}
		b.WriteByte(c)
	}
	return b.String()
}

// LoginDefsPath is the PATH login(1) gives u from /etc/login.defs
// (ENV_SUPATH for root, ENV_PATH for others), with the file and line, or
// Debian's compiled-in defaults when login.defs sets none.
func LoginDefsPath(h hostfs.FS, u User) (value, file string, line int) {
	key, def := "ENV_PATH", "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
	if u.UID == 0 {
		key, def = "ENV_SUPATH", "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
	}
	data, err := h.ReadFile("/etc/login.defs")
	if err == nil {
		for i, l := range strings.Split(string(data), "\n") {
			f := strings.Fields(l)
			if len(f) == 2 && f[0] == key {
				return strings.TrimPrefix(f[1], "PATH="), "/etc/login.defs", i + 1
			}
		}
	}
	return def, "", 0
}

// LoginEnv is the environment a login gives u before the shell reads its
// files: login's HOME, SHELL, USER, LOGNAME and PATH, then pam_env. The
// assignments say where each value came from.
func LoginEnv(h hostfs.FS, u User) (map[string]string, []Assignment) {
	env := map[string]string{}
	var out []Assignment
	set := func(k, v, file string, line int) {
		env[k] = v
		out = append(out, Assignment{Var: k, Value: &v, File: file, Line: line})
	}
	pwLine := passwdLine(h, u.Name)
	set("HOME", u.Home, "/etc/passwd", pwLine)
	set("SHELL", u.Shell, "/etc/passwd", pwLine)
	set("USER", u.Name, "/etc/passwd", pwLine)
	set("LOGNAME", u.Name, "/etc/passwd", pwLine)
	p, file, line := LoginDefsPath(h, u)
	if file == "" {
		file = "(login default)"
	}
	set("PATH", p, file, line)
	out = append(out, PamEnv(h, u, env)...)
	return env, out
}

func passwdLine(h hostfs.FS, name string) int {
	data, err := h.ReadFile("/etc/passwd")
	if err != nil {
		return 0
	}
	for i, l := range strings.Split(string(data), "\n") {
		if strings.HasPrefix(l, name+":") {
			return i + 1
		}
	}
	return 0
}

func (a Assignment) String() string {
	if a.Value == nil {
		return fmt.Sprintf("%s:%d unset %s", a.File, a.Line, a.Var)
	}
	return fmt.Sprintf("%s:%d %s=%s", a.File, a.Line, a.Var, *a.Value)
}
