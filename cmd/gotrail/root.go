package main

import (
	"fmt"
	"os"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/hostfs"
	"golang.org/x/sys/unix"
)

// globalOptions are the flags every command takes.
type globalOptions struct {
	config   string
	stateDir string
	root     string
	format   string

	configNamed   bool // --config or GOTRAIL_CONFIG given: the file must exist
	stateDirNamed bool // --state-dir or GOTRAIL_STATE_DIR given: it beats state_dir of the file
}

// thisHost reports whether --root is this machine (none, or "/"): only then
// are the kernel, auditd and /proc this host's to ask.
func (g *globalOptions) thisHost() bool { return isThisHost(g.root) }

func isThisHost(root string) bool { return hostfs.IsThisMachine(root) }

// loadConfig reads the configuration: the default file is optional, a file
// named by --config or GOTRAIL_CONFIG is not.
func (g *globalOptions) loadConfig() (*config.Config, error) {
	cfg, err := config.Load(g.config, !g.configNamed)
	if err != nil {
		return nil, err
	}
	if !g.stateDirNamed && cfg.StateDir != "" {
		g.stateDir = cfg.StateDir
	}
	return cfg, nil
}

func newRootCmd() *cobra.Command {
	var g globalOptions
	cmd := &cobra.Command{
		Use:   "gotrail",
		Short: "An audit trail of the Go toolchain environment, from the kernel's audit subsystem",
		Long: `gotrail records who installed or changed the Go toolchain, GOROOT, the Go
environment (go env -w, GOPROXY, GOSUMDB, GOFLAGS…) and the shell files that set
it, when, from which login and with which command. The facts come from the
kernel's audit subsystem (auditd), not from shell history, which a user can turn
off, edit or lose.

EXIT STATUS
  0  success
  1  findings, differences or failed verification (and --strict input problems)
  2  usage or runtime error; the message says what and where`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	fl := cmd.PersistentFlags()
	fl.StringVar(&g.config, "config", envOr("GOTRAIL_CONFIG", config.DefaultPath), "configuration `file` (optional; env GOTRAIL_CONFIG)")
	fl.StringVar(&g.stateDir, "state-dir", envOr("GOTRAIL_STATE_DIR", "/var/lib/gotrail"), "`dir`ectory of gotrail's own state (env GOTRAIL_STATE_DIR)")
	fl.StringVar(&g.root, "root", "/", "read the host's files (passwd, group, profiles) under `dir`: a mounted image or container filesystem")
	fl.StringVar(&g.format, "format", "", "output `format`: text, json or rfc5424 (default text on a terminal, else json)")
	cmd.PersistentPreRun = func(c *cobra.Command, _ []string) {
		g.configNamed = c.Flags().Changed("config") || os.Getenv("GOTRAIL_CONFIG") != ""
		g.stateDirNamed = c.Flags().Changed("state-dir") || os.Getenv("GOTRAIL_STATE_DIR") != ""
	}
	cmd.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%s: %w (see '%s --help')", c.CommandPath(), err, c.CommandPath())}
	})
	cmd.AddCommand(newEventsCmd(&g), newRulesCmd(&g), newVerifyCmd(&g), newWatchCmd(&g), newGenCmd(&g), newPluginCmd(&g), newSetupCmd(&g), newTestAlertCmd(&g),
		newExplainCmd(&g), newCheckCmd(&g), newSnapshotCmd(&g), newDiffCmd(&g))
	cmd.AddCommand(newInstallCmd(&g))
	cmd.AddCommand(newReportCmd(&g))
	return cmd
}

func envOr(key, def string) string {
	if v := os.Getenv(key); v != "" {
		return v
	}
	return def
}

// isTerminal reports whether f is a terminal.
func isTerminal(f *os.File) bool {
	_, err := unix.IoctlGetTermios(int(f.Fd()), unix.TCGETS)
	return err == nil
}
