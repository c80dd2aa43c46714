// Package hostfs reads a host's files under a root directory: "/" for this
// host, or a mounted image or container filesystem. Paths are always given
// and returned as the host sees them; symbolic links are followed the way
// the host would, so an absolute link target stays inside the root.
package hostfs

import (
	"bufio"
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"
)

// FS is a host's filesystem under Root.
type FS struct{ Root string }

// IsThisMachine reports whether root ("" or "/", however written) is this
// machine's own filesystem rather than an image's or a container's: where
// /proc, the kernel's audit rules and the running processes are the
// host's too.
func IsThisMachine(root string) bool { return root == "" || filepath.Clean(root) == "/" }

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

// Writes under the root. Each resolves the parent directory the way the host
// would (Resolve), then works through an os.Root opened on the root, so that
// neither a link in the image nor one swapped in meanwhile takes a write or
// a chown outside it.

// dirOps are the calls the writes need, relative to the root: an os.Root
// for an image, and for this host ("/") plain calls on absolute names, so
// that the kernel's audit records of gotrail's own writes name the file.
type dirOps interface {
	OpenFile(name string, flag int, perm fs.FileMode) (*os.File, error)
	Open(name string) (*os.File, error)
	Mkdir(name string, perm fs.FileMode) error
	Rename(oldname, newname string) error
	Remove(name string) error
	Close() error
}

type hostOps struct{}

func (hostOps) OpenFile(n string, flag int, perm fs.FileMode) (*os.File, error) {
	return os.OpenFile("/"+n, flag, perm)
}
func (hostOps) Open(n string) (*os.File, error)        { return os.Open("/" + n) }
func (hostOps) Mkdir(n string, perm fs.FileMode) error { return os.Mkdir("/"+n, perm) }
func (hostOps) Rename(o, n string) error               { return os.Rename("/"+o, "/"+n) }
func (hostOps) Remove(n string) error                  { return os.Remove("/" + n) }
func (hostOps) Close() error                           { return nil }

func (h FS) ops() (dirOps, error) {
	if filepath.Clean(h.Root) == "/" {
		return hostOps{}, nil
	}
	return os.OpenRoot(h.Root)
}

// rootRel is where p's parent really is under the root, relative to it, and
// p's last element.
func (h FS) rootRel(p string) (dir, base string, err error) {
	p = path.Clean("/" + p)
	if p == "/" {
		return "", "", fmt.Errorf("write %s: not a file", p)
	}
	parent, err := h.Resolve(path.Dir(p))
	if err != nil {
		return "", "", err
	}
	return strings.TrimPrefix(parent, "/"), path.Base(p), nil
}

func relJoin(dir, base string) string {
	if dir == "" {
		return base
	}
	return dir + "/" + base
}

// MkdirOwned creates the directory p under base (a user's home), with
// perm, owned by uid:gid. base is reached as the host would reach it; below
// base nothing leads out of it: the user owns what is there, and a link of
// theirs (~/.config -> /usr/local) must not make root create a directory of
// theirs elsewhere. The owner and mode are set through the new directory's
// own descriptor, never by path again. It reports false, changing nothing,
// when p exists already as a directory.
func (h FS) MkdirOwned(base, p string, perm fs.FileMode, uid, gid int) (bool, error) {
	base, p = path.Clean("/"+base), path.Clean("/"+p)
	rel, ok := strings.CutPrefix(p, base+"/")
	if !ok || rel == "" {
		return false, fmt.Errorf("create %s: not under %s", p, base)
	}
	real, err := h.Resolve(base)
	if err != nil {
		return false, err
	}
	r, err := os.OpenRoot(h.Abs(real))
	if err != nil {
		return false, h.hostErr(err)
	}
	defer r.Close()
	made := true
	if err := r.Mkdir(rel, perm); err != nil {
		if !errors.Is(err, fs.ErrExist) {
			return false, fmt.Errorf("create %s: %w", p, h.unroot(err))
		}
		made = false
	}
	d, err := r.OpenFile(rel, os.O_RDONLY|syscall.O_DIRECTORY|syscall.O_NOFOLLOW, 0)
	if err != nil {
		return false, fmt.Errorf("create %s: %w", p, h.unroot(err))
	}
	defer d.Close()
	if !made {
		return false, nil // there already, and a directory: left as it is
	}
	if err := d.Chown(uid, gid); err != nil {
		return true, fmt.Errorf("chown %s: %w", p, h.unroot(err))
	}
	// Mkdir's mode passes through the umask; the owner gets exactly perm
	if err := d.Chmod(perm); err != nil {
		return true, fmt.Errorf("chmod %s: %w", p, h.unroot(err))
	}
	return true, nil
}

// WriteFile replaces the file p with data, atomically (a temporary file in
// the same directory, synced, renamed over p, the directory synced). Missing
// parent directories are made with dirPerm.
func (h FS) WriteFile(p string, data []byte, perm, dirPerm fs.FileMode) error {
	return h.WriteFileFunc(p, perm, dirPerm, func(w io.Writer) error {
		_, err := w.Write(data)
		return err
	})
}

// WriteFileFunc is WriteFile for content too large to hold in memory:
// write streams it into the temporary file (buffered), which replaces p
// only when write and the sync succeed.
func (h FS) WriteFileFunc(p string, perm, dirPerm fs.FileMode, write func(io.Writer) error) error {
	r, err := h.ops()
	if err != nil {
		return err
	}
	defer r.Close()
	if err := h.mkdirAll(r, path.Dir(path.Clean("/"+p)), dirPerm); err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	dir, base, err := h.rootRel(p)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, err)
	}
	var rnd [6]byte
	rand.Read(rnd[:])
	tmp := relJoin(dir, fmt.Sprintf(".%s.%x.tmp", base, rnd))
	f, err := r.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_EXCL, perm)
	if err != nil {
		return fmt.Errorf("write %s: %w", p, h.unroot(err))
	}
	bw := bufio.NewWriterSize(f, 256<<10)
	err = write(bw)
	if err == nil {
		err = bw.Flush()
	}
	if err == nil {
		err = f.Chmod(perm)
	}
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = r.Rename(tmp, relJoin(dir, base))
	}
	if err != nil {
		r.Remove(tmp)
		return fmt.Errorf("write %s: %w", p, h.unroot(err))
	}
	if d, err := r.Open(dir + "/."); err == nil {
		d.Sync()
		d.Close()
	}
	return nil
}

// MkdirAll makes the directory p and its missing parents under the root,
// and returns where it really is on this machine (links resolved inside
// the root), for code that then works in it by path.
func (h FS) MkdirAll(p string, perm fs.FileMode) (string, error) {
	r, err := h.ops()
	if err != nil {
		return "", err
	}
	defer r.Close()
	if err := h.mkdirAll(r, path.Clean("/"+p), perm); err != nil {
		return "", err
	}
	real, err := h.Resolve(p)
	if err != nil {
		return "", err
	}
	return h.Abs(real), nil
}

// mkdirAll makes the directory p and its missing parents, one element at a
// time, each resolved under the root.
func (h FS) mkdirAll(r dirOps, p string, perm fs.FileMode) error {
	if p == "/" || h.IsDir(p) {
		return nil
	}
	if err := h.mkdirAll(r, path.Dir(p), perm); err != nil {
		return err
	}
	dir, base, err := h.rootRel(p)
	if err != nil {
		return err
	}
	if err := r.Mkdir(relJoin(dir, base), perm); err != nil && !errors.Is(err, fs.ErrExist) {
		return fmt.Errorf("create %s: %w", p, h.unroot(err))
	}
	return nil
}

// Remove removes the file p (not a directory tree); a missing p is no error.
func (h FS) Remove(p string) (bool, error) {
	dir, base, err := h.rootRel(p)
	if errors.Is(err, fs.ErrNotExist) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	r, err := h.ops()
	if err != nil {
		return false, err
	}
	defer r.Close()
	if err := r.Remove(relJoin(dir, base)); err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return false, nil
		}
		return false, fmt.Errorf("remove %s: %w", p, h.unroot(err))
	}
	return true, nil
}

// unroot strips os.Root's path error down to its cause: the caller names the
// host path itself.
func (h FS) unroot(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	var le *os.LinkError
	if errors.As(err, &le) {
		return le.Err
	}
	return err
}
