package hostenv

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/gotrail/gotrail/internal/atomicfile"
)

// Change is one difference between two snapshots. Before or After is nil
// when the item is only in the other.
type Change struct {
	Item   string  `json:"item"`
	Before *string `json:"before"`
	After  *string `json:"after"`
}

// Flatten lists a snapshot as item -> state, the form Diff compares. The
// time and who took it are not part of the state.
func Flatten(s *Snapshot) map[string]string {
	m := map[string]string{
		"host":   s.Host,
		"kernel": s.Kernel,
		"arch":   s.Arch,
	}
	for _, t := range s.Toolchains {
		k := "toolchain " + t.Path
		m[k] = strings.TrimSpace(fmt.Sprintf("%s real %s goroot %s", t.Version, t.Real, t.GOROOT))
		if t.Digest != "" {
			m[k+" digest"] = fmt.Sprintf("%s (%d files)", t.Digest, t.Files)
		}
		if t.Error != "" {
			m[k+" error"] = t.Error
		}
		if t.GoEnv != nil {
			flattenGoEnvFile(m, k+" go.env", *t.GoEnv)
		}
	}
	for _, u := range s.Users {
		p := "user " + u.Name + " "
		if u.Go != nil {
			m[p+"go"] = fmt.Sprintf("%s (%s)", u.Go.Path, u.Go.Version)
		}
		for k, v := range u.Env {
			m[p+"env "+k] = fmt.Sprintf("%s (%s)", v.Value, v.Source)
		}
		var dirs []string
		for _, pe := range u.Path {
			dirs = append(dirs, pe.Dir)
			state := "missing"
			if pe.Exists {
				state = fmt.Sprintf("%s:%s %s", pe.Owner, pe.Group, pe.Mode)
				if pe.Go != "" {
					state += " has go"
				}
			}
			m[p+"path dir "+pe.Dir] = state
		}
		m[p+"PATH"] = strings.Join(dirs, ":")
		for _, c := range u.Chain {
			state := "missing"
			if c.Exists {
				state = fmt.Sprintf("%s:%s %s sha256:%s", c.Owner, c.Group, c.Mode, c.SHA256)
			}
			m[p+"chain "+c.Path] = state
		}
		for _, f := range u.GoEnvFiles {
			flattenGoEnvFile(m, p+"goenv "+f.Path, f)
		}
	}
	return m
}

// flattenGoEnvFile lists a Go env file under item: the file itself, then
// each value it sets, and what it does for the user.
func flattenGoEnvFile(m map[string]string, item string, f GoEnvFile) {
	if !f.Exists {
		m[item] = "missing"
		return
	}
	m[item] = fmt.Sprintf("%s:%s %s sha256:%s", f.Owner, f.Group, f.Mode, f.SHA256)
	if f.Error != "" {
		m[item] = fmt.Sprintf("%s:%s %s unreadable: %s", f.Owner, f.Group, f.Mode, f.Error)
	}
	for _, v := range f.Values {
		state := v.Value
		switch {
		case v.ShadowedBy != nil:
			state += " (shadowed by " + v.ShadowedBy.String() + ")"
		case v.InEffect != nil:
			state += " (in effect)"
		}
		m[item+" "+v.Name] = state
	}
}

// Diff compares two snapshots, in item order.
func Diff(a, b *Snapshot) []Change {
	fa, fb := Flatten(a), Flatten(b)
	var items []string
	for k := range fa {
		items = append(items, k)
	}
	for k := range fb {
		if _, ok := fa[k]; !ok {
			items = append(items, k)
		}
	}
	slices.Sort(items)
	var out []Change
	for _, k := range items {
		va, inA := fa[k]
		vb, inB := fb[k]
		switch {
		case inA && inB && va == vb:
			continue
		case !inA:
			out = append(out, Change{Item: k, After: &vb})
		case !inB:
			out = append(out, Change{Item: k, Before: &va})
		default:
			out = append(out, Change{Item: k, Before: &va, After: &vb})
		}
	}
	return out
}

const snapDir = "snapshots"

// Save keeps s in the state directory and returns its file.
func Save(stateDir string, s *Snapshot) (string, error) {
	dir := filepath.Join(stateDir, snapDir)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return "", fmt.Errorf("save snapshot: %w", err)
	}
	data, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return "", fmt.Errorf("save snapshot: %w", err)
	}
	name := filepath.Join(dir, "snapshot-"+s.Time.UTC().Format("20060102T150405.000000000Z")+".json")
	if err := atomicfile.Write(name, append(data, '\n'), 0o600); err != nil {
		return "", fmt.Errorf("save snapshot: %w", err)
	}
	return name, nil
}

// Saved lists the saved snapshots, oldest first.
func Saved(stateDir string) ([]string, error) {
	matches, err := filepath.Glob(filepath.Join(stateDir, snapDir, "snapshot-*.json"))
	if err != nil {
		return nil, err
	}
	slices.Sort(matches)
	return matches, nil
}

// Prune removes saved snapshots older than days (0 keeps them for good)
// and returns how many went.
func Prune(stateDir string, days int, now time.Time) (int, error) {
	if days <= 0 {
		return 0, nil
	}
	files, err := Saved(stateDir)
	if err != nil {
		return 0, err
	}
	cut := now.Add(-time.Duration(days) * 24 * time.Hour)
	n := 0
	for _, f := range files {
		stamp := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(f), "snapshot-"), ".json")
		t, err := time.Parse("20060102T150405.000000000Z", stamp)
		if err != nil || !t.Before(cut) {
			continue
		}
		if err := os.Remove(f); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return n, fmt.Errorf("prune snapshots: %w", err)
		}
		n++
	}
	return n, nil
}

// Read loads a snapshot file.
func Read(file string) (*Snapshot, error) {
	data, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read snapshot: %w", err)
	}
	var s Snapshot
	if err := json.Unmarshal(data, &s); err != nil {
		return nil, fmt.Errorf("read snapshot %s: %w", file, err)
	}
	if s.Format != 1 {
		return nil, fmt.Errorf("read snapshot %s: not a gotrail snapshot (format %d)", file, s.Format)
	}
	return &s, nil
}
