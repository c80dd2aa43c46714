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
