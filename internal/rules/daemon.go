package rules

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

// sbin is where Debian puts auditd's programs, searched after PATH: a root
// shell from su or sudo often has no sbin in PATH.
var sbin = []string{"/usr/sbin", "/sbin"}

func findBin(name string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, d := range sbin {
		if fi, err := os.Stat(d + "/" + name); err == nil && !fi.IsDir() {
			return d + "/" + name, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or %s", name, strings.Join(sbin, ", "))
}

// ErrNoAuditd says how to install what gotrail needs.
var ErrNoAuditd = errors.New("auditd is not installed: install it with `apt-get install auditd` (Debian, Ubuntu) or `dnf install audit` (Fedora, RHEL), then run gotrail setup again")

// AuditdInstalled reports whether auditd and auditctl are on this host.
func AuditdInstalled() error {
	for _, name := range []string{"auditd", "auditctl"} {
		if _, err := findBin(name); err != nil {
			return fmt.Errorf("%w (%v)", ErrNoAuditd, err)
		}
	}
	return nil
}

// StartAuditd starts auditd the way this host would when the kernel reports
// no audit daemon: systemctl where systemd runs, else the init script
// through service, else auditd itself (it detaches). It waits until the
// kernel reports the daemon's pid, and says what it did.
func StartAuditd(ctl Auditctl, timeout time.Duration) (string, error) {
	st, err := ctl.Status()
	if err != nil {
		return "", err
	}
	if st.PID != 0 {
		return "auditd runs (pid " + strconv.Itoa(st.PID) + ")", nil
	}
	var cmd []string
	switch {
	case isDir("/run/systemd/system"):
		cmd = []string{"systemctl", "start", "auditd"}
	case isFile("/etc/init.d/auditd") && hasBin("service"):
		cmd = []string{"service", "auditd", "start"}
	default:
		bin, err := findBin("auditd")
		if err != nil {
			return "", fmt.Errorf("%w (%v)", ErrNoAuditd, err)
		}
		cmd = []string{bin}
	}
	out, err := exec.Command(cmd[0], cmd[1:]...).CombinedOutput()
	how := strings.Join(cmd, " ")
	if err != nil {
		return "", fmt.Errorf("start auditd with %s: %v: %s", how, err, strings.TrimSpace(string(out)))
	}
	for deadline := time.Now().Add(timeout); ; time.Sleep(50 * time.Millisecond) {
		st, err := ctl.Status()
		if err == nil && st.PID != 0 {
			return "started auditd with " + how + " (pid " + strconv.Itoa(st.PID) + ")", nil
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("started auditd with %s, but after %v the kernel reports no audit daemon (auditctl -s: pid 0); see its messages in syslog or run auditd -f", how, timeout)
		}
	}
}

func isDir(p string) bool  { fi, err := os.Stat(p); return err == nil && fi.IsDir() }
func isFile(p string) bool { fi, err := os.Stat(p); return err == nil && fi.Mode().IsRegular() }
func hasBin(name string) bool {
	_, err := exec.LookPath(name)
	return err == nil
}
