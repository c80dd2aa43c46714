package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"syscall"
	"time"
)

// Position is where a follower is in auditd's log: the file by device and
// inode (a name moves on rotation, an inode does not) and the byte offset.
type Position struct {
	Dev    uint64 `json:"dev"`
	Ino    uint64 `json:"ino"`
	Offset int64  `json:"offset"`
}

// Line is one complete line read from the log, with where it started and
// where the next one starts.
type Line struct {
	Text []byte // without the newline; valid until the handler returns
	At   Position
	Next Position
}

// Follower reads an audit log as auditd writes it: from a position, across
// rotation (the old file is finished before the new one is read: auditd
// renames audit.log to audit.log.1 and opens a new audit.log) and
// truncation (read again from the start).
type Follower struct {
	Path string
	Poll time.Duration // how often to look for more when at the end; default 20ms
}

func identity(fi fs.FileInfo) (dev, ino uint64) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return uint64(st.Dev), st.Ino
	}
	return 0, 0
}

// findRotated looks among the log's rotations for the file with the given
// identity: the file a follower was reading when it stopped, renamed since.
func (f *Follower) findRotated(dev, ino uint64) (string, bool) {
	rots, err := Rotations(filepath.Dir(f.Path), filepath.Base(f.Path))
	if err != nil {
		return "", false
	}
	for _, p := range rots {
		fi, err := os.Stat(p)
		if err != nil {
			continue
		}
		if d, i := identity(fi); d == dev && i == ino {
			return p, true
		}
	}
	return "", false
}

// Run reads lines from pos (zero: the start of the current log) and calls
// handle for each complete line, in order, until ctx is done or handle
// fails. idle is called whenever the follower has caught up with the log.
func (f *Follower) Run(ctx context.Context, pos Position, handle func(Line) error, idle func()) error {
	poll := f.Poll
	if poll <= 0 {
		poll = 20 * time.Millisecond
	}
	// a position in a file that has been rotated away: finish it first
	if pos.Ino != 0 {
		if fi, err := os.Stat(f.Path); err == nil {
			if d, i := identity(fi); d != pos.Dev || i != pos.Ino {
				if old, ok := f.findRotated(pos.Dev, pos.Ino); ok {
					if err := f.readFile(ctx, old, pos, handle, idle, poll, true); err != nil {
						return err
					}
				}
				pos = Position{} // the current file from its start
			}
		}
	}
	return f.readFile(ctx, f.Path, pos, handle, idle, poll, false)
}

// readFile reads one file from pos. With finish it stops at the end;
// otherwise it follows the path and moves on when the path names another
// file (rotation), after draining this one.
func (f *Follower) readFile(ctx context.Context, path string, pos Position, handle func(Line) error, idle func(), poll time.Duration, finish bool) error {
	for {
		file, err := os.Open(path)
		if err != nil {
			if errors.Is(err, fs.ErrNotExist) && !finish {
				// between auditd's rename and its new file
				if err := sleep(ctx, poll); err != nil {
					return err
				}
				continue
			}
			return fmt.Errorf("follow %s: %w", path, err)
		}
		fi, err := file.Stat()
		if err != nil {
			file.Close()
			return fmt.Errorf("follow %s: %w", path, err)
		}
		dev, ino := identity(fi)
		if pos.Ino != ino || pos.Dev != dev || pos.Offset > fi.Size() {
			pos = Position{Dev: dev, Ino: ino} // another file, or truncated: from the start
		}
		next, err := f.drain(ctx, file, pos, path, handle, idle, poll, finish)
		file.Close()
		if err != nil || finish {
			return err
		}
		pos = next
	}
}

// drain reads file from pos until the path names another file (then the
// rest of this one is read and the new position returned) or the context
// ends.
func (f *Follower) drain(ctx context.Context, file *os.File, pos Position, path string, handle func(Line) error, idle func(), poll time.Duration, finish bool) (Position, error) {
	if _, err := file.Seek(pos.Offset, io.SeekStart); err != nil {
		return pos, fmt.Errorf("follow %s: %w", path, err)
	}
	buf := make([]byte, 0, 1<<20)
	chunk := make([]byte, 256<<10)
	rotated := false
	for {
		n, err := file.Read(chunk)
		if n > 0 {
			buf = append(buf, chunk[:n]...)
			start := 0
			for {
				i := bytes.IndexByte(buf[start:], '\n')
				if i < 0 {
					break
				}
				at := pos
				pos.Offset += int64(i + 1)
				if herr := handle(Line{Text: buf[start : start+i], At: at, Next: pos}); herr != nil {
					return pos, herr
				}
				start += i + 1
			}
			buf = append(buf[:0], buf[start:]...)
			if len(buf) > 16<<20 {
				return pos, fmt.Errorf("follow %s: a line of over 16 MiB at offset %d", path, pos.Offset)
			}
			continue
		}
		if err != nil && !errors.Is(err, io.EOF) {
			return pos, fmt.Errorf("follow %s: %w", path, err)
		}
		// at the end of what is written
		if finish || rotated {
			return Position{}, nil
		}
		if fi, err := os.Stat(path); err == nil {
			cur, _ := file.Stat()
			d1, i1 := identity(fi)
			d0, i0 := identity(cur)
			if d1 != d0 || i1 != i0 {
				// rotated: auditd may have written to the old file after
				// our last read and before the rename; read it to its end
				// once more, then go on with the new file
				rotated = true
				continue
			}
			if fi.Size() < pos.Offset+int64(len(buf)) {
				return Position{}, nil // truncated
			}
		}
		if idle != nil {
			idle()
		}
		if err := sleep(ctx, poll); err != nil {
			return pos, err
		}
	}
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
