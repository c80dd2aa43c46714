package shellchain

import (
	"bufio"
	"bytes"
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
	apply := func(as []Assignment) {
		for _, a := range as {
			if a.Value == nil {
				delete(env, a.Var)
			} else {
				env[a.Var] = *a.Value
			}
			out = append(out, a)
		}
	}
	for _, m := range pamEnvModules(h) {
		apply(parseConf(h, m.conffile, u, env))
		if m.readenv {
			apply(parseEnvFile(h, m.envfile))
		}
		if m.userReadenv {
			f := m.userEnvfile
			if f == "" {
				f = ".pam_environment"
			}
			apply(parseConf(h, u.Home+"/"+f, u, env))
		}
	}
	return out
}

// parseEnvFile reads an /etc/environment style file: KEY=VALUE lines, an
// optional "export ", quotes around the value removed, and nothing
// expanded: "$HOME" there is those five characters.
func parseEnvFile(h hostfs.FS, file string) []Assignment {
	data, err := h.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []Assignment
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(nil, 1<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimLeft(sc.Text(), " \t")
		if line == "" || line[0] == '#' {
			continue
		}
		line = strings.TrimPrefix(line, "export ")
		k, v, ok := strings.Cut(line, "=")
		if !ok || k == "" || strings.ContainsAny(k, " \t") {
			continue
		}
		v = unquote(v)
		out = append(out, Assignment{Var: k, Value: &v, File: file, Line: n})
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
		out = append(out, EnvFileLine{Var: a.Var, Value: *a.Value, Line: a.Line})
	}
	return out
}

func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// parseConf reads a pam_env.conf style file: "VAR [DEFAULT=value]
// [OVERRIDE=value]", where values expand ${VAR} from the environment so far
// and @{HOME} and @{SHELL} from the passwd entry. OVERRIDE wins when it
// expands to something, else DEFAULT; when both are empty the variable is
// removed.
func parseConf(h hostfs.FS, file string, u User, env map[string]string) []Assignment {
	data, err := h.ReadFile(file)
	if err != nil {
		return nil
	}
	var out []Assignment
	lines := strings.Split(string(data), "\n")
	for i := 0; i < len(lines); i++ {
		n := i + 1
		line := lines[i]
		for strings.HasSuffix(line, `\`) && i+1 < len(lines) {
			i++
			line = line[:len(line)-1] + lines[i]
		}
		line = strings.TrimSpace(line)
		if line == "" || line[0] == '#' {
			continue
		}
		name, rest, _ := strings.Cut(line, " ")
		if t := strings.IndexByte(name, '\t'); t >= 0 {
			name, rest = name[:t], name[t+1:]+" "+rest
		}
		var def, over *string
		for _, f := range confFields(rest) {
			switch {
			case strings.HasPrefix(f, "DEFAULT="):
				v := expandConf(unquote(strings.TrimPrefix(f, "DEFAULT=")), u, env)
				def = &v
			case strings.HasPrefix(f, "OVERRIDE="):
				v := expandConf(unquote(strings.TrimPrefix(f, "OVERRIDE=")), u, env)
				over = &v
			}
		}
		a := Assignment{Var: name, File: file, Line: n}
		switch {
		case over != nil && *over != "":
			a.Value = over
		case def != nil && *def != "":
			a.Value = def
		}
		if a.Value != nil {
			env[name] = *a.Value
		} else {
			delete(env, name)
		}
		out = append(out, a)
	}
	return out
}

// confFields splits on blanks outside quotes.
func confFields(s string) []string {
	var out []string
	var cur strings.Builder
	var quote byte
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case quote != 0:
			if c == quote {
				quote = 0
			}
			cur.WriteByte(c)
		case c == '"' || c == '\'':
			quote = c
			cur.WriteByte(c)
		case c == ' ' || c == '\t':
			if cur.Len() > 0 {
				out = append(out, cur.String())
				cur.Reset()
			}
		default:
			cur.WriteByte(c)
		}
	}
	if cur.Len() > 0 {
		out = append(out, cur.String())
	}
	return out
}

func expandConf(v string, u User, env map[string]string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		c := v[i]
		if c == '\\' && i+1 < len(v) && (v[i+1] == '$' || v[i+1] == '@') {
			b.WriteByte(v[i+1])
			i++
			continue
		}
		if (c == '$' || c == '@') && i+1 < len(v) && v[i+1] == '{' {
			end := strings.IndexByte(v[i+2:], '}')
			if end >= 0 {
				key := v[i+2 : i+2+end]
				if c == '$' {
					b.WriteString(env[key])
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
