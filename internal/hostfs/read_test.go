package hostfs

import (
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// TestReadsRefuseWhatIsNotAFile: a FIFO or a device where a file is read
// is refused at once, by name, never waited on or read for ever.
func TestReadsRefuseWhatIsNotAFile(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc/profile.d"), 0o755)
	if err := syscall.Mkfifo(filepath.Join(root, "etc/hostname"), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Symlink("/dev/zero", filepath.Join(root, "etc/profile.d/zero.sh")) // /dev/zero of the image
	os.MkdirAll(filepath.Join(root, "dev"), 0o755)
	os.Symlink("/../../../dev/zero", filepath.Join(root, "dev/zero")) // and out of it: the root's own
	if err := syscall.Mkfifo(filepath.Join(root, "etc/login.defs"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := New(root)
	done := make(chan struct{})
	go func() {
		defer close(done)
		for _, p := range []string{"/etc/hostname", "/etc/login.defs"} {
			if _, err := h.ReadFile(p); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a FIFO") {
				t.Errorf("ReadFile(%s) of a FIFO: %v", p, err)
			}
			if f, err := h.Open(p); err == nil {
				f.Close()
				t.Errorf("Open(%s) of a FIFO succeeded", p)
			}
		}
		if _, err := h.ReadDir("/etc/hostname"); err == nil {
			t.Error("ReadDir of a FIFO succeeded")
		}
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("a read of a FIFO blocked")
	}
	// /dev/zero through a link inside the root resolves to the root's /dev/zero,
	// which is not there: the host's device is never read
	if _, err := h.ReadFile("/etc/profile.d/zero.sh"); err == nil {
		t.Error("read the host's /dev/zero through an image link")
	}
	host := New("/")
	if _, err := host.ReadFile("/dev/zero"); !errors.Is(err, ErrNotRegular) || !strings.Contains(err.Error(), "a character device") {
		t.Errorf("ReadFile(/dev/zero) on the host: %v", err)
	}
}

// TestReadFileMax: a file larger than the cap gives its first bytes and
// says so.
func TestReadFileMax(t *testing.T) {
	root := t.TempDir()
	os.WriteFile(filepath.Join(root, "big"), []byte(strings.Repeat("x", 100)), 0o644)
	h := New(root)
	data, err := h.ReadFileMax("/big", 10)
	if !errors.Is(err, ErrTooLarge) || string(data) != "xxxxxxxxxx" || !strings.Contains(err.Error(), "/big") {
		t.Errorf("capped read: %q %v", data, err)
	}
	if data, err := h.ReadFileMax("/big", 100); err != nil || len(data) != 100 {
		t.Errorf("read at the cap: %d %v", len(data), err)
	}
}

// TestGlobAndReadDirStayInRoot: a directory link out of the image lists
// the image's directory of that name, never the host's.
func TestGlobAndReadDirStayInRoot(t *testing.T) {
	outside := t.TempDir()
	os.WriteFile(filepath.Join(outside, "secret.sh"), []byte("host"), 0o644)
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "usr/lib/go-1.22/bin"), 0o755)
	os.MkdirAll(filepath.Join(root, "usr/local"), 0o755)
	os.Symlink(outside, filepath.Join(root, "usr/local/go-x"))
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.Symlink(outside, filepath.Join(root, "etc/profile.d"))
	h := New(root)
	if got := h.Glob("/usr/lib/go-*"); !slices.Equal(got, []string{"/usr/lib/go-1.22"}) {
		t.Errorf("Glob(/usr/lib/go-*) = %v", got)
	}
	if got := h.Glob("/etc/profile.d/*.sh"); len(got) != 0 {
		t.Errorf("Glob through a link out of the root listed %v", got)
	}
	if got := h.Glob("/usr/local/go-x/*"); len(got) != 0 {
		t.Errorf("Glob through a link out of the root listed %v", got)
	}
	if _, err := h.ReadDir("/etc/profile.d"); err == nil {
		t.Error("ReadDir followed a link out of the root")
	}
	if got := h.Glob("/usr/*/go-*/bin"); !slices.Equal(got, []string{"/usr/lib/go-1.22/bin"}) {
		t.Errorf("Glob with patterns in two elements = %v", got)
	}
}

// TestNotRegularIsNotOpened: a FIFO (or a device) is refused before it is
// opened: a writer blocked on the FIFO stays blocked, as a device's driver
// is never run.
func TestNotRegularIsNotOpened(t *testing.T) {
	root := t.TempDir()
	fifo := filepath.Join(root, "fifo")
	if err := syscall.Mkfifo(fifo, 0o644); err != nil {
		t.Fatal(err)
	}
	opened := make(chan struct{})
	go func() {
		if f, err := os.OpenFile(fifo, os.O_WRONLY, 0); err == nil { // blocks until a reader opens it
			close(opened)
			f.Close()
		}
	}()
	if _, err := New(root).ReadFile("/fifo"); !errors.Is(err, ErrNotRegular) {
		t.Fatalf("ReadFile(fifo): %v", err)
	}
	select {
	case <-opened:
		t.Error("the FIFO was opened for reading")
	case <-time.After(300 * time.Millisecond):
	}
	if r, err := os.OpenFile(fifo, os.O_RDONLY|syscall.O_NONBLOCK, 0); err == nil { // let the writer go
		<-opened
		r.Close()
	}
}
