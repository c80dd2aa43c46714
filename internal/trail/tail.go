package trail

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
)

// Record is one record of the trail as a Tail reads it: the line as
// written (without its newline), its seq and its hash.
type Record struct {
	Line []byte
	Seq  uint64
	Hash string
}

// ErrNotRecord is a line of a segment that is not a trail record. Next
// has passed it: the next call goes on with the line after.
var ErrNotRecord = errors.New("not a trail record")

// Tail reads the trail's records in seq order from a point on, and follows
// the trail as it grows, across segments: how a sink ships the trail itself
// (the trail is its spool, on disk already, so nothing is copied to ship
// it). It keeps its place in the open segment, so each record is read once.
type Tail struct {
	dir  string
	f    *os.File
	name string
	br   *bufio.Reader
	line []byte // a line read only in part so far: the writer is mid-append
	off  int64  // bytes of the open segment read so far
	next uint64 // the seq the next record should have
}

// OpenTail opens the trail of stateDir at the first record after seq.
// Records pruned by retention are gone: the first record Next returns then
// has a higher seq than seq+1, which the caller sees.
func OpenTail(stateDir string, seq uint64) (*Tail, error) {
	t := &Tail{dir: filepath.Join(stateDir, dirName), next: seq + 1}
	segs, err := segments(t.dir)
	if err != nil {
		return nil, err
	}
	start := ""
	for _, s := range segs {
		if first, ok := segmentFirst(s); ok && (first <= seq+1 || start == "") {
			start = s
		}
	}
	if start == "" {
		return t, nil // no trail yet: Next finds the first segment when it comes
	}
	if err := t.open(start); err != nil {
		return nil, err
	}
	for { // skip what was shipped already
		r, err := t.read()
		if err == io.EOF {
			return t, nil
		}
		if errors.Is(err, ErrNotRecord) {
			continue // before the place asked for: not this reader's to report
		}
		if err != nil {
			t.Close()
			return nil, err
		}
		if r.Seq > seq {
			t.line = append(append(t.line[:0], r.Line...), '\n') // handed out by the first Next
			t.next = r.Seq
			return t, nil
		}
	}
}

func (t *Tail) open(name string) error {
	f, err := os.Open(name)
	if err != nil {
		return fmt.Errorf("trail: %w", err)
	}
	if t.f != nil {
		t.f.Close()
	}
	t.f, t.name, t.off = f, name, 0
	if t.br == nil {
		t.br = bufio.NewReaderSize(f, 256<<10)
	} else {
		t.br.Reset(f)
	}
	return nil
}

// Next returns the next record (its Line valid until the next call), or
// io.EOF when the trail holds no more yet. A seq beyond the one expected
// means records were pruned before they were read.
func (t *Tail) Next() (Record, error) {
	if t.f == nil {
		if err := t.nextSegment(); err != nil || t.f == nil {
			return Record{}, orEOF(err)
		}
	}
	if len(t.line) > 0 && t.line[len(t.line)-1] == '\n' {
		return t.take()
	}
	for {
		r, err := t.read()
		if err == nil && r.Seq < t.next {
			continue // read before the place asked for: a trail made anew
		}
		if err == nil {
			t.next = r.Seq + 1
			return r, nil
		}
		if err != io.EOF {
			return Record{}, err
		}
		if len(t.line) > 0 {
			if cut, err := t.cutShort(); err != nil || !cut {
				return Record{}, orEOF(err) // mid-append: the rest comes
			}
			continue
		}
		prev := t.name
		if err := t.nextSegment(); err != nil {
			return Record{}, err
		}
		if t.name == prev {
			return Record{}, io.EOF
		}
	}
}

// cutShort reports whether the line read in part was cut off by a Writer
// that found it a crash's leftover (the segment is now shorter than what
// was read), and if so goes back to where that line began: the record
// written there again is read whole, never the old half glued to it.
func (t *Tail) cutShort() (bool, error) {
	fi, err := t.f.Stat()
	if err != nil {
		return false, fmt.Errorf("trail: %w", err)
	}
	if fi.Size() >= t.off {
		return false, nil
	}
	start := t.off - int64(len(t.line))
	if _, err := t.f.Seek(start, io.SeekStart); err != nil {
		return false, fmt.Errorf("trail: %s: %w", t.name, err)
	}
	t.br.Reset(t.f)
	t.off, t.line = start, t.line[:0]
	return true, nil
}

// take hands out the line OpenTail read past seq.
func (t *Tail) take() (Record, error) {
	line := t.line[:len(t.line)-1]
	r, err := parseLine(line)
	if err != nil {
		return Record{}, fmt.Errorf("trail: %s: not a trail record after seq %d", t.name, t.next-1)
	}
	t.line = t.line[:0:0]
	t.next = r.seq + 1
	return Record{Line: line, Seq: r.seq, Hash: r.hash}, nil
}

// read returns the next whole record of the open segment; a line without
// its newline yet is kept for the next call.
func (t *Tail) read() (Record, error) {
	for {
		chunk, err := t.br.ReadSlice('\n')
		t.off += int64(len(chunk))
		if err == bufio.ErrBufferFull {
			t.line = append(t.line, chunk...)
			if len(t.line) > maxRecord {
				return Record{}, fmt.Errorf("trail: %s: a record after seq %d is over %d bytes", t.name, t.next-1, maxRecord)
			}
			continue
		}
		if err != nil {
			t.line = append(t.line, chunk...)
			return Record{}, err
		}
		line := chunk
		if len(t.line) > 0 {
			t.line = append(t.line, chunk...)
			line = t.line
			t.line = t.line[:0]
		}
		line = line[:len(line)-1]
		r, perr := parseLine(line)
		if perr != nil {
			// the line is passed: a reader may go on after it
			return Record{}, fmt.Errorf("%w: %s: the line after seq %d is not a trail record: modified or cut", ErrNotRecord, t.name, t.next-1)
		}
		return Record{Line: line, Seq: r.seq, Hash: r.hash}, nil
	}
}

// nextSegment moves to the segment that starts at the next seq, if one was
// made (the writer rotated); otherwise it stays.
func (t *Tail) nextSegment() error {
	segs, err := segments(t.dir)
	if err != nil {
		return err
	}
	for _, s := range segs {
		first, ok := segmentFirst(s)
		if !ok || s == t.name {
			continue
		}
		// the segment after the open one; with none open, the first one
		// that can hold the next record, or the first left after pruning
		if first == t.next || (t.f == nil && first >= t.next) || (t.f == nil && first < t.next && isLastStarting(segs, s, t.next)) {
			return t.open(s)
		}
	}
	return nil
}

// isLastStarting reports whether s is the last segment starting at or
// before seq.
func isLastStarting(segs []string, s string, seq uint64) bool {
	last := ""
	for _, x := range segs {
		if first, ok := segmentFirst(x); ok && first <= seq {
			last = x
		}
	}
	return last == s
}

func orEOF(err error) error {
	if err == nil {
		return io.EOF
	}
	return err
}

// Close closes the open segment.
func (t *Tail) Close() error {
	if t.f == nil {
		return nil
	}
	err := t.f.Close()
	t.f = nil
	return err
}

// Signed is a checkpoint this host signed, and the offset in its
// checkpoints file just after it: where a reader goes on from.
type Signed struct {
	*Checkpoint
	End int64
}

// CheckpointsFrom reads the checkpoints the state directory's checkpoints
// file holds from byte offset off on, whole lines only, signatures not
// checked (they are the host's own, for shipping). A line that is not a
// checkpoint is passed and named in bad, so that one broken line does not
// hold up the ones after it; end is the offset after the last line read.
func CheckpointsFrom(stateDir string, off int64) (cps []Signed, bad []string, end int64, err error) {
	p := filepath.Join(stateDir, dirName, checkpointsFile)
	f, err := os.Open(p)
	if os.IsNotExist(err) {
		return nil, nil, off, nil
	}
	if err != nil {
		return nil, nil, off, fmt.Errorf("trail: %w", err)
	}
	defer f.Close()
	if _, err := f.Seek(off, io.SeekStart); err != nil {
		return nil, nil, off, fmt.Errorf("trail: %s: %w", p, err)
	}
	br := bufio.NewReader(f)
	for {
		line, err := br.ReadString('\n')
		if err == io.EOF {
			return cps, bad, off, nil // a line without its newline is still being written
		}
		if err != nil {
			return cps, bad, off, fmt.Errorf("trail: read %s: %w", p, err)
		}
		at := off
		off += int64(len(line))
		msg, derr := base64.StdEncoding.DecodeString(strings.TrimSpace(line))
		if derr != nil {
			bad = append(bad, fmt.Sprintf("%s at byte %d: not a checkpoint: %v", p, at, derr))
			continue
		}
		c, perr := ParseCheckpoint(msg, nil)
		if perr != nil {
			bad = append(bad, fmt.Sprintf("%s at byte %d: %v", p, at, perr))
			continue
		}
		cps = append(cps, Signed{Checkpoint: c, End: off})
	}
}

// ReadAnchor returns the signed anchor the trail starts from after
// retention, or nil when nothing was pruned (or the anchor predates
// signing).
func ReadAnchor(stateDir string) (*Checkpoint, error) {
	a, err := readAnchor(filepath.Join(stateDir, dirName))
	if err != nil || a == nil || len(a.Note) == 0 {
		return nil, err
	}
	return ParseCheckpoint(a.Note, nil)
}

// ReadHead returns the seq of the trail's last whole record, reading only
// (a Writer's Open is what repairs a cut last line): how a reader of the
// trail knows how far behind it is.
func ReadHead(stateDir string) (uint64, error) {
	segs, err := segments(filepath.Join(stateDir, dirName))
	if err != nil {
		return 0, err
	}
	for i := len(segs) - 1; i >= 0; i-- {
		data, err := readEnd(segs[i], 1<<20)
		if err != nil {
			return 0, err
		}
		for len(data) > 0 {
			end := bytes.LastIndexByte(data[:len(data)-1], '\n')
			if r, err := parseLine(bytes.TrimSuffix(data[end+1:], []byte("\n"))); err == nil && data[len(data)-1] == '\n' {
				return r.seq, nil
			}
			if end < 0 {
				break
			}
			data = data[:end+1]
		}
	}
	return 0, nil
}

// readEnd reads up to the last n bytes of a file.
func readEnd(name string, n int64) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return nil, fmt.Errorf("trail: %w", err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("trail: %w", err)
	}
	off := max(fi.Size()-n, 0)
	buf := make([]byte, fi.Size()-off)
	if _, err := f.ReadAt(buf, off); err != nil && err != io.EOF {
		return nil, fmt.Errorf("trail: read %s: %w", name, err)
	}
	return buf, nil
}
