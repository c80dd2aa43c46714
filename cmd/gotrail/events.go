package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/hostfs"
	"github.com/gotrail/gotrail/internal/pipeline"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/source"
	"github.com/gotrail/gotrail/internal/trail"
)

type eventsOptions struct {
	all          bool
	since, until string
	users        []string
	kinds        []string
	keys         []string
	strict       bool
	host         string
	trail        bool
}

func newEventsCmd(g *globalOptions) *cobra.Command {
	var o eventsOptions
	cmd := &cobra.Command{
		Use:   "events [FILE|DIR|-]...",
		Short: "Read raw audit logs and print attributed Go-environment events",
		Long: `Read audit logs as auditd wrote them and print one attributed event per audit
event: who (the login user, which survives su and sudo, and the effective user),
what (kind, action, file or command), when, and with which program.

Inputs are files, directories and - for standard input. A directory stands for
its audit.log and rotations (audit.log.N, oldest first); gzip-compressed files
are read too. Without arguments gotrail reads the audit log the configuration
names ([audit] log, default /var/log/audit/audit.log) and its rotations.

Only Go-environment events are printed unless --all is given:
  goroot.modify    a file under a GOROOT created, written, deleted, renamed, chmod/chown
  goenv.modify     a Go env file written (go env -w)
  profile.modify   a file of the login chain changed (/etc/profile, ~/.bashrc…)
  path.shadow      a go or gofmt appeared or changed outside GOROOT
  go.exec          a go binary ran
  audit.tamper     audit rules or configuration changed, auditd stopped
With --all every other event is printed too, as audit.other, and every event
carries its interpreted records under auditd.records.

Formats: text (a line per event: time, login user, effective user, kind,
action, file or command), json (one ECS object per line) and rfc5424 (one
syslog line per event). Text and syslog output escape control characters, so
a hostile process title cannot reach a terminal raw.

Malformed lines are skipped, counted and summarised on standard error with
their line numbers; --strict turns that into exit status 1.

EXIT STATUS
  0  all input read
  1  --strict and some input was malformed or dropped
  2  usage error, or an input could not be read`,
		Example: `  gotrail events                              # Go-environment events in /var/log/audit
  gotrail events --since today --user alice   # what alice did today
  gotrail events --all --format json audit.log.1.gz > events.json
  ausearch --raw -ts today | gotrail events -  # records auditd's tools selected`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runEvents(cmd.Context(), g, &o, args, cmd.InOrStdin(), cmd.OutOrStdout(), cmd.ErrOrStderr())
		},
	}
	f := cmd.Flags()
	f.BoolVar(&o.all, "all", false, "print every audit event, not only Go-environment ones")
	f.StringVar(&o.since, "since", "", "only events at or after `time` (RFC 3339, 2026-11-25, 2h, 7d, today, yesterday)")
	f.StringVar(&o.until, "until", "", "only events before `time` (same forms as --since)")
	f.StringSliceVar(&o.users, "user", nil, "only events whose login or effective user is `name` (or uid); repeatable")
	f.StringSliceVar(&o.kinds, "kind", nil, "only events of `kind` (goroot.modify, go.exec, audit.other…); repeatable")
	f.StringSliceVar(&o.keys, "key", nil, "only events whose audit rule key is `key`; repeatable")
	f.BoolVar(&o.strict, "strict", false, "exit 1 when any line was malformed or any record dropped")
	f.BoolVar(&o.trail, "trail", false, "read gotrail's own trail in the state directory instead of audit logs")
	f.StringVar(&o.host, "host", "", "host.name for records without node= (default: the hostname under --root)")
	return cmd
}

func runEvents(ctx context.Context, g *globalOptions, o *eventsOptions, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	format := g.format
	if format == "" {
		format = "json"
		if f, ok := stdout.(*os.File); ok && isTerminal(f) {
			format = "text"
		}
	}
	var render func([]byte, *event.Event) []byte
	switch format {
	case "text":
		render = sink.AppendText
	case "json":
		render = event.AppendJSON
	case "rfc5424":
		render = sink.RFC5424{}.Append
	default:
		return &usageError{fmt.Errorf("events: --format %q: want text, json or rfc5424", format)}
	}
	filter, err := o.filter(time.Now())
	if err != nil {
		return &usageError{fmt.Errorf("events: %w", err)}
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	if o.trail {
		if len(args) > 0 {
			return &usageError{errors.New("events: --trail reads the state directory; it takes no files")}
		}
		filter.GoOnly = false // the trail holds what the daemon chose to keep
		return readTrail(g.stateDir, filter, render, stdout)
	}
	var inputs []source.Input
	if len(args) == 0 {
		// auditd's log and its rotations, where the configuration says
		inputs, err = source.Log(cfg.Audit.Log)
	} else {
		inputs, err = source.Expand(args, stdin)
	}
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	host := o.host
	if host == "" {
		host = cfg.Host
	}
	if host == "" {
		host = hostName(g.root)
	}
	names := enrich.NewNames(g.root)
	if err := names.Err(); err != nil {
		slog.Warn("user and group names incomplete", "err", err)
	}
	cl := classify.FromConfig(cfg)
	out := bufio.NewWriterSize(stdout, 256*1024)
	// auditd.records only where they are printed: text and rfc5424 never do
	records := o.all && format == "json"
	// collect a third as often; 48 MiB keeps the peak RSS under 64 MiB
	gc := pipeline.Options{GCPercent: 200, MemoryLimit: 48 << 20}
	stats, err := pipeline.Run(ctx, inputs, pipeline.Render(names, host, records, cl, filter, render), out, gc)
	if ferr := out.Flush(); err == nil && ferr != nil {
		err = fmt.Errorf("write output: %w", ferr)
	}
	problems := report(stderr, stats)
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	if ctx.Err() != nil {
		return fmt.Errorf("events: interrupted")
	}
	if len(stats.InputErrors) > 0 {
		return fmt.Errorf("events: %w", errors.Join(stats.InputErrors...))
	}
	if o.strict && problems {
		return &findingsError{"events: --strict: some input was malformed or dropped (see above)"}
	}
	return nil
}

func (o *eventsOptions) filter(now time.Time) (*event.Filter, error) {
	f := &event.Filter{GoOnly: !o.all, Users: o.users, Keys: o.keys}
	var err error
	if o.since != "" {
		if f.Since, err = event.ParseTime(o.since, now); err != nil {
			return nil, fmt.Errorf("--since: %w", err)
		}
	}
	if o.until != "" {
		if f.Until, err = event.ParseTime(o.until, now); err != nil {
			return nil, fmt.Errorf("--until: %w", err)
		}
	}
	known := append(slices.Clone(event.Kinds), event.KindOther, event.KindGap)
	for _, k := range o.kinds {
		if !slices.Contains(known, k) {
			return nil, fmt.Errorf("--kind %q: want one of %s", k, strings.Join(known, ", "))
		}
		if k == event.KindOther || k == event.KindGap {
			f.GoOnly = false
		}
	}
	f.Kinds = o.kinds
	return f, nil
}

// readTrail prints the events of the local trail through the same filters
// and formats as the audit log's.
func readTrail(stateDir string, filter *event.Filter, render func([]byte, *event.Event) []byte, stdout io.Writer) error {
	out := bufio.NewWriterSize(stdout, 256*1024)
	var buf []byte
	n := 0
	err := trail.Read(stateDir, func(line []byte) error {
		n++
		var e event.Event
		if err := event.Decode(line, &e); err != nil {
			return fmt.Errorf("trail record %d: %w (gotrail verify names what is wrong)", n, err)
		}
		if !filter.Match(&e) {
			return nil
		}
		buf = append(render(buf[:0], &e), '\n')
		_, err := out.Write(buf)
		return err
	})
	if ferr := out.Flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return fmt.Errorf("events: %w", err)
	}
	return nil
}

// report writes what was skipped or dropped to stderr; it returns whether
// there was anything.
func report(w io.Writer, st pipeline.Stats) bool {
	problems := false
	if st.Malformed > 0 {
		problems = true
		first := make([]string, len(st.BadLines))
		for i, b := range st.BadLines {
			first[i] = "  " + b.String()
		}
		more := ""
		if int64(len(st.BadLines)) < st.Malformed {
			more = fmt.Sprintf("\n  … and %d more", st.Malformed-int64(len(st.BadLines)))
		}
		fmt.Fprintf(w, "gotrail: skipped %d malformed line(s) of %d:\n%s%s\n", st.Malformed, st.Lines, strings.Join(first, "\n"), more)
	}
	a := st.Assembler
	if a.DroppedRecords > 0 {
		problems = true
		fmt.Fprintf(w, "gotrail: dropped %d record(s) of events larger than the per-event limit (marked auditd.incomplete=truncated)\n", a.DroppedRecords)
	}
	if a.Evicted > 0 {
		fmt.Fprintf(w, "gotrail: %d event(s) were emitted before they were complete because too many were open at once (marked auditd.incomplete=evicted)\n", a.Evicted)
	}
	if a.Collisions > 0 {
		problems = true
		fmt.Fprintf(w, "gotrail: %d event(s) had the node, time and serial of another (two logs of one host concatenated, or forged records): kept apart (marked auditd.incomplete=collision)\n", a.Collisions)
	}
	if st.Missing > 0 {
		var ranges []string
		for _, g := range st.Gaps {
			r := fmt.Sprintf("%d-%d", g.From, g.To)
			if g.Node != "" {
				r = g.Node + " " + r
			}
			ranges = append(ranges, r)
		}
		more := ""
		if len(st.Gaps) == pipeline.KeepGaps {
			more = ", …"
		}
		restarts := ""
		if st.OnlyRestarts > 0 {
			restarts = fmt.Sprintf("; %d of them across restarts of auditd, which leave one or two of its own unlogged each", st.OnlyRestarts)
		}
		fmt.Fprintf(w, "gotrail: %d audit event(s) are not in the input (serials %s%s): lost in the kernel or while auditd was not logging, or left out by a filter such as ausearch -k%s\n",
			st.Missing, strings.Join(ranges, ", "), more, restarts)
	}
	if a.ClockSteps > 0 {
		fmt.Fprintf(w, "gotrail: the records went back in time %d time(s) (a clock stepped back, or a record stamped ahead of its time); events were kept whole\n", a.ClockSteps)
	}
	return problems
}

// hostName is the host's name as the files under root say; the kernel's
// when root is the host itself.
func hostName(root string) string {
	if isThisHost(root) {
		if h, err := os.Hostname(); err == nil {
			return h
		}
	}
	// an image's own file, never one its links lead to on this machine
	if b, err := hostfs.New(root).ReadFileMax("/etc/hostname", 256); err == nil {
		if h := strings.TrimSpace(string(b)); h != "" {
			return h
		}
	}
	return ""
}
