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

// Checkpoint is a signed statement of the trail's head.
type Checkpoint struct {
	Host string
	Head Head
	Time time.Time
	Note []byte // the signed note, as sent to the sinks
}

func checkpointText(host string, h Head, t time.Time) string {
	return fmt.Sprintf("gotrail trail checkpoint\n%s\n%d\n%s\n%s\n", host, h.Seq, h.Hash, t.UTC().Format(time.RFC3339))
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
	msg, err := note.Sign(&note.Note{Text: checkpointText(host, w.head, now)}, signer)
	if err != nil {
		return nil, fmt.Errorf("trail: sign checkpoint: %w", err)
	}
	p := filepath.Join(w.dir, checkpointsFile)
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_APPEND, 0o600)
	if err != nil {
		return nil, fmt.Errorf("trail: %w", err)
	}
	line := base64.StdEncoding.EncodeToString(msg) + "\n"
	_, err = f.WriteString(line)
	if serr := f.Sync(); err == nil {
		err = serr
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return nil, fmt.Errorf("trail: write %s: %w", p, err)
	}
	return &Checkpoint{Host: host, Head: w.head, Time: now, Note: msg}, nil
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
	if len(lines) < 6 || lines[0] != "gotrail trail checkpoint" {
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
	return &Checkpoint{Host: lines[1], Head: Head{Seq: seq, Hash: lines[3]}, Time: t, Note: msg}, nil
}

// ErrCheckpoint is a checkpoint that does not verify or parse.
var ErrCheckpoint = errors.New("bad checkpoint")

// Report is what Verify found.
type Report struct {
	Records     uint64
	Segments    int
	Head        Head
	Checkpoints int    // checkpoints checked against the chain
	Pruned      uint64 // records removed by retention (the chain starts after them)
	Signed      bool   // their signatures were verified
	// Problem is the first thing wrong, naming the record; nil when the
	// trail is whole.
	Problem error
}

// Verify walks the whole chain and the checkpoints. With a verifier (the
// public key kept elsewhere) the checkpoints' signatures are checked too,
// which is what catches a trail rewritten from the start.
func Verify(stateDir string, v note.Verifier) (*Report, error) {
	dir := filepath.Join(stateDir, dirName)
	rep := &Report{Signed: v != nil}
	cps, err := readCheckpoints(dir, v)
	if errors.Is(err, ErrCheckpoint) {
		rep.Problem = err // a forged or altered checkpoint is tampering
		return rep, nil
	}
	if err != nil {
		return nil, err
	}
	segs, err := segments(dir)
	if err != nil {
		return nil, err
	}
	rep.Segments = len(segs)
	want := map[uint64]*Checkpoint{}
	var lastCP *Checkpoint
	for _, c := range cps {
		want[c.Head.Seq] = c
		if lastCP == nil || c.Head.Seq > lastCP.Head.Seq {
			lastCP = c
		}
	}
	prev, next := Genesis, uint64(1)
	anchor, err := readAnchor(dir)
	if err != nil {
		return nil, err
	}
	if anchor != nil {
		// retention removed the records up to the anchor
		prev, next = anchor.Hash, anchor.Seq+1
		rep.Pruned = anchor.Seq
	}
	fail := func(format string, args ...any) (*Report, error) {
		rep.Problem = fmt.Errorf(format, args...)
		return rep, nil
	}
	for _, s := range segs {
		f, err := os.Open(s)
		if err != nil {
			return nil, fmt.Errorf("trail: %w", err)
		}
		sc := bufio.NewScanner(f)
		sc.Buffer(make([]byte, 0, 1<<20), 64<<20)
		n := 0
		for sc.Scan() {
			n++
			where := fmt.Sprintf("%s:%d", filepath.Base(s), n)
			r, err := parseLine(sc.Bytes())
			if err != nil {
				f.Close()
				return fail("record after seq %d (%s) is not a trail record: modified or cut", next-1, where)
			}
			switch {
			case r.seq > next:
				f.Close()
				return fail("record seq %d is missing: removed or reordered (the record at %s has seq %d)", next, where, r.seq)
			case r.seq < next:
				f.Close()
				return fail("record seq %d (%s) comes after seq %d: reordered or duplicated", r.seq, where, next-1)
			case r.prev != prev:
				f.Close()
				return fail("record seq %d (%s) does not follow the record before it: a record was removed or reordered", r.seq, where)
			}
			sum := sha256.New()
			sum.Write([]byte(prev))
			sum.Write(r.canon)
			if hex.EncodeToString(sum.Sum(nil)) != r.hash {
				f.Close()
				return fail("record seq %d (%s) was modified: its hash does not match its content", r.seq, where)
			}
			if c := want[r.seq]; c != nil {
				if c.Head.Hash != r.hash {
					f.Close()
					return fail("record seq %d (%s) differs from the checkpoint signed at %s: history was rewritten", r.seq, where, c.Time.Format(time.RFC3339))
				}
				rep.Checkpoints++
			}
			prev, next = r.hash, r.seq+1
			rep.Records++
		}
		err = sc.Err()
		f.Close()
		if err != nil {
			return nil, fmt.Errorf("trail: read %s: %w", s, err)
		}
	}
	rep.Head = Head{Seq: next - 1, Hash: prev}
	if lastCP != nil && lastCP.Head.Seq > rep.Head.Seq {
		return fail("the trail ends at seq %d but a checkpoint signed at %s covers seq %d: records after seq %d were removed (truncated)",
			rep.Head.Seq, lastCP.Time.Format(time.RFC3339), lastCP.Head.Seq, rep.Head.Seq)
	}
	return rep, nil
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
