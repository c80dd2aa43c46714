package hostfs

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestResolveStaysInRoot(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/local/go1.22/bin"), 0o755)
	os.WriteFile(filepath.Join(root, "usr/local/go1.22/bin/go"), nil, 0o755)
	os.Symlink("/usr/local/go1.22", filepath.Join(root, "usr/local/go"))
	os.Symlink("../../../../../../etc", filepath.Join(root, "usr/local/up"))
	os.Symlink("loop", filepath.Join(root, "loop"))
	os.Mkdir(filepath.Join(root, "etc"), 0o755)
	h := New(root)
	if got, err := h.Resolve("/usr/local/go/bin/go"); err != nil || got != "/usr/local/go1.22/bin/go" {
		t.Errorf("absolute link: %q %v", got, err)
	}
	if got, _ := h.Resolve("/usr/local/up"); got != "/etc" {
		t.Errorf("a link climbing out of the root must stop at it: %q", got)
	}
	if _, err := h.Resolve("/loop"); err == nil || !strings.Contains(err.Error(), "too many levels") {
		t.Errorf("loop: %v", err)
	}
	_, err := h.ReadFile("/usr/local/go/missing")
	if err == nil || strings.Contains(err.Error(), root) || !strings.Contains(err.Error(), "/usr/local/go1.22/missing") {
		t.Errorf("errors name the host's path, not the root's: %v", err)
	}
}

// TestMkdirOwnedStaysInHome: a user's own link in their home, relative or
// absolute, never makes root create a directory of theirs outside it.
func TestMkdirOwnedStaysInHome(t *testing.T) {
	uid, gid := os.Getuid(), os.Getgid()
	for _, target := range []string{"../../usr/local", "/usr/local"} {
		root := t.TempDir()
		for _, d := range []string{"home/alice", "usr/local"} {
			os.MkdirAll(filepath.Join(root, d), 0o755)
		}
		if err := os.Symlink(target, filepath.Join(root, "home/alice/.config")); err != nil {
			t.Fatal(err)
		}
		h := New(root)
		if _, err := h.MkdirOwned("/home/alice", "/home/alice/.config/go", 0o700, uid, gid); err == nil {
			t.Errorf("~/.config -> %s: MkdirOwned went through", target)
		}
		if _, err := os.Lstat(filepath.Join(root, "usr/local/go")); err == nil {
			t.Errorf("~/.config -> %s: made /usr/local/go", target)
		}
	}
	// the plain case: made, mode exactly 0700 whatever the umask, once
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "home/bob"), 0o755)
	h := New(root)
	for i, want := range []bool{true, false} {
		made, err := h.MkdirOwned("/home/bob", "/home/bob/.config", 0o700, uid, gid)
		if err != nil || made != want {
			t.Fatalf("call %d: made %v, %v; want %v", i, made, err, want)
		}
	}
	if fi, err := os.Stat(filepath.Join(root, "home/bob/.config")); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("~bob/.config: %v %v", fi, err)
	}
	if _, err := h.MkdirOwned("/home/bob", "/etc/x", 0o700, uid, gid); err == nil {
		t.Error("a directory outside the home was accepted")
	}
}

// TestWriteFileAndRemoveStayInRoot: an image's absolute link to a host
// directory is followed inside the image, never onto the host.
func TestWriteFileAndRemoveStayInRoot(t *testing.T) {
	root, host := t.TempDir(), t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(host, "victim"), []byte("host"), 0o644)
	if err := os.Symlink(host, filepath.Join(root, "etc/audit")); err != nil {
		t.Fatal(err)
	}
	h := New(root)
	if err := h.WriteFile("/etc/audit/victim", []byte("image"), 0o640, 0o750); err == nil {
		t.Error("WriteFile through etc/audit -> the host went through")
	}
	if removed, _ := h.Remove("/etc/audit/victim"); removed {
		t.Error("Remove through etc/audit -> the host removed something")
	}
	if b, _ := os.ReadFile(filepath.Join(host, "victim")); string(b) != "host" {
		t.Errorf("the host's file now holds %q", b)
	}
	// a plain write: atomic, its mode, no temporary file left
	if err := h.WriteFile("/etc/gotrail/gotrail.toml", []byte("x"), 0o640, 0o755); err != nil {
		t.Fatal(err)
	}
	entries, _ := os.ReadDir(filepath.Join(root, "etc/gotrail"))
	if fi, err := os.Stat(filepath.Join(root, "etc/gotrail/gotrail.toml")); err != nil || fi.Mode().Perm() != 0o640 || len(entries) != 1 {
		t.Errorf("written file: %v %v, directory holds %d entries", fi, err, len(entries))
	}
}
