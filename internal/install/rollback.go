package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"
)

// Rollback points PREFIX/go back at the toolchain it named before the last
// install (or rollback): the state directory remembers which. A toolchain
// that was a plain directory at PREFIX/go was kept as go-previous-TIME and
// is pointed at by the symlink.
func Rollback(ctx context.Context, o Options) (*Result, error) {
	r := &Result{Action: "rollback"}
	err := rollback(&o, r)
	r.Err = err
	return r, err
}

func rollback(o *Options, r *Result) error {
	if o.Prefix == "" {
		o.Prefix = "/usr/local"
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	if !filepath.IsAbs(o.Prefix) {
		return fmt.Errorf("prefix %q: want an absolute directory", o.Prefix)
	}
	r.Link = filepath.Join(filepath.Clean(o.Prefix), "go")
	unlock, err := lockState(o.StateDir)
	if err != nil {
		return err
	}
	defer unlock()
	links, err := readLinks(o.StateDir)
	if err != nil {
		return err
	}
	st, ok := links[r.Link]
	if !ok || st.Previous == "" {
		return fmt.Errorf("no toolchain to roll back to: gotrail install has not switched %s away from another one (state in %s)", r.Link, linksFile(o.StateDir))
	}
	r.Dir, r.Version = st.Previous, versionOf(st.Previous)
	if fi, err := os.Stat(filepath.Join(st.Previous, "bin", "go")); err != nil || fi.IsDir() {
		return fmt.Errorf("the previous toolchain %s is gone (no bin/go): not switching %s to it", st.Previous, r.Link)
	}
	if cur, err := filepath.EvalSymlinks(r.Link); err == nil && st.Current != "" {
		if want, _ := filepath.EvalSymlinks(st.Current); want != "" && cur != want {
			return fmt.Errorf("%s points at %s, not at %s as gotrail left it: someone changed it; not rolling back", r.Link, cur, st.Current)
		}
	} else if err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	now := o.Now()
	prev, err := switchLink(r.Link, st.Previous, now)
	if err != nil {
		return err
	}
	r.Previous = prev
	if m, name, err := FindManifest(o.StateDir, st.Previous); err == nil {
		r.Manifest, r.Version = name, m.Version
	}
	return saveLink(o.StateDir, r.Link, linkState{Current: st.Previous, Previous: prev, Changed: now.UTC()})
}

// versionOf guesses go1.22.5 from /usr/local/go1.22.5.
func versionOf(dir string) string {
	b := filepath.Base(dir)
	if strings.HasPrefix(b, "go1") {
		if v, _, _ := strings.Cut(b, "-"); versionRE.MatchString(strings.TrimPrefix(v, "go")) {
			return v
		}
	}
	if data, err := os.ReadFile(filepath.Join(dir, "VERSION")); err == nil {
		return firstLine(string(data))
	}
	return ""
}
