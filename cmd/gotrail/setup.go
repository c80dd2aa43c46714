package main

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/trail"
)

type setupOptions struct {
	mode      string
	uninstall bool
	bin       string
}

const (
	pluginConf = "/etc/audit/plugins.d/gotrail.conf"
	unitFile   = "/etc/systemd/system/gotrail.service"
)

// defaultConfig is written by setup when there is none: every part is
// optional, so it only shows where things go.
const defaultConfig = `# gotrail configuration (written by gotrail setup). Every part is optional.
# host = "web-01"                    # default: the hostname
state_dir = %q

[audit]
source = "auto"
log = "/var/log/audit/audit.log"

# Who may change what; first match wins; no match = not authorized.
# [[policy]]
# kinds = ["goroot.modify"]
# paths = ["/usr/local/go"]
# allow_users = ["goadmin"]
# allow_groups = ["goadmins"]

[retention]
install = 180
manifest = 0
snapshot = 90
event = 180
`

func newSetupCmd(g *globalOptions) *cobra.Command {
	var o setupOptions
	cmd := &cobra.Command{
		Use:   "setup [--uninstall]",
		Short: "Install gotrail on this host: configuration, key, audit rules, daemon",
		Long: `Set the host up for gotrail, as root, in this order:

  0. check that auditd is installed: if not, say how to install it and stop
     before writing anything
  1. the configuration (` + config.DefaultPath + `), written only if there is none
  2. the state directory and the trail's signing key; the public key is printed:
     keep it off the host for gotrail verify --pubkey
  3. auditd, started if it is not running, the way the host would: systemctl
     start auditd where systemd runs, else service auditd start, else auditd;
     setup waits until the kernel reports its pid
  4. the audit rules (gotrail rules --install): each login user's ~/.config/go
     is created, and every rule is loaded (auditd logs the load)
  5. the daemon: a systemd unit (` + unitFile + `, enabled and started) where systemd
     runs, else the auditd plugin (` + pluginConf + `; auditd is told to
     reload, and setup waits up to 15 s to see it start the plugin, asking
     again every 3 s). The plugin logs to syslog: auditd gives it no stderr

--uninstall removes the daemon's unit or plugin and the audit rules. It keeps the
configuration, the state directory and the trail: they are evidence.

With --root the files are written under that root and nothing is loaded or started.

EXIT STATUS
  0  done
  2  a step failed; the message names it, and the steps before it stay done`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runSetup(g, &o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.mode, "mode", "auto", "how the daemon runs: auto, systemd or plugin")
	f.BoolVar(&o.uninstall, "uninstall", false, "remove the daemon and the audit rules (keeps configuration and trail)")
	f.StringVar(&o.bin, "bin", "", "path of the gotrail binary the daemon runs (default: this one)")
	return cmd
}

// runSetup sets the host up in the order newSetupCmd's help gives, or
// with --uninstall takes the daemon and the rules away.
func runSetup(g *globalOptions, o *setupOptions, w io.Writer) error {
	live := g.thisHost()
	if live && os.Geteuid() != 0 {
		return errors.New("setup: run as root (it writes /etc and loads audit rules)")
	}
	mode, err := setupMode(g.root, o.mode)
	if err != nil {
		return err
	}
	if o.uninstall {
		return uninstall(g, mode, live, func(p string) string { return filepath.Join(g.root, p) }, w)
	}
	if live {
		if err := rules.AuditdInstalled(); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	// every write under --root goes through hostfs: an image's links
	// never lead onto this host
	h := hostfs.New(g.root)
	gl, host, err := setupConfig(g, h, w)
	if err != nil {
		return err
	}
	if err := setupKey(h, gl.stateDir, host, w); err != nil {
		return err
	}
	// auditd before the rules, so that the load of the rules is in its log
	if live {
		how, err := rules.StartAuditd(rules.Auditctl{}, 15*time.Second)
		if err != nil {
			return fmt.Errorf("setup: %w", err)
		}
		fmt.Fprintln(w, how)
	}
	if err := runRules(gl, &rulesOptions{install: true}, w); err != nil {
		return fmt.Errorf("setup: audit rules: %w", err)
	}
	return setupDaemon(g, gl, h, mode, o.bin, w)
}

// setupMode is how the daemon runs: --mode, or for auto a systemd unit
// where systemd runs under root, else the auditd plugin.
func setupMode(root, mode string) (string, error) {
	if mode == "auto" {
		if _, err := os.Stat(filepath.Join(root, "/run/systemd/system")); err == nil {
			return "systemd", nil
		}
		return "plugin", nil
	}
	if mode != "systemd" && mode != "plugin" {
		return "", &usageError{fmt.Errorf("setup: --mode %q: want auto, systemd or plugin", mode)}
	}
	return mode, nil
}

// setupConfig writes the default configuration if there is none and
// loads the one there. It returns the global options as the later steps
// use them, naming that file and its state directory, and the host name
// the key is made for.
func setupConfig(g *globalOptions, h hostfs.FS, w io.Writer) (*globalOptions, string, error) {
	cfgPath := g.config
	if !h.Exists(cfgPath) {
		if err := h.WriteFile(cfgPath, []byte(fmt.Sprintf(defaultConfig, g.stateDir)), 0o644, 0o755); err != nil {
			return nil, "", fmt.Errorf("setup: configuration: %w", err)
		}
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(g.root, cfgPath))
	} else {
		fmt.Fprintf(w, "kept %s\n", filepath.Join(g.root, cfgPath))
	}
	realCfg, err := h.Resolve(cfgPath)
	if err != nil {
		return nil, "", fmt.Errorf("setup: configuration: %w", err)
	}
	gl := *g
	gl.config, gl.configNamed = h.Abs(realCfg), true
	cfg, err := gl.loadConfig()
	if err != nil {
		return nil, "", fmt.Errorf("setup: %w", err)
	}
	host := cfg.Host
	if host == "" {
		host = hostName(g.root)
	}
	return &gl, host, nil
}

// setupKey makes the state directory and the trail's signing key, and
// prints the public key: gotrail verify --pubkey needs it from off the
// host.
func setupKey(h hostfs.FS, stateDir, host string, w io.Writer) error {
	state, err := h.MkdirAll(stateDir, 0o700)
	if err != nil {
		return fmt.Errorf("setup: state directory: %w", err)
	}
	_, vkey, created, err := trail.Key(state, host)
	if err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	verb := "kept"
	if created {
		verb = "made"
	}
	fmt.Fprintf(w, "%s the trail's signing key in %s; its public key (keep a copy off this host):\n  %s\n", verb, state, vkey)
	return nil
}

// setupDaemon writes the daemon's auditd plugin or systemd unit, running
// bin (default: this binary) with the configuration g names and the state
// directory of gl, and on this host starts it.
func setupDaemon(g, gl *globalOptions, h hostfs.FS, mode, bin string, w io.Writer) error {
	if bin == "" {
		var err error
		if bin, err = os.Executable(); err != nil {
			return fmt.Errorf("setup: %w", err)
		}
	}
	live := g.thisHost()
	switch mode {
	case "plugin":
		if err := writeGenerated(h, "audisp", bin, g.config, gl.stateDir, pluginConf, 0o640); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(g.root, pluginConf))
		if live {
			said, err := rules.ReloadAuditd(rules.Auditctl{}, bin, true, 15*time.Second)
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			fmt.Fprintln(w, said)
		}
	case "systemd":
		if err := writeGenerated(h, "systemd", bin, g.config, gl.stateDir, unitFile, 0o644); err != nil {
			return err
		}
		fmt.Fprintf(w, "wrote %s\n", filepath.Join(g.root, unitFile))
		if live {
			for _, args := range [][]string{{"daemon-reload"}, {"enable", "--now", "gotrail.service"}} {
				if out, err := exec.Command("systemctl", args...).CombinedOutput(); err != nil {
					return fmt.Errorf("setup: systemctl %v: %v: %s", args, err, out)
				}
			}
			fmt.Fprintln(w, "enabled and started gotrail.service")
		}
	}
	return nil
}

// writeGenerated writes what gotrail gen KIND prints to path under the
// host's root, atomically.
func writeGenerated(h hostfs.FS, kind, bin, configFile, stateDir, path string, mode os.FileMode) error {
	var b bytes.Buffer
	if err := renderGen(kind, bin, configFile, stateDir, &b); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if err := h.WriteFile(path, b.Bytes(), mode, 0o755); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	return nil
}

// pluginBin is the program the plugin configuration runs, "" for none.
func pluginBin(h hostfs.FS) string {
	data, err := h.ReadFile(pluginConf)
	if err != nil {
		return ""
	}
	for _, line := range strings.Split(string(data), "\n") {
		if k, v, ok := strings.Cut(line, "="); ok && strings.TrimSpace(k) == "path" {
			return strings.TrimSpace(v)
		}
	}
	return ""
}

func uninstall(g *globalOptions, mode string, live bool, under func(string) string, w io.Writer) error {
	h := hostfs.New(g.root)
	switch mode {
	case "systemd":
		if live {
			if out, err := exec.Command("systemctl", "disable", "--now", "gotrail.service").CombinedOutput(); err != nil {
				fmt.Fprintf(w, "systemctl disable --now gotrail.service failed: %v: %s\n", err, strings.TrimSpace(string(out)))
			} else {
				fmt.Fprintln(w, "stopped and disabled gotrail.service")
			}
		}
		removeIfThere(h, unitFile, w)
	case "plugin":
		bin := pluginBin(h)
		if removeIfThere(h, pluginConf, w) && live {
			said, err := rules.ReloadAuditd(rules.Auditctl{}, bin, false, 15*time.Second)
			if err != nil {
				return fmt.Errorf("setup: %w", err)
			}
			fmt.Fprintln(w, said)
		}
	}
	gl := *g
	if _, err := gl.loadConfig(); err != nil {
		return fmt.Errorf("setup: %w", err)
	}
	if removeIfThere(h, rules.RulesFile, w) && live {
		n, err := removeLoadedRules(rules.Auditctl{})
		if err != nil {
			return fmt.Errorf("setup: removed %d of gotrail's rules from the kernel, then: %w", n, err)
		}
		fmt.Fprintf(w, "removed %d of gotrail's rules from the kernel\n", n)
		if done, err := rules.Recompile(); err != nil {
			return fmt.Errorf("setup: %w", err)
		} else if done {
			fmt.Fprintln(w, "rewrote /etc/audit/audit.rules with augenrules: gotrail's rules no longer load at boot")
		}
	}
	fmt.Fprintf(w, "kept %s and %s: the trail is evidence\n", under(g.config), under(gl.stateDir))
	return nil
}

// removeLoadedRules deletes every loaded rule with a gotrail key, in one
// auditctl run (one event in the trail).
func removeLoadedRules(ctl rules.Auditctl) (int, error) {
	loaded, err := ctl.List()
	if err != nil {
		return 0, err
	}
	var del []rules.Rule
	for _, l := range loaded {
		if r, ok := rules.ParseLoaded(l); ok {
			del = append(del, r)
		}
	}
	if len(del) == 0 {
		return 0, nil
	}
	if err := ctl.Apply(nil, del); err != nil {
		return 0, err
	}
	return len(del), nil
}

func removeIfThere(h hostfs.FS, path string, w io.Writer) bool {
	removed, err := h.Remove(path)
	if err != nil {
		fmt.Fprintf(w, "could not remove %s: %v\n", h.Abs(path), err)
	}
	if removed {
		fmt.Fprintf(w, "removed %s\n", h.Abs(path))
	}
	return removed
}
