package main

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/mod/sumdb/note"

	"github.com/gotrail/gotrail/internal/trail"
)

type verifyOptions struct {
	pubkey string
}

func newVerifyCmd(g *globalOptions) *cobra.Command {
	var o verifyOptions
	cmd := &cobra.Command{
		Use:   "verify [--pubkey FILE]",
		Short: "Prove the local trail untampered",
		Long: `Walk the hash chain of the trail in the state directory and check every signed
checkpoint against it. The first record that was modified, removed, reordered or
cut off is named, with its segment file and line.

The chain alone shows edits that did not recompute the hashes after them. A root
user can rewrite the whole trail; what catches that is a checkpoint signed with
the trail's key and checked with a public key kept off the host: pass it with
--pubkey (gotrail prints it when it makes the key). Without --pubkey the key in
the state directory is used, which proves less.

EXIT STATUS
  0  the trail is whole
  1  a record was modified, removed, reordered or truncated, or a checkpoint
     does not verify
  2  usage or runtime error`,
		Example: `  gotrail verify --pubkey /root/gotrail-web-01.pub`,
		Args:    cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			return runVerify(g, &o, cmd.OutOrStdout())
		},
	}
	cmd.Flags().StringVar(&o.pubkey, "pubkey", "", "the trail's public key `file`, kept off the host")
	return cmd
}

func runVerify(g *globalOptions, o *verifyOptions, w io.Writer) error {
	if _, err := g.loadConfig(); err != nil { // for state_dir
		return err
	}
	if _, err := os.Stat(filepath.Join(g.stateDir, "trail")); err != nil {
		return fmt.Errorf("verify: no trail in %s (gotrail watch writes it; --state-dir names another): %w", g.stateDir, err)
	}
	keyFile := o.pubkey
	if keyFile == "" {
		keyFile = filepath.Join(g.stateDir, "trail.pub")
	}
	var v note.Verifier
	data, err := os.ReadFile(keyFile)
	switch {
	case err == nil:
		v, err = note.NewVerifier(strings.TrimSpace(string(data)))
		if err != nil {
			return fmt.Errorf("verify: %s: %w", keyFile, err)
		}
	case o.pubkey == "" && errors.Is(err, fs.ErrNotExist):
		fmt.Fprintf(w, "no public key (%s): checking the chain only\n", keyFile)
	default:
		return fmt.Errorf("verify: %w", err)
	}
	rep, err := trail.Verify(g.stateDir, v)
	if err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	if rep.Problem != nil {
		return &findingsError{"verify: " + rep.Problem.Error()}
	}
	signed := "unsigned"
	if rep.Signed {
		signed = "signatures verified with " + keyFile
	}
	fmt.Fprintf(w, "trail ok: %d records in %d segments, head seq %d hash %s; %d checkpoints match (%s)\n",
		rep.Records, rep.Segments, rep.Head.Seq, rep.Head.Hash, rep.Checkpoints, signed)
	if o.pubkey == "" && rep.Signed {
		fmt.Fprintln(w, "note: the key came from the state directory; keep a copy of it elsewhere and pass --pubkey")
	}
	return nil
}
