package install

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

func TestInstallFromProxy(t *testing.T) {
	p := newFakeProxy(t)
	p.add(t, "1.22.5", toolchainZip(t, "1.22.5"), nil)
	o := p.options(t, "go1.22.5")
	r, err := Install(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(o.Prefix, "go1.22.5")
	if r.Dir != dir || r.Version != "go1.22.5" || r.SumDB == nil || r.SumDB.Name != "sum.test.example" || r.ModuleHash == "" {
		t.Fatalf("result %+v", r)
	}
	if !strings.Contains(r.SumDB.TreeHead, "sum.test.example") || len(r.SumDB.Lines) != 1 {
		t.Fatalf("sumdb proof %+v", r.SumDB)
	}
	out, err := exec.Command(filepath.Join(o.Prefix, "go", "bin", "go"), "version").Output()
	if err != nil || !strings.Contains(string(out), "go1.22.5") {
		t.Fatalf("PREFIX/go/bin/go version: %q, %v", out, err)
	}
	for name, want := range map[string]os.FileMode{
		"bin/go": 0o755, "bin/gofmt": 0o755, "pkg/tool/linux_amd64/compile": 0o755, "lib/wasm/go_js_wasm_exec": 0o755,
		"lib/time/zoneinfo.zip": 0o644, "VERSION": 0o644, "src/go.mod": 0o644, "src/cmd/go.mod": 0o644, "src/_go.mod": 0o644,
	} {
		fi, err := os.Stat(filepath.Join(dir, name))
		if err != nil || fi.Mode().Perm() != want {
			t.Errorf("%s: %v, %v; want mode %v", name, fi.Mode(), err, want)
		}
	}
	if got := listDir(t, o.Prefix); !slices.Equal(got[:2], []string{"go", "go1.22.5"}) {
		t.Errorf("prefix holds %v", got)
	}
	for _, n := range listDir(t, o.Prefix) {
		if strings.HasPrefix(n, ".") {
			t.Errorf("left behind: %s", n)
		}
	}
	m, _, err := FindManifest(o.StateDir, filepath.Join(o.Prefix, "go"))
	if err != nil || m.Dir != dir || len(m.Files) != len(toolchainFiles(""))+2 {
		t.Fatalf("manifest: %+v, %v", m, err)
	}
	if d, err := Compare(m, dir); err != nil || !d.Empty() {
		t.Fatalf("fresh install differs from its manifest: %+v, %v", d, err)
	}
	if _, err := os.Stat(filepath.Join(o.StateDir, "sumdb", "sum.test.example", "latest")); err != nil {
		t.Errorf("the tree head was not kept: %v", err)
	}
	// again: the directory exists
	if _, err := Install(context.Background(), o); err == nil || !strings.Contains(err.Error(), "exists already") {
		t.Fatalf("second install: %v", err)
	}
	o.Force = true
	r, err = Install(context.Background(), o)
	if err != nil || r.Aside == "" || r.Previous != r.Aside {
		t.Fatalf("forced reinstall: %+v, %v", r, err)
	}
}

// TestForgedToolchainRefused: the proxy serves a zip that is not the one
// the checksum database vouches for. Nothing of it may be left, and the
// toolchain installed before stays as it was.
func TestForgedToolchainRefused(t *testing.T) {
	p := newFakeProxy(t)
	p.add(t, "1.22.4", toolchainZip(t, "1.22.4"), nil)
	good := toolchainZip(t, "1.22.5")
	forged := toolchainZip(t, "1.22.5", zipEntry{name: "bin/backdoor", body: "#!/bin/sh\n"})
	p.add(t, "1.22.5", forged, good)
	o := p.options(t, "1.22.4")
	if _, err := Install(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	before := listDir(t, o.Prefix)
	o.Version = "1.22.5"
	r, err := Install(context.Background(), o)
	var re *RefusedError
	if !errors.As(err, &re) || !r.Refused() {
		t.Fatalf("forged toolchain: %v", err)
	}
	if !strings.Contains(err.Error(), "does not match the checksum database sum.test.example") {
		t.Errorf("message: %v", err)
	}
	if after := listDir(t, o.Prefix); !slices.Equal(before, after) {
		t.Fatalf("prefix changed:\n before %v\n after  %v", before, after)
	}
	if dst, _ := os.Readlink(filepath.Join(o.Prefix, "go")); dst != "go1.22.4" {
		t.Fatalf("PREFIX/go -> %s", dst)
	}
	e := r.Event(Who{Host: "web-01", UID: "0", User: "root", AUID: "1001", AUser: "alice", PID: 7}, time.Now())
	if e.Event.Outcome != "failure" || e.Gotrail.Severity != "high" || e.Gotrail.Toolchain.Error == "" ||
		!strings.HasPrefix(e.Message, "alice (as root) was refused go1.22.5 from 127.0.0.1:") {
		t.Fatalf("event: %+v %+v", e.Event, e.Message)
	}
}

func TestInterruptedDownloadInstallsNothing(t *testing.T) {
	p := newFakeProxy(t)
	p.add(t, "1.22.5", toolchainZip(t, "1.22.5", zipEntry{name: "big", body: strings.Repeat("x", 1<<20)}), nil)
	p.cut = true
	o := p.options(t, "1.22.5")
	_, err := Install(context.Background(), o)
	if err == nil {
		t.Fatal("installed from a download cut short")
	}
	if got := listDir(t, o.Prefix); len(got) != 0 {
		t.Fatalf("left under the prefix: %v", got)
	}
	// cancelled (SIGINT) during the download
	p.cut = false
	ctx, cancel := context.WithCancel(context.Background())
	o.Progress = func(done, total int64) { cancel() }
	_, err = Install(ctx, o)
	if err == nil || ctx.Err() == nil {
		t.Fatalf("cancelled install: %v", err)
	}
	if got := listDir(t, o.Prefix); len(got) != 0 {
		t.Fatalf("left under the prefix after cancel: %v", got)
	}
}

func TestSettingsRefused(t *testing.T) {
	p := newFakeProxy(t)
	p.add(t, "1.22.5", toolchainZip(t, "1.22.5"), nil)
	for _, tt := range []struct {
		name, goproxy, gosumdb, want string
	}{
		{"sumdb off", p.URL, "off", "GOSUMDB=off"},
		{"no proxy", "direct", p.gosumdb, "names no module proxy"},
		{"proxy off", "off", p.gosumdb, "names no module proxy"},
		{"wrong key", p.URL, "sum.golang.org", "checksum database sum.golang.org"},
	} {
		t.Run(tt.name, func(t *testing.T) {
			o := p.options(t, "1.22.5")
			o.GOPROXY, o.GOSUMDB = tt.goproxy, tt.gosumdb
			if tt.name == "wrong key" {
				o.GOSUMDB = "sum.golang.org " + p.URL + "/sumdb/sum.test.example" // signed by another key
			}
			_, err := Install(context.Background(), o)
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("got %v, want %q", err, tt.want)
			}
			if got := listDir(t, o.Prefix); len(got) != 0 {
				t.Fatalf("left under the prefix: %v", got)
			}
		})
	}
}

func TestProxyListFallsThrough(t *testing.T) {
	p := newFakeProxy(t)
	p.add(t, "1.22.5", toolchainZip(t, "1.22.5"), nil)
	p.add(t, "1.21.0", toolchainZip(t, "1.21.0"), nil)
	empty := httptest.NewServer(http.NotFoundHandler()) // a proxy without toolchains or the database
	defer empty.Close()
	o := p.options(t, "latest")
	o.GOPROXY = empty.URL + "," + p.URL + ",direct"
	r, err := Install(context.Background(), o)
	if err != nil || r.Version != "go1.22.5" || !strings.HasPrefix(r.URL, p.URL) {
		t.Fatalf("%+v, %v", r, err)
	}
}

func TestParseGOPROXY(t *testing.T) {
	got, err := parseGOPROXY("https://a.example|https://b.example/,direct,https://c.example,off,https://d.example")
	if err != nil {
		t.Fatal(err)
	}
	want := []proxy{{"https://a.example", true}, {"https://b.example", false}, {"https://c.example", false}}
	if !slices.Equal(got, want) {
		t.Fatalf("got %v want %v", got, want)
	}
	for _, bad := range []string{"direct", "off", "ftp://x", "file:///tmp/x"} {
		if _, err := parseGOPROXY(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
}

func TestParseVersion(t *testing.T) {
	for in, want := range map[string]string{"1.22.5": "1.22.5", "go1.22.5": "1.22.5", "latest": "latest", "1.23rc1": "1.23rc1", "go1.21.0": "1.21.0"} {
		if got, err := ParseVersion(in); err != nil || got != want {
			t.Errorf("%q: %q, %v", in, got, err)
		}
	}
	for _, bad := range []string{"", "1", "2.0.0", "1.22.5/../x", "go1.22.05", "1.22.5 ", "tip", "1.22.5.linux-amd64"} {
		if _, err := ParseVersion(bad); err == nil {
			t.Errorf("%q accepted", bad)
		}
	}
	if got := latestStable([]string{"1.9.1", "1.22.5", "1.23rc1", "1.22.10", "1.21.13"}); got != "1.22.10" {
		t.Errorf("latest %s", got)
	}
}

// TestInstallMakesPrefix: a prefix that does not exist yet is made as
// mkdir -p makes it (mode 0755 whatever the umask), and the record says so;
// a failed attempt takes away the directories it made.
func TestInstallMakesPrefix(t *testing.T) {
	p := newFakeProxy(t)
	p.add(t, "1.22.5", toolchainZip(t, "1.22.5"), nil)
	o := p.options(t, "1.22.5")
	base := o.Prefix
	o.Prefix = filepath.Join(base, "opt", "toolchains")
	old := syscall.Umask(0o077)
	defer syscall.Umask(old)
	r, err := Install(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{filepath.Join(base, "opt"), o.Prefix}
	if !slices.Equal(r.Created, want) {
		t.Errorf("Created = %q, want %q", r.Created, want)
	}
	for _, d := range want {
		if fi, err := os.Stat(d); err != nil || fi.Mode().Perm() != 0o755 || !fi.IsDir() {
			t.Errorf("%s: %v %v; want a directory of mode 0755", d, fi, err)
		}
	}
	e := r.Event(Who{Host: "h", UID: "0"}, time.Now())
	if !strings.Contains(e.Message, "created "+want[0]+", "+want[1]) {
		t.Errorf("the record does not say the prefix was made: %s", e.Message)
	}

	// refused before any download: the directories made go again
	o.Prefix = filepath.Join(base, "srv", "go")
	o.GOSUMDB = "off"
	if _, err := Install(context.Background(), o); err == nil {
		t.Fatal("installed with GOSUMDB=off")
	}
	if _, err := os.Stat(filepath.Join(base, "srv")); !os.IsNotExist(err) {
		t.Errorf("a failed attempt left %s: %v", filepath.Join(base, "srv"), err)
	}
	// a file in the way is named
	os.WriteFile(filepath.Join(base, "file"), nil, 0o644)
	o.Prefix, o.GOSUMDB = filepath.Join(base, "file", "go"), ""
	if _, err := Install(context.Background(), o); err == nil || !strings.Contains(err.Error(), "not a directory") {
		t.Errorf("prefix under a file: %v", err)
	}
}
