package check

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io/fs"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/gotrail/gotrail/internal/hostenv"
	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/rules"
)

// releaseGoEnv is $GOROOT/go.env as Go releases ship it.
var releaseGoEnv = map[string]string{
	"GOPROXY":     "https://proxy.golang.org,direct",
	"GOSUMDB":     "sum.golang.org",
	"GOTOOLCHAIN": "auto",
}

// goroots checks each toolchain: who can change its files, and its go.env.
func (c *checker) goroots() {
	var roots []string
	for _, t := range c.host.Toolchains {
		if t.GOROOT != "" && !slices.Contains(roots, t.GOROOT) {
			roots = append(roots, t.GOROOT)
		}
	}
	type result struct {
		root     string
		writable []string
		foreign  []string
		total    int
	}
	results := make([]result, len(roots))
	var wg sync.WaitGroup
	for i, r := range roots {
		wg.Add(1)
		go func() {
			defer wg.Done()
			results[i] = c.walkGOROOT(r)
		}()
	}
	wg.Wait()
	for _, r := range results {
		if n := len(r.writable); n > 0 {
			c.add(Finding{ID: "goroot.writable", Severity: "critical", Path: r.root,
				Title:       "a toolchain others can change",
				Detail:      fmt.Sprintf("%d of %d entries under %s are writable by users other than their owner, e.g. %s: they can change the compiler or the standard library every build uses", n, r.total, r.root, strings.Join(r.writable[:min(n, 3)], ", ")),
				Remediation: "chmod -R go-w " + r.root})
		}
		if n := len(r.foreign); n > 0 {
			c.add(Finding{ID: "goroot.foreign-owner", Severity: "high", Path: r.root,
				Title:       "a root-owned toolchain has files of another user",
				Detail:      fmt.Sprintf("%d entries under %s belong to a non-root user, e.g. %s", n, r.root, strings.Join(r.foreign[:min(n, 3)], ", ")),
				Remediation: "chown -R root:root " + r.root})
		}
		c.goEnvFile(r.root)
	}
}

func (c *checker) walkGOROOT(root string) (r struct {
	root     string
	writable []string
	foreign  []string
	total    int
}) {
	r.root = root
	// walked at its real path: a link in the image never leads the walk
	// out of it
	real, err := c.fs.Resolve(root)
	if err != nil {
		return r
	}
	base := c.fs.Abs(real)
	top, err := c.fs.Stat(root)
	if err != nil {
		return r
	}
	topUID, _ := hostfs.Owner(top)
	_ = filepath.WalkDir(base, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return nil
		}
		fi, err := d.Info()
		if err != nil {
			return nil
		}
		r.total++
		rel, _ := filepath.Rel(base, p)
		name := filepath.ToSlash(filepath.Join(root, rel))
		if writableBy(fi) != "" {
			r.writable = append(r.writable, name)
		}
		if uid, _ := hostfs.Owner(fi); topUID == 0 && uid != 0 {
			r.foreign = append(r.foreign, name)
		}
		return nil
	})
	return r
}

// goEnvFile checks $GOROOT/go.env: settings that weaken the go command for
// every user of the toolchain, and changes from what releases ship.
func (c *checker) goEnvFile(root string) {
	file := root + "/go.env"
	if c.installed != nil {
		if want, ok := c.installed(root); ok {
			data, err := c.fs.ReadFile(file)
			sum := sha256.Sum256(data)
			if got := hex.EncodeToString(sum[:]); err != nil || got != want {
				c.add(Finding{ID: "goroot.goenv-changed", Severity: "high", Path: file,
					Title:       "the toolchain's go.env changed since gotrail installed it",
					Detail:      fmt.Sprintf("%s no longer matches the install manifest (sha256 %s, now %s)", file, want, cmpOr(err, got)),
					Remediation: "gotrail verify --toolchain " + root + " names every changed file; reinstall with gotrail install"})
			}
		}
	}
	m, err := hostenv.ReadGoEnvFile(c.fs, file)
	if err != nil {
		return
	}
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	for _, k := range keys {
		e := m[k]
		where := fmt.Sprintf("%s:%d", file, e.Line)
		ws := Weaknesses(k, e.Value)
		for _, w := range ws {
			c.add(Finding{ID: "goroot.goenv-weakened", Severity: w.severity, Path: file, Variable: k, Where: where,
				Title:       "the toolchain's go.env weakens the go command: " + w.title,
				Detail:      w.detail + "; go.env applies to every user of " + root + " who does not override it",
				Remediation: w.fix + " in " + file})
		}
		if len(ws) > 0 {
			continue
		}
		rel, known := releaseGoEnv[k]
		switch {
		case known && rel == e.Value:
		case k == "GOTOOLCHAIN" && e.Value == "local":
			// distributions pin their packaged toolchain; that is stricter, not weaker
		default:
			c.add(Finding{ID: "goroot.goenv-changed", Severity: "low", Path: file, Variable: k, Where: where,
				Title:       "the toolchain's go.env differs from the release",
				Detail:      fmt.Sprintf("%s=%s in %s; Go releases ship %s", k, e.Value, file, releaseText(k)),
				Remediation: "put site settings in /etc/environment or the users' Go env file, and keep go.env as released"})
		}
	}
}

func releaseText(k string) string {
	if v, ok := releaseGoEnv[k]; ok {
		return k + "=" + v
	}
	return "no " + k
}

// audit reports gaps in the kernel's audit coverage.
func (c *checker) audit(a *Audit) {
	if a.Err != nil {
		c.add(Finding{ID: "audit.unknown", Severity: "medium", Title: "audit coverage could not be checked",
			Detail: a.Err.Error(), Remediation: "run gotrail check as root on a host with auditd (auditctl -s)"})
		return
	}
	st := a.Status
	switch {
	case st.Enabled == 0:
		c.add(Finding{ID: "audit.disabled", Severity: "high", Title: "kernel auditing is off",
			Detail: "the kernel's audit subsystem is disabled: changes to the toolchain and the login files are not recorded", Remediation: "auditctl -e 1 (and -e 1 in /etc/audit/rules.d)"})
	case st.PID == 0:
		c.add(Finding{ID: "audit.no-daemon", Severity: "high", Title: "auditd is not running",
			Detail: "no audit daemon is registered with the kernel: records go to the kernel log at best and are lost when its backlog fills", Remediation: "start auditd (systemctl enable --now auditd)"})
	}
	if n := len(a.Diff.Missing); n > 0 {
		c.add(Finding{ID: "audit.rules-missing", Severity: "high", Title: "gotrail's audit rules are not all loaded",
			Detail: fmt.Sprintf("%d expected rules are not loaded, e.g. %s", n, a.Diff.Missing[0]), Remediation: "gotrail rules --install"})
	}
	if n := len(a.Diff.Extra); n > 0 {
		c.add(Finding{ID: "audit.rules-drift", Severity: "low", Title: "loaded gotrail rules differ from what the host needs",
			Detail: fmt.Sprintf("%d loaded gotrail rules are no longer expected, e.g. %s", n, a.Diff.Extra[0]), Remediation: "gotrail rules --install"})
	}
	if st.Lost > 0 {
		c.add(Finding{ID: "audit.lost", Severity: "medium", Title: "the kernel lost audit records",
			Detail: fmt.Sprintf("the kernel's lost counter is %d: records were dropped when the backlog (%d) was full", st.Lost, st.BacklogLimit), Remediation: "raise the backlog (auditctl -b 8192) and find what floods it"})
	}
}

// ReadAudit reads the kernel's audit status (auditctl -s) and compares its
// rules with the ones this host needs (found, plus the configuration's
// extra GOROOTs).
func ReadAudit(found *rules.Host, extraGOROOTs []string) *Audit {
	ctl := rules.Auditctl{}
	st, err := ctl.Status()
	if err != nil {
		return &Audit{Err: err}
	}
	loaded, err := ctl.List()
	if err != nil {
		return &Audit{Err: err}
	}
	host := found
	if len(extraGOROOTs) > 0 {
		if h, err := rules.Discover(found.Root, extraGOROOTs); err == nil {
			host = h
		}
	}
	plan := rules.Generate(host)
	return &Audit{Status: st, Diff: rules.Compare(rules.All(plan.Groups), loaded)}
}

func cmpOr(err error, s string) string {
	if err != nil {
		return err.Error()
	}
	return s
}
