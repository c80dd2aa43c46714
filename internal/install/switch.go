package install

import (
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"

	"golang.org/x/sys/unix"

	"github.com/gotrail/gotrail/internal/atomicfile"
)

// switchLink points link (PREFIX/go) at target (PREFIX/go1.22.5) in one
// rename(2): a symlink is made at a random name beside it and renamed over
// it. A plain directory at link (a toolchain untarred there the usual way)
// is never written into: it is exchanged with the new symlink in one
// renameat2(RENAME_EXCHANGE) and then kept as PREFIX/go-previous-TIME. It
// returns what link named before ("" for nothing).
func switchLink(link, target string, now time.Time) (previous string, err error) {
	parent := filepath.Dir(link)
	dest := target
	if filepath.Dir(target) == parent {
		dest = filepath.Base(target) // go -> go1.22.5: the prefix can move
	}
	fi, err := os.Lstat(link)
	switch {
	case errors.Is(err, fs.ErrNotExist):
	case err != nil:
		return "", err
	case fi.Mode()&fs.ModeSymlink != 0:
		old, err := os.Readlink(link)
		if err != nil {
			return "", err
		}
		if !filepath.IsAbs(old) {
			old = filepath.Join(parent, old)
		}
		previous = old
	case fi.IsDir():
	default:
		return "", fmt.Errorf("%s is neither a directory nor a symlink; not replacing it", link)
	}
	tmp, err := tempSymlink(dest, parent, "."+filepath.Base(link)+".gotrail-")
	if err != nil {
		return "", err
	}
	defer os.Remove(tmp) // gone after a successful rename
	if fi != nil && fi.IsDir() && fi.Mode()&fs.ModeSymlink == 0 {
		aside, err := asideName(parent, filepath.Base(link)+"-previous-", now)
		if err != nil {
			return "", err
		}
		err = unix.Renameat2(unix.AT_FDCWD, tmp, unix.AT_FDCWD, link, unix.RENAME_EXCHANGE)
		switch {
		case err == nil:
			// the directory is at tmp now, the symlink at link
			if err := os.Rename(tmp, aside); err != nil {
				return "", fmt.Errorf("keep the old %s as %s: %w", link, aside, err)
			}
		case errors.Is(err, unix.EINVAL) || errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EOPNOTSUPP):
			// no exchange on this filesystem: two renames, a moment apart
			if err := os.Rename(link, aside); err != nil {
				return "", fmt.Errorf("keep the old %s as %s: %w", link, aside, err)
			}
			if err := os.Rename(tmp, link); err != nil {
				os.Rename(aside, link)
				return "", err
			}
		default:
			return "", fmt.Errorf("switch %s: %w", link, err)
		}
		return aside, syncDir(parent)
	}
	if err := os.Rename(tmp, link); err != nil {
		return "", fmt.Errorf("switch %s: %w", link, err)
	}
	return previous, syncDir(parent)
}

// tempSymlink makes a symlink to dest at an unpredictable name in dir.
func tempSymlink(dest, dir, prefix string) (string, error) {
	for range 10 {
		var b [8]byte
		rand.Read(b[:])
		p := filepath.Join(dir, prefix+hex.EncodeToString(b[:]))
		err := os.Symlink(dest, p)
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", err
		}
	}
	return "", fmt.Errorf("no free temporary name in %s", dir)
}

// asideName is dir/baseTIME, with -N added while that exists.
func asideName(dir, base string, now time.Time) (string, error) {
	p := filepath.Join(dir, base+now.UTC().Format("20060102T150405Z"))
	for i := 2; ; i++ {
		if _, err := os.Lstat(p); errors.Is(err, fs.ErrNotExist) {
			return p, nil
		} else if err != nil {
			return "", err
		}
		p = filepath.Join(dir, fmt.Sprintf("%s%s-%d", base, now.UTC().Format("20060102T150405Z"), i))
	}
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// linkState is what the state directory keeps for one PREFIX/go: what it
// points at and what it pointed at before, for --rollback.
type linkState struct {
	Current  string    `json:"current"`
	Previous string    `json:"previous,omitempty"`
	Changed  time.Time `json:"changed"`
}

func linksFile(stateDir string) string { return filepath.Join(stateDir, "install", "links.json") }

func readLinks(stateDir string) (map[string]linkState, error) {
	m := map[string]linkState{}
	data, err := os.ReadFile(linksFile(stateDir))
	if errors.Is(err, fs.ErrNotExist) {
		return m, nil
	}
	if err != nil {
		return nil, err
	}
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("%s: %w", linksFile(stateDir), err)
	}
	return m, nil
}

func saveLink(stateDir, link string, st linkState) error {
	m, err := readLinks(stateDir)
	if err != nil {
		return err
	}
	m[link] = st
	data, _ := json.MarshalIndent(m, "", " ")
	if err := os.MkdirAll(filepath.Dir(linksFile(stateDir)), 0o700); err != nil {
		return err
	}
	return atomicfile.Write(linksFile(stateDir), append(data, '\n'), 0o600)
}
