package main

import (
	"cmp"
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/signal"
	"slices"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/daemonlog"
	"github.com/gotrail/gotrail/internal/watch"
)

type watchOptions struct {
	metricsAddr     string
	source          string
	auditLog        string
	host            string
	checkpointEvery int
	catchExecs      bool
}

func newWatchCmd(g *globalOptions) *cobra.Command {
	var o watchOptions
	cmd := &cobra.Command{
		Use:   "watch",
		Short: "Follow audit events live and keep the tamper-evident trail",
		Long: `The daemon: follow auditd's log, attribute each Go-environment event, read the
Go variables of each go process from /proc, apply the configuration's policy
(authorized, severity) and append the event to the hash-chained trail in the
state directory, signing a checkpoint every so often.

--source file (the default) follows the audit log across auditd's rotation and
truncation from a position saved in the state directory, so that a restart,
clean or after SIGKILL, neither loses nor repeats an event. --source stdin reads
records as an auditd plugin (audisp) and drains them at once. --source netlink
reads the kernel's audit multicast group (CAP_AUDIT_READ), for hosts without
auditd; what happens while gotrail is down is not seen.

With --source file or stdin, the Go environment of each go process is read the
moment the kernel reports its exec on the audit multicast group (beside auditd,
with CAP_AUDIT_READ), not when auditd's log or plugin feed brings it: by then a
short go version or go env -w has often exited. The trail itself is fed by
auditd alone.

The trail's signing key is made on first start; its public key is logged: keep
it off the host for gotrail verify --pubkey.

SIGTERM or SIGINT: the trail is synced and the position saved, then it exits.

EXIT STATUS
  0  stopped by a signal after saving everything
  2  runtime error (unreadable log, state directory not writable)`,
		Example: `  gotrail watch                                   # as root, following /var/log/audit/audit.log
  gotrail watch --audit-log /srv/audit/audit.log --state-dir /srv/gotrail`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runWatch(cmd.Context(), g, &o)
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.source, "source", "file", "where records come from: file, stdin or netlink")
	f.StringVar(&o.auditLog, "audit-log", "", "the audit log to follow (default: [audit] log of the configuration, /var/log/audit/audit.log)")
	f.StringVar(&o.host, "host", "", "host.name of the events (default: the configuration's host, else the hostname)")
	f.StringVar(&o.metricsAddr, "metrics-addr", "", "serve Prometheus metrics on `host:port` (/metrics), e.g. 127.0.0.1:9469")
	f.BoolVar(&o.catchExecs, "catch-execs", true, "read go processes as the kernel reports their exec (multicast), not when auditd hands it over; false misses most short runs")
	f.IntVar(&o.checkpointEvery, "checkpoint-every", 1000, "sign a checkpoint after this many events (and at least every 10 minutes)")
	return cmd
}

func runWatch(ctx context.Context, g *globalOptions, o *watchOptions) error {
	if !slices.Contains(watch.Sources, o.source) { // before anything is opened or started
		return &usageError{fmt.Errorf("watch: --source %q: want file, stdin or netlink", o.source)}
	}
	// as auditd's plugin, stderr is /dev/null: then syslog, where the
	// error that stops the daemon must be said too (main prints it to
	// stderr, which drops it)
	log := daemonlog.New("gotrail", os.Stderr).With("component", "watch")
	err := watchUntilStopped(ctx, g, o, log)
	if err != nil && daemonlog.LeadsNowhere(os.Stderr) {
		log.Error("stopped on an error", "err", err)
	}
	return err
}

func watchUntilStopped(ctx context.Context, g *globalOptions, o *watchOptions, log *slog.Logger) error {
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	d, err := watch.FromConfig(cfg, watch.DaemonOptions{
		Root: g.root, StateDir: g.stateDir, Host: cmp.Or(o.host, cfg.Host, hostName(g.root)), Source: o.source,
		MetricsAddr: o.metricsAddr, CatchExecs: o.catchExecs, CheckpointEvery: o.checkpointEvery, Log: log,
	})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer d.Close()
	stop := reloadOnHUP(g, d, log)
	defer stop()
	err = d.Run(ctx, cmp.Or(o.auditLog, cfg.Audit.Log), os.Stdin)
	st := d.Stats()
	log.Info("stopped", "events", st.Events.Load(), "skipped_as_already_in_trail", st.Skipped.Load(),
		"malformed_lines", st.Malformed.Load(), "env_caught_as_run", st.EnvCaught.Load(), "env_missed", st.EnvMissed.Load())
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	return nil
}

// reloadOnHUP reloads the configuration into d on each SIGHUP, until stop.
func reloadOnHUP(g *globalOptions, d *watch.Daemon, log *slog.Logger) (stop func()) {
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	go func() {
		for range hup {
			cfg, err := g.loadConfig()
			if err != nil {
				log.Error("SIGHUP: configuration not reloaded", "err", err)
				continue
			}
			d.Reload(cfg)
		}
	}()
	return func() { signal.Stop(hup); close(hup) }
}
