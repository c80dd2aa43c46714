package report

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gotrail/gotrail/internal/audit"
	"github.com/gotrail/gotrail/internal/classify"
	"github.com/gotrail/gotrail/internal/event"
	"github.com/gotrail/gotrail/internal/pipeline"
	"github.com/gotrail/gotrail/internal/source"
	"github.com/gotrail/gotrail/internal/trail"
)

// Options say what period a report covers and where it reads it.
type Options struct {
	StateDir string
	// Inputs are audit logs to read instead of the trail (nil: the trail
	// in StateDir); InputNames how the user named them.
	Inputs     []source.Input
	InputNames []string
	Since      time.Time // zero: from the first event
	Until      time.Time // zero: to the last
	All        bool      // list every go.exec among the changes
	Lang       string    // zh or en
	Root       string    // the host's files (--root)
	Host       string    // host name for the scope, and for log records without node=
	GOROOTs    []string  // the configuration's extra GOROOTs
	// Classifier and Names interpret audit logs.
	Classifier *classify.Classifier
	Names      audit.Names
	// PubKey is the trail's public key file (default STATE_DIR/trail.pub);
	// Held the collector's checkpoints, as verify --checkpoints takes.
	PubKey, Held string
	Live         bool // ask this kernel and auditd (false under --root)
	NoHost       bool // skip the host's state (toolchains, findings): for tests
	Now          time.Time
	TempDir      string
	Log          *slog.Logger

	installs map[string]string
}

// Gather reads the period and the host's state into a Report. The caller
// closes it.
func Gather(ctx context.Context, o Options) (*Report, error) {
	if o.Now.IsZero() {
		o.Now = time.Now()
	}
	if o.Log == nil {
		o.Log = slog.Default()
	}
	rows, err := NewRows(o.TempDir)
	if err != nil {
		return nil, err
	}
	rep := &Report{Lang: o.Lang, Changes: rows}
	s := &rep.Scope
	s.Host, s.GeneratedAt = o.Host, o.Now.UTC()
	if !o.Since.IsZero() {
		s.Since = &o.Since
	}
	if !o.Until.IsZero() {
		s.Until = &o.Until
	}
	agg := newAggregator(rep, rows, o.Since, o.Until, o.All)
	if o.Inputs == nil {
		err = gatherTrail(ctx, &o, rep, agg)
	} else {
		err = gatherLogs(ctx, &o, rep, agg)
	}
	if err != nil {
		rep.Close()
		return nil, err
	}
	agg.finish()
	o.installs = agg.installs
	hostState(ctx, &o, rep)
	rep.Appendix = appendix(&o, rep)
	return rep, nil
}

// gatherTrail streams the trail through the aggregator while another
// goroutine walks the chain: both read the whole trail, so together they
// take the time of one.
func gatherTrail(ctx context.Context, o *Options, rep *Report, agg *aggregator) error {
	dir := filepath.Join(o.StateDir, "trail")
	if _, err := os.Stat(dir); err != nil {
		return fmt.Errorf("no trail in %s (gotrail watch writes it; --state-dir names another, or name audit logs): %w", o.StateDir, err)
	}
	rep.Scope.Source, rep.Scope.Inputs = "trail", []string{dir}
	rep.Proof.Trail = true
	proved := make(chan error, 1)
	go func() { proved <- prove(o, &rep.Proof) }()
	d, wait := newDecoder(ctx, agg.add)
	rerr := trail.Scan(o.StateDir, func(line []byte) error {
		d.line(line)
		return ctx.Err()
	})
	err := wait()
	perr := <-proved
	if rerr != nil {
		return fmt.Errorf("read the trail: %w", rerr)
	}
	if err != nil {
		return err
	}
	return perr
}

// prove is gotrail verify's walk, and the checkpoints it checked.
func prove(o *Options, p *Proof) error {
	key, err := trail.ReadPublicKey(o.StateDir, o.PubKey)
	if err != nil {
		return err
	}
	v := key.Verifier
	if v != nil { // else the chain alone; the proof section says no key was there
		p.Key, p.KeyFile = key.Key, key.File
	}
	opts := trail.VerifyOptions{Verifier: v}
	if o.Held != "" {
		var bad []string
		if opts.Held, bad, err = trail.ReadHeld(o.Held, v); err != nil {
			return fmt.Errorf("read the collector's checkpoints: %w", err)
		}
		p.HeldFile = o.Held
		if len(bad) > 0 {
			p.Problem = fmt.Sprintf("%s holds %d notes that do not verify: forged or altered there", o.Held, len(bad))
		}
	}
	vr, err := trail.Verify(o.StateDir, opts)
	if err != nil {
		return fmt.Errorf("verify the trail: %w", err)
	}
	p.Records, p.Segments, p.HeadHash, p.Proven, p.Pruned, p.Signed, p.Held = vr.Records, vr.Segments, vr.Head.Hash, vr.Proven, vr.Pruned, vr.Signed, vr.Held
	p.From, p.To = vr.Pruned+1, vr.Head.Seq
	if vr.Problem != nil {
		p.Problem = vr.Problem.Error()
	}
	p.Checkpoints, p.CheckpointsTotal = checkpoints(o.StateDir, v)
	return nil
}

// checkpoints lists the newest signed checkpoints of the trail (Verify
// has checked them all against the chain already).
func checkpoints(stateDir string, v note.Verifier) ([]Checkpoint, int) {
	data, err := os.ReadFile(filepath.Join(stateDir, "trail", "checkpoints"))
	if err != nil {
		return nil, 0
	}
	var out []Checkpoint
	for _, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		msg, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			continue
		}
		c, err := trail.ParseCheckpoint(msg, v)
		if err != nil {
			continue
		}
		out = append(out, Checkpoint{Seq: c.Head.Seq, Time: c.Time.UTC(), Hash: c.Head.Hash, Anchor: c.IsAnchor()})
	}
	total := len(out)
	if len(out) > maxCheckpoints {
		out = slices.Clone(out[len(out)-maxCheckpoints:])
	}
	return out, total
}

// gatherLogs reads audit logs as gotrail events does, through the same
// pipeline, and decodes what it renders: one interpretation of a log,
// whatever reads it.
func gatherLogs(ctx context.Context, o *Options, rep *Report, agg *aggregator) error {
	rep.Scope.Source, rep.Scope.Inputs = "audit log", o.InputNames
	cl := o.Classifier
	if cl == nil {
		cl = &classify.Classifier{GOROOTs: o.GOROOTs}
	}
	filter := &event.Filter{Since: o.Since, Until: o.Until, GoOnly: true}
	d, wait := newDecoder(ctx, agg.add)
	lw := &lineWriter{d: d}
	stats, err := pipeline.Run(ctx, o.Inputs, pipeline.Render(o.Names, o.Host, false, cl, filter, event.AppendJSON), lw, pipeline.Options{})
	if len(lw.rest) > 0 {
		d.line(lw.rest)
	}
	if werr := wait(); err == nil {
		err = werr
	}
	if err != nil {
		return fmt.Errorf("read the audit logs: %w", err)
	}
	if len(stats.InputErrors) > 0 {
		return fmt.Errorf("read the audit logs: %w", errors.Join(stats.InputErrors...))
	}
	rep.Skipped.Malformed = stats.Malformed
	p := &rep.Proof
	p.Missing = stats.Missing
	for _, g := range stats.Gaps {
		p.GapsTotal++
		p.Gaps = append(p.Gaps, Gap{Time: time.Unix(g.Sec, 0).UTC(), ID: fmt.Sprintf("%d-%d", g.From, g.To), Events: g.Events(),
			Message: fmt.Sprintf("audit events %d to %d are not in the input", g.From, g.To)})
	}
	return nil
}
