// Package atomicfile replaces small state files (positions, offsets,
// anchors) so that a crash leaves the old content or the new, never half.
// It is hostfs's atomic write on this machine's own files: one
// implementation of temp file, sync, rename and directory sync.
package atomicfile

import (
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// Write replaces path (absolute or relative to the working directory) with
// data: a temporary file in the same directory, synced, renamed over path,
// and the directory synced. A missing directory is made, mode 0700: state
// directories hold nothing for others.
func Write(path string, data []byte, perm os.FileMode) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return hostfs.New("/").WriteFile(abs, data, perm, 0o700)
}

// WriteFunc is Write for content streamed by write (a report of hundreds
// of MB): path is replaced only when all of it was written and synced.
func WriteFunc(path string, perm os.FileMode, write func(io.Writer) error) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("write %s: %w", path, err)
	}
	return hostfs.New("/").WriteFileFunc(abs, perm, 0o700, write)
}
