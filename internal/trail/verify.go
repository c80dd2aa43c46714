package trail

import (
	"bufio"
	"bytes"
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"
)

// Key files in the state directory.
const (
	keyFile         = "trail.key" // signer key, 0600
	pubFile         = "trail.pub" // verifier key, to keep elsewhere too
	checkpointsFile = "checkpoints"
)

// Key loads the trail's signing key from the state directory, making one
// (named gotrail-NAME) the first time. The verifier key is returned for
// printing: kept off the host, it is what makes a rewrite detectable.
func Key(stateDir, name string) (signer note.Signer, vkey string, created bool, err error) {
	kp, pp := filepath.Join(stateDir, keyFile), filepath.Join(stateDir, pubFile)
	skey, err := os.ReadFile(kp)
	if errors.Is(err, fs.ErrNotExist) {
		keyName := "gotrail"
		if name != "" {
			keyName += "-" + name
		}
		s, v, gerr := note.GenerateKey(rand.Reader, keyName)
		if gerr != nil {
			return nil, "", false, fmt.Errorf("trail: make a signing key: %w", gerr)
		}
		if err := os.MkdirAll(stateDir, 0o700); err != nil {
			return nil, "", false, fmt.Errorf("trail: %w", err)
		}
		if err := os.WriteFile(kp, []byte(s+"\n"), 0o600); err != nil {
			return nil, "", false, fmt.Errorf("trail: write %s: %w", kp, err)
		}
		if err := os.WriteFile(pp, []byte(v+"\n"), 0o644); err != nil {
			return nil, "", false, fmt.Errorf("trail: write %s: %w", pp, err)
		}
		skey, created = []byte(s), true
	} else if err != nil {
		return nil, "", false, fmt.Errorf("trail: read %s: %w", kp, err)
	}
	signer, err = note.NewSigner(strings.TrimSpace(string(skey)))
	if err != nil {
		return nil, "", false, fmt.Errorf("trail: %s: %w", kp, err)
	}
	pub, err := os.ReadFile(pp)
	if err != nil {
		return nil, "", false, fmt.Errorf("trail: read %s: %w", pp, err)
	}
	return signer, strings.TrimSpace(string(pub)), created, nil
}

// Checkpoint is a signed statement of the trail's head, or of where it
// starts after retention (an anchor).
type Checkpoint struct {
	Kind string // checkpointTitle or anchorTitle
	Host string
	Head Head
	Time time.Time
	Note []byte // the signed note, as sent to the sinks
}

// The first lines of the two notes the trail's key signs.
const (
	checkpointTitle = "gotrail trail checkpoint"
	anchorTitle     = "gotrail trail anchor"
)

// IsAnchor reports whether c says where the trail starts after retention.
func (c *Checkpoint) IsAnchor() bool { return c.Kind == anchorTitle }

func noteText(title, host string, h Head, t time.Time) string {
	return fmt.Sprintf("%s\n%s\n%d\n%s\n%s\n", title, host, h.Seq, h.Hash, t.UTC().Format(time.RFC3339))
}

// Checkpoint signs the current head, records it in the state directory and
// returns it for the sinks. The head must be durable first: Checkpoint syncs.
func (w *Writer) Checkpoint(signer note.Signer, host string) (*Checkpoint, error) {
	var c *Checkpoint
	err := w.locked(func() (err error) {
		c, err = w.checkpoint(signer, host)
		return err
	})
	return c, err
}

func (w *Writer) checkpoint(signer note.Signer, host string) (*Checkpoint, error) {
	if err := w.Sync(); err != nil {
		return nil, err
	}
	now := w.now()
	msg, err := note.Sign(&note.Note{Text: noteText(checkpointTitle, host, w.head, now)}, signer)
	if err != nil {
		return nil, fmt.Errorf("trail: sign checkpoint: %w", err)
	}
	p := filepath.Join(w.dir, checkpointsFile)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("trail: %w", err)
	}
	line := base64.StdEncoding.EncodeToString(msg) + "\n"
	fi, err := f.Stat()
	if err == nil {
		if _, err = f.WriteString(line); err != nil {
			// a short write must not stay: the next checkpoint would
			// follow a broken line
			if terr := f.Truncate(fi.Size()); terr != nil {
				err = errors.Join(err, terr)
			}
		}
	}
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("trail: write %s: %w", p, err)
	}
	return &Checkpoint{Kind: checkpointTitle, Host: host, Head: w.head, Time: now, Note: msg}, nil
}

// ParseCheckpoint reads a checkpoint note, checking its signature when a
// verifier is given.
func ParseCheckpoint(msg []byte, v note.Verifier) (*Checkpoint, error) {
	var text string
	if v != nil {
		n, err := note.Open(msg, note.VerifierList(v))
		if err != nil {
			return nil, fmt.Errorf("checkpoint signature: %w", err)
		}
		text = n.Text
	} else {
		i := bytes.Index(msg, []byte("\n\n"))
		if i < 0 {
			return nil, errors.New("checkpoint: not a signed note")
		}
		text = string(msg[:i+1])
	}
	lines := strings.Split(text, "\n")
	if len(lines) < 6 || lines[0] != checkpointTitle && lines[0] != anchorTitle {
		return nil, errors.New("checkpoint: not a gotrail checkpoint")
	}
	seq, err := strconv.ParseUint(lines[2], 10, 64)
	if err != nil {
		return nil, fmt.Errorf("checkpoint: seq %q", lines[2])
	}
	t, err := time.Parse(time.RFC3339, lines[4])
	if err != nil {
		return nil, fmt.Errorf("checkpoint: time %q", lines[4])
	}
	return &Checkpoint{Kind: lines[0], Host: lines[1], Head: Head{Seq: seq, Hash: lines[3]}, Time: t, Note: msg}, nil
}

// ErrCheckpoint is a checkpoint that does not verify or parse.
var ErrCheckpoint = errors.New("bad checkpoint")

// Report is what Verify found.
type Report struct {
	Records     uint64
	Segments    int
	Head        Head
	Checkpoints int    // this host's checkpoints that match the chain
	Held        int    // checkpoints held elsewhere that match the chain
	Pruned      uint64 // records removed by retention (the chain starts after them)
	Signed      bool   // their signatures were verified
	// Proven is the newest seq a matching checkpoint vouches for: one held
	// elsewhere when any are given, else this host's. The records after it
	// are covered by the chain's hashes only.
	Proven uint64
	// AnchorHeld says the anchor the chain starts from (after retention) is
	// among the checkpoints held elsewhere.
	AnchorHeld bool
	// Problem is the first thing wrong, naming the record; nil when the
	// trail is whole.
	Problem error
}

// VerifyOptions are what Verify checks the trail against.
type VerifyOptions struct {
	// Verifier checks the signatures (the public key kept off the host);
	// nil checks the chain and the checkpoints' contents only.
	Verifier note.Verifier
	// Held are checkpoints kept off the host, as a syslog collector
	// received them, their signatures checked already. The key is on the
	// host, so root can rewrite the trail and sign it again; what was sent
	// away before cannot be rewritten.
	Held []*Checkpoint
}

// maxRecord is the longest trail line a reader takes: far beyond any
// event gotrail writes.
const maxRecord = 64 << 20

// heldCheckpoint is a checkpoint the chain must match, and whose it is.
type heldCheckpoint struct {
	*Checkpoint
	elsewhere bool
}

func (c heldCheckpoint) what() string {
	if c.elsewhere {
		return "the checkpoint held elsewhere signed at " + c.Time.Format(time.RFC3339)
	}
	return "the checkpoint signed at " + c.Time.Format(time.RFC3339)
}

// Verify walks the whole chain and the checkpoints: this host's, and the
// ones held elsewhere. With a verifier (the public key kept elsewhere) the
// signatures are checked too. A trail no checkpoint matches is not called
// whole: its hashes alone anyone can recompute.
func Verify(stateDir string, opts VerifyOptions) (*Report, error) {
	dir := filepath.Join(stateDir, dirName)
	rep := &Report{Signed: opts.Verifier != nil}
	if len(opts.Held) > 0 && opts.Verifier == nil {
		// an unsigned note anyone can write into the collector's log
		rep.Problem = errors.New("checkpoints held elsewhere prove nothing without the trail's public key to check their signatures (--pubkey)")
		return rep, nil
	}
	local, err := readCheckpoints(dir, opts.Verifier)
	if errors.Is(err, ErrCheckpoint) {
		rep.Problem = err // a forged or altered checkpoint is tampering
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	want := map[uint64][]heldCheckpoint{}
	for _, c := range local {
		want[c.Head.Seq] = append(want[c.Head.Seq], heldCheckpoint{c, false})
	}
	for _, c := range opts.Held {
		if !c.IsAnchor() {
			want[c.Head.Seq] = append(want[c.Head.Seq], heldCheckpoint{c, true})
		}
	}
	anchor, err := readAnchor(dir)
	if err != nil {
		return nil, err
	}
	if rep.Problem = checkAnchor(anchor, opts, rep); rep.Problem != nil {
		return rep, nil
	}
	if err := walkChain(dir, anchor, want, rep); err != nil || rep.Problem != nil {
		return rep, err
	}
	rep.Problem = coverage(want, rep, len(opts.Held) > 0)
	return rep, nil
}

// checkAnchor checks the anchor the chain starts from after retention:
// signed by the trail's key, and held elsewhere when the checkpoints held
// elsewhere reach back before it (whoever collected them then got it).
func checkAnchor(a *Anchor, opts VerifyOptions, rep *Report) error {
	if a == nil {
		return nil
	}
	rep.Pruned = a.Seq
	if len(a.Note) == 0 {
		return fmt.Errorf("the trail starts at seq %d after retention, but trail/%s is not signed: it cannot be told from one forged after removing records", a.Seq, anchorFile)
	}
	c, err := ParseCheckpoint(a.Note, opts.Verifier)
	if err != nil || !c.IsAnchor() || c.Head != a.Head {
		return fmt.Errorf("trail/%s (seq %d) does not verify: forged or altered", anchorFile, a.Seq)
	}
	rep.Checkpoints++ // a signed statement of the head the chain starts after
	older := false
	for _, h := range opts.Held {
		if h.IsAnchor() && h.Head == a.Head {
			rep.AnchorHeld = true
			rep.Held++
			rep.Proven = max(rep.Proven, a.Seq)
			return nil
		}
		// a collector that held checkpoints from before the anchor was
		// made (by seq, or by time) was there to receive it
		older = older || h.Head.Seq <= a.Seq || h.Time.Before(c.Time)
	}
	if older {
		return fmt.Errorf("the trail starts at seq %d (an anchor of %s), but no anchor held elsewhere says so though checkpoints held elsewhere go back before it: records before it were removed, not by retention",
			a.Seq, c.Time.Format(time.RFC3339))
	}
	return nil
}

// walkChain reads every record in order, checking seq, prev, hash and the
// checkpoints at their seq.
func walkChain(dir string, anchor *Anchor, want map[uint64][]heldCheckpoint, rep *Report) error {
	segs, err := segments(dir)
	if err != nil {
		return err
	}
	rep.Segments = len(segs)
	prev, next := Genesis, uint64(1)
	if anchor != nil {
		prev, next = anchor.Hash, anchor.Seq+1
	}
	for _, s := range segs {
		prev, next, err = walkSegment(s, prev, next, want, rep)
		if err != nil || rep.Problem != nil {
			return err
		}
	}
	rep.Head = Head{Seq: next - 1, Hash: prev}
	return nil
}

func walkSegment(s, prev string, next uint64, want map[uint64][]heldCheckpoint, rep *Report) (string, uint64, error) {
	f, err := os.Open(s)
	if err != nil {
		return prev, next, fmt.Errorf("trail: %w", err)
	}
	defer f.Close()
	fail := func(format string, args ...any) (string, uint64, error) {
		rep.Problem = fmt.Errorf(format, args...)
		return prev, next, nil
	}
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 1<<20), maxRecord)
	n := 0
	for sc.Scan() {
		n++
		where := fmt.Sprintf("%s:%d", filepath.Base(s), n)
		r, err := parseLine(sc.Bytes())
		if err != nil {
			return fail("record after seq %d (%s) is not a trail record: modified or cut", next-1, where)
		}
		switch {
		case r.seq > next:
			return fail("record seq %d is missing: removed or reordered (the record at %s has seq %d)", next, where, r.seq)
		case r.seq < next:
			return fail("record seq %d (%s) comes after seq %d: reordered or duplicated", r.seq, where, next-1)
		case r.prev != prev:
			return fail("record seq %d (%s) does not follow the record before it: a record was removed or reordered", r.seq, where)
		}
		sum := sha256.New()
		sum.Write([]byte(prev))
		sum.Write(r.canon)
		if hex.EncodeToString(sum.Sum(nil)) != r.hash {
			return fail("record seq %d (%s) was modified: its hash does not match its content", r.seq, where)
		}
		for _, c := range want[r.seq] {
			if c.Head.Hash != r.hash {
				return fail("record seq %d (%s) differs from %s: history was rewritten", r.seq, where, c.what())
			}
			if c.elsewhere {
				rep.Held++
				rep.Proven = max(rep.Proven, r.seq)
			} else {
				rep.Checkpoints++
			}
		}
		prev, next = r.hash, r.seq+1
		rep.Records++
	}
	if errors.Is(sc.Err(), bufio.ErrTooLong) {
		return fail("record after seq %d (%s:%d) is longer than %d MiB: not a record gotrail wrote", next-1, filepath.Base(s), n+1, maxRecord>>20)
	}
	if err := sc.Err(); err != nil {
		return prev, next, fmt.Errorf("trail: read %s: %w", s, err)
	}
	return prev, next, nil
}

// coverage is what the checkpoints say beyond each record: none may lie
// beyond the end (records after it were cut off), and at least one must
// match, or nothing proves the trail.
func coverage(want map[uint64][]heldCheckpoint, rep *Report, held bool) error {
	var last *heldCheckpoint
	for seq, cs := range want {
		for i := range cs {
			if seq > rep.Head.Seq && (last == nil || seq > last.Head.Seq) {
				last = &cs[i]
			}
		}
	}
	if last != nil {
		return fmt.Errorf("the trail ends at seq %d but %s covers seq %d: records after seq %d were removed (truncated)",
			rep.Head.Seq, last.what(), last.Head.Seq, rep.Head.Seq)
	}
	if !held && rep.Checkpoints > 0 {
		rep.Proven = rep.Pruned // the anchor, verified
		for seq, cs := range want {
			if seq <= rep.Head.Seq && seq > rep.Pruned && len(cs) > 0 {
				rep.Proven = max(rep.Proven, seq)
			}
		}
	}
	if rep.Records > 0 && rep.Checkpoints == 0 && rep.Held == 0 {
		return fmt.Errorf("no checkpoint matches the trail (seq %d to %d): its hashes alone anyone can recompute (were trail/%s removed?)",
			rep.Pruned+1, rep.Head.Seq, checkpointsFile)
	}
	return nil
}

func readCheckpoints(dir string, v note.Verifier) ([]*Checkpoint, error) {
	p := filepath.Join(dir, checkpointsFile)
	data, err := os.ReadFile(p)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trail: %w", err)
	}
	var out []*Checkpoint
	for i, line := range strings.Split(strings.TrimSpace(string(data)), "\n") {
		if line == "" {
			continue
		}
		msg, err := base64.StdEncoding.DecodeString(line)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: not a checkpoint: %v", ErrCheckpoint, p, i+1, err)
		}
		c, err := ParseCheckpoint(msg, v)
		if err != nil {
			return nil, fmt.Errorf("%w: %s:%d: %v", ErrCheckpoint, p, i+1, err)
		}
		out = append(out, c)
	}
	return out, nil
}

// LastCheckpoint is the head the newest checkpoint in the state directory
// covers (zero when there is none), read without checking signatures: for
// the watcher's check at start that nothing was cut off while it was down.
func LastCheckpoint(stateDir string) (Head, error) {
	cps, err := readCheckpoints(filepath.Join(stateDir, dirName), nil)
	var last Head
	for _, c := range cps {
		if c.Head.Seq > last.Seq {
			last = c.Head
		}
	}
	return last, err
}
