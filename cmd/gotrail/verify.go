package main

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/spf13/cobra"

	"github.com/gotrail/gotrail/internal/collect"
	"github.com/gotrail/gotrail/internal/install"
	"github.com/gotrail/gotrail/internal/trail"
)

type verifyOptions struct {
	pubkey      string
	checkpoints string
	toolchain   bool
	prefix      string
	collected   bool
	fromFirst   bool
	pubkeys     string
}

func newVerifyCmd(g *globalOptions) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify [--pubkey FILE] | --toolchain [DIR] | --collected FILE... --pubkeys DIR",
		Short: "Prove the local trail (a toolchain's files, or what a collector received) untampered",
		Long: `Walk the hash chain of the trail in the state directory and check every signed
checkpoint against it. The first record that was modified, removed, reordered or
cut off is named, with its segment file and line.

The chain alone shows edits that did not recompute the hashes after them. A root
user can rewrite the whole trail: recompute the hashes, and sign the checkpoints
again with the key in the state directory. What catches that is the checkpoints
sent off the host as they were signed (every [[sink]] gets them: MSGID
trail.checkpoint on syslog): pass the collector's file with --checkpoints, and
the public key kept off the host with --pubkey (gotrail prints it when it makes
the key; without it the key in the state directory is used, which proves less).
verify then says up to which seq the collector's checkpoints prove the trail. A
trail no checkpoint matches is never called whole.

--toolchain re-hashes the files of a toolchain gotrail install installed (DIR,
by default PREFIX/go resolved: the current one) and compares them with the
manifest kept in STATE_DIR/manifests, naming every file added, changed (content,
mode, symlink target) or removed since.

--collected proves, at a central syslog collector, what each host sent it: the
files rsyslog wrote of gotrail's messages (a [[sink]] type = "syslog" with
payload = "trail" sends every trail record whole, and the signed checkpoints),
in RSYSLOG_SyslogProtocol23Format or as the raw message, many hosts in a file or
a file per host; give a host's rotated files oldest first (plain or gzip; "-" is
standard input). --pubkeys DIR holds each host's public key as HOST.pub (a copy
of the trail.pub of its state directory). For every host it walks the chain and
the checkpoints and reports the records, the first and last seq, the newest
checkpoint that proves them, the records after it covered by hashes only, and
every record missing, modified (its hash, or its link to the one before, does
not check; or the chain was rewritten after a checkpoint was signed),
duplicated, reordered or sent under another host's name, and every checkpoint
that does not verify. A copy cut off by a dropped connection and followed by the
whole message, or a record again byte for byte, is a resend, counted, not a
problem. A host's chain must start at seq 1 or after a signed anchor of its
retention; when the collector's own rotation removed its oldest files,
--from-first checks each host from the first record the files hold and says so.
Memory depends on the number of hosts, not of records. gotrail gen
rsyslog-collector writes the collector's configuration.

EXIT STATUS
  0  the trail is whole (the toolchain matches its manifest; every collected
     host is complete up to its newest proven checkpoint)
  1  a record was modified, removed, reordered or truncated, or a checkpoint
     does not verify (a toolchain file was added, changed or removed; a
     collected host has a problem, or no key in --pubkeys)
  2  usage or runtime error (no manifest for DIR; a collected file unreadable)`,
		Example: `  gotrail verify --pubkey /root/gotrail-web-01.pub
  gotrail verify --pubkey web-01.pub --checkpoints /var/log/remote/web-01/gotrail.log
  gotrail verify --toolchain                    # /usr/local/go, resolved
  gotrail verify --toolchain /usr/local/go1.22.5
  gotrail verify --collected /var/log/gotrail/*/trail.log --pubkeys /etc/gotrail/hosts
  gotrail verify --collected $(ls -tr /var/log/gotrail/web-01/trail.log*) --pubkeys /etc/gotrail/hosts --format json`,
		Args: cobra.ArbitraryArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if o.collected {
				return runVerifyCollected(g, &o, args, cmd.OutOrStdout())
			}
			if len(args) > 1 {
				return &usageError{fmt.Errorf("verify: %d arguments: files are taken with --collected, one directory with --toolchain", len(args))}
			}
			if o.toolchain {
				return runVerifyToolchain(g, &o, args, cmd.OutOrStdout())
			}
			if len(args) > 0 {
				return &usageError{fmt.Errorf("verify: %q: a directory is only taken with --toolchain", args[0])}
			}
			return runVerify(g, &o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.pubkey, "pubkey", "", "the trail's public key `file`, kept off the host")
	cmd.Flags().StringVar(&o.checkpoints, "checkpoints", "", "the checkpoints a collector kept, a `file` of its syslog (MSGID trail.checkpoint) or ECS JSON lines")
	cmd.Flags().BoolVar(&o.toolchain, "toolchain", false, "verify a toolchain's files against the manifest gotrail install kept")
	cmd.Flags().StringVar(&o.prefix, "prefix", "/usr/local", "--toolchain without DIR: check `dir`/go")
	cmd.Flags().BoolVar(&o.collected, "collected", false, "verify the files a syslog collector wrote (the arguments), per host")
	cmd.Flags().StringVar(&o.pubkeys, "pubkeys", "", "--collected: the `dir`ectory of the hosts' public keys, HOST.pub each")
	cmd.Flags().BoolVar(&o.fromFirst, "from-first", false, "--collected: check each host from the first record the files hold (the collector's rotation removed older files), not from seq 1")
	return cmd
}

// runVerifyCollected proves what a collector received, per host.
func runVerifyCollected(g *globalOptions, o *verifyOptions, files []string, w io.Writer) error {
	switch {
	case len(files) == 0:
		return &usageError{errors.New("verify --collected: name the files the collector wrote (FILE..., oldest first)")}
	case o.pubkeys == "":
		return &usageError{errors.New("verify --collected: --pubkeys DIR is needed: the hosts' public keys, HOST.pub each")}
	case o.toolchain || o.pubkey != "" || o.checkpoints != "":
		return &usageError{errors.New("verify --collected: --toolchain, --pubkey and --checkpoints are for a host's own trail")}
	}
	format, err := outputFormat(g, "verify", w)
	if err != nil {
		return err
	}
	if fi, err := os.Stat(o.pubkeys); err != nil || !fi.IsDir() {
		return fmt.Errorf("verify --collected: --pubkeys %s: not a directory", o.pubkeys)
	}
	rep, err := collect.VerifyFiles(files, collect.Options{KeyDir: o.pubkeys, FromFirst: o.fromFirst})
	if err != nil {
		return fmt.Errorf("verify --collected: %w", err)
	}
	if format == "json" {
		enc := json.NewEncoder(w)
		enc.SetIndent("", "  ")
		err = enc.Encode(rep)
	} else {
		err = rep.WriteText(w)
	}
	if err != nil {
		return fmt.Errorf("verify --collected: %w", err)
	}
	switch bad := rep.Incomplete(); {
	case len(rep.Hosts) == 0:
		return &findingsError{fmt.Sprintf("verify --collected: no gotrail trail record in %d files (%d lines)", len(files), rep.Lines)}
	case len(bad) > 0:
		return &findingsError{fmt.Sprintf("verify --collected: %d of %d hosts not complete: %s", len(bad), len(rep.Hosts), safe(strings.Join(bad, ", ")))}
	}
	return nil
}

func runVerify(g *globalOptions, o *verifyOptions, w io.Writer) error {
	if _, err := g.loadConfig(); err != nil { // for state_dir
		return err
	}
	if _, err := os.Stat(filepath.Join(g.stateDir, "trail")); err != nil {
		return fmt.Errorf("verify: no trail in %s (gotrail watch writes it; --state-dir names another): %w", g.stateDir, err)
	}
	key, err := trail.ReadPublicKey(g.stateDir, o.pubkey)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	v, keyFile := key.Verifier, key.File
	if v == nil {
		fmt.Fprintf(w, "no public key (%s): checking the chain only\n", keyFile)
	}
	opts := trail.VerifyOptions{Verifier: v}
	var bad []string
	if o.checkpoints != "" {
		if opts.Held, bad, err = trail.ReadHeld(o.checkpoints, v); err != nil {
			return fmt.Errorf("verify: %w", err)
		}
	}
	rep, err := trail.Verify(g.stateDir, opts)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if rep.Problem != nil {
		return &findingsError{"verify: " + rep.Problem.Error()}
	}
	printVerified(w, rep, o, keyFile)
	if len(bad) > 0 {
		// the trail checks out against the good ones; the collector's
		// copy was written into all the same
		for _, b := range bad {
			fmt.Fprintf(w, "not a checkpoint of this trail's key: %s\n", b)
		}
		return &findingsError{fmt.Sprintf("verify: %s holds %d notes that do not verify: forged or altered there", o.checkpoints, len(bad))}
	}
	return nil
}

// printVerified says what the proof covers: the records, the checkpoints
// that match, and up to which seq a checkpoint vouches for them.
func printVerified(w io.Writer, rep *trail.Report, o *verifyOptions, keyFile string) {
	signed := "unsigned"
	if rep.Signed {
		signed = "signatures verified with " + keyFile
	}
	fmt.Fprintf(w, "trail ok: %d records in %d segments, head seq %d hash %s; %d checkpoints of this host match (%s)\n",
		rep.Records, rep.Segments, rep.Head.Seq, rep.Head.Hash, rep.Checkpoints, signed)
	switch {
	case o.checkpoints != "":
		fmt.Fprintf(w, "proven up to seq %d by %d checkpoints held elsewhere (%s)\n", rep.Proven, rep.Held, o.checkpoints)
	default:
		fmt.Fprintf(w, "proven up to seq %d by this host's checkpoints only: root can sign them again; pass the collector's with --checkpoints\n", rep.Proven)
	}
	if rep.Pruned > 0 {
		held := "signed, not held elsewhere"
		if rep.AnchorHeld {
			held = "held elsewhere"
		}
		fmt.Fprintf(w, "the chain starts after seq %d, removed by retention (its anchor %s)\n", rep.Pruned, held)
	}
	if n := rep.Head.Seq - rep.Proven; n > 0 {
		fmt.Fprintf(w, "%d records after seq %d are covered by their hashes only until the next checkpoint\n", n, rep.Proven)
	}
	if o.pubkey == "" && rep.Signed {
		fmt.Fprintln(w, "note: the key came from the state directory; keep a copy of it elsewhere and pass --pubkey")
	}
}

func runVerifyToolchain(g *globalOptions, o *verifyOptions, args []string, w io.Writer) error {
	if _, err := g.loadConfig(); err != nil { // for state_dir
		return err
	}
	dir := filepath.Join(o.prefix, "go")
	if len(args) == 1 {
		dir = args[0]
	}
	m, name, err := install.FindManifest(g.stateDir, dir)
	if err != nil {
		return fmt.Errorf("verify --toolchain: %w", err)
	}
	d, err := install.Compare(m, m.Dir)
	if err != nil {
		return fmt.Errorf("verify --toolchain: %w", err)
	}
	if d.Empty() {
		fmt.Fprintf(w, "toolchain ok: %s (%s, %d files) matches its manifest %s of %s\n",
			m.Dir, m.Version, len(m.Files), name, m.Created.Format(time.RFC3339))
		return nil
	}
	for _, p := range d.Added {
		fmt.Fprintf(w, "added:   %s\n", filepath.Join(m.Dir, p))
	}
	for _, p := range d.Changed {
		fmt.Fprintf(w, "changed: %s\n", filepath.Join(m.Dir, p))
	}
	for _, p := range d.Removed {
		fmt.Fprintf(w, "removed: %s\n", filepath.Join(m.Dir, p))
	}
	return &findingsError{fmt.Sprintf("verify --toolchain: %s differs from its manifest %s: %d added, %d changed, %d removed",
		m.Dir, name, len(d.Added), len(d.Changed), len(d.Removed))}
}
