package main

import (
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/hostenv"
	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/shellchain"
)

type explainOptions struct {
	user        string
	shell       string
	login       bool
	interactive bool
}

func newExplainCmd(g *globalOptions) *cobra.Command {
	var o explainOptions
	cmd := &cobra.Command{
		Use:   "explain VAR [--user NAME] [--shell bash|sh|zsh] [--login] [--interactive]",
		Short: "Show how a variable gets its value through the login chain, step by step",
		Long: `Simulate a user's login and show every step that set VAR: pam_env
(/etc/security/pam_env.conf, /etc/environment, ~/.pam_environment where PAM reads
it), then the shell's own files, following source and "." into other files:

  bash login        /etc/profile, then the first of ~/.bash_profile,
                    ~/.bash_login, ~/.profile
  bash interactive  /etc/bash.bashrc, ~/.bashrc
  sh (dash)         /etc/profile, ~/.profile; interactive: $ENV
  zsh               zshenv, zprofile, zshrc, zlogin (in /etc/zsh and ZDOTDIR)

Without --login or --interactive the login is both, as an SSH session is. The
shell is the user's login shell unless --shell names one.

Nothing is executed and nothing is written: files are read through --root, and
id, whoami, uname, hostname, dirname, basename, which, command -v and type are
answered by the simulator. Any other command is listed as unresolved; a step
that used one says so, since the real value may differ.

Each step is "file:line  before -> after". Files are named as the host sees
them, also under --root.

EXIT STATUS
  0  the variable was explained (set or not)
  2  usage or runtime error`,
		Example: `  gotrail explain PATH
  gotrail explain GOPROXY --user alice --format json
  gotrail explain GOROOT --root /mnt/image --user build --shell sh --login`,
		Args: cobra.ExactArgs(1),
		RunE: func(cmd *cobra.Command, args []string) error {
			o.login = o.login || !cmd.Flags().Changed("interactive") && !cmd.Flags().Changed("login")
			o.interactive = o.interactive || !cmd.Flags().Changed("interactive") && !cmd.Flags().Changed("login")
			return runExplain(cmd, g, &o, args[0], cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.user, "user", "", "the login `user` to simulate (default: the user running gotrail)")
	f.StringVar(&o.shell, "shell", "", "simulate this `shell`: bash, sh or zsh (default: the user's login shell)")
	f.BoolVar(&o.login, "login", false, "a login shell (reads /etc/profile and the profile files)")
	f.BoolVar(&o.interactive, "interactive", false, "an interactive shell (reads the rc files)")
	return cmd
}

// explanation is explain's JSON output.
type explanation struct {
	Variable   string                  `json:"variable"`
	Value      *string                 `json:"value"`
	Exported   bool                    `json:"exported"`
	User       string                  `json:"user"`
	Shell      string                  `json:"shell"`
	Mode       string                  `json:"mode"`
	Steps      []shellchain.Step       `json:"steps"`
	Unresolved []shellchain.Unresolved `json:"unresolved"`
	Files      []shellchain.ChainFile  `json:"files"`
	Problems   []string                `json:"problems,omitempty"`
}

func runExplain(cmd *cobra.Command, g *globalOptions, o *explainOptions, variable string, w io.Writer) error {
	if !validName(variable) {
		return &usageError{fmt.Errorf("explain: %q is not a variable name", variable)}
	}
	switch o.shell {
	case "", "bash", "sh", "zsh":
	default:
		return &usageError{fmt.Errorf("explain: --shell %q: want bash, sh or zsh", o.shell)}
	}
	format, err := outputFormat(g, "explain", w)
	if err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	h := hostfs.New(g.root)
	name := o.user
	if name == "" {
		n, ok := enrich.NewNames(g.root).UserName(uint32(os.Getuid()))
		if !ok {
			return fmt.Errorf("explain: uid %d has no user in %s; name one with --user", os.Getuid(), h.Abs("/etc/passwd"))
		}
		name = n
	}
	u, err := shellchain.LookupUser(h, name)
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	res, err := shellchain.Simulate(cmd.Context(), shellchain.Options{
		FS: h, User: u, Shell: o.shell, Login: o.login, Interactive: o.interactive,
		Host:  hostenv.HostInfo(h, cfg.Host),
		Track: func(n string) bool { return n == variable },
	})
	if err != nil {
		return fmt.Errorf("explain: %w", err)
	}
	x := explanation{Variable: variable, User: u.Name, Shell: res.Shell, Mode: res.Mode,
		Steps: res.StepsOf(variable), Unresolved: res.Unresolved, Files: res.Files, Problems: res.Problems}
	if v, ok := res.Vars[variable]; ok {
		x.Value, x.Exported = &v.Value, v.Exported
	}
	if x.Steps == nil {
		x.Steps = []shellchain.Step{}
	}
	if x.Unresolved == nil {
		x.Unresolved = []shellchain.Unresolved{}
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetEscapeHTML(false)
		return enc.Encode(x)
	}
	printExplanation(w, &x)
	return nil
}

func validName(s string) bool {
	if s == "" || s[0] >= '0' && s[0] <= '9' {
		return false
	}
	for _, c := range s {
		if !(c == '_' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c >= '0' && c <= '9') {
			return false
		}
	}
	return true
}

func show(v *string) string {
	if v == nil {
		return "(unset)"
	}
	if *v == "" {
		return `""`
	}
	return safe(*v)
}

func printExplanation(w io.Writer, x *explanation) {
	fmt.Fprintf(w, "%s for %s (%s, %s shell)\n", x.Variable, safe(x.User), safe(x.Shell), x.Mode)
	width := 0
	where := make([]string, len(x.Steps))
	for i, s := range x.Steps {
		where[i] = fmt.Sprintf("%s:%d", safe(s.File), s.Line)
		width = max(width, len(where[i]))
	}
	for i, s := range x.Steps {
		fmt.Fprintf(w, "  %-*s  %s -> %s\n", width, where[i], show(s.Before), show(s.After))
		for _, d := range s.DependsOn {
			fmt.Fprintf(w, "  %-*s  depends on: %s\n", width, "", safe(d))
		}
	}
	if len(x.Steps) == 0 {
		fmt.Fprintln(w, "  no file of the login chain sets it")
	}
	switch {
	case x.Value == nil:
		fmt.Fprintln(w, "value: (unset)")
	case !x.Exported:
		fmt.Fprintf(w, "value: %s (a shell variable, not exported: programs such as go do not see it)\n", show(x.Value))
	default:
		fmt.Fprintf(w, "value: %s\n", show(x.Value))
	}
	if len(x.Unresolved) > 0 {
		fmt.Fprintln(w, "unresolved commands (not run; whatever they would set or print is missing above):")
		for _, u := range x.Unresolved {
			fmt.Fprintf(w, "  %s:%d  %s\n", safe(u.File), u.Line, safe(u.Command))
		}
	}
	var read, unreadable []string
	for _, f := range x.Files {
		switch {
		case f.Error != "":
			unreadable = append(unreadable, safe(f.Path)+" ("+safe(f.Error)+")")
		case !f.Missing:
			read = append(read, safe(f.Path))
		}
	}
	if len(read) > 0 {
		fmt.Fprintf(w, "files read: %s\n", strings.Join(read, ", "))
	}
	if len(unreadable) > 0 {
		fmt.Fprintf(w, "could not read: %s\n", strings.Join(unreadable, ", "))
	}
	for _, p := range x.Problems {
		fmt.Fprintf(w, "note: %s\n", safe(p))
	}
}
