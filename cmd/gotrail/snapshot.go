package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/hostenv"
)

type snapshotOptions struct {
	save  bool
	users []string
}

func newSnapshotCmd(g *globalOptions) *cobra.Command {
	var o snapshotOptions
	cmd := &cobra.Command{
		Use:   "snapshot [--save] [--user NAME]...",
		Short: "Capture the state of the host's Go environment as JSON",
		Long: `Record the Go environment as it is now: host, kernel, arch, time and who took
it (uid and login uid); every go binary on each login PATH and in the usual
places, with its version read from the binary (nothing is run), its GOROOT and
a digest of the GOROOT tree; per login user, the effective Go environment with
the source of each value (login chain file:line, the Go env file,
$GOROOT/go.env, or the built-in default), the PATH directories with owner and
mode, and owner, mode and SHA-256 of every file of the login chain.

Without --save the snapshot is printed. With --save it is kept in the state
directory (for [retention] snapshot days, default 90) for gotrail diff.

EXIT STATUS
  0  snapshot taken
  2  usage or runtime error`,
		Example: `  gotrail snapshot --save          # from cron, daily
  gotrail snapshot --user alice | jq '.users[0].env.GOPROXY'`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			cfg, err := g.loadConfig()
			if err != nil {
				return err
			}
			host, err := hostenv.Load(cmd.Context(), g.root, cfg.Host, o.users)
			if err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			snap, err := hostenv.Take(cmd.Context(), host, time.Now())
			if err != nil {
				return fmt.Errorf("snapshot: %w", err)
			}
			w := cmd.OutOrStdout()
			if !o.save {
				return writeJSON(w, snap)
			}
			file, err := hostenv.Save(g.stateDir, snap)
			if err != nil {
				return err
			}
			if _, err := hostenv.Prune(g.stateDir, cfg.Retention.Snapshot, time.Now()); err != nil {
				return err
			}
			fmt.Fprintf(w, "saved %s: %d users, %d toolchains\n", file, len(snap.Users), len(snap.Toolchains))
			return nil
		},
	}
	cmd.Flags().BoolVar(&o.save, "save", false, "keep the snapshot in the state directory instead of printing it")
	cmd.Flags().StringArrayVar(&o.users, "user", nil, "only this login `user` (repeatable)")
	return cmd
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetEscapeHTML(false)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func newDiffCmd(g *globalOptions) *cobra.Command {
	cmd := &cobra.Command{
		Use:   "diff [A [B]]",
		Short: "Show what changed between two snapshots",
		Long: `Compare two snapshots of the Go environment. A and B are snapshot files,
names of saved snapshots (as listed in the state directory's snapshots/), or
"now" for the state at this moment.

  gotrail diff          the last two saved snapshots, or the last saved and now
                        when only one is saved
  gotrail diff A        A and now
  gotrail diff A B      A and B

EXIT STATUS
  0  no difference
  1  something changed
  2  usage or runtime error`,
		Example: `  gotrail snapshot --save && gotrail diff   # what changed since the last one
  gotrail diff snapshot-20261101T000000.000000000Z.json now --format json`,
		Args: cobra.MaximumNArgs(2),
		RunE: func(cmd *cobra.Command, args []string) error {
			return runDiff(cmd.Context(), g, args, cmd.OutOrStdout())
		},
	}
	return cmd
}

// runDiff compares the two snapshots args name (see newDiffCmd) and
// prints the changes; a change is a findingsError.
func runDiff(ctx context.Context, g *globalOptions, args []string, w io.Writer) error {
	format, err := outputFormat(g, "diff", w)
	if err != nil {
		return err
	}
	cfg, err := g.loadConfig()
	if err != nil {
		return err
	}
	saved, err := hostenv.Saved(g.stateDir)
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	if args, err = diffPair(args, saved, g.stateDir); err != nil {
		return err
	}
	a, an, err := loadSnapshot(ctx, g, cfg.Host, args[0])
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	b, bn, err := loadSnapshot(ctx, g, cfg.Host, args[1])
	if err != nil {
		return fmt.Errorf("diff: %w", err)
	}
	changes := hostenv.Diff(a, b)
	if format == "json" {
		if changes == nil {
			changes = []hostenv.Change{}
		}
		if err := writeJSON(w, map[string]any{"a": an, "b": bn, "a_time": a.Time, "b_time": b.Time, "changes": changes}); err != nil {
			return err
		}
	} else {
		printDiff(w, a, an, b, bn, changes)
	}
	if len(changes) > 0 {
		return &findingsError{fmt.Sprintf("diff: %d changes", len(changes))}
	}
	return nil
}

// diffPair is the two snapshots to compare, from the arguments and the
// snapshots saved in stateDir, oldest first: the last two saved, or the
// last saved and now; A and now; or A and B.
func diffPair(args, saved []string, stateDir string) ([]string, error) {
	switch len(args) {
	case 0:
		switch len(saved) {
		case 0:
			return nil, fmt.Errorf("diff: no saved snapshots in %s (gotrail snapshot --save makes one)", filepath.Join(stateDir, "snapshots"))
		case 1:
			return []string{saved[0], "now"}, nil
		default:
			return saved[len(saved)-2:], nil
		}
	case 1:
		return append(args, "now"), nil
	}
	return args, nil
}

// loadSnapshot is the snapshot arg names, and the name to show for it:
// "now", taken as of this moment, a file, or a snapshot saved in the
// state directory.
func loadSnapshot(ctx context.Context, g *globalOptions, cfgHost, arg string) (*hostenv.Snapshot, string, error) {
	if arg == "now" {
		host, err := hostenv.Load(ctx, g.root, cfgHost, nil)
		if err != nil {
			return nil, "", err
		}
		s, err := hostenv.Take(ctx, host, time.Now())
		return s, "now", err
	}
	file := arg
	if _, err := os.Stat(file); errors.Is(err, os.ErrNotExist) && !strings.Contains(arg, "/") {
		file = filepath.Join(g.stateDir, "snapshots", arg)
	}
	s, err := hostenv.Read(file)
	return s, file, err
}

// printDiff prints changes between a (named an) and b (named bn) as text,
// each line marked as diff(1) marks them.
func printDiff(w io.Writer, a *hostenv.Snapshot, an string, b *hostenv.Snapshot, bn string, changes []hostenv.Change) {
	fmt.Fprintf(w, "--- %s (%s)\n+++ %s (%s)\n", safe(an), a.Time.Format(time.RFC3339), safe(bn), b.Time.Format(time.RFC3339))
	for _, c := range changes {
		switch {
		case c.Before == nil:
			fmt.Fprintf(w, "+ %s: %s\n", safe(c.Item), safe(*c.After))
		case c.After == nil:
			fmt.Fprintf(w, "- %s: %s\n", safe(c.Item), safe(*c.Before))
		default:
			fmt.Fprintf(w, "~ %s: %s -> %s\n", safe(c.Item), safe(*c.Before), safe(*c.After))
		}
	}
}
