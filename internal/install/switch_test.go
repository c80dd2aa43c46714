package install

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestSwitchAndRollback(t *testing.T) {
	p := newFakeProxy(t)
	p.add(t, "1.21.0", toolchainZip(t, "1.21.0"), nil)
	p.add(t, "1.22.5", toolchainZip(t, "1.22.5"), nil)
	o := p.options(t, "1.21.0")
	// a toolchain untarred the usual way: a plain directory at PREFIX/go
	plain := filepath.Join(o.Prefix, "go")
	if err := os.MkdirAll(filepath.Join(plain, "bin"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(plain, "bin", "go"), []byte("#!/bin/sh\necho go version go1.20 linux/amd64\n"), 0o755)
	goVersion := func() string {
		out, err := exec.Command(filepath.Join(o.Prefix, "go", "bin", "go"), "version").Output()
		if err != nil {
			t.Fatal(err)
		}
		return strings.TrimSpace(string(out))
	}
	r, err := Install(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(r.Previous, "go-previous-") {
		t.Fatalf("the plain directory was not kept aside: previous %q", r.Previous)
	}
	aside := r.Previous
	if data, err := os.ReadFile(filepath.Join(r.Previous, "bin", "go")); err != nil || !strings.Contains(string(data), "go1.20") {
		t.Fatalf("kept-aside directory: %q, %v", data, err)
	}
	if v := goVersion(); !strings.Contains(v, "go1.21.0") {
		t.Fatal(v)
	}
	o.Version = "1.22.5"
	if _, err := Install(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if v := goVersion(); !strings.Contains(v, "go1.22.5") {
		t.Fatal(v)
	}
	r, err = Rollback(context.Background(), o)
	if err != nil {
		t.Fatal(err)
	}
	if v := goVersion(); !strings.Contains(v, "go1.21.0") || r.Version != "go1.21.0" {
		t.Fatalf("after rollback: %s (%+v)", v, r)
	}
	// and back again: rollback of the rollback
	if _, err := Rollback(context.Background(), o); err != nil {
		t.Fatal(err)
	}
	if v := goVersion(); !strings.Contains(v, "go1.22.5") {
		t.Fatal(v)
	}
	for _, n := range listDir(t, o.Prefix) {
		if strings.Contains(n, ".gotrail-") {
			t.Errorf("left behind: %s", n)
		}
	}
	// someone repointed PREFIX/go by hand: rollback refuses
	link := filepath.Join(o.Prefix, "go")
	os.Remove(link)
	if err := os.Symlink(aside, link); err != nil {
		t.Fatal(err)
	}
	if _, err := Rollback(context.Background(), o); err == nil || !strings.Contains(err.Error(), "someone changed it") {
		t.Fatalf("rollback after a manual change: %v", err)
	}
}

func TestRollbackWithoutHistory(t *testing.T) {
	o := Options{Prefix: t.TempDir(), StateDir: t.TempDir()}
	if _, err := Rollback(context.Background(), o); err == nil || !strings.Contains(err.Error(), "no toolchain to roll back to") {
		t.Fatal(err)
	}
}

func TestSwitchLinkRefusesAFile(t *testing.T) {
	dir := t.TempDir()
	os.WriteFile(filepath.Join(dir, "go"), []byte("x"), 0o644)
	if _, err := switchLink(filepath.Join(dir, "go"), filepath.Join(dir, "go1.22.5"), time.Now()); err == nil {
		t.Fatal("replaced a file")
	}
}

// TestProfileSourcedTwice: the script in real sh adds the directory once.
func TestProfileSourcedTwice(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "go.sh")
	changed, err := writeProfile(p, "/usr/local/go/bin")
	if err != nil || !changed {
		t.Fatal(changed, err)
	}
	if changed, err := writeProfile(p, "/usr/local/go/bin"); err != nil || changed {
		t.Fatalf("second write changed it: %v %v", changed, err)
	}
	for _, tt := range []struct{ path, want string }{
		{"/usr/bin:/bin", "/usr/bin:/bin:/usr/local/go/bin"},
		{"/usr/local/go/bin:/usr/bin", "/usr/local/go/bin:/usr/bin"},
		{"", "/usr/local/go/bin"},
	} {
		cmd := exec.Command("/bin/sh", "-c", `PATH="$P"; . "$1"; once=$PATH; . "$1"; /bin/echo "$once"; /bin/echo "$PATH"`, "sh", p)
		cmd.Env = []string{"P=" + tt.path}
		out, err := cmd.CombinedOutput()
		if err != nil {
			t.Fatalf("%s: %v", out, err)
		}
		lines := strings.Split(strings.TrimSpace(string(out)), "\n")
		if len(lines) != 2 || lines[0] != tt.want || lines[1] != tt.want {
			t.Errorf("PATH=%q: got %q, want %q twice", tt.path, lines, tt.want)
		}
	}
	if _, err := writeProfile(p, "/usr/local/go bin;rm -rf /"); err == nil {
		t.Fatal("wrote an unsafe directory into a script")
	}
}
