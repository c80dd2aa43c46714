package rules

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path"
	"slices"
	"strconv"
	"strings"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// Status is the kernel's audit status (auditctl -s).
type Status struct {
	Enabled      int // 0 off, 1 on, 2 on and immutable until reboot
	PID          int // the audit daemon, 0 for none
	Backlog      int
	BacklogLimit int
	Lost         int
}

// ErrImmutable is returned when the kernel's rules are locked (-e 2).
var ErrImmutable = errors.New("the kernel's audit rules are immutable (auditctl -e 2): a reboot is needed to load new rules; nothing was changed")

// Auditctl runs auditctl; tests and hosts without it in PATH can set Path.
type Auditctl struct {
	Path string // default: auditctl from PATH, /sbin or /usr/sbin
}

func (a Auditctl) bin() (string, error) {
	if a.Path != "" {
		return a.Path, nil
	}
	if p, err := findBin("auditctl"); err == nil {
		return p, nil
	}
	return "", errors.New("auditctl not found: install the Debian package auditd (apt-get install auditd)")
}

func (a Auditctl) run(args ...string) ([]byte, error) {
	bin, err := a.bin()
	if err != nil {
		return nil, err
	}
	var stderr bytes.Buffer
	cmd := exec.Command(bin, args...)
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		return out, fmt.Errorf("auditctl %s: %v: %s", strings.Join(args, " "), err, strings.TrimSpace(stderr.String()))
	}
	return out, nil
}

// Status reads the kernel's audit status.
func (a Auditctl) Status() (Status, error) {
	out, err := a.run("-s")
	if err != nil {
		return Status{}, err
	}
	return parseStatus(out)
}

func parseStatus(out []byte) (Status, error) {
	var st Status
	found := false
	for _, line := range strings.Split(string(out), "\n") {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		n, err := strconv.Atoi(strings.Fields(v)[0])
		if err != nil {
			continue
		}
		switch k {
		case "enabled":
			st.Enabled, found = n, true
		case "pid":
			st.PID = n
		case "backlog":
			st.Backlog = n
		case "backlog_limit":
			st.BacklogLimit = n
		case "lost":
			st.Lost = n
		}
	}
	if !found {
		return st, fmt.Errorf("auditctl -s: no enabled line in %q", out)
	}
	return st, nil
}

// List returns the rules the kernel has loaded, as auditctl -l prints them.
func (a Auditctl) List() ([]string, error) {
	out, err := a.run("-l")
	if err != nil {
		return nil, err
	}
	var rules []string
	for _, line := range strings.Split(string(out), "\n") {
		line = strings.TrimSpace(line)
		if line == "" || line == "No rules" {
			continue
		}
		rules = append(rules, line)
	}
	return rules, nil
}

// Diff is how the loaded rules differ from the expected ones. Only rules
// with a gotrail key count as extra: the host's other rules are not ours.
type Diff struct {
	Missing []string
	Extra   []string
}

// Empty reports whether nothing differs.
func (d Diff) Empty() bool { return len(d.Missing) == 0 && len(d.Extra) == 0 }

// Compare compares expected rules with auditctl -l lines.
func Compare(expected []Rule, loaded []string) Diff {
	var d Diff
	want := make(map[string]bool, len(expected))
	for _, r := range expected {
		s := r.String()
		want[s] = true
		if !slices.Contains(loaded, s) {
			d.Missing = append(d.Missing, s)
		}
	}
	for _, l := range loaded {
		if !want[l] && ours(l) {
			d.Extra = append(d.Extra, l)
		}
	}
	return d
}

// ours reports whether an auditctl -l line carries a gotrail key.
func ours(line string) bool {
	return strings.Contains(line, " -k gotrail-") || strings.Contains(line, " -F key=gotrail-")
}

// RulesFile is where --install puts the rules, for augenrules to merge.
const RulesFile = "/etc/audit/rules.d/60-gotrail.rules"

// Install creates the directories the plan needs, each owned by its user
// with mode 0700, activates the rules that waited for them, and writes the
// rules file under root (0640, replaced atomically). It loads nothing. Every
// write goes through hostfs: an image's links never take it outside root.
func Install(root string, plan *Plan) (string, error) {
	h := hostfs.New(root)
	for _, d := range plan.Dirs {
		if _, err := h.MkdirOwned(d.Home, d.Path, 0o700, d.UID, d.GID); err != nil {
			return "", err
		}
	}
	plan.Activate(h)
	if err := h.WriteFile(RulesFile, []byte(Render(plan.Groups)), 0o640, 0o750); err != nil {
		return "", err
	}
	return h.Abs(RulesFile), nil
}

// Activate clears Pending on every rule whose directory now exists.
func (p *Plan) Activate(h hostfs.FS) {
	for gi := range p.Groups {
		for ri, r := range p.Groups[gi].Rules {
			if r.Pending != "" && r.Watch != "" && h.IsDir(path.Dir(r.Watch)) {
				p.Groups[gi].Rules[ri].Pending = ""
			}
		}
	}
}

// Loader loads an installed rules file into the kernel (Auditctl).
type Loader interface {
	Status() (Status, error)
	Load(file string) (how string, err error)
}

// Applied says what Apply did.
type Applied struct {
	File  string // the rules file, as this machine names it
	Rules int
	// LoadedWith is the command that loaded the file; "" when nothing was
	// loaded (an image, not this host).
	LoadedWith string
}

// Apply writes plan's rules file under root and, given the kernel (root is
// this host), loads it. When the kernel's rules are immutable it refuses
// first, writing nothing.
func Apply(root string, plan *Plan, k Loader) (Applied, error) {
	if k != nil {
		st, err := k.Status()
		if err != nil {
			return Applied{}, err
		}
		if st.Enabled == 2 {
			return Applied{}, ErrImmutable
		}
	}
	file, err := Install(root, plan)
	if err != nil {
		return Applied{}, err
	}
	a := Applied{File: file, Rules: len(All(plan.Groups))}
	if k == nil {
		return a, nil
	}
	how, err := k.Load(file)
	if err != nil {
		return a, fmt.Errorf("wrote %s but loading failed: %w", file, err)
	}
	a.LoadedWith = how
	return a, nil
}

// Load loads the installed rules into the kernel the way auditd's tools do:
// augenrules --load (which merges rules.d into audit.rules, so the rules
// also load at boot), or auditctl -R on the file where augenrules is
// missing. It refuses when the kernel's rules are immutable.
func (a Auditctl) Load(file string) (string, error) {
	st, err := a.Status()
	if err != nil {
		return "", err
	}
	if st.Enabled == 2 {
		return "", ErrImmutable
	}
	aug := ""
	for _, p := range []string{"/usr/sbin/augenrules", "/sbin/augenrules"} {
		if _, err := os.Stat(p); err == nil {
			aug = p
			break
		}
	}
	if aug == "" {
		if _, err := a.run("-R", file); err != nil {
			return "", err
		}
		return "auditctl -R " + file, nil
	}
	var out bytes.Buffer
	cmd := exec.Command(aug, "--load")
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		return "", fmt.Errorf("%s --load: %v: %s", aug, err, strings.TrimSpace(out.String()))
	}
	return aug + " --load", nil
}

// Recompile rewrites /etc/audit/audit.rules from rules.d with augenrules,
// loading nothing: after gotrail's file is removed, the rules it held must
// not come back at boot. Without augenrules there is nothing to do.
func Recompile() (bool, error) {
	for _, p := range []string{"/usr/sbin/augenrules", "/sbin/augenrules"} {
		if _, err := os.Stat(p); err != nil {
			continue
		}
		if out, err := exec.Command(p).CombinedOutput(); err != nil {
			return false, fmt.Errorf("%s: %v: %s", p, err, strings.TrimSpace(string(out)))
		}
		return true, nil
	}
	return false, nil
}

// ParseLoaded reads back a gotrail rule as auditctl -l lists it; ok is
// false for anything else (the host's own rules are never touched).
func ParseLoaded(line string) (Rule, bool) {
	if !ours(line) {
		return Rule{}, false
	}
	f := strings.Fields(line)
	var r Rule
	switch {
	case len(f) == 6 && f[0] == "-w" && f[2] == "-p" && f[4] == "-k":
		return Rule{Watch: f[1], Perm: f[3], Key: f[5]}, true
	case len(f) >= 6 && f[0] == "-a" && f[1] == "always,exit":
		for i := 2; i+1 < len(f); i += 2 {
			switch f[i] {
			case "-S":
				r.Syscalls = strings.Split(f[i+1], ",")
			case "-F":
				k, v, _ := strings.Cut(f[i+1], "=")
				switch k {
				case "arch":
					r.Arch = v
				case "key":
					r.Key = v
				default:
					r.Fields = append(r.Fields, f[i+1])
				}
			default:
				return Rule{}, false
			}
		}
		return r, r.Arch != "" && r.Key != "" && r.String() == line
	}
	return Rule{}, false
}

// Apply removes del and adds add with one auditctl -R of a rules file, so
// that the kernel logs them as one process's run.
func (a Auditctl) Apply(add, del []Rule) error {
	var b strings.Builder
	for _, r := range del {
		b.WriteString(strings.Join(r.DeleteArgs(), " ") + "\n")
	}
	for _, r := range add {
		b.WriteString(r.String() + "\n")
	}
	f, err := os.CreateTemp("", "gotrail-rules-*.rules")
	if err != nil {
		return fmt.Errorf("rules file for auditctl -R: %w", err)
	}
	defer os.Remove(f.Name())
	_, err = f.WriteString(b.String())
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("write %s: %w", f.Name(), err)
	}
	_, err = a.run("-R", f.Name())
	return err
}

// Delete removes a rule from the kernel.
func (a Auditctl) Delete(r Rule) error {
	_, err := a.run(r.DeleteArgs()...)
	return err
}
