// Package enrich adds what the audit records do not carry: names of users
// and groups from the host's passwd and group files (read under a root, so a
// mounted image is named by its own files) and, for live events, facts from
// /proc. It sits between the interpreter (internal/audit) and the classifier.
package enrich

import (
	"bufio"
	"errors"
	"fmt"
	"io/fs"
	"strconv"
	"strings"
	"sync"

	"github.com/gotrail/gotrail/internal/hostfs"
)

// Names maps uids and gids to names from ROOT/etc/passwd and ROOT/etc/group.
// The files are read once, on first use; a missing file names nothing.
// Safe for concurrent use.
type Names struct {
	fs hostfs.FS

	once   sync.Once
	users  map[uint32]string
	groups map[uint32]string
	err    error
}

// NewNames reads names under root ("" or "/" for the host itself).
func NewNames(root string) *Names {
	return &Names{fs: hostfs.New(root)}
}

func (n *Names) load() {
	var errs []error
	var err error
	n.users, err = readIDFile(n.fs, "/etc/passwd")
	errs = append(errs, err)
	n.groups, err = readIDFile(n.fs, "/etc/group")
	errs = append(errs, err)
	n.err = errors.Join(errs...)
}

// Err reports a passwd or group file that exists but could not be read.
func (n *Names) Err() error {
	n.once.Do(n.load)
	return n.err
}

// UserName names a uid.
func (n *Names) UserName(id uint32) (string, bool) {
	n.once.Do(n.load)
	s, ok := n.users[id]
	return s, ok
}

// GroupName names a gid.
func (n *Names) GroupName(id uint32) (string, bool) {
	n.once.Do(n.load)
	s, ok := n.groups[id]
	return s, ok
}

// readIDFile reads name:x:id:… lines (passwd and group share the layout of
// their first three fields). The first entry for an id wins, as getpwuid does.
// The file is read as the host would reach it, never through a link out of
// the root.
func readIDFile(h hostfs.FS, path string) (map[uint32]string, error) {
	m := make(map[uint32]string)
	f, err := h.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return m, fmt.Errorf("read %s: %w", path, err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 0, 64*1024), 1024*1024)
	for sc.Scan() {
		line := sc.Text()
		if line == "" || line[0] == '#' || line[0] == '+' || line[0] == '-' {
			continue
		}
		parts := strings.SplitN(line, ":", 4)
		if len(parts) < 3 || parts[0] == "" {
			continue
		}
		id, err := strconv.ParseUint(parts[2], 10, 32)
		if err != nil {
			continue
		}
		if _, dup := m[uint32(id)]; !dup {
			m[uint32(id)] = parts[0]
		}
	}
	if err := sc.Err(); err != nil {
		return m, fmt.Errorf("read %s: %w", path, err)
	}
	return m, nil
}
