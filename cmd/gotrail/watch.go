package main

import (
	"context"
	"fmt"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/trail"
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

// classifier and policy are what the configuration says of kinds and of
// who may change what: at start and on every SIGHUP.
func classifier(cfg *config.Config) *classify.Classifier {
	return &classify.Classifier{GOROOTs: cfg.GOROOTs}
}

func policy(cfg *config.Config, root string) *classify.Policy {
	return &classify.Policy{Rules: cfg.Policy, Groups: enrich.NewGroups(root)}
}

// sinks are the [[sink]]s running: queues of events, and the sinks that
// ship the trail itself from disk.
type sinks struct {
	queues   []*sink.Queue
	shippers []*sink.TrailSink
}

// openSinks starts each [[sink]] of the configuration; the trail shippers
// only with shippers (the daemon's: one process ships the trail).
func openSinks(cfg *config.Config, stateDir string, log *slog.Logger, shippers bool) (*sinks, error) {
	all := &sinks{}
	for i, c := range cfg.Sink {
		if c.Payload == config.PayloadTrail {
			if !shippers {
				continue
			}
			t, err := sink.NewTrailSink(c, stateDir, log)
			if err != nil {
				all.close(time.Second)
				return nil, fmt.Errorf("[[sink]] #%d: %w", i+1, err)
			}
			all.shippers = append(all.shippers, t)
			continue
		}
		s, err := sink.New(c, stateDir, log)
		if err != nil {
			all.close(time.Second)
			return nil, fmt.Errorf("[[sink]] #%d: %w", i+1, err)
		}
		all.queues = append(all.queues, sink.NewQueue(s, c.MinSeverity, 10000, log))
	}
	return all, nil
}

// offer hands an event appended to the trail to every sink.
func (s *sinks) offer(e *event.Event) {
	for _, q := range s.queues {
		q.Offer(e)
	}
	if e.Trail != nil {
		for _, t := range s.shippers {
			t.Notify(e.Trail.Seq)
		}
	}
}

// shipped is the last record every trail shipper had acknowledged: what
// retention may remove up to.
func (s *sinks) shipped() uint64 {
	low := uint64(math.MaxUint64)
	for _, t := range s.shippers {
		low = min(low, t.Acked())
	}
	return low
}

func (s *sinks) close(timeout time.Duration) {
	for _, q := range s.queues {
		q.Close(timeout)
	}
	for _, t := range s.shippers {
		t.Close(timeout)
	}
}

// register adds each sink's counters to the metrics.
func (s *sinks) register(reg *prometheus.Registry) {
	for _, q := range s.queues {
		reg.MustRegister(prometheus.NewCounterFunc(prometheus.CounterOpts{
			Name: "gotrail_sink_errors_total", Help: "Failed sends, by sink.",
			ConstLabels: prometheus.Labels{"sink": q.Name()},
		}, func() float64 { return float64(q.Stats().Failed + sinkErrors(q)) }))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gotrail_sink_queued_events", Help: "Events waiting in a sink's queue.",
			ConstLabels: prometheus.Labels{"sink": q.Name()},
		}, func() float64 { return float64(q.Len()) }))
	}
	for _, t := range s.shippers {
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gotrail_sink_behind_records", Help: "Trail records a collector has not acknowledged yet, by sink.",
			ConstLabels: prometheus.Labels{"sink": t.Name()},
		}, func() float64 { return float64(t.Stats().Behind) }))
		reg.MustRegister(prometheus.NewGaugeFunc(prometheus.GaugeOpts{
			Name: "gotrail_sink_acknowledged_seq", Help: "The last trail record a collector acknowledged, by sink.",
			ConstLabels: prometheus.Labels{"sink": t.Name()},
		}, func() float64 { return float64(t.Stats().Acked) }))
	}
}

// sinkErrors adds the failures a sink counts itself (a webhook's spool
// retries) to its queue's.
func sinkErrors(q *sink.Queue) uint64 {
	if e, ok := q.Sink().(interface{ Errors() uint64 }); ok {
		return e.Errors()
	}
	return 0
}

func runWatch(ctx context.Context, g *globalOptions, o *watchOptions) error {
	switch o.source { // before anything is opened or started
	case "file", "stdin", "netlink":
	default:
		return &usageError{fmt.Errorf("watch: --source %q: want file, stdin or netlink", o.source)}
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "watch")
	host := o.host
	if host == "" {
		host = cfg.Host
	}
	if host == "" {
		host = hostName(g.root)
	}
	var metrics *watch.Metrics
	if o.metricsAddr != "" {
		metrics = watch.NewMetrics()
		ln, err := net.Listen("tcp", o.metricsAddr)
		if err != nil {
			return fmt.Errorf("watch: --metrics-addr: %w", err)
		}
		mux := http.NewServeMux()
		mux.Handle("/metrics", promhttp.HandlerFor(metrics.Registry, promhttp.HandlerOpts{}))
		srv := &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
		go srv.Serve(ln)
		defer srv.Close()
		log.Info("serving metrics", "addr", ln.Addr().String())
	}
	ctl := rules.Auditctl{}
	day := 24 * time.Hour
	retention := &trail.Retention{
		Default: time.Duration(cfg.Retention.Event) * day,
		ByKind: map[string]time.Duration{
			event.KindInstall:  time.Duration(cfg.Retention.Install) * day,
			event.KindSnapshot: time.Duration(cfg.Retention.Snapshot) * day,
		},
	}
	out, err := openSinks(cfg, g.stateDir, log, true)
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	defer out.close(5 * time.Second)
	if len(out.shippers) > 0 {
		retention.Shipped = out.shipped
	}
	if metrics != nil {
		out.register(metrics.Registry)
	}
	var keeper watch.RulesKeeper
	live := g.thisHost()
	if live && os.Geteuid() == 0 {
		// a login user added later gets ~/.config/go and their rules
		k, err := rules.NewKeeper("/", cfg.GOROOTs, ctl)
		if err != nil {
			log.Warn("not following /etc/passwd for new login users", "err", err)
		} else {
			keeper = k
		}
	}
	w, err := watch.New(watch.Options{
		CatchExecs: o.catchExecs && live && o.source != "netlink",
		Rules:      keeper,
		Self:       os.Getpid(),
		Retention:  retention,
		OnEvent:    out.offer,
		Metrics:    metrics,
		Lost: func() (int, error) {
			st, err := ctl.Status()
			return st.Lost, err
		},
		StateDir:        g.stateDir,
		Host:            host,
		Names:           enrich.NewNames(g.root),
		Classifier:      classifier(cfg),
		Policy:          policy(cfg, g.root),
		Proc:            enrich.Proc{Root: g.root},
		Log:             log,
		CheckpointEvery: o.checkpointEvery,
		OnCheckpoint: func(c *trail.Checkpoint) {
			what := "signed a trail checkpoint"
			if c.IsAnchor() {
				what = "signed the trail's anchor (where it starts after retention)"
			}
			log.Info(what, "seq", c.Head.Seq, "hash", c.Head.Hash)
			// off the host, it is what later proves the trail was not rewritten
			// (the trail shippers read it from the state directory)
			out.offer(sink.Checkpoint(c.Host, c.Head.Seq, c.Head.Hash, c.Time, c.Note))
		},
	})
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	// SIGHUP: reload the configuration (policy, GOROOTs) and report drift
	// of the kernel's rules
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	go func() {
		for range hup {
			cfg, err := g.loadConfig()
			if err != nil {
				log.Error("SIGHUP: configuration not reloaded", "err", err)
				continue
			}
			cl, pol := classifier(cfg), policy(cfg, g.root)
			w.Do(func() { w.SetRules(cl, pol) })
			log.Info("SIGHUP: configuration reloaded", "policies", len(cfg.Policy))
			if host, err := rules.Discover(g.root, cfg.GOROOTs); err == nil {
				if loaded, err := ctl.List(); err == nil {
					d := rules.Compare(rules.All(rules.Generate(host).Groups), loaded)
					if !d.Empty() {
						log.Warn("audit rules drifted (gotrail rules --install loads the expected set)", "missing", len(d.Missing), "extra", len(d.Extra))
					}
				}
			}
		}
	}()
	switch o.source {
	case "file":
		path := o.auditLog
		if path == "" {
			path = cfg.Audit.Log
		}
		if _, err := os.Stat(path); err != nil {
			log.Warn("the audit log is not there yet; waiting for auditd to write it", "log", path, "err", err)
		}
		log.Info("following", "log", path, "state_dir", g.stateDir)
		err = w.RunFile(ctx, path)
	case "stdin":
		err = w.RunReader(ctx, os.Stdin)
	case "netlink":
		log.Info("reading the kernel's audit multicast group", "state_dir", g.stateDir)
		err = w.RunNetlink(ctx)
	}
	st := &w.Stats
	log.Info("stopped", "events", st.Events.Load(), "skipped_as_already_in_trail", st.Skipped.Load(),
		"malformed_lines", st.Malformed.Load(), "env_caught_as_run", st.EnvCaught.Load(), "env_missed", st.EnvMissed.Load())
	if err != nil {
		return fmt.Errorf("watch: %w", err)
	}
	return nil
}
