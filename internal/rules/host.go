package rules

import (
	"bufio"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// User is a login user whose files are watched.
type User struct {
	Name     string
	UID, GID int
	Home     string
	Shell    string
}

// GOROOT is a toolchain directory: its real path and the symlinks that
// name it (/usr/local/go -> /usr/local/go1.22.5): the tree is watched at
// its real path, a link by itself, so that switching it is seen.
type GOROOT struct {
	Path  string
	Links []string
}

// Host is what the rules are derived from, with every path as the host sees
// it (never prefixed by the root it was read under).
type Host struct {
	Root     string
	Users    []User
	PathDirs []string // directories of the login PATHs
	GOROOTs  []GOROOT
}

// hostFS adds the readers rules needs to the host filesystem.
type hostFS struct{ hostfs.FS }

func (h hostFS) lstat(p string) (fs.FileInfo, error) { return h.Lstat(p) }
func (h hostFS) isDir(p string) bool                 { return h.IsDir(p) }
func (h hostFS) exists(p string) bool                { return h.Exists(p) }
func (h hostFS) resolve(p string) (string, error)    { return h.Resolve(p) }

// keyValues reads KEY<sep>VALUE lines (login.defs uses blanks,
// /etc/environment '='), skipping comments; quotes around values go.
func (h hostFS) keyValues(p string, sep func(string) (string, string, bool)) map[string]string {
	m := map[string]string{}
	f, err := h.Open(p)
	if err != nil {
		return m
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		if k, v, ok := sep(line); ok {
			m[k] = strings.Trim(strings.TrimSpace(v), `"'`)
		}
	}
	return m
}

func blankSep(line string) (string, string, bool) {
	i := strings.IndexAny(line, " \t")
	if i < 0 {
		return "", "", false
	}
	return line[:i], line[i:], true
}

func equalSep(line string) (string, string, bool) {
	line = strings.TrimPrefix(line, "export ")
	return strings.Cut(line, "=")
}

// Discover reads the host under root: its login users, their PATH
// directories and the Go toolchains on them and in the usual places, plus
// extra GOROOTs (from the configuration).
func Discover(root string, extraGOROOTs []string) (*Host, error) {
	if root == "" {
		root = "/"
	}
	h := hostFS{hostfs.New(root)}
	host := &Host{Root: root}
	users, err := h.loginUsers()
	if err != nil {
		return nil, err
	}
	host.Users = users
	host.PathDirs = h.pathDirs(users)
	host.GOROOTs = h.goroots(users, host.PathDirs, extraGOROOTs)
	// a PATH directory inside a GOROOT is covered by the GOROOT's watch
	host.PathDirs = slices.DeleteFunc(host.PathDirs, func(d string) bool {
		return host.InGOROOT(d)
	})
	return host, nil
}

// InGOROOT reports whether p lies in one of the host's GOROOTs.
func (host *Host) InGOROOT(p string) bool {
	for _, g := range host.GOROOTs {
		if p == g.Path || strings.HasPrefix(p, g.Path+"/") {
			return true
		}
		for _, l := range g.Links {
			if p == l || strings.HasPrefix(p, l+"/") {
				return true
			}
		}
	}
	return false
}

// loginUsers are root and the users from UID_MIN to UID_MAX of login.defs
// whose shell is a login shell (listed in /etc/shells when the host has
// one; never nologin or false). Service accounts are left out: watching
// their files is noise.
func (h hostFS) loginUsers() ([]User, error) {
	defs := h.keyValues("/etc/login.defs", blankSep)
	uidMin, uidMax := 1000, 60000
	if n, err := strconv.Atoi(defs["UID_MIN"]); err == nil {
		uidMin = n
	}
	if n, err := strconv.Atoi(defs["UID_MAX"]); err == nil {
		uidMax = n
	}
	var shells []string
	if data, err := h.ReadFile("/etc/shells"); err == nil {
		for _, l := range strings.Split(string(data), "\n") {
			if l = strings.TrimSpace(l); l != "" && l[0] != '#' {
				shells = append(shells, l)
			}
		}
	}
	f, err := h.Open("/etc/passwd")
	if err != nil {
		return nil, fmt.Errorf("read users: %w", err)
	}
	defer f.Close()
	var users []User
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		p := strings.Split(sc.Text(), ":")
		if len(p) < 7 || p[0] == "" || p[0][0] == '#' {
			continue
		}
		uid, err1 := strconv.Atoi(p[2])
		gid, err2 := strconv.Atoi(p[3])
		if err1 != nil || err2 != nil {
			continue
		}
		u := User{Name: p[0], UID: uid, GID: gid, Home: p[5], Shell: p[6]}
		if uid != 0 && (uid < uidMin || uid > uidMax) {
			continue
		}
		if uid != 0 && !loginShell(u.Shell, shells) {
			continue
		}
		// a home that is not an absolute clean path (/../../root) would
		// name something else than the user's own directory
		if !strings.HasPrefix(u.Home, "/") || path.Clean(u.Home) != u.Home {
			continue
		}
		users = append(users, u)
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("read /etc/passwd: %w", err)
	}
	return users, nil
}

func loginShell(shell string, shells []string) bool {
	switch path.Base(shell) {
	case "", "nologin", "false", "sync", "halt", "shutdown":
		return false
	}
	return shells == nil || slices.Contains(shells, shell)
}

// Debian's /etc/profile and login.defs defaults, for hosts that set no PATH.
var (
	defaultPath     = "/usr/local/bin:/usr/bin:/bin:/usr/local/games:/usr/games"
	defaultRootPath = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
)

// pathDirs are the directories of the login PATHs: what /etc/environment,
// login.defs (ENV_PATH, ENV_SUPATH) and /etc/profile set, and the per-user
// directories Debian's ~/.profile adds (~/bin, ~/.local/bin) plus ~/go/bin,
// where `go install` puts programs. Only existing directories count.
//
// This reads the settings, not the shell files' logic; the login-chain
// simulation of `gotrail explain` gives the exact PATH of each user.
func (h hostFS) pathDirs(users []User) []string {
	var dirs []string
	add := func(list string) {
		for _, d := range strings.Split(list, ":") {
			if !strings.HasPrefix(d, "/") {
				continue
			}
			// by real path: on merged-/usr hosts /bin is /usr/bin
			real, err := h.resolve(d)
			if err == nil && !slices.Contains(dirs, real) && h.isDir(real) {
				dirs = append(dirs, real)
			}
		}
	}
	add(h.keyValues("/etc/environment", equalSep)["PATH"])
	defs := h.keyValues("/etc/login.defs", blankSep)
	add(strings.TrimPrefix(defs["ENV_PATH"], "PATH="))
	add(strings.TrimPrefix(defs["ENV_SUPATH"], "PATH="))
	add(defaultPath)
	add(defaultRootPath)
	for _, u := range users {
		add(u.Home + "/bin:" + u.Home + "/.local/bin:" + u.Home + "/go/bin")
	}
	return dirs
}

// goroots finds toolchains: the GOROOT of each go on a PATH directory, the
// usual install places, toolchains the go command downloaded, and extra.
// A directory is a GOROOT when it holds bin/go.
func (h hostFS) goroots(users []User, pathDirs, extra []string) []GOROOT {
	var cands []string
	for _, d := range pathDirs {
		if real, err := h.resolve(d + "/go"); err == nil && path.Base(path.Dir(real)) == "bin" {
			cands = append(cands, path.Dir(path.Dir(real)))
		}
	}
	glob := func(pattern string) { cands = append(cands, h.Glob(pattern)...) }
	for _, p := range []string{"/usr/local/go", "/usr/local/go*", "/usr/lib/go", "/usr/lib/go-*", "/opt/go", "/opt/go*"} {
		glob(p)
	}
	for _, u := range users {
		// an image's passwd names the home: its *, ? and [ are letters
		// there, never patterns (/l/*/*/*/* over links to . is a hang)
		home := globEscape(u.Home)
		glob(home + "/sdk/go*")
		glob(home + "/go/pkg/mod/golang.org/toolchain@*")
	}
	cands = append(cands, extra...)

	var out []GOROOT
	for _, c := range cands {
		c = path.Clean(c)
		real, err := h.resolve(c)
		if err != nil || !h.exists(real+"/bin/go") || !h.isDir(real) {
			continue
		}
		i := slices.IndexFunc(out, func(g GOROOT) bool { return g.Path == real })
		if i < 0 {
			out = append(out, GOROOT{Path: real})
			i = len(out) - 1
		}
		if c != real && !slices.Contains(out[i].Links, c) {
			if fi, err := h.lstat(c); err == nil && fi.Mode()&fs.ModeSymlink != 0 {
				out[i].Links = append(out[i].Links, c)
			}
		}
	}
	slices.SortFunc(out, func(a, b GOROOT) int { return strings.Compare(a.Path, b.Path) })
	return out
}

// globEscape quotes the pattern characters of s for path.Match.
func globEscape(s string) string {
	var b strings.Builder
	for _, c := range s {
		if strings.ContainsRune(`*?[\`, c) {
			b.WriteByte('\\')
		}
		b.WriteRune(c)
	}
	return b.String()
}
