package hostfs

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
)

// Reads under the root. A path is resolved as the host would (Resolve),
// then opened through an os.Root on the root, so that a link swapped in
// after Resolve cannot lead out of it. Only regular files are read, and
// opened without blocking: a FIFO, a device or a socket in an image is
// refused by name, never waited on or read for ever.

// MaxFile is how much of a file ReadFile reads: far beyond any passwd,
// login or Go env file a host has, far below what would hurt.
const MaxFile = 4 << 20

// ErrNotRegular is returned for a path that names a FIFO, a device, a
// socket or a directory where a file is read.
var ErrNotRegular = errors.New("not a regular file")

// ErrTooLarge is returned with the first bytes of a file larger than what
// is read of it.
var ErrTooLarge = errors.New("larger than gotrail reads")

// openFlags never block on a FIFO and never make a terminal ours.
const openFlags = os.O_RDONLY | syscall.O_NONBLOCK | syscall.O_NOCTTY | syscall.O_CLOEXEC

// open opens the real path real (no links in it) under the root.
func (h FS) open(real string, flag int) (*os.File, error) {
	if filepath.Clean(h.Root) == "/" {
		return os.OpenFile(real, flag, 0)
	}
	r, err := os.OpenRoot(h.Root)
	if err != nil {
		return nil, err
	}
	defer r.Close()
	rel := strings.TrimPrefix(real, "/")
	if rel == "" {
		rel = "."
	}
	f, err := r.OpenFile(rel, flag, 0)
	if err != nil {
		return nil, h.hostErr(&fs.PathError{Op: "open", Path: h.Abs(real), Err: errors.Unwrap(err)})
	}
	return f, nil
}

// Open opens the regular file p for reading.
func (h FS) Open(p string) (*os.File, error) {
	real, err := h.Resolve(p)
	if err != nil {
		return nil, err
	}
	// looked at before it is opened: opening a device runs its driver (a
	// watchdog arms, a tape rewinds), even if nothing is read
	fi, err := h.Lstat(real)
	if err != nil {
		return nil, err
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("%s: %w (%s)", p, ErrNotRegular, kind(fi.Mode()))
	}
	f, err := h.open(real, openFlags)
	if err != nil {
		return nil, h.hostErr(err)
	}
	// and again after: what was swapped in meanwhile is not read
	fi, err = f.Stat()
	if err == nil && !fi.Mode().IsRegular() {
		err = fmt.Errorf("%s: %w (%s)", p, ErrNotRegular, kind(fi.Mode()))
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	return f, nil
}

// kind names a file type for a message.
func kind(m fs.FileMode) string {
	switch {
	case m.IsDir():
		return "a directory"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a block device"
	case m&fs.ModeSocket != 0:
		return "a socket"
	}
	return "not a file"
}

// ReadFile reads the regular file p, at most MaxFile bytes of it.
func (h FS) ReadFile(p string) ([]byte, error) { return h.ReadFileMax(p, MaxFile) }

// ReadFileMax reads the regular file p, at most max bytes of it. A larger
// file gives its first max bytes and an error wrapping ErrTooLarge, so
// that a caller can use them and say what was cut.
func (h FS) ReadFileMax(p string, max int64) ([]byte, error) {
	f, err := h.Open(p)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, max+1))
	if err != nil {
		return nil, h.hostErr(err)
	}
	if int64(len(data)) > max {
		return data[:max], fmt.Errorf("%s: %w: read its first %d bytes", p, ErrTooLarge, max)
	}
	return data, nil
}

// ReadDir lists the directory p, sorted by name.
func (h FS) ReadDir(p string) ([]fs.DirEntry, error) {
	real, err := h.Resolve(p)
	if err != nil {
		return nil, err
	}
	d, err := h.open(real, openFlags|syscall.O_DIRECTORY)
	if err != nil {
		return nil, h.hostErr(err)
	}
	defer d.Close()
	entries, err := d.ReadDir(-1)
	if err != nil {
		return nil, h.hostErr(err)
	}
	slices.SortFunc(entries, func(a, b fs.DirEntry) int { return strings.Compare(a.Name(), b.Name()) })
	return entries, nil
}

// Glob matches a host path pattern (path.Match syntax in any element),
// returning host paths in order. Directories are listed as the host would
// reach them: a link in the image never lists a directory outside it.
func (h FS) Glob(pattern string) []string {
	pattern = path.Clean("/" + pattern)
	if pattern == "/" {
		return []string{"/"}
	}
	return h.glob("/", strings.Split(strings.TrimPrefix(pattern, "/"), "/"))
}

func (h FS) glob(dir string, elems []string) []string {
	elem, rest := elems[0], elems[1:]
	var names []string
	if !hasMeta(elem) {
		names = []string{elem}
	} else {
		entries, err := h.ReadDir(dir)
		if err != nil {
			return nil
		}
		for _, e := range entries {
			if ok, _ := path.Match(elem, e.Name()); ok {
				names = append(names, e.Name())
			}
		}
	}
	var out []string
	for _, n := range names {
		p := path.Join(dir, n)
		if len(rest) == 0 {
			if _, err := h.Lstat(p); err == nil {
				out = append(out, p)
			}
			continue
		}
		out = append(out, h.glob(p, rest)...)
	}
	return out
}

func hasMeta(s string) bool { return strings.ContainsAny(s, `*?[\`) }
