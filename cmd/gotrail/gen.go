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
	certFile  string
	keyFile   string
	spoolDir  string
	file      string
	json      string
	port      int
	listen    string
	dir       string
	peers     []string
}

func newGenCmd(g *globalOptions) *cobra.Command {
	var o genOptions
	cmd := &cobra.Command{
		Use:   "gen audisp|systemd|rsyslog|rsyslog-collector|logrotate|logstash",
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
             (--ca-file, and --cert-file/--key-file for the host's client
             certificate), on to a central collector with a disk-assisted queue
             (in memory, then --spool-dir; saved on shutdown)
  rsyslog-collector
             /etc/rsyslog.d/10-gotrail-collector.conf on the collector: a TLS input
             (--port, --listen) that requires client certificates of --ca-file
             (--permitted-peer NAME to take only those names), its own --cert-file
             and --key-file, messages up to the syslog sink's largest, and
             gotrail's messages only, a file per host: --dir/HOST/trail.log, which
             gotrail verify --collected proves. A kind of its own, not a flag of
             rsyslog: the other end, with flags of its own
  logrotate  /etc/logrotate.d/gotrail: that file rotated daily, kept for the event
             retention of the configuration; --file '/var/log/gotrail/*/trail.log'
             rotates a collector's files
  logstash   a pipeline for the trail's JSON lines (ECS fields kept) and for the
             RFC 5424 lines (a grok pattern)

Paths in the output are this binary's and the --state-dir and --config given.

EXIT STATUS
  0  printed
  2  usage error (unknown kind, relative --bin, bad --collector) or an unreadable configuration`,
		Example: `  gotrail gen audisp > /etc/audit/plugins.d/gotrail.conf && pkill -HUP auditd
  gotrail gen systemd > /etc/systemd/system/gotrail.service && systemctl enable --now gotrail
  gotrail gen rsyslog --collector tls://logs.corp:6514 --ca-file /etc/ssl/corp-ca.pem \
      --cert-file /etc/ssl/web-01.pem --key-file /etc/ssl/private/web-01.key > /etc/rsyslog.d/60-gotrail.conf
  gotrail gen rsyslog-collector --ca-file /etc/ssl/corp-ca.pem --cert-file /etc/ssl/logs.pem \
      --key-file /etc/ssl/private/logs.key > /etc/rsyslog.d/10-gotrail-collector.conf
  gotrail gen logrotate --file '/var/log/gotrail/*/trail.log' > /etc/logrotate.d/gotrail-collector`,
		Args:      cobra.ExactArgs(1),
		ValidArgs: []string{"audisp", "systemd", "rsyslog", "rsyslog-collector", "logrotate", "logstash"},
		RunE: func(cmd *cobra.Command, args []string) error {
			return runGen(g, args[0], &o, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.bin, "bin", "", "audisp, systemd: path of the gotrail binary (default: this one)")
	f.StringVar(&o.file, "file", "/var/log/gotrail/gotrail.log", "rsyslog, logrotate: the file of gotrail's messages")
	f.StringVar(&o.collector, "collector", "", "rsyslog: forward to tcp://HOST:PORT or tls://HOST:PORT")
	f.StringVar(&o.caFile, "ca-file", "", "rsyslog: the CA of the collector's certificate (tls); rsyslog-collector: the CA of the hosts' client certificates")
	f.StringVar(&o.certFile, "cert-file", "", "rsyslog: this host's client certificate (tls); rsyslog-collector: the collector's certificate")
	f.StringVar(&o.keyFile, "key-file", "", "rsyslog, rsyslog-collector: the key of --cert-file")
	f.StringVar(&o.spoolDir, "spool-dir", "/var/spool/rsyslog", "rsyslog: where the forwarding queue goes to disk")
	f.StringVar(&o.listen, "listen", "", "rsyslog-collector: the address to listen on (default: all)")
	f.StringVar(&o.dir, "dir", "/var/log/gotrail", "rsyslog-collector: a directory per host under `dir`")
	f.StringSliceVar(&o.peers, "permitted-peer", nil, "rsyslog-collector: take only client certificates of this `name` (repeat; default: any the CA signed)")
	f.StringVar(&o.json, "json", "", "logstash: the JSON lines to read (default: the trail in the state directory)")
	f.IntVar(&o.port, "port", 6514, "logstash, rsyslog-collector: the TCP port for RFC 5424 messages")
	return cmd
}

func runGen(g *globalOptions, kind string, o *genOptions, w io.Writer) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	switch kind {
	case "rsyslog":
		ro := gen.RsyslogOptions{File: o.file, Collector: o.collector, CAFile: o.caFile, CertFile: o.certFile, KeyFile: o.keyFile, SpoolDir: o.spoolDir}
		if err := gen.Rsyslog(w, ro); err != nil {
			return &usageError{fmt.Errorf("gen rsyslog: %w", err)}
		}
		return nil
	case "rsyslog-collector":
		co := gen.CollectorOptions{Port: o.port, Address: o.listen, CAFile: o.caFile, CertFile: o.certFile, KeyFile: o.keyFile, Dir: o.dir, PermittedPeers: o.peers}
		if err := gen.RsyslogCollector(w, co); err != nil {
			return &usageError{fmt.Errorf("gen rsyslog-collector: %w", err)}
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
	return &usageError{fmt.Errorf("gen: %q: want audisp, systemd, rsyslog, rsyslog-collector, logrotate or logstash", kind)}
}
