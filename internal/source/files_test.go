package source

import (
	"bytes"
	"compress/gzip"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestExpandRotations(t *testing.T) {
	dir := t.TempDir()
	write := func(name string, data []byte) {
		if err := os.WriteFile(filepath.Join(dir, name), data, 0o600); err != nil {
			t.Fatal(err)
		}
	}
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write([]byte("from gzip\n"))
	zw.Close()
	write("audit.log", []byte("current\n"))
	write("audit.log.1", []byte("one\n"))
	write("audit.log.10", []byte("ten\n"))
	write("audit.log.2.gz", gz.Bytes())
	write("audit.log.x", []byte("not a rotation\n"))
	write("other.log", []byte("not audit\n"))

	inputs, err := Expand([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, in := range inputs {
		rc, err := in.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		got = append(got, strings.TrimSpace(string(b)))
	}
	if want := "ten|from gzip|one|current"; strings.Join(got, "|") != want {
		t.Errorf("read %q, want %q", strings.Join(got, "|"), want)
	}
}

func TestExpandStdinAndErrors(t *testing.T) {
	inputs, err := Expand([]string{"-"}, strings.NewReader("x\n"))
	if err != nil || len(inputs) != 1 || inputs[0].Name != "-" {
		t.Fatalf("Expand(-) = %v, %v", inputs, err)
	}
	if _, err := Expand([]string{filepath.Join(t.TempDir(), "missing")}, nil); err == nil || !strings.Contains(err.Error(), "missing") {
		t.Errorf("missing input: %v", err)
	}
	if _, err := Expand([]string{t.TempDir()}, nil); err == nil || !strings.Contains(err.Error(), "no audit.log") {
		t.Errorf("empty directory: %v", err)
	}
}

func TestTruncatedGzip(t *testing.T) {
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(bytes.Repeat([]byte("type=EOE msg=audit(1.1:1): \n"), 1000))
	zw.Close()
	path := filepath.Join(t.TempDir(), "audit.log.1.gz")
	if err := os.WriteFile(path, gz.Bytes()[:gz.Len()/2], 0o600); err != nil {
		t.Fatal(err)
	}
	inputs, err := Expand([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	rc, err := inputs[0].Open()
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err == nil {
		t.Error("a truncated gzip read without error")
	}
	if len(b) == 0 {
		t.Error("nothing read before the truncation")
	}
}
