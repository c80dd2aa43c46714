package enrich

import (
	"os"
	"path/filepath"
	"testing"
)

func TestNames(t *testing.T) {
	root := t.TempDir()
	if err := os.MkdirAll(filepath.Join(root, "etc"), 0o755); err != nil {
		t.Fatal(err)
	}
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("# comment\nroot:x:0:0::/root:/bin/bash\nalice:x:1001:1001::/home/alice:/bin/bash\nalias:x:1001:1001::/:/bin/sh\nbroken line\n+nis\nbad:x:notanumber:0::/:/bin/sh\n"), 0o644)
	n := NewNames(root)
	for id, want := range map[uint32]string{0: "root", 1001: "alice"} {
		if got, ok := n.UserName(id); !ok || got != want {
			t.Errorf("UserName(%d) = %q, %v; want %q", id, got, ok, want)
		}
	}
	if _, ok := n.UserName(4242); ok {
		t.Error("UserName(4242) named an unknown id")
	}
	if _, ok := n.GroupName(0); ok {
		t.Error("GroupName(0) without a group file")
	}
	if err := n.Err(); err != nil {
		t.Errorf("Err() = %v for a missing group file", err)
	}
}

func TestGroups(t *testing.T) {
	root := t.TempDir()
	os.MkdirAll(filepath.Join(root, "etc"), 0o755)
	os.WriteFile(filepath.Join(root, "etc/passwd"), []byte("alice:x:1001:1001::/home/alice:/bin/bash\nbob:x:1002:50::/home/bob:/bin/bash\n"), 0o644)
	os.WriteFile(filepath.Join(root, "etc/group"), []byte("alice:x:1001:\nstaff:x:50:\ngoadmins:x:60:bob, alice\n"), 0o644)
	g := NewGroups(root)
	if got := g.UserGroups("alice"); len(got) != 2 || got[0] != "alice" || got[1] != "goadmins" {
		t.Errorf("alice: %q", got)
	}
	if got := g.UserGroups("bob"); len(got) != 2 || got[0] != "staff" || got[1] != "goadmins" {
		t.Errorf("bob: %q", got)
	}
	if got := g.UserGroups("nobody"); got != nil {
		t.Errorf("nobody: %q", got)
	}
}
