package main

import (
	"errors"
	"fmt"
	"io"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/rules"
)

type rulesOptions struct {
	install bool
	check   bool
}

func newRulesCmd(g *globalOptions) *cobra.Command {
	var o rulesOptions
	cmd := &cobra.Command{
		Use:   "rules [--install | --check]",
		Short: "Generate, install and verify the audit rules that watch the Go environment",
		Long: `Derive from the host (or the filesystem under --root) the audit rules that catch
every change to the Go environment, and print them in audit.rules syntax, each
group with a comment saying why:

  gotrail-goroot   every GOROOT: of each go on the login PATHs, the usual install
                   places (/usr/local/go, /usr/lib/go-*, /opt/go*, ~/sdk/go*, downloaded
                   toolchains) and the configuration's goroots, including go.env
  gotrail-goenv    each login user's Go env file (go env -w), before it exists
  gotrail-profile  the login chain: /etc/environment, pam_env, /etc/profile, profile.d,
                   bash and zsh files, and each login user's start-up files
  gotrail-path     go and gofmt in every PATH directory outside GOROOT
  gotrail-exec     every run of a toolchain's go and gofmt (64- and 32-bit callers)
  gotrail-audit    auditd's configuration and the programs that load rules

Login users are root and the users from UID_MIN (/etc/login.defs) with a login
shell; service accounts and whole home directories are left alone.

--install writes ` + rules.RulesFile + ` (0640), creates the
directories a watched file needs (~/.config/go), and loads the rules with
augenrules --load (auditctl -R where augenrules is missing). When the kernel's
rules are immutable (auditctl -e 2) it says so and changes nothing. With --root
it only writes the file under that root.

Every printed rule loads (auditctl -R takes the output as it is): a watch on a
file whose directory does not exist yet (~/.config/go before the first
go env -w) is printed as a comment saying so. --install creates those
directories (owned by the user, mode 0700) and loads the rules; gotrail watch
does the same for a login user added to /etc/passwd later, and removes the
rules of one removed.

--check compares what the kernel has loaded (auditctl -l) with the expected
rules and reports what is missing or extra, whether auditing is enabled, the
backlog and the lost counter; a rule waiting for its directory is listed, not
expected. Fit for cron and monitoring.

EXIT STATUS
  0  rules printed or installed; --check: everything loaded
  1  --check: a rule missing or extra, or auditing disabled
  2  usage or runtime error (not root, immutable rules, auditctl failed)`,
		Example: `  gotrail rules                       # print the rules for this host
  gotrail rules --install             # install and load them (as root)
  gotrail rules --check || alert      # from cron
  gotrail rules --root /mnt/image     # rules for a mounted image`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runRules(g, &o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.install, "install", false, "write "+rules.RulesFile+" and load it")
	f.BoolVar(&o.check, "check", false, "compare the loaded rules with the expected ones; exit 1 on any difference")
	cmd.MarkFlagsMutuallyExclusive("install", "check")
	return cmd
}

func runRules(g *globalOptions, o *rulesOptions, w io.Writer) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	host, err := rules.Discover(g.root, cfg.GOROOTs)
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	plan := rules.Generate(host)
	live := g.thisHost()
	ctl := rules.Auditctl{}
	switch {
	case o.check:
		if !live {
			return &usageError{errors.New("rules: --check compares with this kernel's rules; it does not take --root")}
		}
		return checkRules(ctl, plan, w)
	case o.install:
		var kernel rules.Loader
		if live {
			kernel = ctl
		}
		a, err := rules.Apply(g.root, plan, kernel)
		if err != nil {
			return fmt.Errorf("rules: %w", err)
		}
		if a.LoadedWith == "" {
			fmt.Fprintf(w, "wrote %d rules to %s (not loaded: --root is not this host)\n", a.Rules, a.File)
		} else {
			fmt.Fprintf(w, "wrote %d rules to %s and loaded them with %s\n", a.Rules, a.File, a.LoadedWith)
		}
		return nil
	default:
		_, err := io.WriteString(w, rules.Render(plan.Groups))
		return err
	}
}

func checkRules(ctl rules.Auditctl, plan *rules.Plan, w io.Writer) error {
	st, err := ctl.Status()
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	loaded, err := ctl.List()
	if err != nil {
		return fmt.Errorf("rules: %w", err)
	}
	expected := rules.All(plan.Groups)
	d := rules.Compare(expected, loaded)
	state := map[int]string{0: "disabled", 1: "enabled", 2: "enabled, immutable"}[st.Enabled]
	fmt.Fprintf(w, "audit: %s, auditd pid %d, backlog %d of %d, lost %d\n", state, st.PID, st.Backlog, st.BacklogLimit, st.Lost)
	fmt.Fprintf(w, "rules: %d expected, %d missing, %d extra\n", len(expected), len(d.Missing), len(d.Extra))
	for _, r := range rules.Pending(plan.Groups) {
		fmt.Fprintf(w, "waiting: %s (%s)\n", r, r.Pending)
	}
	for _, m := range d.Missing {
		fmt.Fprintf(w, "missing: %s\n", m)
	}
	for _, x := range d.Extra {
		fmt.Fprintf(w, "extra:   %s\n", x)
	}
	switch {
	case st.Enabled == 0:
		return &findingsError{"rules: auditing is disabled (auditctl -e 1 enables it)"}
	case !d.Empty():
		return &findingsError{fmt.Sprintf("rules: %d missing, %d extra (gotrail rules --install loads the expected set)", len(d.Missing), len(d.Extra))}
	}
	return nil
}
