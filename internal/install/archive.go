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

// maxArchive bounds a toolchain archive as downloaded.
const maxArchive = 2 << 30

// What one toolchain may unpack to. A Go toolchain unpacks to 250-300 MB in
// some 15,000 files, the largest of them (pkg/tool/GOOS_GOARCH/compile)
// about 26 MB (go1.26.0, linux/amd64), so these leave room for years of
// growth. They are there because a small archive may inflate without end (a
// zip or gzip bomb): the checksum database or the go.dev/dl index vouching
// for an archive proves where it came from, not that unpacking it cannot
// fill the disk, or its inodes. A module zip is held to x/mod/zip's bound
// too (500 MiB in all), which the go command applies to every module.
const (
	maxUnpacked      = 1 << 30   // bytes, all files together
	maxUnpackedFile  = 256 << 20 // bytes, one file
	maxUnpackedFiles = 100_000   // files and directories
)

// unpackLimits are the bounds of one unpacking: toolchainLimits, or smaller
// ones in tests.
type unpackLimits struct {
	total int64 // bytes of all files
	file  int64 // bytes of one file
	files int   // files and directories
}

var toolchainLimits = unpackLimits{total: maxUnpacked, file: maxUnpackedFile, files: maxUnpackedFiles}

// checkSize checks a file of size bytes against the limits, total being
// the bytes of the files unpacked before it.
func (lim unpackLimits) checkSize(name string, size uint64, total int64) error {
	switch {
	case size > uint64(lim.file):
		return unsafeArchive("%s unpacks to %d bytes, over the cap of %s on one file of a toolchain", name, size, byteSize(lim.file))
	case total > lim.total || size > uint64(lim.total-total):
		return unsafeArchive("%s (%d bytes) takes what is unpacked over the cap of %s on a whole toolchain", name, size, byteSize(lim.total))
	}
	return nil
}

// checkCount checks that with name the archive makes n files and
// directories.
func (lim unpackLimits) checkCount(name string, n int) error {
	if n > lim.files {
		return unsafeArchive("%s takes the files and directories unpacked over the cap of %d on a whole toolchain", name, lim.files)
	}
	return nil
}

// inodes counts the files and directories an archive makes, with those its
// names imply (a/b/c makes a and a/b): the cap on them bounds what the
// archive takes of the file system's inodes, which a deep name of a few
// bytes per directory would take otherwise.
type inodes struct {
	dirs map[string]bool
	n    int
}

// add counts name, a directory when dir, and the directories above it not
// counted yet, and returns the count so far.
func (c *inodes) add(name string, dir bool) int {
	if c.dirs == nil {
		c.dirs = map[string]bool{}
	}
	if dir {
		if c.dirs[name] {
			return c.n
		}
		c.dirs[name] = true
	}
	c.n++
	for d := path.Dir(name); d != "." && d != "/" && !c.dirs[d]; d = path.Dir(d) {
		c.dirs[d] = true
		c.n++
	}
	return c.n
}

// checkZipSizes refuses a zip whose entries, as its central directory
// declares them, go over the limits. archive/zip returns no more than the
// declared size of an entry (and an error if there is more), so these bound
// what reading the zip inflates, to hash it or to unpack it. (The count is
// of entries here; extractModuleZip counts the directories they imply too.)
func checkZipSizes(z *zip.Reader, lim unpackLimits) error {
	var total int64
	for i, zf := range z.File {
		if err := lim.checkCount(zf.Name, i+1); err != nil {
			return err
		}
		if err := lim.checkSize(zf.Name, zf.UncompressedSize64, total); err != nil {
			return err
		}
		total += int64(zf.UncompressedSize64)
	}
	return nil
}

// byteSize says n in the largest binary unit that divides it.
func byteSize(n int64) string {
	for _, u := range []struct {
		size int64
		name string
	}{{1 << 30, "GiB"}, {1 << 20, "MiB"}, {1 << 10, "KiB"}} {
		if n >= u.size && n%u.size == 0 {
			return fmt.Sprintf("%d %s", n/u.size, u.name)
		}
	}
	return fmt.Sprintf("%d bytes", n)
}

// unsafeArchive is an archive refused before anything of it was written
// where it would be used.
func unsafeArchive(format string, args ...any) error {
	return &RefusedError{Reason: "unsafe archive: " + fmt.Sprintf(format, args...)}
}

// extractModuleZip unpacks the toolchain module zip into dst, a new
// directory, after its sizes are checked against lim and
// golang.org/x/mod/zip's checks (names clean and relative, no duplicates or
// case-fold collisions, sizes) and its own: every entry a regular file. It
// then does what the go command does on first use of a downloaded toolchain
// (cmd/go/internal/toolchain/select.go): the module zip keeps no modes, so
// the files of bin/ and pkg/tool/ and lib/go_*_*_exec get their exec bits,
// and every _go.mod (named so that the module zip may hold it) is copied to
// go.mod beside it.
func extractModuleZip(zipPath string, m module.Version, dst string, lim unpackLimits) error {
	z, err := zip.OpenReader(zipPath)
	if err != nil {
		return unsafeArchive("%v", err)
	}
	defer z.Close()
	// refuse first, write after: nothing of a bad archive is unpacked
	if err := checkZipSizes(&z.Reader, lim); err != nil {
		return err
	}
	if _, err := modzip.CheckZip(m, zipPath); err != nil {
		return unsafeArchive("%s", shortZipError(err))
	}
	prefix := m.Path + "@" + m.Version + "/"
	if err := checkModuleEntries(z.File, prefix, lim); err != nil {
		return err
	}
	if err := mkdirs(dst, ""); err != nil {
		return err
	}
	total, goMods, err := writeModuleFiles(z.File, prefix, dst, lim)
	if err != nil {
		return err
	}
	return restoreGoMods(dst, prefix, goMods, total, lim)
}

// checkModuleEntries refuses a module zip with an entry that is not a
// regular file or a directory, or not under a relative name, or that
// takes what it unpacks to over lim, counting the directories that names
// imply and the go.mod each _go.mod is copied to.
func checkModuleEntries(files []*zip.File, prefix string, lim unpackLimits) error {
	var declared int64
	var copies []*zip.File
	var made inodes
	for _, zf := range files {
		name := strings.TrimPrefix(zf.Name, prefix)
		if t := zf.Mode().Type(); t != 0 && !(t == fs.ModeDir && strings.HasSuffix(name, "/")) {
			return unsafeArchive("%s is not a regular file (%s)", zf.Name, t)
		}
		if name == "" {
			continue
		}
		if dir, ok := strings.CutSuffix(name, "/"); ok {
			if err := lim.checkCount(zf.Name, made.add(dir, true)); err != nil {
				return err
			}
			continue
		}
		if !filepath.IsLocal(name) {
			return unsafeArchive("%s: not a relative name", zf.Name)
		}
		if err := lim.checkCount(zf.Name, made.add(name, false)); err != nil {
			return err
		}
		declared += int64(zf.UncompressedSize64)
		if path.Base(name) == "_go.mod" {
			copies = append(copies, zf)
		}
	}
	// the go.mod copies of the _go.mod files count too, each held to
	// x/mod/zip's bound on a go.mod
	for _, zf := range copies {
		to := path.Join(path.Dir(zf.Name), "go.mod")
		if zf.UncompressedSize64 > modzip.MaxGoMod {
			return unsafeArchive("%s unpacks to %d bytes, over the cap of %s on a go.mod", zf.Name, zf.UncompressedSize64, byteSize(modzip.MaxGoMod))
		}
		if err := lim.checkSize(to, zf.UncompressedSize64, declared); err != nil {
			return err
		}
		if err := lim.checkCount(to, made.add(strings.TrimPrefix(to, prefix), false)); err != nil {
			return err
		}
		declared += int64(zf.UncompressedSize64)
	}
	return nil
}

// writeModuleFiles writes the files of the module zip under dst, and
// returns the bytes written and the _go.mod files among them.
func writeModuleFiles(files []*zip.File, prefix, dst string, lim unpackLimits) (total int64, goMods []string, err error) {
	for _, zf := range files {
		name := strings.TrimPrefix(zf.Name, prefix)
		if name == "" || strings.HasSuffix(name, "/") {
			continue
		}
		// checked already; again here, where the bytes are written, so
		// that the bound holds whatever is changed before it
		if err := lim.checkSize(zf.Name, zf.UncompressedSize64, total); err != nil {
			return total, nil, err
		}
		r, err := zf.Open()
		if err != nil {
			return total, nil, unsafeArchive("%s: %v", zf.Name, err)
		}
		n, err := writeFile(dst, name, r, int64(zf.UncompressedSize64), execInToolchain(name))
		r.Close()
		total += n
		if err != nil {
			return total, nil, err
		}
		if path.Base(name) == "_go.mod" {
			goMods = append(goMods, name)
		}
	}
	return total, goMods, nil
}

// restoreGoMods copies each _go.mod under dst to go.mod beside it, as the
// go command does, total being the bytes unpacked before.
func restoreGoMods(dst, prefix string, goMods []string, total int64, lim unpackLimits) error {
	for _, name := range goMods {
		data, err := os.ReadFile(filepath.Join(dst, name))
		if err != nil {
			return err
		}
		to := path.Join(path.Dir(name), "go.mod")
		if err := lim.checkSize(prefix+to, uint64(len(data)), total); err != nil {
			return err
		}
		total += int64(len(data))
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
// symlink) with at most size bytes of r: more is an error, as is less, and
// so is an archive that cannot be read (a bad checksum, corrupt deflate
// data), a refusal like any other unsafe archive.
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
	ar := &archiveReader{r: r}
	n, err := io.Copy(f, io.LimitReader(ar, size+1))
	if ar.err != nil {
		err = unsafeArchive("%s: %v", name, ar.err)
	}
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

// archiveReader keeps the error of reading an archive (io.Copy does not
// say which side failed), unless it is the operating system's: a bad
// archive is refused, a disk that fails is not the archive's doing.
type archiveReader struct {
	r   io.Reader
	err error
}

func (a *archiveReader) Read(p []byte) (int, error) {
	n, err := a.r.Read(p)
	var pe *fs.PathError
	if err != nil && err != io.EOF && !errors.As(err, &pe) {
		a.err = err
	}
	return n, err
}

// extractTarGz unpacks a go.dev/dl archive (go/... inside) into dst, a new
// directory. Only directories and regular files are taken: a symlink, hard
// link, device, an absolute name, a name with "..", a duplicate, a
// case-fold collision or going over lim refuses the whole archive (what was
// written is the caller's to remove). Modes are normalised to 0755 or 0644.
func extractTarGz(r io.Reader, dst string, lim unpackLimits) error {
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
	var made inodes
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
			if err := lim.checkCount(h.Name, made.add(name, true)); err != nil {
				return err
			}
			if err := mkdirs(dst, name); err != nil {
				return err
			}
		case tar.TypeReg:
			if h.Size < 0 {
				return unsafeArchive("%s: size %d", h.Name, h.Size)
			}
			// the header says the size before a byte of the file is
			// written: over the caps, nothing of it is
			if err := lim.checkCount(h.Name, made.add(name, false)); err != nil {
				return err
			}
			if err := lim.checkSize(h.Name, uint64(h.Size), total); err != nil {
				return err
			}
			n, err := writeFile(dst, name, tr, h.Size, h.Mode&0o111 != 0)
			total += n
			if err != nil {
				return err
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
