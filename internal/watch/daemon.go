package watch

import (
	"context"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/config"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/kmsg"
	"github.com/gotrail/gotrail/internal/rules"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/trail"
)

// DaemonOptions are what gotrail watch's flags add to the configuration.
type DaemonOptions struct {
	Root     string // the host's files: "/" or "" is this machine
	StateDir string
	Host     string // host.name of the events
	Source   string // file, stdin or netlink
	// MetricsAddr serves Prometheus metrics on host:port when set.
	MetricsAddr     string
	CatchExecs      bool
	CheckpointEvery int
	Log             *slog.Logger
}

// Daemon is gotrail watch assembled from its configuration: the watcher,
// the sinks, retention, the keeper of the audit rules and the metrics.
type Daemon struct {
	w    *Watcher
	out  *sink.Set
	srv  *http.Server
	opt  DaemonOptions
	ctl  rules.Auditctl
	live bool
}

// Sources a daemon reads from.
var Sources = []string{"file", "stdin", "netlink"}

// FromConfig assembles the daemon. Reload is what SIGHUP does with a
// configuration read again; Run reads the source.
func FromConfig(cfg *config.Config, o DaemonOptions) (d *Daemon, err error) {
	if err := config.CheckHost(o.Host); err != nil {
		return nil, fmt.Errorf("host name %q: %v; set host in the configuration, or --host", o.Host, err)
	}
	d = &Daemon{opt: o, live: hostfs.IsThisMachine(o.Root)}
	var metrics *Metrics
	if o.MetricsAddr != "" {
		if metrics, err = d.serveMetrics(); err != nil {
			return nil, err
		}
	}
	if d.out, err = sink.Open(cfg, o.StateDir, o.Log, true); err != nil {
		d.Close()
		return nil, err
	}
	if metrics != nil {
		d.out.Register(metrics.Registry)
	}
	d.w, err = New(d.options(cfg, metrics))
	if err != nil {
		d.Close()
		return nil, err
	}
	d.out.Start() // the trail is open: a line a crash cut short is repaired
	return d, nil
}

// options are the watcher's, from the configuration.
func (d *Daemon) options(cfg *config.Config, metrics *Metrics) Options {
	o := d.opt
	return Options{
		CatchExecs:      o.CatchExecs && d.live && o.Source != "netlink",
		Rules:           d.keeper(cfg),
		Self:            os.Getpid(),
		Retention:       d.retention(cfg),
		OnEvent:         d.out.Offer,
		Metrics:         metrics,
		Lost:            func() (int, error) { st, err := d.ctl.Status(); return st.Lost, err },
		AuditdPID:       d.auditdPID(),
		KernelLog:       d.kernelLog(),
		SelfExe:         selfExe(),
		StateDir:        o.StateDir,
		Host:            o.Host,
		Names:           enrich.NewNames(o.Root),
		Classifier:      classify.FromConfig(cfg),
		Policy:          classify.PolicyFromConfig(cfg, o.Root),
		Proc:            enrich.Proc{Root: o.Root},
		Log:             o.Log,
		CheckpointEvery: o.CheckpointEvery,
		OnCheckpoint:    d.checkpointed,
	}
}

func (d *Daemon) serveMetrics() (*Metrics, error) {
	m := NewMetrics()
	ln, err := net.Listen("tcp", d.opt.MetricsAddr)
	if err != nil {
		return nil, fmt.Errorf("--metrics-addr: %w", err)
	}
	mux := http.NewServeMux()
	mux.Handle("/metrics", promhttp.HandlerFor(m.Registry, promhttp.HandlerOpts{}))
	d.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go d.srv.Serve(ln)
	d.opt.Log.Info("serving metrics", "addr", ln.Addr().String())
	return m, nil
}

// retention is the configuration's, holding what a collector of the trail
// has not acknowledged yet.
func (d *Daemon) retention(cfg *config.Config) *trail.Retention {
	day := 24 * time.Hour
	r := &trail.Retention{
		Default: time.Duration(cfg.Retention.Event) * day,
		ByKind: map[string]time.Duration{
			event.KindInstall:  time.Duration(cfg.Retention.Install) * day,
			event.KindSnapshot: time.Duration(cfg.Retention.Snapshot) * day,
		},
	}
	if len(d.out.Shippers) > 0 {
		r.Shipped = d.out.Shipped
	}
	return r
}

// selfExe is this program's path as the kernel's records give it, "" if
// unknown: the old plugin's records across a restart of auditd are its.
func selfExe() string {
	exe, err := os.Executable()
	if err != nil {
		return ""
	}
	return exe
}

// kernelLog reads this host's kernel log, when the daemon watches this
// host's kernel.
func (d *Daemon) kernelLog() func(from, to uint64, notBefore, notAfter int64) (map[uint64][]kmsg.Record, error) {
	if !d.live {
		return nil
	}
	return func(from, to uint64, notBefore, notAfter int64) (map[uint64][]kmsg.Record, error) {
		return kmsg.Find(kmsg.Path, from, to, notBefore, notAfter)
	}
}

// auditdPID reads the kernel's audit daemon, on this host only: an image's
// auditd is not the kernel's.
func (d *Daemon) auditdPID() func() (int, error) {
	if !d.live {
		return nil
	}
	return func() (int, error) { st, err := d.ctl.Status(); return st.PID, err }
}

// keeper follows /etc/passwd on this host as root: a login user added
// later gets ~/.config/go and their rules.
func (d *Daemon) keeper(cfg *config.Config) RulesKeeper {
	if !d.live || os.Geteuid() != 0 {
		return nil
	}
	k, err := rules.NewKeeper("/", cfg.GOROOTs, d.ctl)
	if err != nil {
		d.opt.Log.Warn("not following /etc/passwd for new login users", "err", err)
		return nil
	}
	// the baseline decides whether users added while gotrail was down get
	// their rules: say which it is
	d.opt.Log.Info("following /etc/passwd for login users", "rules_in_force_from", k.Baseline())
	return k
}

// checkpointed logs a signed checkpoint and hands it to the sinks of
// events: off the host, it is what later proves the trail was not
// rewritten (the trail shippers read it from the state directory).
func (d *Daemon) checkpointed(c *trail.Checkpoint) {
	what := "signed a trail checkpoint"
	if c.IsAnchor() {
		what = "signed the trail's anchor (where it starts after retention)"
	}
	d.opt.Log.Info(what, "seq", c.Head.Seq, "hash", c.Head.Hash)
	d.out.Offer(sink.Checkpoint(c.Host, c.Head.Seq, c.Head.Hash, c.Time, c.Note))
}

// Reload takes a configuration read again (SIGHUP): the policy and the
// GOROOTs, and says whether the kernel's rules drifted from it.
func (d *Daemon) Reload(cfg *config.Config) {
	cl, pol := classify.FromConfig(cfg), classify.PolicyFromConfig(cfg, d.opt.Root)
	n := len(cfg.Policy)
	d.w.Do(func() {
		d.w.SetRules(cl, pol)
		// said once it applies: events read from here on are judged by it
		d.opt.Log.Info("SIGHUP: configuration reloaded", "policies", n)
	})
	host, err := rules.Discover(d.opt.Root, cfg.GOROOTs)
	if err != nil {
		return
	}
	if loaded, err := d.ctl.List(); err == nil {
		diff := rules.Compare(rules.All(rules.Generate(host).Groups), loaded)
		if !diff.Empty() {
			d.opt.Log.Warn("audit rules drifted (gotrail rules --install loads the expected set)", "missing", len(diff.Missing), "extra", len(diff.Extra))
		}
	}
}

// Run reads the source until ctx ends: log follows the audit log (file),
// stdin is auditd's plugin feed.
func (d *Daemon) Run(ctx context.Context, log string, stdin io.Reader) error {
	switch d.opt.Source {
	case "file":
		if _, err := os.Stat(log); err != nil {
			d.opt.Log.Warn("the audit log is not there yet; waiting for auditd to write it", "log", log, "err", err)
		}
		d.opt.Log.Info("following", "log", log, "state_dir", d.opt.StateDir)
		return d.w.RunFile(ctx, log)
	case "stdin":
		return d.w.RunReader(ctx, stdin)
	case "netlink":
		return d.w.RunNetlink(ctx)
	}
	return fmt.Errorf("--source %q: want file, stdin or netlink", d.opt.Source)
}

// Stats are the watcher's counts.
func (d *Daemon) Stats() *Stats { return &d.w.Stats }

// Close drains the sinks and stops serving metrics.
func (d *Daemon) Close() {
	if d.out != nil {
		d.out.Close(5 * time.Second)
	}
	if d.srv != nil {
		d.srv.Close()
	}
}
