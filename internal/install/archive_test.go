package install

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

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
			err := extractModuleZip(zp, testModule, dst)
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
	if err := extractTarGz(bytes.NewReader(makeTarGz(t, good)), dst); err != nil {
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
			err := extractTarGz(bytes.NewReader(makeTarGz(t, entries)), dst)
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
		extractTarGz(bytes.NewReader(data), dst)
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

// FuzzExtractModuleZip: the same for module zips.
func FuzzExtractModuleZip(f *testing.F) {
	pre := ToolchainModule + "@" + testModule.Version + "/"
	f.Add(makeZip(f, []zipEntry{{name: pre + "bin/go", body: "x"}, {name: pre + "src/_go.mod", body: "module std"}}))
	f.Add(makeZip(f, []zipEntry{{name: pre + "../x", body: "x"}}))
	f.Add(makeZip(f, []zipEntry{{name: pre + "a", body: "/", mode: os.ModeSymlink | 0o777}}))
	f.Fuzz(func(t *testing.T, data []byte) {
		base := t.TempDir()
		zp := filepath.Join(base, "m.zip")
		os.WriteFile(zp, data, 0o600)
		dst := filepath.Join(base, "d", "go")
		start := time.Now()
		extractModuleZip(zp, testModule, dst)
		if d := time.Since(start); d > 2*time.Second {
			t.Fatalf("took %s", d)
		}
		filepath.WalkDir(base, func(p string, d os.DirEntry, err error) error {
			if err != nil {
				return nil
			}
			if p != base && p != zp && p != filepath.Join(base, "d") && !strings.HasPrefix(p, dst) {
				t.Fatalf("written outside the destination: %s", p)
			}
			if d.Type()&os.ModeSymlink != 0 {
				t.Fatalf("symlink made: %s", p)
			}
			return nil
		})
	})
}
