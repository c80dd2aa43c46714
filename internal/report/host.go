package report

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/user"
	"runtime/debug"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"

	"github.com/gotrail/gotrail/internal/check"
	"github.com/gotrail/gotrail/internal/hostenv"
	"github.com/gotrail/gotrail/internal/install"
	"github.com/gotrail/gotrail/internal/rules"
)

// hostState fills what the host says now: who runs the report, the
// kernel, the rules and auditd (this host only), the toolchains and the
// check findings. A part that cannot be read says why in the report; it
// never stops the report.
func hostState(ctx context.Context, o *Options, rep *Report) {
	s := &rep.Scope
	s.Version = Version()
	s.GeneratedBy = generator()
	var u unix.Utsname
	if unix.Uname(&u) == nil && o.Live {
		s.Kernel = unix.ByteSliceToString(u.Release[:]) + " " + unix.ByteSliceToString(u.Version[:])
	}
	if !o.Live {
		s.NotLive = "--root " + o.Root
	}
	if o.NoHost {
		rep.Findings.Err = "not read"
		return
	}
	host, err := hostenv.Load(ctx, o.Root, o.Host, nil)
	if err != nil {
		rep.Findings.Err = err.Error()
		return
	}
	if s.Host == "" {
		s.Host = host.Info.Hostname
	}
	in := check.Input{Host: host}
	if o.Live {
		in.Audit = check.ReadAudit(host.Found, o.GOROOTs)
		in.InstalledGoEnv = install.InstalledGoEnv(o.StateDir)
		s.Audit, s.Rules = auditState(in.Audit, host.Found, o.GOROOTs)
	}
	rep.Findings.List = check.Run(in)
	for _, t := range host.Toolchains {
		rep.Toolchains = append(rep.Toolchains, toolchain(o, t))
	}
}

// auditState is auditctl -s and rules --check, from what check read.
func auditState(a *check.Audit, found *rules.Host, goroots []string) (*AuditState, *RulesState) {
	if a.Err != nil {
		return &AuditState{Err: a.Err.Error()}, &RulesState{Err: a.Err.Error()}
	}
	st := a.Status
	as := &AuditState{Enabled: st.Enabled, PID: st.PID, Backlog: st.Backlog, BacklogLimit: st.BacklogLimit, Lost: st.Lost}
	host := found
	if len(goroots) > 0 {
		if h, err := rules.Discover(found.Root, goroots); err == nil {
			host = h
		}
	}
	expected := len(rules.All(rules.Generate(host).Groups))
	rs := &RulesState{Expected: expected, Loaded: expected - len(a.Diff.Missing), Missing: a.Diff.Missing, Extra: a.Diff.Extra}
	return as, rs
}

// toolchain says how a toolchain got here and whether its files are still
// those gotrail install put there.
func toolchain(o *Options, t hostenv.Toolchain) Toolchain {
	tc := Toolchain{Path: t.Path, Version: t.Version, GOROOT: t.GOROOT, Installed: "unknown", Verify: "no manifest"}
	if t.Error != "" {
		tc.Verify, tc.Detail = "error", t.Error
	}
	if t.GOROOT == "" || !o.Live {
		return tc
	}
	m, name, err := install.FindManifest(o.StateDir, t.GOROOT)
	if errors.Is(err, os.ErrNotExist) || err == nil && m == nil || errors.Is(err, install.ErrNoManifest) {
		return tc
	}
	if err != nil {
		tc.Verify, tc.Detail = "error", err.Error()
		return tc
	}
	tc.Installed = "gotrail install"
	tc.Install = fmt.Sprintf("%s %s, manifest %s of %s", m.Version, m.Source, name, m.Created.UTC().Format("2006-01-02T15:04:05Z"))
	if rec, ok := o.installs[m.Dir]; ok {
		tc.Install = rec
	}
	d, err := install.Compare(m, m.Dir)
	switch {
	case err != nil:
		tc.Verify, tc.Detail = "error", err.Error()
	case d.Empty():
		tc.Verify, tc.Detail = "ok", fmt.Sprintf("%d files match", len(m.Files))
	default:
		tc.Verify = "differs"
		tc.Detail = fmt.Sprintf("%d added, %d changed, %d removed", len(d.Added), len(d.Changed), len(d.Removed))
		first := append(append(append([]string(nil), d.Changed...), d.Added...), d.Removed...)
		if len(first) > 5 {
			first = first[:5]
		}
		tc.Detail += ": " + strings.Join(first, ", ")
	}
	return tc
}

// generator is who runs the report, as the kernel knows it.
func generator() Generator {
	uid := os.Getuid()
	g := Generator{UID: strconv.Itoa(uid), User: userName(strconv.Itoa(uid))}
	if b, err := os.ReadFile("/proc/self/loginuid"); err == nil {
		if s := strings.TrimSpace(string(b)); s != "" && s != "4294967295" {
			g.LoginUID, g.Login = s, userName(s)
		}
	}
	return g
}

func userName(uid string) string {
	if u, err := user.LookupId(uid); err == nil {
		return u.Username
	}
	return ""
}

// Version is gotrail's version as the build recorded it: the module
// version, else the VCS revision.
func Version() string {
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return "unknown"
	}
	v := bi.Main.Version
	var rev, modified string
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			rev = s.Value
		case "vcs.modified":
			if s.Value == "true" {
				modified = "+dirty"
			}
		}
	}
	if (v == "" || v == "(devel)") && rev != "" {
		if len(rev) > 12 {
			rev = rev[:12]
		}
		return "devel " + rev + modified + " " + bi.GoVersion
	}
	return v + " " + bi.GoVersion
}
