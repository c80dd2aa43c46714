// Package hostfs reads a host's files under a root directory: "/" for this
// host, or a mounted image or container filesystem. Paths are always given
// and returned as the host sees them; symbolic links are followed the way
// the host would, so an absolute link target stays inside the root.
package hostfs

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// FS is a host's filesystem under Root.
type FS struct{ Root string }

// New returns the host filesystem under root ("" means "/").
func New(root string) FS {
	if root == "" {
		root = "/"
	}
	return FS{Root: root}
}

// Abs is where the host path p is on this machine, without following links.
func (h FS) Abs(p string) string { return filepath.Join(h.Root, p) }

// Lstat describes p itself.
func (h FS) Lstat(p string) (fs.FileInfo, error) {
	fi, err := os.Lstat(h.Abs(p))
	return fi, h.hostErr(err)
}

// hostErr names the host's path in a path error, never the root's prefix:
// messages about an image must read as the image's host would see them.
func (h FS) hostErr(err error) error {
	var pe *fs.PathError
	if h.Root == "/" || !errors.As(err, &pe) {
		return err
	}
	if rel, rerr := filepath.Rel(h.Root, pe.Path); rerr == nil && !strings.HasPrefix(rel, "..") {
		return &fs.PathError{Op: pe.Op, Path: "/" + filepath.ToSlash(rel), Err: pe.Err}
	}
	return err
}

// Stat describes what p names after following links inside the root.
func (h FS) Stat(p string) (fs.FileInfo, error) {
	real, err := h.Resolve(p)
	if err != nil {
		return nil, err
	}
	fi, err := os.Lstat(h.Abs(real))
	return fi, h.hostErr(err)
}

// IsDir reports whether p names a directory.
func (h FS) IsDir(p string) bool {
	fi, err := h.Stat(p)
	return err == nil && fi.IsDir()
}

// Exists reports whether p names anything.
func (h FS) Exists(p string) bool {
	_, err := h.Resolve(p)
	return err == nil
}

// Open opens p for reading.
func (h FS) Open(p string) (*os.File, error) {
	real, err := h.Resolve(p)
	if err != nil {
		return nil, err
	}
	f, err := os.Open(h.Abs(real))
	return f, h.hostErr(err)
}

// ReadFile reads the whole of p.
func (h FS) ReadFile(p string) ([]byte, error) {
	real, err := h.Resolve(p)
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(h.Abs(real))
	return data, h.hostErr(err)
}

// ReadDir lists the directory p.
func (h FS) ReadDir(p string) ([]fs.DirEntry, error) {
	real, err := h.Resolve(p)
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(h.Abs(real))
	return entries, h.hostErr(err)
}

// Glob matches a host path pattern, returning host paths.
func (h FS) Glob(pattern string) []string {
	matches, _ := filepath.Glob(h.Abs(pattern))
	out := matches[:0]
	for _, m := range matches {
		if rel, err := filepath.Rel(h.Root, m); err == nil {
			out = append(out, "/"+filepath.ToSlash(rel))
		}
	}
	return out
}

// ErrLoop is returned for a chain of more than 40 links.
var ErrLoop = errors.New("too many levels of symbolic links")

// Resolve follows symbolic links the way the host would, keeping absolute
// link targets inside the root, and returns the real host path.
func (h FS) Resolve(p string) (string, error) {
	parts := strings.Split(strings.Trim(path.Clean("/"+p), "/"), "/")
	cur := "/"
	hops := 0
	for len(parts) > 0 {
		part := parts[0]
		parts = parts[1:]
		switch part {
		case "", ".":
			continue
		case "..":
			cur = path.Dir(cur)
			continue
		}
		next := path.Join(cur, part)
		fi, err := h.Lstat(next)
		if err != nil {
			return "", err
		}
		if fi.Mode()&fs.ModeSymlink == 0 {
			cur = next
			continue
		}
		if hops++; hops > 40 {
			return "", fmt.Errorf("%s: %w", p, ErrLoop)
		}
		target, err := os.Readlink(h.Abs(next))
		if err != nil {
			return "", h.hostErr(err)
		}
		if path.IsAbs(target) {
			cur = "/"
		}
		parts = append(strings.Split(strings.Trim(target, "/"), "/"), parts...)
	}
	return cur, nil
}

// Owner returns the uid and gid that own fi (^0 when the system gives none).
func Owner(fi fs.FileInfo) (uid, gid uint32) {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Uid, st.Gid
	}
	return ^uint32(0), ^uint32(0)
}

// Mode writes fi's permissions as chmod takes them: 0755, 1777, 4755.
func Mode(m fs.FileMode) string {
	u := uint32(m.Perm())
	if m&fs.ModeSetuid != 0 {
		u |= 0o4000
	}
	if m&fs.ModeSetgid != 0 {
		u |= 0o2000
	}
	if m&fs.ModeSticky != 0 {
		u |= 0o1000
	}
	return fmt.Sprintf("%04o", u)
}
