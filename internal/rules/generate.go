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
	h := hostFS{hostfs.New(host.Root)}
	p := &Plan{}
	seen := map[string]bool{}
	add := func(g *Group, r Rule) {
		if s := r.String(); !seen[s] {
			seen[s] = true
			g.Rules = append(g.Rules, r)
		}
	}
	watch := func(g *Group, file, perm, key string) bool {
		if !h.isDir(path.Dir(file)) {
			return false
		}
		add(g, Rule{Watch: file, Perm: perm, Key: key})
		return true
	}

	goroot := Group{Title: "Go toolchains (GOROOT)", Why: "Every change under a toolchain: files created, written, deleted, renamed, chmod/chown,\n" +
		"including $GOROOT/go.env, which sets GOPROXY, GOSUMDB and GOTOOLCHAIN for every user of it.\n" +
		"A symlink that names a toolchain is watched itself, so that switching it is seen."}
	for _, g := range host.GOROOTs {
		watch(&goroot, g.Path, "wa", KeyGoroot)
		for _, l := range g.Links {
			watch(&goroot, l, "wa", KeyGoroot)
		}
	}
	if len(host.GOROOTs) == 0 {
		goroot.Notes = append(goroot.Notes, "no Go toolchain found on the login PATHs or in the usual places")
	}

	goenv := Group{Title: "Go env files (go env -w)", Why: "`go env -w` writes the user's Go env file, $XDG_CONFIG_HOME/go/env (default ~/.config/go/env),\n" +
		"watched before it exists: its directory is created by `gotrail rules --install` if missing,\n" +
		"and by `gotrail watch` for a login user added later."}
	for _, u := range host.Users {
		if !h.isDir(u.Home) {
			goenv.Notes = append(goenv.Notes, fmt.Sprintf("%s: home %s does not exist", u.Name, u.Home))
			continue
		}
		dir := u.Home + "/.config/go"
		r := Rule{Watch: dir + "/env", Perm: "wa", Key: KeyGoenv}
		if !h.isDir(dir) {
			for _, d := range []string{u.Home + "/.config", dir} {
				if !h.isDir(d) {
					p.Dirs = append(p.Dirs, Dir{Path: d, Home: u.Home, UID: u.UID, GID: u.GID})
				}
			}
			r.Pending = dir + " does not exist yet, and the kernel watches a file through its directory; " +
				"gotrail rules --install (or gotrail setup) creates it, owned by " + u.Name + ", and loads this rule"
		}
		add(&goenv, r)
	}

	chain := Group{Title: "Login chain", Why: "The files that set PATH and the Go variables at login: pam_env, /etc/profile and profile.d,\n" +
		"the shells' system and user files. User files are watched even before they exist."}
	for _, f := range systemChain {
		if !watch(&chain, f, "wa", KeyProfile) && f != "/etc/default/locale" {
			chain.Notes = append(chain.Notes, fmt.Sprintf("%s: its directory does not exist", f))
		}
	}
	for _, d := range systemChainDirs {
		if h.isDir(d) {
			watch(&chain, d, "wa", KeyProfile)
		}
	}
	for _, u := range host.Users {
		if !h.isDir(u.Home) {
			continue
		}
		for _, f := range userChain {
			watch(&chain, u.Home+"/"+f, "wa", KeyProfile)
		}
	}

	shadow := Group{Title: "go in PATH directories", Why: "A go or gofmt appearing in a PATH directory outside GOROOT shadows the toolchain."}
	for _, d := range host.PathDirs {
		watch(&shadow, d+"/go", "wa", KeyPath)
		watch(&shadow, d+"/gofmt", "wa", KeyPath)
	}

	exec := Group{Title: "Go executions", Why: "Every run of a toolchain's go and gofmt, by the file executed (never all execs), for 64- and\n" +
		"32-bit callers: path= matches the file whatever runs it, so a go that is a script (a wrapper,\n" +
		"or a binary replaced by one) is caught, which exe= (the interpreter then) would miss."}
	for _, g := range host.GOROOTs {
		for _, bin := range []string{"go", "gofmt"} {
			exe := g.Path + "/bin/" + bin
			if !h.exists(exe) {
				continue
			}
			add(&exec, Rule{Arch: "b64", Syscalls: []string{"execve", "execveat"}, Fields: []string{"path=" + exe}, Key: KeyExec})
			add(&exec, Rule{Arch: "b32", Syscalls: []string{"execve", "execveat"}, Fields: []string{"path=" + exe}, Key: KeyExec})
		}
	}

	audit := Group{Title: "Audit configuration", Why: "Changes to auditd's configuration and rules, and to the programs that load them.\n" +
		"Rule changes themselves are always logged by the kernel (CONFIG_CHANGE)."}
	watch(&audit, "/etc/audit", "wa", KeyAudit)
	watch(&audit, "/etc/libaudit.conf", "wa", KeyAudit)
	var bins []string
	for _, b := range []string{"/sbin/auditctl", "/sbin/augenrules", "/sbin/auditd", "/usr/sbin/auditctl", "/usr/sbin/augenrules", "/usr/sbin/auditd"} {
		if real, err := h.resolve(b); err == nil && !slices.Contains(bins, real) {
			bins = append(bins, real)
			watch(&audit, real, "wa", KeyAudit)
		}
	}

	p.Groups = []Group{goroot, goenv, chain, shadow, exec, audit}
	return p
}
