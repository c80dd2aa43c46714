package rules

import (
	"fmt"
	"path"
	"slices"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// Rule keys, one per event kind (DESIGN.md); internal/classify reads them.
const (
	KeyGoroot  = "gotrail-goroot"
	KeyGoenv   = "gotrail-goenv"
	KeyProfile = "gotrail-profile"
	KeyPath    = "gotrail-path"
	KeyExec    = "gotrail-exec"
	KeyAudit   = "gotrail-audit"
)

// Dir is a directory that --install creates so that a watch on a file in it
// can exist before the file does (the kernel watches a file through its
// directory).
type Dir struct {
	Path     string
	Home     string // the user's home it lies in: nothing below it leads out
	UID, GID int
}

// Plan is the rules for a host and what installing them needs.
type Plan struct {
	Groups []Group
	// Dirs are parents of watched files that do not exist yet: ~/.config/go
	// for `go env -w`, which creates it on first use.
	Dirs []Dir
}

// System files of the login chain: pam_env, then the shells' own files.
var systemChain = []string{
	"/etc/environment", "/etc/security/pam_env.conf", "/etc/default/locale",
	"/etc/profile", "/etc/bash.bashrc", "/etc/zshenv", "/etc/zprofile", "/etc/zshrc", "/etc/zlogin",
}

// Directories whose every file is part of the chain.
var systemChainDirs = []string{"/etc/profile.d", "/etc/zsh"}

// Per-user files of the login chain, watched whether they exist or not:
// creating ~/.bash_profile silently changes which files bash reads.
var userChain = []string{
	".profile", ".bash_profile", ".bash_login", ".bashrc",
	".zshenv", ".zprofile", ".zshrc", ".zlogin", ".pam_environment",
}

// Generate derives the rules from a discovered host.
func Generate(host *Host) *Plan {
	gen := &generator{h: hostFS{hostfs.New(host.Root)}, host: host, plan: &Plan{}, seen: map[string]bool{}}
	// in this order: a rule two groups would make is in the first
	gen.plan.Groups = []Group{gen.gorootGroup(), gen.goenvGroup(), gen.chainGroup(), gen.shadowGroup(), gen.execGroup(), gen.auditGroup()}
	return gen.plan
}

// generator makes the groups of a plan, each rule once.
type generator struct {
	h    hostFS
	host *Host
	plan *Plan
	seen map[string]bool
}

func (gen *generator) add(g *Group, r Rule) {
	if s := r.String(); !gen.seen[s] {
		gen.seen[s] = true
		g.Rules = append(g.Rules, r)
	}
}

// watch adds a watch of file when its directory exists (the kernel watches
// a file through its directory), and reports whether it did.
func (gen *generator) watch(g *Group, file, perm, key string) bool {
	if !gen.h.isDir(path.Dir(file)) {
		return false
	}
	gen.add(g, Rule{Watch: file, Perm: perm, Key: key})
	return true
}

// gorootGroup: the toolchains' trees, and the links that name them.
func (gen *generator) gorootGroup() Group {
	goroot := Group{Title: "Go toolchains (GOROOT)", Why: "Every change under a toolchain: files created, written, deleted, renamed, chmod/chown,\n" +
		"including $GOROOT/go.env, which sets GOPROXY, GOSUMDB and GOTOOLCHAIN for every user of it.\n" +
		"A symlink that names a toolchain is watched itself, so that switching it is seen."}
	for _, g := range gen.host.GOROOTs {
		gen.watch(&goroot, g.Path, "wa", KeyGoroot)
		for _, l := range g.Links {
			gen.watch(&goroot, l, "wa", KeyGoroot)
		}
	}
	if len(gen.host.GOROOTs) == 0 {
		goroot.Notes = append(goroot.Notes, "no Go toolchain found on the login PATHs or in the usual places")
	}
	return goroot
}

// goenvFile is a user's Go env file below their home, as goenvGroup
// watches it.
const goenvFile = "/.config/go/env"

// goenvGroup: each login user's Go env file, before it exists.
func (gen *generator) goenvGroup() Group {
	goenv := Group{Title: "Go env files (go env -w)", Why: "`go env -w` writes the user's Go env file, $XDG_CONFIG_HOME/go/env (default ~/.config/go/env),\n" +
		"watched before it exists: its directory is created by `gotrail rules --install` if missing,\n" +
		"and by `gotrail watch` for a login user added later."}
	for _, u := range gen.host.Users {
		if !gen.h.isDir(u.Home) {
			goenv.Notes = append(goenv.Notes, fmt.Sprintf("%s: home %s does not exist", u.Name, u.Home))
			continue
		}
		dir := path.Dir(u.Home + goenvFile)
		r := Rule{Watch: u.Home + goenvFile, Perm: "wa", Key: KeyGoenv}
		if !gen.h.isDir(dir) {
			for _, d := range []string{u.Home + "/.config", dir} {
				if !gen.h.isDir(d) {
					gen.plan.Dirs = append(gen.plan.Dirs, Dir{Path: d, Home: u.Home, UID: u.UID, GID: u.GID})
				}
			}
			r.Pending = dir + " does not exist yet, and the kernel watches a file through its directory; " +
				"gotrail rules --install (or gotrail setup) creates it, owned by " + u.Name + ", and loads this rule"
		}
		gen.add(&goenv, r)
	}
	return goenv
}

// chainGroup: the login chain's system and user files.
func (gen *generator) chainGroup() Group {
	chain := Group{Title: "Login chain", Why: "The files that set PATH and the Go variables at login: pam_env, /etc/profile and profile.d,\n" +
		"the shells' system and user files. User files are watched even before they exist."}
	for _, f := range systemChain {
		if !gen.watch(&chain, f, "wa", KeyProfile) && f != "/etc/default/locale" {
			chain.Notes = append(chain.Notes, fmt.Sprintf("%s: its directory does not exist", f))
		}
	}
	for _, d := range systemChainDirs {
		if gen.h.isDir(d) {
			gen.watch(&chain, d, "wa", KeyProfile)
		}
	}
	for _, u := range gen.host.Users {
		if !gen.h.isDir(u.Home) {
			continue
		}
		for _, f := range userChain {
			gen.watch(&chain, u.Home+"/"+f, "wa", KeyProfile)
		}
	}
	return chain
}

// shadowGroup: go and gofmt in PATH directories outside GOROOT.
func (gen *generator) shadowGroup() Group {
	shadow := Group{Title: "go in PATH directories", Why: "A go or gofmt appearing in a PATH directory outside GOROOT shadows the toolchain."}
	for _, d := range gen.host.PathDirs {
		gen.watch(&shadow, d+"/go", "wa", KeyPath)
		gen.watch(&shadow, d+"/gofmt", "wa", KeyPath)
	}
	return shadow
}

// execGroup: every run of a toolchain's go and gofmt.
func (gen *generator) execGroup() Group {
	exec := Group{Title: "Go executions", Why: "Every run of a toolchain's go and gofmt, by the file executed (never all execs), for 64- and\n" +
		"32-bit callers: path= matches the file whatever runs it, so a go that is a script (a wrapper,\n" +
		"or a binary replaced by one) is caught, which exe= (the interpreter then) would miss."}
	for _, g := range gen.host.GOROOTs {
		for _, bin := range []string{"go", "gofmt"} {
			exe := g.Path + "/bin/" + bin
			if !gen.h.exists(exe) {
				continue
			}
			gen.add(&exec, Rule{Arch: "b64", Syscalls: []string{"execve", "execveat"}, Fields: []string{"path=" + exe}, Key: KeyExec})
			gen.add(&exec, Rule{Arch: "b32", Syscalls: []string{"execve", "execveat"}, Fields: []string{"path=" + exe}, Key: KeyExec})
		}
	}
	return exec
}

// auditGroup: auditd's configuration and programs.
func (gen *generator) auditGroup() Group {
	audit := Group{Title: "Audit configuration", Why: "Changes to auditd's configuration and rules, and to the programs that load them.\n" +
		"Rule changes themselves are always logged by the kernel (CONFIG_CHANGE)."}
	gen.watch(&audit, "/etc/audit", "wa", KeyAudit)
	gen.watch(&audit, "/etc/libaudit.conf", "wa", KeyAudit)
	var bins []string
	for _, b := range []string{"/sbin/auditctl", "/sbin/augenrules", "/sbin/auditd", "/usr/sbin/auditctl", "/usr/sbin/augenrules", "/usr/sbin/auditd"} {
		if real, err := gen.h.resolve(b); err == nil && !slices.Contains(bins, real) {
			bins = append(bins, real)
			gen.watch(&audit, real, "wa", KeyAudit)
		}
	}
	return audit
}
