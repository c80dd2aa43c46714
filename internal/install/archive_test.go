package install

import (
	"archive/tar"
	"archive/zip"
	"bytes"
	"compress/gzip"
	"errors"
	"hash/crc32"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/mod/module"
)

var testModule = module.Version{Path: ToolchainModule, Version: ModuleVersion("1.22.5", "linux", "amd64")}

// TestForgedZipsRefused: every unsafe module zip is refused before anything
// is written outside its new directory.
func TestForgedZipsRefused(t *testing.T) {
	pre := ToolchainModule + "@" + testModule.Version + "/"
	ok := zipEntry{name: pre + "bin/go", body: "x"}
	for _, tt := range []struct {
		name    string
		entries []zipEntry
	}{
		{"path traversal", []zipEntry{ok, {name: pre + "../../../etc/evil", body: "x"}}},
		{"traversal inside", []zipEntry{ok, {name: pre + "bin/../../evil", body: "x"}}},
		{"absolute name", []zipEntry{ok, {name: "/etc/evil", body: "x"}}},
		{"outside the module", []zipEntry{ok, {name: "golang.org/other@v1.0.0/x", body: "x"}}},
		{"symlink", []zipEntry{ok, {name: pre + "bin/link", body: "/etc/passwd", mode: os.ModeSymlink | 0o777}}},
		{"device", []zipEntry{ok, {name: pre + "bin/dev", body: "", mode: os.ModeDevice | 0o644}}},
		{"duplicate", []zipEntry{ok, ok}},
		{"case-fold collision", []zipEntry{ok, {name: pre + "bin/GO", body: "y"}}},
		{"go.mod in a subdirectory", []zipEntry{ok, {name: pre + "src/go.mod", body: "module std\n"}}},
		{"backslash", []zipEntry{ok, {name: pre + `bin\..\..\evil`, body: "x"}}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			zp := filepath.Join(base, "m.zip")
			if err := os.WriteFile(zp, makeZip(t, tt.entries), 0o600); err != nil {
				t.Fatal(err)
			}
			dst := filepath.Join(base, "staging", "go")
			err := extractModuleZip(zp, testModule, dst, toolchainLimits)
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("not refused: %v", err)
			}
			if _, err := os.Stat(dst); err == nil {
				t.Errorf("refused, but %s was made: %v", dst, listDir(t, dst))
			}
			if got := listDir(t, base); strings.Join(got, ",") != "m.zip" {
				t.Errorf("written: %v", got)
			}
		})
	}
}

// TestCorruptArchivesRefused: an archive whose data turns out bad while it
// is unpacked (more bytes than its header says, a bad checksum, cut short)
// is refused like any unsafe archive, not taken for a failure of the
// machine: it reached unpacking only because something vouched for it.
func TestCorruptArchivesRefused(t *testing.T) {
	pre := ToolchainModule + "@" + testModule.Version + "/"
	badCRC := func() []byte {
		var buf bytes.Buffer
		zw := zip.NewWriter(&buf)
		w, err := zw.CreateRaw(&zip.FileHeader{Name: pre + "bin/go", Method: zip.Store, CRC32: 1, CompressedSize64: 2, UncompressedSize64: 2})
		if err != nil {
			t.Fatal(err)
		}
		w.Write([]byte("go"))
		zw.Close()
		return buf.Bytes()
	}()
	noise := make([]byte, 64<<10) // does not compress: cut, the gzip stream ends inside it
	rand.NewChaCha8([32]byte{}).Read(noise)
	tgz := makeTarGz(t, []tarEntry{{name: "go/bin/go", body: string(noise)}})
	for _, tt := range []struct {
		name string
		zip  []byte
		tgz  []byte
		want string
	}{
		{name: "zip: more data than its header says", zip: lyingZip(t, pre+"bin/go", "longer", 3), want: "bin/go: zip: not a valid zip file"},
		{name: "zip: bad checksum", zip: badCRC, want: "bin/go: zip: checksum error"},
		{name: "tar.gz: cut short inside a file", tgz: tgz[:len(tgz)/2], want: "bin/go: unexpected EOF"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, "go")
			var err error
			if tt.zip != nil {
				zp := filepath.Join(base, "m.zip")
				if err := os.WriteFile(zp, tt.zip, 0o600); err != nil {
					t.Fatal(err)
				}
				err = extractModuleZip(zp, testModule, dst, toolchainLimits)
			} else {
				err = extractTarGz(bytes.NewReader(tt.tgz), dst, toolchainLimits)
			}
			var re *RefusedError
			if !errors.As(err, &re) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want refused: %s", err, tt.want)
			}
		})
	}
}

type tarEntry struct {
	name, body, link string
	typ              byte
	mode             int64
}

func makeTarGz(t testing.TB, entries []tarEntry) []byte {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		typ := e.typ
		if typ == 0 {
			typ = tar.TypeReg
		}
		mode := e.mode
		if mode == 0 {
			mode = 0o644
		}
		if err := tw.WriteHeader(&tar.Header{Name: e.name, Typeflag: typ, Mode: mode, Size: int64(len(e.body)), Linkname: e.link}); err != nil {
			t.Fatal(err)
		}
		tw.Write([]byte(e.body))
	}
	tw.Close()
	gz.Close()
	return buf.Bytes()
}

func TestTarGz(t *testing.T) {
	good := []tarEntry{
		{name: "go/", typ: tar.TypeDir, mode: 0o755},
		{name: "go/bin/go", body: "#!/bin/sh\n", mode: 0o4777},
		{name: "go/VERSION", body: "go1.22.5\n", mode: 0o666},
	}
	dst := filepath.Join(t.TempDir(), "go")
	if err := extractTarGz(bytes.NewReader(makeTarGz(t, good)), dst, toolchainLimits); err != nil {
		t.Fatal(err)
	}
	for name, want := range map[string]os.FileMode{"bin/go": 0o755, "VERSION": 0o644, "bin": 0o755 | os.ModeDir} {
		if fi, err := os.Stat(filepath.Join(dst, name)); err != nil || fi.Mode() != want {
			t.Errorf("%s: %v %v, want %v", name, fi.Mode(), err, want)
		}
	}
	for _, tt := range []struct {
		name string
		bad  tarEntry
	}{
		{"path traversal", tarEntry{name: "go/../../etc/evil", body: "x"}},
		{"absolute name", tarEntry{name: "/etc/evil", body: "x"}},
		{"outside go/", tarEntry{name: "evil", body: "x"}},
		{"symlink", tarEntry{name: "go/bin/sh", typ: tar.TypeSymlink, link: "/bin/sh"}},
		{"symlink out then a file through it", tarEntry{name: "go/lib", typ: tar.TypeSymlink, link: "/etc"}},
		{"hard link", tarEntry{name: "go/bin/pw", typ: tar.TypeLink, link: "/etc/passwd"}},
		{"device", tarEntry{name: "go/bin/dev", typ: tar.TypeChar}},
		{"fifo", tarEntry{name: "go/bin/fifo", typ: tar.TypeFifo}},
		{"duplicate", tarEntry{name: "go/bin/go", body: "y"}},
		{"case-fold collision", tarEntry{name: "go/BIN/go", body: "y"}},
		{"dot element", tarEntry{name: "go/./bin/x", body: "y"}},
	} {
		t.Run(tt.name, func(t *testing.T) {
			base := t.TempDir()
			dst := filepath.Join(base, "go")
			entries := append(append([]tarEntry{}, good...), tt.bad)
			err := extractTarGz(bytes.NewReader(makeTarGz(t, entries)), dst, toolchainLimits)
			var re *RefusedError
			if !errors.As(err, &re) {
				t.Fatalf("not refused: %v", err)
			}
			for _, p := range listDir(t, base) {
				if fi, err := os.Lstat(filepath.Join(base, p)); err == nil && fi.Mode()&os.ModeSymlink != 0 {
					t.Errorf("a symlink was made: %s", p)
				}
				if !strings.HasPrefix(p, "go") {
					t.Errorf("written outside: %s", p)
				}
			}
		})
	}
}

// FuzzExtractTarGz: whatever the archive, nothing is written outside the
// destination and no symlink is made.
func FuzzExtractTarGz(f *testing.F) {
	f.Add(makeTarGz(f, []tarEntry{{name: "go/bin/go", body: "x"}, {name: "go/../x", body: "y"}}))
	f.Add(makeTarGz(f, []tarEntry{{name: "go/a", typ: tar.TypeSymlink, link: "/"}, {name: "go/a/b", body: "y"}}))
	f.Add(makeTarGz(f, []tarEntry{{name: "go/", typ: tar.TypeDir}, {name: "go/A", body: "x"}, {name: "go/a", body: "y"}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		dst := filepath.Join(base, "d", "go")
		extractTarGz(bytes.NewReader(data), dst, toolchainLimits)
		filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if p != base && p != filepath.Join(base, "d") && !strings.HasPrefix(p, dst) {
				t.Fatalf("written outside the destination: %s", p)
			}
			if d.Type()&os.ModeSymlink != 0 {
				t.Fatalf("symlink made: %s", p)
			}
			return nil
		})
	})
}

// FuzzExtractModuleZip: whatever the module zip, nothing is written outside
// the destination, no symlink or other special file is made, an archive
// that is not unpacked is refused (not a failure of another kind), and what
// is unpacked keeps to the caps, with the modes of a toolchain.
//
// Each exec must be cheap, or the fuzzer tests nothing: besides fuzzing, it
// re-runs every input that finds new code tens of thousands of times to
// minimize it (removing each run of bytes in turn), without counting those
// execs. So the seeds are small: a module with a short path (the toolchain
// module's adds 100 bytes to each entry), a bomb is a few hundred bytes
// that inflate past the small caps used here. And the file system, whose
// every call costs microseconds (a tenth of a millisecond on a disk), is
// used only as unpacking needs it: one scratch directory per fuzzing
// process, on a file system in memory when there is one (fuzzScratch), the
// zip written over the same file, and not at all for the bytes archive/zip
// cannot read as a zip, which extractModuleZip refuses at once (its first
// step is zip.OpenReader, that same reading), and which most mutations and
// minimizing candidates are.
func FuzzExtractModuleZip(f *testing.F) {
	m := module.Version{Path: "a.b", Version: "v1.0.0"}
	pre := m.Path + "@" + m.Version + "/"
	lim := unpackLimits{total: 12 << 10, file: 4 << 10, files: 8}
	for _, es := range [][]zipEntry{
		{{name: pre + "bin/go", body: "x"}, {name: pre + "src/_go.mod", body: "module std"}},
		{{name: pre + "../x", body: "x"}},
		{{name: pre + "a", body: "/", mode: os.ModeSymlink | 0o777}},
		{{name: pre + "a", body: "x"}, {name: pre + "a", body: "y"}},
		{{name: pre + "a/b", body: "x"}, {name: pre + "A/b", body: "y"}},
		{{name: pre + "a", body: "x"}, {name: pre + "a/b", body: "y"}},
		{{name: pre + "bin/", mode: os.ModeDir | 0o755}, {name: pre + "bin/x", body: "y", mode: os.ModeSetuid | 0o777}},
		{{name: pre + `a\..\..\x`, body: "x"}, {name: "/etc/x", body: "x"}},
		{{name: pre + "lib/dev", mode: os.ModeDevice | 0o644}},
		{{name: pre + "a/b/c/d/e/f/g/h/i"}},
	} {
		f.Add(makeZip(f, es))
	}
	f.Add(bombZip(f, []bomb{{pre + "bin/go", 3}, {pre + "bin/huge", lim.file + 1}}))
	f.Add(bombZip(f, []bomb{{pre + "a", lim.file}, {pre + "b", lim.file}, {pre + "c", lim.file}, {pre + "d", 1}}))
	f.Add(lyingZip(f, pre+"a", "short", 1<<40))
	f.Add(lyingZip(f, pre+"a", "longer", 3))

	scratch := fuzzScratch(f)
	zp := filepath.Join(scratch, "m.zip")
	parent := filepath.Join(scratch, "d")
	dst := filepath.Join(parent, "go")
	if err := os.Mkdir(parent, 0o700); err != nil {
		f.Fatal(err)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if _, err := zip.NewReader(bytes.NewReader(data), int64(len(data))); err != nil {
			return
		}
		if err := os.WriteFile(zp, data, 0o600); err != nil {
			t.Fatal(err)
		}
		unpackErr := extractModuleZip(zp, m, dst, lim)
		defer os.RemoveAll(dst)
		var re *RefusedError
		if unpackErr != nil && !errors.As(unpackErr, &re) {
			t.Fatalf("not unpacked, but not refused either: %v", unpackErr)
		}
		if names, err := os.ReadDir(scratch); err != nil || len(names) != 2 {
			t.Fatalf("written beside the destination: %v %v", names, err)
		}
		if names, err := os.ReadDir(parent); err != nil || len(names) > 1 {
			t.Fatalf("written beside the destination: %v %v", names, err)
		}
		var files int
		var total int64
		filepath.WalkDir(dst, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			fi, err := d.Info()
			if err != nil {
				t.Fatal(err)
			}
			// refused, what was written has the modes of work in progress
			// (the caller removes it); unpacked, those of a toolchain
			switch mode := fi.Mode(); {
			case mode.IsDir() && (unpackErr != nil || mode == os.ModeDir|0o755):
			case mode.IsRegular() && (unpackErr != nil || mode == 0o644 || mode == 0o755):
				total += fi.Size()
				if fi.Size() > lim.file {
					t.Errorf("%s: %d bytes, over the cap of %d", p, fi.Size(), lim.file)
				}
			default:
				t.Fatalf("%s made with mode %v (%v)", p, mode, unpackErr)
			}
			if p != dst {
				files++
			}
			return nil
		})
		if total > lim.total || (unpackErr == nil && files > lim.files) {
			t.Errorf("unpacked %d bytes in %d files and directories, over the caps %+v", total, files, lim)
		}
	})
}

// lyingZip is a zip of one stored file whose header declares size bytes
// whatever body holds.
func lyingZip(t testing.TB, name, body string, size uint64) []byte {
	var buf bytes.Buffer
	zw := zip.NewWriter(&buf)
	w, err := zw.CreateRaw(&zip.FileHeader{Name: name, Method: zip.Store, CRC32: crc32.ChecksumIEEE([]byte(body)),
		CompressedSize64: uint64(len(body)), UncompressedSize64: size})
	if err != nil {
		t.Fatal(err)
	}
	w.Write([]byte(body))
	if err := zw.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// fuzzScratch is a directory for one fuzzing process, removed at its end:
// on a file system in memory when the machine has one (/dev/shm), where a
// file system call costs microseconds rather than the tenth of a
// millisecond it may cost on a disk, and thousands of execs a second need
// some twenty of them each.
func fuzzScratch(f *testing.F) string {
	if fi, err := os.Stat("/dev/shm"); err == nil && fi.IsDir() {
		if d, err := os.MkdirTemp("/dev/shm", "gotrail-fuzz-"); err == nil {
			f.Cleanup(func() { os.RemoveAll(d) })
			return d
		}
	}
	return f.TempDir()
}
