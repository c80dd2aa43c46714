// Package check is the catalogue of risks in a host's Go environment:
// what a login's PATH lets others put in front of go, toolchains others
// can change, settings that turn off the module mirror's and checksum
// database's protection, login files others can write, and gaps in audit
// coverage. Each finding says what, where, for whom, and how to fix it.
package check

import (
	"cmp"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"golang.org/x/mod/module"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/hostenv"
	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/shellchain"
)

// Severities from least to most severe.
var Severities = event.Severities

// Rank orders severities; unknown ones rank below info.
func Rank(s string) int { return slices.Index(Severities, s) }

// Finding is one risk.
type Finding struct {
	ID          string `json:"id"`
	Severity    string `json:"severity"`
	Title       string `json:"title"`
	Detail      string `json:"detail"`
	User        string `json:"user,omitempty"`
	Variable    string `json:"variable,omitempty"`
	Path        string `json:"path,omitempty"`
	Where       string `json:"where,omitempty"` // file:line that sets it
	Remediation string `json:"remediation"`
}

// Audit is the kernel's audit state, when it could be read.
type Audit struct {
	Err    error // why it could not be read; nil when Status is valid
	Status rules.Status
	Diff   rules.Diff
}

// Input is what a check looks at.
type Input struct {
	Host *hostenv.Host
	// Audit is nil for another root (an image is not a running host).
	Audit *Audit
	// InstalledGoEnv returns the SHA-256 of $GOROOT/go.env as gotrail
	// install recorded it in the toolchain's manifest; nil or !ok when
	// gotrail did not install the toolchain.
	InstalledGoEnv func(goroot string) (sha256 string, ok bool)
}

// Run checks everything and returns the findings, most severe first.
func Run(in Input) []Finding {
	c := &checker{fs: in.Host.FS, host: in.Host, installed: in.InstalledGoEnv}
	for _, l := range in.Host.Logins {
		c.user(l.User, l.Env, l.Result)
	}
	c.environmentFile()
	c.goroots()
	if in.Audit != nil {
		c.audit(in.Audit)
	}
	slices.SortStableFunc(c.out, func(a, b Finding) int {
		return cmp.Or(-cmp.Compare(Rank(a.Severity), Rank(b.Severity)), cmp.Compare(a.ID, b.ID),
			cmp.Compare(a.User, b.User), cmp.Compare(a.Path, b.Path), cmp.Compare(a.Variable, b.Variable))
	})
	return c.out
}

type checker struct {
	installed func(string) (string, bool)
	fs        hostfs.FS
	host      *hostenv.Host
	out       []Finding
	seen      map[string]bool
}

func (c *checker) add(f Finding) {
	if c.seen == nil {
		c.seen = map[string]bool{}
	}
	key := f.ID + "\x00" + f.User + "\x00" + f.Path + "\x00" + f.Variable + "\x00" + f.Where
	if !c.seen[key] {
		c.seen[key] = true
		c.out = append(c.out, f)
	}
}

// writableBy says who besides root and the owner may write fi: "everyone",
// "group GID" (a group other than root's), or "" for nobody.
func writableBy(fi fs.FileInfo) string {
	if fi.Mode()&fs.ModeSymlink != 0 {
		return ""
	}
	_, gid := hostfs.Owner(fi)
	perm := fi.Mode().Perm()
	switch {
	case perm&0o002 != 0:
		return "everyone"
	case perm&0o020 != 0 && gid != 0:
		return fmt.Sprintf("group %d", gid)
	}
	return ""
}

func (c *checker) groupName(s string) string {
	var gid uint32
	if _, err := fmt.Sscanf(s, "group %d", &gid); err == nil {
		if n, ok := c.host.Names.GroupName(gid); ok {
			return "group " + n
		}
	}
	return s
}

func (c *checker) ownerName(uid uint32) string {
	if n, ok := c.host.Names.UserName(uid); ok {
		return n
	}
	return fmt.Sprint(uid)
}

func rootOr(u shellchain.User, high string) string {
	if u.UID == 0 {
		return "critical"
	}
	return high
}

func (c *checker) user(u shellchain.User, ue hostenv.UserEnv, res *shellchain.Result) {
	c.path(u, ue, res)
	c.supply(u, ue)
	c.chain(u, res)
	c.shadowed(u, ue)
}

// shadowed finds values of a user's Go env file (`go env -w`) that a login
// file overrides: what `go env` shows in a login shell is not what a go run
// without one (cron, a systemd unit, an IDE) uses.
func (c *checker) shadowed(u shellchain.User, ue hostenv.UserEnv) {
	if len(ue.GoEnvFiles) == 0 || ue.GoEnvFiles[0].Path != ue.Env["GOENV"].Value {
		return
	}
	f := ue.GoEnvFiles[0]
	for _, v := range f.Values {
		by := v.ShadowedBy
		if by == nil || by.Kind != "login" {
			continue
		}
		c.add(Finding{ID: "goenv.shadowed", Severity: "info", User: u.Name, Variable: v.Name, Path: f.Path,
			Where: fmt.Sprintf("%s:%d", f.Path, v.Line),
			Title: "a value of the Go env file is shadowed by a login file",
			Detail: fmt.Sprintf("%s=%s in %s:%d is overridden by %s (%s): go run from %s's login shell uses that, go run without one (cron, a systemd unit, an IDE) uses this",
				v.Name, v.Value, f.Path, v.Line, by.String(), ue.Env[v.Name].Value, u.Name),
			Remediation: fmt.Sprintf("keep %s in one place: `go env -u %s` as %s, or remove it from %s", v.Name, v.Name, u.Name, by.File)})
	}
}

// loc is where a value is set, or "" for the go command's own default.
func loc(v hostenv.Value) string {
	if v.Source.File == "" {
		return ""
	}
	return v.Source.String()
}

// pathOrigin is the step that put the nth copy of dir on PATH: the last
// whose value has n copies where the value before had fewer (an entry
// removed and added again is blamed on where it came back).
func pathOrigin(res *shellchain.Result, dir string, n int) string {
	copies := func(v *string) int {
		if v == nil {
			return 0
		}
		c := 0
		for _, d := range strings.Split(*v, ":") {
			if d == dir {
				c++
			}
		}
		return c
	}
	where := ""
	for _, st := range res.StepsOf("PATH") {
		if copies(st.After) >= n && copies(st.Before) < n {
			where = fmt.Sprintf("%s:%d", st.File, st.Line)
		}
	}
	return where
}

func whereOf(res *shellchain.Result, name string) string {
	steps := res.StepsOf(name)
	if len(steps) == 0 {
		return ""
	}
	s := steps[len(steps)-1]
	return fmt.Sprintf("%s:%d", s.File, s.Line)
}

func (c *checker) path(u shellchain.User, ue hostenv.UserEnv, res *shellchain.Result) {
	c.pathEntries(u, res)
	c.pathGo(u, ue, res)
}

// pathEntries checks each directory of the login's PATH: empty, relative,
// repeated, temporary, missing, writable by others or owned by another.
func (c *checker) pathEntries(u shellchain.User, res *shellchain.Result) {
	dirs := strings.Split(res.Vars["PATH"].Value, ":")
	seen := map[string]bool{}
	count := map[string]int{}
	for _, d := range dirs {
		count[d]++
		where := pathOrigin(res, d, count[d])
		switch {
		case d == "" || d == "." || !strings.HasPrefix(d, "/"):
			shown := d
			if shown == "" {
				shown = "(empty)"
			}
			c.add(Finding{ID: "path.relative", Severity: rootOr(u, "high"), User: u.Name, Variable: "PATH", Path: shown, Where: where,
				Title:       "PATH has an empty, relative or . entry",
				Detail:      fmt.Sprintf("%s's PATH has %q: commands are looked up in whatever directory the shell is in, so a go or any other program placed there runs instead of the real one", u.Name, shown),
				Remediation: "remove the entry from PATH at " + cmp.Or(where, "the file that sets it")})
			continue
		}
		if seen[d] {
			c.add(Finding{ID: "path.duplicate", Severity: "info", User: u.Name, Variable: "PATH", Path: d, Where: where,
				Title: "PATH has a directory twice", Detail: fmt.Sprintf("%s is on %s's PATH more than once", d, u.Name),
				Remediation: "guard the PATH change so it is made once (case \":$PATH:\" in *\":DIR:\"*) ;; *) PATH=...;; esac)"})
			continue
		}
		seen[d] = true
		if tmpLike(d) {
			c.add(Finding{ID: "path.tmp", Severity: rootOr(u, "high"), User: u.Name, Variable: "PATH", Path: d, Where: where,
				Title:       "PATH has a temporary directory",
				Detail:      fmt.Sprintf("%s on %s's PATH is a place every user can create files in", d, u.Name),
				Remediation: "remove " + d + " from PATH"})
			continue
		}
		fi, err := c.fs.Stat(d)
		if err != nil {
			sev := "low"
			if p := c.nearestWritableParent(d); p != "" {
				sev = rootOr(u, "high")
			}
			c.add(Finding{ID: "path.missing", Severity: sev, User: u.Name, Variable: "PATH", Path: d, Where: where,
				Title:       "PATH has a directory that does not exist",
				Detail:      fmt.Sprintf("%s on %s's PATH does not exist; whoever can create it decides what runs for names found there", d, u.Name),
				Remediation: "remove " + d + " from PATH, or create it owned by root and not writable by others"})
			continue
		}
		if by := writableBy(fi); by != "" {
			c.add(Finding{ID: "path.writable", Severity: rootOr(u, "high"), User: u.Name, Variable: "PATH", Path: d, Where: where,
				Title:       "PATH has a directory others can write",
				Detail:      fmt.Sprintf("%s on %s's PATH is writable by %s (mode %04o): any of them can put a go there", d, u.Name, c.groupName(by), fi.Mode().Perm()),
				Remediation: "chmod go-w " + d})
		}
		if uid, _ := hostfs.Owner(fi); uid != 0 && int(uid) != u.UID {
			c.add(Finding{ID: "path.foreign-owner", Severity: rootOr(u, "high"), User: u.Name, Variable: "PATH", Path: d, Where: where,
				Title:       "PATH has a directory owned by another user",
				Detail:      fmt.Sprintf("%s on %s's PATH belongs to %s, who decides what runs from it", d, u.Name, c.ownerName(uid)),
				Remediation: "remove " + d + " from PATH or chown it to root"})
		}
	}
}

// pathGo checks the go that runs against the GOROOT the environment means,
// and counts the toolchains on the PATH.
func (c *checker) pathGo(u shellchain.User, ue hostenv.UserEnv, res *shellchain.Result) {
	where := whereOf(res, "PATH")
	var gos []hostenv.GoBinary
	for _, pe := range ue.Path {
		if pe.Go != "" {
			gos = append(gos, c.host.GoBinary(pe.Go))
		}
	}
	intended := ""
	if v, ok := res.Vars["GOROOT"]; ok && v.Exported && v.Value != "" {
		intended = path.Clean(v.Value)
	} else {
		for _, g := range gos {
			if g.GOROOT != "" && path.Dir(g.Path) == g.GOROOT+"/bin" {
				intended = g.GOROOT
				break
			}
		}
	}
	if len(gos) > 0 && intended != "" {
		want, _ := c.fs.Resolve(intended + "/bin/go")
		first := gos[0]
		if first.Real != want && path.Dir(first.Path) != intended+"/bin" {
			c.add(Finding{ID: "path.go-shadowed", Severity: rootOr(u, "high"), User: u.Name, Variable: "PATH", Path: first.Path, Where: pathOrigin(res, path.Dir(first.Path), 1),
				Title:       "another go comes before the intended toolchain",
				Detail:      fmt.Sprintf("%s's PATH finds %s (%s) before %s/bin/go, the toolchain GOROOT or PATH intends", u.Name, first.Path, cmp.Or(first.Version, "unknown version"), intended),
				Remediation: fmt.Sprintf("remove %s or put %s/bin earlier on PATH", first.Path, intended)})
		}
	}
	if v, ok := res.Vars["GOROOT"]; ok && v.Exported && v.Value != "" && len(gos) > 0 && gos[0].GOROOT != "" {
		real, _ := c.fs.Resolve(v.Value)
		own, _ := c.fs.Resolve(gos[0].GOROOT)
		if real != own {
			c.add(Finding{ID: "goroot.mismatch", Severity: "medium", User: u.Name, Variable: "GOROOT", Path: v.Value, Where: whereOf(res, "GOROOT"),
				Title:       "GOROOT is not the go binary's own",
				Detail:      fmt.Sprintf("%s's GOROOT is %s but the go found first on PATH (%s, %s) belongs to %s: the compiler and standard library then come from different releases", u.Name, v.Value, gos[0].Path, gos[0].Version, gos[0].GOROOT),
				Remediation: "unset GOROOT (the go command finds its own) or point PATH at $GOROOT/bin"})
		}
	}
	var reals []string
	for _, g := range gos {
		if g.Real != "" && !slices.Contains(reals, g.Real) {
			reals = append(reals, g.Real)
		}
	}
	if len(reals) > 1 {
		c.add(Finding{ID: "goroot.multiple", Severity: "low", User: u.Name, Variable: "PATH", Path: strings.Join(reals, " "), Where: where,
			Title:       "several Go toolchains on one PATH",
			Detail:      fmt.Sprintf("%s's PATH has %d different go binaries; which one runs depends on the order: %s", u.Name, len(reals), strings.Join(reals, ", ")),
			Remediation: "keep one toolchain on PATH; use GOTOOLCHAIN or go install golang.org/dl/goX.Y for others"})
	}
}

func tmpLike(d string) bool {
	for _, t := range []string{"/tmp", "/var/tmp", "/dev/shm", "/run/shm", "/run/user"} {
		if d == t || strings.HasPrefix(d, t+"/") {
			return true
		}
	}
	return false
}

// nearestWritableParent returns the closest existing parent of a missing
// directory when others can write it.
func (c *checker) nearestWritableParent(d string) string {
	for p := path.Dir(d); ; p = path.Dir(p) {
		if fi, err := c.fs.Stat(p); err == nil {
			if writableBy(fi) != "" && fi.Mode()&fs.ModeSticky == 0 {
				return p
			}
			return ""
		}
		if p == "/" {
			return ""
		}
	}
}

// weakness is a supply-chain setting that weakens the go command's checks.
type weakness struct {
	id, severity, title, detail, fix string
}

var everything = []string{"github.com/a/b", "golang.org/x/mod", "example.com/m", "go.uber.org/zap", "k8s.io/api"}

func matchesEverything(patterns string) bool {
	if strings.TrimSpace(patterns) == "" {
		return false
	}
	for _, m := range everything {
		if !module.MatchPrefixPatterns(patterns, m) {
			return false
		}
	}
	return true
}

// Weaknesses judges one Go setting.
func Weaknesses(name, value string) []weakness {
	var out []weakness
	switch name {
	case "GOSUMDB":
		if value == "off" {
			out = append(out, weakness{"supply.gosumdb-off", "high", "the checksum database is off",
				"GOSUMDB=off: downloaded modules and toolchains are not checked against sum.golang.org, so a proxy or network attacker can serve altered code unnoticed",
				"remove GOSUMDB=off; for private modules set GOPRIVATE to their paths"})
		}
	case "GONOSUMDB", "GOPRIVATE":
		if matchesEverything(value) {
			out = append(out, weakness{"supply.nosumdb-all", "high", name + " matches every module",
				fmt.Sprintf("%s=%s matches every module path, which turns checksum verification off for all of them", name, value),
				"list only the private module path prefixes, such as corp.example.com"})
		}
	case "GONOPROXY":
		if matchesEverything(value) {
			out = append(out, weakness{"supply.noproxy-all", "medium", "GONOPROXY matches every module",
				fmt.Sprintf("GONOPROXY=%s: every module is fetched straight from its origin, never from the module mirror", value),
				"list only the private module path prefixes"})
		}
	case "GOINSECURE":
		if strings.TrimSpace(value) != "" {
			sev := "medium"
			if matchesEverything(value) {
				sev = "high"
			}
			out = append(out, weakness{"supply.goinsecure", sev, "GOINSECURE allows plain HTTP fetches",
				fmt.Sprintf("GOINSECURE=%s: modules under these paths may be fetched over http or unverified https", value),
				"remove GOINSECURE; serve private modules over https"})
		}
	case "GOPROXY":
		var http, hasProxy bool
		for _, p := range strings.FieldsFunc(value, func(r rune) bool { return r == ',' || r == '|' }) {
			switch {
			case strings.HasPrefix(p, "http://"):
				http = true
			case p != "direct" && p != "off":
				hasProxy = true
			}
		}
		if http {
			out = append(out, weakness{"supply.goproxy-http", "high", "GOPROXY uses plain HTTP",
				fmt.Sprintf("GOPROXY=%s: modules come over unencrypted HTTP, which anyone on the path can change", value),
				"use an https:// proxy"})
		} else if !hasProxy && strings.Contains(value, "direct") {
			out = append(out, weakness{"supply.goproxy-direct", "medium", "GOPROXY is only direct",
				fmt.Sprintf("GOPROXY=%s: every module is fetched from its origin repository, which can change or vanish", value),
				"use a module proxy, e.g. https://proxy.golang.org,direct"})
		}
	case "GOFLAGS":
		for _, f := range strings.Fields(value) {
			if strings.HasPrefix(f, "--") {
				f = f[1:] // the go command's flags take one dash or two
			}
			switch {
			case f == "-insecure" || strings.HasPrefix(f, "-insecure="):
				out = append(out, weakness{"supply.goflags-insecure", "high", "GOFLAGS has -insecure",
					"GOFLAGS has " + f + ": fetches may use insecure schemes", "remove " + f + " from GOFLAGS"})
			case strings.HasPrefix(f, "-toolexec"):
				out = append(out, weakness{"supply.goflags-toolexec", "high", "GOFLAGS runs a program around every tool",
					"GOFLAGS has " + f + ": that program runs with every compile and link and can change the output", "remove " + f + " from GOFLAGS"})
			case f == "-mod=mod":
				out = append(out, weakness{"supply.goflags-mod", "medium", "GOFLAGS has -mod=mod",
					"GOFLAGS has -mod=mod: builds may change go.mod and fetch new module versions instead of failing", "remove -mod=mod (the default, -mod=readonly, refuses)"})
			}
		}
	case "GOTOOLCHAIN":
		if value == "path" || strings.HasSuffix(value, "+path") {
			out = append(out, weakness{"supply.gotoolchain-path", "low", "GOTOOLCHAIN searches PATH",
				fmt.Sprintf("GOTOOLCHAIN=%s: a go.mod can select any goX.Y.Z binary found on PATH", value),
				"use GOTOOLCHAIN=local or auto"})
		}
	}
	return out
}

func (c *checker) supply(u shellchain.User, ue hostenv.UserEnv) {
	names := make([]string, 0, len(ue.Env))
	for k := range ue.Env {
		names = append(names, k)
	}
	slices.Sort(names)
	for _, name := range names {
		v := ue.Env[name]
		if v.Source.Kind == "default" {
			continue // the go command's own default, or derived from another setting that is judged itself
		}
		for _, w := range Weaknesses(name, v.Value) {
			c.add(Finding{ID: w.id, Severity: w.severity, Title: w.title, Detail: w.detail + " (set in " + v.Source.String() + ")",
				User: u.Name, Variable: name, Where: loc(v), Remediation: w.fix})
		}
	}
	// toolchain downloads that nothing verifies
	tc := ue.Env["GOTOOLCHAIN"].Value
	if (tc == "auto" || strings.HasSuffix(tc, "+auto")) && (ue.Env["GOSUMDB"].Value == "off" || matchesEverything(ue.Env["GONOSUMDB"].Value) || matchesEverything(ue.Env["GOPRIVATE"].Value)) {
		c.add(Finding{ID: "supply.gotoolchain-unverified", Severity: "high", User: u.Name, Variable: "GOTOOLCHAIN", Where: loc(ue.Env["GOTOOLCHAIN"]),
			Title:       "toolchains are downloaded without verification",
			Detail:      fmt.Sprintf("GOTOOLCHAIN=%s lets a go.mod download and run another toolchain, and the checksum database is off for %s", tc, u.Name),
			Remediation: "set GOTOOLCHAIN=local, or turn the checksum database back on"})
	}
	// compilers in places others can write
	pathList := ""
	for _, pe := range ue.Path {
		pathList += pe.Dir + ":"
	}
	for _, name := range []string{"CC", "CXX"} {
		v, ok := ue.Env[name]
		if !ok || v.Source.Kind == "default" {
			continue
		}
		prog, _, _ := strings.Cut(strings.TrimSpace(v.Value), " ")
		p := prog
		if !strings.HasPrefix(p, "/") {
			p, _ = hostenv.LookPath(c.fs, pathList, prog)
		}
		if p != "" {
			c.writablePlace(u, name, v, p)
		}
	}
	for _, name := range []string{"CGO_CFLAGS", "CGO_CPPFLAGS", "CGO_CXXFLAGS", "CGO_LDFLAGS", "CGO_FFLAGS"} {
		v, ok := ue.Env[name]
		if !ok {
			continue
		}
		for _, f := range strings.Fields(v.Value) {
			for _, pre := range []string{"-I", "-L", "-B", "-isystem", "--sysroot=", "-iquote", "-include", "-fplugin="} {
				if rest, ok := strings.CutPrefix(f, pre); ok && strings.HasPrefix(rest, "/") {
					c.writablePlace(u, name, v, rest)
				}
			}
		}
	}
}

func (c *checker) writablePlace(u shellchain.User, name string, v hostenv.Value, p string) {
	for q := p; ; q = path.Dir(q) {
		if fi, err := c.fs.Stat(q); err == nil {
			if by := writableBy(fi); by != "" || tmpLike(q) {
				c.add(Finding{ID: "supply.cgo-writable", Severity: rootOr(u, "high"), User: u.Name, Variable: name, Path: p, Where: loc(v),
					Title:       name + " points into a place others can write",
					Detail:      fmt.Sprintf("%s=%s: %s is writable by %s, so others decide what cgo builds compile or link with", name, v.Value, q, cmp.Or(c.groupName(by), "everyone")),
					Remediation: "point " + name + " at a root-owned location"})
				return
			}
		}
		if q == "/" {
			return
		}
	}
}

func (c *checker) chain(u shellchain.User, res *shellchain.Result) {
	for _, f := range res.Files {
		if f.Error != "" {
			c.add(Finding{ID: "chain.unreadable", Severity: "info", User: u.Name, Path: f.Path, Where: f.From,
				Title:       "a login file could not be read",
				Detail:      fmt.Sprintf("%s (%s): what it sets for %s is unknown, so findings for %s may be missing", f.Path, f.Error, u.Name, u.Name),
				Remediation: "run gotrail check as root, or with --user for the users you can read"})
			continue
		}
		if f.Missing {
			continue
		}
		fi, err := c.fs.Stat(f.Path)
		if err != nil {
			continue
		}
		id, title := "chain.file-writable", "a login file others can write"
		if f.From != "" {
			id, title = "chain.sources-writable", "the login sources a file others can write"
		}
		where := f.From
		if by := writableBy(fi); by != "" {
			c.add(Finding{ID: id, Severity: rootOr(u, "high"), User: u.Name, Path: f.Path, Where: where, Title: title,
				Detail:      fmt.Sprintf("%s, read by %s's login, is writable by %s (mode %04o): they can set PATH, GOPROXY or anything else for %s", f.Path, u.Name, c.groupName(by), fi.Mode().Perm(), u.Name),
				Remediation: "chmod go-w " + f.Path})
		} else if uid, _ := hostfs.Owner(fi); uid != 0 && int(uid) != u.UID {
			c.add(Finding{ID: id, Severity: rootOr(u, "high"), User: u.Name, Path: f.Path, Where: where, Title: title,
				Detail:      fmt.Sprintf("%s, read by %s's login, belongs to %s", f.Path, u.Name, c.ownerName(uid)),
				Remediation: "chown root " + f.Path + " (or move it into " + u.Name + "'s home)"})
		}
		if dfi, err := c.fs.Stat(path.Dir(f.Path)); err == nil {
			if by := writableBy(dfi); by != "" && dfi.Mode()&fs.ModeSticky == 0 {
				c.add(Finding{ID: "chain.dir-writable", Severity: rootOr(u, "high"), User: u.Name, Path: path.Dir(f.Path), Where: where,
					Title:       "a directory of login files others can write",
					Detail:      fmt.Sprintf("%s, which holds %s, is writable by %s: they can replace the file or add new ones", path.Dir(f.Path), f.Path, c.groupName(by)),
					Remediation: "chmod go-w " + path.Dir(f.Path)})
			}
		}
	}
	for _, r := range res.Regrows {
		c.add(Finding{ID: "chain.path-grows", Severity: "low", User: u.Name, Variable: "PATH", Path: r.File,
			Title:       "PATH grows each time a file is read again",
			Detail:      fmt.Sprintf("sourcing %s a second time makes %s's PATH longer (%d -> %d entries); nested shells and su get ever longer PATHs", r.File, u.Name, len(strings.Split(r.Before, ":")), len(strings.Split(r.After, ":"))),
			Remediation: "guard the append: case \":$PATH:\" in *\":DIR:\"*) ;; *) PATH=\"$PATH:DIR\" ;; esac"})
	}
	if m := res.Umask; m != nil && m.Value&0o002 == 0 {
		c.add(Finding{ID: "chain.umask", Severity: "medium", User: u.Name, Path: m.File, Where: fmt.Sprintf("%s:%d", m.File, m.Line),
			Title:       "umask lets everyone write new files",
			Detail:      fmt.Sprintf("umask %03o at %s:%d: files and directories %s creates (a GOPATH, a go install target, a toolchain) are writable by all users", m.Value, m.File, m.Line, u.Name),
			Remediation: "use umask 022 (or 027)"})
	}
}

// environmentFile finds /etc/environment lines that expect expansion:
// pam_env takes them literally.
func (c *checker) environmentFile() {
	for _, l := range shellchain.ReadEnvFile(c.fs, "/etc/environment") {
		if strings.Contains(l.Value, "$") {
			c.add(Finding{ID: "chain.environment-expansion", Severity: "medium", Variable: l.Var, Path: "/etc/environment",
				Where:       fmt.Sprintf("/etc/environment:%d", l.Line),
				Title:       "/etc/environment uses $VAR, which pam_env does not expand",
				Detail:      fmt.Sprintf("%s=%s: pam_env sets these characters literally; a PATH entry like $HOME/bin then names a relative directory", l.Var, l.Value),
				Remediation: "write the value out in full, or set it in /etc/security/pam_env.conf with ${VAR} syntax"})
		}
	}
}
