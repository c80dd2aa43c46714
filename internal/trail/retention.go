package trail

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"time"

	"golang.org/x/mod/sumdb/note"

	"github.com/gotrail/gotrail/internal/atomicfile"
)

const anchorFile = "anchor"

// Anchor is where the trail begins after retention removed older segments:
// the last removed record's seq and hash, which the first kept record's
// prev must equal.
type Anchor struct {
	Head
	Pruned time.Time `json:"pruned"`
	// Note is the anchor signed with the trail's key ("gotrail trail
	// anchor", a checkpoint of the head the chain now starts from), and
	// sent to the sinks like a checkpoint: what tells retention from the
	// oldest records removed and an anchor forged after them. Anchors of
	// gotrails before it have none.
	Note []byte `json:"note,omitempty"`
}

// Retention says how long records of each kind are kept; 0 keeps them for
// good. Kinds not listed use Default.
type Retention struct {
	ByKind  map[string]time.Duration
	Default time.Duration
	// Shipped, when set, is the last record every sink that ships the trail
	// has had acknowledged: a segment holding a later one is kept whatever
	// its age, so that a collector away past the retention still gets all.
	Shipped func() uint64
}

func (r Retention) keep(kind string) time.Duration {
	if d, ok := r.ByKind[kind]; ok {
		return d
	}
	return r.Default
}

// Prune removes whole segments from the start of the trail whose every
// record is past its kind's retention, and records the anchor the rest of
// the chain starts from, signed by signer for host. The segment being
// written is never removed. It returns the number of segments removed and
// the signed anchor (nil when none was removed), which belongs with the
// checkpoints kept off the host.
func Prune(stateDir string, r Retention, now time.Time, signer note.Signer, host string) (int, *Checkpoint, error) {
	dir := filepath.Join(stateDir, dirName)
	segs, err := segments(dir)
	if err != nil {
		return 0, nil, err
	}
	removed := 0
	var anchor *Checkpoint
	for _, s := range segs[:max(len(segs)-1, 0)] {
		last, expired, err := segmentExpired(s, r, now)
		if err != nil {
			return removed, anchor, err
		}
		if !expired || r.Shipped != nil && last.Seq > r.Shipped() {
			break // the chain is cut only at its start
		}
		msg, err := note.Sign(&note.Note{Text: noteText(anchorTitle, host, last, now)}, signer)
		if err != nil {
			return removed, anchor, fmt.Errorf("trail: sign the anchor: %w", err)
		}
		data, _ := json.Marshal(Anchor{Head: last, Pruned: now.UTC(), Note: msg})
		if err := atomicfile.Write(filepath.Join(dir, anchorFile), data, 0o600); err != nil {
			return removed, anchor, err
		}
		if err := os.Remove(s); err != nil {
			return removed, anchor, fmt.Errorf("trail: prune %s: %w", s, err)
		}
		anchor = &Checkpoint{Kind: anchorTitle, Host: host, Head: last, Time: now.UTC(), Note: msg}
		removed++
	}
	return removed, anchor, nil
}

// segmentExpired reports whether every record of a segment is past its
// retention, and the segment's last head.
func segmentExpired(name string, r Retention, now time.Time) (Head, bool, error) {
	var last Head
	expired := true
	n := 0
	err := readSegment(name, func(line []byte) error {
		rec, err := parseLine(line)
		if err != nil {
			return fmt.Errorf("trail: %s: %w", name, err)
		}
		n++
		last = Head{Seq: rec.seq, Hash: rec.hash}
		var e struct {
			Time  time.Time `json:"@timestamp"`
			Event struct {
				Kind string `json:"kind"` // gotrail's kind, in records older than ECS conformance
			} `json:"event"`
			Gotrail *struct {
				Kind string `json:"kind"`
			} `json:"gotrail"`
		}
		if err := json.Unmarshal(line, &e); err != nil {
			return fmt.Errorf("trail: %s: %w", name, err)
		}
		kind := e.Event.Kind
		if e.Gotrail != nil {
			kind = e.Gotrail.Kind
		}
		keep := r.keep(kind)
		if keep == 0 || now.Sub(e.Time) < keep {
			expired = false
		}
		return nil
	})
	return last, expired && n > 0, err
}

func readSegment(name string, fn func([]byte) error) error {
	data, err := os.ReadFile(name)
	if err != nil {
		return fmt.Errorf("trail: %w", err)
	}
	for _, line := range strings.Split(strings.TrimSuffix(string(data), "\n"), "\n") {
		if line == "" {
			continue
		}
		if err := fn([]byte(line)); err != nil {
			return err
		}
	}
	return nil
}

func readAnchor(dir string) (*Anchor, error) {
	data, err := os.ReadFile(filepath.Join(dir, anchorFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("trail: %w", err)
	}
	var a Anchor
	if err := json.Unmarshal(data, &a); err != nil {
		return nil, fmt.Errorf("trail: %s: %w", filepath.Join(dir, anchorFile), err)
	}
	return &a, nil
}
