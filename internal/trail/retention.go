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

	"github.com/gotrail/gotrail/internal/atomicfile"
)

const anchorFile = "anchor"

// Anchor is where the trail begins after retention removed older segments:
// the last removed record's seq and hash, which the first kept record's
// prev must equal.
type Anchor struct {
	Head
	Pruned time.Time `json:"pruned"`
}

// Retention says how long records of each kind are kept; 0 keeps them for
// good. Kinds not listed use Default.
type Retention struct {
	ByKind  map[string]time.Duration
	Default time.Duration
}

func (r Retention) keep(kind string) time.Duration {
	if d, ok := r.ByKind[kind]; ok {
		return d
	}
	return r.Default
}

// Prune removes whole segments from the start of the trail whose every
// record is past its kind's retention, and records the anchor the rest of
// the chain starts from. The segment being written is never removed. It
// returns the number of segments removed.
func Prune(stateDir string, r Retention, now time.Time) (int, error) {
	dir := filepath.Join(stateDir, dirName)
	segs, err := segments(dir)
	if err != nil {
		return 0, err
	}
	removed := 0
	for _, s := range segs[:max(len(segs)-1, 0)] {
		last, expired, err := segmentExpired(s, r, now)
		if err != nil {
			return removed, err
		}
		if !expired {
			break // the chain is cut only at its start
		}
		data, _ := json.Marshal(Anchor{Head: last, Pruned: now.UTC()})
		if err := atomicfile.Write(filepath.Join(dir, anchorFile), data, 0o600); err != nil {
			return removed, err
		}
		if err := os.Remove(s); err != nil {
			return removed, fmt.Errorf("trail: prune %s: %w", s, err)
		}
		removed++
	}
	return removed, nil
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
