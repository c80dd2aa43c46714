package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/gen"
)

type genOptions struct {
	bin       string
	collector string
	caFile    string
	file      string
	json      string
	port      int
}

func newGenCmd(g *globalOptions) *cobra.Command {
	var o genOptions
	cmd := &cobra.Command{
		Use:   "gen audisp|systemd|rsyslog|logrotate|logstash",
		Short: "Print configuration for the tools around gotrail",
		Long: `Print a configuration file for the ecosystem, to standard output:

  audisp     /etc/audit/plugins.d/gotrail.conf: auditd starts gotrail as a plugin
             (gotrail plugin CONFIG) and hands it every record at once, so the Go
             variables of short-lived go processes are read while they run; the
             state directory and policy come from the configuration file
  systemd    /etc/systemd/system/gotrail.service: gotrail watch following auditd's
             log, hardened, restarted on failure
  rsyslog    /etc/rsyslog.d/60-gotrail.conf: gotrail's messages to their own RFC 5424
             file (--file) and, with --collector tcp://HOST:PORT or tls://HOST:PORT
             (--ca-file), on to a central collector with a disk-assisted queue
  logrotate  /etc/logrotate.d/gotrail: that file rotated daily, kept for the event
             retention of the configuration
  logstash   a pipeline for the trail's JSON lines (ECS fields kept) and for the
             RFC 5424 lines (a grok pattern)

Paths in the output are this binary's and the --state-dir and --config given.

EXIT STATUS
  0  printed
  2  usage error (unknown kind, relative --bin, bad --collector) or an unreadable configuration`,
		Example: `  gotrail gen audisp > /etc/audit/plugins.d/gotrail.conf && pkill -HUP auditd
  gotrail gen systemd > /etc/systemd/system/gotrail.service && systemctl enable --now gotrail
  gotrail gen rsyslog --collector tls://logs.corp:6514 --ca-file /etc/ssl/corp-ca.pem > /etc/rsyslog.d/60-gotrail.conf`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"audisp", "systemd", "rsyslog", "logrotate", "logstash"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGen(g, args[0], &o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.bin, "bin", "", "audisp, systemd: path of the gotrail binary (default: this one)")
	f.StringVar(&o.file, "file", "/var/log/gotrail/gotrail.log", "rsyslog, logrotate: the file of gotrail's messages")
	f.StringVar(&o.collector, "collector", "", "rsyslog: forward to tcp://HOST:PORT or tls://HOST:PORT")
	f.StringVar(&o.caFile, "ca-file", "", "rsyslog: the CA of the collector's certificate (tls)")
	f.StringVar(&o.json, "json", "", "logstash: the JSON lines to read (default: the trail in the state directory)")
	f.IntVar(&o.port, "port", 6514, "logstash: the TCP port for RFC 5424 messages")
	return cmd
}

func runGen(g *globalOptions, kind string, o *genOptions, w io.Writer) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	switch kind {
	case "rsyslog":
		if err := gen.Rsyslog(w, o.file, o.collector, o.caFile); err != nil {
			return &usageError{fmt.Errorf("gen rsyslog: %w", err)}
		}
		return nil
	case "logrotate":
		return gen.Logrotate(w, []string{o.file}, cfg.Retention.Event)
	case "logstash":
		path := o.json
		if path == "" {
			path = filepath.Join(g.stateDir, "trail", "trail-*.jsonl")
		}
		return gen.Logstash(w, path, o.port)
	}
	bin := o.bin
	if bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("gen: %w", err)
		}
		bin = exe
	}
	if !filepath.IsAbs(bin) {
		return &usageError{fmt.Errorf("gen: --bin %q: want an absolute path", bin)}
	}
	if kind == "audisp" && g.stateDirNamed {
		fmt.Fprintf(os.Stderr, "gotrail: note: the plugin takes its state directory from state_dir in %s, not from --state-dir\n", g.config)
	}
	return renderGen(kind, bin, g.config, g.stateDir, w)
}

// renderGen writes the configuration of kind for a binary, a configuration
// file and a state directory, all as the host sees them.
func renderGen(kind, bin, configFile, stateDir string, w io.Writer) error {
	for _, a := range []string{bin, configFile, stateDir} {
		if strings.ContainsAny(a, " \t\n\"'") {
			return &usageError{fmt.Errorf("gen: %q: paths with spaces or quotes cannot go into %s's configuration", a, kind)}
		}
	}
	switch kind {
	case "audisp":
		return gen.Audisp(w, bin, configFile)
	case "systemd":
		return gen.Systemd(w, bin, configFile, stateDir)
	}
	return &usageError{fmt.Errorf("gen: %q: want audisp, systemd, rsyslog, logrotate or logstash", kind)}
}
