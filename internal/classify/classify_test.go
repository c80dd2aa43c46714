package classify

import (
	"strings"
	"testing"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/rules"
)

func TestKind(t *testing.T) {
	ev := func(msgType, action, key, exe, path, prev string) *event.Event {
		e := &event.Event{Event: event.Meta{Action: action}, Tags: event.RuleKeys(key), Process: event.Process{Executable: exe}}
		e.Auditd.MessageType = msgType
		if path != "" || prev != "" {
			e.File = &event.File{Path: path}
			e.Gotrail.PreviousPath = prev
		}
		return e
	}
	c := &Classifier{GOROOTs: []string{"/srv/toolchains/go-custom"}}
	tests := []struct {
		name string
		e    *event.Event
		want string
	}{
		{"auditctl adding the goroot rule is tamper, not a goroot change",
			ev("config_change", "add_rule", rules.KeyGoroot, "/usr/sbin/auditctl", "", ""), event.KindTamper},
		{"auditctl removing a rule", ev("config_change", "remove_rule", rules.KeyProfile, "/usr/sbin/auditctl", "", ""), event.KindTamper},
		{"auditd stopping", ev("daemon_end", "end", "", "", "", ""), event.KindTamper},
		{"goroot key on a write", ev("syscall", "write", rules.KeyGoroot, "/usr/bin/vim", "/opt/x/go.env", ""), event.KindGoroot},
		{"goroot key on an exec is not a change", ev("syscall", "exec", rules.KeyGoroot, "/usr/bin/ls", "/usr/bin/ls", ""), event.KindOther},
		{"exec key on a go binary", ev("syscall", "exec", rules.KeyExec, "/usr/local/go/bin/go", "/usr/local/go/bin/go", ""), event.KindExec},
		{"exec key on something else", ev("syscall", "exec", rules.KeyExec, "/usr/bin/python3", "/usr/bin/python3", ""), event.KindOther},
		{"several keys, one ours", ev("syscall", "write", "site-key,"+rules.KeyProfile, "/usr/bin/vim", "/etc/profile", ""), event.KindProfile},
		{"goenv key", ev("syscall", "create", rules.KeyGoenv, "/usr/local/go/bin/go", "/home/a/.config/go/env", ""), event.KindGoenv},
		{"path key", ev("syscall", "create", rules.KeyPath, "/usr/bin/cp", "/usr/local/bin/go", ""), event.KindPath},
		{"audit key", ev("syscall", "write", rules.KeyAudit, "/usr/bin/vim", "/etc/audit/rules.d/x.rules", ""), event.KindTamper},
		{"audit key on a read is nothing", ev("syscall", "open", rules.KeyAudit, "/usr/bin/cat", "/etc/audit/auditd.conf", ""), event.KindOther},
		// logs recorded under other keys: by path
		{"sed -i on /etc/profile", ev("syscall", "rename", "profile", "/usr/bin/sed", "/etc/profile", "/etc/sedXYZ"), event.KindProfile},
		{"profile.d", ev("syscall", "create", "", "/usr/bin/tee", "/etc/profile.d/go.sh", ""), event.KindProfile},
		{"bashrc anywhere", ev("syscall", "write", "x", "/usr/bin/vim", "/var/lib/jenkins/.bashrc", ""), event.KindProfile},
		{"read of a profile is nothing", ev("syscall", "open", "x", "/usr/bin/cat", "/etc/profile", ""), event.KindOther},
		{"go env -w", ev("syscall", "rename", "", "/usr/local/go/bin/go", "/root/.config/go/env", "/root/.config/go/env.tmp"), event.KindGoenv},
		{"under /usr/local/go", ev("syscall", "delete", "", "/usr/bin/rm", "/usr/local/go/bin/gofmt", ""), event.KindGoroot},
		{"versioned goroot", ev("syscall", "chmod", "", "/usr/bin/chmod", "/usr/local/go1.22.5/pkg/tool/linux_amd64/compile", ""), event.KindGoroot},
		{"debian goroot", ev("syscall", "write", "", "/usr/bin/cp", "/usr/lib/go-1.22/bin/go", ""), event.KindGoroot},
		{"sdk goroot", ev("syscall", "write", "", "/usr/bin/cp", "/home/a/sdk/go1.23.0/src/x.go", ""), event.KindGoroot},
		{"downloaded toolchain", ev("syscall", "write", "", "/usr/bin/cp", "/home/a/go/pkg/mod/golang.org/toolchain@v0.0.1-go1.23.0.linux-amd64/bin/go", ""), event.KindGoroot},
		{"configured goroot", ev("syscall", "write", "", "/usr/bin/cp", "/srv/toolchains/go-custom/VERSION", ""), event.KindGoroot},
		{"a go binary on PATH outside GOROOT", ev("syscall", "create", "", "/usr/bin/cp", "/usr/local/bin/go", ""), event.KindPath},
		{"a module cache file is not GOROOT", ev("syscall", "write", "", "/usr/bin/cp", "/home/a/go/pkg/mod/x@v1/go.mod", ""), event.KindOther},
		{"removing GOROOT itself", ev("syscall", "delete", "", "/usr/bin/rm", "/usr/local/go", ""), event.KindGoroot},
		{"unrelated write", ev("syscall", "write", "", "/usr/bin/vim", "/etc/hosts", ""), event.KindOther},
		{"go exec by path", ev("syscall", "exec", "exec", "/usr/local/go/bin/go", "/usr/local/go/bin/go", ""), event.KindExec},
		{"user login", ev("user_start", "PAM:session_open", "", "/usr/bin/su", "", ""), event.KindOther},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := c.Kind(tt.e); got != tt.want {
				t.Errorf("Kind() = %s, want %s", got, tt.want)
			}
		})
	}
}

type groupsOf map[string][]string

func (g groupsOf) UserGroups(u string) []string { return g[u] }

func TestPolicy(t *testing.T) {
	p := &Policy{
		Rules: []config.Policy{
			{Kinds: []string{event.KindGoroot}, Paths: []string{"/usr/local/go"}, AllowUsers: []string{"goadmin"}, AllowGroups: []string{"goadmins"}},
			{Kinds: []string{event.KindProfile}, AllowUsers: []string{"ops"}},
		},
		Groups: groupsOf{"carol": {"carol", "goadmins"}},
	}
	mk := func(kind, login, path, outcome string) *event.Event {
		e := &event.Event{Event: event.Meta{Outcome: outcome}, Gotrail: event.Gotrail{Kind: kind}, File: &event.File{Path: path}}
		if login != "" {
			e.User.Audit = &event.Ident{ID: "1", Name: login}
		}
		return e
	}
	tests := []struct {
		name     string
		e        *event.Event
		auth     bool
		severity string
	}{
		{"allowed user", mk(event.KindGoroot, "goadmin", "/usr/local/go/bin/go", "success"), true, "info"},
		{"allowed group", mk(event.KindGoroot, "carol", "/usr/local/go/go.env", "success"), true, "info"},
		{"other user", mk(event.KindGoroot, "mallory", "/usr/local/go/go.env", "success"), false, "critical"},
		{"path outside the entry", mk(event.KindGoroot, "goadmin", "/opt/go/bin/go", "success"), false, "critical"},
		{"prefix is a directory, not a string", mk(event.KindGoroot, "goadmin", "/usr/local/gopher", "success"), false, "critical"},
		{"second entry", mk(event.KindProfile, "ops", "/etc/profile", "success"), true, "info"},
		{"no login", mk(event.KindProfile, "", "/etc/profile", "success"), false, "high"},
		{"refused attempt", mk(event.KindProfile, "mallory", "/etc/profile", "failure"), false, "medium"},
		{"no entry", mk(event.KindGoenv, "ops", "/home/ops/.config/go/env", "success"), false, "high"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p.Apply(tt.e)
			if tt.e.Gotrail.Authorized == nil || *tt.e.Gotrail.Authorized != tt.auth || tt.e.Gotrail.Severity != tt.severity {
				t.Errorf("authorized %v severity %s; want %v %s", tt.e.Gotrail.Authorized, tt.e.Gotrail.Severity, tt.auth, tt.severity)
			}
		})
	}
	exec := &event.Event{Gotrail: event.Gotrail{Kind: event.KindExec}, Process: event.Process{EnvVars: []string{"GOSUMDB=off"}}}
	p.Apply(exec)
	if exec.Gotrail.Severity != "high" || exec.Gotrail.Authorized != nil {
		t.Errorf("go exec with GOSUMDB=off: %s %v", exec.Gotrail.Severity, exec.Gotrail.Authorized)
	}
	for env, want := range map[string]bool{"GOPROXY=http://proxy.corp": true, "GOFLAGS=-toolexec=/tmp/x": true, "GONOSUMDB=*": true, "GOPROXY=https://proxy.golang.org,direct": false, "GOPRIVATE=corp.example/*": false} {
		k, v, _ := strings.Cut(env, "=")
		if got := weakens(map[string]string{k: v}); got != want {
			t.Errorf("weakens(%s) = %v", env, got)
		}
	}
}

// TestTelemetryChild: go's telemetry child is not a command a user ran.
func TestTelemetryChild(t *testing.T) {
	cl := &Classifier{}
	mk := func(args ...string) *event.Event {
		e := &event.Event{Event: event.Meta{Action: "exec"}, Tags: []string{"gotrail-exec"}, Process: event.Process{Executable: "/usr/local/go/bin/go", Args: args}}
		return e
	}
	if k := cl.Kind(mk("/usr/local/go/bin/go", "** telemetry **")); k != event.KindOther {
		t.Errorf("telemetry child: %s", k)
	}
	if k := cl.Kind(mk("go", "env", "-w", "GOPROXY=direct")); k != event.KindExec {
		t.Errorf("go env -w: %s", k)
	}
}

// TestTamperSeverity: audit configuration changes graded by their effect.
func TestTamperSeverity(t *testing.T) {
	change := func(c event.AuditChange) *event.Event {
		return &event.Event{Auditd: event.Auditd{MessageType: "config_change"}, Gotrail: event.Gotrail{Kind: event.KindTamper, AuditChange: &c}}
	}
	set := func(name, old, new string) *event.Event {
		return change(event.AuditChange{Settings: []event.Setting{{Name: name, Old: old, New: new}}})
	}
	rc := func(key string, n int) []event.RuleCount { return []event.RuleCount{{Key: key, Rules: n}} }
	for _, tt := range []struct {
		name string
		e    *event.Event
		want string
	}{
		{"a load that keeps gotrail's rules", change(event.AuditChange{Removed: rc("gotrail-profile", 54), Added: rc("gotrail-profile", 54)}), "info"},
		{"rules added", change(event.AuditChange{Added: rc("gotrail-goenv", 1)}), "info"},
		{"a gotrail rule removed", change(event.AuditChange{Removed: rc("gotrail-profile", 1), GotrailRemoved: []event.RuleCount{{Key: "gotrail-profile", Dir: "/etc/", Rules: 1}}}), "critical"},
		{"the host's own rules fewer", change(event.AuditChange{Removed: rc("identity", 2)}), "medium"},
		{"backlog raised (auditctl -b 8192)", set("backlog_limit", "64", "8192"), "info"},
		{"backlog lowered", set("backlog_limit", "8192", "64"), "critical"},
		{"auditing disabled (auditctl -e 0)", set("enabled", "1", "0"), "critical"},
		{"rules locked (auditctl -e 2)", set("enabled", "1", "2"), "info"},
		{"failure mode lowered", set("failure", "2", "0"), "critical"},
		{"a rate limit set", set("rate_limit", "0", "10"), "critical"},
		{"the rate limit lifted", set("rate_limit", "10", "0"), "info"},
		{"loginuid made mutable", set("loginuid_immutable", "1", "0"), "high"},
		{"auditd starting", &event.Event{Auditd: event.Auditd{MessageType: "daemon_start"}}, "info"},
		{"auditd stopping", &event.Event{Auditd: event.Auditd{MessageType: "daemon_end"}}, "critical"},
		{"auditd aborting", &event.Event{Auditd: event.Auditd{MessageType: "daemon_abort"}}, "critical"},
		{"a file under /etc/audit written", &event.Event{Auditd: event.Auditd{MessageType: "syscall"}}, "critical"},
	} {
		if got := TamperSeverity(tt.e); got != tt.want {
			t.Errorf("%s: %s, want %s", tt.name, got, tt.want)
		}
	}
	// planned maintenance by a user a [[policy]] names is info
	p := &Policy{Rules: []config.Policy{{Kinds: []string{event.KindTamper}, AllowUsers: []string{"ops"}}}}
	e := set("enabled", "1", "0")
	e.User.Audit = &event.Ident{ID: "1", Name: "ops"}
	p.Apply(e)
	if e.Gotrail.Severity != "info" || e.Gotrail.Authorized == nil || !*e.Gotrail.Authorized {
		t.Errorf("ops disabling auditing under a policy: %s %v", e.Gotrail.Severity, e.Gotrail.Authorized)
	}
	e = set("enabled", "1", "0")
	e.User.Audit = &event.Ident{ID: "2", Name: "mallory"}
	p.Apply(e)
	if e.Gotrail.Severity != "critical" || *e.Gotrail.Authorized {
		t.Errorf("mallory disabling auditing: %s %v", e.Gotrail.Severity, *e.Gotrail.Authorized)
	}
}

// TestKeyKindsPrefix: every rule key the classifier knows starts with the
// prefix kind checks before looking a key up.
func TestKeyKindsPrefix(t *testing.T) {
	for k := range keyKinds {
		if !strings.HasPrefix(k, "gotrail-") {
			t.Errorf("rule key %q: kind skips keys without the gotrail- prefix", k)
		}
	}
}
