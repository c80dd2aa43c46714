package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/check"
	"github.com/gotrail/gotrail/internal/hostenv"
	"github.com/gotrail/gotrail/internal/install"
)

type checkOptions struct {
	users  []string
	failOn string
}

func newCheckCmd(g *globalOptions) *cobra.Command {
	o := checkOptions{failOn: "high"}
	cmd := &cobra.Command{
		Use:   "check [--user NAME]... [--fail-on SEVERITY]",
		Short: "Find risks in the host's Go environment",
		Long: `Simulate the login of every login user (or those named with --user), resolve
the Go environment each one's go command sees, and report what is risky:

  path.*     PATH entries that are empty, relative or ".", writable by others,
             owned by another user, missing, temporary, repeated; a go found
             before the toolchain GOROOT or PATH intends (shadowing)
  goroot.*   toolchains others can change; go.env weakened or changed from
             the release; GOROOT not the go binary's own; several toolchains
  supply.*   GOSUMDB=off, GONOSUMDB/GOPRIVATE/GONOPROXY matching everything,
             GOINSECURE, GOPROXY over http or only direct, GOFLAGS with
             -insecure, -mod=mod or -toolexec, GOTOOLCHAIN=path or downloads
             without verification, CC/CXX/CGO_* pointing into writable places
  chain.*    login files others can write, or that source such files;
             /etc/environment lines with $VAR (pam_env does not expand them);
             PATH appends that grow each time a file is read; an open umask
  audit.*    auditd not running, gotrail's rules missing or drifted, records
             lost by the kernel (only for this host, not for --root)

Each finding has an id, a severity (info, low, medium, high, critical), the
user, variable or path it concerns, where it is set (file:line), and a fix.
A clean host reports nothing of medium or worse. As a plain user, check reads
what that user can read.

EXIT STATUS
  0  no finding at or above --fail-on (default high)
  1  a finding at or above --fail-on
  2  usage or runtime error`,
		Example: `  gotrail check
  gotrail check --user alice --format json
  gotrail check --root /mnt/image --fail-on medium   # a container image in CI`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runCheck(cmd, g, &o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringArrayVar(&o.users, "user", nil, "check only this login `user` (repeatable)")
	cmd.Flags().StringVar(&o.failOn, "fail-on", o.failOn, "exit 1 when a finding of this `severity` or worse exists: info, low, medium, high, critical, or none")
	return cmd
}

// checkReport is check's JSON output.
type checkReport struct {
	Findings []check.Finding `json:"findings"`
	Summary  map[string]int  `json:"summary"`
	Users    []string        `json:"users"`
}

func runCheck(cmd *cobra.Command, g *globalOptions, o *checkOptions, w io.Writer) error {
	if o.failOn != "none" && check.Rank(o.failOn) < 0 {
		return &usageError{fmt.Errorf("check: --fail-on %q: want one of %s or none", o.failOn, strings.Join(check.Severities, ", "))}
	}
	format, err := outputFormat(g, "check", w)
	if err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	start := time.Now()
	host, err := hostenv.Load(cmd.Context(), g.root, cfg.Host, o.users)
	if err != nil {
		return fmt.Errorf("check: %w", err)
	}
	in := check.Input{Host: host}
	if g.thisHost() {
		in.Audit = check.ReadAudit(host.Found, cfg.GOROOTs)
		in.InstalledGoEnv = install.InstalledGoEnv(g.stateDir)
	}
	findings := check.Run(in)
	rep := checkReport{Findings: findings, Summary: map[string]int{}}
	if rep.Findings == nil {
		rep.Findings = []check.Finding{}
	}
	for _, s := range check.Severities {
		rep.Summary[s] = 0
	}
	worst := -1
	for _, f := range findings {
		rep.Summary[f.Severity]++
		worst = max(worst, check.Rank(f.Severity))
	}
	for _, l := range host.Logins {
		rep.Users = append(rep.Users, l.Env.Name)
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		if err := enc.Encode(rep); err != nil {
			return err
		}
	} else {
		colour := false
		if f, ok := w.(*os.File); ok && isTerminal(f) && os.Getenv("NO_COLOR") == "" {
			colour = true
		}
		printFindings(w, findings, colour)
		fmt.Fprintf(w, "%d critical, %d high, %d medium, %d low, %d info; %d users, %d toolchains checked in %d ms\n",
			rep.Summary["critical"], rep.Summary["high"], rep.Summary["medium"], rep.Summary["low"], rep.Summary["info"],
			len(host.Logins), len(host.Toolchains), time.Since(start).Milliseconds())
	}
	if o.failOn != "none" && worst >= check.Rank(o.failOn) {
		return &findingsError{fmt.Sprintf("check: findings of severity %s or worse", o.failOn)}
	}
	return nil
}

var severityColour = map[string]string{"critical": "\x1b[1;31m", "high": "\x1b[31m", "medium": "\x1b[33m", "low": "\x1b[36m", "info": "\x1b[2m"}

func printFindings(w io.Writer, findings []check.Finding, colour bool) {
	for i := len(check.Severities) - 1; i >= 0; i-- {
		sev := check.Severities[i]
		var group []check.Finding
		for _, f := range findings {
			if f.Severity == sev {
				group = append(group, f)
			}
		}
		if len(group) == 0 {
			continue
		}
		head := strings.ToUpper(sev)
		if colour {
			head = severityColour[sev] + head + "\x1b[0m"
		}
		fmt.Fprintf(w, "%s (%d)\n", head, len(group))
		for _, f := range group {
			var about []string
			if f.User != "" {
				about = append(about, "user "+safe(f.User))
			}
			if f.Variable != "" {
				about = append(about, safe(f.Variable))
			}
			if f.Path != "" {
				about = append(about, safe(f.Path))
			}
			fmt.Fprintf(w, "  %s  %s [%s]\n", f.ID, f.Title, strings.Join(about, ", "))
			fmt.Fprintf(w, "      %s\n", safe(f.Detail))
			if f.Where != "" {
				fmt.Fprintf(w, "      set at: %s\n", safe(f.Where))
			}
			fmt.Fprintf(w, "      fix: %s\n", safe(f.Remediation))
		}
	}
}
