package shellchain

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"slices"
	"strings"

	"mvdan.cc/sh/v3/interp"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// rwc is an in-memory file for the interpreter: the marked program of a
// sourced file, or a sink for writes, which never reach the host.
type rwc struct{ io.Reader }

func (rwc) Write(p []byte) (int, error) { return len(p), nil }
func (rwc) Close() error                { return nil }

func (s *sim) open(ctx context.Context, p string, flag int, _ os.FileMode) (io.ReadWriteCloser, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if flag&(os.O_WRONLY|os.O_RDWR|os.O_APPEND|os.O_CREATE|os.O_TRUNC) != 0 || p == "/dev/null" {
		return rwc{strings.NewReader("")}, nil
	}
	fi, err := s.o.FS.Stat(p)
	if err != nil {
		return nil, &fs.PathError{Op: "open", Path: p, Err: unwrapErrno(err)}
	}
	if !s.may(fi, 4) {
		return nil, &fs.PathError{Op: "open", Path: p, Err: fs.ErrPermission}
	}
	data, err := s.o.FS.ReadFileMax(p, maxShellFile)
	switch {
	case errors.Is(err, hostfs.ErrTooLarge):
		// what a file sets in its first MiB is still known; what follows is not
		if !s.quiet {
			s.res.Problems = append(s.res.Problems, fmt.Sprintf("read only the first %d MiB of %s: what it sets after that is unknown", maxShellFile>>20, p))
		}
		if i := bytes.LastIndexByte(data, '\n'); i >= 0 {
			data = data[:i+1] // never half a statement
		}
	case err != nil:
		return nil, &fs.PathError{Op: "open", Path: p, Err: unwrapErrno(err)}
	}
	if p != s.pending {
		if s.pending != "" {
			// the source builtin found another file than the call
			// handler did, and runs it without markers
			s.tainted = true
		}
		return rwc{bytes.NewReader(data)}, nil
	}
	s.pending = ""
	marked, err := s.mark(p, data)
	if err != nil {
		if !s.quiet {
			s.res.Problems = append(s.res.Problems, err.Error())
		}
		return nil, err
	}
	return rwc{bytes.NewReader(marked)}, nil
}

// maxShellFile is how much of a shell file is read: real login files are a
// few KiB; a 3 GB .bash_profile in an image must not become 3 GB of memory.
const maxShellFile = 1 << 20

func unwrapErrno(err error) error {
	var pe *fs.PathError
	if errors.As(err, &pe) {
		return pe.Err
	}
	return err
}

func (s *sim) stat(_ context.Context, p string, follow bool) (fs.FileInfo, error) {
	if follow {
		return s.o.FS.Stat(p)
	}
	return s.o.FS.Lstat(p)
}

func (s *sim) access(_ context.Context, p string, mode interp.AccessMode) error {
	fi, err := s.o.FS.Stat(p)
	if err != nil {
		return err
	}
	if !s.may(fi, uint32(mode)) {
		return fs.ErrPermission
	}
	return nil
}

// may reports whether the user may access fi for want (access(2) bits).
func (s *sim) may(fi fs.FileInfo, want uint32) bool {
	u := s.o.User
	if u.UID == 0 {
		if want&1 != 0 && !fi.IsDir() {
			return fi.Mode()&0o111 != 0
		}
		return true
	}
	uid32, gid32 := hostfs.Owner(fi)
	uid, gid := int(uid32), int(gid32)
	perm := uint32(fi.Mode().Perm())
	switch {
	case uid == u.UID:
		perm >>= 6
	case gid == u.GID || slices.ContainsFunc(u.Groups, func(g Group) bool { return g.GID == gid }):
		perm >>= 3
	}
	return perm&want == want
}
