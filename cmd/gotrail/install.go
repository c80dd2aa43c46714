package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/enrich"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/install"
	"github.com/gotrail/gotrail/internal/sink"
	"github.com/gotrail/gotrail/internal/trail"
)

type installOptions struct {
	source      string
	prefix      string
	dlURL       string
	profile     bool
	profileFile string
	force       bool
	rollback    bool
}

func newInstallCmd(g *globalOptions) *cobra.Command {
	var o installOptions
	cmd := &cobra.Command{
		Use:   "install VERSION | --rollback",
		Short: "Install a Go toolchain, verified, atomically, and recorded",
		Long: `Install Go VERSION (1.22.5, go1.22.5 or latest, the newest stable release) into
PREFIX/goVERSION and point PREFIX/go at it.

--source proxy (the default) fetches the module golang.org/toolchain from
GOPROXY and installs it only when the Go checksum database (GOSUMDB, by default
sum.golang.org with the go command's pinned key, reached through the proxy when
it serves /sumdb/) vouches for its hash; GOSUMDB=off is refused. The latest
signed tree head seen is kept in STATE_DIR/sumdb, so a database that rewrites
its history is caught. --source dl takes the archive from go.dev/dl (or the
mirror --dl-url names), checked against the sha256 of its JSON index.

The archive is checked (no absolute names, "..", symlinks, duplicates or
case-fold collisions) and unpacked into a new directory beside the destination,
then PREFIX/go is switched with one rename: a symlink to goVERSION. A plain
directory at PREFIX/go is never written into: it is kept as
PREFIX/go-previous-TIME. --rollback points PREFIX/go back at what it named
before. Nothing of a failed or interrupted attempt stays under PREFIX.

Every attempt is a toolchain.install event, in the trail of the state directory
and sent to the configured sinks: who (login user, user, sudo user), host,
kernel, version, URL, sha256 and module hash, the checksum database's record
and signed tree head, the directory and the outcome. A refused download is of
severity high, so webhooks alert. A manifest of every file's sha256 is kept in
STATE_DIR/manifests for gotrail verify --toolchain.

GOPROXY and GOSUMDB are read from the environment (unset: the go command's
defaults), not from go env -w files.

EXIT STATUS
  0  installed (or rolled back)
  1  refused: the download does not match the checksum database or index, or
     the archive is unsafe
  2  usage or runtime error (network, permissions, GOSUMDB=off, no proxy)`,
		Example: `  gotrail install 1.22.5 --profile           # as root: /usr/local/go1.22.5, /usr/local/go -> go1.22.5
  gotrail install latest --prefix /opt
  GOPROXY=https://goproxy.cn gotrail install go1.23.4
  gotrail install 1.22.5 --source dl --dl-url https://mirrors.example.com/golang/
  gotrail install --rollback                  # back to the toolchain before`,
		RunE: func(cmd *cobra.Command, args []string) error {
			return runInstall(cmd.Context(), g, &o, args, cmd.OutOrStdout())
		},
	}
	f := cmd.Flags()
	f.StringVar(&o.source, "source", "proxy", "where the toolchain comes from: proxy (GOPROXY, verified by GOSUMDB) or dl (go.dev/dl)")
	f.StringVar(&o.prefix, "prefix", "/usr/local", "install into `dir`/goVERSION and switch dir/go")
	f.StringVar(&o.dlURL, "dl-url", install.DefaultDLURL, "--source dl: the `url` of the index and archives (a mirror of go.dev/dl)")
	f.BoolVar(&o.profile, "profile", false, "also put PREFIX/go/bin on the PATH of login shells (--profile-file)")
	f.StringVar(&o.profileFile, "profile-file", install.DefaultProfile, "the script --profile writes")
	f.BoolVar(&o.force, "force", false, "install even when PREFIX/goVERSION exists (it is kept aside)")
	f.BoolVar(&o.rollback, "rollback", false, "point PREFIX/go back at the toolchain it named before")
	return cmd
}

func runInstall(ctx context.Context, g *globalOptions, o *installOptions, args []string, w io.Writer) error {
	switch {
	case o.rollback && len(args) > 0:
		return &usageError{errors.New("install: --rollback takes no VERSION")}
	case !o.rollback && len(args) != 1:
		return &usageError{errors.New("install: want one VERSION (1.22.5, go1.22.5 or latest), or --rollback")}
	case o.source != "proxy" && o.source != "dl":
		return &usageError{fmt.Errorf("install: --source %q: want proxy or dl", o.source)}
	}
	if !o.rollback {
		if _, err := install.ParseVersion(args[0]); err != nil {
			return &usageError{fmt.Errorf("install: %w", err)}
		}
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, nil)).With("component", "install")
	host := cfg.Host
	if host == "" {
		host = hostName("/")
	}
	opts := install.Options{
		Source: o.source, Prefix: o.prefix, StateDir: g.stateDir, DLURL: o.dlURL, Force: o.force,
		GOPROXY: os.Getenv("GOPROXY"), GOSUMDB: os.Getenv("GOSUMDB"), Log: log,
	}
	if o.profile {
		opts.Profile = o.profileFile
	}
	if isTerminal(os.Stderr) {
		bar := &progressBar{w: os.Stderr}
		opts.Progress = bar.update
		defer bar.done()
	}
	var res *install.Result
	if o.rollback {
		res, _ = install.Rollback(ctx, opts)
	} else {
		opts.Version = args[0]
		res, _ = install.Install(ctx, opts)
	}
	if opts.Progress != nil {
		fmt.Fprint(os.Stderr, "\r\033[K")
	}
	names := enrich.NewNames("/")
	who := install.CurrentWho(host, func(uid uint32) string { n, _ := names.UserName(uid); return n })
	e := res.Event(who, time.Now())
	recErr := record(g, cfg.Retention.Install, e, log)
	if res.Err != nil {
		if recErr != nil {
			log.Error("the failed attempt was not recorded", "err", recErr)
		}
		if res.Refused() {
			return &findingsError{"install: " + res.Err.Error()}
		}
		return fmt.Errorf("install: %w", res.Err)
	}
	if g.format == "json" {
		fmt.Fprintf(w, "%s\n", event.AppendJSON(nil, e))
	} else {
		printInstall(w, res)
	}
	if recErr != nil {
		return fmt.Errorf("install: done, but not recorded: %w", recErr)
	}
	return nil
}

// record appends the event to the trail, keeps it in STATE_DIR/installs and
// sends it to the sinks.
func record(g *globalOptions, retentionDays int, e *event.Event, log *slog.Logger) error {
	var errs []error
	cp, err := appendSigned(g.stateDir, e)
	if err != nil {
		errs = append(errs, err)
	}
	if err := install.KeepRecord(g.stateDir, e, time.Duration(retentionDays)*24*time.Hour, time.Now()); err != nil {
		errs = append(errs, err)
	}
	cfg, _ := g.loadConfig()
	if cfg != nil && len(cfg.Sink) > 0 {
		// the sinks of events only: a sink that ships the trail is the
		// daemon's, which sees the record in the trail and ships it once
		out, err := sink.Open(cfg, g.stateDir, log, false)
		if err != nil {
			errs = append(errs, err)
		}
		if out != nil {
			out.Offer(e)
			if cp != nil { // off the host, it proves the record was there
				out.Offer(sink.Checkpoint(cp.Host, cp.Head.Seq, cp.Head.Hash, cp.Time, cp.Note))
			}
			if err := out.Close(10 * time.Second); err != nil {
				errs = append(errs, err)
			}
		}
	}
	return errors.Join(errs...)
}

// appendSigned appends e to the trail and signs a checkpoint over it with
// the trail's key: a record no checkpoint covers proves nothing, and the
// daemon may not sign again for a while.
func appendSigned(stateDir string, e *event.Event) (*trail.Checkpoint, error) {
	tw, err := trail.Open(stateDir, trail.Options{})
	if err != nil {
		return nil, err
	}
	defer tw.Close()
	if err := tw.Append(e); err != nil {
		return nil, err
	}
	signer, _, _, err := trail.Key(stateDir, e.Host.Name)
	if err != nil {
		return nil, err
	}
	return tw.Checkpoint(signer, e.Host.Name)
}

func printInstall(w io.Writer, r *install.Result) {
	if r.Action == "rollback" {
		fmt.Fprintf(w, "rolled back: %s -> %s (%s); was %s\n", r.Link, r.Dir, r.Version, r.Previous)
		return
	}
	fmt.Fprintf(w, "installed %s into %s; %s -> %s\n", r.Version, r.Dir, r.Link, r.Dir)
	for _, d := range r.Created {
		fmt.Fprintf(w, "created: %s (mode 0755; the prefix did not exist)\n", d)
	}
	if r.SumDB != nil {
		fmt.Fprintf(w, "verified: %s %s (checksum database %s, record %d)\n", r.URL, r.ModuleHash, r.SumDB.Name, r.SumDB.Record)
	} else {
		fmt.Fprintf(w, "verified: %s sha256 %s (go.dev/dl index)\n", r.URL, r.ArchiveSHA256)
	}
	fmt.Fprintf(w, "manifest: %s (%d files; gotrail verify --toolchain checks them)\n", r.Manifest, r.Files)
	fmt.Fprintf(w, "took: download %s (%.1f MB), unpack %s, hash %s\n",
		r.Download.Round(time.Millisecond), float64(r.Bytes)/1e6, r.Unpack.Round(time.Millisecond), r.Hash.Round(time.Millisecond))
	if r.Previous != "" {
		fmt.Fprintf(w, "previous: %s (gotrail install --rollback switches back)\n", r.Previous)
	}
	if r.Profile != "" {
		fmt.Fprintf(w, "profile: wrote %s\n", r.Profile)
	}
}

// progressBar draws a download's progress on a terminal.
type progressBar struct {
	w     io.Writer
	drawn bool
}

func (b *progressBar) update(done, total int64) {
	b.drawn = true
	if total <= 0 {
		fmt.Fprintf(b.w, "\r\033[Kdownloading %.1f MB", float64(done)/1e6)
		return
	}
	const width = 30
	n := int(done * width / total)
	fmt.Fprintf(b.w, "\r\033[Kdownloading [%s%s] %5.1f/%.1f MB %3d%%", strings.Repeat("#", n), strings.Repeat(".", width-n),
		float64(done)/1e6, float64(total)/1e6, done*100/total)
}

func (b *progressBar) done() {
	if b.drawn {
		fmt.Fprint(b.w, "\r\033[K")
	}
}
