package atomicfile

import (
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestWrite(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "state.json")
	for _, content := range []string{"one", "two, longer"} {
		if err := Write(p, []byte(content), 0o600); err != nil {
			t.Fatal(err)
		}
		got, err := os.ReadFile(p)
		if err != nil || string(got) != content {
			t.Fatalf("read %q, %v; want %q", got, err, content)
		}
	}
	if fi, _ := os.Stat(p); fi.Mode().Perm() != 0o600 {
		t.Errorf("mode %v", fi.Mode())
	}
	entries, _ := os.ReadDir(dir)
	if len(entries) != 1 {
		t.Errorf("temporary files left: %v", entries)
	}
	// a missing directory is made, for state only
	if err := Write(filepath.Join(dir, "missing", "x"), nil, 0o600); err != nil {
		t.Errorf("missing directory: %v", err)
	}
	if fi, err := os.Stat(filepath.Join(dir, "missing")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("made directory: %v %v", fi, err)
	}
	if err := Write(filepath.Join(p, "x"), nil, 0o600); err == nil {
		t.Error("no error for a path under a file")
	}
	// relative to the working directory
	t.Chdir(dir)
	if err := Write("rel.json", []byte("r"), 0o600); err != nil {
		t.Fatal(err)
	}
	if got, _ := os.ReadFile(filepath.Join(dir, "rel.json")); string(got) != "r" {
		t.Errorf("relative write: %q", got)
	}
}

// TestWriteFuncAtomic: a failed write (a report streamed) leaves no file and no temporary
// file, and the old file as it was.
func TestWriteFuncAtomic(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "report.html")
	if err := os.WriteFile(p, []byte("old"), 0o600); err != nil {
		t.Fatal(err)
	}
	boom := errors.New("boom")
	err := WriteFunc(p, 0o640, func(w io.Writer) error {
		io.WriteString(w, strings.Repeat("half a report ", 100000))
		return boom
	})
	if !errors.Is(err, boom) {
		t.Fatalf("err %v; want boom", err)
	}
	if b, _ := os.ReadFile(p); string(b) != "old" {
		t.Errorf("the old file became %.20q", b)
	}
	if names, _ := filepath.Glob(filepath.Join(dir, "*")); len(names) != 1 {
		t.Errorf("left behind: %v", names)
	}
	if err := WriteFunc(p, 0o640, func(w io.Writer) error { _, err := io.WriteString(w, "new"); return err }); err != nil {
		t.Fatal(err)
	}
	if b, _ := os.ReadFile(p); string(b) != "new" {
		t.Errorf("report %q; want new", b)
	}
}
