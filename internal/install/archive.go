package install

import (
	"archive/tar"
	"archive/zip"
	"compress/gzip"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"syscall"

	"golang.org/x/mod/module"
	modzip "golang.org/x/mod/zip"
)

// maxArchive bounds a toolchain archive and its unpacked content; the
// module zip has x/mod/zip's own, smaller bound (500 MiB).
const maxArchive = 2 << 30

// unsafeArchive is an archive refused before anything of it was written
// where it would be used.
func unsafeArchive(format string, args ...any) error {
	return &RefusedError{Reason: "unsafe archive: " + fmt.Sprintf(format, args...)}
}

// extractModuleZip unpacks the toolchain module zip into dst, a new
// directory, after golang.org/x/mod/zip's checks (names clean and
// relative, no duplicates or case-fold collisions, sizes) and its own: every
// entry a regular file. It then does what the go command does on first use
// of a downloaded toolchain (cmd/go/internal/toolchain/select.go): the
// module zip keeps no modes, so the files of bin/ and pkg/tool/ and
// lib/go_*_*_exec get their exec bits, and every _go.mod (named so that the
// module zip may hold it) is copied to go.mod beside it.
func extractModuleZip(zipPath string, m module.Version, dst string) error {
	if _, err := modzip.CheckZip(m, zipPath); err != nil {
		return unsafeArchive("%s", shortZipError(err))
	}
	z, err := zip.OpenReader(zipPath)
	if err != nil {
		return unsafeArchive("%v", err)
	}
	defer z.Close()
	prefix := m.Path + "@" + m.Version + "/"
	// refuse first, write after: nothing of a bad archive is unpacked
	for _, zf := range z.File {
		name := strings.TrimPrefix(zf.Name, prefix)
		if t := zf.Mode().Type(); t != 0 && !(t == fs.ModeDir && strings.HasSuffix(name, "/")) {
			return unsafeArchive("%s is not a regular file (%s)", zf.Name, t)
		}
		if name != "" && !strings.HasSuffix(name, "/") && !filepath.IsLocal(name) {
			return unsafeArchive("%s: not a relative name", zf.Name)
		}
	}
	if err := mkdirs(dst, ""); err != nil {
		return err
	}
	var total int64
	var goMods []string
	for _, zf := range z.File {
		name := strings.TrimPrefix(zf.Name, prefix)
		if name == "" || strings.HasSuffix(name, "/") {
			continue
		}
		r, err := zf.Open()
		if err != nil {
			return unsafeArchive("%s: %v", zf.Name, err)
		}
		n, err := writeFile(dst, name, r, int64(zf.UncompressedSize64), execInToolchain(name))
		r.Close()
		total += n
		if err != nil {
			return err
		}
		if total > maxArchive {
			return unsafeArchive("more than %d bytes unpacked", int64(maxArchive))
		}
		if path.Base(name) == "_go.mod" {
			goMods = append(goMods, name)
		}
	}
	for _, name := range goMods {
		data, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil {
			return err
		}
		to := path.Join(path.Dir(name), "go.mod")
		if err := os.WriteFile(filepath.Join(dst, to), data, 0o644); err != nil {
			return fmt.Errorf("restore %s: %w", to, err)
		}
		if err := os.Chmod(filepath.Join(dst, to), 0o644); err != nil {
			return err
		}
	}
	return nil
}

// shortZipError keeps a FileErrorList readable: the first few entries.
func shortZipError(err error) string {
	var fl modzip.FileErrorList
	if errors.As(err, &fl) && len(fl) > 3 {
		return fmt.Sprintf("%v (and %d more)", fl[:3], len(fl)-3)
	}
	return err.Error()
}

// execInToolchain says which files of a toolchain are programs, by the go
// command's rules for a toolchain from the module proxy.
func execInToolchain(name string) bool {
	switch {
	case strings.HasPrefix(name, "bin/"), strings.HasPrefix(name, "pkg/tool/"):
		return true
	case strings.HasPrefix(name, "lib/"):
		ok, _ := path.Match("go_?*_?*_exec", path.Base(name))
		return ok
	}
	return false
}

// mkdirs makes dir/rel and its parents, each 0755 whatever the umask (a
// toolchain is for every user).
func mkdirs(dir, rel string) error {
	p := dir
	parts := []string{}
	if rel != "" && rel != "." {
		parts = strings.Split(rel, "/")
	}
	for i := -1; i < len(parts); i++ {
		if i >= 0 {
			p = filepath.Join(p, parts[i])
		}
		err := os.Mkdir(p, 0o755)
		if errors.Is(err, fs.ErrExist) {
			fi, lerr := os.Lstat(p)
			if lerr != nil || !fi.IsDir() {
				return unsafeArchive("%s is both a file and a directory", rel)
			}
			continue
		}
		if err != nil {
			return err
		}
		if err := os.Chmod(p, 0o755); err != nil {
			return err
		}
	}
	return nil
}

// writeFile creates dst/name (never over anything, never through a
// symlink) with at most size bytes of r: more is an error, as is less.
func writeFile(dst, name string, r io.Reader, size int64, exec bool) (int64, error) {
	if err := mkdirs(dst, path.Dir(name)); err != nil {
		return 0, err
	}
	p := filepath.Join(dst, filepath.FromSlash(name))
	f, err := os.OpenFile(p, os.O_WRONLY|os.O_CREATE|os.O_EXCL|syscall.O_NOFOLLOW, 0o600)
	if err != nil {
		if errors.Is(err, fs.ErrExist) {
			return 0, unsafeArchive("%s appears twice", name)
		}
		return 0, err
	}
	n, err := io.Copy(f, io.LimitReader(r, size+1))
	if err == nil && n != size {
		err = unsafeArchive("%s: %d bytes where its header says %d", name, n, size)
	}
	mode := os.FileMode(0o644)
	if exec {
		mode = 0o755
	}
	if err == nil {
		err = f.Chmod(mode)
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	return n, err
}

// extractTarGz unpacks a go.dev/dl archive (go/... inside) into dst, a new
// directory. Only directories and regular files are taken: a symlink, hard
// link, device, an absolute name, a name with "..", a duplicate or a
// case-fold collision refuses the whole archive (what was written is the
// caller's to remove). Modes are normalised to 0755 or 0644.
func extractTarGz(r io.Reader, dst string) error {
	gz, err := gzip.NewReader(r)
	if err != nil {
		return unsafeArchive("not gzip: %v", err)
	}
	defer gz.Close()
	tr := tar.NewReader(gz)
	if err := mkdirs(dst, ""); err != nil {
		return err
	}
	seen := map[string]string{} // case-folded name -> name
	var total int64
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		}
		if err != nil {
			return unsafeArchive("%v", err)
		}
		if h.Typeflag == tar.TypeXGlobalHeader {
			continue
		}
		name, err := tarName(h.Name)
		if err != nil {
			return err
		}
		if name == "" {
			continue // go/ itself
		}
		fold := strings.ToLower(name)
		if prev, ok := seen[fold]; ok {
			return unsafeArchive("%s collides with %s", h.Name, prev)
		}
		seen[fold] = name
		switch h.Typeflag {
		case tar.TypeDir:
			if err := mkdirs(dst, name); err != nil {
				return err
			}
		case tar.TypeReg:
			if h.Size < 0 || h.Size > maxArchive {
				return unsafeArchive("%s: size %d", h.Name, h.Size)
			}
			n, err := writeFile(dst, name, tr, h.Size, h.Mode&0o111 != 0)
			total += n
			if err != nil {
				return err
			}
			if total > maxArchive {
				return unsafeArchive("more than %d bytes unpacked", int64(maxArchive))
			}
		default:
			return unsafeArchive("%s is not a regular file or directory (tar type %q)", h.Name, h.Typeflag)
		}
	}
	return nil
}

// tarName checks an archive name and returns it without the leading go/.
func tarName(n string) (string, error) {
	if strings.ContainsAny(n, "\x00\\") || strings.HasPrefix(n, "/") {
		return "", unsafeArchive("%q: not a relative name", n)
	}
	rest, ok := strings.CutPrefix(n, "go/")
	if !ok {
		if n == "go" {
			return "", nil
		}
		return "", unsafeArchive("%q is outside go/", n)
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return "", nil
	}
	if path.Clean(rest) != rest || !filepath.IsLocal(rest) {
		return "", unsafeArchive("%q: not a clean relative name", n)
	}
	for _, el := range strings.Split(rest, "/") {
		if el == ".." || el == "." {
			return "", unsafeArchive("%q: not a clean relative name", n)
		}
	}
	return rest, nil
}
