package install

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// dlServer serves a go.dev/dl index and archives on loopback: a mirror.
func dlServer(t *testing.T, archives map[string][]byte, sums map[string]string) *httptest.Server {
	var idx []dlRelease
	for v, data := range archives {
		sum := sha256.Sum256(data)
		s := hex.EncodeToString(sum[:])
		if f, ok := sums[v]; ok {
			s = f
		}
		idx = append(idx, dlRelease{Version: "go" + v, Stable: !strings.Contains(v, "rc"), Files: []dlFile{
			{Filename: "go" + v + ".src.tar.gz", Kind: "source", SHA256: s},
			{Filename: "go" + v + ".linux-amd64.tar.gz", OS: "linux", Arch: "amd64", Kind: "archive", SHA256: s, Size: int64(len(data))},
		}})
	}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/dl/" && r.URL.Query().Get("mode") == "json" && r.URL.Query().Get("include") == "all" {
			json.NewEncoder(w).Encode(idx)
			return
		}
		for v, data := range archives {
			if r.URL.Path == "/dl/go"+v+".linux-amd64.tar.gz" {
				w.Write(data)
				return
			}
		}
		http.NotFound(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

func goTarGz(t *testing.T, v string, extra ...tarEntry) []byte {
	entries := []tarEntry{
		{name: "go/bin/go", body: "#!/bin/sh\necho go version go" + v + " linux/amd64\n", mode: 0o755},
		{name: "go/VERSION", body: "go" + v + "\n"},
	}
	return makeTarGz(t, append(entries, extra...))
}

func TestInstallFromDL(t *testing.T) {
	srv := dlServer(t, map[string][]byte{
		"1.22.5":  goTarGz(t, "1.22.5"),
		"1.23rc1": goTarGz(t, "1.23rc1"),
		"1.22.6":  goTarGz(t, "1.22.6"),                                          // the index's sha256 is of something else
		"1.22.7":  goTarGz(t, "1.22.7", tarEntry{name: "go/../../x", body: "x"}), // traversal, with a matching sha256
	}, map[string]string{"1.22.6": strings.Repeat("0", 64)})
	o := Options{Version: "latest", Source: "dl", DLURL: srv.URL + "/dl/", Prefix: t.TempDir(), StateDir: t.TempDir(), GOOS: "linux", GOARCH: "amd64"}
	// latest is 1.22.7, whose archive is unsafe
	r, err := Install(context.Background(), o)
	if err == nil || !r.Refused() || !strings.Contains(err.Error(), "unsafe archive") || r.Version != "go1.22.7" {
		t.Fatalf("1.22.7: %v (%+v)", err, r)
	}
	o.Version = "1.22.6"
	r, err = Install(context.Background(), o)
	if err == nil || !r.Refused() || !strings.Contains(err.Error(), "the go.dev/dl index says 0000") {
		t.Fatalf("1.22.6: %v", err)
	}
	if got := listDir(t, o.Prefix); len(got) != 0 {
		t.Fatalf("left under the prefix: %v", got)
	}
	o.Version = "1.22.5"
	r, err = Install(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command(filepath.Join(o.Prefix, "go", "bin", "go"), "version").Output()
	if err != nil || !strings.Contains(string(out), "go1.22.5") || r.ArchiveSHA256 == "" || r.SumDB != nil {
		t.Fatalf("%q %v %+v", out, err, r)
	}
	e := r.Event(Who{UID: "0", User: "root", PID: 1}, time.Now())
	if !strings.Contains(e.Message, "root (no login) installed go1.22.5 into "+r.Dir+" from 127.0.0.1:") ||
		!strings.HasSuffix(e.Message, "(sha256 from the go.dev/dl index)") {
		t.Fatal(e.Message)
	}
}

func TestManifestCompare(t *testing.T) {
	dir := t.TempDir()
	for name, body := range map[string]string{"bin/go": "go", "VERSION": "v", "src/a/b.go": "package a", "src/gone.go": "x"} {
		os.MkdirAll(filepath.Join(dir, filepath.Dir(name)), 0o755)
		os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644)
	}
	os.Symlink("VERSION", filepath.Join(dir, "link"))
	files, err := BuildManifest(dir)
	if err != nil {
		t.Fatal(err)
	}
	m := &Manifest{Dir: dir, Files: files}
	if d, err := Compare(m, dir); err != nil || !d.Empty() {
		t.Fatalf("%+v %v", d, err)
	}
	os.WriteFile(filepath.Join(dir, "src/a/b.go"), []byte("package b"), 0o644)
	os.Chmod(filepath.Join(dir, "bin/go"), os.ModeSetuid|0o755)
	os.Remove(filepath.Join(dir, "src/gone.go"))
	os.WriteFile(filepath.Join(dir, "bin/new"), nil, 0o755)
	os.Remove(filepath.Join(dir, "link"))
	os.Symlink("/etc/passwd", filepath.Join(dir, "link"))
	d, err := Compare(m, dir)
	if err != nil {
		t.Fatal(err)
	}
	want := Diff{
		Added:   []string{"bin/new"},
		Changed: []string{"bin/go (mode 0644 -> 4755)", "link (link VERSION -> /etc/passwd)", "src/a/b.go (content)"},
		Removed: []string{"src/gone.go"},
	}
	if strings.Join(d.Added, ",") != strings.Join(want.Added, ",") || strings.Join(d.Changed, ",") != strings.Join(want.Changed, ",") ||
		strings.Join(d.Removed, ",") != strings.Join(want.Removed, ",") {
		t.Fatalf("got %+v\nwant %+v", *d, want)
	}
}
