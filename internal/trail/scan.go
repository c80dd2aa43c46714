package trail

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
)

// Scan calls fn with each whole line of the trail, in order, as Read does,
// without copying each line: line is valid only until fn returns. For
// readers of the whole trail (gotrail report), where a copy of every line
// is a gigabyte of garbage for a million records. A last line without its
// newline (an append in progress) is left out, as Read leaves it.
func Scan(stateDir string, fn func(line []byte) error) error {
	segs, err := segments(filepath.Join(stateDir, dirName))
	if err != nil {
		return err
	}
	buf := make([]byte, 4<<20)
	for _, s := range segs {
		if buf, err = scanSegment(s, buf, fn); err != nil {
			return err
		}
	}
	return nil
}

func scanSegment(name string, buf []byte, fn func([]byte) error) ([]byte, error) {
	f, err := os.Open(name)
	if err != nil {
		return buf, fmt.Errorf("trail: %w", err)
	}
	defer f.Close()
	n := 0 // bytes of buf holding the start of a line not yet whole
	for {
		if n == len(buf) {
			if len(buf) >= maxRecord {
				return buf, fmt.Errorf("trail: %s: a line longer than %d MiB", name, maxRecord>>20)
			}
			buf = append(buf, make([]byte, len(buf))...)
		}
		m, rerr := f.Read(buf[n:])
		data := buf[:n+m]
		start := 0
		for {
			i := bytes.IndexByte(data[start:], '\n')
			if i < 0 {
				break
			}
			if i > 0 {
				if err := fn(data[start : start+i]); err != nil {
					return buf, err
				}
			}
			start += i + 1
		}
		n = copy(buf, data[start:])
		if errors.Is(rerr, io.EOF) {
			return buf, nil
		}
		if rerr != nil {
			return buf, fmt.Errorf("trail: read %s: %w", name, rerr)
		}
	}
}
