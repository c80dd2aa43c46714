// Package classify decides what an attributed event means for the Go
// environment: its kind (DESIGN.md, "Event kinds"). It reads what the
// interpreter (internal/audit) put into the event and never the raw records;
// the policy that marks events authorized and sets their severity builds on
// it.
package classify

import (
	"path"
	"strings"

	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/rules"
)

// keyKinds maps the rule keys `gotrail rules` writes to the kinds.
var keyKinds = map[string]string{
	rules.KeyGoroot:  event.KindGoroot,
	rules.KeyGoenv:   event.KindGoenv,
	rules.KeyProfile: event.KindProfile,
	rules.KeyPath:    event.KindPath,
	rules.KeyExec:    event.KindExec,
	rules.KeyAudit:   event.KindTamper,
}

// Classifier decides event kinds. The zero value knows the usual GOROOTs.
type Classifier struct {
	// GOROOTs are extra toolchain directories (from the config or found on
	// the host) whose files count as goroot.modify without a gotrail key.
	GOROOTs []string
}

// modifying reports whether an action changes a file: what the watches
// of `gotrail rules` (-p wa) report. A switch, as it is asked of every
// event.
func modifying(act string) bool {
	switch act {
	case "write", "create", "delete", "rename", "chmod", "chown", "xattr", "touch", "link", "mount":
		return true
	}
	return false
}

// Kind returns the kind of e.
//
// The order matters. An audit configuration change is tamper even when it
// carries a gotrail key: auditctl adding or deleting the rule keyed
// gotrail-goroot logs that key, but nothing under GOROOT changed. Then our
// rule keys decide, checked against what happened (a watch key on a read or
// an exec does not make a modification). Logs recorded under other keys
// (an existing rule set, the shared corpus) are classified by path: the
// login-chain files, Go env files, GOROOTs and go binaries.
func (c *Classifier) Kind(e *event.Event) string {
	k := c.kind(e)
	if k == event.KindExec && telemetryChild(e) {
		// go starting itself again to upload telemetry: not a command a
		// user ran, so neither listed as one nor alerted (still in --all)
		return event.KindOther
	}
	return k
}

// telemetryChild reports whether e is the go command's telemetry child,
// which go starts with the one argument "** telemetry **"
// (golang.org/x/telemetry's child mode).
func telemetryChild(e *event.Event) bool {
	a := e.Process.Args
	return len(a) == 2 && a[1] == "** telemetry **"
}

func (c *Classifier) kind(e *event.Event) string {
	switch e.Auditd.MessageType {
	case "config_change":
		return event.KindTamper
	case "daemon_start", "daemon_resume", "daemon_end", "daemon_abort", "daemon_config", "daemon_err":
		return event.KindTamper
	}
	act := e.Event.Action
	if len(e.Tags) > 0 {
		for _, k := range e.Tags {
			if !strings.HasPrefix(k, "gotrail-") {
				continue // not ours (all of keyKinds' are): no look-up
			}
			kind, ok := keyKinds[k]
			if !ok {
				continue
			}
			switch {
			case kind == event.KindExec:
				if act == "exec" && isGoBinary(e.Process.Executable) {
					return kind
				}
			case modifying(act):
				return kind
			}
		}
	}
	if act == "exec" {
		if isGoBinary(e.Process.Executable) {
			return event.KindExec
		}
		// auditctl's own exec is only a listing or an attempt; a change
		// it makes shows as CONFIG_CHANGE
		return event.KindOther
	}
	if !modifying(act) || e.File == nil {
		return event.KindOther
	}
	for _, p := range []string{e.File.Path, e.Gotrail.PreviousPath} {
		if p == "" {
			continue
		}
		if k := c.pathKind(p); k != "" {
			return k
		}
	}
	return event.KindOther
}

// isGoBinary reports whether exe is the go command or gofmt.
func isGoBinary(exe string) bool {
	b := path.Base(exe)
	return b == "go" || b == "gofmt"
}

// pathKind classifies a modified path by where it is.
func (c *Classifier) pathKind(p string) string {
	switch {
	case isAuditConfig(p):
		return event.KindTamper
	case IsLoginChainFile(p):
		return event.KindProfile
	case IsGoEnvFile(p):
		return event.KindGoenv
	case c.InGOROOT(p):
		return event.KindGoroot
	case isGoBinary(p):
		return event.KindPath
	}
	return ""
}

func isAuditConfig(p string) bool {
	return strings.HasPrefix(p, "/etc/audit/") || p == "/etc/audit" ||
		p == "/sbin/auditctl" || p == "/usr/sbin/auditctl" || p == "/sbin/auditd" || p == "/usr/sbin/auditd"
}

// loginChainHome are the per-user files that bash, sh, zsh and pam_env read.
var loginChainHome = map[string]bool{
	".profile": true, ".bash_profile": true, ".bash_login": true, ".bashrc": true,
	".bash_logout": false, ".zshenv": true, ".zprofile": true, ".zshrc": true,
	".zlogin": true, ".pam_environment": true,
}

var loginChainEtc = map[string]bool{
	"/etc/environment": true, "/etc/security/pam_env.conf": true, "/etc/profile": true,
	"/etc/bash.bashrc": true, "/etc/bashrc": true, "/etc/zshenv": true, "/etc/zprofile": true,
	"/etc/zshrc": true, "/etc/zlogin": true, "/etc/login.defs": true, "/etc/default/locale": false,
}

// IsLoginChainFile reports whether p is a file of a login chain: the system
// files, profile.d and zsh directories, or a user's shell start-up files.
func IsLoginChainFile(p string) bool {
	if loginChainEtc[p] || strings.HasPrefix(p, "/etc/profile.d/") || strings.HasPrefix(p, "/etc/zsh/") {
		return true
	}
	return loginChainHome[path.Base(p)]
}

// IsGoEnvFile reports whether p is a Go env file that `go env -w` writes:
// $XDG_CONFIG_HOME/go/env, by default ~/.config/go/env.
func IsGoEnvFile(p string) bool {
	return strings.HasSuffix(p, "/go/env") && !strings.Contains(p, "/go/pkg/")
}

// InGOROOT reports whether p lies in a Go toolchain directory: the usual
// install places (/usr/local/go, /usr/local/go1.22.5, /usr/lib/go-1.22,
// /opt/go*, ~/sdk/go*, toolchains the go command downloads) or one of c's.
func (c *Classifier) InGOROOT(p string) bool {
	for _, r := range c.GOROOTs {
		r = strings.TrimSuffix(r, "/")
		if p == r || strings.HasPrefix(p, r+"/") {
			return true
		}
	}
	if strings.HasSuffix(p, "/go.env") {
		return true
	}
	if strings.Contains(p, "/go/pkg/mod/golang.org/toolchain@") {
		return true
	}
	segs := strings.Split(p, "/")
	// segs[0] is "" for an absolute path
	for i := 1; i < len(segs); i++ {
		s := segs[i]
		if !(s == "go" || strings.HasPrefix(s, "go1") || strings.HasPrefix(s, "go-")) {
			continue
		}
		parent := strings.Join(segs[:i], "/")
		switch {
		case parent == "/usr/local", parent == "/usr/lib", parent == "/opt", parent == "/usr/local/lib":
			return true
		case strings.HasSuffix(parent, "/sdk"):
			return true
		}
	}
	return false
}
