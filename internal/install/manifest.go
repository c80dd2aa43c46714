package install

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gotrail/gotrail/internal/atomicfile"
	"github.com/gotrail/gotrail/internal/hostfs"
)

// Manifest is every file and symlink of an installed toolchain with its
// size, mode and sha256 (a symlink: its target), kept in the state
// directory so that later changes to the toolchain can be named.
type Manifest struct {
	Version string      `json:"version"` // go1.22.5
	GOOS    string      `json:"goos"`
	GOARCH  string      `json:"goarch"`
	Dir     string      `json:"dir"`
	Created time.Time   `json:"created"`
	Source  string      `json:"source,omitempty"` // the archive's URL
	Files   []FileEntry `json:"files"`
}

// FileEntry is one file of a Manifest.
type FileEntry struct {
	Path   string `json:"path"` // slash-separated, relative to Dir
	Mode   string `json:"mode"` // e.g. 0755; "symlink" for a symlink
	Size   int64  `json:"size"`
	SHA256 string `json:"sha256,omitempty"`
	Link   string `json:"link,omitempty"` // a symlink's target
}

// BuildManifest hashes every file under dir, in parallel.
func BuildManifest(dir string) ([]FileEntry, error) {
	var entries []FileEntry
	var regular []int // indexes of the regular files, to hash
	err := filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			return nil
		}
		rel, _ := filepath.Rel(dir, p)
		e := FileEntry{Path: filepath.ToSlash(rel)}
		fi, err := d.Info()
		if err != nil {
			return err
		}
		switch {
		case fi.Mode()&fs.ModeSymlink != 0:
			e.Mode = "symlink"
			if e.Link, err = os.Readlink(p); err != nil {
				return err
			}
		case fi.Mode().IsRegular():
			e.Mode = hostfs.Mode(fi.Mode())
			e.Size = fi.Size()
			regular = append(regular, len(entries))
		default:
			e.Mode = fi.Mode().Type().String()
		}
		entries = append(entries, e)
		return nil
	})
	if err != nil {
		return nil, err
	}
	work := make(chan int)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var firstErr error
	for range max(runtime.NumCPU(), 1) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				e := &entries[i]
				sum, n, err := hashFile(filepath.Join(dir, filepath.FromSlash(e.Path)))
				if err != nil {
					mu.Lock()
					firstErr = cmpErr(firstErr, err)
					mu.Unlock()
					continue
				}
				e.SHA256, e.Size = sum, n
			}
		}()
	}
	for _, i := range regular {
		work <- i
	}
	close(work)
	wg.Wait()
	if firstErr != nil {
		return nil, firstErr
	}
	slices.SortFunc(entries, func(a, b FileEntry) int { return strings.Compare(a.Path, b.Path) })
	return entries, nil
}

func cmpErr(a, b error) error {
	if a != nil {
		return a
	}
	return b
}

func hashFile(p string) (string, int64, error) {
	f, err := os.Open(p)
	if err != nil {
		return "", 0, err
	}
	defer f.Close()
	h := sha256.New()
	n, err := io.Copy(h, f)
	if err != nil {
		return "", 0, fmt.Errorf("hash %s: %w", p, err)
	}
	return hex.EncodeToString(h.Sum(nil)), n, nil
}

// Diff is how a toolchain differs from its manifest.
type Diff struct {
	Added   []string
	Changed []string // "path (what)"
	Removed []string
}

// Empty reports whether nothing differs.
func (d *Diff) Empty() bool { return len(d.Added)+len(d.Changed)+len(d.Removed) == 0 }

// Compare re-hashes dir and names what was added, changed or removed since
// the manifest m was made.
func Compare(m *Manifest, dir string) (*Diff, error) {
	now, err := BuildManifest(dir)
	if err != nil {
		return nil, err
	}
	was := make(map[string]*FileEntry, len(m.Files))
	for i := range m.Files {
		was[m.Files[i].Path] = &m.Files[i]
	}
	d := &Diff{}
	for _, e := range now {
		old, ok := was[e.Path]
		if !ok {
			d.Added = append(d.Added, e.Path)
			continue
		}
		delete(was, e.Path)
		var why []string
		if old.Mode != e.Mode {
			why = append(why, "mode "+old.Mode+" -> "+e.Mode)
		}
		if old.SHA256 != e.SHA256 || old.Size != e.Size {
			why = append(why, "content")
		}
		if old.Link != e.Link {
			why = append(why, "link "+old.Link+" -> "+e.Link)
		}
		if len(why) > 0 {
			d.Changed = append(d.Changed, e.Path+" ("+strings.Join(why, ", ")+")")
		}
	}
	for p := range was {
		d.Removed = append(d.Removed, p)
	}
	slices.Sort(d.Removed)
	return d, nil
}

// manifestDir is where manifests are kept.
func manifestDir(stateDir string) string { return filepath.Join(stateDir, "manifests") }

// manifestPath names the manifest of a toolchain installed in dir:
// go1.22.5.linux-amd64.<12 hex of sha256(dir)>.json, one per install
// directory.
func manifestPath(stateDir, version, goos, goarch, dir string) string {
	h := sha256.Sum256([]byte(dir))
	return filepath.Join(manifestDir(stateDir), fmt.Sprintf("go%s.%s-%s.%s.json", version, goos, goarch, hex.EncodeToString(h[:6])))
}

// WriteManifest keeps m in the state directory.
func writeManifest(p string, m *Manifest) error {
	if err := os.MkdirAll(filepath.Dir(p), 0o700); err != nil {
		return err
	}
	data, err := json.MarshalIndent(m, "", " ")
	if err != nil {
		return err
	}
	return atomicfile.Write(p, append(data, '\n'), 0o600)
}

// ErrNoManifest: gotrail did not install the toolchain (or its manifest
// was removed).
var ErrNoManifest = errors.New("no manifest")

// FindManifest returns the manifest of the toolchain in dir (symlinks
// resolved) and its file name.
func FindManifest(stateDir, dir string) (*Manifest, string, error) {
	real, err := filepath.EvalSymlinks(dir)
	if err != nil {
		return nil, "", err
	}
	real, err = filepath.Abs(real)
	if err != nil {
		return nil, "", err
	}
	names, err := filepath.Glob(filepath.Join(manifestDir(stateDir), "*.json"))
	if err != nil {
		return nil, "", err
	}
	var best *Manifest
	var bestName string
	for _, n := range names {
		data, err := os.ReadFile(n)
		if err != nil {
			return nil, "", err
		}
		var m Manifest
		if err := json.Unmarshal(data, &m); err != nil {
			return nil, "", fmt.Errorf("%s: %w", n, err)
		}
		if m.Dir == real && (best == nil || m.Created.After(best.Created)) {
			best, bestName = &m, n
		}
	}
	if best == nil {
		return nil, "", fmt.Errorf("%w for %s in %s (gotrail install keeps one for each toolchain it installs)", ErrNoManifest, real, manifestDir(stateDir))
	}
	return best, bestName, nil
}

// InstalledGoEnv returns, for a GOROOT gotrail install installed, the
// SHA-256 its go.env had then (false for a toolchain without a manifest):
// what gotrail check and report compare the go.env of today with.
func InstalledGoEnv(stateDir string) func(goroot string) (string, bool) {
	return func(goroot string) (string, bool) {
		m, _, err := FindManifest(stateDir, goroot)
		if err != nil {
			return "", false
		}
		for _, f := range m.Files {
			if f.Path == "go.env" {
				return f.SHA256, true
			}
		}
		return "", false
	}
}
