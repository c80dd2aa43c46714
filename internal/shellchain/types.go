package shellchain

import (
	"fmt"
	"path"

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
